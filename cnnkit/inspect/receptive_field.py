"""Receptive-field arithmetic: which input pixels each layer's outputs can see.

The receptive field of a feature is the region of the input that produces it (the lecture's
section on dilated convolutions). Layer by layer, along each spatial axis, with kernel size ``k``,
stride ``s``, dilation ``d`` (span ``k_eff = d (k - 1) + 1``) and leading padding ``p``::

    size_out  = size_in + (k_eff - 1) * jump_in          receptive field, in input pixels
    jump_out  = jump_in * s                               input distance between neighbouring outputs
    start_out = start_in + ((k_eff - 1) / 2 - p) * jump_in
                                                          input coordinate of the first output's centre

starting from ``size = 1, jump = 1, start = 0`` at the input. Stacked 3x3 convolutions of stride
1 see 3, 5, 7, ... pixels (``1 + 2L`` after ``L`` layers); a 3x3 kernel of dilation 2 sees 5, of
dilation 4 sees 9, at the cost of 9 weights. Output sizes come from ``cnnkit.shapes``.

Layers are described by ints (a kernel size, stride 1), dicts (``kernel_size``, ``strides``,
``dilation_rate``, ``padding``, ``name``), or cnnkit/Keras layer objects (convolution and pooling
layers, ``ZeroPadding``; ``Flatten``, ``Dense`` after it and global pooling see the whole input;
activations, dropout, normalisation and the like change nothing).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

from .. import shapes

__all__ = ["ReceptiveField", "receptive_fields", "receptive_field_size", "format_receptive_fields"]

_GLOBAL_LAYERS = ("Flatten", "Reshape")


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive-field figures after one layer, one value per spatial axis.

    Attributes:
        name: the layer's name (``'input'`` for the first row).
        output_size: the layer's spatial output size, or None when the input size is unknown.
        size: the receptive field's extent in input pixels; None once spatial structure is gone
            and the input size is unknown (the field is then the whole input).
        jump: input distance between neighbouring outputs (the product of strides so far).
        start: input coordinate of the centre of the first output's field (may be negative or
            fractional); None when it depends on an unknown input size.
        is_global: the features see the whole input (after Flatten or global pooling).
    """

    name: str
    output_size: tuple | None
    size: tuple | None
    jump: tuple | None
    start: tuple | None
    is_global: bool = False


@dataclass(frozen=True)
class _Step:
    name: str
    kind: str  # "window", "global", "identity"
    kernel_size: tuple = ()
    strides: tuple = ()
    dilation_rate: tuple = ()
    padding: object = "valid"  # 'valid' | 'same' | 'causal' | tuple of (before, after)


def _tuple(value, ndim: int, name: str, layer_name: str) -> tuple:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        values = (int(value),) * ndim
    else:
        try:
            values = tuple(int(item) for item in value)
        except (TypeError, ValueError):
            raise TypeError(
                f"receptive_fields: `{name}` of layer {layer_name!r} must be an int or a tuple of ints. "
                f"Received: {name}={value!r}"
            ) from None
    if len(values) != ndim or any(item < 1 for item in values):
        raise ValueError(
            f"receptive_fields: `{name}` of layer {layer_name!r} must be a positive int or {ndim} positive "
            f"ints. Received: {name}={value!r}"
        )
    return values


def _padding(value, ndim: int, layer_name: str):
    if isinstance(value, str):
        padding = value.lower()
        if padding not in ("valid", "same", "causal"):
            raise ValueError(
                f"receptive_fields: `padding` of layer {layer_name!r} must be 'valid', 'same', 'causal', an "
                f"int or per-axis (before, after) pairs. Received: padding={value!r}"
            )
        return padding
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return ((int(value), int(value)),) * ndim
    try:
        items = tuple(value)
        pairs = tuple(
            (int(item), int(item)) if isinstance(item, numbers.Integral) else (int(item[0]), int(item[1]))
            for item in items
        )
    except (TypeError, ValueError, IndexError):
        pairs = ()
    if len(pairs) != ndim or any(before < 0 or after < 0 for before, after in pairs):
        raise ValueError(
            f"receptive_fields: `padding` of layer {layer_name!r} must be 'valid', 'same', 'causal', an int "
            f"or {ndim} non-negative ints or (before, after) pairs. Received: padding={value!r}"
        )
    return pairs


