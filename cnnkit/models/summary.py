"""``model.summary()``: Keras 3's table of layers, output shapes and parameter counts.

This module owns the summary's layout: a box-drawn table with one row per layer
(``name (Type)``, the output shape with ``None`` for the batch axis, the parameter count), then
the totals with their memory sizes, as Keras prints them::

    Model: "sequential"
    ┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
    ┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
    ┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
    │ conv2d (Conv2D)                 │ (None, 24, 24, 6)      │           156 │
    └─────────────────────────────────┴────────────────────────┴───────────────┘
     Total params: 156 (624.00 B)
     Trainable params: 156 (624.00 B)
     Non-trainable params: 0 (0.00 B)

Output shapes come from each layer's ``compute_output_shape``, starting from the model's input
shape, so nothing is computed. An unbuilt layer shows ``?`` and ``0 (unbuilt)`` (the totals
are then ``0 (0.00 B)``, as Keras prints them). Once the
optimizer has state (after ``fit``), an ``Optimizer params`` line is added and counted in the
total, as in Keras.
"""
from __future__ import annotations

import re
import textwrap

import numpy as np

__all__ = ["print_summary", "summary_lines", "readable_memory_size", "format_shape", "layer_index_range"]


def readable_memory_size(size_in_bytes: float) -> str:
    """``177704`` -> ``'173.54 KB'`` (powers of 1024, two decimals, as Keras)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size_in_bytes / 1024 < 1:
            return f"{size_in_bytes:.2f} {unit}"
        size_in_bytes /= 1024
    return f"{size_in_bytes:.2f} PB"


def format_shape(shape) -> str:
    """``(None, 24, 24, 6)``; None stays ``None``; a shape that is not known is ``?``."""
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if size is None else str(int(size)) for size in shape) + ("," if len(shape) == 1 else "") + ")"


def _count(variables) -> tuple[int, int]:
    """(number of scalars, bytes) of a list of Variables or arrays."""
    count = size = 0
    for variable in variables:
        array = getattr(variable, "data", variable)
        elements = int(np.prod(np.shape(array)))
        count += elements
        size += elements * np.dtype(getattr(array, "dtype", np.float32)).itemsize
    return count, size


def _output_shapes(model) -> list:
    """Each layer's output shape (None where it cannot be computed)."""
    shape = getattr(model, "_build_input_shape", None)
    shapes = []
    for layer in model.layers:
        if shape is not None:
            try:
                shape = tuple(layer.compute_output_shape(tuple(shape)))
            except Exception:  # noqa: BLE001 - a layer without shape inference shows '?'
                shape = None
        shapes.append(shape)
    return shapes


def _cell_lines(text: str, width: int) -> list:
    return textwrap.wrap(text, width=width, break_long_words=True, break_on_hyphens=False) or [""]


def layer_index_range(layers, layer_range=None) -> tuple[int, int]:
    """``(first, last + 1)`` of the layers named by ``layer_range`` (two names or regular
    expressions, both ends included), as Keras's ``get_layer_index_bound_by_layer_name``.

    Raises:
        ValueError: ``layer_range`` is not two strings, or matches no layer.
    """
    if layer_range is None:
        return 0, len(layers)
    if not isinstance(layer_range, (list, tuple)) or len(layer_range) != 2:
        raise ValueError(f"layer_range must be a list or tuple of length 2. Received: layer_range = {layer_range!r}")
    if not all(isinstance(pattern, str) for pattern in layer_range):
        raise ValueError(f"layer_range should contain string type only. Received: {layer_range!r}")
    lower = [i for i, layer in enumerate(layers) if re.match(layer_range[0], layer.name)]
    upper = [i for i, layer in enumerate(layers) if re.match(layer_range[1], layer.name)]
    if not lower or not upper:
        raise ValueError(f"Passed layer_names do not match the layer names in the model. Received: {layer_range!r}")
    if min(lower) > max(upper):
        return min(upper), max(lower) + 1
    return min(lower), max(upper) + 1


