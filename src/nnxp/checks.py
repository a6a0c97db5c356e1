"""The checks of what a user passes to nnxp, each with a message of the same form.

A mistake in an argument should be reported at once, where it was made, and by nnxp:
not three calls later by NumPy, in words about arrays the user never made. Every
public entry point runs its arguments through these few functions, which return the
value in the type nnxp uses (a NumPy integer becomes an int) or raise::

    <where>: <name> must be <what was expected>, got <what came>

for instance ``fit: batch_size must be a whole number >= 1, got 2.5 (float)``. A value
of the wrong type raises ``ArgumentTypeError`` (a TypeError), a value out of range
``ArgumentValueError`` (a ValueError): code that catches TypeError or ValueError still
catches them, and ``nnxp``'s command line tells them from its own bugs, printing the
message in one line instead of a traceback.

Whole numbers are ints or NumPy integers; True and False are not numbers here, nor
are strings that look like one ("16"): a setting read from a file or the command line
should be converted where it is read, so that a typo is not taken for a number.
"""

from __future__ import annotations

import math
import numbers


class ArgumentTypeError(TypeError):
    """An argument of the wrong type (the message names it, what was expected and what came)."""


class ArgumentValueError(ValueError):
    """An argument out of its range or not one of its options (the message says which)."""


def _shown(value) -> str:
    """What came: the value, and its type where the type is the mistake."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def is_whole(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def whole_number(name: str, value, where: str, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an int, if it is a whole number in [minimum, maximum]."""
    bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    if not is_whole(value):
        raise ArgumentTypeError(f"{where}: {name} must be a whole number {bounds}, got {_shown(value)}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ArgumentValueError(f"{where}: {name} must be a whole number {bounds}, got {value}")
    return int(value)


def positive_int(name: str, value, where: str) -> int:
    """A size or a count that cannot be zero: units, filters, batch_size, threads."""
    return whole_number(name, value, where, minimum=1)


def count(name: str, value, where: str) -> int:
    """A count that may be zero: epochs."""
    return whole_number(name, value, where, minimum=0)


def finite_number(name: str, value, where: str, low: float | None = None, high: float | None = None,
                  low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float, if it is a finite number in the interval given (closed unless
    ``low_open`` / ``high_open``): learning rates, probabilities, momenta, epsilons."""
    interval = _interval(low, high, low_open, high_open)
    if not is_real(value):
        raise ArgumentTypeError(f"{where}: {name} must be a finite number{interval}, got {_shown(value)}")
    number = float(value)
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if not math.isfinite(number) or too_low or too_high:
        raise ArgumentValueError(f"{where}: {name} must be a finite number{interval}, got {value}")
    return number


def _interval(low, high, low_open, high_open) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high:g}"
    return ""


def seed(name: str, value, where: str) -> int | None:
    """A random seed: None (a fresh one each run) or a whole number >= 0 (NumPy's rule)."""
    if value is None:
        return None
    if not is_whole(value):
        raise ArgumentTypeError(f"{where}: {name} must be None or a whole number >= 0, got {_shown(value)}")
    if value < 0:
        raise ArgumentValueError(f"{where}: {name} must be None or a whole number >= 0, got {value}")
    return int(value)


def optional(check, name: str, value, where: str, *args, **kwargs):
    """None, or what ``check`` makes of ``value``: ``optional(positive_int, "batch_size", ...)``."""
    return None if value is None else check(name, value, where, *args, **kwargs)


def choice(name: str, value, where: str, options) -> str:
    """One of ``options`` (names), else an error listing them."""
    if value not in options:
        raise ArgumentValueError(f"{where}: {name} must be one of {tuple(options)}, got {value!r}")
    return value
