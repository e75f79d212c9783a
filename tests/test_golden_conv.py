"""The lecture's worked convolution examples (seed-examples.md sections 1 and 3) through the
public API.

Section 1: a Conv2D layer's "convolution" is a cross-correlation (kernel not flipped).
Section 3: classic computer vision's convolution flips the kernel; the Sobel kernel applied by
convolve2d and by correlate2d gives the same numbers with opposite signs.
"""
import numpy as np
import pytest
from lecture_images import IMAGE_A

from cnnkit import functional as F


VALID_STRIDE_1 = [
    [31, 46, 36, 35, 31],
    [31, 41, 34, 40, 34],
    [33, 35, 36, 46, 43],
    [33, 33, 35, 51, 43],
    [30, 33, 40, 55, 50],
]

SAME_STRIDE_1 = [
    [14, 18, 32, 22, 22, 18, 16],
    [19, 31, 46, 36, 35, 31, 24],
    [20, 31, 41, 34, 40, 34, 23],
    [20, 33, 35, 36, 46, 43, 28],
    [25, 33, 33, 35, 51, 43, 30],
    [20, 30, 33, 40, 55, 50, 37],
    [13, 19, 23, 27, 38, 33, 25],
]

VALID_STRIDE_2 = [
    [31, 36, 31],
    [33, 36, 43],
    [30, 40, 50],
]


@pytest.mark.parametrize(
    "padding, strides, expected",
    [("valid", 1, VALID_STRIDE_1), ("same", 1, SAME_STRIDE_1), ("valid", 2, VALID_STRIDE_2)],
)
def test_section_1_box_filter_on_image_a(padding, strides, expected):
    x = IMAGE_A.reshape(1, 7, 7, 1)
    kernel = np.ones((3, 3, 1, 1), dtype=np.float32)
    output = F.conv(x, kernel, strides=strides, padding=padding)
    assert output.dtype == np.float32
    np.testing.assert_array_equal(output.numpy()[0, :, :, 0], np.array(expected, dtype=np.float32))


def test_section_1_same_in_channels_first():
    output = F.conv(IMAGE_A.reshape(1, 1, 7, 7), np.ones((3, 3, 1, 1), np.float32), padding="same", data_format="channels_first")
    np.testing.assert_array_equal(output.numpy()[0, 0], np.array(SAME_STRIDE_1, dtype=np.float32))


def test_section_1_conv_does_not_flip_the_kernel():
    """With an asymmetric kernel the layer's conv equals correlate2d, not convolve2d."""
    kernel = np.array([[1, 0, 0], [0, 0, 0], [0, 0, 2]], dtype=np.float32)
    layer_output = F.conv(IMAGE_A.reshape(1, 7, 7, 1), kernel.reshape(3, 3, 1, 1)).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(layer_output, F.correlate2d(IMAGE_A, kernel, mode="valid").numpy())
    assert not np.array_equal(layer_output, F.convolve2d(IMAGE_A, kernel, mode="valid").numpy())
    # top-left window: 1 * A[0, 0] + 2 * A[2, 2] = 1 + 16
    assert layer_output[0, 0] == 17


IMAGE_B = np.array(
    [
        [0.80, 0.74, 0.60, 0.50, 0.47, 0.55],
        [0.81, 0.73, 0.58, 0.45, 0.41, 0.46],
        [0.81, 0.73, 0.58, 0.43, 0.35, 0.38],
        [0.81, 0.73, 0.58, 0.43, 0.31, 0.31],
        [0.82, 0.73, 0.61, 0.44, 0.29, 0.27],
        [0.83, 0.75, 0.62, 0.44, 0.27, 0.25],
    ]
)

SOBEL = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=np.float64)

SOBEL_LECTURE = np.array(
    [
        [-0.89, -1.09, -0.71, 0.02],
        [-0.92, -1.18, -0.91, -0.20],
        [-0.90, -1.20, -1.11, -0.44],
        [-0.87, -1.21, -1.26, -0.63],
    ]
)


def test_section_3_sobel_is_a_true_convolution():
    """The lecture flips the kernel: convolve2d reproduces its numbers (to its printed precision)."""
    output = F.convolve2d(IMAGE_B, SOBEL, mode="valid").numpy()
    assert output.shape == (4, 4)
    np.testing.assert_allclose(output, SOBEL_LECTURE, atol=0.03)


def test_section_3_correlation_gives_the_opposite_sign():
    """Cross-correlating (what Conv2D does) with the same Sobel kernel negates every number,
    because this kernel is antisymmetric left-right: flipping it is multiplying it by -1."""
    convolved = F.convolve2d(IMAGE_B, SOBEL, mode="valid").numpy()
    correlated = F.correlate2d(IMAGE_B, SOBEL, mode="valid").numpy()
    np.testing.assert_allclose(correlated, -SOBEL_LECTURE, atol=0.03)
    np.testing.assert_allclose(correlated, -convolved, rtol=1e-12, atol=1e-12)
    layer = F.conv(IMAGE_B.reshape(1, 6, 6, 1), SOBEL.reshape(3, 3, 1, 1)).numpy()[0, :, :, 0]
    np.testing.assert_allclose(layer, correlated, rtol=1e-12, atol=1e-12)
