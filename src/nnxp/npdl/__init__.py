"""NumpyDL's interface on nnxp: ``import nnxp.npdl as npdl`` runs NumpyDL 0.4's code.

The modules are NumpyDL's (``npdl.layers``, ``activations``, ``initializations``,
``objectives``, ``optimizers``, ``model``, ``utils``), with its names, arguments and
defaults; each entry maps onto nnxp's own classes and holds no maths of its own. The
traps, where NumpyDL and nnxp differ, are on the docs page "NumpyDL on nnxp": Dropout's
p is the fraction kept, images are channels-first, objectives are batch means.
"""

from . import activations, initializations, layers, model, objectives, optimizers, utils

__all__ = ["activations", "initializations", "layers", "model", "objectives", "optimizers", "utils"]
