"""A user's layer that implements only ``call`` works in a Sequential model, as in Keras 3 (which
infers the output shape by tracing ``call``): cnnkit's base ``compute_output_shape`` runs ``call``
on one sample of zeros."""
import numpy as np
import pytest

from cnnkit import layers
from cnnkit.models import Sequential


class EveryOther(layers.Layer):
    """Keeps every other feature, doubled: the output shape differs from the input shape."""

    def call(self, inputs):
        return inputs[:, ::2] * 2.0


def test_user_layer_with_only_call_gets_its_output_shape_inferred():
    model = Sequential([layers.Dense(6, input_shape=(4,)), EveryOther(), layers.Dense(2)])
    assert EveryOther().compute_output_shape((None, 6)) == (None, 3)
    assert model.compute_output_shape((None, 4)) == (None, 2)
    assert model.layers[-1].kernel.shape == (3, 2)  # built on the inferred shape
    output = model.predict(np.ones((5, 4), np.float32), verbose=0)
    assert output.shape == (5, 2) and output.dtype == np.float32


def test_unknown_sizes_ask_for_compute_output_shape():
    with pytest.raises(NotImplementedError, match=r"input_shape=\(None, None, 3\)"):
        EveryOther().compute_output_shape((None, None, 3))
