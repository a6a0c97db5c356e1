"""The layer contract that every nnxp layer follows.

A layer is a function with parameters, ``A = layer(X)``, that can also run backwards.
It goes through five steps, each a method you can call and inspect::

    compute_shapes(X)         read the sizes it needs from a first input      -> d, fs
    initialize_parameters()   draw its parameters (on the host, then moved)    -> p
    forward(X)                compute and return its output A                 -> fc
    backward(dA)              given dL/dA, compute and return dL/dX           -> bc
    compute_gradients()       dL/d(each parameter), from the caches           -> g

Its state lives in plain dicts keyed by the symbols of the maths, so that a student
can look at any of them after a step::

    d   dimensions          e.g. d["n"] inputs, d["u"] units
    p   parameters          p["W"], p["b"]
    g   gradients           g["dW"], g["db"]
    fc  forward cache       fc["X"], fc["Z"], fc["A"]
    bc  backward cache      bc["dA"], bc["dZ"], bc["dX"]
    fs  forward shapes      fs["X"] = (m, n) ... (the shapes of fc)
    bs  backward shapes     the shapes of bc

A layer never changes its own parameters: the optimizer does, reading ``g``.
``training`` switches layers such as Dropout between training and evaluation.

Training mode belongs to the call, not to the layer. A model's evaluation call
(``predict``, ``evaluate``, ``forward(X, training=False)``) runs inside
``call_mode(training=False, private_caches=True)``: while it runs, every layer reads
``training`` from the call, and its ``fc`` is a dict of that call alone. So two threads
can predict with one model at once, or one can predict while another trains: neither
flips a flag or overwrites a cache that the other reads. Outside such a call, a layer
follows its own flag, which a student may set by hand (``layer.training = False``), and
``fc`` is the layer's own dict, holding what the last training pass (or hand-made
forward) left there.

Layers are written once against the Array API standard: ``xp = array_namespace(X)``
gives the functions of whatever array arrived (NumPy, CuPy or array-api-strict).
"""

from __future__ import annotations

import contextlib
import inspect
from contextvars import ContextVar
from typing import NamedTuple

import numpy as np
from ..backend import array_namespace

from .. import checks
from ..activations import Activation, tuned
from ..backend import get_backend
from ..initializers import Initializer, get_initializer


class ShapeError(ValueError):
    """An array reached a layer with a shape it cannot take (the message says which)."""


class CallMode(NamedTuple):
    """The mode of the call running now: training or not, and, for an evaluation
    call, its own forward caches (layer id -> dict), or None to use the layers' own."""

    training: bool
    caches: dict | None


# A context variable is seen only by the thread (or asyncio task) that set it: the
# mode of one call never leaks into a call running beside it.
_call: ContextVar[CallMode | None] = ContextVar("nnxp_call_mode", default=None)


@contextlib.contextmanager
def call_mode(training: bool, private_caches: bool = False):
    """Run the layers of a block in training (or evaluation) mode, for this call only;
    with ``private_caches``, their forward caches ``fc`` are this call's own too."""
    token = _call.set(CallMode(bool(training), {} if private_caches else None))
    try:
        yield
    finally:
        _call.reset(token)


