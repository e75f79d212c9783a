"""Property tests (hypothesis): the documented output-shape formulas equal the shapes conv and
conv_transpose really produce, for random valid configurations; impossible configurations raise
the documented ValueError.

The formulas are written out here (and in tests/reference.py) and also taken from
cnnkit.shapes, which layers use for compute_output_shape: both must agree with the real output.
"""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cnnkit import functional as F
from cnnkit.shapes import conv_output_size, same_padding, transpose_output_size
from reference import keras_transpose_length

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def conv_configurations(draw):
    num_spatial = draw(st.integers(1, 2))
    groups = draw(st.integers(1, 3))
    channels = groups * draw(st.integers(1, 2))
    filters = groups * draw(st.integers(1, 2))
    kernel_size = tuple(draw(st.integers(1, 4)) for _ in range(num_spatial))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(num_spatial))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(num_spatial))
    sizes = tuple(draw(st.integers(1, 12)) for _ in range(num_spatial))
    choices = ["valid", "same", "explicit"] + (["causal"] if num_spatial == 1 else [])
    padding = draw(st.sampled_from(choices))
    if padding == "explicit":
        padding = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(num_spatial))
    data_format = draw(st.sampled_from(["channels_last", "channels_first"]))
    return num_spatial, groups, channels, filters, kernel_size, strides, dilation, sizes, padding, data_format


def expected_conv_length(size, kernel_size, stride, dilation, padding, axis):
    span = dilation * (kernel_size - 1) + 1
    if padding == "same":
        return math.ceil(size / stride)
    if padding == "valid":
        before = after = 0
    elif padding == "causal":
        before, after = span - 1, 0
    else:
        before, after = padding[axis]
    return (size + before + after - span) // stride + 1


def padded_length(size, kernel_size, stride, dilation, padding, axis):
    if padding in ("same", "causal"):
        return math.inf  # these paddings always leave room for one window
    if padding == "valid":
        return size
    return size + sum(padding[axis])


def _arrays(sizes, channels, kernel_size, group_channels, filters, channels_first):
    shape = (2, channels, *sizes) if channels_first else (2, *sizes, channels)
    return np.zeros(shape, np.float32), np.zeros((*kernel_size, group_channels, filters), np.float32)


