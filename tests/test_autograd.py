"""cnnkit.autograd against PyTorch (forward and every input gradient, float32) and against float64
central differences: every Tensor operation and Function, broadcasting, matmul in all its forms,
reductions, indexing, graph bookkeeping (no_grad, accumulation, freeing) and the errors."""
import gc
import threading
import weakref

import numpy as np
import pytest
import torch

from cnnkit import Tensor, enable_grad, is_grad_enabled, no_grad
from cnnkit import autograd
from cnnkit.autograd import Function, as_tensor, unbroadcast

from oracle import check_finite_differences, compare_with_torch

rng = np.random.default_rng(1234)


def randn(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def positive(*shape, dtype=np.float32):
    return (rng.uniform(0.5, 2.0, shape)).astype(dtype)


# ----- elementwise binary operations with broadcasting ----------------------------------------------
BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((2, 3, 4), (3, 1)),
    ((1, 4), (3, 1)),
    ((2, 1, 4), (1, 3, 1)),
    ((), (3,)),
    ((3,), ()),
]


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS)
@pytest.mark.parametrize(
    "operation",
    [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b],
    ids=["add", "subtract", "multiply", "divide"],
)
def test_binary_operations_broadcast_like_torch(operation, shapes):
    first = randn(*shapes[0])
    second = positive(*shapes[1]) * np.where(rng.random(shapes[1]) < 0.5, -1, 1).astype(np.float32)
    compare_with_torch(operation, operation, [first, second])


@pytest.mark.parametrize("shapes", [((3, 4), (4,)), ((2, 1, 3), (4, 1))])
def test_tensor_power_tensor(shapes):
    base, exponent = positive(*shapes[0]), randn(*shapes[1])
    compare_with_torch(lambda a, b: a**b, lambda a, b: a**b, [base, exponent])


@pytest.mark.parametrize(
    "operation",
    [
        lambda x: 2.0 + x,
        lambda x: 2.0 - x,
        lambda x: 3.0 * x,
        lambda x: 2.0 / x,
        lambda x: x - 1.5,
        lambda x: x / 4.0,
        lambda x: 2.0**x,
        lambda x: -x,
        lambda x: +x * 1.0,
    ],
    ids=["radd", "rsub", "rmul", "rdiv", "sub-number", "div-number", "rpow", "neg", "pos"],
)
def test_operations_with_python_numbers(operation):
    compare_with_torch(operation, operation, [positive(3, 4)])


def test_numpy_array_on_the_left_defers_to_tensor():
    array, data = randn(3, 4), randn(3, 4)
    x = Tensor(data, requires_grad=True)
    for result in (array * x, array + x, array - x, array / (x * x + 1.0), array @ x.T):
        assert isinstance(result, Tensor)
    (array * x).sum().backward()
    np.testing.assert_allclose(x.grad, array)


def test_python_numbers_keep_float32():
    x = Tensor(randn(3), requires_grad=True)
    for result in (x + 1, 2.5 * x, x / 3, 1.0 - x, x**2, x ** np.float64(2.0), x * np.float64(2.0)):
        assert result.dtype == np.float32


# ----- unary primitives ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "ours, theirs, make",
    [
        (lambda x: x**2, lambda x: x**2, randn),
        (lambda x: x**3, lambda x: x**3, randn),
        (lambda x: x**0.5, lambda x: x**0.5, positive),
        (lambda x: x**-1.5, lambda x: x**-1.5, positive),
        (lambda x: abs(x), torch.abs, randn),
        (lambda x: x.exp(), torch.exp, randn),
        (lambda x: x.log(), torch.log, positive),
        (lambda x: x.sqrt(), torch.sqrt, positive),
        (lambda x: x.tanh(), torch.tanh, randn),
        (lambda x: x.relu(), torch.relu, randn),
        (lambda x: autograd.exp(x), torch.exp, randn),
        (lambda x: autograd.log(x), torch.log, positive),
        (lambda x: autograd.sqrt(x), torch.sqrt, positive),
        (lambda x: autograd.tanh(x), torch.tanh, randn),
        (lambda x: autograd.relu(x), torch.relu, randn),
        (lambda x: x.clip(-0.5, 0.7), lambda x: x.clamp(-0.5, 0.7), randn),
        (lambda x: x.clip(low=-0.2), lambda x: x.clamp(min=-0.2), randn),
        (lambda x: autograd.clip(x, None, 0.3), lambda x: x.clamp(max=0.3), randn),
        (lambda x: x.astype("float64"), lambda x: x.double(), randn),
    ],
    ids=["square", "cube", "sqrt-power", "negative-power", "abs", "exp", "log", "sqrt", "tanh", "relu",
         "f-exp", "f-log", "f-sqrt", "f-tanh", "f-relu", "clip", "clip-low", "clip-high", "astype"],
)
def test_unary_operations_like_torch(ours, theirs, make):
    compare_with_torch(ours, theirs, [make(4, 5)])


