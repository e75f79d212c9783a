"""The benchmark cases: what is measured, on which shapes, against which target of issue 4.

Every case draws its NumPy arrays once and hands the same values to both sides: cnnkit in its
public layout (channels_last, Keras kernel layouts) and PyTorch in its own (channels_first, torch
weight layouts), converted once outside the timed region. Before timing, each case checks that the
two sides compute the same thing (forward output, and for forward+backward every gradient), so
a fast wrong answer cannot pass unnoticed: a disagreement shows as the flag ``MISMATCH``.

Conventions:

- Forward cases run under ``no_grad`` on both sides (inference forward: no graph is recorded).
- Forward+backward cases record the graph and backpropagate a fixed random output gradient into
  the input, the kernel and the bias (``passes=3`` in the FLOP count), except LeNet conv1, whose
  input is the data and needs no gradient in a network (``passes=2``, on both sides).
- Convolutions carry a bias on both sides, as layers do.
- Targets are the issue's: they apply to forward+backward rows (the issue quotes forward+backward
  timings); forward rows are shown for information.

The LeNet-5 cases build the lecture's model (``seed-examples.md`` #5) through cnnkit's
``Sequential`` and the same network as a torch module with the same initial weights, and train
both on the same bundled digits.
"""
from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from cnnkit.shapes import conv_output_size

from .harness import conv_flops

__all__ = ["Case", "Prepared", "ConvSpec", "CONV_SPECS", "build_cases", "select_cases", "memory_child",
           "relative_error"]

MISMATCH_TOLERANCE = 1e-3  # max |a - b| / max |b| in float32 (sums of up to ~10^4 products)


@dataclass
class Prepared:
    """A case ready to time: the two zero-argument callables and the agreement check's result."""

    cnnkit: Callable[[], object]
    torch: Callable[[], object]
    check: str = "n/a"          # 'ok', 'MISMATCH ...' or 'n/a'
    items_per_call: int | None = None  # images per call, for throughput cases


@dataclass
class Case:
    """One row of the table: a name, what it runs, its FLOPs per call and the issue's target."""

    name: str
    title: str
    build: Callable[[], Prepared]
    target: float | None = None
    flops: int | None = None
    note: str = ""
    kind: str = "time"   # 'time' (a row of the timing table) or 'memory'


