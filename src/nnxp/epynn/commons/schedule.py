"""EpyNN's learning-rate schedules (``epynn.commons.schedule``), nnxp's ``Schedule``.

``exp_decay(hPars)`` gives the learning rate of every epoch, a list, for ``hPars`` the
se_hPars keys (``learning_rate``, ``decay_k``, ``cycle_epochs``, ``cycle_descent``) and
``epochs``; ``steady`` and ``lin_decay`` likewise. The formulas are in ``nnxp.schedules``.
"""

from __future__ import annotations

from ...schedules import HPARS, Schedule


def _rates(schedule: str, hPars) -> list[float]:
    if "epochs" not in hPars:
        raise KeyError(f"{schedule}(hPars): hPars needs 'epochs', the number of epochs to give a rate for")
    values = {key: hPars[key] for key in HPARS if key in hPars}
    return Schedule(**{**values, "schedule": schedule}).rates(int(hPars["epochs"]))


def steady(hPars) -> list[float]:
    """The same rate every epoch (cycles lower it by cycle_descent)."""
    return _rates("steady", hPars)


def exp_decay(hPars) -> list[float]:
    """lr * exp(-decay_k * epoch within the cycle)."""
    return _rates("exp_decay", hPars)


def lin_decay(hPars) -> list[float]:
    """lr / (1 + decay_k * epoch within the cycle)."""
    return _rates("lin_decay", hPars)


__all__ = ["steady", "exp_decay", "lin_decay"]
