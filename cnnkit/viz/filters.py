"""Pictures of kernels: a grid of a convolution layer's filters (learned or hand-made), and the
learned first-layer kernels of a CNN beside the hand-made ones of classic vision (Sobel, Prewitt,
Gabor), with what each makes of one image."""
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


# ----- learned kernels next to the hand-made ones of classic vision ------------------------------
def _first_layer_kernel(source):
    """``(kernel (kh, kw, in_channels, filters) float32, the Conv2D layer it came from or None)``.

    ``source`` is a model (its first ``Conv2D`` is taken), a built ``Conv2D`` layer, or a 4-D
    kernel array / Tensor in Keras's layout.
    """
    from ..autograd import Tensor
    from ..layers import Conv2D, Layer

    function_name = "plot_learned_and_classic_filters"
    layer = None
    if isinstance(getattr(source, "layers", None), (list, tuple)) and not isinstance(source, Conv2D):
        layer = next((item for item in source.layers if isinstance(item, Conv2D)), None)
        if layer is None:
            raise TypeError(
                f"{function_name}: `kernel` is a model without a Conv2D layer, so it has no learned 2-D kernel "
                f"to draw. Received: kernel={getattr(source, 'name', source)!r} with layers "
                f"{[type(item).__name__ for item in source.layers]}"
            )
    elif isinstance(source, Conv2D):
        layer = source
    elif isinstance(source, Layer):
        raise TypeError(
            f"{function_name}: `kernel` must be a Conv2D layer (or a model, or a 4-D kernel array); a "
            f"{type(source).__name__} layer has no 2-D convolution kernel. "
            f"Received: kernel={getattr(source, 'name', source)!r} ({type(source).__name__})"
        )
    if layer is not None:
        if not layer.built or getattr(layer, "kernel", None) is None:
            raise ValueError(
                f"{function_name}: the Conv2D layer {layer.name!r} is not built yet, so it has no kernel; call "
                f"it on an input or build it first. Received: kernel={layer.name!r} (built=False)"
            )
        return np.asarray(layer.kernel.data, dtype=np.float32), layer
    if isinstance(source, Tensor):
        source = source.data
    try:
        array = np.asarray(source)
    except (TypeError, ValueError):
        array = None
    if array is None or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(
            f"{function_name}: `kernel` must be a model, a Conv2D layer or a numeric 4-D kernel array "
            f"(kh, kw, in_channels, filters). Received: kernel={source!r:.80}"
        )
    if array.ndim != 4 or min(array.shape) < 1:
        raise ValueError(
            f"{function_name}: `kernel` must be a 4-D kernel (kh, kw, in_channels, filters), Keras's layout "
            f"for Conv2D. Received: kernel with shape {array.shape}"
        )
    return array.astype(np.float32), None


def classic_filter_bank(size: int = 5) -> list[tuple[str, np.ndarray]]:
    """The hand-made kernels drawn beside learned ones: Sobel and Prewitt pairs, four Gabor orientations.

    Sobel and Prewitt are 3x3 edge detectors (a central difference smoothed across it); the Gabor
    kernels are ``size x size`` stripes at 0, 45, 90 and 135 degrees (even phase, wavelength
    ``0.8 * size``, envelope width ``size / 4``), the shape V1 cells and first CNN layers share.

    Args:
        size: the Gabor kernels' odd side length (match the learned kernels, e.g. 5 for LeNet-5).

    Returns:
        ``[(title, (kh, kw) float32 kernel), ...]``.

    Example:
        >>> [name for name, _ in classic_filter_bank()][:4]
        ['Sobel x', 'Sobel y', 'Prewitt x', 'Prewitt y']
    """
    from ..vision import gabor_kernel, prewitt_kernel, sobel_kernel

    bank = [("Sobel x", sobel_kernel("x")), ("Sobel y", sobel_kernel("y")),
            ("Prewitt x", prewitt_kernel("x")), ("Prewitt y", prewitt_kernel("y"))]
    for degrees in (0, 45, 90, 135):
        kernel = gabor_kernel(sigma=size / 4, theta=np.deg2rad(degrees), wavelength=0.8 * size, gamma=0.5,
                              size=size)
        bank.append((f"Gabor {degrees}\N{DEGREE SIGN}", kernel))
    return bank


