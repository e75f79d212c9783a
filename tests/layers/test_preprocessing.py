"""Preprocessing layers: Rescaling, Normalization (adapt), and the random augmentations: identity
unless training, random but shape-preserving in training, exact transforms checked against
PyTorch's grid_sample and by hand."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnnkit.random
from cnnkit.layers import (
    Normalization,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Rescaling,
)
from cnnkit.layers.preprocessing import affine_transform
from harness import run_layer_test

RANDOM_LAYERS = [
    (RandomFlip, {}),
    (RandomTranslation, {"height_factor": 0.2, "width_factor": 0.2}),
    (RandomRotation, {"factor": 0.1}),
    (RandomZoom, {"height_factor": 0.3}),
]


def images(shape=(4, 9, 9, 2), seed=0):
    return np.random.default_rng(seed).random(shape).astype("float32")


# ----- random layers: inference identity, training randomness ----------------------------------------------
@pytest.mark.parametrize("layer_class, kwargs", RANDOM_LAYERS)
def test_random_layers_are_identity_unless_training(layer_class, kwargs):
    x = images()
    layer = layer_class(**kwargs)
    np.testing.assert_array_equal(layer(x).numpy(), x)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)


@pytest.mark.parametrize("layer_class, kwargs", RANDOM_LAYERS)
def test_random_layers_change_images_in_training_keep_shape_and_follow_the_seed(layer_class, kwargs):
    x = images((8, 9, 9, 2))
    cnnkit.random.set_seed(4)
    first = layer_class(**kwargs)(x, training=True).numpy()
    assert first.shape == x.shape and first.dtype == np.float32
    assert not np.array_equal(first, x)
    cnnkit.random.set_seed(4)
    np.testing.assert_array_equal(layer_class(**kwargs)(x, training=True).numpy(), first)
    seeded = layer_class(seed=3, **kwargs)
    again = layer_class(seed=3, **kwargs)
    np.testing.assert_array_equal(seeded(x, training=True).numpy(), again(x, training=True).numpy())
    # a single (unbatched) image and channels-first data keep their shapes too
    assert layer_class(**kwargs)(x[0], training=True).shape == x[0].shape
    x_first = x.transpose(0, 3, 1, 2).copy()
    assert layer_class(data_format="channels_first", **kwargs)(x_first, training=True).shape == x_first.shape


@pytest.mark.parametrize("layer_class, kwargs", RANDOM_LAYERS)
def test_random_layers_pass_the_harness(layer_class, kwargs):
    run_layer_test(layer_class, kwargs, (2, 6, 6, 1), expected_output_shape=(2, 6, 6, 1),
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0, training=True)


# ----- exact transforms -------------------------------------------------------------------------------
def grid_sample_reference(x, transforms, mode, padding_mode):
    """Resample NHWC images at the positions Keras's transform rows give, with torch's grid_sample."""
    batch, height, width, _ = x.shape
    rows, columns = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    grids = []
    for a0, a1, a2, b0, b1, b2, c0, c1 in transforms:
        k = c0 * columns + c1 * rows + 1
        source_x = (a0 * columns + a1 * rows + a2) / k
        source_y = (b0 * columns + b1 * rows + b2) / k
        # align_corners=True: pixel index i sits at -1 + 2 i / (n - 1)
        grids.append(np.stack([-1 + 2 * source_x / (width - 1), -1 + 2 * source_y / (height - 1)], axis=-1))
    grid = torch.tensor(np.stack(grids), dtype=torch.float64)
    sampled = F.grid_sample(torch.tensor(x, dtype=torch.float64).permute(0, 3, 1, 2), grid, mode=mode,
                            padding_mode=padding_mode, align_corners=True)
    return sampled.permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize("interpolation, fill_mode, torch_mode, torch_padding", [
    ("bilinear", "constant", "bilinear", "zeros"), ("bilinear", "nearest", "bilinear", "border"),
    ("nearest", "constant", "nearest", "zeros"),
])
def test_affine_transform_matches_torch_grid_sample(interpolation, fill_mode, torch_mode, torch_padding):
    x = images((3, 7, 8, 2), seed=1)
    angle = math.radians(30)
    transforms = np.array([
        [math.cos(angle), -math.sin(angle), 2.3, math.sin(angle), math.cos(angle), -1.7, 0, 0],
        [1.3, 0.2, -0.43, -0.1, 0.8, 0.93, 0, 0],  # no position exactly between two pixels
        [1, 0, -1.37, 0, 1, 2.21, 0, 0],
    ])
    ours = affine_transform(x, transforms, interpolation, fill_mode, 0.0)
    np.testing.assert_allclose(ours, grid_sample_reference(x, transforms, torch_mode, torch_padding), atol=1e-5)


@pytest.mark.parametrize("fill_mode, scipy_mode", [("reflect", "reflect"), ("wrap", "grid-wrap"),
                                                   ("nearest", "nearest"), ("constant", "grid-constant")])
@pytest.mark.parametrize("interpolation, order", [("bilinear", 1), ("nearest", 0)])
@pytest.mark.parametrize("transforms", [
    [[0.9, 0.35, -1.63, -0.3, 1.1, 2.27, 0, 0], [1, 0, 4.41, 0, 1, -3.29, 0, 0]],  # general: per-pixel path
    [[1.3, 0, -1.63, 0, 0.7, 2.27, 0, 0], [1, 0, 4.41, 0, 1, -3.29, 0, 0]],  # axis-aligned: separable path
    [[40.37, 0, 3.3, 0, 1, 0.2, 0, 0], [1, 0, 0, 0, -35.13, 0.7, 0, 0]],  # positions far outside the image
])
def test_affine_transform_matches_scipy_map_coordinates_as_keras_numpy_backend(fill_mode, scipy_mode, interpolation,
                                                                                order, transforms):
    # Keras's NumPy backend resamples with scipy.ndimage.map_coordinates and these mode names.
    ndimage = pytest.importorskip("scipy.ndimage")
    x = images((2, 6, 7, 2), seed=7)
    transforms = np.array(transforms)
    ours = affine_transform(x, transforms, interpolation, fill_mode, 0.5)
    rows, columns = np.meshgrid(np.arange(6), np.arange(7), indexing="ij")
    for image, output, (a0, a1, a2, b0, b1, b2, _, _) in zip(x, ours, transforms):
        coordinates = [b0 * columns + b1 * rows + b2, a0 * columns + a1 * rows + a2]
        for channel in range(2):
            expected = ndimage.map_coordinates(image[..., channel].astype(np.float64), coordinates, order=order,
                                               mode=scipy_mode, cval=0.5)
            np.testing.assert_allclose(output[..., channel], expected, atol=1e-5)


def test_translation_by_whole_pixels_in_each_fill_mode_by_hand():
    row = np.array([1.0, 2.0, 3.0, 4.0], dtype="float32").reshape(1, 1, 4, 1)
    expected = {  # shifted right by one pixel: what enters on the left
        "constant": [7.0, 1.0, 2.0, 3.0],  # fill_value 7
        "reflect": [1.0, 1.0, 2.0, 3.0],  # (d c b a | a b c d): reflect about the edge
        "wrap": [4.0, 1.0, 2.0, 3.0],
        "nearest": [1.0, 1.0, 2.0, 3.0],
    }
    for fill_mode, values in expected.items():
        layer = RandomTranslation(0.0, (0.25, 0.25), fill_mode=fill_mode, fill_value=7.0)
        np.testing.assert_allclose(layer(row, training=True).numpy().ravel(), values, err_msg=fill_mode)
    two = RandomTranslation(0.0, (0.5, 0.5), fill_mode="reflect")(row, training=True).numpy().ravel()
    np.testing.assert_allclose(two, [2.0, 1.0, 1.0, 2.0])
    down = RandomTranslation((0.5, 0.5), 0.0, fill_mode="constant")(np.arange(4, dtype="float32").reshape(1, 4, 1, 1),
                                                                  training=True)
    np.testing.assert_allclose(down.numpy().ravel(), [0.0, 0.0, 0.0, 1.0])  # positive height factor: down


def test_rotation_by_a_quarter_turn_is_counter_clockwise_rot90():
    x = images((2, 5, 5, 3), seed=2)
    output = RandomRotation((0.25, 0.25), interpolation="nearest")(x, training=True).numpy()
    np.testing.assert_allclose(output, np.rot90(x, k=1, axes=(1, 2)), atol=1e-6)


def test_rotation_matches_torch_for_a_generic_angle():
    x = images((1, 6, 7, 1), seed=3)
    layer = RandomRotation((1 / 12, 1 / 12), fill_mode="constant")  # 30 degrees
    angle = 2 * math.pi / 12
    cos, sin = math.cos(angle), math.sin(angle)
    height, width = 6, 7
    x_offset = ((width - 1) - (cos * (width - 1) - sin * (height - 1))) / 2
    y_offset = ((height - 1) - (sin * (width - 1) + cos * (height - 1))) / 2
    transform = [[cos, -sin, x_offset, sin, cos, y_offset, 0, 0]]
    np.testing.assert_allclose(layer(x, training=True).numpy(),
                               grid_sample_reference(x, transform, "bilinear", "zeros"), atol=1e-5)


def test_zoom_keeps_the_centre_and_scales_about_it():
    x = images((1, 9, 9, 1), seed=4)
    zoomed_in = RandomZoom((-0.5, -0.5), fill_mode="constant")(x, training=True).numpy()  # factor 0.5: 2x bigger
    assert zoomed_in[0, 4, 4, 0] == pytest.approx(x[0, 4, 4, 0])
    transform = [[0.5, 0, 4 * 0.5, 0, 0.5, 4 * 0.5, 0, 0]]
    np.testing.assert_allclose(zoomed_in, grid_sample_reference(x, transform, "bilinear", "zeros"), atol=1e-5)
    wide = RandomZoom((0.0, 0.0), (1.0, 1.0), fill_mode="constant")(x, training=True).numpy()  # width only, zoom out
    np.testing.assert_allclose(wide[0, :, 4, 0], x[0, :, 4, 0], atol=1e-6)  # the centre column stays
    np.testing.assert_allclose(wide[0, :, 0, 0], 0.0)  # the left edge reads outside: fill


def test_flip_modes():
    x = images((40, 3, 4, 1), seed=5)
    horizontal = RandomFlip("horizontal", seed=1)(x, training=True).numpy()
    flipped = np.array([np.array_equal(out, image[:, ::-1]) for out, image in zip(horizontal, x)])
    unchanged = np.array([np.array_equal(out, image) for out, image in zip(horizontal, x)])
    assert (flipped | unchanged).all() and flipped.any() and unchanged.any()
    vertical = RandomFlip("vertical", seed=1)(x, training=True).numpy()
    assert all(np.array_equal(out, image) or np.array_equal(out, image[::-1]) for out, image in zip(vertical, x))
    both = RandomFlip(seed=2)(x, training=True).numpy()
    options = lambda image: (image, image[::-1], image[:, ::-1], image[::-1, ::-1])  # noqa: E731
    assert all(any(np.array_equal(out, o) for o in options(image)) for out, image in zip(both, x))


def test_random_layer_input_rank_errors():
    with pytest.raises(ValueError, match=r"found ndim=2.*\(4, 4\)"):
        RandomFlip()(np.zeros((4, 4), dtype="float32"))


# ----- Rescaling and Normalization -------------------------------------------------------------------
def test_rescaling_uint8_images_and_per_channel_values():
    pixels = np.array([[[0, 128, 255]]], dtype="uint8")
    np.testing.assert_allclose(Rescaling(1 / 255)(pixels).numpy(), [[[0.0, 128 / 255, 1.0]]], rtol=1e-6)
    np.testing.assert_allclose(Rescaling(1 / 127.5, offset=-1)(pixels).numpy(), [[[-1.0, 128 / 127.5 - 1, 1.0]]],
                               atol=1e-6)
    per_channel = Rescaling([1.0, 2.0, 3.0], offset=[0.0, 0.0, 1.0])(np.ones((1, 3), dtype="float32"))
    np.testing.assert_array_equal(per_channel.numpy(), [[1.0, 2.0, 4.0]])
    assert Rescaling(2.0)(np.ones((1, 2), dtype="float32")).dtype == np.float32


def test_normalization_adapt_by_hand():
    data = (np.random.default_rng(6).standard_normal((50, 4, 4, 3)) * [1.0, 2.0, 3.0] + [0.0, 1.0, -2.0])
    data = data.astype("float32")
    layer = Normalization()
    layer.adapt(data)
    np.testing.assert_allclose(layer.adapt_mean.numpy(), data.astype(np.float64).mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(layer.adapt_variance.numpy(), data.astype(np.float64).var(axis=(0, 1, 2)), rtol=1e-5)
    output = layer(data).numpy()
    np.testing.assert_allclose(output.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(output.std(axis=(0, 1, 2)), 1.0, rtol=1e-4)
    batched = Normalization()
    batched.adapt(np.array_split(data, 7))
    np.testing.assert_allclose(batched.adapt_mean.numpy(), layer.adapt_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(batched.adapt_variance.numpy(), layer.adapt_variance.numpy(), rtol=1e-5)


def test_normalization_given_statistics_axis_none_and_invert():
    layer = Normalization(mean=[1.0, 2.0], variance=[4.0, 0.0])
    output = layer(np.array([[3.0, 2.0]], dtype="float32")).numpy()
    np.testing.assert_allclose(output, [[1.0, 0.0]])  # zero variance: divided by 1e-7, of a zero difference
    inverse = Normalization(mean=1.0, variance=4.0, invert=True)(np.array([[1.0, -1.0]], dtype="float32"))
    np.testing.assert_allclose(inverse.numpy(), [[3.0, -1.0]])
    scalar = Normalization(axis=None)
    data = np.array([[1.0, 2.0], [3.0, 6.0]], dtype="float32")
    scalar.adapt(data)
    assert scalar.adapt_mean.shape == () and float(scalar.adapt_mean.numpy()) == pytest.approx(3.0)
    given = Normalization(mean=1.0, variance=1.0)
    given(np.ones((2, 3), dtype="float32"))
    assert given.weights == [] and given.count_params() == 0


@pytest.mark.parametrize("layer_class, kwargs, shape, non_trainable", [
    (Rescaling, {"scale": 0.5, "offset": 1.0}, (2, 4, 3), 0),
    (Normalization, {}, (3, 4, 2), 2),
    (Normalization, {"axis": (1, 2)}, (3, 4, 2), 2),
    (Normalization, {"mean": [0.5, 1.0], "variance": [2.0, 3.0], "invert": True}, (3, 2), 0),
])
def test_rescaling_and_normalization_pass_the_harness(layer_class, kwargs, shape, non_trainable):
    run_layer_test(layer_class, kwargs, shape, expected_output_shape=shape, expected_num_trainable_weights=0,
                   expected_num_non_trainable_weights=non_trainable)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: RandomTranslation(1.5, 0.1), ValueError, "height_factor"),
        (lambda: RandomTranslation(0.1, (0.1,)), ValueError, "width_factor"),
        (lambda: RandomTranslation(0.1, "a"), ValueError, "width_factor"),
        (lambda: RandomTranslation(0.1, 0.1, fill_mode="mirror"), ValueError, "Received: fill_mode='mirror'"),
        (lambda: RandomTranslation(0.1, 0.1, interpolation="bicubic"), ValueError, "interpolation"),
        (lambda: RandomTranslation(0.1, 0.1, fill_value="black"), TypeError, "fill_value"),
        (lambda: RandomRotation((0.1, 2.0)), ValueError, "factor"),
        (lambda: RandomRotation(0.1, seed=-2), ValueError, "seed"),
        (lambda: RandomZoom(-1.5), ValueError, "height_factor"),
        (lambda: RandomZoom(0.1, width_factor=[0.1, 0.2, 0.3]), ValueError, "width_factor"),
        (lambda: RandomZoom(0.1, data_format="HWC"), ValueError, "data_format"),
        (lambda: RandomFlip("diagonal"), ValueError, "Received: mode='diagonal'"),
        (lambda: Rescaling("half"), TypeError, "scale"),
        (lambda: Rescaling(1.0, offset=None), TypeError, "offset"),
        (lambda: Normalization(mean=1.0), ValueError, "both `mean` and `variance`"),
        (lambda: Normalization(mean=0.0, variance=-1.0), ValueError, "variance"),
        (lambda: Normalization(axis="channels"), TypeError, "axis"),
        (lambda: Normalization(invert="yes"), TypeError, "invert"),
    ],
)
def test_bad_constructor_arguments_raise_in_init(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_normalization_cannot_adapt_with_given_statistics_or_empty_data():
    with pytest.raises(ValueError, match="cannot also adapt"):
        Normalization(mean=0.0, variance=1.0).adapt(np.ones((2, 1), dtype="float32"))
    with pytest.raises(ValueError, match="no data"):
        Normalization().adapt(iter([]))
