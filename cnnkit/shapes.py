"""Output-size arithmetic of convolution and pooling, in one place.

Kernels, functional ops, layers' ``compute_output_shape``, ``summary()`` and the receptive-field
tools all call these functions, so a shape is computed the same way everywhere.

For one spatial axis of size ``n``, kernel size ``k``, stride ``s``, dilation ``d`` and padding
``p_before + p_after``, the kernel spans ``d * (k - 1) + 1`` input cells and

    out = floor((n + p_before + p_after - d * (k - 1) - 1) / s) + 1
"""
from __future__ import annotations

import math


def effective_kernel_size(kernel_size: int, dilation: int = 1) -> int:
    """Input cells one dilated kernel spans: ``dilation * (kernel_size - 1) + 1``."""
    return dilation * (kernel_size - 1) + 1


def conv_output_size(
    input_size: int,
    kernel_size: int,
    stride: int = 1,
    dilation: int = 1,
    pad_before: int = 0,
    pad_after: int = 0,
    ceil_mode: bool = False,
) -> int:
    """Length of a convolution's (or pooling's) output along one axis.

    With ``ceil_mode`` the last, partial window is kept when it starts inside the input or the
    leading padding (PyTorch's rule), so no window lies wholly in the trailing padding.

    Example:
        >>> conv_output_size(28, 5)          # LeNet's first conv
        24
        >>> conv_output_size(7, 3, stride=2)
        3
    """
    span = input_size + pad_before + pad_after - effective_kernel_size(kernel_size, dilation)
    if span < 0:
        return 0
    if not ceil_mode:
        return span // stride + 1
    size = -(-span // stride) + 1
    if (size - 1) * stride >= input_size + pad_before:
        size -= 1
    return size


def same_padding(input_size: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """``(before, after)`` padding of TensorFlow's 'same' rule: the output has ceil(n / stride)
    cells and an odd total pad puts the extra cell at the end.

    Example:
        >>> same_padding(7, 3)
        (1, 1)
        >>> same_padding(6, 2, stride=2)
        (0, 0)
        >>> same_padding(5, 4)
        (1, 2)
    """
    output_size = math.ceil(input_size / stride)
    total = max((output_size - 1) * stride + effective_kernel_size(kernel_size, dilation) - input_size, 0)
    return total // 2, total - total // 2


def causal_padding(kernel_size: int, dilation: int = 1) -> tuple[int, int]:
    """``(before, after)`` padding that makes a 1-D convolution causal: all of it at the start."""
    return effective_kernel_size(kernel_size, dilation) - 1, 0


def transpose_output_size(
    input_size: int,
    kernel_size: int,
    stride: int = 1,
    dilation: int = 1,
    pad_before: int = 0,
    pad_after: int = 0,
    output_padding: int = 0,
) -> int:
    """Length of a transposed convolution's output along one axis (the inverse of
    ``conv_output_size``; ``output_padding`` picks among the sizes that map to the same input):

        out = (n - 1) * stride + dilation * (kernel_size - 1) + 1 - pad_before - pad_after + output_padding

    Example:
        >>> transpose_output_size(28, 4, stride=2, pad_before=1, pad_after=1)
        56
    """
    return (
        (input_size - 1) * stride
        + effective_kernel_size(kernel_size, dilation)
        - pad_before
        - pad_after
        + output_padding
    )