def _digit(image, kernel_shape: tuple) -> np.ndarray:
    """One grayscale image as a float32 ``(height, width)`` array, at least ``kernel_shape`` large."""
    array = np.asarray(getattr(image, "data", image))
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 2 or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(
            "plot_learned_and_classic_filters: `image` must be one grayscale image (height, width) or "
            f"(height, width, 1). Received: image with shape {array.shape} and dtype {array.dtype}"
        )
    if array.shape[0] < kernel_shape[0] or array.shape[1] < kernel_shape[1]:
        raise ValueError(
            "plot_learned_and_classic_filters: `image` must be at least as large as the kernel "
            f"{kernel_shape[0]}x{kernel_shape[1]}. Received: image with shape {array.shape}"
        )
    return array.astype(np.float32)


def _learned_responses(array, layer, image) -> tuple[np.ndarray, str]:
    """``((height, width, filters) responses, row label)`` of the learned kernels to one gray image."""
    from ..autograd import Tensor, no_grad

    in_channels = array.shape[2]
    if layer is None:
        from ..functional import conv

        batch = np.repeat(image[None, :, :, None], in_channels, axis=-1)
        with no_grad():
            maps = conv(batch, array, padding="valid").numpy()[0]
        return maps, "their response\n(cross-correlation)"
    channels = in_channels * getattr(layer, "groups", 1)
    batch = np.repeat(image[None, :, :, None], channels, axis=-1)
    channels_first = layer.data_format == "channels_first"
    if channels_first:
        batch = np.transpose(batch, (0, 3, 1, 2))
    with no_grad():
        maps = np.asarray(layer(Tensor(np.ascontiguousarray(batch)), training=False).data)[0]
    if channels_first:
        maps = np.transpose(maps, (1, 2, 0))
    steps = ["conv + bias" if getattr(layer, "use_bias", True) else "conv"]
    activation = getattr(layer, "_activation_name", None) or getattr(layer.activation, "__name__", "")
    if activation and activation != "linear":
        steps.append(str(activation))
    return maps, f"{layer.name} output\n({', '.join(steps)})"