def relative_error(actual, expected) -> float:
    """max |actual - expected| / max |expected| (0 when both are all zeros)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        return float("inf")
    scale = np.max(np.abs(expected)) if expected.size else 0.0
    difference = np.max(np.abs(actual - expected)) if expected.size else 0.0
    if scale == 0.0:
        return float(difference)
    return float(difference / scale)


def _check(pairs: dict) -> str:
    """'ok' when every (cnnkit, torch-converted) pair agrees, else 'MISMATCH name=err, ...'."""
    errors = {name: relative_error(actual, expected) for name, (actual, expected) in pairs.items()}
    bad = {name: error for name, error in errors.items() if not error <= MISMATCH_TOLERANCE}
    if not bad:
        return "ok"
    return "MISMATCH " + ", ".join(f"{name}={error:.1e}" for name, error in bad.items())


def _channels_first(array: np.ndarray) -> np.ndarray:
    """(N, *spatial, C) -> (N, C, *spatial), contiguous."""
    return np.ascontiguousarray(np.moveaxis(array, -1, 1))


def _channels_last(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(array, 1, -1))


# ----- convolutions ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConvSpec:
    """A convolution benchmark shape. ``operation``: 'conv', 'depthwise' or 'transpose'."""

    name: str
    batch: int
    quick_batch: int
    spatial: tuple
    in_channels: int
    out_channels: int
    kernel: int
    strides: int = 1
    dilation: int = 1
    padding: object = "same"      # cnnkit's padding argument
    torch_padding: int = 0        # the same padding for torch (symmetric, explicit)
    operation: str = "conv"
    input_needs_grad: bool = True
    target: float | None = None
    title: str = ""


CONV_SPECS = [
    ConvSpec("lenet_conv1", 128, 128, (28, 28), 1, 6, 5, padding="valid", torch_padding=0,
             input_needs_grad=False, target=0.8, title="LeNet conv1 1->6 5x5 28x28"),
    ConvSpec("lenet_conv2", 128, 128, (12, 12), 6, 16, 5, padding="valid", torch_padding=0,
             title="LeNet conv2 6->16 5x5 12x12"),
    ConvSpec("vgg", 32, 8, (56, 56), 64, 64, 3, padding="same", torch_padding=1, target=1.2,
             title="VGG-like 64->64 3x3 56x56 same"),
    ConvSpec("resnet", 32, 8, (28, 28), 128, 128, 3, padding="same", torch_padding=1, target=1.2,
             title="ResNet-like 128->128 3x3 28x28 same"),
    # 'same' with stride 2 on an even size pads 0 before and 1 after (TensorFlow's rule), which
    # torch cannot express without an extra pad copy; both sides take the symmetric pad 1 instead
    # (same output size 28x28).
    ConvSpec("strided", 32, 8, (56, 56), 64, 64, 3, strides=2, padding=1, torch_padding=1, target=1.2,
             title="strided 64->64 3x3 s2 56x56 pad 1"),
    ConvSpec("dilated", 32, 8, (56, 56), 64, 64, 3, dilation=2, padding="same", torch_padding=2, target=1.2,
             title="dilated 64->64 3x3 d2 56x56 same"),
    ConvSpec("depthwise", 32, 8, (28, 28), 128, 128, 3, padding="same", torch_padding=1,
             operation="depthwise", target=0.8, title="depthwise 3x3 128ch 28x28 same"),
    ConvSpec("conv1x1", 32, 8, (28, 28), 128, 256, 1, padding="valid", torch_padding=0, target=0.8,
             title="1x1 128->256 28x28"),
    ConvSpec("transposed", 32, 8, (28, 28), 64, 64, 4, strides=2, padding="same", torch_padding=1,
             operation="transpose", target=1.3, title="transposed 64->64 4x4 s2 28->56"),
    ConvSpec("conv1d", 64, 16, (1024,), 128, 128, 5, padding="same", torch_padding=2, target=1.3,
             title="conv1d 128->128 k5 L=1024 same"),
]


def _conv_flops(spec: ConvSpec, batch: int, passes: int) -> int:
    kernel_spatial = (spec.kernel,) * len(spec.spatial)
    if spec.operation == "transpose":
        # A transposed convolution is the input-gradient pass of a convolution from its output
        # (out_channels) to its input (in_channels): FLOPs counted over the input's pixels.
        return conv_flops(batch, spec.spatial, kernel_spatial, spec.in_channels, spec.out_channels, passes=passes)
    output_spatial = tuple(
        conv_output_size(size, spec.kernel, spec.strides, spec.dilation, spec.torch_padding, spec.torch_padding)
        for size in spec.spatial)
    groups = spec.in_channels if spec.operation == "depthwise" else 1
    return conv_flops(batch, output_spatial, kernel_spatial, spec.in_channels, spec.out_channels,
                      groups=groups, passes=passes)


def _conv_arrays(spec: ConvSpec, batch: int, seed: int = 0) -> dict:
    """The NumPy data of a conv case in cnnkit's layouts, plus the torch weight layout."""
    rng = np.random.default_rng(seed)
    rank = len(spec.spatial)
    kernel_shape = (spec.kernel,) * rank
    x = rng.standard_normal((batch, *spec.spatial, spec.in_channels), dtype=np.float32)
    if spec.operation == "depthwise":
        fan_in = spec.kernel**rank
        kernel = rng.standard_normal((*kernel_shape, spec.in_channels, 1), dtype=np.float32)
        torch_weight = np.ascontiguousarray(np.moveaxis(kernel, (rank, rank + 1), (0, 1)))  # (C, 1, k, k)
    elif spec.operation == "transpose":
        fan_in = spec.kernel**rank * spec.in_channels
        kernel = rng.standard_normal((*kernel_shape, spec.out_channels, spec.in_channels), dtype=np.float32)
        torch_weight = np.ascontiguousarray(np.moveaxis(kernel, (rank + 1, rank), (0, 1)))  # (Cin, Cout, k, k)
    else:
        fan_in = spec.kernel**rank * spec.in_channels
        kernel = rng.standard_normal((*kernel_shape, spec.in_channels, spec.out_channels), dtype=np.float32)
        torch_weight = np.ascontiguousarray(np.moveaxis(kernel, (rank + 1, rank), (0, 1)))  # (Cout, Cin, k, k)
    kernel *= np.float32(1.0 / np.sqrt(fan_in))
    torch_weight *= np.float32(1.0 / np.sqrt(fan_in))
    bias = rng.standard_normal((spec.out_channels,), dtype=np.float32) * np.float32(0.1)
    return {"x": x, "kernel": kernel, "torch_weight": torch_weight, "bias": bias}