class Layer:
    """Base class. Subclasses keep each constructor argument as an attribute of the same
    name: that is all ``get_config`` needs to save and rebuild them."""

    trainable = True  # False: the optimizer leaves p alone (e.g. frozen word vectors)
    buffers: tuple[str, ...] = ()  # entries of p that are state, not learned (no gradient)
    input_gradient = True  # False: backward may skip dX (a first layer's feeds nothing)

    def __init__(self, name: str | None = None, se_hPars: dict | None = None):
        self.name = name
        self.se_hPars = dict(se_hPars or {})  # this layer's own hyperparameters
        self.d, self.fs, self.bs = {}, {}, {}
        self.p, self.g = {}, {}
        self.fc, self.bc = {}, {}
        self.training = True  # the layer's own flag, for a layer used by hand (see the module docstring)
        self.backend = None  # set by the model; the current backend when used alone
        self.rng = np.random.default_rng()  # replaced by a seeded one at initialize

    # ------------------------------------------------------------------ the mode of the call
    @property
    def training(self) -> bool:
        """Training (True) or evaluation mode: the running call's, else the layer's own flag."""
        call = _call.get()
        return self._training if call is None else call.training

    @training.setter
    def training(self, value: bool) -> None:
        self._training = bool(value)

    @property
    def fc(self) -> dict:
        """The forward cache: the evaluation call's own, else the layer's."""
        call = _call.get()
        if call is None or call.caches is None:
            return self._fc
        return call.caches.setdefault(id(self), {})

    @fc.setter
    def fc(self, value: dict) -> None:
        self._fc = value

    # ------------------------------------------------------------------ the contract
    def compute_shapes(self, X) -> None:
        """Record the input shape (and any dimensions the layer needs)."""
        self.fs["X"] = tuple(X.shape)

    def initialize_parameters(self) -> None:
        """Draw the parameters into ``p``. Layers without parameters keep the default."""

    def forward(self, X):
        raise NotImplementedError

    def backward(self, dA):
        raise NotImplementedError

    def compute_gradients(self) -> None:
        """Fill ``g`` from the caches. Layers without parameters keep the default."""

    def bind(self, backend, rng: np.random.Generator | None = None) -> None:
        """Attach the layer to a backend (and a seeded generator). The caches are
        cleared: they belong to the old backend. Parameters are moved by the model."""
        self.backend = backend
        if rng is not None:
            self.rng = rng
        self.fc, self.bc, self.g = {}, {}, {}

    def initialize(self, X, seed=None, backend=None):
        """Use the layer on its own: bind it, read shapes from X and draw parameters.

        ``layer.initialize(X, seed=0); A = layer.forward(X)`` is the whole set-up.
        """
        from ..backend import resolve

        seed = checks.seed("seed", seed, f"{type(self).__name__}.initialize")
        self.bind(resolve(backend), np.random.default_rng(seed))
        self.compute_shapes(X)
        self.initialize_parameters()
        return self

    @property
    def kernel_mode(self) -> str:
        """The kernel mode of this layer's backend ("numba" or "reference"), handed to
        ``nnxp.ops`` (the layer itself never looks at it)."""
        return self.active_backend().kernel_mode

    # ------------------------------------------------------------------ helpers
    def tune_activations(self, hpars: dict) -> None:
        """Give this layer's activations the parameters that ``hpars`` sets (EpyNN's
        se_hPars keys ELU_alpha, LRELU_alpha, softmax_temperature; see ``activations``)."""
        for attribute, value in list(vars(self).items()):
            if isinstance(value, Activation):
                setattr(self, attribute, tuned(value, hpars))

    def activation_backward(self, dA, dZ=None):
        """dZ = dA * f'(Z) through the layer's activation, recorded in bc; or, for an
        output layer, the dZ that the loss handed over already (the fused softmax +
        cross-entropy gradient, ``accepts_dZ``)."""
        self.bc["dA"] = dA
        if dZ is None:
            dZ = self.activation.backward(dA, self.fc["Z"], self.fc["A"])
        self.bc["dZ"] = dZ
        return dZ

    def check_input(self, X) -> None:
        """Raise a ShapeError unless X has the shape seen at initialization (any batch size)."""
        expected = self.fs.get("X")
        if expected is not None and tuple(X.shape[1:]) != tuple(expected[1:]):
            wanted = ("m",) + tuple(expected[1:])
            raise ShapeError(
                f"{self.describe()} expects input of shape {_shape_str(wanted)}, got {_shape_str(X.shape)}"
            )

    def new_parameter(self, shape, initializer, fan_in: int, fan_out: int, blocks: int = 1):
        """Draw a parameter on the host with this layer's seeded generator, then move it.

        ``blocks`` > 1 draws it as that many blocks side by side along its last axis,
        each drawn on its own (a recurrent layer's (u, u) block per gate)."""
        draw = get_initializer(initializer)
        *rows, columns = tuple(shape)
        if blocks == 1:
            host = draw(tuple(shape), self.rng, fan_in, fan_out)
        else:
            block = (*rows, columns // blocks)
            host = np.concatenate([draw(block, self.rng, fan_in, fan_out) for _ in range(blocks)], axis=-1)
        return self.active_backend().asarray(host)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of each parameter ``initialize_parameters`` draws, found without
        drawing: ``new_parameter`` hands out zero-size stand-ins meanwhile. The model
        loader checks the arrays of a file against these before it reads them."""
        kept = self.p
        self.p = {}
        self.new_parameter = _stand_in  # for this call only: the instance attribute hides the method
        try:
            self.initialize_parameters()
            return {name: tuple(int(s) for s in value.shape) for name, value in self.p.items()}
        finally:
            del self.new_parameter
            self.p = kept

    def active_backend(self):
        """The backend this layer's parameters live on (the current one until a model binds it)."""
        return self.backend or get_backend()

    def record_shapes(self) -> None:
        """Fill ``fs`` and ``bs`` with the shapes of what the caches hold now."""
        self.fs.update({k: tuple(v.shape) for k, v in self.fc.items() if hasattr(v, "shape")})
        self.bs.update({k: tuple(v.shape) for k, v in self.bc.items() if hasattr(v, "shape")})

    def xp(self, array):
        """The array-API namespace of ``array`` (a shorthand for array_namespace)."""
        return array_namespace(array)

    @property
    def n_parameters(self) -> int:
        return int(sum(int(np.prod(v.shape)) for v in self.p.values()))

    @property
    def n_trainable(self) -> int:
        """Numbers the optimizer moves: the parameters of a trainable layer, less its buffers."""
        if not self.trainable:
            return 0
        return int(sum(int(np.prod(v.shape)) for k, v in self.p.items() if k not in self.buffers))

    def describe(self) -> str:
        kind = type(self).__name__
        return f"{kind} layer {self.name!r}" if self.name else f"{kind} layer"

    # ------------------------------------------------------------------ saving
    def random_state(self) -> dict:
        """Where this layer's random generators stand, as JSON-ready data. The model file
        keeps it, so that training resumed from a file draws what it would have drawn."""
        return {"rng": self.rng.bit_generator.state}

    def set_random_state(self, state: dict) -> None:
        """Put the generators back where ``random_state`` found them."""
        self.rng.bit_generator.state = state["rng"]

    def config_class(self) -> type:
        """The class a model file names for this layer, whose constructor ``get_config``
        answers to: the layer's own class. A facade class (``nnxp.npdl``, ``nnxp.epynn``)
        names the nnxp layer it maps onto (its ``maps_onto``), so that its file loads
        with nnxp's own layers; a user's subclass of a facade class is its own again."""
        return type(self).__dict__.get("maps_onto", type(self))

    def get_config(self) -> dict:
        """The constructor arguments, as JSON-ready values (activations and
        initializers as their config dicts)."""
        config = {}
        for parameter in list(inspect.signature(self.config_class().__init__).parameters.values())[1:]:
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            config[parameter.name] = _jsonable(getattr(self, parameter.name))
        return config

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.get_config().items() if k not in ("name", "se_hPars") and v is not None}
        args = ", ".join(f"{k}={v!r}" for k, v in shown.items() if not isinstance(v, np.ndarray))
        return f"{type(self).__name__}({args})"


def _stand_in(shape, initializer, fan_in, fan_out, blocks=1):
    """A parameter of ``shape`` that takes no memory (every element is the same zero)."""
    return np.broadcast_to(np.zeros(()), tuple(int(s) for s in shape))


def _jsonable(value):
    if isinstance(value, (Activation, Initializer)):
        return value.get_config()
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _shape_str(shape) -> str:
    """(14,) and (m, 4) as Python writes them."""
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def pair(value, what: str, layer: str) -> tuple[int, int]:
    """(h, w) of whole numbers >= 1 from one or a pair: the sizes and strides of 2-D layers."""
    if not isinstance(value, (tuple, list)):
        value = (checks.positive_int(what, value, layer),) * 2
    if len(value) != 2:
        raise ValueError(f"{layer}: {what} must be a whole number >= 1 or a (height, width) pair of them, "
                         f"got {value!r}")
    return tuple(checks.positive_int(what, v, layer) for v in value)
