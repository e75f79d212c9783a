"""Parameter and arithmetic counts per layer: what a network stores and what one image costs.

For one input example (batch of 1), per layer:

- parameters: ``layer.count_params()``, split into trainable and not;
- MACs (multiply-accumulates) of the weighted layers: a convolution computes, for each output
  element, ``prod(kernel_size) * in_channels / groups`` of them; a dense layer ``in_features``
  per output; depthwise and separable convolutions count their two stages; a transposed
  convolution ``prod(kernel_size) * filters / groups`` per input element;
- FLOPs: ``2 * MACs`` plus one add per output for a bias, one operation per window element for
  pooling (``prod(pool_size)`` per output), one per input element for global pooling and two per
  element for batch normalisation at inference. Elementwise activations are not counted, as is
  usual in papers (LeNet-5 on 28x28: 281,640 MACs).

Output shapes come from each layer's ``compute_output_shape``, which uses ``cnnkit.shapes``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["LayerCount", "count_layers", "format_counts"]


@dataclass(frozen=True)
class LayerCount:
    """Counts for one layer on one input example.

    Attributes:
        name: the layer's name.
        class_name: the layer's class, e.g. ``'Conv2D'``.
        output_shape: the output shape without the batch axis.
        params: all parameters; trainable_params / non_trainable_params split them.
        macs: multiply-accumulates.
        flops: floating-point operations (see the module docstring for the convention).
    """

    name: str
    class_name: str
    output_shape: tuple
    params: int
    trainable_params: int
    non_trainable_params: int
    macs: int
    flops: int


def _channels_axis(layer) -> int:
    return 0 if getattr(layer, "data_format", "channels_last") == "channels_first" else -1


def _spatial_count(shape, layer) -> int:
    """Number of spatial positions in a shape (batch axis excluded)."""
    axis = _channels_axis(layer)
    spatial = shape[1:] if axis == 0 else shape[:-1]
    return math.prod(spatial)


def _arithmetic(layer, input_shape: tuple, output_shape: tuple) -> tuple[int, int]:
    """(MACs, extra non-multiply FLOPs) of one layer for one example; shapes exclude the batch."""
    class_name = type(layer).__name__
    output_elements = math.prod(output_shape)
    input_elements = math.prod(input_shape)
    bias_adds = output_elements if getattr(layer, "use_bias", False) else 0
    kernel_size = getattr(layer, "kernel_size", None)
    if class_name == "Dense":
        return output_elements * int(input_shape[-1]), bias_adds
    if kernel_size is not None:
        kernel_elements = math.prod(kernel_size)
        axis = _channels_axis(layer)
        in_channels = int(input_shape[axis])
        groups = int(getattr(layer, "groups", 1) or 1)
        if "Transpose" in class_name:
            filters = int(output_shape[axis])
            return input_elements * kernel_elements * filters // groups, bias_adds
        if class_name.startswith("SeparableConv"):
            depth_multiplier = int(getattr(layer, "depth_multiplier", 1) or 1)
            positions = _spatial_count(output_shape, layer)
            depthwise = positions * in_channels * depth_multiplier * kernel_elements
            pointwise = positions * in_channels * depth_multiplier * int(output_shape[axis])
            return depthwise + pointwise, bias_adds
        if class_name.startswith("DepthwiseConv"):
            return output_elements * kernel_elements, bias_adds
        return output_elements * kernel_elements * in_channels // groups, bias_adds
    pool_size = getattr(layer, "pool_size", None)
    if pool_size is not None:
        return 0, output_elements * math.prod(pool_size)
    if class_name.startswith("Global"):
        return 0, input_elements
    if class_name == "BatchNormalization":
        return 0, 2 * input_elements
    return 0, 0


def _layers_and_input_shape(model, input_shape):
    layers = getattr(model, "layers", None)
    if layers is None:
        if not isinstance(model, (list, tuple)):
            raise TypeError(
                "count_layers: `model` must be a model with `.layers` or a list of layers. "
                f"Received: model of type {type(model).__name__}"
            )
        layers = list(model)
    if input_shape is None:
        try:
            declared = getattr(model, "input_shape", None)
        except Exception:  # an unbuilt model may refuse
            declared = None
        if declared:
            input_shape = tuple(declared)[1:]
        elif layers and getattr(layers[0], "_input_shape_arg", None):
            input_shape = tuple(layers[0]._input_shape_arg)
    if input_shape is None:
        raise ValueError(
            "count_layers: the input shape is unknown; pass input_shape=(height, width, channels) "
            "(without the batch axis). Received: input_shape=None"
        )
    return layers, tuple(int(size) for size in input_shape)


def count_layers(model, input_shape=None) -> list[LayerCount]:
    """Parameters, MACs and FLOPs of every layer, for one input example.

    Args:
        model: a model with ``.layers`` (e.g. ``cnnkit.Sequential``) or a list of layers.
            Unbuilt layers are built for ``input_shape``.
        input_shape: the input shape without the batch axis, e.g. ``(28, 28, 1)``; taken from
            the model (or its first layer's ``input_shape=``) when omitted.

    Returns:
        One ``LayerCount`` per layer, in order.

    Example:
        >>> from cnnkit.zoo import lenet5
        >>> counts = count_layers(lenet5())
        >>> sum(count.params for count in counts), sum(count.macs for count in counts)
        (44426, 281640)
    """
    layers, shape = _layers_and_input_shape(model, input_shape)
    counts = []
    for layer in layers:
        batch_shape = (None, *shape)
        if not getattr(layer, "built", True):
            layer.build(batch_shape)
        output_shape = tuple(layer.compute_output_shape(batch_shape))[1:]
        macs, extra_flops = _arithmetic(layer, shape, output_shape)
        trainable = sum(int(math.prod(weight.shape)) for weight in getattr(layer, "trainable_weights", []))
        total = int(layer.count_params())
        counts.append(
            LayerCount(
                name=getattr(layer, "name", type(layer).__name__),
                class_name=type(layer).__name__,
                output_shape=output_shape,
                params=total,
                trainable_params=trainable,
                non_trainable_params=total - trainable,
                macs=int(macs),
                flops=int(2 * macs + extra_flops),
            )
        )
        shape = output_shape
    return counts


def format_counts(counts) -> str:
    """A text table of ``count_layers(...)`` with totals.

    Example:
        >>> from cnnkit.zoo import lenet5
        >>> print(format_counts(count_layers(lenet5())).splitlines()[-1])
        total                                                      44,426  281,640  572,454
    """
    header = ("layer (type)", "output shape", "params", "MACs", "FLOPs")
    rows = [
        (
            f"{count.name} ({count.class_name})",
            str((None, *count.output_shape)),
            f"{count.params:,}",
            f"{count.macs:,}",
            f"{count.flops:,}",
        )
        for count in counts
    ]
    rows.append(
        (
            "total",
            "",
            f"{sum(count.params for count in counts):,}",
            f"{sum(count.macs for count in counts):,}",
            f"{sum(count.flops for count in counts):,}",
        )
    )
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(row[2:], widths[2:])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