def summary_lines(model, line_length=None, show_trainable=False, layer_range=None) -> list:
    """The summary as a list of lines (see the module docstring).

    Example:
        >>> from cnnkit import Sequential
        >>> from cnnkit.layers import Dense
        >>> summary_lines(Sequential([Dense(2, input_shape=(3,))]))[-3]
        ' Total params: 8 (32.00 B)'
    """
    if line_length is None:  # Keras's proportions for a Sequential model
        widths = [31, 22, 13] + ([9] if show_trainable else [])
    else:
        fractions = [0.45, 0.78, 1.0] if not show_trainable else [0.38, 0.66, 0.86, 1.0]
        edges = [int(line_length * f) for f in fractions]
        widths = [edges[0] - 3] + [edges[i] - edges[i - 1] - 3 for i in range(1, len(edges))]
    headers = ["Layer (type)", "Output Shape", "Param #"] + (["Trainable"] if show_trainable else [])
    alignment = ["left", "left", "right", "center"]  # Keras's justification per column

    def row(cells, left, middle, right):
        parts = []
        for i, cell in enumerate(cells):
            text = {"left": cell.ljust, "right": cell.rjust, "center": cell.center}[alignment[i]](widths[i])
            parts.append(" " + text + " ")
        return left + middle.join(parts) + right

    def rule(left, middle, right, fill):
        return left + middle.join(fill * (width + 2) for width in widths) + right

    lines = [f'Model: "{model.name}"', rule("┏", "┳", "┓", "━"), row(headers, "┃", "┃", "┃"), rule("┡", "╇", "┩", "━")]
    first, stop = layer_index_range(list(model.layers), layer_range)
    layers = list(model.layers)[first:stop]
    shapes = _output_shapes(model)[first:stop]
    for index, (layer, shape) in enumerate(zip(layers, shapes)):
        params = f"{layer.count_params():,}" if getattr(layer, "built", False) else "0 (unbuilt)"
        cells = [f"{layer.name} ({type(layer).__name__})", format_shape(shape), params]
        if show_trainable:  # Keras: '-' for a layer without weights
            cells.append(("Y" if layer.trainable else "N") if layer.weights else "-")
        wrapped = [_cell_lines(cell, widths[i]) for i, cell in enumerate(cells)]
        for line_index in range(max(len(column) for column in wrapped)):
            lines.append(row([column[line_index] if line_index < len(column) else "" for column in wrapped], "│", "│", "│"))
        if index < len(layers) - 1:
            lines.append(rule("├", "┼", "┤", "─"))
    lines.append(rule("└", "┴", "┘", "─"))

    trainable_count, trainable_size = _count(model.trainable_weights)
    frozen_count, frozen_size = _count(model.non_trainable_weights)
    total_count, total_size = trainable_count + frozen_count, trainable_size + frozen_size
    optimizer = getattr(model, "optimizer", None)
    optimizer_line = None
    if optimizer is not None and getattr(optimizer, "built", False):
        optimizer_count, optimizer_size = _count(optimizer.variables)
        total_count += optimizer_count
        total_size += optimizer_size
        optimizer_line = f" Optimizer params: {optimizer_count:,} ({readable_memory_size(optimizer_size)})"
    lines += [
        f" Total params: {total_count:,} ({readable_memory_size(total_size)})",
        f" Trainable params: {trainable_count:,} ({readable_memory_size(trainable_size)})",
        f" Non-trainable params: {frozen_count:,} ({readable_memory_size(frozen_size)})",
    ]
    if optimizer_line:
        lines.append(optimizer_line)
    return lines


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None) -> None:
    """Print the summary (or hand each line to ``print_fn``), with Keras's ``summary`` arguments.

    ``layer_range`` limits the rows to the layers from one name (or regular expression) to
    another, both included, as Keras; ``positions`` and ``expand_nested`` are accepted for
    compatibility (a Sequential model has no nested models to expand).
    """
    if line_length is not None and (not isinstance(line_length, int) or line_length < 40):
        raise ValueError(f"`line_length` must be an int of at least 40. Received: line_length={line_length!r}")
    for line in summary_lines(model, line_length=line_length, show_trainable=show_trainable, layer_range=layer_range):
        if print_fn is None:
            print(line)
        else:
            print_fn(line)
