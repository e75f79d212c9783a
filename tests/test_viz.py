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
    plot_learned_and_classic_filters,
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


def test_learned_kernels_beside_classic_ones(tmp_path):
    from cnnkit.datasets import mnist
    from cnnkit.layers import Conv2D
    from cnnkit.vision import sobel_kernel
    from cnnkit.viz import classic_filter_bank
    from cnnkit.zoo import lenet5

    bank = dict(classic_filter_bank(5))
    assert list(bank)[:4] == ["Sobel x", "Sobel y", "Prewitt x", "Prewitt y"] and len(bank) == 8
    np.testing.assert_array_equal(bank["Sobel x"], sobel_kernel("x"))
    assert bank["Gabor 45\N{DEGREE SIGN}"].shape == (5, 5) and bank["Gabor 0\N{DEGREE SIGN}"].dtype == np.float32

    _, (x_test, _) = mnist.load_data()
    digit = x_test[0].astype(np.float32) / 255.0
    # A model (its first Conv2D), with the responses to one digit: four rows of pictures.
    with_maps = plot_learned_and_classic_filters(lenet5(), tmp_path / "lenet.png", image=digit, title="LeNet-5")
    _check_png(with_maps, min_side=300)
    # A bare Conv2D layer, kernels only: two rows, so a much shorter picture.
    layer = Conv2D(4, 3)
    layer.build((None, 16, 16, 1))
    kernels_only = plot_learned_and_classic_filters(layer, tmp_path / "layer.png")
    _check_png(kernels_only, min_side=150)
    with Image.open(with_maps) as tall, Image.open(kernels_only) as short:
        assert tall.size[0] > tall.size[1] and tall.size[1] > 1.6 * short.size[1]
    # A raw (kh, kw, in_channels, filters) kernel with three input channels, and a (28, 28, 1) image.
    colour = np.random.default_rng(2).normal(size=(5, 5, 3, 10)).astype(np.float32)
    _check_png(plot_learned_and_classic_filters(colour, tmp_path / "raw.png", image=digit[..., None], max_filters=6))


@pytest.mark.parametrize(
    "make_kernel, error, message",
    [
        (lambda: np.zeros((5, 5)), ValueError, r"4-D kernel .* Received: kernel with shape \(5, 5\)"),
        (lambda: np.zeros((5, 5, 1, 6, 1)), ValueError, r"shape \(5, 5, 1, 6, 1\)"),
        (lambda: "sobel", TypeError, "numeric 4-D kernel"),
        ("pooling", TypeError, "AveragePooling2D layer has no 2-D convolution kernel"),
        ("dense_model", TypeError, "model without a Conv2D layer"),
        ("unbuilt", ValueError, "not built yet"),
    ],
)
def test_learned_and_classic_filters_reject_bad_kernels(tmp_path, make_kernel, error, message):
    from cnnkit.layers import AveragePooling2D, Conv2D, Dense
    from cnnkit.models import Sequential

    makers = {
        "pooling": lambda: AveragePooling2D(),
        "dense_model": lambda: Sequential([Dense(3, input_shape=(4,))]),
        "unbuilt": lambda: Conv2D(6, 5),
    }
    kernel = makers[make_kernel]() if isinstance(make_kernel, str) else make_kernel()
    with pytest.raises(error, match=message):
        plot_learned_and_classic_filters(kernel, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_learned_and_classic_filters_reject_bad_images_and_counts(tmp_path):
    kernel = np.ones((5, 5, 1, 2), dtype=np.float32)
    with pytest.raises(ValueError, match=r"one grayscale image .* shape \(8, 8, 3\)"):
        plot_learned_and_classic_filters(kernel, tmp_path / "bad.png", image=np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match=r"at least as large as the kernel 5x5. Received: image with shape \(4, 9\)"):
        plot_learned_and_classic_filters(kernel, tmp_path / "bad.png", image=np.zeros((4, 9)))
    with pytest.raises(ValueError, match="max_filters=0"):
        plot_learned_and_classic_filters(kernel, tmp_path / "bad.png", max_filters=0)


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
