"""The two oracles every op is checked against: PyTorch, and float64 central differences.

``compare_with_torch`` runs the same computation in cnnkit and in PyTorch on the same inputs,
compares the outputs (shape first, then values) and the gradient of every input that needs one,
using the same random upstream gradient in both. ``check_finite_differences`` compares cnnkit's
analytic gradients with float64 central differences of the same cnnkit forward.

Neither oracle calls the code under test to produce the expected values of the other side.
"""
from __future__ import annotations

import numpy as np
import torch

from cnnkit import Tensor


def _as_numpy(value):
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    return np.asarray(value)


def compare_with_torch(
    cnnkit_fn,
    torch_fn,
    inputs,
    grad_inputs=None,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    seed: int = 0,
):
    """Check forward and input gradients of ``cnnkit_fn`` against ``torch_fn``.

    Args:
        cnnkit_fn: takes cnnkit Tensors (one per input) and returns a Tensor.
        torch_fn: takes torch tensors in the same order and returns a torch tensor of the same
            values (layout conversions belong inside the two functions).
        inputs: NumPy arrays; both sides receive copies of these.
        grad_inputs: indices of the inputs whose gradients are compared (default: all floating ones).
        rtol, atol: tolerances, relative to the largest magnitude of the expected array.

    Returns:
        The cnnkit output array (for further checks).
    """
    inputs = [np.asarray(array) for array in inputs]
    if grad_inputs is None:
        grad_inputs = [i for i, array in enumerate(inputs) if np.issubdtype(array.dtype, np.floating)]
    ours = [Tensor(array.copy(), requires_grad=i in grad_inputs) for i, array in enumerate(inputs)]
    theirs = [torch.tensor(array.copy(), requires_grad=i in grad_inputs) for i, array in enumerate(inputs)]

    our_output = cnnkit_fn(*ours)
    their_output = torch_fn(*theirs)
    assert_close(_as_numpy(our_output), _as_numpy(their_output), rtol, atol, "forward")

    if grad_inputs:
        rng = np.random.default_rng(seed)
        upstream = rng.standard_normal(their_output.shape).astype(inputs[grad_inputs[0]].dtype)
        our_output.backward(upstream)
        their_output.backward(torch.tensor(upstream))
        for i in grad_inputs:
            expected = theirs[i].grad
            expected = np.zeros_like(inputs[i]) if expected is None else expected.numpy()
            actual = ours[i].grad
            actual = np.zeros_like(inputs[i]) if actual is None else actual
            assert_close(actual, expected, rtol, atol, f"gradient of input {i}")
    return _as_numpy(our_output)


def assert_close(actual, expected, rtol, atol, what: str) -> None:
    """Shapes equal, then ``|actual - expected| <= atol + rtol * max|expected|`` elementwise."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    error = float(np.max(np.abs(actual.astype(np.float64) - expected))) if expected.size else 0.0
    assert error <= atol + rtol * scale, f"{what}: max error {error:.3g} over tolerance (scale {scale:.3g})"


def check_finite_differences(fn, inputs, grad_inputs=None, epsilon: float = 1e-6, tolerance: float = 1e-5, seed: int = 0):
    """Compare cnnkit's analytic gradients of ``sum(fn(*inputs) * W)`` with central differences.

    Args:
        fn: takes cnnkit Tensors and returns a Tensor.
        inputs: float64 NumPy arrays (small: every element is perturbed twice).
        grad_inputs: indices of the inputs to check (default: all).
        W: a fixed random weighting of the output, so every output element matters.
    """
    inputs = [np.asarray(array, dtype=np.float64) for array in inputs]
    if grad_inputs is None:
        grad_inputs = list(range(len(inputs)))
    tensors = [Tensor(array.copy(), requires_grad=i in grad_inputs) for i, array in enumerate(inputs)]
    output = fn(*tensors)
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal(output.shape)
    output.backward(weights)

    def objective(arrays):
        return float(np.sum(_as_numpy(fn(*[Tensor(a) for a in arrays])) * weights))

    for i in grad_inputs:
        analytic = tensors[i].grad if tensors[i].grad is not None else np.zeros_like(inputs[i])
        numeric = np.zeros_like(inputs[i])
        for index in np.ndindex(inputs[i].shape):
            plus = [a.copy() for a in inputs]
            minus = [a.copy() for a in inputs]
            plus[i][index] += epsilon
            minus[i][index] -= epsilon
            numeric[index] = (objective(plus) - objective(minus)) / (2 * epsilon)
        scale = max(1.0, float(np.max(np.abs(numeric))))
        error = float(np.max(np.abs(analytic - numeric)))
        assert error <= tolerance * scale, f"input {i}: analytic vs numeric gradient differ by {error:.3g}"