def _cnnkit_conv_call(spec: ConvSpec):
    import cnnkit.functional as F

    if spec.operation == "depthwise":
        return lambda x, kernel, bias: F.depthwise_conv(
            x, kernel, strides=spec.strides, padding=spec.padding, dilation_rate=spec.dilation, bias=bias)
    if spec.operation == "transpose":
        return lambda x, kernel, bias: F.conv_transpose(
            x, kernel, strides=spec.strides, padding=spec.padding, bias=bias)
    return lambda x, kernel, bias: F.conv(
        x, kernel, strides=spec.strides, padding=spec.padding, dilation_rate=spec.dilation, bias=bias)


def _torch_conv_call(spec: ConvSpec):
    import torch.nn.functional as TF

    if spec.operation == "transpose":
        return lambda x, weight, bias: TF.conv_transpose2d(
            x, weight, bias, stride=spec.strides, padding=spec.torch_padding)
    convolve = TF.conv1d if len(spec.spatial) == 1 else TF.conv2d
    groups = spec.in_channels if spec.operation == "depthwise" else 1
    return lambda x, weight, bias: convolve(
        x, weight, bias, stride=spec.strides, padding=spec.torch_padding, dilation=spec.dilation, groups=groups)


def _kernel_to_cnnkit_layout(spec: ConvSpec, torch_array: np.ndarray) -> np.ndarray:
    """A torch weight-shaped array (a kernel gradient) in cnnkit's kernel layout."""
    rank = len(spec.spatial)
    if spec.operation == "depthwise":  # (C, 1, *k) -> (*k, C, 1)
        return np.moveaxis(torch_array, (0, 1), (rank, rank + 1))
    # conv (Cout, Cin, *k) -> (*k, Cin, Cout); transpose (Cin, Cout, *k) -> (*k, Cout, Cin)
    return np.moveaxis(torch_array, (0, 1), (rank + 1, rank))


def _build_conv(spec: ConvSpec, batch: int, backward: bool) -> Callable[[], Prepared]:
    def build() -> Prepared:
        import torch

        import cnnkit

        arrays = _conv_arrays(spec, batch)
        cnnkit_call = _cnnkit_conv_call(spec)
        torch_call = _torch_conv_call(spec)
        input_grad = backward and spec.input_needs_grad
        x = cnnkit.Tensor(arrays["x"], requires_grad=input_grad)
        kernel = cnnkit.Tensor(arrays["kernel"], requires_grad=backward)
        bias = cnnkit.Tensor(arrays["bias"], requires_grad=backward)
        torch_x = torch.from_numpy(_channels_first(arrays["x"])).requires_grad_(input_grad)
        torch_weight = torch.from_numpy(arrays["torch_weight"]).requires_grad_(backward)
        torch_bias = torch.from_numpy(arrays["bias"].copy()).requires_grad_(backward)

        with torch.no_grad():
            torch_output = torch_call(torch_x, torch_weight, torch_bias)
        output_gradient = np.random.default_rng(1).standard_normal(
            _channels_last(torch_output.numpy()).shape, dtype=np.float32)
        torch_output_gradient = torch.from_numpy(_channels_first(output_gradient))

        if not backward:
            def run_cnnkit():
                with cnnkit.no_grad():
                    return cnnkit_call(x, kernel, bias)

            def run_torch():
                with torch.no_grad():
                    return torch_call(torch_x, torch_weight, torch_bias)

            pairs = {"output": (run_cnnkit().numpy(), _channels_last(run_torch().numpy()))}
            return Prepared(run_cnnkit, run_torch, _check(pairs))

        cnnkit_leaves = [tensor for tensor in (x, kernel, bias) if tensor.requires_grad]
        torch_leaves = [tensor for tensor in (torch_x, torch_weight, torch_bias) if tensor.requires_grad]

        def run_cnnkit():
            for leaf in cnnkit_leaves:
                leaf.grad = None
            output = cnnkit_call(x, kernel, bias)
            output.backward(output_gradient)
            return output

        def run_torch():
            for leaf in torch_leaves:
                leaf.grad = None
            output = torch_call(torch_x, torch_weight, torch_bias)
            output.backward(torch_output_gradient)
            return output

        cnnkit_output = run_cnnkit()
        torch_result = run_torch()
        pairs = {
            "output": (cnnkit_output.numpy(), _channels_last(torch_result.detach().numpy())),
            "kernel_grad": (kernel.grad, _kernel_to_cnnkit_layout(spec, torch_weight.grad.numpy())),
            "bias_grad": (bias.grad, torch_bias.grad.numpy()),
        }
        if input_grad:
            pairs["input_grad"] = (x.grad, _channels_last(torch_x.grad.numpy()))
        return Prepared(run_cnnkit, run_torch, _check(pairs))

    return build


