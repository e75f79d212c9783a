"""Depthwise convolution numerics (1-D and 2-D): forward pass and all gradients, compiled by numba.

This module owns the depthwise convolution: every input channel convolved with its own
``depth_multiplier`` filters, nothing mixed across channels. ``cnnkit.kernels.conv`` dispatches
1-D and 2-D depthwise convolutions here; 3-D ones take its general grouped route (im2col and a
grouped GEMM).

Why compiled code: a depthwise convolution has no reduction over channels, so there is no GEMM to
hand to BLAS; each output is a handful (``prod(kernel_size)``) of multiply-adds, and the work is
bound by memory traffic. NumPy can only run it as whole-array passes (an einsum over a window view,
a padding copy, one more pass for the bias), and on the reference machine every NumPy pass over the
benchmark's 12.8 MB tensor (N=32, 28x28, 128 channels) costs at least 0.9 ms; the best NumPy
version needed 10.8 ms for forward+backward against PyTorch's 5.7 ms. The kernels below sweep each
tensor once, one image row at a time while it sits in cache, and need no padded copy: padding is
handled by clipping each tap's range of output columns.

Measured (N=32, 28x28, 128 channels, 3x3 'same', float32, 2 threads, ``cnnkit bench --cases
depthwise``): forward 1.2-1.4 ms (PyTorch 1.5 ms); forward+backward about 5.4 ms (PyTorch 5.4-6.0 ms),
against 10.8 ms for the einsum version this replaced. The backward of the common case (multiplier
1, 3 columns wide, column stride 1) runs specialised loops (``_backward_loops_fast``: the three
column taps of a kernel row in one pass over the channels): 7.5 ms against 8.9 ms on one thread,
4.4 against 5.0 ms on two (the raw sweep, all three gradients).
For a 3x3 kernel at stride 1 and dilation 1 the loops are register-blocked (``_forward_rows_3x3``,
``_input_row_3x3``, ``_kernel_row_3x3``: four pixels along the width per vector of channels, each
output stored once instead of once per tap): forward 2.9 -> 2.2 ms on one thread (raw loop), the
three gradients 6.9-7.6 -> 5.9-6.0 ms; through the wrappers, forward+backward 6.9 -> 5.3 ms (one
thread) in a same-process A/B after a large matmul.

Conventions (channels-last, as in ``cnnkit.kernels.conv``):

- ``x``: ``(N, *L_in, C)``; ``kernel``: ``(*k, 1, C * m)``; output channel ``c * m + j`` is filter
  ``j`` of input channel ``c`` (Keras's and PyTorch's order).
- ``padding``: one ``(before, after)`` pair per spatial axis (zero padding; the padded cells are
  never materialised).

1-D convolutions run as 2-D ones with a height of 1. The loops are compiled by
``cnnkit.kernels.jit`` (one thread per call, no GIL held) and run as contiguous ranges of rows,
one range per thread on cnnkit's thread pool (``kernels.conv._run_chunks``): every output element
is written by one range, and the kernel and bias gradients are summed over a fixed number of
row partitions (``_PARTITIONS``), added in a fixed order afterwards, so the results are the same
bits on every run and for every thread count.
"""
from __future__ import annotations

import math

from ..backend import get_array_module
from ..shapes import conv_output_size
from .jit import compiled

__all__ = ["depthwise_supported", "depthwise_forward", "depthwise_backward", "DepthwiseSaved"]

# Number of row partitions the kernel and bias gradients are summed over (each partition's partial
# sum is private; they are added in partition order). Fixed, so the result does not depend on the
# thread count; 16 keeps 2-8 threads balanced and each partition's rows within a 4 MB L2 cache.
_PARTITIONS = 16

# Work (multiply-adds) below which a pass runs on the calling thread alone: a thread hand-off costs
# tens of microseconds.
_PARALLEL_MIN_WORK = 2**20


