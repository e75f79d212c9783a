"""MNIST handwritten digits: the 10,000 bundled with cnnkit, or the full set from IDX files.

``load_data()`` returns ``((x_train, y_train), (x_test, y_test))`` exactly as
``keras.datasets.mnist.load_data()`` does (uint8 images of shape ``(N, 28, 28)``, uint8 labels of
shape ``(N,)``), so lecture code runs unchanged. With no argument it reads the 10,000 real MNIST
digits that ship inside the package (``data/mnist-10k.npz``: 8,000 for training, 2,000 held out,
every class in both parts; MIT licence in ``data/mnist-10k.LICENSE``). Nothing is downloaded.

``load_data(path=FOLDER)`` reads the full MNIST (60,000 + 10,000 digits) from the four IDX files
Yann LeCun's page distributes, gzipped or not; ``read_idx`` reads any single IDX file.

The IDX format: a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian int32 per dimension, then the values in C order, big-endian.
"""
from __future__ import annotations

import gzip
import os
import zlib
from importlib import resources

import numpy as np

__all__ = ["load_data", "read_idx", "NUM_CLASSES", "IDX_FILE_NAMES"]

NUM_CLASSES = 10

# The four files of the full MNIST, by role. Each may also end in ".gz"; the historical
# spelling with a dot before "idx" (train-images.idx3-ubyte) is accepted too.
IDX_FILE_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

# IDX type code -> (NumPy big-endian dtype, name in messages)
_IDX_TYPES = {
    0x08: (np.dtype(">u1"), "unsigned byte"),
    0x09: (np.dtype(">i1"), "signed byte"),
    0x0B: (np.dtype(">i2"), "short"),
    0x0C: (np.dtype(">i4"), "int"),
    0x0D: (np.dtype(">f4"), "float"),
    0x0E: (np.dtype(">f8"), "double"),
}

