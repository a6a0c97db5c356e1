"""EpyNN's loss functions (``epynn.commons.loss``), each nnxp's loss of the same name.

``MSE(Y, A)`` is the loss, ``MSE(Y, A, deriv=True)`` its gradient dL/dA: EpyNN's order
of arguments (targets first), nnxp's values: means over the batch (MSE, MAE, MSLE and
BCE over every element, CCE over the samples), so the gradient carries the 1 / N.
``EpyNN.initialize(loss='MSE')`` takes the name (or one of these).
"""

from __future__ import annotations

from ... import losses as _losses


class Loss:
    """An EpyNN loss function, ``f(Y, A, deriv=False)``, over an nnxp loss."""

    def __init__(self, name: str):
        self.__name__ = self.name = name
        self.core = _losses.get_loss(name)
        self.__doc__ = f"nnxp's {name}: the loss of A against Y, or dL/dA with deriv=True."

    def __call__(self, Y, A, deriv=False):
        return self.core.backward(A, Y) if deriv else self.core(A, Y)

    def __repr__(self) -> str:
        return f"<EpyNN loss {self.name}>"


MSE, MAE, MSLE, CCE, BCE = (Loss(name) for name in ("MSE", "MAE", "MSLE", "CCE", "BCE"))

LOSSES = {f.name: f for f in (MSE, MAE, MSLE, CCE, BCE)}

__all__ = ["MSE", "MAE", "MSLE", "CCE", "BCE"]
