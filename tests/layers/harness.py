"""A layer test harness in the manner of Keras's ``run_layer_test``.

``run_layer_test(layer_class, init_kwargs, input_shape, ...)`` checks, for one configuration:

- the layer builds on a first real input and its output shape equals ``compute_output_shape``
  (asked with the batch axis as None) and, when given, ``expected_output_shape``;
- the numbers of trainable and non-trainable weights, and ``count_params``;
- ``get_config`` is JSON-serialisable and ``from_config`` rebuilds an equal config; the rebuilt
  layer, given the original's weights with ``set_weights``, computes the same output;
- ``get_weights``/``set_weights`` round-trip, and refuse a wrong count or a wrong shape;
- with trainable weights, one backward pass reaches every trainable weight; a frozen layer
  (``trainable = False``) lists no trainable weights and collects no gradient.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from cnnkit import Tensor
from cnnkit.layers import LAYER_REGISTRY


def _json_round_trip(config: dict) -> dict:
    return json.loads(json.dumps(config))


def run_layer_test(
    layer_class,
    init_kwargs: dict,
    input_shape: tuple,
    expected_output_shape: tuple | None = None,
    expected_num_trainable_weights: int | None = None,
    expected_num_non_trainable_weights: int | None = None,
    training: bool = False,
    input_data=None,
    seed: int = 0,
    built_at_init: bool = False,
):
    """Run the checks listed in the module docstring; returns the layer's output array."""
    rng = np.random.default_rng(seed)
    data = input_data if input_data is not None else rng.standard_normal(input_shape).astype("float32")
    layer = layer_class(**init_kwargs)
    assert layer.built == built_at_init
    assert type(layer).__name__ in LAYER_REGISTRY, "every layer class is resolvable from the registry"

    output = layer(data, training=training)
    assert layer.built
    batch_free = (None,) + tuple(data.shape[1:])
    predicted = layer.compute_output_shape(batch_free)
    assert predicted[0] is None and tuple(predicted[1:]) == tuple(output.shape[1:]), (
        f"compute_output_shape {predicted} vs real output {output.shape}"
    )
    if expected_output_shape is not None:
        assert tuple(output.shape) == tuple(expected_output_shape)

    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights
    if expected_num_non_trainable_weights is not None:
        assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights
    assert len(layer.weights) == len(layer.trainable_weights) + len(layer.non_trainable_weights)
    assert layer.count_params() == sum(int(np.prod(w.shape)) for w in layer.get_weights())

    # Config round trip through JSON, then the same weights give the same output.
    config = _json_round_trip(layer.get_config())
    for key in ("name", "trainable", "dtype"):
        assert key in config
    rebuilt = layer_class.from_config(config)
    assert _json_round_trip(rebuilt.get_config()) == config
    if layer.weights:
        rebuilt.build(batch_free)
        rebuilt.set_weights(layer.get_weights())
    reference = layer(data, training=False).numpy()
    np.testing.assert_allclose(rebuilt(data, training=False).numpy(), reference, rtol=1e-6, atol=1e-6)

    # get_weights / set_weights.
    weights = layer.get_weights()
    assert [w.shape for w in weights] == [tuple(v.shape) for v in layer.weights]
    if weights:
        changed = [w + 1.0 for w in weights]
        layer.set_weights(changed)
        for variable, value in zip(layer.weights, changed):
            np.testing.assert_array_equal(variable.numpy(), value)
        weights[0] += 123.0  # get_weights hands out copies
        assert not np.array_equal(layer.get_weights()[0], weights[0])
        with pytest.raises(ValueError, match="expecting"):
            layer.set_weights(changed[:-1])
        wrong = list(changed)
        wrong[0] = np.zeros(tuple(s + 1 for s in wrong[0].shape), dtype="float32")
        with pytest.raises(ValueError, match="shape"):
            layer.set_weights(wrong)

    # Gradients reach every trainable weight; a frozen layer collects none.
    if layer.trainable_weights:
        for variable in layer.weights:
            variable.zero_grad()
        result = layer(Tensor(data), training=training)
        result.backward(np.ones(result.shape, dtype=result.dtype))
        for variable in layer.trainable_weights:
            assert variable.grad is not None and variable.grad.shape == variable.shape, variable.path
        layer.trainable = False
        assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == len(layer.weights)
        for variable in layer.weights:
            variable.zero_grad()
        frozen_input = Tensor(data, requires_grad=True)
        result = layer(frozen_input, training=False)
        result.backward(np.ones(result.shape, dtype=result.dtype))
        assert all(variable.grad is None for variable in layer.weights)
        layer.trainable = True
        assert len(layer.trainable_weights) == (expected_num_trainable_weights or len(layer.trainable_weights))
    return output.numpy()


def compare_layer_with_torch(layer, inputs, torch_forward, weights=None, training=False, rtol=1e-4, atol=1e-5,
                             seed=0):
    """Check a layer's output and gradients (input and every trainable weight) against PyTorch.

    Args:
        layer: a cnnkit layer (built here from ``inputs`` if needed).
        inputs: a float32 array with a batch axis.
        torch_forward: ``torch_forward(x, *weights)`` on torch tensors in cnnkit's (Keras's)
            layouts; it does its own layout conversions with torch operations, so the gradients it
            produces are in Keras's layout too.
        weights: Keras-layout arrays given to ``set_weights`` (default: random normal ones).

    Returns:
        The cnnkit output array.
    """
    import torch

    from oracle import assert_close

    rng = np.random.default_rng(seed)
    if not layer.built:
        layer.build((None,) + tuple(inputs.shape[1:]))
    if weights is None:
        weights = [rng.standard_normal(w.shape).astype("float32") * 0.5 for w in layer.get_weights()]
    layer.set_weights(weights)
    for variable in layer.weights:
        variable.zero_grad()
    ours_input = Tensor(inputs.copy(), requires_grad=True)
    ours = layer(ours_input, training=training)
    theirs_input = torch.tensor(inputs.copy(), requires_grad=True)
    theirs_weights = [torch.tensor(np.asarray(w).copy(), requires_grad=True) for w in weights]
    theirs = torch_forward(theirs_input, *theirs_weights)
    assert_close(ours.numpy(), theirs.detach().numpy(), rtol, atol, "forward")
    upstream = rng.standard_normal(tuple(theirs.shape)).astype(inputs.dtype)
    ours.backward(upstream)
    theirs.backward(torch.tensor(upstream))
    assert_close(ours_input.grad, theirs_input.grad.numpy(), rtol, atol, "input gradient")
    for variable, torch_weight in zip(layer.weights, theirs_weights):
        if not variable.trainable:
            continue
        expected = np.zeros(variable.shape) if torch_weight.grad is None else torch_weight.grad.numpy()
        actual = np.zeros(variable.shape) if variable.grad is None else variable.grad
        assert_close(actual, expected, rtol, atol, f"gradient of {variable.name}")
    return ours.numpy()
