"""An animated GIF of convolution arithmetic: the kernel sliding over a padded input.

In the manner of Dumoulin and Visin's "A guide to convolution arithmetic for deep learning": the
input (blue) with its zero padding (white, dashed), the cells the kernel reads at each step
(dark; spread apart by dilation), and the output (green) filling in, one frame per output cell.
Given an image and a kernel, the cells show the numbers too (the lecture's 7x7 example with a 3x3
kernel of ones gives 31, 46, 36, ...), computed by ``cnnkit.functional.conv``, a cross-correlation
as in every deep-learning library.

Frames are drawn with matplotlib's Agg canvas and written as a looping GIF by Pillow.
"""
from __future__ import annotations

import os

import numpy as np

from .. import shapes

_INPUT = "#9ecae1"
_PADDING = "#ffffff"
_WINDOW = "#2171b5"
_OUTPUT_DONE = "#a1d99b"
_OUTPUT_NOW = "#238b45"
_OUTPUT_TODO = "#ffffff"
_MAX_SIDE = 32
_MAX_FRAMES = 400


def _pair(value, name: str) -> tuple[int, int]:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, tuple, list)):
        raise TypeError(f"animate_convolution: `{name}` must be an int or a pair of ints. Received: {name}={value!r}")
    pair = (int(value), int(value)) if isinstance(value, (int, np.integer)) else tuple(int(item) for item in value)
    if len(pair) != 2:
        raise ValueError(f"animate_convolution: `{name}` must be an int or a pair of ints. Received: {name}={value!r}")
    return pair