# ----- pooling ---------------------------------------------------------------------------------------
def _build_pool(kind: str, batch: int) -> Callable[[], Prepared]:
    def build() -> Prepared:
        import torch
        import torch.nn.functional as TF

        import cnnkit
        import cnnkit.functional as F

        rng = np.random.default_rng(2)
        x_array = rng.standard_normal((batch, 56, 56, 64), dtype=np.float32)
        output_gradient = rng.standard_normal((batch, 28, 28, 64), dtype=np.float32)
        x = cnnkit.Tensor(x_array, requires_grad=True)
        torch_x = torch.from_numpy(_channels_first(x_array)).requires_grad_(True)
        torch_output_gradient = torch.from_numpy(_channels_first(output_gradient))
        cnnkit_pool = F.max_pool if kind == "max" else F.average_pool
        torch_pool = TF.max_pool2d if kind == "max" else TF.avg_pool2d

        def run_cnnkit():
            x.grad = None
            output = cnnkit_pool(x, 2, strides=2)
            output.backward(output_gradient)
            return output

        def run_torch():
            torch_x.grad = None
            output = torch_pool(torch_x, 2, 2)
            output.backward(torch_output_gradient)
            return output

        cnnkit_output = run_cnnkit()
        torch_output = run_torch()
        pairs = {
            "output": (cnnkit_output.numpy(), _channels_last(torch_output.detach().numpy())),
            "input_grad": (x.grad, _channels_last(torch_x.grad.numpy())),
        }
        return Prepared(run_cnnkit, run_torch, _check(pairs))

    return build


# ----- LeNet-5 ---------------------------------------------------------------------------------------
BATCH_SIZE = 128
INFERENCE_BATCH_SIZE = 256


def load_digits(count: int | None = None):
    """The bundled training digits as float32 in [0, 1]: (x NHWC, x NCHW, labels int64)."""
    from cnnkit.datasets import mnist

    (x_train, y_train), _ = mnist.load_data()
    if count is not None:
        x_train, y_train = x_train[:count], y_train[:count]
    x = (x_train.astype(np.float32) / np.float32(255.0))[..., None]
    return x, _channels_first(x), y_train.astype(np.int64)


