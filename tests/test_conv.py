"""cnnkit.functional.conv against PyTorch: forward and every gradient, 1-D, 2-D and 3-D.

The grids are chosen, not crossed: every kernel size 1-5 (square and not), stride 1-3, dilation
1-3, groups (1, several, depthwise), both data formats, odd and even sizes and batch 1 and more
appear, each in combination with the others somewhere. TensorFlow's 'same' at stride > 1 or with
dilation (which PyTorch refuses) is compared with PyTorch on explicitly, asymmetrically padded
input, the pads computed by the naive reference in tests/reference.py.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as torch_functional

import cnnkit
from cnnkit import Tensor
from cnnkit import functional as F
from oracle import check_finite_differences, compare_with_torch
from reference import naive_conv, tf_same_pads

TORCH_CONV = {1: torch_functional.conv1d, 2: torch_functional.conv2d, 3: torch_functional.conv3d}


def torch_weight(kernel):
    """cnnkit/Keras kernel (*k, in/groups, filters) -> PyTorch weight (filters, in/groups, *k)."""
    num_spatial = kernel.ndim - 2
    return kernel.permute(num_spatial + 1, num_spatial, *range(num_spatial)).contiguous()


def torch_pad_arg(pads):
    """Per-axis (before, after) pairs -> F.pad's flat list, last axis first."""
    flat = []
    for before, after in reversed(pads):
        flat += [before, after]
    return flat


def make_torch_conv(strides, dilation, pads, groups, channels_first, mode="constant"):
    """A PyTorch function computing the same conv: pad explicitly, then conv with padding 0."""

    def run(x, kernel, bias=None):
        num_spatial = kernel.ndim - 2
        if not channels_first:
            x = torch.movedim(x, -1, 1)
        x = torch_functional.pad(x, torch_pad_arg(pads), mode=mode)
        y = TORCH_CONV[num_spatial](x, torch_weight(kernel), bias, stride=strides, dilation=dilation, groups=groups)
        return y if channels_first else torch.movedim(y, 1, -1)

    return run


def random_case(rng, batch, spatial, channels, kernel_size, group_channels, filters, channels_first):
    shape = (batch, channels, *spatial) if channels_first else (batch, *spatial, channels)
    x = rng.standard_normal(shape).astype(np.float32)
    kernel = rng.standard_normal((*kernel_size, group_channels, filters)).astype(np.float32)
    bias = rng.standard_normal(filters).astype(np.float32)
    return x, kernel, bias


# (batch, spatial, channels, kernel_size, strides, dilation, groups, padding, data_format)
CASES_2D = [
    (2, (7, 8), 3, (3, 3), (1, 1), (1, 1), 1, "valid", "channels_last"),
    (1, (9, 9), 4, (1, 1), (1, 1), (1, 1), 1, "valid", "channels_last"),  # 1x1: plain product
    (3, (8, 6), 4, (1, 1), (2, 2), (1, 1), 2, "same", "channels_first"),
    (2, (10, 9), 3, (2, 2), (2, 2), (1, 1), 1, "valid", "channels_first"),
    (1, (11, 10), 2, (5, 5), (1, 1), (1, 1), 1, "same", "channels_last"),
    (2, (9, 12), 4, (2, 3), (1, 2), (1, 1), 2, "same", "channels_last"),
    (2, (12, 11), 3, (4, 1), (3, 1), (1, 1), 1, "valid", "channels_first"),
    (1, (13, 13), 6, (3, 5), (3, 3), (1, 1), 3, "same", "channels_last"),
    (2, (12, 12), 4, (3, 3), (1, 1), (2, 2), 1, "same", "channels_last"),
    (3, (15, 14), 2, (3, 3), (1, 1), (3, 2), 1, "valid", "channels_first"),
    (2, (14, 13), 4, (2, 4), (2, 1), (3, 1), 4, "same", "channels_last"),  # depthwise + dilation
    (1, (16, 15), 6, (5, 2), (2, 3), (2, 3), 6, "same", "channels_first"),  # depthwise, stride and dilation
    (2, (9, 8), 6, (3, 3), (3, 2), (1, 1), 6, "valid", "channels_last"),
    (2, (8, 9), 4, (3, 3), (2, 2), (2, 2), 2, ((1, 2), (0, 3)), "channels_last"),  # asymmetric explicit
    (1, (7, 7), 3, (4, 4), (1, 1), (1, 1), 1, 2, "channels_first"),  # int padding, even kernel
    (2, (10, 7), 2, (3, 2), (2, 1), (1, 1), 1, (1, 0), "channels_last"),  # per-axis ints
]