def plot_learned_and_classic_filters(kernel, path, image=None, max_filters: int = 8,
                                     gabor_size: int | None = None, title: str | None = None) -> str:
    """Draw hand-made kernels of classic vision above the kernels a CNN learned, and save the picture.

    The top row holds Sobel x/y, Prewitt x/y and Gabor kernels at 0, 45, 90 and 135 degrees
    (``classic_filter_bank``); the row below holds the first convolution layer's learned kernels.
    Each row has one colour scale, symmetric about zero (red positive, blue negative, white zero,
    a colour bar at the right), so the sign structure of the kernels is comparable at a glance:
    an edge detector is a red side next to a blue side, a bar detector a stripe between two others.

    With ``image``, each kernel row is followed by its responses to that image: the classic
    kernels convolved with it (``cnnkit.vision.apply_filter``, 'same' size), and the learned
    layer's own output (convolution plus bias, then its activation) or, for a bare kernel array,
    the cross-correlation a ``Conv2D`` without bias computes ('valid' size). The image is shown
    at the left of the response rows.

    A kernel with several input channels is drawn summed over its input channels: that summed
    kernel is exactly what the layer applies to a gray image repeated on every channel.

    Args:
        kernel: a model (its first ``Conv2D`` layer is used), a built ``Conv2D`` layer, or a 4-D
            kernel ``(kh, kw, in_channels, filters)`` (Keras's layout; array or Tensor).
        path: the image file to write (PNG unless the extension says otherwise).
        image: optional grayscale image ``(height, width)`` or ``(height, width, 1)``, e.g. one
            MNIST digit scaled to [0, 1].
        max_filters: draw at most this many learned kernels.
        gabor_size: the Gabor kernels' odd side; default the learned kernel's height when odd
            (so they compare at the same size), else 7.
        title: optional figure title.

    Returns:
        ``path``.

    Raises:
        TypeError: ``kernel`` is a layer other than ``Conv2D``, a model without one, or not numeric.
        ValueError: ``kernel`` is not 4-D, the layer is not built, ``image`` is not one grayscale
            image at least as large as the kernel, or ``max_filters`` is not a positive int.

    Example:
        >>> import os, tempfile
        >>> from cnnkit.zoo import lenet5
        >>> path = os.path.join(tempfile.mkdtemp(), "filters.png")
        >>> digit = np.zeros((28, 28), dtype="float32"); digit[6:22, 13:15] = 1.0   # a "1"
        >>> plot_learned_and_classic_filters(lenet5(), path, image=digit) == path
        True
    """
    from .. import shapes
    from ._figure import new_figure, save_figure

    array, layer = _first_layer_kernel(kernel)
    if isinstance(max_filters, bool) or not isinstance(max_filters, (int, np.integer)) or max_filters < 1:
        raise ValueError(
            "plot_learned_and_classic_filters: `max_filters` must be a positive int. "
            f"Received: max_filters={max_filters!r}"
        )
    if gabor_size is None:
        gabor_size = array.shape[0] if array.shape[0] % 2 == 1 and array.shape[0] >= 3 else 7
    classics = classic_filter_bank(gabor_size)
    learned = array.sum(axis=2)  # (kh, kw, filters): the kernel seen by a gray image on every channel
    filters = min(learned.shape[-1], int(max_filters))
    learned_label = "learned\nkernels" if layer is None else f"learned by\n{layer.name}"
    if array.shape[2] > 1:
        learned_label += f"\n(sum of {array.shape[2]} input channels)"
    if filters < learned.shape[-1]:
        learned_label += f"\n(first {filters} of {learned.shape[-1]})"

    rows = [("hand-made\nkernels", [kernel_ for _, kernel_ in classics], [name for name, _ in classics], True)]
    digit = None
    if image is not None:
        from ..vision import apply_filter

        dilation = (1, 1) if layer is None else layer.dilation_rate
        digit = _digit(image, tuple(shapes.effective_kernel_size(array.shape[axis], dilation[axis]) for axis in (0, 1)))
        responses = [apply_filter(digit, kernel_, mode="same") for _, kernel_ in classics]
        rows.append(("their response\n(convolution)", responses, None, False))
    rows.append((learned_label, [learned[:, :, index] for index in range(filters)],
                 [f"filter {index + 1}" for index in range(filters)], True))
    if digit is not None:
        maps, label = _learned_responses(array, layer, digit)
        rows.append((label, [maps[:, :, index] for index in range(filters)], None, False))

    columns = max(len(classics), filters)
    figure = new_figure(1.15 * columns + 3.0, 1.3 * len(rows) + (0.5 if title else 0.1))
    # Column 0: the row's label; column 1: the input image beside response rows; then the pictures.
    grid = figure.add_gridspec(len(rows), columns + 3, width_ratios=[1.2, 1.0] + [1.0] * columns + [0.12],
                               wspace=0.15, hspace=0.35, bottom=0.08, top=0.9 if title else 0.95)
    for row_index, (label, pictures, titles, is_kernel) in enumerate(rows):
        label_axes = figure.add_subplot(grid[row_index, 0])
        label_axes.axis("off")
        label_axes.text(1.0, 0.5, label, fontsize=8, ha="right", va="center", transform=label_axes.transAxes)
        if not is_kernel:
            input_axes = figure.add_subplot(grid[row_index, 1])
            input_axes.imshow(digit, cmap="gray_r")
            input_axes.set_xticks([])
            input_axes.set_yticks([])
            input_axes.set_title("input", fontsize=7)
        limit = max(float(np.abs(picture).max()) for picture in pictures) or 1.0
        for index, picture in enumerate(pictures):
            axes = figure.add_subplot(grid[row_index, 2 + index])
            drawn = axes.imshow(picture, cmap="RdBu_r", vmin=-limit, vmax=limit)
            axes.set_xticks([])
            axes.set_yticks([])
            if titles is not None:
                axes.set_title(titles[index], fontsize=7)
        colour_bar = figure.colorbar(drawn, cax=figure.add_subplot(grid[row_index, columns + 2]))
        colour_bar.ax.tick_params(labelsize=6)
    figure.text(0.5, 0.01, "red: positive, blue: negative, white: zero; one colour scale per row (bar at the right)",
                ha="center", va="bottom", fontsize=7, color="#444444")
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)
