"""Figures drawn off-screen: matplotlib's object API with the Agg canvas, never pyplot.

Using ``Figure`` and ``FigureCanvasAgg`` directly leaves the user's pyplot state and backend
alone and works without a display. matplotlib is imported here, and this module is imported only
inside the drawing functions, so ``import cnnkit`` never loads matplotlib.
"""
from __future__ import annotations

import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def new_figure(width_inches: float, height_inches: float, dpi: int = 100) -> Figure:
    """A figure with its own Agg canvas attached."""
    figure = Figure(figsize=(width_inches, height_inches), dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, path) -> str:
    """Write ``figure`` to ``path`` (format from the extension, PNG by default); make the folder."""
    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    figure.savefig(path, bbox_inches="tight")
    return path


def figure_to_rgb(figure: Figure) -> np.ndarray:
    """Render ``figure`` and return its pixels as a ``(height, width, 3)`` uint8 array."""
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
