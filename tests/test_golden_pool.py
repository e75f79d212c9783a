"""Golden case from the lecture (seed-examples.md, section 2): 2x2 max pooling, stride 2, 'valid',
of image A gives 3x3; the last row and column of the 7x7 image fall outside every window."""
import numpy as np
import pytest
from lecture_images import IMAGE_A

from cnnkit import Tensor
from cnnkit.functional import max_pool, max_pool_with_argmax


EXPECTED = np.array(
    [
        [6, 8, 2],
        [7, 8, 8],
        [8, 7, 8],
    ],
    dtype=np.float32,
)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_lecture_max_pool_2x2_stride_2_valid(data_format):
    image = IMAGE_A[None, :, :, None] if data_format == "channels_last" else IMAGE_A[None, None]
    output = max_pool(Tensor(image), pool_size=2, strides=2, padding="valid", data_format=data_format)
    assert output.shape == ((1, 3, 3, 1) if data_format == "channels_last" else (1, 1, 3, 3))
    np.testing.assert_array_equal(output.numpy().reshape(3, 3), EXPECTED)


def test_lecture_max_pool_default_strides_and_argmax_point_at_the_maxima():
    output, indices = max_pool_with_argmax(IMAGE_A[None, :, :, None], 2)
    np.testing.assert_array_equal(output.numpy()[0, :, :, 0], EXPECTED)
    rows, columns = np.divmod(indices.numpy()[0, :, :, 0], 7)
    np.testing.assert_array_equal(IMAGE_A[rows, columns], EXPECTED)
    # The first window [[1, 6], [1, 6]] holds its maximum twice; the first one (row 0) wins.
    assert (rows[0, 0], columns[0, 0]) == (0, 1)


def test_lecture_max_pool_gradient_reaches_only_the_maxima():
    image = Tensor(IMAGE_A[None, :, :, None], requires_grad=True)
    max_pool(image, 2).sum().backward()
    gradient = image.grad[0, :, :, 0]
    assert gradient.sum() == 9.0 and set(np.unique(gradient)) == {0.0, 1.0}  # one cell per window
    np.testing.assert_array_equal(np.sort(IMAGE_A[gradient == 1]), np.sort(EXPECTED.ravel()))
    assert gradient[6].sum() == 0 and gradient[:, 6].sum() == 0  # last row and column: in no window
