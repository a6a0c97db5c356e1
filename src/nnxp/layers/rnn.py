"""RNN: the simple (Elman) recurrent layer, PyTorch's ``torch.nn.RNN``.

Shapes: X (m, T, n) -> A (m, T, u) with ``sequences=True``, else A = h_T (m, u).
Parameters U (n, u), V (u, u), b (u,) (see ``recurrent.py`` for initialization).

Forward, from h_0 = 0, for t = 1..T::

    Z_t = x_t U + h_{t-1} V + b         (m, u)
    h_t = f(Z_t)                        f = ``activation`` (tanh)

Backward, given dH_t = dL/dh_t from above (only the last step's when sequences=False),
going from t = T down to 1 (with dZ_{T+1} = 0)::

    dh_t  = dH_t + dZ_{t+1} V^T          what reaches h_t: from above and from step t+1
    dZ_t  = dh_t * f'(Z_t)
    dX_t  = dZ_t U^T

Gradients, summing over samples and steps (H_prev: h_0 .. h_{T-1})::

    dU = sum_t x_t^T dZ_t     dV = sum_t h_{t-1}^T dZ_t     db = sum_t sum_rows dZ_t

The input side x_t U + b of all steps is one product before the loop, and the sums
over t are one product each after it (``nnxp.ops.recurrent``).

Caches: fc["X"], fc["Z"] (m, T, u), fc["H"] every hidden state, fc["A"] the output;
bc["dA"], bc["dH"] (dA spread over the steps), bc["dX"] and the parameter gradients.
"""

from __future__ import annotations

from ..ops.recurrent import rnn_backward, rnn_forward
from .recurrent import Recurrent


class RNN(Recurrent):
    gates = 1

    def __init__(self, units: int = 1, sequences: bool = False, activation="tanh",
                 initialization="glorot_uniform", recurrent_initialization="orthogonal", clip_gradients=None,
                 name=None, se_hPars=None):
        super().__init__(units, sequences, initialization, recurrent_initialization, clip_gradients, name, se_hPars)
        self.set_activations(activation=activation)

    def forward(self, X):
        self.check_sequences(X)
        self.fc["X"] = X
        H, self.fc["Z"] = rnn_forward(X, self.p["U"], self.p["V"], self.p["b"], self.activation,
                                      kernel_mode=self.kernel_mode)
        return self.output(H)

    def backward(self, dA):
        dH = self.hidden_gradient(dA)
        fc = self.fc
        dX, dU, dV, db = rnn_backward(dH, fc["X"], self.p["U"], self.p["V"], fc["H"], fc["Z"], self.activation,
                                      self.input_gradient, kernel_mode=self.kernel_mode)
        return self.keep_gradients(dX, dU=dU, dV=dV, db=db)