def test_relu_gives_positive_zero_and_zero_gradient_at_zero():
    x = Tensor(np.array([-2.0, 0.0, 3.0], np.float32), requires_grad=True)
    y = autograd.relu(x)
    assert not np.signbit(y.numpy()).any()
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])


# ----- matmul ------------------------------------------------------------------------------------------
MATMUL_SHAPES = [
    ((4,), (4,)),
    ((4,), (4, 3)),
    ((3, 4), (4,)),
    ((3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=[f"{a}@{b}" for a, b in MATMUL_SHAPES])
def test_matmul_like_torch(shapes):
    compare_with_torch(lambda a, b: a @ b, lambda a, b: a @ b, [randn(*shapes[0]), randn(*shapes[1])])


def test_matmul_gradient_of_one_side_only():
    a, b = Tensor(randn(3, 4), requires_grad=True), Tensor(randn(4, 2))
    (a @ b).sum().backward()
    np.testing.assert_allclose(a.grad, np.ones((3, 2)) @ b.numpy().T, rtol=1e-6)
    assert b.grad is None


# ----- reductions --------------------------------------------------------------------------------------
REDUCTION_CASES = [(None, False), (0, False), (1, True), (-1, False), ((0, 2), False), ((0, 2), True), ((-1, 0), True)]


@pytest.mark.parametrize("axis, keepdims", REDUCTION_CASES)
def test_sum_and_mean_like_torch(axis, keepdims):
    data = randn(2, 3, 4)
    torch_axis = tuple(range(3)) if axis is None else axis
    compare_with_torch(lambda x: x.sum(axis=axis, keepdims=keepdims),
                       lambda x: x.sum(dim=torch_axis, keepdim=keepdims), [data])
    compare_with_torch(lambda x: x.mean(axis=axis, keepdims=keepdims),
                       lambda x: x.mean(dim=torch_axis, keepdim=keepdims), [data])


@pytest.mark.parametrize("axis, keepdims", REDUCTION_CASES)
def test_max_min_and_var_like_torch(axis, keepdims):
    data = randn(2, 3, 4)
    torch_axis = tuple(range(3)) if axis is None else axis
    compare_with_torch(lambda x: x.max(axis=axis, keepdims=keepdims),
                       lambda x: torch.amax(x, dim=torch_axis, keepdim=keepdims), [data])
    compare_with_torch(lambda x: x.min(axis=axis, keepdims=keepdims),
                       lambda x: torch.amin(x, dim=torch_axis, keepdim=keepdims), [data])
    compare_with_torch(lambda x: x.var(axis=axis, keepdims=keepdims),
                       lambda x: x.var(dim=torch_axis, keepdim=keepdims, unbiased=False), [data])


def test_max_shares_the_gradient_between_ties_like_torch_amax():
    data = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [5.0, -1.0, 5.0, 5.0]], np.float32)
    for axis in (None, 1, 0):
        dim = (0, 1) if axis is None else axis
        compare_with_torch(lambda x: x.max(axis=axis), lambda x: torch.amax(x, dim=dim), [data])
        compare_with_torch(lambda x: x.min(axis=axis), lambda x: torch.amin(x, dim=dim), [-data])
    x = Tensor(data, requires_grad=True)
    x.max(axis=1).backward(np.ones(3, np.float32))
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5, 0], [0.25] * 4, [1 / 3, 0, 1 / 3, 1 / 3]], rtol=1e-6)
    assert x.grad.dtype == np.float32  # the tie counts once promoted float32 gradients to float64