@pytest.mark.parametrize("batch, spatial, channels, kernel_size, strides, dilation, groups, padding, data_format", CASES_2D)
def test_conv2d_matches_torch(batch, spatial, channels, kernel_size, strides, dilation, groups, padding, data_format):
    rng = np.random.default_rng(hash((spatial, kernel_size, strides, dilation)) % 2**32)
    channels_first = data_format == "channels_first"
    filters = 2 * groups
    x, kernel, bias = random_case(rng, batch, spatial, channels, kernel_size, channels // groups, filters, channels_first)
    if padding == "same":
        pads = [tf_same_pads(n, k, s, d) for n, k, s, d in zip(spatial, kernel_size, strides, dilation)]
    elif padding == "valid":
        pads = [(0, 0), (0, 0)]
    elif isinstance(padding, int):
        pads = [(padding, padding)] * 2
    else:
        pads = [(p, p) if isinstance(p, int) else p for p in padding]

    def ours(x, kernel, bias):
        return F.conv(x, kernel, strides, padding, data_format, dilation, bias=bias)

    compare_with_torch(ours, make_torch_conv(strides, dilation, pads, groups, channels_first), [x, kernel, bias])


def _systematic_grid():
    """Every (kernel size 1-5, stride 1-3, dilation 1-3) triple once, the other settings cycling
    through groups (1, 2, depthwise), both data formats, paddings, odd/even sizes and batch 1-3."""
    cases = []
    paddings = ["valid", "same", ((1, 0), (2, 1)), "same", 1]
    for index, (size, stride, dilation) in enumerate(
        (k, s, d) for k in range(1, 6) for s in range(1, 4) for d in range(1, 4)
    ):
        kernel_size = (size, max(1, (size + index) % 5 + 1))  # square and non-square
        groups, channels = [(1, 3), (2, 4), (4, 4)][index % 3]
        spatial = (8 + index % 5, 9 + (index * 3) % 4)
        batch = 1 + index % 3
        data_format = ("channels_last", "channels_first")[index % 2]
        padding = paddings[index % len(paddings)]
        span = [dilation * (k - 1) + 1 for k in kernel_size]
        if isinstance(padding, tuple):
            extra = tuple(before + after for before, after in padding)
        else:
            extra = {"valid": (0, 0), "same": None, 1: (2, 2)}[padding]
        if extra is not None and any(k > n + e for k, n, e in zip(span, spatial, extra)):
            padding = "same"  # this kernel does not fit: impossible configurations are tested in test_shapes
        cases.append((batch, spatial, channels, kernel_size, (stride, stride), (dilation, dilation), groups, padding, data_format))
    return cases


@pytest.mark.parametrize(
    "batch, spatial, channels, kernel_size, strides, dilation, groups, padding, data_format", _systematic_grid()
)
def test_conv2d_systematic_grid_matches_torch(batch, spatial, channels, kernel_size, strides, dilation, groups, padding, data_format):
    test_conv2d_matches_torch(batch, spatial, channels, kernel_size, strides, dilation, groups, padding, data_format)


CASES_1D = [
    (2, 9, 3, 3, 1, 1, 1, "valid", "channels_last"),
    (1, 10, 4, 5, 2, 1, 2, "same", "channels_first"),
    (3, 11, 2, 2, 3, 2, 1, "same", "channels_last"),
    (2, 12, 4, 4, 1, 3, 4, "causal", "channels_last"),
    (1, 8, 3, 3, 1, 2, 1, "causal", "channels_first"),
    (2, 13, 2, 1, 2, 1, 1, (2, 1), "channels_last"),  # a bare (before, after) pair in 1-D
]


@pytest.mark.parametrize("batch, length, channels, kernel_size, stride, dilation, groups, padding, data_format", CASES_1D)
def test_conv1d_matches_torch(batch, length, channels, kernel_size, stride, dilation, groups, padding, data_format):
    rng = np.random.default_rng(length * 31 + kernel_size)
    channels_first = data_format == "channels_first"
    filters = 3 * groups
    x, kernel, bias = random_case(rng, batch, (length,), channels, (kernel_size,), channels // groups, filters, channels_first)
    span = dilation * (kernel_size - 1) + 1
    pads = {
        "valid": [(0, 0)],
        "same": [tf_same_pads(length, kernel_size, stride, dilation)],
        "causal": [(span - 1, 0)],
    }.get(padding) if isinstance(padding, str) else [padding]

    def ours(x, kernel, bias):
        return F.conv(x, kernel, stride, padding, data_format, dilation, bias=bias)

    compare_with_torch(ours, make_torch_conv((stride,), (dilation,), pads, groups, channels_first), [x, kernel, bias])


CASES_3D = [
    (2, (5, 6, 4), 2, (3, 3, 3), (1, 1, 1), (1, 1, 1), 1, "same", "channels_last"),
    (1, (7, 6, 7), 4, (2, 3, 1), (2, 1, 3), (1, 2, 1), 2, "same", "channels_first"),
    (2, (6, 5, 6), 3, (1, 2, 2), (1, 2, 1), (1, 1, 2), 3, "valid", "channels_last"),
]


@pytest.mark.parametrize("batch, spatial, channels, kernel_size, strides, dilation, groups, padding, data_format", CASES_3D)
def test_conv3d_matches_torch(batch, spatial, channels, kernel_size, strides, dilation, groups, padding, data_format):
    rng = np.random.default_rng(sum(spatial) + channels)
    channels_first = data_format == "channels_first"
    filters = 2 * groups
    x, kernel, bias = random_case(rng, batch, spatial, channels, kernel_size, channels // groups, filters, channels_first)
    pads = (
        [tf_same_pads(n, k, s, d) for n, k, s, d in zip(spatial, kernel_size, strides, dilation)]
        if padding == "same"
        else [(0, 0)] * 3
    )

    def ours(x, kernel, bias):
        return F.conv(x, kernel, strides, padding, data_format, dilation, bias=bias)

    compare_with_torch(ours, make_torch_conv(strides, dilation, pads, groups, channels_first), [x, kernel, bias])


@pytest.mark.parametrize(
    "spatial, channels, filters, kernel_size, padding, dilation",
    [
        ((12, 12), 6, 16, (5, 5), "valid", (1, 1)),  # LeNet's conv2: fewer output cells * channels
        ((9, 8), 1, 8, (3, 2), "same", (1, 2)),  # one input channel, many filters
        ((10, 11), 8, 2, (3, 3), "valid", (2, 1)),  # the opposite: the full-convolution route
    ],
)
def test_both_stride_1_input_gradient_routes_match_torch(spatial, channels, filters, kernel_size, padding, dilation):
    """At stride 1 the input gradient is a full convolution or GEMM + col2im, whichever moves
    less memory for the shape; both must agree with PyTorch."""
    rng = np.random.default_rng(channels * 17 + filters)
    x, kernel, bias = random_case(rng, 2, spatial, channels, kernel_size, channels, filters, False)
    pads = (
        [tf_same_pads(n, k, 1, d) for n, k, d in zip(spatial, kernel_size, dilation)] if padding == "same" else [(0, 0), (0, 0)]
    )
    compare_with_torch(
        lambda x, k, b: F.conv(x, k, 1, padding, dilation_rate=dilation, bias=b),
        make_torch_conv((1, 1), dilation, pads, 1, False),
        [x, kernel, bias],
    )


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_same_at_stride_1_matches_torch_same_padding():
    """PyTorch's own padding='same' (stride 1) puts the odd cell at the end too."""
    rng = np.random.default_rng(3)
    x, kernel, bias = random_case(rng, 2, (8, 9), 3, (4, 2), 3, 5, False)

    def theirs(x, kernel, bias):
        y = torch_functional.conv2d(torch.movedim(x, -1, 1), torch_weight(kernel), bias, padding="same", dilation=(1, 3))
        return torch.movedim(y, 1, -1)

    compare_with_torch(lambda x, k, b: F.conv(x, k, padding="same", dilation_rate=(1, 3), bias=b), theirs, [x, kernel, bias])


def test_same_with_stride_and_dilation_matches_naive_reference():
    """TF 'same' at stride 2 with dilation 2 (refused by PyTorch and by Keras's layers)."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 9, 10, 4))
    kernel = rng.standard_normal((3, 2, 2, 4))
    pads = [tf_same_pads(9, 3, 2, 2), tf_same_pads(10, 2, 2, 2)]
    expected = naive_conv(x, kernel, (2, 2), (2, 2), pads, groups=2)
    actual = F.conv(x, kernel, strides=2, padding="same", dilation_rate=2).numpy()
    assert actual.shape == (2, 5, 5, 4)
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12)


def test_gradient_only_for_the_kernel_and_bias():
    """A first layer: the input needs no gradient, so none is computed (nor is the kernel kept)."""
    rng = np.random.default_rng(5)
    x, kernel, bias = random_case(rng, 2, (6, 6), 3, (3, 3), 3, 4, False)

    def ours(x, kernel, bias):
        return F.conv(x, kernel, strides=2, padding="same", bias=bias)

    pads = [tf_same_pads(6, 3, 2, 1)] * 2
    compare_with_torch(ours, make_torch_conv((2, 2), (1, 1), pads, 1, False), [x, kernel, bias], grad_inputs=[1, 2])
    output = F.conv(Tensor(x), Tensor(kernel, requires_grad=True), padding="same")
    assert output.creator.kernel is None


def test_gradient_only_for_the_input():
    rng = np.random.default_rng(6)
    x, kernel, _ = random_case(rng, 2, (7, 5), 2, (3, 2), 2, 3, True)
    pads = [(0, 0), (0, 0)]
    compare_with_torch(
        lambda x, k: F.conv(x, k, strides=(2, 1), data_format="channels_first"),
        lambda x, k: make_torch_conv((2, 1), (1, 1), pads, 1, True)(x, k),
        [x, kernel],
        grad_inputs=[0],
    )
    output = F.conv(Tensor(x, requires_grad=True), Tensor(kernel), strides=(2, 1), data_format="channels_first")
    assert not hasattr(output.creator, "columns")


def test_float32_stays_float32_and_saved_arrays_are_freed():
    rng = np.random.default_rng(7)
    x, kernel, bias = random_case(rng, 2, (6, 7), 3, (3, 3), 3, 4, False)
    xt, kt, bt = (Tensor(a, requires_grad=True) for a in (x, kernel, bias))
    output = F.conv(xt, kt, strides=2, padding="same", bias=bt)
    assert output.dtype == np.float32
    function = output.creator
    assert function.columns is not None
    output.backward(np.ones(output.shape, dtype=np.float32))
    assert output.creator is not function  # autograd dropped the Function and its saved arrays
    assert xt.grad.dtype == kt.grad.dtype == bt.grad.dtype == np.float32


def test_no_grad_keeps_nothing():
    rng = np.random.default_rng(8)
    x, kernel, _ = random_case(rng, 1, (5, 5), 2, (3, 3), 2, 2, False)
    with cnnkit.no_grad():
        output = F.conv(Tensor(x, requires_grad=True), Tensor(kernel, requires_grad=True))
    assert output.creator is None and not output.requires_grad


def test_repeated_training_steps_reuse_workspace_correctly():
    """Column buffers are recycled between calls: results must not depend on earlier calls."""
    rng = np.random.default_rng(9)
    x, kernel, bias = random_case(rng, 2, (8, 8), 3, (3, 3), 3, 4, False)
    pads = [(1, 1), (1, 1)]
    reference = None
    for _ in range(3):
        kt = Tensor(kernel, requires_grad=True)
        out = F.conv(Tensor(x, requires_grad=True), kt, padding="same", bias=Tensor(bias))
        other = F.conv(Tensor(x[::-1].copy()), Tensor(kernel, requires_grad=True), padding="same")  # same-shaped, dropped
        del other
        out.backward(np.ones(out.shape, dtype=np.float32))
        if reference is None:
            reference = (out.numpy().copy(), kt.grad.copy())
        np.testing.assert_array_equal(out.numpy(), reference[0])
        np.testing.assert_array_equal(kt.grad, reference[1])
    compare_with_torch(
        lambda x, k, b: F.conv(x, k, padding="same", bias=b), make_torch_conv((1, 1), (1, 1), pads, 1, False), [x, kernel, bias]
    )


# ----- float64 central differences ------------------------------------------------------------
FINITE_DIFFERENCE_CASES = [
    # (input shape channels-last, kernel shape, strides, padding, dilation, data_format)
    ((1, 5, 4, 2), (3, 2, 2, 2), 1, "same", 1, "channels_last"),
    ((2, 5, 5, 2), (2, 2, 1, 2), 2, "same", 1, "channels_last"),  # groups 2, col2im path
    ((1, 6, 5, 3), (2, 2, 3, 2), (2, 1), ((0, 1), (1, 0)), (1, 2), "channels_first"),
    ((2, 7, 2), (3, 2, 3), 1, "causal", 2, "channels_last"),
    ((1, 5, 4, 1), (3, 2, 1, 4), 1, "valid", 1, "channels_last"),  # stride-1 GEMM + col2im route
    ((1, 4, 3, 3, 2), (2, 1, 2, 2, 2), (1, 2, 1), "same", 1, "channels_last"),
]


@pytest.mark.parametrize("input_shape, kernel_shape, strides, padding, dilation, data_format", FINITE_DIFFERENCE_CASES)
def test_conv_finite_differences(input_shape, kernel_shape, strides, padding, dilation, data_format):
    rng = np.random.default_rng(len(input_shape) * 7 + kernel_shape[0])
    x = rng.standard_normal(input_shape)
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, 1).copy()
    kernel = rng.standard_normal(kernel_shape)
    bias = rng.standard_normal(kernel_shape[-1])
    check_finite_differences(
        lambda x, k, b: F.conv(x, k, strides, padding, data_format, dilation, bias=b), [x, kernel, bias]
    )


# ----- errors -----------------------------------------------------------------------------------
def _x(shape=(1, 6, 6, 4), dtype=np.float32):
    return np.zeros(shape, dtype=dtype)


def _k(shape=(3, 3, 4, 2), dtype=np.float32):
    return np.zeros(shape, dtype=dtype)


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        (dict(inputs=_x((6, 6, 4))), ValueError, "inputs.shape=(6, 6, 4)"),
        (dict(inputs=_x((1, 2, 6, 6, 4, 1))), ValueError, "Received: inputs with shape"),
        (dict(kernel=_k((3, 4, 2))), ValueError, "kernel.shape=(3, 4, 2)"),
        (dict(kernel=_k((3, 3, 3, 2))), ValueError, "kernel.shape[-2]=3"),
        (dict(kernel=_k((3, 3, 2, 3))), ValueError, "filters=3"),
        (dict(kernel=_k((7, 3, 4, 2))), ValueError, "larger than the padded input"),
        (dict(kernel=_k((3, 3, 4, 2)), dilation_rate=3), ValueError, "spans 7 cells"),
        (dict(inputs=_x((1, 0, 6, 4))), ValueError, "inputs.shape=(1, 0, 6, 4)"),  # an empty batch is valid
        (dict(kernel=_k((3, 0, 4, 2))), ValueError, "kernel.shape=(3, 0, 4, 2)"),
        (dict(strides=0), ValueError, "strides=0"),
        (dict(strides=(1, -2)), ValueError, "strides=(1, -2)"),
        (dict(dilation_rate=(1, 1, 1)), ValueError, "dilation_rate=(1, 1, 1)"),
        (dict(strides=1.5), TypeError, "strides=1.5"),
        (dict(padding="full"), ValueError, "padding='full'"),
        (dict(padding="causal"), ValueError, "padding='causal'"),
        (dict(padding=-1), ValueError, "padding=-1"),
        (dict(padding=((1, 1),)), ValueError, "padding=((1, 1),)"),
        (dict(padding=((1, 1), (1, "a"))), TypeError, "padding="),
        (dict(data_format="NHWC"), ValueError, "data_format='NHWC'"),
        (dict(padding_mode="mirror", padding="same"), ValueError, "padding_mode='mirror'"),
        (dict(padding_mode="reflect", padding=6), ValueError, "padding_mode='reflect'"),
        (dict(inputs=_x(dtype=np.int32)), TypeError, "dtype int32"),
        (dict(inputs=np.zeros((1, 6, 6, 4), dtype=object)), TypeError, "inputs"),
        (dict(kernel=_k(dtype=np.float64)), TypeError, "kernel.dtype=float64"),
        (dict(bias=np.zeros(3, np.float32)), ValueError, "bias.shape=(3,)"),
        (dict(bias=np.zeros(2, np.float64)), TypeError, "bias.dtype=float64"),
    ],
)
def test_conv_errors_name_the_argument(kwargs, error, fragment):
    arguments = dict(inputs=_x(), kernel=_k())
    arguments.update(kwargs)
    with pytest.raises(error) as info:
        F.conv(**arguments)
    assert fragment in str(info.value)


def test_channels_first_mismatch_is_explained():
    """A channels-first tensor passed as channels-last: the channel count does not fit the kernel."""
    with pytest.raises(ValueError, match="Check data_format"):
        F.conv(_x((1, 4, 6, 6)), _k((3, 3, 4, 2)))
