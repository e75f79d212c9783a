"""cnnkit.vision: classic filters (vs hand values, the lecture and SciPy) and digit pictures."""
import math

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage, signal

from cnnkit.datasets import mnist
from cnnkit.vision import (
    apply_filter,
    gabor_kernel,
    gaussian_blur,
    gaussian_kernel,
    gradient_magnitude,
    load_digit,
    load_image,
    prepare_digit,
    prewitt_kernel,
    sobel_kernel,
)

# seed-examples.md section 3: the lecture's image B and its Sobel output (printed to 2 decimals).
IMAGE_B = np.array(
    [
        [0.80, 0.74, 0.60, 0.50, 0.47, 0.55],
        [0.81, 0.73, 0.58, 0.45, 0.41, 0.46],
        [0.81, 0.73, 0.58, 0.43, 0.35, 0.38],
        [0.81, 0.73, 0.58, 0.43, 0.31, 0.31],
        [0.82, 0.73, 0.61, 0.44, 0.29, 0.27],
        [0.83, 0.75, 0.62, 0.44, 0.27, 0.25],
    ],
    dtype=np.float32,
)
SOBEL_B = np.array(
    [
        [-0.89, -1.09, -0.71, 0.02],
        [-0.92, -1.18, -0.91, -0.20],
        [-0.90, -1.20, -1.11, -0.44],
        [-0.87, -1.21, -1.26, -0.63],
    ],
    dtype=np.float32,
)


# ----- kernels --------------------------------------------------------------------------------
def test_sobel_and_prewitt_kernels_by_hand():
    np.testing.assert_array_equal(sobel_kernel("x"), [[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    np.testing.assert_array_equal(sobel_kernel("y"), [[1, 2, 1], [0, 0, 0], [-1, -2, -1]])
    np.testing.assert_array_equal(prewitt_kernel("x"), [[1, 0, -1], [1, 0, -1], [1, 0, -1]])
    np.testing.assert_array_equal(prewitt_kernel("y"), [[1, 1, 1], [0, 0, 0], [-1, -1, -1]])
    assert sobel_kernel().dtype == np.float32
    assert sobel_kernel(dtype="float64").dtype == np.float64


def test_gaussian_kernel_is_scipys_window_normalised():
    for sigma, size in ((1.0, None), (0.7, 5), (2.5, 9)):
        kernel = gaussian_kernel(sigma, size=size, dtype="float64")
        side = size or 2 * math.ceil(3 * sigma) + 1
        window = signal.windows.gaussian(side, std=sigma)
        np.testing.assert_allclose(kernel, np.outer(window, window) / np.outer(window, window).sum(), rtol=1e-12)
        assert kernel.shape == (side, side)
    assert gaussian_kernel(1.0).shape == (7, 7)
    np.testing.assert_allclose(gaussian_kernel(1.0).sum(), 1.0, rtol=1e-6)


def test_gabor_kernel_hand_values_and_symmetries():
    sigma, wavelength, gamma = 2.0, 4.0, 0.5
    kernel = gabor_kernel(sigma=sigma, theta=0.0, wavelength=wavelength, gamma=gamma, size=7, dtype="float64")
    centre = 3
    assert kernel[centre, centre] == pytest.approx(1.0)
    # Along the grating's normal (a row): x = 2 is half a wavelength, so cos = -1, envelope e^(-4/8).
    assert kernel[centre, centre + 2] == pytest.approx(-math.exp(-0.5))
    assert kernel[centre, centre + 1] == pytest.approx(0.0, abs=1e-12)  # quarter wavelength
    # Along the stripes (a column): no oscillation, envelope e^(-gamma^2 y^2 / (2 sigma^2)).
    assert kernel[centre + 3, centre] == pytest.approx(math.exp(-(0.25 * 9) / 8))
    # Turning the grating by 90 degrees transposes the kernel.
    turned = gabor_kernel(sigma=sigma, theta=math.pi / 2, wavelength=wavelength, gamma=gamma, size=7, dtype="float64")
    np.testing.assert_allclose(turned, kernel.T, atol=1e-12)
    # Phase pi/2 makes the odd (antisymmetric) kernel: an edge detector.
    odd = gabor_kernel(sigma=sigma, wavelength=wavelength, phase=math.pi / 2, size=7, dtype="float64")
    np.testing.assert_allclose(odd, -odd[:, ::-1], atol=1e-12)
    assert gabor_kernel(sigma=2.0, gamma=0.5).shape == (25, 25)  # 2 * ceil(3 * 2 / 0.5) + 1


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: sobel_kernel("z"), ValueError, "direction='z'"),
        (lambda: prewitt_kernel(0), ValueError, "direction=0"),
        (lambda: gaussian_kernel(0.0), ValueError, "sigma=0.0"),
        (lambda: gaussian_kernel("1"), TypeError, "sigma='1'"),
        (lambda: gaussian_kernel(1.0, size=4), ValueError, "size=4"),
        (lambda: gabor_kernel(wavelength=-1.0), ValueError, "wavelength=-1.0"),
        (lambda: gabor_kernel(theta="north"), TypeError, "theta='north'"),
        (lambda: apply_filter(np.zeros((2, 3, 4)), sobel_kernel()), ValueError, r"shape \(2, 3, 4\)"),
        (lambda: gradient_magnitude(np.zeros((4, 4)), operator="canny"), ValueError, "operator='canny'"),
    ],
)
def test_bad_filter_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ----- applying them ---------------------------------------------------------------------------
def test_lecture_sobel_example_is_a_true_convolution():
    """The lecture flips the kernel; cross-correlation (what Conv2D does) flips the sign here."""
    from cnnkit.functional import correlate2d

    convolved = apply_filter(IMAGE_B, sobel_kernel("x"), mode="valid")
    np.testing.assert_allclose(convolved, SOBEL_B, atol=0.03)
    correlated = correlate2d(IMAGE_B, sobel_kernel("x"), mode="valid").numpy()
    np.testing.assert_allclose(correlated, -SOBEL_B, atol=0.03)