def test_reduction_axis_out_of_range_raises():
    with pytest.raises(ValueError, match="out of range"):
        Tensor(randn(2, 3)).sum(axis=2)


# ----- shape operations ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda x: x.reshape(6, 4), lambda x: x.reshape(6, 4)),
        (lambda x: x.reshape((4, -1)), lambda x: x.reshape(4, -1)),
        (lambda x: x.flatten(), lambda x: x.flatten()),
        (lambda x: x.transpose(), lambda x: x.permute(2, 1, 0)),
        (lambda x: x.transpose(1, 2, 0), lambda x: x.permute(1, 2, 0)),
        (lambda x: x.transpose((2, 0, 1)), lambda x: x.permute(2, 0, 1)),
        (lambda x: x.transpose(-1, 0, -2), lambda x: x.permute(2, 0, 1)),
        (lambda x: x.reshape(6, 4).T, lambda x: x.reshape(6, 4).T),
    ],
    ids=["reshape", "reshape-minus-one", "flatten", "transpose-default", "transpose-varargs",
         "transpose-tuple", "transpose-negative", "T"],
)
def test_shape_operations_like_torch(ours, theirs):
    compare_with_torch(ours, theirs, [randn(2, 3, 4)])


def test_reshape_to_a_wrong_size_raises_value_error():
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*\(4, 2\)"):
        Tensor(randn(2, 3)).reshape(4, 2)


# ----- indexing ----------------------------------------------------------------------------------------
INDICES = [
    (1,),
    (slice(None), 2),
    (slice(1, None), slice(None, None, 2)),
    (Ellipsis, 1),
    (None, slice(0, 2)),
    ([0, 0, 2],),
    ([0, 2, 0], [1, 1, 1]),
    (slice(None), [3, 3, 0]),
    (np.array([[0, 1], [1, 1]]),),
]


@pytest.mark.parametrize("index", INDICES, ids=[str(i) for i in range(len(INDICES))])
def test_getitem_like_torch_including_repeated_advanced_indices(index):
    def torch_index(item):
        return torch.as_tensor(item) if isinstance(item, (list, np.ndarray)) else item

    torch_key = tuple(torch_index(item) for item in index)
    compare_with_torch(lambda x: x[index], lambda x: x[torch_key], [randn(3, 4)])


def test_getitem_with_boolean_mask_and_tensor_index():
    data = randn(3, 4)
    mask = data > 0
    compare_with_torch(lambda x: x[mask], lambda x: x[torch.as_tensor(mask)], [data])
    compare_with_torch(lambda x: x[Tensor(np.array([2, 2, 1]))], lambda x: x[torch.tensor([2, 2, 1])], [data])
    compare_with_torch(lambda x: x[Tensor(np.array([1, 1])), 2], lambda x: x[torch.tensor([1, 1]), 2], [data])


def test_negative_step_slices():
    data = randn(3, 4)
    compare_with_torch(lambda x: x[::-1, 1::-1], lambda x: torch.flip(x, dims=(0,))[:, :2].flip(1), [data])


def test_repeated_indices_accumulate_their_gradient():
    x = Tensor(np.zeros(4, np.float32), requires_grad=True)
    x[[1, 1, 1, 3]].sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 3, 0, 1])
    assert x.grad.dtype == np.float32


# ----- concatenate, stack, pad, where ------------------------------------------------------------------
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_and_stack_like_torch(axis):
    shapes = {0: [(2, 3), (4, 3), (1, 3)], 1: [(2, 1), (2, 3), (2, 2)], -1: [(2, 1), (2, 3), (2, 2)]}[axis]
    arrays = [randn(*shape) for shape in shapes]
    compare_with_torch(lambda *t: autograd.concatenate(t, axis=axis), lambda *t: torch.cat(t, dim=axis), arrays)
    same = [randn(2, 3) for _ in range(3)]
    compare_with_torch(lambda *t: autograd.stack(t, axis=axis), lambda *t: torch.stack(t, dim=axis), same)


def test_concatenate_with_a_constant_member():
    x = Tensor(randn(2, 3), requires_grad=True)
    autograd.concatenate([x, randn(1, 3)], axis=0).sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((2, 3)))