@SETTINGS
@given(conv_configurations())
def test_conv_output_shape_follows_the_formula(configuration):
    num_spatial, groups, channels, filters, kernel_size, strides, dilation, sizes, padding, data_format = configuration
    spans = [d * (k - 1) + 1 for k, d in zip(kernel_size, dilation)]
    assume(all(padded_length(n, k, s, d, padding, a) >= span for a, (n, k, s, d, span) in enumerate(zip(sizes, kernel_size, strides, dilation, spans))))
    x, kernel = _arrays(sizes, channels, kernel_size, channels // groups, filters, data_format == "channels_first")
    output = F.conv(x, kernel, strides, padding, data_format, dilation)
    expected = [expected_conv_length(n, k, s, d, padding, a) for a, (n, k, s, d) in enumerate(zip(sizes, kernel_size, strides, dilation))]
    # cnnkit.shapes gives the same numbers (it is what compute_output_shape and summary() use)
    for axis, (n, k, s, d) in enumerate(zip(sizes, kernel_size, strides, dilation)):
        if padding == "same":
            before, after = same_padding(n, k, s, d)
        elif padding == "valid":
            before = after = 0
        elif padding == "causal":
            before, after = d * (k - 1), 0
        else:
            before, after = padding[axis]
        assert conv_output_size(n, k, stride=s, dilation=d, pad_before=before, pad_after=after) == expected[axis]
    spatial = output.shape[2:] if data_format == "channels_first" else output.shape[1:-1]
    assert list(spatial) == expected
    assert output.shape[1 if data_format == "channels_first" else -1] == filters


@st.composite
def oversized_kernel_configurations(draw):
    """One spatial axis where the dilated kernel spans more cells than the padded input has."""
    num_spatial = draw(st.integers(1, 2))
    bad_axis = draw(st.integers(0, num_spatial - 1))
    sizes, kernel_size, dilation, pads = [], [], [], []
    for axis in range(num_spatial):
        size, before, after, rate = draw(st.integers(1, 8)), draw(st.integers(0, 2)), draw(st.integers(0, 2)), draw(st.integers(1, 3))
        if axis == bad_axis:
            kernel = -(-(size + before + after) // rate) + 1 + draw(st.integers(0, 2))
        else:
            kernel = draw(st.integers(1, (size + before + after - 1) // rate + 1))
        sizes.append(size), kernel_size.append(kernel), dilation.append(rate), pads.append((before, after))
    padding = tuple(pads) if draw(st.booleans()) else "valid"
    if padding == "valid":
        assume(all(rate * (k - 1) + 1 <= n or axis == bad_axis for axis, (n, k, rate) in enumerate(zip(sizes, kernel_size, dilation))))
        assume(dilation[bad_axis] * (kernel_size[bad_axis] - 1) + 1 > sizes[bad_axis])
    strides = tuple(draw(st.integers(1, 3)) for _ in range(num_spatial))
    return tuple(sizes), tuple(kernel_size), strides, tuple(dilation), padding


@SETTINGS
@given(oversized_kernel_configurations(), st.sampled_from(["channels_last", "channels_first"]))
def test_conv_with_a_kernel_larger_than_the_padded_input_raises(configuration, data_format):
    sizes, kernel_size, strides, dilation, padding = configuration
    x, kernel = _arrays(sizes, 2, kernel_size, 2, 3, data_format == "channels_first")
    with pytest.raises(ValueError, match="larger than the padded input"):
        F.conv(x, kernel, strides, padding, data_format, dilation)


@SETTINGS
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 3))
def test_conv_with_channels_the_kernel_does_not_divide_raises(channels, group_channels, filters):
    assume(channels % group_channels != 0)
    x = np.zeros((1, 5, 5, channels), np.float32)
    kernel = np.zeros((3, 3, group_channels, filters), np.float32)
    with pytest.raises(ValueError, match=r"kernel.shape\[-2\]"):
        F.conv(x, kernel)


@st.composite
def transpose_configurations(draw):
    num_spatial = draw(st.integers(1, 2))
    kernel_size = tuple(draw(st.integers(1, 4)) for _ in range(num_spatial))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(num_spatial))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(num_spatial))
    sizes = tuple(draw(st.integers(1, 6)) for _ in range(num_spatial))
    padding = draw(st.sampled_from(["valid", "same", "explicit"]))
    if padding == "explicit":
        padding = tuple(draw(st.integers(0, 3)) for _ in range(num_spatial))
    if draw(st.booleans()):
        output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(strides, dilation))
    else:
        output_padding = None
    return kernel_size, strides, dilation, sizes, padding, output_padding


def expected_transpose_length(size, kernel_size, stride, dilation, padding, output_padding, axis):
    extra = None if output_padding is None else output_padding[axis]
    if isinstance(padding, str):
        return keras_transpose_length(size, kernel_size, stride, padding, extra, dilation)
    return (size - 1) * stride - 2 * padding[axis] + dilation * (kernel_size - 1) + 1 + (extra or 0)


@SETTINGS
@given(transpose_configurations())
def test_conv_transpose_output_shape_follows_the_formula(configuration):
    kernel_size, strides, dilation, sizes, padding, output_padding = configuration
    expected = [
        expected_transpose_length(n, k, s, d, padding, output_padding, a)
        for a, (n, k, s, d) in enumerate(zip(sizes, kernel_size, strides, dilation))
    ]
    x = np.zeros((2, *sizes, 3), np.float32)
    kernel = np.zeros((*kernel_size, 2, 3), np.float32)
    if min(expected) < 1:
        with pytest.raises(ValueError, match="empty output"):
            F.conv_transpose(x, kernel, strides, padding, output_padding, dilation_rate=dilation)
        return
    output = F.conv_transpose(x, kernel, strides, padding, output_padding, dilation_rate=dilation)
    assert list(output.shape[1:-1]) == expected
    if not isinstance(padding, str):
        for axis, (n, k, s, d) in enumerate(zip(sizes, kernel_size, strides, dilation)):
            extra = 0 if output_padding is None else output_padding[axis]
            computed = transpose_output_size(n, k, stride=s, dilation=d, pad_before=padding[axis], pad_after=padding[axis], output_padding=extra)
            assert computed == expected[axis]


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3))
def test_conv_transpose_output_padding_too_large_raises(kernel_size, stride, dilation):
    too_large = max(stride, dilation)
    x = np.zeros((1, 4, 2), np.float32)
    kernel = np.zeros((kernel_size, 1, 2), np.float32)
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose(x, kernel, stride, "valid", too_large, dilation_rate=dilation)