def _padding_pairs(padding, input_size, kernel_size, strides, dilation_rate):
    """((top, bottom), (left, right)) for 'valid', 'same', an int or a pair of ints."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding == "same":
            return tuple(
                shapes.same_padding(input_size[axis], kernel_size[axis], strides[axis], dilation_rate[axis])
                for axis in range(2)
            )
        raise ValueError(
            "animate_convolution: `padding` must be 'valid', 'same', an int or a pair of ints. "
            f"Received: padding={padding!r}"
        )
    pads = _pair(padding, "padding")
    if min(pads) < 0:
        raise ValueError(f"animate_convolution: `padding` must be non-negative. Received: padding={padding!r}")
    return ((pads[0], pads[0]), (pads[1], pads[1]))


def animate_convolution(
    path,
    input_size=5,
    kernel_size=3,
    strides=1,
    padding=0,
    dilation_rate=1,
    image=None,
    kernel=None,
    frame_ms: int = 600,
) -> str:
    """Write an animated GIF of a 2-D convolution sweeping its input.

    Args:
        path: the ``.gif`` file to write.
        input_size: the input's side, or ``(height, width)``; ignored when ``image`` is given.
        kernel_size: the kernel's side, or ``(height, width)``; taken from ``kernel`` if given.
        strides: the step between windows, an int or a pair.
        padding: ``'valid'``, ``'same'`` (TensorFlow's rule), or zero padding on each side (an int
            or ``(rows, columns)``).
        dilation_rate: spacing between the kernel's taps, an int or a pair.
        image: optional 2-D array whose values are shown in the cells (at most 32x32).
        kernel: optional 2-D kernel for the shown outputs; default all ones.
        frame_ms: milliseconds per frame.

    Returns:
        ``path``.

    Raises:
        ValueError: an output with no cells, or an input over 32 cells a side.

    Shape:
        ``out = floor((n + pad_before + pad_after - dilation * (kernel - 1) - 1) / stride) + 1``
        along each axis (``cnnkit.shapes.conv_output_size``).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "conv.gif")
        >>> animate_convolution(path, input_size=5, kernel_size=3, strides=2, padding=1) == path
        True
    """
    from PIL import Image

    from ._figure import figure_to_rgb, new_figure

    values = None
    if image is not None:
        values = np.asarray(image, dtype=np.float32)
        if values.ndim != 2:
            raise ValueError(f"animate_convolution: `image` must be 2-D. Received: image with shape {values.shape}")
        input_size = values.shape
    weights = None
    if kernel is not None:
        weights = np.asarray(kernel, dtype=np.float32)
        if weights.ndim != 2:
            raise ValueError(f"animate_convolution: `kernel` must be 2-D. Received: kernel with shape {weights.shape}")
        kernel_size = weights.shape
    input_size = _pair(input_size, "input_size")
    kernel_size = _pair(kernel_size, "kernel_size")
    strides = _pair(strides, "strides")
    dilation_rate = _pair(dilation_rate, "dilation_rate")
    for name, pair in (("input_size", input_size), ("kernel_size", kernel_size), ("strides", strides),
                       ("dilation_rate", dilation_rate)):
        if min(pair) < 1:
            raise ValueError(f"animate_convolution: `{name}` must be positive. Received: {name}={pair!r}")
    if max(input_size) > _MAX_SIDE:
        raise ValueError(
            f"animate_convolution: the input must be at most {_MAX_SIDE} cells a side to stay readable. "
            f"Received: input_size={input_size!r}"
        )
    pads = _padding_pairs(padding, input_size, kernel_size, strides, dilation_rate)
    output_size = tuple(
        shapes.conv_output_size(input_size[axis], kernel_size[axis], strides[axis], dilation_rate[axis], *pads[axis])
        for axis in range(2)
    )
    if min(output_size) < 1:
        raise ValueError(
            "animate_convolution: the kernel does not fit in the padded input, so the output is empty. "
            f"Received: input_size={input_size}, kernel_size={kernel_size}, dilation_rate={dilation_rate}, "
            f"padding={padding!r}"
        )
    if output_size[0] * output_size[1] > _MAX_FRAMES:
        raise ValueError(
            f"animate_convolution: {output_size[0] * output_size[1]} output cells would make too many frames "
            f"(at most {_MAX_FRAMES}); use a smaller input or a larger stride."
        )

    outputs = None
    if values is not None:
        from ..functional import conv

        if weights is None:
            weights = np.ones(kernel_size, dtype=np.float32)
        outputs = conv(values[None, :, :, None], weights[:, :, None, None], strides=strides, padding=pads,
                       dilation_rate=dilation_rate).numpy()[0, :, :, 0]

    padded = (input_size[0] + sum(pads[0]), input_size[1] + sum(pads[1]))
    gap = 2
    figure = new_figure(0.42 * (padded[1] + gap + output_size[1]) + 0.6, 0.42 * max(padded[0], output_size[0]) + 1.3)
    axes = figure.add_axes((0.02, 0.02, 0.96, 0.8))
    axes.set_xlim(-0.2, padded[1] + gap + output_size[1] + 0.2)
    axes.set_ylim(max(padded[0], output_size[0]) + 0.2, -0.2)
    axes.set_aspect("equal")
    axes.axis("off")
    font_size = 9 if max(padded) <= 9 else 6

    from matplotlib.patches import Rectangle

    input_cells = {}
    for row in range(padded[0]):
        for column in range(padded[1]):
            inside = pads[0][0] <= row < pads[0][0] + input_size[0] and pads[1][0] <= column < pads[1][0] + input_size[1]
            cell = Rectangle((column, row), 1, 1, facecolor=_INPUT if inside else _PADDING, edgecolor="#555555",
                             linestyle="-" if inside else "--", linewidth=0.8)
            axes.add_patch(cell)
            input_cells[row, column] = (cell, _INPUT if inside else _PADDING)
            if values is not None and inside and max(padded) <= 16:
                value = values[row - pads[0][0], column - pads[1][0]]
                axes.text(column + 0.5, row + 0.5, f"{value:g}", ha="center", va="center", fontsize=font_size)
    left = padded[1] + gap
    output_cells = {}
    output_texts = {}
    for row in range(output_size[0]):
        for column in range(output_size[1]):
            cell = Rectangle((left + column, row), 1, 1, facecolor=_OUTPUT_TODO, edgecolor="#555555", linewidth=0.8)
            axes.add_patch(cell)
            output_cells[row, column] = cell
            if outputs is not None and max(output_size) <= 16:
                output_texts[row, column] = axes.text(left + column + 0.5, row + 0.5, "", ha="center", va="center",
                                                      fontsize=font_size)
    if isinstance(padding, str):
        pad_text = padding
    elif pads[0] == pads[1]:
        pad_text = str(pads[0][0])
    else:
        pad_text = f"{pads[0][0]}x{pads[1][0]}"
    figure.suptitle(
        f"input {input_size[0]}x{input_size[1]}, kernel {kernel_size[0]}x{kernel_size[1]}, stride "
        f"{strides[0]}, padding {pad_text}, dilation {dilation_rate[0]} -> output {output_size[0]}x{output_size[1]}\n"
        "out = floor((n + 2p - d(k - 1) - 1) / s) + 1",
        fontsize=9,
    )

    frames = []
    window = []
    for out_row in range(output_size[0]):
        for out_column in range(output_size[1]):
            for cell, colour in window:
                cell.set_facecolor(colour)
            window = []
            for tap_row in range(kernel_size[0]):
                for tap_column in range(kernel_size[1]):
                    position = (out_row * strides[0] + tap_row * dilation_rate[0],
                                out_column * strides[1] + tap_column * dilation_rate[1])
                    cell, colour = input_cells[position]
                    cell.set_facecolor(_WINDOW)
                    window.append((cell, colour))
            output_cells[out_row, out_column].set_facecolor(_OUTPUT_NOW)
            if (out_row, out_column) in output_texts:
                output_texts[out_row, out_column].set_text(f"{outputs[out_row, out_column]:g}")
            frames.append(Image.fromarray(figure_to_rgb(figure)))
            output_cells[out_row, out_column].set_facecolor(_OUTPUT_DONE)
    for cell, colour in window:
        cell.set_facecolor(colour)
    frames.append(Image.fromarray(figure_to_rgb(figure)))

    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    durations = [int(frame_ms)] * (len(frames) - 1) + [int(frame_ms) * 3]
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return path
