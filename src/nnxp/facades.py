"""What the seeds' interfaces (``nnxp.npdl``, ``nnxp.epynn``) share: their argument errors.

A facade takes its seed's argument names. A user who types nnxp's name instead (or a
typo) should learn which name this interface uses, and what nnxp itself calls it::

    npdl.layers.Dense(10, units=10)
    TypeError: npdl.layers.Dense() got an unknown argument 'units': here it is 'n_out'
    (nnxp.layers.Dense calls it 'units'). Its arguments: n_out, n_in, init, activation

``takes(renamed, nnxp=...)`` decorates a facade's ``__init__`` (or function) to give
that message: ``renamed`` maps a foreign name to this interface's own, and ``nnxp`` is the
nnxp class (or function) whose arguments are recognised as nnxp's.
"""

from __future__ import annotations

import functools
import inspect


def takes(renamed: dict | None = None, nnxp=None):
    """A decorator: an unknown argument raises a TypeError naming it, the name this
    interface gives it (``renamed``) and nnxp's equivalent, when there is one."""
    renamed = dict(renamed or {})

    def decorate(function):
        signature = inspect.signature(function)
        own = [name for name, p in signature.parameters.items()
               if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

        @functools.wraps(function)
        def checked(*args, **kwargs):
            try:
                signature.bind(*args, **kwargs)
            except TypeError as error:
                where = _label(function)
                unknown = [name for name in kwargs if name not in signature.parameters]
                if not unknown:
                    raise TypeError(f"{where}(): {error}") from None
                raise TypeError(_message(where, unknown[0], renamed, nnxp, own)) from None
            return function(*args, **kwargs)

        return checked

    return decorate


def _label(function) -> str:
    """The name users type: npdl.layers.Dense for the __init__ of nnxp.npdl.layers.core.Dense,
    epynn.Dense for that of nnxp.epynn.dense.models.Dense."""
    module = function.__module__.replace("nnxp.", "", 1)
    for package in ("npdl.layers", "epynn"):
        if module.startswith(package + "."):
            module = package
    parts = function.__qualname__.split(".")
    owner = ".".join(parts[:-1]) if parts[-1] == "__init__" else function.__qualname__
    return f"{module}.{owner}"


def _message(where: str, name: str, renamed: dict, nnxp, own: list[str]) -> str:
    message = f"{where}() got an unknown argument {name!r}"
    nnxp_name = getattr(nnxp, "__qualname__", None)
    nnxp_takes = nnxp is not None and name in inspect.signature(nnxp).parameters
    if name in renamed:
        message += f": here it is {renamed[name]!r}"
        if nnxp_takes:
            message += f" (nnxp.{_public(nnxp)} calls it {name!r})"
    elif nnxp_takes:
        message += f": it is nnxp's own (nnxp.{_public(nnxp)}({name}=...)), which this interface does not take"
    elif nnxp_name is not None:
        message += f" (nnxp's equivalent is nnxp.{_public(nnxp)})"
    return message + ". Its arguments: " + ", ".join(own)


def _public(obj) -> str:
    """layers.Dense for nnxp.layers.dense.Dense: the name users type."""
    module = obj.__module__.replace("nnxp.", "", 1)
    if module.startswith("layers."):
        module = "layers"
    return f"{module}.{obj.__qualname__}"
