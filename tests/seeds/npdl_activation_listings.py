# NumpyDL 0.4 reference (004_84bfec2b026c558f.txt), "1.2.2 Detailed Description" of npdl.activations:
# the code lines of the listed classes (Tanh 939-, ReLU 1032-, Linear 1125-, Softmax 1198-,
# Elliot 1276-, SymmetricElliot 1355-, SoftPlus 1418-, SoftSign 1478-), docstrings left out.
# Sigmoid's listing stops inside its docstring (890-), so it is not here. They run against a
# bare Activation base, with np (NumPy) and get_dtype given by the test.


class Tanh(Activation):
    def __init__(self):
        super(Tanh, self).__init__()

    def forward(self, input):
        self.last_forward = np.tanh(input)
        return self.last_forward

    def derivative(self, input=None):
        last_forward = self.forward(input) if input else self.last_forward
        return 1 - np.power(last_forward, 2)


class ReLU(Activation):
    def __init__(self):
        super(ReLU, self).__init__()

    def forward(self, input):
        self.last_forward = input
        return np.maximum(0.0, input)

    def derivative(self, input=None):
        last_forward = input if input else self.last_forward
        res = np.zeros(last_forward.shape, dtype=get_dtype())
        res[last_forward > 0] = 1.
        return res


class Linear(Activation):
    def __init__(self):
        super(Linear, self).__init__()

    def forward(self, input):
        self.last_forward = input
        return input

    def derivative(self, input=None):
        last_forward = input if input else self.last_forward
        return np.ones(last_forward.shape, dtype=get_dtype())


class Softmax(Activation):
    def __init__(self):
        super(Softmax, self).__init__()

    def forward(self, input):
        assert np.ndim(input) == 2
        self.last_forward = input
        x = input - np.max(input, axis=1, keepdims=True)
        exp_x = np.exp(x)
        s = exp_x / np.sum(exp_x, axis=1, keepdims=True)
        return s

    def derivative(self, input=None):
        last_forward = input if input else self.last_forward
        return np.ones(last_forward.shape, dtype=get_dtype())


class Elliot(Activation):
    def __init__(self, steepness=1):
        super(Elliot, self).__init__()

        self.steepness = steepness

    def forward(self, input):
        self.last_forward = 1 + np.abs(input * self.steepness)
        return 0.5 * self.steepness * input / self.last_forward + 0.5

    def derivative(self, input=None):
        last_forward = 1 + np.abs(input * self.steepness) if input else self.last_forward
        return 0.5 * self.steepness / np.power(last_forward, 2)


class SymmetricElliot(Activation):
    def __init__(self, steepness=1):
        super(SymmetricElliot, self).__init__()
        self.steepness = steepness

    def forward(self, input):
        self.last_forward = 1 + np.abs(input * self.steepness)
        return input * self.steepness / self.last_forward

    def derivative(self, input=None):
        last_forward = 1 + np.abs(input * self.steepness) if input else self.last_forward
        return self.steepness / np.power(last_forward, 2)


class SoftPlus(Activation):
    def __init__(self):
        super(SoftPlus, self).__init__()

    def forward(self, input):
        self.last_forward = np.exp(input)
        return np.log(1 + self.last_forward)

    def derivative(self, input=None):
        last_forward = np.exp(input) if input else self.last_forward
        return last_forward / (1 + last_forward)


class SoftSign(Activation):
    def __init__(self):
        super(SoftSign, self).__init__()

    def forward(self, input):
        self.last_forward = np.abs(input) + 1
        return input / self.last_forward

    def derivative(self, input=None):
        last_forward = np.abs(input) + 1 if input else self.last_forward
        return 1. / np.power(last_forward, 2)
