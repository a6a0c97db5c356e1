"""The activations the recurrent kernels know, each as a small integer code.

A compiled kernel cannot take a Python object such as ``nnxp.activations.Tanh``: it
takes a number, and picks the formula by that number. ``nnxp.ops`` looks each
activation of a layer up by its name in ``RECURRENT_ACTIVATIONS`` and hands the codes
to the kernels; for an activation that is not there (or one with parameters, such as
LReLU's alpha) the reference code runs instead.

The CPU kernels (``cpu/fastmath.py``) and the CUDA kernels (``cuda/recurrent.py``)
both read the codes from here, so that the two can never disagree on a number. To
teach the kernels another activation: give it the next code below, then its formula
and its derivative in both of those files (CONTRIBUTING.md, "Add an activation").
"""

IDENTITY, SIGMOID, TANH, RELU, SOFTSIGN = 0, 1, 2, 3, 4

RECURRENT_ACTIVATIONS = {"identity": IDENTITY, "sigmoid": SIGMOID, "tanh": TANH, "relu": RELU,
                         "softsign": SOFTSIGN}
