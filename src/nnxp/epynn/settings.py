"""EpyNN's global hyperparameters (``epynn.settings.se_hPars``), with EpyNN's defaults.

``EpyNN.initialize(se_hPars=settings.se_hPars)`` hands them to every layer that has none
of its own; ``model.layers[i].se_hPars`` then shows the values in force. In nnxp they
become the model's ``se_hPars``: the first five drive the learning-rate schedule
(``nnxp.schedules``), the last three tune the activations (``nnxp.activations.tuned``).

The learning rate is 0.1, steady: ten times nnxp's default (0.01, ``nnxp.Model``).
"""

se_hPars = {
    # the learning-rate schedule
    "learning_rate": 0.1,
    "schedule": "steady",
    "decay_k": 0,
    "cycle_epochs": 0,
    "cycle_descent": 0,
    # the activations' parameters
    "ELU_alpha": 1,
    "LRELU_alpha": 0.3,
    "softmax_temperature": 1,
}
