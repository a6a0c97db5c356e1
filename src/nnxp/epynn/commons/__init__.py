"""EpyNN's common modules (``epynn.commons``): maths, io, library, loss, metrics, schedule, models."""