# ----- the loops (compiled by numba) ---------------------------------------------------------
@compiled
def _column_range(offset, stride, width, output_width):
    """Output columns ``ow`` whose input column ``ow * stride + offset`` lies in ``[0, width)``."""
    low = max(0, -(offset // stride))
    high = min(output_width, (width - 1 - offset) // stride + 1)
    return low, max(low, high)


@compiled
def _forward_loops_general(x, weights, bias, out, stride_h, stride_w, dilation_h, dilation_w, top, left, first_row, last_row):
    """``out[n, oh, ow, f] = bias[f] + sum_ab x[n, oh*sh + a*dh - top, ow*sw + b*dw - left, f // m]
    * weights[a, b, f]`` for the output rows ``n * Ho + oh`` in ``[first_row, last_row)``.

    x ``(N, H, W, C)``, weights ``(kh, kw, F)``, bias ``(F,)``, out ``(N, Ho, Wo, F)``, F = C * m.
    """
    batch, height, width, channels = x.shape
    kernel_h, kernel_w, filters = weights.shape
    out_h, out_w = out.shape[1], out.shape[2]
    multiplier = filters // channels
    for row in range(first_row, last_row):
        n = row // out_h
        oh = row - n * out_h
        for ow in range(out_w):
            cell = out[n, oh, ow]  # (F,): stays in L1 cache while every tap adds into it
            for f in range(filters):
                cell[f] = bias[f]
            for a in range(kernel_h):
                ih = oh * stride_h + a * dilation_h - top
                if ih < 0 or ih >= height:
                    continue  # a padded row: contributes zero
                for b in range(kernel_w):
                    iw = ow * stride_w + b * dilation_w - left
                    if iw < 0 or iw >= width:
                        continue
                    pixel = x[n, ih, iw]
                    tap = weights[a, b]
                    if multiplier == 1:
                        for c in range(channels):  # contiguous: vectorised
                            cell[c] += pixel[c] * tap[c]
                    else:
                        for c in range(channels):
                            for j in range(multiplier):
                                cell[c * multiplier + j] += pixel[c] * tap[c * multiplier + j]


@compiled
def _forward_pixel_3x3(x, weights, bias, target, n, oh, ow, top, left):
    """One output pixel of ``_forward_rows_3x3`` with some taps in the padding (the taps in order, as
    ``_forward_loops``)."""
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    cell = target[ow]
    for c in range(channels):
        cell[c] = bias[c]
    for a in range(3):
        ih = oh + a - top
        if ih < 0 or ih >= height:
            continue
        for b in range(3):
            iw = ow + b - left
            if iw < 0 or iw >= width:
                continue
            pixel, tap = x[n, ih, iw], weights[a, b]
            for c in range(channels):
                cell[c] += pixel[c] * tap[c]


@compiled
def _forward_rows_3x3(x, weights, bias, out, top, left, first_row, last_row):
    """``_forward_loops`` for multiplier 1, a 3x3 kernel, stride 1 and dilation 1 (register-blocked).

    For output rows whose three input rows all exist, the interior pixels (all nine taps inside the
    image) run four at a time along the width: per vector of channels, the nine weights are loaded
    once, the six input columns of each input row once, and each of the four outputs is summed in a
    register and stored once (``bias + tap00 + tap01 + ... + tap22``, the order of
    ``_forward_loops``: the same bits). Pixels with taps in the padding run ``_forward_pixel_3x3``.
    """
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    out_h, out_w = out.shape[1], out.shape[2]
    w00, w01, w02 = weights[0, 0], weights[0, 1], weights[0, 2]
    w10, w11, w12 = weights[1, 0], weights[1, 1], weights[1, 2]
    w20, w21, w22 = weights[2, 0], weights[2, 1], weights[2, 2]
    for row in range(first_row, last_row):
        n = row // out_h
        oh = row - n * out_h
        target = out[n, oh]
        ih = oh - top
        if ih < 0 or ih + 2 >= height:
            for ow in range(out_w):
                _forward_pixel_3x3(x, weights, bias, target, n, oh, ow, top, left)
            continue
        row0, row1, row2 = x[n, ih], x[n, ih + 1], x[n, ih + 2]
        low = min(left, out_w)
        high = max(low, min(out_w, width - 2 + left))  # output columns whose input columns ow-left..ow-left+2 exist
        for ow in range(low):
            _forward_pixel_3x3(x, weights, bias, target, n, oh, ow, top, left)
        ow = low
        while ow + 4 <= high:
            iw = ow - low + (low - left)
            a0, a1, a2, a3, a4, a5 = row0[iw], row0[iw + 1], row0[iw + 2], row0[iw + 3], row0[iw + 4], row0[iw + 5]
            b0, b1, b2, b3, b4, b5 = row1[iw], row1[iw + 1], row1[iw + 2], row1[iw + 3], row1[iw + 4], row1[iw + 5]
            c0, c1, c2, c3, c4, c5 = row2[iw], row2[iw + 1], row2[iw + 2], row2[iw + 3], row2[iw + 4], row2[iw + 5]
            out0, out1, out2, out3 = target[ow], target[ow + 1], target[ow + 2], target[ow + 3]
            for c in range(channels):  # contiguous: vectorised, 4 outputs x 9 taps per vector
                k00, k01, k02, k10, k11, k12, k20, k21, k22 = w00[c], w01[c], w02[c], w10[c], w11[c], w12[c], \
                    w20[c], w21[c], w22[c]
                start = bias[c]
                out0[c] = (start + a0[c] * k00 + a1[c] * k01 + a2[c] * k02 + b0[c] * k10 + b1[c] * k11 + b2[c] * k12
                           + c0[c] * k20 + c1[c] * k21 + c2[c] * k22)
                out1[c] = (start + a1[c] * k00 + a2[c] * k01 + a3[c] * k02 + b1[c] * k10 + b2[c] * k11 + b3[c] * k12
                           + c1[c] * k20 + c2[c] * k21 + c3[c] * k22)
                out2[c] = (start + a2[c] * k00 + a3[c] * k01 + a4[c] * k02 + b2[c] * k10 + b3[c] * k11 + b4[c] * k12
                           + c2[c] * k20 + c3[c] * k21 + c4[c] * k22)
                out3[c] = (start + a3[c] * k00 + a4[c] * k01 + a5[c] * k02 + b3[c] * k10 + b4[c] * k11 + b5[c] * k12
                           + c3[c] * k20 + c4[c] * k21 + c5[c] * k22)
            ow += 4
        while ow < high:
            iw = ow - left
            a0, a1, a2 = row0[iw], row0[iw + 1], row0[iw + 2]
            b0, b1, b2 = row1[iw], row1[iw + 1], row1[iw + 2]
            c0, c1, c2 = row2[iw], row2[iw + 1], row2[iw + 2]
            out0 = target[ow]
            for c in range(channels):
                out0[c] = (bias[c] + a0[c] * w00[c] + a1[c] * w01[c] + a2[c] * w02[c] + b0[c] * w10[c]
                           + b1[c] * w11[c] + b2[c] * w12[c] + c0[c] * w20[c] + c1[c] * w21[c] + c2[c] * w22[c])
            ow += 1
        for ow in range(high, out_w):
            _forward_pixel_3x3(x, weights, bias, target, n, oh, ow, top, left)


@compiled
def _specialised_forward(channels, filters, kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w):
    """Whether ``depthwise_forward`` takes ``_forward_rows_3x3``: multiplier 1, a 3x3 kernel, stride 1
    and dilation 1 (most depthwise layers)."""
    return (filters == channels and kernel_h == 3 and kernel_w == 3 and stride_h == 1 and stride_w == 1
            and dilation_h == 1 and dilation_w == 1)


@compiled
def _forward_loops(x, weights, bias, out, stride_h, stride_w, dilation_h, dilation_w, top, left, first_row, last_row):
    """Output rows ``[first_row, last_row)`` of the depthwise convolution: the register-blocked loops
    where they apply (``_specialised_forward``), else the general ones. Arguments as
    ``_forward_loops_general``."""
    if _specialised_forward(x.shape[3], weights.shape[2], weights.shape[0], weights.shape[1], stride_h, stride_w,
                            dilation_h, dilation_w):
        _forward_rows_3x3(x, weights, bias, out, top, left, first_row, last_row)
    else:
        _forward_loops_general(x, weights, bias, out, stride_h, stride_w, dilation_h, dilation_w, top, left, first_row,
                               last_row)


@compiled
def _backward_loops_general(grad, x, weights, grad_x, kernel_parts, bias_parts, stride_h, stride_w, dilation_h,
                            dilation_w, top, left, need_input, need_kernel, need_bias, height, width, first_part, last_part):
    """Input, kernel and bias gradients in one sweep over the upstream gradient.

    The sweep goes over input rows ``(n, ih)``: for every kernel row ``a`` whose output row
    ``oh = (ih + top - a*dh) / sh`` exists, the gradient row ``grad[n, oh]`` meets the input row
    ``x[n, ih]``, so that single visit adds ``grad * weights`` into ``grad_x[n, ih]`` (each input
    row is written by one iteration only) and ``grad * x`` into the partition's kernel-gradient
    partial. Every (output row, kernel row) pair is met exactly once (pairs that read padding
    contribute zero and are skipped). The bias gradient sums the partition's output rows, which the
    sweep has just brought into cache. This call runs partitions ``[first_part, last_part)``; the
    caller adds the partials in partition order.

    grad ``(N, Ho, Wo, F)``, x ``(N, H, W, C)`` (a placeholder without need_kernel), weights
    ``(kh, kw, F)``, grad_x ``(N, H, W, C)`` (a placeholder without need_input), kernel_parts
    ``(P, kh, kw, F)``, bias_parts ``(P, F)``; ``height``, ``width``: H and W.
    """
    batch, out_h, out_w, filters = grad.shape
    channels = grad_x.shape[3]
    kernel_h, kernel_w = kernel_parts.shape[1], kernel_parts.shape[2]
    multiplier = filters // channels
    partitions = kernel_parts.shape[0]
    rows = batch * height
    out_rows = batch * out_h
    for part in range(first_part, last_part):
        kernel_sum = kernel_parts[part]
        bias_sum = bias_parts[part]
        kernel_sum[:] = 0
        bias_sum[:] = 0
        for row in range(rows * part // partitions, rows * (part + 1) // partitions):
            n = row // height
            ih = row - n * height
            target = grad_x[n, ih] if need_input else grad_x[0, 0]  # (W, C)
            if need_input:
                for iw in range(width):
                    for c in range(channels):
                        target[iw, c] = 0
            source = x[n, ih] if need_kernel else x[0, 0]
            for a in range(kernel_h):
                shifted = ih + top - a * dilation_h
                if shifted < 0 or shifted % stride_h != 0 or shifted // stride_h >= out_h:
                    continue
                upstream = grad[n, shifted // stride_h]
                for b in range(kernel_w):
                    offset = b * dilation_w - left
                    low, high = _column_range(offset, stride_w, width, out_w)
                    tap = weights[a, b]
                    tap_sum = kernel_sum[a, b]
                    for ow in range(low, high):
                        iw = ow * stride_w + offset
                        g = upstream[ow]
                        if multiplier == 1:
                            if need_input and need_kernel:
                                cell, pixel = target[iw], source[iw]
                                for c in range(channels):  # contiguous: vectorised
                                    cell[c] += g[c] * tap[c]
                                    tap_sum[c] += g[c] * pixel[c]
                            elif need_input:
                                cell = target[iw]
                                for c in range(channels):
                                    cell[c] += g[c] * tap[c]
                            else:
                                pixel = source[iw]
                                for c in range(channels):
                                    tap_sum[c] += g[c] * pixel[c]
                        else:
                            for c in range(channels):
                                for j in range(multiplier):
                                    f = c * multiplier + j
                                    if need_input:
                                        target[iw, c] += g[f] * tap[f]
                                    if need_kernel:
                                        tap_sum[f] += g[f] * source[iw, c]
        if need_bias:
            for row in range(out_rows * part // partitions, out_rows * (part + 1) // partitions):
                n = row // out_h
                upstream = grad[n, row - n * out_h]
                for ow in range(out_w):
                    g = upstream[ow]
                    for f in range(filters):
                        bias_sum[f] += g[f]


@compiled
def _input_row_fast(grad, weights, grad_x, row, stride_h, dilation_h, dilation_w, top, left):
    """The input-gradient row ``row = n * H + ih`` of ``_backward_loops_fast`` (gathered: the three column
    taps of a kernel row added in one vectorised pass over the channels)."""
    batch, out_h, out_w, channels = grad.shape
    height, width = grad_x.shape[1], grad_x.shape[2]
    kernel_h = weights.shape[0]
    span = 2 * dilation_w
    n = row // height
    ih = row - n * height
    target = grad_x[n, ih]  # (W, C)
    for iw in range(width):
        cell = target[iw]
        for c in range(channels):
            cell[c] = 0
    for a in range(kernel_h):
        shifted = ih + top - a * dilation_h
        if shifted < 0 or shifted % stride_h != 0 or shifted // stride_h >= out_h:
            continue
        upstream = grad[n, shifted // stride_h]
        tap0, tap1, tap2 = weights[a, 0], weights[a, 1], weights[a, 2]
        # input columns whose three taps all meet an output column, then the rest tap by tap
        low, high = max(0, span - left), max(max(0, span - left), min(width, out_w - left))
        for iw in range(low, high):
            ow = iw + left  # the output column of tap 0; tap b reads ow - b * dilation_w
            cell, g0, g1, g2 = target[iw], upstream[ow], upstream[ow - dilation_w], upstream[ow - span]
            for c in range(channels):  # contiguous: vectorised
                cell[c] += g0[c] * tap0[c] + g1[c] * tap1[c] + g2[c] * tap2[c]
        for iw in range(width):
            if low <= iw < high:
                continue
            cell = target[iw]
            for b in range(3):
                column = iw + left - b * dilation_w
                if column < 0 or column >= out_w:
                    continue
                g, tap = upstream[column], weights[a, b]
                for c in range(channels):
                    cell[c] += g[c] * tap[c]


@compiled
def _kernel_row_fast(grad, x, kernel_sum, bias_sum, row, stride_h, dilation_h, dilation_w, top, left, need_kernel,
                     need_bias):
    """The kernel- and bias-gradient terms of output row ``row = n * Ho + oh`` of ``_backward_loops_fast``
    (each upstream cell loaded once for the three column taps of a kernel row)."""
    batch, out_h, out_w, channels = grad.shape
    height, width = x.shape[1], x.shape[2]
    kernel_h = kernel_sum.shape[0]
    span = 2 * dilation_w
    n = row // out_h
    oh = row - n * out_h
    upstream = grad[n, oh]  # (Wo, C)
    if need_bias:
        for ow in range(out_w):
            g = upstream[ow]
            for c in range(channels):
                bias_sum[c] += g[c]
    if not need_kernel:
        return
    for a in range(kernel_h):
        ih = oh * stride_h + a * dilation_h - top
        if ih < 0 or ih >= height:
            continue
        x_row = x[n, ih]
        sum0, sum1, sum2 = kernel_sum[a, 0], kernel_sum[a, 1], kernel_sum[a, 2]
        low, high = _column_range(-left, 1, width - span, out_w)
        for ow in range(low, high):
            iw = ow - left
            g, pixel0, pixel1, pixel2 = upstream[ow], x_row[iw], x_row[iw + dilation_w], x_row[iw + span]
            for c in range(channels):  # contiguous: vectorised
                value = g[c]
                sum0[c] += value * pixel0[c]
                sum1[c] += value * pixel1[c]
                sum2[c] += value * pixel2[c]
        for ow in range(out_w):
            if low <= ow < high:
                continue
            g = upstream[ow]
            for b in range(3):
                column = ow + b * dilation_w - left
                if column < 0 or column >= width:
                    continue
                pixel, tap_sum = x_row[column], kernel_sum[a, b]
                for c in range(channels):
                    tap_sum[c] += g[c] * pixel[c]


@compiled
def _input_row_3x3(grad, weights, grad_x, row, top, left):
    """``_input_row_fast`` for a 3x3 kernel, stride 1 and dilation 1 (register-blocked).

    Rows that meet all three upstream rows gather the nine taps of four input pixels at a time along
    the width (per vector of channels: the nine weights and six columns of each upstream row loaded
    once, each pixel summed in a register and stored once, ``(row0 + row1) + row2`` with ``row_a =
    g0*t0 + g1*t1 + g2*t2``: the same sums as ``_input_row_fast``). Other rows run ``_input_row_fast``.
    """
    batch, out_h, out_w, channels = grad.shape
    height, width = grad_x.shape[1], grad_x.shape[2]
    n = row // height
    ih = row - n * height
    oh = ih + top - 2  # the upstream row of kernel row 2; kernel row a meets oh + 2 - a
    if oh < 0 or oh + 2 >= out_h:
        _input_row_fast(grad, weights, grad_x, row, 1, 1, 1, top, left)
        return
    target = grad_x[n, ih]  # (W, C)
    up0, up1, up2 = grad[n, oh + 2], grad[n, oh + 1], grad[n, oh]  # kernel rows 0, 1, 2
    t00, t01, t02 = weights[0, 0], weights[0, 1], weights[0, 2]
    t10, t11, t12 = weights[1, 0], weights[1, 1], weights[1, 2]
    t20, t21, t22 = weights[2, 0], weights[2, 1], weights[2, 2]
    # input columns whose three taps all meet an output column (ow = iw + left - b in [0, Wo))
    low = min(max(0, 2 - left), width)
    high = max(low, min(width, out_w - left))
    for iw in range(width):
        if iw == low:
            break
        _input_pixel_3x3(grad, weights, target, n, oh, iw, left)
    iw = low
    while iw + 4 <= high:
        ow = iw + left - 2  # upstream columns ow .. ow + 5 serve the four pixels
        a0, a1, a2, a3, a4, a5 = up0[ow], up0[ow + 1], up0[ow + 2], up0[ow + 3], up0[ow + 4], up0[ow + 5]
        b0, b1, b2, b3, b4, b5 = up1[ow], up1[ow + 1], up1[ow + 2], up1[ow + 3], up1[ow + 4], up1[ow + 5]
        c0, c1, c2, c3, c4, c5 = up2[ow], up2[ow + 1], up2[ow + 2], up2[ow + 3], up2[ow + 4], up2[ow + 5]
        out0, out1, out2, out3 = target[iw], target[iw + 1], target[iw + 2], target[iw + 3]
        for c in range(channels):  # contiguous: vectorised, 4 pixels x 9 taps per vector
            k00, k01, k02, k10, k11, k12, k20, k21, k22 = t00[c], t01[c], t02[c], t10[c], t11[c], t12[c], \
                t20[c], t21[c], t22[c]
            out0[c] = ((a2[c] * k00 + a1[c] * k01 + a0[c] * k02) + (b2[c] * k10 + b1[c] * k11 + b0[c] * k12)
                       + (c2[c] * k20 + c1[c] * k21 + c0[c] * k22))
            out1[c] = ((a3[c] * k00 + a2[c] * k01 + a1[c] * k02) + (b3[c] * k10 + b2[c] * k11 + b1[c] * k12)
                       + (c3[c] * k20 + c2[c] * k21 + c1[c] * k22))
            out2[c] = ((a4[c] * k00 + a3[c] * k01 + a2[c] * k02) + (b4[c] * k10 + b3[c] * k11 + b2[c] * k12)
                       + (c4[c] * k20 + c3[c] * k21 + c2[c] * k22))
            out3[c] = ((a5[c] * k00 + a4[c] * k01 + a3[c] * k02) + (b5[c] * k10 + b4[c] * k11 + b3[c] * k12)
                       + (c5[c] * k20 + c4[c] * k21 + c3[c] * k22))
        iw += 4
    while iw < high:
        ow = iw + left - 2
        a0, a1, a2 = up0[ow], up0[ow + 1], up0[ow + 2]
        b0, b1, b2 = up1[ow], up1[ow + 1], up1[ow + 2]
        c0, c1, c2 = up2[ow], up2[ow + 1], up2[ow + 2]
        out0 = target[iw]
        for c in range(channels):
            out0[c] = ((a2[c] * t00[c] + a1[c] * t01[c] + a0[c] * t02[c])
                       + (b2[c] * t10[c] + b1[c] * t11[c] + b0[c] * t12[c])
                       + (c2[c] * t20[c] + c1[c] * t21[c] + c0[c] * t22[c]))
        iw += 1
    for iw in range(high, width):
        _input_pixel_3x3(grad, weights, target, n, oh, iw, left)


@compiled
def _input_pixel_3x3(grad, weights, target, n, oh, iw, left):
    """One input-gradient pixel of ``_input_row_3x3`` with taps outside the upstream row (taps in
    order, as ``_input_row_fast`` adds them)."""
    out_w, channels = grad.shape[2], grad.shape[3]
    cell = target[iw]
    for c in range(channels):
        cell[c] = 0
    for a in range(3):
        upstream = grad[n, oh + 2 - a]
        for b in range(3):
            column = iw + left - b
            if column < 0 or column >= out_w:
                continue
            g, tap = upstream[column], weights[a, b]
            for c in range(channels):
                cell[c] += g[c] * tap[c]


@compiled
def _kernel_row_3x3(grad, x, kernel_sum, bias_sum, row, top, left, need_kernel, need_bias):
    """``_kernel_row_fast`` for a 3x3 kernel, stride 1 and dilation 1 (register-blocked).

    Rows that meet all three input rows take four output pixels at a time along the width: per
    vector of channels, the four upstream cells and six columns of each input row are loaded once,
    and each of the nine tap sums is loaded and stored once per four pixels (``sum += g0*p0 + g1*p1 +
    g2*p2 + g3*p3``: a fixed order, so the same bits on every run). Other rows run
    ``_kernel_row_fast``.
    """
    batch, out_h, out_w, channels = grad.shape
    height, width = x.shape[1], x.shape[2]
    n = row // out_h
    oh = row - n * out_h
    ih = oh - top
    if not need_kernel or ih < 0 or ih + 2 >= height:
        _kernel_row_fast(grad, x, kernel_sum, bias_sum, row, 1, 1, 1, top, left, need_kernel, need_bias)
        return
    upstream = grad[n, oh]  # (Wo, C)
    if need_bias:
        for ow in range(out_w):
            g = upstream[ow]
            for c in range(channels):
                bias_sum[c] += g[c]
    low = min(left, out_w)
    high = max(low, min(out_w, width - 2 + left))  # output columns whose input columns ow-left..ow-left+2 exist
    for ow in range(low):
        _kernel_pixel_3x3(upstream, x, kernel_sum, n, ih, ow, left)
    for a in range(3):  # one kernel row at a time: three sums written per loop keeps it vectorised
        x_row = x[n, ih + a]
        sum0, sum1, sum2 = kernel_sum[a, 0], kernel_sum[a, 1], kernel_sum[a, 2]
        ow = low
        while ow + 4 <= high:
            iw = ow - low + (low - left)
            g0, g1, g2, g3 = upstream[ow], upstream[ow + 1], upstream[ow + 2], upstream[ow + 3]
            p0, p1, p2, p3, p4, p5 = x_row[iw], x_row[iw + 1], x_row[iw + 2], x_row[iw + 3], x_row[iw + 4], \
                x_row[iw + 5]
            for c in range(channels):  # contiguous: vectorised, 3 taps x 4 pixels per vector
                h0, h1, h2, h3 = g0[c], g1[c], g2[c], g3[c]
                q1, q2, q3, q4 = p1[c], p2[c], p3[c], p4[c]
                sum0[c] += h0 * p0[c] + h1 * q1 + h2 * q2 + h3 * q3
                sum1[c] += h0 * q1 + h1 * q2 + h2 * q3 + h3 * q4
                sum2[c] += h0 * q2 + h1 * q3 + h2 * q4 + h3 * p5[c]
            ow += 4
    ow = low + (high - low) // 4 * 4
    for ow in range(ow, out_w):
        _kernel_pixel_3x3(upstream, x, kernel_sum, n, ih, ow, left)


@compiled
def _kernel_pixel_3x3(upstream, x, kernel_sum, n, ih, ow, left):
    """The kernel-gradient terms of one output pixel of ``_kernel_row_3x3`` (taps inside the input only)."""
    width, channels = x.shape[2], x.shape[3]
    g = upstream[ow]
    for a in range(3):
        x_row = x[n, ih + a]
        for b in range(3):
            column = ow + b - left
            if column < 0 or column >= width:
                continue
            pixel, tap_sum = x_row[column], kernel_sum[a, b]
            for c in range(channels):
                tap_sum[c] += g[c] * pixel[c]


@compiled
def _blocked_backward(kernel_h, stride_h, dilation_h, dilation_w):
    """Whether ``_backward_loops_fast`` (already 3 columns wide, column stride 1) runs the
    register-blocked rows ``_input_row_3x3`` and ``_kernel_row_3x3``: 3 rows high, stride 1, dilation 1."""
    return kernel_h == 3 and stride_h == 1 and dilation_h == 1 and dilation_w == 1


@compiled
def _kernel_row(grad, x, kernel_sum, bias_sum, row, stride_h, dilation_h, dilation_w, top, left, need_kernel, need_bias,
                blocked):
    """``_kernel_row_3x3`` where ``blocked`` (3x3, stride 1, dilation 1), else ``_kernel_row_fast``."""
    if blocked:
        _kernel_row_3x3(grad, x, kernel_sum, bias_sum, row, top, left, need_kernel, need_bias)
    else:
        _kernel_row_fast(grad, x, kernel_sum, bias_sum, row, stride_h, dilation_h, dilation_w, top, left, need_kernel,
                         need_bias)


@compiled
def _backward_loops_fast(grad, x, weights, grad_x, kernel_parts, bias_parts, stride_h, stride_w, dilation_h,
                         dilation_w, top, left, need_input, need_kernel, need_bias, height, width, first_part,
                         last_part):
    """``_backward_loops`` for ``multiplier == 1``, a kernel 3 columns wide and ``stride_w == 1``.

    Per partition it sweeps input rows for the input gradient, gathered (``grad_x[n, ih, iw] =
    sum_ab grad[n, oh_a, iw + left - b*dw] * weights[a, b]``), and output rows for the kernel and
    bias gradients; the two sweeps advance together (output rows follow input rows in proportion)
    so the rows they share are still in cache. Same arguments and results as ``_backward_loops``
    (``stride_w`` is 1).
    """
    batch, out_h = grad.shape[0], grad.shape[1]
    partitions = kernel_parts.shape[0]
    rows = batch * height
    out_rows = batch * out_h
    sweep_kernel = need_kernel or need_bias
    blocked = _blocked_backward(weights.shape[0], stride_h, dilation_h, dilation_w)
    for part in range(first_part, last_part):
        kernel_sum = kernel_parts[part]
        bias_sum = bias_parts[part]
        kernel_sum[:] = 0
        bias_sum[:] = 0
        first, last = rows * part // partitions, rows * (part + 1) // partitions
        out_first, out_last = out_rows * part // partitions, out_rows * (part + 1) // partitions
        out_row = out_first
        if need_input:
            for row in range(first, last):
                if blocked:
                    _input_row_3x3(grad, weights, grad_x, row, top, left)
                else:
                    _input_row_fast(grad, weights, grad_x, row, stride_h, dilation_h, dilation_w, top, left)
                if sweep_kernel:
                    until = out_first + (row - first + 1) * (out_last - out_first) // (last - first)
                    while out_row < until:
                        _kernel_row(grad, x, kernel_sum, bias_sum, out_row, stride_h, dilation_h, dilation_w, top,
                                    left, need_kernel, need_bias, blocked)
                        out_row += 1
        if sweep_kernel:
            while out_row < out_last:
                _kernel_row(grad, x, kernel_sum, bias_sum, out_row, stride_h, dilation_h, dilation_w, top, left,
                            need_kernel, need_bias, blocked)
                out_row += 1

@compiled
def _specialised_backward(channels, filters, kernel_w, stride_w):
    """Whether ``_backward_loops`` takes ``_backward_loops_fast``: multiplier 1, a kernel 3 columns
    wide and column stride 1 (most depthwise layers)."""
    return filters == channels and kernel_w == 3 and stride_w == 1


@compiled
def _backward_loops(grad, x, weights, grad_x, kernel_parts, bias_parts, stride_h, stride_w, dilation_h, dilation_w,
                    top, left, need_input, need_kernel, need_bias, height, width, first_part, last_part):
    """Input, kernel and bias gradients of partitions ``[first_part, last_part)``: the specialised
    loops where they apply (``_specialised_backward``), else the general ones. Arguments as
    ``_backward_loops_general``."""
    if _specialised_backward(grad_x.shape[3], grad.shape[3], kernel_parts.shape[2], stride_w):
        _backward_loops_fast(grad, x, weights, grad_x, kernel_parts, bias_parts, stride_h, stride_w, dilation_h,
                             dilation_w, top, left, need_input, need_kernel, need_bias, height, width, first_part,
                             last_part)
    else:
        _backward_loops_general(grad, x, weights, grad_x, kernel_parts, bias_parts, stride_h, stride_w, dilation_h,
                                dilation_w, top, left, need_input, need_kernel, need_bias, height, width, first_part,
                                last_part)


def _ranges(count, work):
    """``count`` items as contiguous ``(first, last)`` ranges, one per thread when ``work`` pays
    for threads (see ``_PARALLEL_MIN_WORK``), else one range."""
    from .conv import _batch_chunks

    return [(part.start, part.stop) for part in _batch_chunks(count, work, _PARALLEL_MIN_WORK) if part.stop > part.start]


def _run_ranges(kernel, arguments, ranges):
    """``kernel(*arguments, first, last)`` for every range, the ranges on cnnkit's thread pool."""
    from .conv import _run_chunks

    _run_chunks(lambda bounds: kernel(*arguments, *bounds), ranges)


# ----- the Python wrappers -------------------------------------------------------------------
class DepthwiseSaved:
    """What the kernel gradient of a depthwise convolution needs from its forward pass: the
    (unpadded) input and its padding. ``conv_forward(keep_columns=True)`` hands this out in place
    of a column matrix."""

    def __init__(self, x, padding):
        self.x = x
        self.padding = [tuple(pair) for pair in padding]


def depthwise_supported(x_or_grad, kernel_shape) -> bool:
    """Whether these kernels handle the case: a NumPy float32/float64 array with 1 or 2 spatial axes."""
    xp = get_array_module(x_or_grad)
    return xp.__name__ == "numpy" and len(kernel_shape) in (3, 4) and str(x_or_grad.dtype) in ("float32", "float64")


def _as_2d(array, num_spatial):
    """``(N, L, C)`` -> ``(N, 1, L, C)`` for 1-D; 2-D arrays as they are (contiguous either way)."""
    import numpy as np

    array = np.ascontiguousarray(array)
    return array[:, None] if num_spatial == 1 else array


def _as_2d_pairs(strides, dilation, padding):
    """Per-axis arguments of a 1-D convolution as those of a height-1 2-D one."""
    if len(strides) == 1:
        return (1,) + tuple(strides), (1,) + tuple(dilation), [(0, 0)] + [tuple(p) for p in padding]
    return tuple(strides), tuple(dilation), [tuple(p) for p in padding]


def depthwise_forward(x, kernel, strides, dilation, padding, bias=None):
    """Depthwise convolution of ``x`` with ``kernel`` plus ``bias``, one sweep over the input.

    Shape:
        x ``(N, *L_in, C)``, kernel ``(*k, 1, C * m)`` -> ``(N, *L_out, C * m)`` (1 or 2 spatial axes)
        with, per axis, ``L_out = floor((L_in + before + after - dilation * (k - 1) - 1) / stride) + 1``.

    Example:
        >>> import numpy as np
        >>> x = np.ones((1, 4, 2), dtype=np.float32)
        >>> w = np.ones((3, 1, 2), dtype=np.float32)
        >>> depthwise_forward(x, w, (1,), (1,), [(1, 1)])[0, :, 0]
        array([2., 3., 3., 2.], dtype=float32)
    """
    import numpy as np

    num_spatial = x.ndim - 2
    kernel_size = kernel.shape[:-2]
    filters = kernel.shape[-1]
    output_size = tuple(
        conv_output_size(size, k, stride=s, dilation=d, pad_before=before, pad_after=after)
        for size, k, s, d, (before, after) in zip(x.shape[1:-1], kernel_size, strides, dilation, padding)
    )
    strides2, dilation2, padding2 = _as_2d_pairs(strides, dilation, padding)
    x2 = _as_2d(x, num_spatial)
    weights = np.ascontiguousarray(kernel.reshape(tuple(_as_2d_pairs(kernel_size, kernel_size, padding)[0]) + (filters,)),
                                   dtype=x.dtype)
    bias = np.zeros(filters, dtype=x.dtype) if bias is None else np.ascontiguousarray(bias, dtype=x.dtype)
    out = np.empty((x.shape[0],) + ((1,) if num_spatial == 1 else ()) + output_size + (filters,), dtype=x.dtype)
    rows = out.shape[0] * out.shape[1]
    arguments = (x2, weights, bias, out, strides2[0], strides2[1], dilation2[0], dilation2[1], padding2[0][0],
                 padding2[1][0])
    _run_ranges(_forward_loops, arguments, _ranges(rows, out.size * math.prod(kernel_size)))
    return out[:, 0] if num_spatial == 1 else out


def depthwise_backward(grad, x, kernel, kernel_shape, input_size, channels, strides, dilation, padding,
                       need_input=True, need_kernel=True, need_bias=False):
    """Input, kernel and bias gradients of ``depthwise_forward`` in one sweep over ``grad``.

    Shape:
        grad ``(N, *L_out, C * m)``, x ``(N, *input_size, C)`` (may be None without ``need_kernel``),
        kernel ``(*k, 1, C * m)`` (may be None without ``need_input``) ->
        ``(grad_x (N, *input_size, C) or None, grad_kernel kernel_shape or None, grad_bias (C * m,) or None)``.

    Example:
        >>> import numpy as np
        >>> g = np.ones((1, 2, 1), dtype=np.float32)
        >>> w = np.ones((3, 1, 1), dtype=np.float32)
        >>> depthwise_backward(g, None, w, w.shape, (4,), 1, (1,), (1,), [(0, 0)], need_kernel=False)[0][0, :, 0]
        array([1., 2., 2., 1.], dtype=float32)
    """
    import numpy as np

    num_spatial = grad.ndim - 2
    filters = kernel_shape[-1]
    dtype, batch = grad.dtype, grad.shape[0]
    strides2, dilation2, padding2 = _as_2d_pairs(strides, dilation, padding)
    kernel_size2 = _as_2d_pairs(tuple(kernel_shape[:-2]), (1,) * num_spatial, padding)[0]
    input_size2 = ((1,) if num_spatial == 1 else ()) + tuple(input_size)
    grad2 = _as_2d(grad, num_spatial)
    # arrays a call does not need are passed as one-pixel placeholders (the loops never read them)
    placeholder = np.zeros((1, 1, 1, channels), dtype=dtype)
    weights = np.ascontiguousarray(kernel.reshape(kernel_size2 + (filters,)), dtype=dtype) if need_input else \
        np.zeros(kernel_size2 + (filters,), dtype=dtype)
    x2 = _as_2d(x, num_spatial).astype(dtype, copy=False) if need_kernel else placeholder
    grad_x = np.empty((batch,) + input_size2 + (channels,), dtype=dtype) if need_input else placeholder
    kernel_parts = np.empty((_PARTITIONS,) + kernel_size2 + (filters,), dtype=dtype)
    bias_parts = np.empty((_PARTITIONS, filters), dtype=dtype)
    arguments = (grad2, x2, weights, grad_x, kernel_parts, bias_parts, strides2[0], strides2[1], dilation2[0],
                 dilation2[1], padding2[0][0], padding2[1][0], need_input, need_kernel, need_bias, input_size2[0],
                 input_size2[1])
    _run_ranges(_backward_loops, arguments, _ranges(_PARTITIONS, grad.size * math.prod(kernel_size2)))
    for part in range(1, _PARTITIONS):  # partials added in partition order: the same bits for any thread count
        kernel_parts[0] += kernel_parts[part]
        bias_parts[0] += bias_parts[part]
    grad_x = (grad_x[:, 0] if num_spatial == 1 else grad_x) if need_input else None
    grad_kernel = kernel_parts[0].reshape(kernel_shape).copy() if need_kernel else None
    grad_bias = bias_parts[0].copy() if need_bias else None
    return grad_x, grad_kernel, grad_bias