_BUNDLED_FILE = "mnist-10k.npz"
_BUNDLED_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(path=None):
    """Load MNIST digits as Keras does.

    Args:
        path: ``None`` (default) for the 10,000 digits bundled with cnnkit; a folder holding the
            four MNIST IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
            ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each optionally ``.gz``) for
            the full 60,000 + 10,000; or a ``.npz`` file with the arrays ``x_train``, ``y_train``,
            ``x_test``, ``y_test`` (Keras's ``mnist.npz`` cache has this form).

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: images uint8 ``(N, 28, 28)`` with values
        0-255, labels uint8 ``(N,)`` with values 0-9. The bundled set has 8,000 training and
        2,000 test digits.

    Raises:
        FileNotFoundError: ``path`` does not exist, or a folder lacks one of the four files.
        ValueError: a file is corrupt: bad magic number, truncated data, a broken gzip stream,
            images that are not 28x28, label values outside 0-9, or images and labels of
            different counts.

    Example:
        >>> from cnnkit.datasets import mnist
        >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()
        >>> x_train.shape, x_test.shape, x_train.dtype
        ((8000, 28, 28), (2000, 28, 28), dtype('uint8'))
    """
    if path is None:
        bundled = resources.files(__package__).joinpath("data", _BUNDLED_FILE)
        with resources.as_file(bundled) as bundled_path:
            arrays = _read_npz(bundled_path)
    else:
        path = os.path.expanduser(os.fspath(path))
        if os.path.isdir(path):
            arrays = {role: read_idx(_find_idx_file(path, role)) for role in _BUNDLED_KEYS}
        elif os.path.isfile(path):
            arrays = _read_npz(path)
        else:
            raise FileNotFoundError(
                "mnist.load_data: `path` must be a folder holding the MNIST IDX files or a .npz "
                f"file; nothing exists there. Received: path={path!r}"
            )
    for split in ("train", "test"):
        _check_split(arrays[f"x_{split}"], arrays[f"y_{split}"], split, path)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def read_idx(path) -> np.ndarray:
    """Read one IDX file (gzipped when its name ends in ``.gz``) into a NumPy array.

    Args:
        path: the file's path.

    Returns:
        An array of the file's shape, in native byte order (uint8 for MNIST's files).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a bad magic number, an unknown type code, or fewer (or more) bytes than the
            header announces, or a gzip stream that is broken.

    Example:
        >>> import gzip, os, tempfile
        >>> import numpy as np
        >>> from cnnkit.datasets.mnist import read_idx
        >>> file_name = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
        >>> with gzip.open(file_name, "wb") as file:
        ...     _ = file.write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
        >>> read_idx(file_name)
        array([7, 2, 1], dtype=uint8)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"read_idx: no IDX file there. Received: path={path!r}")
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as file:
                raw = file.read()
        else:
            with open(path, "rb") as file:
                raw = file.read()
    except (OSError, EOFError, zlib.error) as error:
        # gzip.BadGzipFile is an OSError; a cut-off stream raises EOFError.
        raise ValueError(f"read_idx: {path!r} is not a readable gzip file ({error}).") from None
    return _parse_idx(raw, path)


def _parse_idx(raw: bytes, path: str) -> np.ndarray:
    if len(raw) < 4:
        raise ValueError(
            f"read_idx: {path!r} is truncated: {len(raw)} bytes, fewer than the 4-byte magic number."
        )
    zero_bytes, type_code, ndim = raw[:2], raw[2], raw[3]
    if zero_bytes != b"\x00\x00" or type_code not in _IDX_TYPES:
        raise ValueError(
            f"read_idx: {path!r} has a bad magic number 0x{raw[:4].hex()}: an IDX file starts with two "
            "zero bytes, a type code (0x08 unsigned byte, 0x09 signed byte, 0x0b short, 0x0c int, "
            "0x0d float, 0x0e double) and the number of dimensions (0x00000803 for MNIST images, "
            "0x00000801 for labels). The file is corrupt or not an IDX file."
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(
            f"read_idx: {path!r} is truncated inside its header: {len(raw)} bytes, the header of a "
            f"{ndim}-D file needs {header_size}."
        )
    shape = tuple(int(size) for size in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    dtype, type_name = _IDX_TYPES[type_code]
    expected_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    data_bytes = len(raw) - header_size
    if data_bytes < expected_bytes:
        raise ValueError(
            f"read_idx: {path!r} is truncated: its header announces shape {shape} of {type_name}s "
            f"({expected_bytes} bytes of data) but only {data_bytes} bytes follow."
        )
    if data_bytes > expected_bytes:
        raise ValueError(
            f"read_idx: {path!r} is corrupt: its header announces shape {shape} of {type_name}s "
            f"({expected_bytes} bytes of data) but {data_bytes} bytes follow."
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def _find_idx_file(folder: str, role: str) -> str:
    base = IDX_FILE_NAMES[role]
    dotted = base.replace("-idx", ".idx")
    candidates = [base, base + ".gz", dotted, dotted + ".gz"]
    for name in candidates:
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f"mnist.load_data: the folder {folder!r} has no {role} file; expected one of "
        f"{', '.join(candidates)}. The full MNIST is four files: "
        f"{', '.join(IDX_FILE_NAMES.values())} (each optionally .gz)."
    )


def _read_npz(path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in _BUNDLED_KEYS if key not in archive.files]
            if missing:
                raise ValueError(
                    f"mnist.load_data: {os.fspath(path)!r} lacks the arrays {missing}; a MNIST .npz "
                    f"holds {list(_BUNDLED_KEYS)}. Received arrays: {archive.files}"
                )
            return {key: archive[key] for key in _BUNDLED_KEYS}
    except ValueError as error:
        if str(error).startswith("mnist.load_data"):
            raise
        raise ValueError(
            f"mnist.load_data: {os.fspath(path)!r} is not a readable .npz file ({error})."
        ) from None
    except (OSError, EOFError) as error:
        raise ValueError(
            f"mnist.load_data: {os.fspath(path)!r} is not a readable .npz file ({error})."
        ) from None


def _check_split(images: np.ndarray, labels: np.ndarray, split: str, path) -> None:
    source = "the bundled digits" if path is None else repr(path)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(
            f"mnist.load_data: the {split} images in {source} must have shape (N, 28, 28). "
            f"Received: shape {images.shape}"
        )
    if labels.ndim != 1:
        raise ValueError(
            f"mnist.load_data: the {split} labels in {source} must have shape (N,). "
            f"Received: shape {labels.shape}"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"mnist.load_data: {source} has {len(images)} {split} images but {len(labels)} {split} "
            "labels; the counts must match."
        )
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise ValueError(
            f"mnist.load_data: {source} must hold uint8 images and labels. Received: images "
            f"{images.dtype}, labels {labels.dtype}"
        )
    if labels.size and labels.max() >= NUM_CLASSES:
        raise ValueError(
            f"mnist.load_data: the {split} labels in {source} must be digits 0-9. "
            f"Received: a label {int(labels.max())}"
        )
