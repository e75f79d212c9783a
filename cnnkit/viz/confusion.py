"""Confusion-matrix pictures: counts per (true class, predicted class), as a PNG."""
from __future__ import annotations

import numpy as np


def confusion_counts(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Count how often each true class was predicted as each class.

    Args:
        y_true: integer labels ``(N,)``.
        y_pred: integer predictions ``(N,)``, or class scores ``(N, C)`` (argmax is taken).
        num_classes: the number of classes; default ``max(labels) + 1``.

    Returns:
        An int64 ``(C, C)`` array: row = true class, column = predicted class (Keras/scikit-learn order).

    Example:
        >>> confusion_counts([0, 1, 1, 2], [0, 2, 1, 2])
        array([[1, 0, 0],
               [0, 1, 1],
               [0, 0, 1]])
    """
    y_true = np.asarray(y_true).reshape(-1)
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2:
        y_pred = y_pred.argmax(axis=-1)
    y_pred = y_pred.reshape(-1)
    if len(y_true) != len(y_pred):
        raise ValueError(
            "confusion_counts: `y_true` and `y_pred` must hold as many items. "
            f"Received: {len(y_true)} labels and {len(y_pred)} predictions"
        )
    if num_classes is None:
        num_classes = int(max(y_true.max(initial=0), y_pred.max(initial=0))) + 1
    index = y_true.astype(np.int64) * num_classes + y_pred.astype(np.int64)
    return np.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def plot_confusion_matrix(matrix, path, class_names=None, title: str | None = None) -> str:
    """Draw a confusion matrix with its counts and save it.

    Cells are shaded by the fraction of their row (recall per class) so that rare classes show as
    clearly as common ones; the diagonal holds the correct predictions. The default title gives the
    accuracy (diagonal over total).

    Args:
        matrix: a ``(C, C)`` array of counts, row = true class, column = predicted class.
        path: the image file to write.
        class_names: ``C`` labels for the axes; default ``0 .. C-1``.
        title: the figure title; default ``"Confusion matrix (accuracy 98.15%)"``.

    Returns:
        ``path``.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "confusion.png")
        >>> plot_confusion_matrix([[5, 1], [0, 4]], path) == path
        True
    """
    from ._figure import new_figure, save_figure

    counts = np.asarray(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(
            f"plot_confusion_matrix: `matrix` must be a square (C, C) array. Received: shape {counts.shape}"
        )
    classes = counts.shape[0]
    names = [str(index) for index in range(classes)] if class_names is None else [str(name) for name in class_names]
    if len(names) != classes:
        raise ValueError(
            f"plot_confusion_matrix: `class_names` must have {classes} entries. Received: {len(names)} names"
        )
    row_totals = counts.sum(axis=1, keepdims=True)
    fractions = counts / np.maximum(row_totals, 1)
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    side = max(3.5, 0.5 * classes + 1.5)
    figure = new_figure(side + 0.8, side)
    axes = figure.add_subplot(1, 1, 1)
    image = axes.imshow(fractions, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="fraction of true class")
    for row in range(classes):
        for column in range(classes):
            if counts[row, column]:
                colour = "white" if fractions[row, column] > 0.5 else "black"
                axes.text(column, row, str(int(counts[row, column])), ha="center", va="center",
                          fontsize=8, color=colour)
    axes.set_xticks(range(classes), names)
    axes.set_yticks(range(classes), names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title or f"Confusion matrix (accuracy {100 * accuracy:.2f}%)")
    figure.tight_layout()
    return save_figure(figure, path)
