"""EpyNN's pooling (``epynn.pooling.models.Pooling``): nnxp's ``Pooling``.

``Pooling(pool_size=(2, 2), strides=None, pool=np.max)``: ``pool`` is ``np.max``,
``np.min`` or ``np.mean`` (nnxp's ``mode`` 'max', 'min', 'mean'); ``strides=None`` puts
the windows side by side. Images are (samples, height, width, channels).
"""

from __future__ import annotations

import numpy as np

from ... import layers as _core
from ...facades import takes
from ..commons.models import Layer

MODES = {np.max: "max", np.min: "min", np.mean: "mean", np.amax: "max", np.amin: "min"}


class Pooling(Layer, _core.Pooling):
    """The largest (smallest, mean) value of each window, channel by channel."""

    maps_onto = _core.Pooling

    @takes({"mode": "pool (np.max, np.min or np.mean)"}, nnxp=_core.Pooling)
    def __init__(self, pool_size=(2, 2), strides=None, pool=np.max):
        mode = MODES.get(pool, pool if pool in ("max", "min", "mean") else None)
        if mode is None:
            raise ValueError(f"epynn.Pooling: pool must be np.max, np.min or np.mean, got {pool!r}")
        _core.Pooling.__init__(self, pool_size, strides=strides, mode=mode)

    @property
    def pool(self):
        """The NumPy function of the pooling mode (EpyNN's ``pool``)."""
        return {"max": np.max, "min": np.min, "mean": np.mean}[self.mode]