def test_pad_like_torch():
    widths = ((1, 2), (0, 3))
    compare_with_torch(lambda x: autograd.pad(x, widths), lambda x: torch.nn.functional.pad(x, (0, 3, 1, 2)),
                       [randn(3, 4)])
    compare_with_torch(lambda x: autograd.pad(x, widths, value=1.5),
                       lambda x: torch.nn.functional.pad(x, (0, 3, 1, 2), value=1.5), [randn(3, 4)])


@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 1), (4,)), ((4,), (3, 4))])
def test_where_like_torch(shapes):
    condition = rng.random((3, 4)) < 0.5
    compare_with_torch(lambda a, b: autograd.where(condition, a, b),
                       lambda a, b: torch.where(torch.as_tensor(condition), a, b),
                       [randn(*shapes[0]), randn(*shapes[1])])
    compare_with_torch(lambda a, b: autograd.where(Tensor(condition), a, b),
                       lambda a, b: torch.where(torch.as_tensor(condition), a, b),
                       [randn(*shapes[0]), randn(*shapes[1])])


def test_where_with_a_number_branch():
    condition = np.array([True, False, True])
    compare_with_torch(lambda a: autograd.where(condition, a, 0.0),
                       lambda a: torch.where(torch.as_tensor(condition), a, torch.tensor(0.0)), [randn(3)])


# ----- a composite graph (diamond, reused tensors) ----------------------------------------------------
def test_graph_with_reused_tensors_like_torch():
    def expression(x, y, w):
        hidden = (x @ w).tanh()
        mixed = hidden * y + hidden.exp() * hidden - (x * x).sum(axis=1, keepdims=True)
        return (mixed / (abs(mixed) + 1.0)).mean(axis=0) + hidden.max(axis=1).sum()

    compare_with_torch(expression, lambda x, y, w: _torch_expression(x, y, w), [randn(4, 3), randn(4, 2), randn(3, 2)])


def _torch_expression(x, y, w):
    hidden = torch.tanh(x @ w)
    mixed = hidden * y + hidden.exp() * hidden - (x * x).sum(dim=1, keepdim=True)
    return (mixed / (mixed.abs() + 1.0)).mean(dim=0) + torch.amax(hidden, dim=1).sum()


# ----- float64 central differences --------------------------------------------------------------------
FINITE_DIFFERENCE_CASES = {
    "add": (lambda a, b: a + b, [(3, 4), (4,)]),
    "subtract": (lambda a, b: a - b, [(3, 1), (3, 4)]),
    "multiply": (lambda a, b: a * b, [(2, 3), (2, 3)]),
    "divide": (lambda a, b: a / (b * b + 1.0), [(2, 3), (3,)]),
    "power-scalar": (lambda a: (a * a + 1.0) ** 1.7, [(2, 3)]),
    "power-tensor": (lambda a, b: (a * a + 1.0) ** b, [(2, 3), (3,)]),
    "exp-log-sqrt": (lambda a: ((a * a + 1.0).log() + (a * a + 0.5).sqrt()).exp(), [(2, 3)]),
    "tanh-relu-abs": (lambda a: a.tanh() * a.relu() + abs(a), [(3, 3)]),
    "clip": (lambda a: a.clip(-0.5, 0.5) * a, [(3, 3)]),
    "matmul": (lambda a, b: a @ b, [(2, 3, 4), (4, 2)]),
    "matmul-vector": (lambda a, b: a @ b, [(4,), (3, 4, 2)]),
    "sum-mean": (lambda a: a.sum(axis=0) * a.mean(axis=(0, 1), keepdims=True), [(3, 4)]),
    "max": (lambda a: a.max(axis=1) + a.min(), [(3, 4)]),
    "var": (lambda a: a.var(axis=0), [(4, 3)]),
    "reshape-transpose": (lambda a: a.reshape(4, 3) * a.transpose(1, 0), [(3, 4)]),
    "getitem": (lambda a: a[[0, 0, 2], 1:] * a[1, 1:] + a[::-1, ::2].sum(), [(3, 4)]),
    "concatenate-stack": (lambda a, b: autograd.concatenate([a, b], axis=1) * autograd.stack([a, a, a], axis=1).reshape(3, 6), [(3, 2), (3, 4)]),
    "pad": (lambda a: autograd.pad(a, ((1, 0), (2, 1))) * 2.0, [(2, 3)]),
    "where": (lambda a, b: autograd.where(np.array([[True, False, True]]), a, b), [(2, 3), (3,)]),
}


