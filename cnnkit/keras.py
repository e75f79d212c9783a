"""Keras's namespace on cnnkit, so code written for ``tf.keras`` or ``keras`` runs unchanged.

``from cnnkit import keras`` (or ``import cnnkit as tf`` and then ``tf.keras...``) gives the
names a Keras user reaches for: ``keras.Sequential``, ``keras.layers``, ``keras.models``,
``keras.optimizers``, ``keras.losses``, ``keras.metrics``, ``keras.callbacks``,
``keras.initializers``, ``keras.regularizers``, ``keras.constraints``, ``keras.activations``,
``keras.datasets``, and ``keras.ops`` (cnnkit's functional ops).

Example:
    >>> import cnnkit as tf
    >>> model = tf.keras.Sequential([tf.keras.layers.Dense(3, input_shape=(4,))])
    >>> model.count_params()
    15
"""
from . import activations, callbacks, constraints, datasets, initializers, layers, losses, metrics
from . import models, optimizers, regularizers
from . import functional as ops
from .layers import Input
from .models import Model, Sequential

__all__ = [
    "Input",
    "Model",
    "Sequential",
    "activations",
    "callbacks",
    "constraints",
    "datasets",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "ops",
    "optimizers",
    "regularizers",
]
