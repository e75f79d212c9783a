"""Pictures of activations: what each convolution and pooling layer makes of one input image."""
from __future__ import annotations

import numpy as np


def feature_maps(model, image) -> list[tuple[str, np.ndarray]]:
    """Run one image through a model layer by layer and keep every spatial output.

    Args:
        model: a model with ``.layers`` (e.g. ``cnnkit.Sequential``), already built.
        image: one input without the batch axis, e.g. ``(28, 28, 1)`` (a 2-D image gets a
            channel axis).

    Returns:
        ``[(layer name, (height, width, channels) array), ...]`` for the layers whose output is
        an image (channels_first outputs are moved to channels_last).

    Example:
        >>> import numpy as np
        >>> from cnnkit.zoo import lenet5
        >>> maps = feature_maps(lenet5(), np.zeros((28, 28, 1), dtype="float32"))
        >>> [array.shape for _, array in maps]
        [(24, 24, 6), (12, 12, 6), (8, 8, 16), (4, 4, 16)]
    """
    from ..autograd import Tensor, no_grad

    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 2:
        array = array[..., None]
    outputs = []
    current = Tensor(array[None])
    with no_grad():
        for layer in model.layers:
            current = layer(current, training=False)
            data = np.asarray(current.data if hasattr(current, "data") else current)
            if data.ndim == 4:
                if getattr(layer, "data_format", "channels_last") == "channels_first":
                    data = np.transpose(data, (0, 2, 3, 1))
                outputs.append((getattr(layer, "name", type(layer).__name__), data[0]))
    return outputs


def plot_feature_maps(model, image, path, max_channels: int = 16, title: str | None = None) -> str:
    """Draw the input and every convolution/pooling output for one image, one row per layer.

    Args:
        model: a built model with ``.layers``.
        image: one input without the batch axis, e.g. ``(28, 28, 1)``.
        path: the image file to write.
        max_channels: draw at most this many channels per layer.
        title: optional figure title.

    Returns:
        ``path``.

    Example:
        >>> import os, tempfile
        >>> from cnnkit.zoo import lenet5
        >>> path = os.path.join(tempfile.mkdtemp(), "maps.png")
        >>> plot_feature_maps(lenet5(), np.zeros((28, 28, 1), dtype="float32"), path) == path
        True
    """
    from ._figure import new_figure, save_figure

    maps = feature_maps(model, image)
    if not maps:
        raise ValueError("plot_feature_maps: the model has no layer with an image-shaped output.")
    array = np.asarray(image, dtype=np.float32)
    columns = max(min(max(data.shape[-1] for _, data in maps), max_channels), 1)
    rows = len(maps) + 1
    figure = new_figure(1.0 * columns + 1.5, 1.05 * rows + (0.4 if title else 0.0))
    axes = figure.add_subplot(rows, columns, 1)
    axes.imshow(array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array, cmap="gray")
    axes.set_title("input", fontsize=7)
    axes.axis("off")
    for row, (name, data) in enumerate(maps, start=1):
        for channel in range(min(data.shape[-1], max_channels)):
            axes = figure.add_subplot(rows, columns, row * columns + channel + 1)
            axes.imshow(data[:, :, channel], cmap="viridis")
            axes.axis("off")
            if channel == 0:
                axes.set_title(f"{name} {data.shape[0]}x{data.shape[1]}x{data.shape[2]}", fontsize=7, loc="left")
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)