@pytest.mark.parametrize("name", sorted(FINITE_DIFFERENCE_CASES))
def test_float64_central_differences(name):
    function, shapes = FINITE_DIFFERENCE_CASES[name]
    inputs = [rng.standard_normal(shape) for shape in shapes]
    check_finite_differences(function, inputs)


# ----- graph bookkeeping ---------------------------------------------------------------------------
def test_no_grad_records_nothing_and_enable_grad_restores():
    x = Tensor(randn(3), requires_grad=True)
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        y = x * 2.0
        assert not y.requires_grad and y.creator is None
        with enable_grad():
            z = x * 2.0
            assert z.requires_grad and z.creator is not None
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert (x * 2.0).requires_grad


def test_no_grad_is_local_to_the_thread():
    seen = []
    with no_grad():
        thread = threading.Thread(target=lambda: seen.append(is_grad_enabled()))
        thread.start()
        thread.join()
    assert seen == [True]


def test_gradients_accumulate_over_two_backwards_and_zero_grad_clears():
    x = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    (x * x).sum().backward()
    (3.0 * x).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0 + 3.0, 4.0 + 3.0])
    x.zero_grad()
    assert x.grad is None


def test_backward_frees_the_functions_and_their_saved_arrays():
    x = Tensor(randn(3, 4), requires_grad=True)
    hidden = abs(x)  # Absolute saves a sign array of its own
    output = (hidden * hidden).sum()
    function = weakref.ref(hidden.creator)
    saved_sign = weakref.ref(hidden.creator.sign)
    output.backward()
    gc.collect()
    assert function() is None and saved_sign() is None
    with pytest.raises(RuntimeError, match="retain_graph"):
        (hidden * 2.0).sum().backward()  # the freed part of the graph is not silently a leaf


def test_retain_graph_allows_a_second_backward():
    x = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    output = (x * x).sum()
    output.backward(retain_graph=True)
    output.backward()
    np.testing.assert_allclose(x.grad, [4.0, 8.0])


def test_constant_inputs_get_no_gradient_and_no_graph():
    constant = Tensor(randn(3))
    y = constant * 2.0 + 1.0
    assert not y.requires_grad and y.creator is None
    with pytest.raises(RuntimeError, match="does not require gradients"):
        y.sum().backward()


def test_leaf_gradients_are_owned_writable_arrays_of_the_leaf_dtype():
    a, b = Tensor(randn(3), requires_grad=True), Tensor(randn(3), requires_grad=True)
    (a + b).backward(np.ones(3, np.float32))
    assert a.grad is not b.grad
    a.grad *= 2.0  # in-place update of one leaf's gradient ...
    np.testing.assert_array_equal(b.grad, np.ones(3))  # ... leaves the other alone
    w = Tensor(randn(2, 3), requires_grad=True)
    w.sum().backward()  # Sum's backward is a read-only broadcast view
    assert w.grad.flags.writeable and w.grad.flags.owndata
    w.grad *= 0.5
    upstream = np.ones(3, np.float32)
    leaf = Tensor(randn(3), requires_grad=True)
    leaf.backward(upstream)
    assert leaf.grad is not upstream
    mixed = Tensor(randn(3), requires_grad=True)
    (mixed * np.ones(3, np.float64)).sum().backward()  # a float64 constant promotes the product
    assert mixed.grad.dtype == np.float32


class DtypeProbe(Function):
    """Identity whose backward records the dtype of the gradient that reaches it."""

    seen = []

    def forward(self, a):
        return a

    def backward(self, grad):
        DtypeProbe.seen.append(grad.dtype)
        return (grad,)


