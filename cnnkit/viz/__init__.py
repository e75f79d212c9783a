"""Pictures: training curves, confusion matrices, filters, feature maps, convolution animations.

matplotlib is imported inside the drawing functions only (through the off-screen Agg canvas,
never pyplot), so ``import cnnkit`` and ``import cnnkit.viz`` stay light and need no display.

- ``plot_history``: loss and metrics per epoch (PNG).
- ``confusion_counts``, ``plot_confusion_matrix``: counts and their picture.
- ``plot_filters``: a grid of convolution kernels (learned, or Gabor/Sobel banks).
- ``plot_learned_and_classic_filters``, ``classic_filter_bank``: Sobel, Prewitt and Gabor kernels
  above a model's learned first-layer kernels, with each row's responses to one image.
- ``feature_maps``, ``plot_feature_maps``: each layer's activations for one image.
- ``animate_convolution``: a GIF of the kernel sliding over a padded input.

Example:
    >>> import os, tempfile
    >>> from cnnkit.viz import plot_history
    >>> path = plot_history({"loss": [1.0, 0.5]}, os.path.join(tempfile.mkdtemp(), "loss.png"))
"""
from .animation import animate_convolution
from .confusion import confusion_counts, plot_confusion_matrix
from .feature_maps import feature_maps, plot_feature_maps
from .filters import classic_filter_bank, plot_filters, plot_learned_and_classic_filters
from .training import plot_history

__all__ = [
    "animate_convolution",
    "classic_filter_bank",
    "confusion_counts",
    "plot_confusion_matrix",
    "feature_maps",
    "plot_feature_maps",
    "plot_filters",
    "plot_learned_and_classic_filters",
    "plot_history",
]
