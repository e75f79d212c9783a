"""A deliberately naive NumPy reference for the pooling semantics PyTorch lacks.

TensorFlow/Keras 'same' pooling (``padding='same'``, any stride, odd extra pad at the end) is not
available in PyTorch, and neither is average pooling that divides by the real cells of a window with
asymmetric padding. This module computes both by the definition, one output cell at a time, with its
own padding arithmetic (TensorFlow's documented formula), so it shares no code with cnnkit's kernels.
Slow by design: use tiny inputs.
"""
from __future__ import annotations

import itertools
import math

import numpy as np


def tensorflow_same_pads(size: int, pool: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same': output ceil(size / stride); total pad split with the extra cell at the end."""
    output = math.ceil(size / stride)
    total = max((output - 1) * stride + pool - size, 0)
    return total // 2, total - total // 2


def pool_reference(x, pool_size, strides, pads, mode: str, count_include_pad: bool = False):
    """Pool a channels_last array ``(batch, *spatial, channels)`` by the definition.

    Args:
        pool_size, strides: one int per spatial axis.
        pads: one ``(before, after)`` pair per spatial axis; windows are clipped to the real input
            (max and real-cell average) or counted over the padded extent (``count_include_pad``).
        mode: 'max' or 'average'.

    Returns:
        float64 array ``(batch, *out_spatial, channels)`` with floor-mode output sizes.
    """
    x = np.asarray(x, dtype=np.float64)
    spatial = x.shape[1:-1]
    out_sizes = [
        (size + before + after - pool) // stride + 1
        for size, pool, stride, (before, after) in zip(spatial, pool_size, strides, pads)
    ]
    result = np.zeros((x.shape[0], *out_sizes, x.shape[-1]))
    for out_index in itertools.product(*(range(n) for n in out_sizes)):
        ranges, padded_cells = [], 1
        for i, size, pool, stride, (before, after) in zip(out_index, spatial, pool_size, strides, pads):
            start = i * stride - before
            ranges.append(range(max(start, 0), min(start + pool, size)))
            padded_cells *= min(start + pool, size + after) - start
        cells = [x[(slice(None),) + cell + (slice(None),)] for cell in itertools.product(*ranges)]
        stacked = np.stack(cells)  # (cells, batch, channels)
        if mode == "max":
            value = stacked.max(axis=0)
        else:
            value = stacked.sum(axis=0) / (padded_cells if count_include_pad else len(cells))
        result[(slice(None),) + out_index + (slice(None),)] = value
    return result


def same_pool_reference(x, pool_size, strides, mode: str):
    """TensorFlow/Keras 'same' pooling of a channels_last array (average over real cells only)."""
    pads = [tensorflow_same_pads(size, pool, stride) for size, pool, stride in zip(x.shape[1:-1], pool_size, strides)]
    return pool_reference(x, pool_size, strides, pads, mode)
