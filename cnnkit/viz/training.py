"""Training curves: loss and metrics per epoch, training and validation, as a PNG."""
from __future__ import annotations


def plot_history(history, path, title: str | None = None) -> str:
    """Draw the curves of a ``History`` (or its ``.history`` dict) and save them.

    One panel per quantity (``loss``, ``accuracy``, ...), training and ``val_`` curves together;
    a ``learning_rate`` entry, when present, gets its own panel.

    Args:
        history: the ``History`` returned by ``model.fit`` or a dict ``{name: [value per epoch]}``.
        path: the image file to write (PNG unless the extension says otherwise).
        title: an optional figure title.

    Returns:
        ``path``.

    Raises:
        ValueError: a history with no values.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "curves.png")
        >>> plot_history({"loss": [0.9, 0.4, 0.3], "val_loss": [1.0, 0.5, 0.45]}, path) == path
        True
    """
    from ._figure import new_figure, save_figure

    values = getattr(history, "history", history)
    if not isinstance(values, dict) or not any(len(series) for series in values.values()):
        raise ValueError(
            "plot_history: `history` must be a History or a dict of per-epoch values with at least one "
            f"value. Received: history={history!r}"
        )
    names = [name for name in values if not name.startswith("val_") and len(values[name])]
    for name in values:  # validation-only entries still get a panel
        base = name[4:] if name.startswith("val_") else name
        if base not in names and len(values[name]):
            names.append(base)
    figure = new_figure(4.2 * len(names), 3.4)
    for index, name in enumerate(names):
        axes = figure.add_subplot(1, len(names), index + 1)
        for key, style in ((name, "-o"), (f"val_{name}", "--s")):
            series = values.get(key)
            if series is not None and len(series):
                epochs = range(1, len(series) + 1)
                axes.plot(epochs, [float(value) for value in series], style, markersize=3, label=key)
        axes.set_xlabel("epoch")
        axes.set_title(name)
        if name in ("loss", "learning_rate", "lr"):
            positive = all(float(value) > 0 for key in (name, f"val_{name}") for value in values.get(key, []))
            if positive:
                axes.set_yscale("log")
        axes.grid(True, alpha=0.3)
        axes.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return save_figure(figure, path)
