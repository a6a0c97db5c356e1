"""Learning-rate schedules: the learning rate of each epoch.

With lr the base rate, k = ``decay_k`` and, when ``cycle_epochs`` = c > 0, the epoch
e split into a cycle number n = e // c and a position inside the cycle i = e % c
(without cycles n = 0 and i = e)::

    steady      lr_e = lr_n
    exp_decay   lr_e = lr_n * exp(-k * i)
    lin_decay   lr_e = lr_n / (1 + k * i)

    where lr_n = lr * (1 - cycle_descent) ** n

so each cycle restarts the decay from a base that is ``cycle_descent`` lower than the
last one (a saw-tooth that slowly comes down).

These are EpyNN's hyperparameters (``se_hPars``). Set on the model they apply to every
layer; a layer's own ``se_hPars`` override them for that layer only. The same dicts may
hold EpyNN's activation settings (``ELU_alpha``, ``LRELU_alpha``, ``softmax_temperature``):
the activations read those (``nnxp.activations.tuned``), the schedule skips them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import checks
from .activations import TUNING

SCHEDULES = ("steady", "exp_decay", "lin_decay")
HPARS = ("learning_rate", "schedule", "decay_k", "cycle_epochs", "cycle_descent")


@dataclass(frozen=True)
class Schedule:
    learning_rate: float = 0.01
    schedule: str = "steady"
    decay_k: float = 0.0
    cycle_epochs: int = 0
    cycle_descent: float = 0.0

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; expected one of {SCHEDULES}")
        # A NaN rate would pass "< 0" and make training "diverge"; "0.1" would fail deep inside.
        # (The dataclass is frozen: each value is set back in its checked form.)
        for name in ("learning_rate", "decay_k"):
            object.__setattr__(self, name, checks.finite_number(name, getattr(self, name), "se_hPars", 0))
        object.__setattr__(self, "cycle_epochs", checks.count("cycle_epochs", self.cycle_epochs, "se_hPars"))
        object.__setattr__(self, "cycle_descent", checks.finite_number("cycle_descent", self.cycle_descent,
                                                                       "se_hPars", 0, 1, high_open=True))

    def rate(self, epoch: int) -> float:
        """The learning rate of epoch ``epoch`` (counted from 0)."""
        cycle, inside = divmod(epoch, self.cycle_epochs) if self.cycle_epochs else (0, epoch)
        base = self.learning_rate * (1 - self.cycle_descent) ** cycle
        if self.schedule == "exp_decay":
            return base * math.exp(-self.decay_k * inside)
        if self.schedule == "lin_decay":
            return base / (1 + self.decay_k * inside)
        return base

    def rates(self, epochs: int) -> list[float]:
        return [self.rate(e) for e in range(epochs)]


def merged(*layers_of_hpars: dict | None) -> Schedule:
    """A Schedule from hyperparameter dicts, later ones overriding earlier ones.

    Only the schedule's own keys are read; an unknown key is an error, so a typo such as
    ``learning_rte`` is not silently ignored.
    """
    values: dict = {}
    for hpars in layers_of_hpars:
        for key, value in (hpars or {}).items():
            if key in TUNING:
                continue  # an activation's setting, not the schedule's
            if key not in HPARS:
                raise ValueError(f"unknown hyperparameter {key!r} in se_hPars; expected some of "
                                 f"{HPARS + tuple(TUNING)}")
            values[key] = value
    return Schedule(**values)


__all__ = ["Schedule", "merged", "SCHEDULES", "HPARS"]
