"""Deliberately naive NumPy references for what PyTorch does not offer.

Nothing here imports cnnkit: these are independent, loop-by-loop restatements of the documented
rules (TensorFlow's 'same' padding at any stride and dilation, Keras's transposed-convolution
output length), slow and obvious on purpose, so that a test compares two different derivations.
"""
from __future__ import annotations

import itertools
import math

import numpy as np


def tf_same_pads(size: int, kernel_size: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's 'SAME': output ceil(size / stride); the odd cell of padding goes at the end."""
    output = -(-size // stride)
    span = (kernel_size - 1) * dilation + 1
    total = max((output - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def naive_conv(x, kernel, strides, dilation, pads, groups=1):
    """Direct N-d cross-correlation, channels-last, float64, one output position at a time.

    x ``(N, *L, C)``, kernel ``(*k, C // groups, F)``, ``pads`` one (before, after) per axis.
    """
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    num_spatial = x.ndim - 2
    padded = np.pad(x, [(0, 0)] + [tuple(p) for p in pads] + [(0, 0)])
    kernel_size = kernel.shape[:num_spatial]
    group_in, filters = kernel.shape[-2], kernel.shape[-1]
    group_out = filters // groups
    out_size = [
        (padded.shape[1 + a] - ((kernel_size[a] - 1) * dilation[a] + 1)) // strides[a] + 1 for a in range(num_spatial)
    ]
    out = np.zeros((x.shape[0], *out_size, filters))
    for position in itertools.product(*(range(n) for n in out_size)):
        for offset in itertools.product(*(range(k) for k in kernel_size)):
            cell = tuple(p * s + o * d for p, s, o, d in zip(position, strides, offset, dilation))
            pixel = padded[(slice(None),) + cell]  # (N, C)
            for g in range(groups):
                block = pixel[:, g * group_in:(g + 1) * group_in]
                weights = kernel[offset][:, g * group_out:(g + 1) * group_out]
                out[(slice(None),) + position + (slice(g * group_out, (g + 1) * group_out),)] += block @ weights
    return out


def keras_transpose_length(size, kernel_size, stride, padding, output_padding=None, dilation=1):
    """Keras 3's output length of a transposed convolution with 'valid' or 'same' padding."""
    span = (kernel_size - 1) * dilation + 1
    if padding == "valid":
        extra = max(span, stride) - span if output_padding is None else output_padding
        return (size - 1) * stride + span + extra
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + span % 2 + output_padding


def keras_transpose_crop(kernel_size, stride, padding, output_padding=None, dilation=1):
    """Where Keras's 'valid'/'same' transposed output starts inside the full (unpadded) output.

    Keras pads the stride-dilated input by ``left`` before correlating with the flipped kernel;
    the full output corresponds to ``left = span - 1``, so the result starts ``span - 1 - left``
    cells into it.
    """
    span = (kernel_size - 1) * dilation + 1
    if padding == "valid":
        return 0
    if output_padding is None:
        total = stride + span - 2
    else:
        total = span + span % 2 - 2 + output_padding
    left = min(math.ceil(total / 2), span - 1)
    return span - 1 - left


def naive_correlate2d(image, kernel):
    """Full 2-D cross-correlation by the textbook sum (zero outside the image)."""
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    kh, kw = kernel.shape
    padded = np.pad(image, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    out = np.zeros((image.shape[0] + kh - 1, image.shape[1] + kw - 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(padded[i:i + kh, j:j + kw] * kernel)
    return out
