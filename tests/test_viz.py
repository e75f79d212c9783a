"""cnnkit.viz: pictures are written and readable; matplotlib stays out of `import cnnkit`."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cnnkit.viz import (
    animate_convolution,
    confusion_counts,
    feature_maps,
    plot_confusion_matrix,
    plot_feature_maps,
    plot_filters,
    plot_history,
)


def _check_png(path, min_side=50):
    with Image.open(path) as picture:
        assert picture.format == "PNG"
        assert min(picture.size) >= min_side
        pixels = np.asarray(picture.convert("L"))
    assert pixels.std() > 1.0  # something was drawn, not a blank page


def test_import_cnnkit_loads_neither_matplotlib_nor_pillow():
    code = (
        "import sys, cnnkit, cnnkit.viz, cnnkit.vision, cnnkit.inspect, cnnkit.datasets, cnnkit.zoo, cnnkit.cli\n"
        "print(sorted(name for name in ('matplotlib', 'PIL') if name in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_training_curves(tmp_path):
    history = {
        "loss": [1.2, 0.5, 0.3],
        "accuracy": [0.6, 0.85, 0.9],
        "val_loss": [1.0, 0.6, 0.4],
        "val_accuracy": [0.7, 0.8, 0.88],
        "learning_rate": [1e-3, 5e-4, 1e-4],
    }
    path = plot_history(history, tmp_path / "runs" / "curves.png", title="three epochs")
    assert str(path).endswith("curves.png")
    _check_png(path)

    class History:  # what model.fit returns: the dict is in .history
        pass

    wrapped = History()
    wrapped.history = {"loss": [0.5]}
    _check_png(plot_history(wrapped, tmp_path / "one.png"))
    with pytest.raises(ValueError, match="at least one value"):
        plot_history({}, tmp_path / "empty.png")


def test_confusion_counts_and_picture(tmp_path):
    counts = confusion_counts([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2])
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    scores = np.eye(3)[[0, 1, 1, 2, 0, 2]]
    np.testing.assert_array_equal(confusion_counts([0, 0, 1, 2, 2, 2], scores, num_classes=4)[:3, :3], counts)
    _check_png(plot_confusion_matrix(counts, tmp_path / "confusion.png", class_names=["a", "b", "c"]))
    with pytest.raises(ValueError, match=r"square \(C, C\)"):
        plot_confusion_matrix(np.zeros((2, 3)), tmp_path / "bad.png")
    with pytest.raises(ValueError, match="3 entries"):
        plot_confusion_matrix(counts, tmp_path / "bad.png", class_names=["a"])
    with pytest.raises(ValueError, match="3 labels and 2 predictions"):
        confusion_counts([0, 1, 2], [0, 1])


def test_filter_grids(tmp_path):
    from cnnkit.vision import gabor_kernel

    bank = np.stack([gabor_kernel(theta=angle, size=11) for angle in np.linspace(0, np.pi, 6, endpoint=False)])
    _check_png(plot_filters(bank, tmp_path / "gabor.png", titles=[f"{k * 30} deg" for k in range(6)]))
    colour = np.random.default_rng(0).normal(size=(5, 5, 3, 10))
    _check_png(plot_filters(colour, tmp_path / "colour.png", title="RGB filters"))
    grey = np.random.default_rng(1).normal(size=(5, 5, 6, 4))
    _check_png(plot_filters(grey, tmp_path / "grey.png"))
    with pytest.raises(ValueError, match=r"shape \(1, 2, 3, 4, 5\)"):
        plot_filters(np.zeros((1, 2, 3, 4, 5)), tmp_path / "bad.png")


def test_convolution_animation(tmp_path):
    path = animate_convolution(tmp_path / "conv.gif", input_size=5, kernel_size=3, strides=2, padding=1)
    with Image.open(path) as picture:
        assert picture.format == "GIF"
        assert picture.n_frames == 3 * 3 + 1  # one per output cell, then the finished picture
    lecture = np.array([[1, 6, 2, 8, 1, 2, 7], [1, 6, 2, 8, 1, 2, 5], [0, 5, 8, 1, 5, 7, 1], [1, 7, 1, 3, 5, 8, 0],
                        [5, 2, 4, 4, 5, 8, 4], [8, 2, 3, 7, 3, 8, 2], [1, 2, 3, 6, 5, 9, 6]])
    path = animate_convolution(tmp_path / "lecture.gif", image=lecture, kernel=np.ones((3, 3)), padding="same",
                               strides=3, frame_ms=100)
    with Image.open(path) as picture:
        assert picture.n_frames == 3 * 3 + 1  # ceil(7 / 3) a side with 'same' padding
    path = animate_convolution(tmp_path / "dilated.gif", input_size=7, dilation_rate=2)
    with Image.open(path) as picture:
        assert picture.n_frames == 3 * 3 + 1


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"input_size": 3, "kernel_size": 5}, "output is empty"),
        ({"input_size": 40}, "at most 32"),
        ({"padding": "full"}, "padding='full'"),
        ({"strides": 0}, "strides"),
        ({"image": np.zeros((2, 2, 2))}, r"shape \(2, 2, 2\)"),
    ],
)
def test_animation_errors(tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        animate_convolution(tmp_path / "bad.gif", **arguments)


def test_feature_maps_of_lenet(tmp_path):
    from cnnkit.datasets import mnist
    from cnnkit.zoo import lenet5

    model = lenet5()
    _, (x_test, _) = mnist.load_data()
    digit = x_test[0, :, :, None].astype(np.float32) / 255.0
    maps = feature_maps(model, digit)
    assert [array.shape for _, array in maps] == [(24, 24, 6), (12, 12, 6), (8, 8, 16), (4, 4, 16)]
    # The first map is tanh(conv1(digit)): bounded, and not constant for a real digit.
    first = maps[0][1]
    assert np.abs(first).max() < 1.0 and first.std() > 0.0
    _check_png(plot_feature_maps(model, digit, tmp_path / "maps.png", max_channels=8))
