"""``import epynn.initialize``, a workflow's first line, for ``nnxp.epynn``.

EpyNN's scripts start with it to prepare their environment. nnxp needs no preparation,
so importing this module does nothing at all: no files, no global settings, no seeds.
Call ``nnxp.epynn.commons.library.configure_directory()`` for the ``datasets/``,
``models/`` and ``plots/`` folders, and pass ``seed=`` to ``initialize`` for a
reproducible run.
"""
