"""Max pooling over windows that hold NaN, against PyTorch: the output is NaN and the gradient (and
``return_indices``) go to the window's last NaN cell, for disjoint and overlapping windows."""
import numpy as np
import pytest
import torch

from cnnkit import functional as F
from cnnkit.autograd import Tensor


def _with_nans():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    for index in [(0, 0, 1, 0), (0, 1, 0, 0), (1, 3, 3, 2), (1, 2, 2, 1), (1, 2, 3, 1), (0, 5, 5, 2)]:
        x[index] = np.nan  # two NaNs share a 2x2 window in two places
    return x


@pytest.mark.parametrize("pool, stride, torch_padding, padding", [
    (2, 2, 0, "valid"),  # disjoint windows
    (3, 1, 0, "valid"),  # overlapping
    (3, 2, 1, 1),  # overlapping, padded
    ((2, 3), (2, 1), 0, "valid"),
])
def test_max_pool_nan_windows_match_torch(pool, stride, torch_padding, padding):
    x = _with_nans()
    ours = Tensor(x, requires_grad=True)
    output = F.max_pool(ours, pool, strides=stride, padding=padding)
    upstream = np.random.default_rng(1).standard_normal(output.shape).astype(np.float32)
    output.backward(upstream)
    theirs = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    expected = torch.nn.functional.max_pool2d(theirs, pool, stride, torch_padding)
    expected.backward(torch.tensor(upstream.transpose(0, 3, 1, 2)))
    expected_output = expected.detach().numpy().transpose(0, 2, 3, 1)
    assert np.isnan(expected_output).any()
    np.testing.assert_array_equal(np.isnan(output.numpy()), np.isnan(expected_output))
    np.testing.assert_allclose(np.nan_to_num(output.numpy()), np.nan_to_num(expected_output))
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("pool, stride", [(2, 2), (3, 1)])
def test_max_pool_argmax_of_nan_windows_matches_torch(pool, stride):
    x = _with_nans()
    _, indices = F.max_pool_with_argmax(x, pool, strides=stride)
    _, expected = torch.nn.functional.max_pool2d(torch.tensor(x.transpose(0, 3, 1, 2)), pool, stride,
                                                 return_indices=True)
    np.testing.assert_array_equal(np.asarray(indices.numpy() if hasattr(indices, "numpy") else indices),
                                  expected.numpy().transpose(0, 2, 3, 1))
