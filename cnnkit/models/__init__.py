"""Models: ``Sequential``, the training API (``Model``), saving and loading.

- ``Sequential``: a stack of layers (``models/sequential.py``);
- ``Model``: the base class with ``compile``/``fit``/``evaluate``/``predict`` (``models/training.py``);
- ``load_model(path)``: rebuild a model written by ``model.save(path)``; ``save_model(model, path)``
  is ``model.save(path)`` (``models/saving.py``, which also says which file names are accepted);
- ``models/summary.py`` and ``models/progbar.py``: the summary table and the progress bar.

Example:
    >>> from cnnkit.models import Sequential, load_model
"""
from .saving import load_model, save_model
from .sequential import Sequential
from .training import Model

__all__ = ["Sequential", "Model", "load_model", "save_model"]
