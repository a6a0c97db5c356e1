"""EpyNN's pass-through layer (``epynn.template.models.Template``): nnxp's ``Template``.

``Template()`` is the identity, A = X and dX = dA, going through every step of the layer
contract; its shapes follow EpyNN's: ``d['m']`` samples and ``d['n']`` = the size of X
over m. Subclass it for a layer of your own (``docs/new-layer.md``); a subclass trains
in a model as any layer does (nnxp's optimizer moves every ``p[name]`` with
``g['d' + name]``).
"""

from __future__ import annotations

from ... import layers as _core
from ...facades import takes
from ..commons.models import Layer


class Template(Layer, _core.Template):
    """A pass-through layer, the place to start one of your own."""

    maps_onto = _core.Template

    @takes(nnxp=_core.Template)
    def __init__(self):
        _core.Template.__init__(self)
