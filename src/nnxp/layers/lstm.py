"""LSTM: long short-term memory, PyTorch's ``torch.nn.LSTM``.

Shapes: X (m, T, n) -> A (m, T, u) with ``sequences=True``, else A = h_T (m, u).
Gate order i (input), f (forget), g (candidate), o (output), side by side in::

    U (n, 4u)    V (u, 4u)    b (4u,)

Forward, from h_0 = C_0 = 0, for t = 1..T (si, sf, so = ``input_gate``,
``forget_gate``, ``output_gate``, sigmoid; fg = ``candidate_activation``, tanh;
fc = ``activation``, tanh)::

    Z_t = x_t U + h_{t-1} V + b = [Z_i | Z_f | Z_g | Z_o]      one product, every gate
    i = si(Z_i)    f = sf(Z_f)    g = fg(Z_g)    o = so(Z_o)
    C_t = f * C_{t-1} + i * g              the cell: what is kept plus what is written
    S_t = fc(C_t)
    h_t = o * S_t                          what the cell shows

Backward, with dh_t = dH_t (from above) + dZ_{t+1} V^T, and dC_{t+1}-part = 0 at T::

    dC_t = dC_{t+1} f_{t+1} + dh_t o fc'(C_t)
    dZ_i = dC g si'    dZ_f = dC C_{t-1} sf'    dZ_g = dC i fg'    dZ_o = dh S so'
    dX_t = dZ_t U^T

Gradients, summing over samples and steps::

    dU = sum_t x_t^T dZ_t     dV = sum_t h_{t-1}^T dZ_t     db = sum_t sum_rows dZ_t

Mapping from PyTorch: U = W_ih^T, V = W_hh^T, b = b_ih + b_hh.

``forget_bias`` starts the forget gate's block of b, b_f, at that value instead of 0
(NumpyDL's ``forget_bias_num=1``, Keras's ``unit_forget_bias``): with b_f = 1 the cell
keeps about 73% of its memory at first, so that early gradients reach back in time.

Caches: fc["X"], fc["Z"] (m, T, 4u) gate pre-activations, fc["G"] (m, T, 4u) gate
values [i|f|g|o], fc["C"] cell states, fc["S"] = fc(C), fc["H"] every hidden state,
fc["A"] the output; bc["dA"], bc["dH"] (dA spread over the steps), bc["dX"] and the
parameter gradients.
"""

from __future__ import annotations

import numpy as np

from ..ops.recurrent import lstm_backward, lstm_forward
from .recurrent import Recurrent


class LSTM(Recurrent):
    gates = 4

    def __init__(self, units: int = 1, sequences: bool = False, activation="tanh", candidate_activation="tanh",
                 input_gate="sigmoid", forget_gate="sigmoid", output_gate="sigmoid",
                 initialization="glorot_uniform", recurrent_initialization="orthogonal", clip_gradients=None,
                 forget_bias: float = 0.0, name=None, se_hPars=None):
        super().__init__(units, sequences, initialization, recurrent_initialization, clip_gradients, name, se_hPars)
        self.set_activations(activation=activation, candidate_activation=candidate_activation,
                             input_gate=input_gate, forget_gate=forget_gate, output_gate=output_gate)
        self.forget_bias = float(forget_bias)

    def initialize_parameters(self):
        super().initialize_parameters()
        if self.forget_bias:
            u = self.d["u"]
            gates = np.zeros((4, u))  # rows: i, f, g, o (drawn on the host, like every parameter)
            gates[1] = self.forget_bias
            self.p["b"] = self.active_backend().asarray(gates.reshape(-1))

    @property
    def activations(self):
        return self.activation, self.candidate_activation, self.input_gate, self.forget_gate, self.output_gate

    def forward(self, X):
        self.check_sequences(X)
        self.fc["X"] = X
        p, fc = self.p, self.fc
        H, fc["C"], fc["S"], fc["Z"], fc["G"] = lstm_forward(X, p["U"], p["V"], p["b"], *self.activations,
                                                             kernel_mode=self.kernel_mode)
        return self.output(H)

    def backward(self, dA):
        dH = self.hidden_gradient(dA)
        fc = self.fc
        dX, dU, dV, db = lstm_backward(dH, fc["X"], self.p["U"], self.p["V"], fc["H"], fc["C"], fc["S"], fc["Z"],
                                       fc["G"], *self.activations, self.input_gradient, kernel_mode=self.kernel_mode)
        return self.keep_gradients(dX, dU=dU, dV=dV, db=db)
