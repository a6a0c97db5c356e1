"""GRU: the gated recurrent unit, PyTorch's ``torch.nn.GRU``.

Shapes: X (m, T, n) -> A (m, T, u) with ``sequences=True``, else A = h_T (m, u).
Gate order r (reset), z (update), n (candidate), side by side in::

    U (n, 3u)    V (u, 3u)    b (3u,)    bh (u,): the candidate's recurrent bias

Forward, from h_0 = 0, for t = 1..T (sr, sz = ``reset_gate``, ``update_gate``,
sigmoid; f = ``activation``, tanh)::

    P_t  = h_{t-1} V = [P_r | P_z | P_n]        one product for every gate
    r_t  = sr(x_t U_r + b_r + P_r)
    z_t  = sz(x_t U_z + b_z + P_z)
    Hn_t = P_n + bh
    n_t  = f(x_t U_n + b_n + r_t * Hn_t)        the reset gate acts AFTER the product
    h_t  = (1 - z_t) * n_t + z_t * h_{t-1}

Backward, with dh_t = dH_t (from above) + what step t+1 sends back::

    dZ_n = dh (1 - z) f'        dZ_z = dh (h_{t-1} - n) sz'
    dZ_r = dZ_n Hn sr'          dHn  = dZ_n r
    dh_{t-1} = dh z + [dZ_r | dZ_z | dHn] V^T
    dX_t = [dZ_r | dZ_z | dZ_n] U^T

Gradients, summing over samples and steps::

    dU = sum_t x_t^T [dZ_r | dZ_z | dZ_n]        db  = sum [dZ_r | dZ_z | dZ_n]
    dV = sum_t h_{t-1}^T [dZ_r | dZ_z | dHn]     dbh = sum dHn

Mapping from PyTorch: U = W_ih^T, V = W_hh^T, b = b_ih + (b_hr, b_hz, 0), bh = b_hn.

Caches: fc["X"], fc["Z"] (m, T, 3u) gate pre-activations, fc["G"] (m, T, 3u) gate
values [r|z|n], fc["Hn"], fc["H"] every hidden state, fc["A"] the output; bc["dA"],
bc["dH"] (dA spread over the steps), bc["dX"] and the parameter gradients.
"""

from __future__ import annotations

from ..ops.recurrent import gru_backward, gru_forward
from .recurrent import Recurrent


class GRU(Recurrent):
    gates = 3

    def __init__(self, units: int = 1, sequences: bool = False, activation="tanh", reset_gate="sigmoid",
                 update_gate="sigmoid", initialization="glorot_uniform", recurrent_initialization="orthogonal",
                 clip_gradients=None, name=None, se_hPars=None):
        super().__init__(units, sequences, initialization, recurrent_initialization, clip_gradients, name, se_hPars)
        self.set_activations(activation=activation, reset_gate=reset_gate, update_gate=update_gate)

    @property
    def activations(self):
        return self.activation, self.reset_gate, self.update_gate

    def initialize_parameters(self):
        super().initialize_parameters()
        n, u = self.d["n"], self.d["u"]
        self.p["bh"] = self.new_parameter((u,), "zeros", fan_in=n, fan_out=u)

    def forward(self, X):
        self.check_sequences(X)
        self.fc["X"] = X
        p = self.p
        H, self.fc["Z"], self.fc["G"], self.fc["Hn"] = gru_forward(X, p["U"], p["V"], p["b"], p["bh"],
                                                                   *self.activations, kernel_mode=self.kernel_mode)
        return self.output(H)

    def backward(self, dA):
        dH = self.hidden_gradient(dA)
        fc = self.fc
        dX, dU, dV, db, dbh = gru_backward(dH, fc["X"], self.p["U"], self.p["V"], fc["H"], fc["Z"], fc["G"],
                                           fc["Hn"], *self.activations, self.input_gradient,
                                           kernel_mode=self.kernel_mode)
        return self.keep_gradients(dX, dU=dU, dV=dV, db=db, dbh=dbh)