def build_cnnkit_lenet():
    """The lecture's LeNet-5 (``seed-examples.md`` #5), compiled with Adam and sparse cross-entropy."""
    from cnnkit import layers
    from cnnkit.models import Sequential

    model = Sequential([
        layers.Conv2D(6, kernel_size=(5, 5), strides=(1, 1), activation="tanh", input_shape=(28, 28, 1),
                      padding="valid"),
        layers.AveragePooling2D(pool_size=(2, 2), strides=(2, 2), padding="valid"),
        layers.Conv2D(16, kernel_size=(5, 5), strides=(1, 1), activation="tanh", padding="valid"),
        layers.AveragePooling2D(pool_size=(2, 2), strides=(2, 2), padding="valid"),
        layers.Flatten(),
        layers.Dense(120, activation="tanh"),
        layers.Dense(84, activation="tanh"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def build_torch_lenet(cnnkit_model=None):
    """The same network as a torch module (logits out; the softmax lives in the loss), with the
    cnnkit model's weights copied in (converted to torch's layouts) when one is given."""
    import torch
    from torch import nn

    model = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(256, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),
    )
    if cnnkit_model is not None:
        weights = cnnkit_model.get_weights()
        conv1_kernel, conv1_bias, conv2_kernel, conv2_bias, dense1, dense1_bias, dense2, dense2_bias, \
            dense3, dense3_bias = weights
        # cnnkit flattens (4, 4, 16) channels-last; torch flattens (16, 4, 4): reorder dense1's rows.
        dense1_torch = dense1.reshape(4, 4, 16, 120).transpose(2, 0, 1, 3).reshape(256, 120)
        converted = [
            conv1_kernel.transpose(3, 2, 0, 1), conv1_bias, conv2_kernel.transpose(3, 2, 0, 1), conv2_bias,
            dense1_torch.T, dense1_bias, dense2.T, dense2_bias, dense3.T, dense3_bias,
        ]
        with torch.no_grad():
            for parameter, value in zip(model.parameters(), converted):
                parameter.copy_(torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)  # Keras's defaults
    return model, optimizer


def torch_train_epoch(model, optimizer, x, y, batch_size: int = BATCH_SIZE) -> float:
    """One shuffled epoch of a plain torch loop (no DataLoader); returns the mean loss."""
    import torch

    loss_function = torch.nn.CrossEntropyLoss()
    permutation = torch.randperm(x.shape[0])
    total, batches = 0.0, 0
    for start in range(0, x.shape[0], batch_size):
        index = permutation[start:start + batch_size]
        optimizer.zero_grad()
        loss = loss_function(model(x[index]), y[index])
        loss.backward()
        optimizer.step()
        total += loss.item()
        batches += 1
    return total / batches


def torch_predict(model, x, batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
    """Class probabilities for ``x`` in batches, as a NumPy array (what cnnkit's predict returns)."""
    import torch

    with torch.inference_mode():
        outputs = [torch.softmax(model(x[start:start + batch_size]), dim=1)
                   for start in range(0, x.shape[0], batch_size)]
        return torch.cat(outputs).numpy()


def _lenet_pair(count: int | None):
    import torch

    from cnnkit.random import set_seed

    set_seed(0)
    torch.manual_seed(0)
    x, x_channels_first, y = load_digits(count)
    cnnkit_model = build_cnnkit_lenet()
    torch_model, torch_optimizer = build_torch_lenet(cnnkit_model)
    probe = x[:64]
    pairs = {"predictions": (cnnkit_model.predict(probe, verbose=0),
                             torch_predict(torch_model, torch.from_numpy(x_channels_first[:64])))}
    check = _check(pairs)
    return cnnkit_model, torch_model, torch_optimizer, x, torch.from_numpy(x_channels_first), \
        y, torch.from_numpy(y), check


def _build_lenet_epoch(count: int | None) -> Callable[[], Prepared]:
    def build() -> Prepared:
        cnnkit_model, torch_model, torch_optimizer, x, torch_x, y, torch_y, check = _lenet_pair(count)

        def run_cnnkit():
            return cnnkit_model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, verbose=0)

        def run_torch():
            return torch_train_epoch(torch_model, torch_optimizer, torch_x, torch_y)

        return Prepared(run_cnnkit, run_torch, check)

    return build


def _build_lenet_inference(count: int) -> Callable[[], Prepared]:
    def build() -> Prepared:
        cnnkit_model, torch_model, _, x, torch_x, _, _, check = _lenet_pair(count)

        def run_cnnkit():
            return cnnkit_model.predict(x, batch_size=INFERENCE_BATCH_SIZE, verbose=0)

        def run_torch():
            return torch_predict(torch_model, torch_x)

        return Prepared(run_cnnkit, run_torch, check, items_per_call=count)

    return build


# ----- peak memory of one training step (runs in a fresh subprocess per side) --------------------------
def _proc_status_kib(field_name: str):
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark of resident memory to the current size (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def memory_child(side: str, batch_size: int = BATCH_SIZE) -> dict:
    """Measure the extra resident memory of one LeNet-5 training step on ``side`` ('cnnkit' or 'torch').

    Runs in a fresh process (see ``run.py --memory-child``) so that nothing else lives in it:
    build the model, one batch and the optimizer; run one warm-up step (optimizer state, lazily
    loaded code pages, thread pools); collect garbage; reset the kernel's peak-RSS mark; run one
    step; report VmHWM - VmRSS-before. The parent sets MALLOC_MMAP_THRESHOLD_ so that every array
    above 64 KiB is its own mapping, returned to the OS when freed, on both sides alike; the number
    is then the peak of what the step holds at once beyond the model, data and optimizer state.
    On the cnnkit side tracemalloc's peak of the NumPy allocations of a further step is reported too.
    """
    import tracemalloc

    x, x_channels_first, y = load_digits(batch_size)
    if side == "cnnkit":
        from cnnkit.random import set_seed

        set_seed(0)
        model = build_cnnkit_lenet()

        def step():
            model.train_on_batch(x, y)
    elif side == "torch":
        import torch

        torch.manual_seed(0)
        model, optimizer = build_torch_lenet()
        torch_x, torch_y = torch.from_numpy(x_channels_first), torch.from_numpy(y)
        loss_function = torch.nn.CrossEntropyLoss()

        def step():
            optimizer.zero_grad()
            loss = loss_function(model(torch_x), torch_y)
            loss.backward()
            optimizer.step()
    else:
        raise ValueError(f"memory_child expects side 'cnnkit' or 'torch'; received side={side!r}.")

    step()  # warm-up
    gc.collect()
    result = {"side": side, "batch_size": batch_size,
              "malloc_mmap_threshold": os.environ.get("MALLOC_MMAP_THRESHOLD_")}
    if _reset_peak_rss():
        before = _proc_status_kib("VmRSS")
        step()
        peak = _proc_status_kib("VmHWM")
        result.update(method="VmHWM - VmRSS (peak reset before the step)",
                      baseline_mib=before / 1024, step_peak_extra_mib=(peak - before) / 1024)
    else:  # no resettable peak (not Linux): the process-lifetime peak, which includes the warm-up
        import resource

        before = _proc_status_kib("VmRSS")
        step()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result.update(method="ru_maxrss (lifetime peak, not reset)", baseline_mib=(before or 0) / 1024,
                      step_peak_extra_mib=peak - (before or 0) / 1024)
    if side == "cnnkit":
        gc.collect()
        tracemalloc.start()
        step()
        result["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return result


# ----- the list ------------------------------------------------------------------------------------
def build_cases(quick: bool = False) -> list[Case]:
    """Every case, in table order. ``quick`` shrinks the large shapes (the note says so)."""
    cases = []
    for spec in CONV_SPECS:
        batch = spec.quick_batch if quick else spec.batch
        batch_note = f"N={batch}" + (f" (quick; full N={spec.batch})" if batch != spec.batch else "")
        backward_passes = 3 if spec.input_needs_grad else 2
        cases.append(Case(
            name=f"{spec.name}_fwd", title=f"{spec.title} fwd", build=_build_conv(spec, batch, backward=False),
            target=None, flops=_conv_flops(spec, batch, 1), note=batch_note))
        backward_note = batch_note + ("" if spec.input_needs_grad else "; no input grad (data)")
        cases.append(Case(
            name=f"{spec.name}_fwdbwd", title=f"{spec.title} fwd+bwd", build=_build_conv(spec, batch, backward=True),
            target=spec.target, flops=_conv_flops(spec, batch, backward_passes), note=backward_note))
    pool_batch = 32 if quick else 128
    pool_note = f"N={pool_batch}" + (" (quick; full N=128)" if quick else "")
    cases.append(Case("maxpool_fwdbwd", "max-pool 2x2 64ch 56x56 fwd+bwd", _build_pool("max", pool_batch),
                      target=0.8, note=pool_note))
    cases.append(Case("avgpool_fwdbwd", "avg-pool 2x2 64ch 56x56 fwd+bwd", _build_pool("average", pool_batch),
                      target=None, note=pool_note))
    epoch_count = 1024 if quick else None
    epoch_note = ("1,024 digits (quick; full 8,000)" if quick else "8,000 digits") + ", batch 128, Adam"
    cases.append(Case("lenet_epoch", "LeNet-5 training epoch (fit vs torch loop)", _build_lenet_epoch(epoch_count),
                      target=1.0, note=epoch_note))
    cases.append(Case("lenet_inference", "LeNet-5 inference, batch 256", _build_lenet_inference(2048),
                      target=1.0, note="2,048 digits per call"))
    cases.append(Case("lenet_step_memory", "LeNet-5 training step, peak memory", build=None, target=1.5,
                      note="fresh process per side", kind="memory"))
    return cases


def select_cases(cases: list[Case], patterns) -> list[Case]:
    """The cases whose name contains any of ``patterns`` (all cases when there is none)."""
    if not patterns:
        return list(cases)
    return [case for case in cases if any(pattern in case.name for pattern in patterns)]