@pytest.mark.parametrize("mode", ["same", "valid", "full"])
def test_apply_filter_matches_scipy_convolve2d(mode):
    image = np.random.default_rng(0).random((9, 11))
    kernel = gabor_kernel(sigma=1.0, theta=0.4, size=5, dtype="float64")
    np.testing.assert_allclose(apply_filter(image, kernel, mode=mode), signal.convolve2d(image, kernel, mode=mode),
                               rtol=1e-10, atol=1e-12)


def test_gradient_magnitude_and_blur_match_scipy_ndimage():
    image = np.random.default_rng(1).random((12, 10))
    expected = np.hypot(ndimage.sobel(image, axis=1, mode="constant"), ndimage.sobel(image, axis=0, mode="constant"))
    np.testing.assert_allclose(gradient_magnitude(image), expected, rtol=1e-10)
    expected_prewitt = np.hypot(ndimage.prewitt(image, axis=1, mode="constant"),
                                ndimage.prewitt(image, axis=0, mode="constant"))
    np.testing.assert_allclose(gradient_magnitude(image, "prewitt"), expected_prewitt, rtol=1e-10)
    blurred = gaussian_blur(image, sigma=1.0)
    np.testing.assert_allclose(blurred, ndimage.gaussian_filter(image, 1.0, mode="constant", truncate=3.0), rtol=1e-10)
    assert gaussian_blur(image.astype(np.float32)).dtype == np.float32


# ----- pictures of digits ----------------------------------------------------------------------
def _draw_seven(size=(120, 160), background="white", ink="navy", mode="RGB"):
    picture = Image.new(mode, size, background)
    ImageDraw.Draw(picture).line([(20, 25), (100, 25), (45, 145)], fill=ink, width=12)
    return picture


def _check_mnist_like(digit):
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert digit.min() >= 0.0 and digit.max() == pytest.approx(1.0)
    rows = np.flatnonzero(digit.any(axis=1))
    columns = np.flatnonzero(digit.any(axis=0))
    assert max(rows[-1] - rows[0], columns[-1] - columns[0]) + 1 == 20  # fitted into 20x20
    mass = digit.sum()
    centre_row = (digit.sum(axis=1) * np.arange(28)).sum() / mass
    centre_column = (digit.sum(axis=0) * np.arange(28)).sum() / mass
    assert abs(centre_row - 14) <= 0.5 and abs(centre_column - 14) <= 0.5


def test_dark_on_light_light_on_dark_and_transparent_give_the_same_digit(tmp_path):
    dark_on_light = tmp_path / "dark.png"
    _draw_seven().save(dark_on_light)
    light_on_dark = tmp_path / "light.png"
    _draw_seven(background="black", ink="white").save(light_on_dark)
    transparent = tmp_path / "transparent.png"
    _draw_seven(background=(0, 0, 0, 0), ink=(20, 20, 20, 255), mode="RGBA").save(transparent)
    digits = [load_digit(path) for path in (dark_on_light, light_on_dark, transparent)]
    for digit in digits:
        _check_mnist_like(digit)
    np.testing.assert_allclose(digits[0], digits[1], atol=0.08)
    np.testing.assert_allclose(digits[0], digits[2], atol=0.08)


def test_an_enlarged_mnist_digit_comes_back_close_to_itself(tmp_path):
    _, (x_test, _) = mnist.load_data()
    original = x_test[0].astype(np.float32) / 255.0
    enlarged = Image.fromarray(255 - x_test[0]).resize((140, 140), Image.Resampling.BILINEAR)  # dark on white
    path = tmp_path / "digit.jpg"
    enlarged.convert("RGB").save(path, quality=90)
    recovered = load_digit(path)
    correlation = np.corrcoef(recovered.ravel(), original.ravel())[0, 1]
    assert correlation > 0.9


def test_load_image_modes(tmp_path):
    path = tmp_path / "gray16.png"
    Image.fromarray(np.full((3, 5), 65535, dtype=np.uint16)).save(path)
    np.testing.assert_allclose(load_image(path), 1.0)
    path = tmp_path / "colour.png"
    Image.new("RGB", (2, 2), (255, 0, 0)).save(path)
    assert load_image(path, grayscale=False).shape == (2, 2, 3)
    np.testing.assert_allclose(load_image(path), 0.299, rtol=1e-6)


def test_picture_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.png"):
        load_digit(tmp_path / "absent.png")
    not_image = tmp_path / "notes.png"
    not_image.write_text("not a picture")
    with pytest.raises(ValueError, match="not an image Pillow can read"):
        load_image(not_image)
    blank = tmp_path / "blank.png"
    Image.new("L", (30, 30), 255).save(blank)
    with pytest.raises(ValueError, match="uniform"):
        load_digit(blank)
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4, 5\)"):
        prepare_digit(np.zeros((2, 3, 4, 5)))