def _step_from_layer(layer, ndim: int, index: int) -> _Step:
    class_name = type(layer).__name__
    name = getattr(layer, "name", None) or f"{class_name.lower()}_{index}"
    if "Transpose" in class_name:
        raise ValueError(
            f"receptive_fields: transposed convolutions (layer {name!r}, {class_name}) upsample, so the "
            "receptive-field recurrence here does not apply to them."
        )
    if class_name.startswith("Global") or class_name in _GLOBAL_LAYERS:
        return _Step(name, "global")
    if class_name.startswith("ZeroPadding"):
        padding = _padding(layer.padding, ndim, name)
        return _Step(name, "window", (1,) * ndim, (1,) * ndim, (1,) * ndim, padding)
    window = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
    if window is None:
        return _Step(name, "identity")
    strides = getattr(layer, "strides", None) or window
    return _Step(
        name,
        "window",
        _tuple(window, ndim, "kernel_size", name),
        _tuple(strides, ndim, "strides", name),
        _tuple(getattr(layer, "dilation_rate", 1) or 1, ndim, "dilation_rate", name),
        _padding(getattr(layer, "padding", "valid"), ndim, name),
    )


def _step_from_spec(spec, ndim: int, index: int) -> _Step:
    if isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
        name = f"layer_{index}"
        return _Step(name, "window", _tuple(spec, ndim, "kernel_size", name), (1,) * ndim, (1,) * ndim, "valid")
    if isinstance(spec, dict):
        known = {"kernel_size", "pool_size", "strides", "dilation_rate", "padding", "name"}
        unknown = set(spec) - known
        if unknown:
            raise ValueError(
                f"receptive_fields: layer spec {index} has unknown keys {sorted(unknown)}; use "
                f"{sorted(known)}. Received: {spec!r}"
            )
        name = spec.get("name", f"layer_{index}")
        window = spec.get("kernel_size", spec.get("pool_size"))
        if window is None:
            raise ValueError(f"receptive_fields: layer spec {index} needs a `kernel_size`. Received: {spec!r}")
        window = _tuple(window, ndim, "kernel_size", name)
        strides = spec.get("strides") or window if "pool_size" in spec else spec.get("strides", 1)
        return _Step(
            name,
            "window",
            window,
            _tuple(strides, ndim, "strides", name),
            _tuple(spec.get("dilation_rate", 1), ndim, "dilation_rate", name),
            _padding(spec.get("padding", "valid"), ndim, name),
        )
    if hasattr(spec, "__dict__") and not isinstance(spec, (str, bytes)):
        return _step_from_layer(spec, ndim, index)
    raise TypeError(
        "receptive_fields: each layer must be an int (kernel size), a dict of kernel_size/strides/"
        f"dilation_rate/padding, or a layer object. Received: layer {index} = {spec!r}"
    )


def _model_input_size(model):
    """The spatial input size a model declares, or None."""
    for attribute in ("input_shape",):
        try:
            shape = getattr(model, attribute)
        except Exception:  # an unbuilt Keras model raises on .input_shape
            shape = None
        if shape:
            return tuple(shape[1:])
    layers = getattr(model, "layers", None) or []
    shape = getattr(layers[0], "_input_shape_arg", None) if layers else None
    return tuple(shape) if shape else None


def _spatial(input_shape, layers, ndim_hint):
    """Split a full (no batch) input shape into spatial sizes, using the first layer's data_format."""
    data_format = "channels_last"
    for layer in layers:
        data_format = getattr(layer, "data_format", None) or data_format
        if getattr(layer, "data_format", None):
            break
    shape = tuple(int(size) for size in input_shape)
    if ndim_hint is None or len(shape) == ndim_hint:  # already spatial
        return shape
    return shape[1:] if data_format == "channels_first" else shape[:-1]


def _infer_ndim(layers) -> int | None:
    for layer in layers:
        for attribute in ("kernel_size", "pool_size"):
            value = layer.get(attribute) if isinstance(layer, dict) else getattr(layer, attribute, None)
            if isinstance(value, (tuple, list)):
                return len(value)
    return None