def test_float32_stays_float32_through_every_backward():
    DtypeProbe.seen = []
    x_leaf = Tensor(positive(3, 4), requires_grad=True)
    y_leaf = Tensor(positive(4, 2), requires_grad=True)
    x, y = DtypeProbe.apply(x_leaf), DtypeProbe.apply(y_leaf)  # every op's input gradient sums here
    output = (
        (x @ y).tanh().sum() + x.max(axis=1).sum() + x.min() + x.var() + (x**1.5).sum() + (2.0**x).sum()
        + x[[0, 0], 1:].sum() + autograd.pad(x, ((1, 1), (0, 0))).mean() + x.log().exp().sqrt().sum()
        + autograd.where(x.data > 1, x, 0.0).sum() + abs(x).clip(0.6, 1.5).relu().sum()
        + autograd.stack([x, x]).transpose(-1, 0, 1).reshape(-1).sum() + (x / y.sum()).sum()
        + (x ** np.float64(2.0)).sum() + (x @ y[:, 0]).sum()
    )
    assert output.dtype == np.float32
    output.backward()
    assert DtypeProbe.seen == [np.float32, np.float32]
    assert x_leaf.grad.dtype == np.float32 and y_leaf.grad.dtype == np.float32


# ----- Tensor surface and errors ----------------------------------------------------------------------
def test_tensor_construction_and_array_surface():
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(3.5).dtype == np.float32
    assert Tensor(np.zeros(2, np.float64)).dtype == np.float64
    assert Tensor([1, 2]).dtype.kind == "i"
    data = randn(2, 3)
    x = Tensor(data)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
    assert x.numpy() is data
    assert np.asarray(x) is data
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert Tensor([2.5]).item() == 2.5 and float(Tensor(2.5)) == 2.5 and int(Tensor(3)) == 3
    assert "requires_grad=True" in repr(Tensor([1.0], requires_grad=True))
    assert Tensor(Tensor([1.0, 2.0])).shape == (2,)
    detached = Tensor(data, requires_grad=True).detach()
    assert not detached.requires_grad and detached.creator is None


def test_comparisons_give_boolean_tensors_outside_the_graph():
    x = Tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    for result, expected in ((x < 2, [1, 0, 0]), (x <= 2, [1, 1, 0]), (x > 2, [0, 0, 1]), (x >= 2, [0, 1, 1]),
                             (x == 2, [0, 1, 0]), (x != 2, [1, 0, 1]), (x > Tensor([0.0, 5.0, 1.0]), [1, 0, 1])):
        assert result.dtype == np.bool_ and not result.requires_grad
        np.testing.assert_array_equal(result.numpy(), np.array(expected, bool))
    assert hash(x) == id(x)


def test_backward_without_gradient_on_a_non_scalar_raises_value_error():
    x = Tensor(randn(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"one element.*\(3,\)"):
        (x * 2.0).backward()
    with pytest.raises(ValueError, match=r"shape \(3,\).*\(2,\)"):
        (x * 2.0).backward(np.ones(2))


def test_requires_grad_on_integer_data_raises_type_error():
    with pytest.raises(TypeError, match="floating-point"):
        Tensor(np.arange(3), requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        Tensor([True, False], requires_grad=True)


def test_numbers_adopt_the_dtype_of_floating_tensors_only():
    assert as_tensor(0.5, like=Tensor(np.zeros(2, np.float64))).dtype == np.float64
    assert as_tensor(0.5, like=Tensor(np.zeros(2, np.float32))).dtype == np.float32
    np.testing.assert_allclose((Tensor(np.array([1, 2])) * 0.5).numpy(), [0.5, 1.0])  # was truncated to 0


def test_unbroadcast_sums_over_broadcast_axes():
    gradient = np.ones((2, 3, 4), np.float32)
    assert unbroadcast(gradient, (3, 1)).shape == (3, 1)
    np.testing.assert_array_equal(unbroadcast(gradient, (3, 1)), np.full((3, 1), 8.0))
    assert unbroadcast(gradient, (2, 3, 4)) is gradient


def test_a_custom_function_receives_needs_input_grad_and_returns_none_where_not_needed():
    calls = []

    class Scale(Function):
        def forward(self, a, b, factor):
            self.factor = factor
            return a * b * factor

        def backward(self, grad):
            calls.append(self.needs_input_grad)
            return (grad * self.factor if self.needs_input_grad[0] else None,
                    grad * self.factor if self.needs_input_grad[1] else None)

    a, b = Tensor(randn(2), requires_grad=True), Tensor(randn(2))
    Scale.apply(a, b, factor=3.0).sum().backward()
    assert calls == [(True, False)]
    np.testing.assert_allclose(a.grad, [3.0, 3.0])
