"""cnnkit.datasets.mnist: the bundled digits, IDX files (gzipped and plain) and their errors."""
import gzip
import os

import numpy as np
import pytest

from cnnkit.datasets import mnist

# From shared/data/README.md: digits 0-9 in each part of the bundled split.
TRAIN_COUNTS = [798, 875, 785, 831, 800, 698, 804, 864, 756, 789]
TEST_COUNTS = [203, 252, 206, 201, 180, 165, 210, 206, 188, 189]


def test_bundled_digits_match_keras_layout_and_documented_counts():
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert x_train.shape == (8000, 28, 28) and x_test.shape == (2000, 28, 28)
    assert y_train.shape == (8000,) and y_test.shape == (2000,)
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8
    assert np.bincount(y_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(y_test, minlength=10).tolist() == TEST_COUNTS
    assert x_train.min() == 0 and x_train.max() == 255
    # Real digits: ink in the middle, blank corners (as in MNIST's 20x20 box in a 28x28 field).
    assert x_train[:, :2, :2].max() == 0
    assert x_train[:, 10:18, 10:18].mean() > 50


def test_bundled_split_has_no_duplicated_digit_between_train_and_test():
    (x_train, _), (x_test, _) = mnist.load_data()
    train_rows = {row.tobytes() for row in x_train.reshape(len(x_train), -1)}
    assert not any(row.tobytes() in train_rows for row in x_test.reshape(len(x_test), -1))


def _idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """Hand-build an IDX file: two zero bytes, the type code, ndim, big-endian sizes, data."""
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_mnist_folder(folder, rng, gzipped: bool, dotted: bool = False):
    arrays = {
        "x_train": rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, size=7, dtype=np.uint8),
        "x_test": rng.integers(0, 256, size=3, dtype=np.uint8).repeat(28 * 28).reshape(3, 28, 28),
        "y_test": np.array([9, 0, 4], dtype=np.uint8),
    }
    for role, array in arrays.items():
        name = mnist.IDX_FILE_NAMES[role]
        if dotted:
            name = name.replace("-idx", ".idx")
        data = _idx_bytes(array)
        if gzipped:
            with gzip.open(os.path.join(folder, name + ".gz"), "wb") as file:
                file.write(data)
        else:
            with open(os.path.join(folder, name), "wb") as file:
                file.write(data)
    return arrays


@pytest.mark.parametrize("gzipped", [True, False], ids=["gz", "plain"])
def test_idx_folder_is_read_exactly(tmp_path, gzipped):
    arrays = _write_mnist_folder(tmp_path, np.random.default_rng(0), gzipped)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(path=tmp_path)
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    np.testing.assert_array_equal(y_train, arrays["y_train"])
    np.testing.assert_array_equal(x_test, arrays["x_test"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])
    assert x_train.dtype == np.uint8 and y_test.dtype == np.uint8


def test_idx_folder_with_historical_dotted_names(tmp_path):
    arrays = _write_mnist_folder(tmp_path, np.random.default_rng(1), gzipped=False, dotted=True)
    (_, y_train), _ = mnist.load_data(path=str(tmp_path))
    np.testing.assert_array_equal(y_train, arrays["y_train"])


def test_read_idx_handles_other_types_in_native_byte_order(tmp_path):
    values = np.array([[1.5, -2.0], [3.25, 0.0]], dtype=np.float32)
    path = tmp_path / "floats.idx"
    path.write_bytes(_idx_bytes(values, type_code=0x0D))
    result = mnist.read_idx(path)
    assert result.dtype == np.float32 and result.dtype.isnative
    np.testing.assert_array_equal(result, values)
    shorts = np.array([-300, 7, 1000], dtype=np.int16)
    path = tmp_path / "shorts.idx"
    path.write_bytes(_idx_bytes(shorts, type_code=0x0B))
    np.testing.assert_array_equal(mnist.read_idx(path), shorts)


def test_keras_style_npz_file(tmp_path):
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x_train[:5], y_train=y_train[:5], x_test=x_test[:2], y_test=y_test[:2])
    (a, b), (c, d) = mnist.load_data(path=path)
    np.testing.assert_array_equal(a, x_train[:5])
    np.testing.assert_array_equal(d, y_test[:2])


def test_missing_folder_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing exists there"):
        mnist.load_data(path=tmp_path / "absent")
    _write_mnist_folder(tmp_path, np.random.default_rng(2), gzipped=True)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        mnist.load_data(path=tmp_path)


def test_bad_magic_number(tmp_path):
    _write_mnist_folder(tmp_path, np.random.default_rng(3), gzipped=False)
    path = tmp_path / "train-images-idx3-ubyte"
    data = bytearray(path.read_bytes())
    data[0:4] = b"\x50\x4b\x03\x04"  # a zip file's signature
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="bad magic number 0x504b0304"):
        mnist.load_data(path=tmp_path)


@pytest.mark.parametrize("keep", [2, 10, 4 + 12 + 100], ids=["in-magic", "in-header", "in-data"])
def test_truncated_file(tmp_path, keep):
    _write_mnist_folder(tmp_path, np.random.default_rng(4), gzipped=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(path, "rb") as file:
        data = file.read()
    with gzip.open(path, "wb") as file:
        file.write(data[:keep])
    with pytest.raises(ValueError, match="truncated"):
        mnist.load_data(path=tmp_path)


def test_extra_bytes_and_broken_gzip(tmp_path):
    _write_mnist_folder(tmp_path, np.random.default_rng(5), gzipped=False)
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes() + b"\x00\x01")
    with pytest.raises(ValueError, match="but 9 bytes follow"):
        mnist.load_data(path=tmp_path)
    broken = tmp_path / "broken-idx1-ubyte.gz"
    compressed = gzip.compress(_idx_bytes(np.arange(50, dtype=np.uint8)))
    broken.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(ValueError, match="not a readable gzip file"):
        mnist.read_idx(broken)
    with pytest.raises(FileNotFoundError, match="no IDX file"):
        mnist.read_idx(tmp_path / "nothing")


def test_inconsistent_contents_are_refused(tmp_path):
    arrays = _write_mnist_folder(tmp_path, np.random.default_rng(6), gzipped=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(arrays["y_train"][:5]))
    with pytest.raises(ValueError, match="7 train images but 5 train labels"):
        mnist.load_data(path=tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(np.full(7, 12, dtype=np.uint8)))
    with pytest.raises(ValueError, match="digits 0-9. Received: a label 12"):
        mnist.load_data(path=tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(arrays["y_train"]))
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx_bytes(np.zeros((7, 32, 32), dtype=np.uint8)))
    with pytest.raises(ValueError, match=r"shape \(N, 28, 28\). Received: shape \(7, 32, 32\)"):
        mnist.load_data(path=tmp_path)


def test_npz_without_the_arrays_or_with_pickles_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, images=np.zeros((2, 28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match="lacks the arrays"):
        mnist.load_data(path=path)
    pickled = tmp_path / "pickled.npz"
    objects = np.array([{"a": 1}], dtype=object)
    np.savez(pickled, x_train=objects, y_train=objects, x_test=objects, y_test=objects)
    with pytest.raises(ValueError, match="not a readable .npz"):
        mnist.load_data(path=pickled)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a readable .npz"):
        mnist.load_data(path=junk)