def receptive_fields(layers, input_size=None) -> list[ReceptiveField]:
    """Receptive field size, jump and start after every layer.

    Args:
        layers: a model with ``.layers`` (e.g. ``cnnkit.Sequential``), or a list of ints (kernel
            sizes, stride 1), dicts (``kernel_size``, ``strides``, ``dilation_rate``, ``padding``,
            ``name``) or layer objects.
        input_size: spatial input size (an int or a tuple, e.g. ``(28, 28)``); with layers that
            give their kernel sizes as tuples (models), also an input shape with channels
            (``(28, 28, 1)``). Optional: without it output sizes are
            None, and so are the starts after a 'same' layer of stride above 1. Taken from the
            model's ``input_shape`` when a model is given.

    Returns:
        A list of ``ReceptiveField``, the first for the input itself (size 1, jump 1, start 0).

    Raises:
        TypeError / ValueError: a spec that is not understood, naming the layer.

    Example:
        >>> [field.size for field in receptive_fields([3, 3, 3], input_size=9)][1:]   # 1-D
        [(3,), (5,), (7,)]
        >>> receptive_fields([{"kernel_size": 3, "dilation_rate": 4}])[-1].size
        (9, 9)
    """
    model_layers = getattr(layers, "layers", None)
    if model_layers is not None:
        if input_size is None:
            input_size = _model_input_size(layers)
        layers = list(model_layers)
    elif isinstance(layers, (list, tuple)):
        layers = list(layers)
    else:
        raise TypeError(
            "receptive_fields: `layers` must be a model or a list of layer specs. "
            f"Received: layers of type {type(layers).__name__}"
        )
    ndim = _infer_ndim(layers)
    if input_size is not None:
        if isinstance(input_size, numbers.Integral):
            input_size = (int(input_size),) * (ndim or 1)
        spatial = _spatial(input_size, layers, ndim)
        ndim = ndim or len(spatial)
        if len(spatial) != ndim:
            raise ValueError(
                f"receptive_fields: `input_size` must have {ndim} spatial sizes for these layers. "
                f"Received: input_size={input_size!r}"
            )
        output_size = tuple(spatial)
    else:
        ndim = ndim or 2
        output_size = None

    size, jump, start = (1,) * ndim, (1,) * ndim, (0.0,) * ndim
    input_extent = output_size
    fields = [ReceptiveField("input", output_size, size, jump, start)]
    is_global = False
    for index, spec in enumerate(layers):
        step = _step_from_spec(spec, ndim, index)
        if is_global or step.kind == "global":
            is_global = True
            fields.append(ReceptiveField(step.name, None, input_extent, None, None, is_global=True))
            continue
        if step.kind == "identity":
            fields.append(ReceptiveField(step.name, output_size, size, jump, start))
            continue
        new_size, new_jump, new_start, new_output = [], [], [], []
        for axis in range(ndim):
            kernel, stride, dilation = step.kernel_size[axis], step.strides[axis], step.dilation_rate[axis]
            span = shapes.effective_kernel_size(kernel, dilation)
            length = None if output_size is None else output_size[axis]
            if step.padding == "valid":
                before, after = 0, 0
            elif step.padding == "causal":
                before, after = shapes.causal_padding(kernel, dilation)
            elif step.padding == "same":
                if length is not None:
                    before, after = shapes.same_padding(length, kernel, stride, dilation)
                elif stride == 1:
                    before, after = (span - 1) // 2, (span - 1) - (span - 1) // 2
                else:
                    before, after = None, None
            else:
                before, after = step.padding[axis]
            new_size.append(size[axis] + (span - 1) * jump[axis])
            new_jump.append(jump[axis] * stride)
            if start is None or before is None:
                new_start.append(None)
            else:
                new_start.append(start[axis] + ((span - 1) / 2 - before) * jump[axis])
            if length is not None and before is not None:
                new_output.append(shapes.conv_output_size(length, kernel, stride, dilation, before, after))
        size, jump = tuple(new_size), tuple(new_jump)
        start = None if None in new_start else tuple(new_start)
        output_size = tuple(new_output) if len(new_output) == ndim else None
        fields.append(ReceptiveField(step.name, output_size, size, jump, start))
    return fields


def receptive_field_size(layers, input_size=None) -> tuple:
    """The receptive field of the last layer's features, one size per spatial axis.

    Example:
        >>> receptive_field_size([3, 3, 3, 3])
        (9, 9)
    """
    return receptive_fields(layers, input_size)[-1].size


def _format(values) -> str:
    if values is None:
        return "-"
    items = [f"{value:g}" if isinstance(value, float) else str(value) for value in values]
    return "x".join(items)


def format_receptive_fields(fields) -> str:
    """A text table of ``receptive_fields(...)``: layer, output size, field size, jump, start.

    Example:
        >>> print(format_receptive_fields(receptive_fields([3, 3], input_size=(7, 7))))
        layer    output  receptive field  jump  start
        input    7x7     1x1              1x1   0x0
        layer_0  5x5     3x3              1x1   1x1
        layer_1  3x3     5x5              1x1   2x2
    """
    header = ("layer", "output", "receptive field", "jump", "start")
    rows = []
    for field in fields:
        size = "whole input" if field.is_global and field.size is None else _format(field.size)
        if field.is_global and field.size is not None:
            size += " (whole input)"
        rows.append((field.name, _format(field.output_size), size, _format(field.jump), _format(field.start)))
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)
