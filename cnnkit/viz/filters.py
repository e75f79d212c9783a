"""Pictures of kernels: a grid of a convolution layer's filters (learned or hand-made)."""
from __future__ import annotations

import math

import numpy as np


def _kernel_array(kernel) -> np.ndarray:
    """A layer's kernel (Keras layout) or an array, as ``(kh, kw, in_channels, filters)``."""
    if hasattr(kernel, "get_weights") and not isinstance(kernel, np.ndarray):
        weights = kernel.get_weights()
        if not weights:
            raise ValueError(
                f"plot_filters: layer {getattr(kernel, 'name', kernel)!r} has no weights (is it built?)."
            )
        kernel = weights[0]
    array = np.asarray(getattr(kernel, "data", kernel), dtype=np.float64)
    if array.ndim == 2:
        array = array[:, :, None, None]
    elif array.ndim == 3:  # a stack of 2-D kernels (filters, kh, kw)
        array = np.transpose(array, (1, 2, 0))[:, :, None, :]
    if array.ndim != 4:
        raise ValueError(
            "plot_filters: `kernel` must be a Conv2D layer, a (kh, kw, in_channels, filters) kernel, "
            f"a stack (filters, kh, kw) or one (kh, kw) kernel. Received: shape {array.shape}"
        )
    return array


def plot_filters(kernel, path, max_filters: int = 64, titles=None, title: str | None = None) -> str:
    """Draw every filter of a 2-D convolution kernel in a grid and save the picture.

    A kernel with 3 input channels is drawn in colour (each filter scaled to [0, 1]); otherwise each
    input channel of each filter is drawn in grey, one row per input channel (at most 8), with a
    diverging scale centred at zero so positive and negative weights read at a glance.

    Args:
        kernel: a built ``Conv2D`` layer, a ``(kh, kw, in_channels, filters)`` array (Keras's
            layout), a ``(filters, kh, kw)`` stack or one ``(kh, kw)`` kernel.
        path: the image file to write.
        max_filters: draw at most this many filters.
        titles: optional labels, one per filter.
        title: optional figure title.

    Returns:
        ``path``.

    Example:
        >>> import os, tempfile
        >>> from cnnkit.vision import gabor_kernel
        >>> bank = np.stack([gabor_kernel(theta=angle, size=15) for angle in np.linspace(0, np.pi, 4, endpoint=False)])
        >>> plot_filters(bank, os.path.join(tempfile.mkdtemp(), "gabor.png")).endswith("gabor.png")
        True
    """
    from ._figure import new_figure, save_figure

    array = _kernel_array(kernel)
    _, _, in_channels, filters = array.shape
    filters = min(filters, max_filters)
    colour = in_channels == 3
    rows_per_filter = 1 if colour else min(in_channels, 8)
    columns = min(filters, 8) if rows_per_filter == 1 else filters
    grid_rows = math.ceil(filters / columns) * rows_per_filter
    figure = new_figure(1.1 * columns + 0.4, 1.1 * grid_rows + (0.5 if title else 0.2))
    limit = float(np.abs(array).max()) or 1.0
    for index in range(filters):
        block_row, column = divmod(index, columns)
        for channel in range(rows_per_filter):
            position = (block_row * rows_per_filter + channel) * columns + column + 1
            axes = figure.add_subplot(grid_rows, columns, position)
            if colour:
                picture = array[:, :, :, index]
                low, high = picture.min(), picture.max()
                axes.imshow((picture - low) / ((high - low) or 1.0))
            else:
                axes.imshow(array[:, :, channel, index], cmap="RdBu_r", vmin=-limit, vmax=limit)
            axes.set_xticks([])
            axes.set_yticks([])
            if channel == 0 and titles is not None and index < len(titles):
                axes.set_title(str(titles[index]), fontsize=7)
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)
