"""Saving and loading: one safetensors file per model, written atomically, read defensively.

This module owns cnnkit's files:

- ``model.save(path)`` / ``load_model(path)``: ONE safetensors file. Its tensors are the weights
  (``layers/<layer>/vars/<i>``, layers named by class in snake case with a counter, as Keras's
  weight files: ``conv2d``, ``conv2d_1``, ...) and, when compiled, the optimizer's state
  (``optimizer/<i>``). Its header metadata holds JSON: ``model_config`` (layer class names and
  their ``get_config()``) and ``compile_config`` (optimizer, loss and metric names/configs).
- ``model.save_weights(path)`` / ``model.load_weights(path)``: a plain ``.safetensors`` file of the
  weights, readable by any safetensors reader.

File names, as Keras 3 checks them (Keras refuses names it does not know): a model file must end in
``.keras``, ``.cnnkit`` or ``.safetensors`` and a weights file in ``.weights.h5`` or
``.safetensors``; anything else is a ValueError naming the path. ``.keras`` and ``.weights.h5`` are
accepted so that Keras code runs unchanged, but the bytes are always cnnkit's safetensors file
(not a Keras zip archive nor HDF5): Keras cannot read them and cnnkit cannot read Keras's files.
``.h5``/``.hdf5`` model files (Keras's legacy format) are refused. Loading goes by content, not by
name; a missing file raises ``ModelFileNotFoundError`` (both a FileNotFoundError and, as in Keras,
a ValueError) naming the path.

Writing is atomic: the bytes go to a temporary file in the same folder, which is flushed,
fsynced and renamed over the target (``os.replace``), so an interrupted save leaves the previous
file intact. Reading trusts nothing: the header is parsed as JSON and checked (dtypes, shapes,
offsets that tile the data exactly) before the safetensors package loads the tensors; a truncated
or corrupt file, or a header that lies, raises ValueError naming the file. Layer classes are
resolved only through ``cnnkit.layers.LAYER_REGISTRY``: no name from a file is ever imported or
evaluated, and any reference to a Python module, function or lambda is refused (ValueError).
Nothing here deserialises Python objects: the file holds JSON text and raw arrays only.

Example:
    >>> import os, tempfile, numpy as np
    >>> from cnnkit import Sequential
    >>> from cnnkit.layers import Dense
    >>> model = Sequential([Dense(2, input_shape=(3,))])
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.cnnkit")
    >>> model.save(path)
    >>> restored = load_model(path)
    >>> bool(np.array_equal(restored.predict(np.ones((1, 3)), verbose=0), model.predict(np.ones((1, 3)), verbose=0)))
    True
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile

import numpy as np

from ..serialization import snake_case

__all__ = [
    "save_model", "load_model", "save_weights", "load_weights", "check_save_path", "ModelFileNotFoundError",
    "MODEL_EXTENSIONS", "WEIGHTS_EXTENSIONS",
    "write_safetensors", "read_safetensors", "weights_to_tensors", "load_weights_from_tensors",
    "parse_json_metadata", "check_config_is_safe",
]

MODEL_FORMAT = "cnnkit-model"
WEIGHTS_FORMAT = "cnnkit-weights"
FORMAT_VERSION = "1"

# safetensors dtype codes cnnkit reads (and the NumPy dtypes they stand for).
_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_,
}
_MAX_HEADER_BYTES = 100 * 1024 * 1024

MODEL_EXTENSIONS = (".keras", ".cnnkit", ".safetensors")
WEIGHTS_EXTENSIONS = (".weights.h5", ".safetensors")


class ModelFileNotFoundError(FileNotFoundError, ValueError):
    """No file at the path given to ``load_model``/``load_weights``.

    A FileNotFoundError, and a ValueError as Keras raises for a missing model file.
    """


def check_save_path(filepath, weights_only: bool = False, argument: str = "filepath", where: str = "save") -> str:
    """The path as a string, once its extension is one cnnkit writes (see the module docstring).

    Raises:
        TypeError: ``filepath`` is not a string or path.
        ValueError: an extension cnnkit does not write (the message names the path and the
            accepted extensions).
    """
    if not isinstance(filepath, (str, os.PathLike)):
        raise TypeError(f"`{argument}` must be a string or a path. Received: {argument}={filepath!r}")
    path = os.fspath(filepath)
    accepted = WEIGHTS_EXTENSIONS if weights_only else MODEL_EXTENSIONS
    if str(path).endswith(accepted):
        return path
    listed = ", ".join(f"`{extension}`" for extension in accepted)
    if weights_only:
        raise ValueError(
            f"The filename must end in {listed} for {where} (cnnkit writes the weights as safetensors). "
            f"Received: {argument}={path}"
        )
    legacy = " cnnkit does not write Keras's legacy HDF5 format." if str(path).endswith((".h5", ".hdf5")) else ""
    if str(path).endswith(WEIGHTS_EXTENSIONS):
        legacy = " A weights file name is for `model.save_weights(filepath)`."
    raise ValueError(
        f"Invalid filepath extension for saving a model in {where}: the filename must end in {listed} (one "
        f"safetensors file holding the config and the weights).{legacy} Received: {argument}={path}"
    )


def _check_readable(path: str) -> None:
    """A missing path or a folder raises an error naming the path."""
    if not os.path.exists(path):
        raise ModelFileNotFoundError(2, f"File not found: filepath={path}. No cnnkit model or weights file there", path)
    if os.path.isdir(path):
        raise ValueError(f"'{path}' is a directory; expected a cnnkit model or weights file. Received: filepath={path}")


# ----- bytes on disk ----------------------------------------------------------------------------
def _atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` via a synced temporary file in the same folder and a rename."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where the OS allows it
        folder_descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(folder_descriptor)
        finally:
            os.close(folder_descriptor)


def write_safetensors(path, tensors: dict, metadata: dict | None = None) -> None:
    """Serialise ``tensors`` (name -> array) and string ``metadata`` with safetensors, atomically."""
    from safetensors.numpy import save

    # np.require keeps 0-d arrays 0-d (np.ascontiguousarray would make them 1-d).
    arrays = {name: np.require(array, requirements="C") for name, array in tensors.items()}
    _atomic_write_bytes(path, _with_sorted_header(save(arrays, metadata=metadata)))


def _with_sorted_header(data: bytes) -> bytes:
    """The same safetensors file with its JSON header's keys in sorted order.

    The safetensors package writes the header (and its ``__metadata__``) in hash-map order, so two
    saves of the same model differed byte for byte. Sorted, equal models give equal files (checksums
    and version control see no change). Only the header is rewritten: tensor offsets count from the
    end of the header, and the header is padded with spaces to a multiple of 8 bytes as the format
    asks.
    """
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data[8 + length :]


def _invalid(path, reason: str) -> ValueError:
    return ValueError(f"'{path}' is not a valid cnnkit/safetensors file: {reason}")


def read_safetensors(path) -> tuple[dict, dict]:
    """Read a safetensors file after checking its header; returns ``(tensors, metadata)``.

    Raises:
        ValueError: the file is truncated, its header is not valid JSON, names an unknown dtype,
            or gives shapes and offsets that do not tile the data exactly (message names the file).
        ModelFileNotFoundError: no such file (a FileNotFoundError and a ValueError).
    """
    path = os.fspath(path)
    _check_readable(path)
    with open(path, "rb") as handle:
        data = handle.read()
    if len(data) < 8:
        raise _invalid(path, f"it is {len(data)} bytes long, too short for a safetensors header (truncated?).")
    header_size = int.from_bytes(data[:8], "little")
    if header_size > min(len(data) - 8, _MAX_HEADER_BYTES):
        raise _invalid(path, f"its header claims {header_size} bytes but the file holds {len(data) - 8} after the "
                             "size field (truncated or corrupt).")
    try:
        header = json.loads(data[8 : 8 + header_size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _invalid(path, f"its header is not valid JSON ({error}).") from None
    if not isinstance(header, dict):
        raise _invalid(path, "its header is not a JSON object.")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise _invalid(path, "its __metadata__ must map strings to strings.")
    buffer_size = len(data) - 8 - header_size
    spans = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise _invalid(path, f"tensor {name!r} has a malformed header entry {entry!r}.")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in _DTYPES:
            raise _invalid(path, f"tensor {name!r} has unsupported dtype {dtype!r}.")
        if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
            raise _invalid(path, f"tensor {name!r} has an invalid shape {shape!r}.")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            raise _invalid(path, f"tensor {name!r} has invalid data_offsets {offsets!r}.")
        begin, end = offsets
        expected = math.prod(shape) * np.dtype(_DTYPES[dtype]).itemsize
        if not 0 <= begin <= end <= buffer_size:
            raise _invalid(path, f"tensor {name!r} has data_offsets {offsets} outside the {buffer_size}-byte data "
                                 "section (truncated, or the header lies).")
        if end - begin != expected:
            raise _invalid(path, f"tensor {name!r} of dtype {dtype} and shape {tuple(shape)} needs {expected} bytes, "
                                 f"but its data_offsets {offsets} span {end - begin} (the header lies).")
        spans.append((begin, end, name))
    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin != position:
            raise _invalid(path, f"tensor {name!r} starts at byte {begin}, expected {position}: the tensors overlap "
                                 "or leave gaps (the header lies).")
        position = end
    if position != buffer_size:
        raise _invalid(path, f"the tensors cover {position} bytes of a {buffer_size}-byte data section.")
    from safetensors.numpy import load

    try:
        tensors = load(data)
    except Exception as error:  # noqa: BLE001 - any failure of the reader is a bad file
        raise _invalid(path, f"{type(error).__name__}: {error}") from None
    return tensors, metadata


def parse_json_metadata(metadata: dict, key: str, path):
    """The JSON value stored under ``key`` in a file's metadata (ValueError naming the file)."""
    if key not in metadata:
        raise ValueError(f"'{path}' has no '{key}' in its metadata: it was not written by cnnkit for this purpose.")
    try:
        return json.loads(metadata[key])
    except json.JSONDecodeError as error:
        raise ValueError(f"'{path}': the '{key}' metadata is not valid JSON ({error}).") from None


# ----- what a file may say --------------------------------------------------------------------------
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ALLOWED_MODULES = {
    None, "keras", "keras.layers", "keras.losses", "keras.metrics", "keras.optimizers",
    "keras.optimizers.schedules", "keras.initializers", "keras.regularizers", "keras.constraints",
    "keras.activations", "keras.src.models.sequential", "keras.models",
    "cnnkit", "cnnkit.layers", "cnnkit.losses", "cnnkit.metrics", "cnnkit.optimizers", "cnnkit.schedules",
    "cnnkit.initializers", "cnnkit.regularizers", "cnnkit.constraints", "cnnkit.activations", "cnnkit.models",
}
_FORBIDDEN_KEYS = {"code", "bytecode", "function_type", "__class__", "__reduce__", "__module__", "__qualname__", "py/object"}


def check_config_is_safe(config, path, where: str = "config") -> None:
    """Refuse any reference to Python code in a stored config (ValueError naming the file).

    Accepted: plain JSON values, and objects named by a bare class name (``'Conv2D'``,
    ``'GlorotUniform'``) that cnnkit's registries resolve. Refused: lambdas, ``module`` fields
    naming anything but Keras's or cnnkit's public modules, dotted or otherwise non-identifier
    class names, custom registered names, and code fields.
    """
    if isinstance(config, dict):
        for key, value in config.items():
            if not isinstance(key, str):
                raise ValueError(f"'{path}': {where} has a non-string key {key!r}.")
            if key in _FORBIDDEN_KEYS:
                raise ValueError(f"'{path}': {where} holds a code field {key!r}; cnnkit files never hold code.")
            if key == "module" and value not in _ALLOWED_MODULES:
                raise ValueError(
                    f"'{path}': {where} refers to the Python module {value!r}; cnnkit model files may only name "
                    "cnnkit's own layers, losses, optimizers and initializers (nothing is imported)."
                )
            if key == "class_name":
                if not isinstance(value, str) or not _IDENTIFIER.match(value) or value in ("__lambda__", "Lambda", "TFOpLambda"):
                    raise ValueError(
                        f"'{path}': {where} names the class or callable {value!r}, which cnnkit does not load "
                        "(only registered layer and object names are accepted; nothing is imported or evaluated)."
                    )
            if key == "registered_name" and value is not None and (not isinstance(value, str) or not _IDENTIFIER.match(value)):
                raise ValueError(f"'{path}': {where} refers to the custom object {value!r}, which cnnkit does not load.")
            check_config_is_safe(value, path, f"{where}.{key}")
    elif isinstance(config, list):
        for index, item in enumerate(config):
            check_config_is_safe(item, path, f"{where}[{index}]")
    elif isinstance(config, str):
        if config.startswith("<function") or config.startswith("lambda ") or "__import__" in config:
            raise ValueError(f"'{path}': {where} holds {config!r}, a reference to Python code; cnnkit does not load it.")
    elif not (config is None or isinstance(config, (bool, int, float))):
        raise ValueError(f"'{path}': {where} holds an unexpected value {config!r}.")


# ----- weights as named tensors ---------------------------------------------------------------------
def _layer_keys(model) -> list:
    """``(layer, 'layers/<class>_<n>')`` for each layer with weights' parent, Keras-style names."""
    used = {}
    keys = []
    for layer in model.layers:
        base = snake_case(type(layer).__name__)
        count = used.get(base, -1) + 1
        used[base] = count
        keys.append((layer, f"layers/{base}" if count == 0 else f"layers/{base}_{count}"))
    return keys


def weights_to_tensors(model) -> dict:
    """The model's weights (trainable or not) as ``{'layers/<layer>/vars/<i>': array}``."""
    tensors = {}
    for layer, key in _layer_keys(model):
        for index, variable in enumerate(layer.weights):
            tensors[f"{key}/vars/{index}"] = np.array(variable.data, copy=True, order="C")
    return tensors


def load_weights_from_tensors(model, tensors: dict, path) -> None:
    """Copy ``tensors`` into the model's weights after checking every name and shape.

    Raises:
        ValueError: a weight is missing, unexpected, or of another shape (naming the file, the
            layer, the expected and the found shapes). Nothing is changed then.
    """
    expected = {}
    for layer, key in _layer_keys(model):
        for index, variable in enumerate(layer.weights):
            expected[f"{key}/vars/{index}"] = (layer, variable)
    stored = {name: array for name, array in tensors.items() if name.startswith("layers/")}
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"'{path}' does not fit this model: missing weights {missing or 'none'}, unexpected weights "
            f"{unexpected or 'none'}. Was it saved from a model with the same layers?"
        )
    for name, (layer, variable) in expected.items():
        array = stored[name]
        if tuple(array.shape) != tuple(variable.shape):
            raise ValueError(
                f"'{path}': weight {name} of layer '{layer.name}' ({type(layer).__name__}) has shape "
                f"{tuple(array.shape)} in the file, but the model expects {tuple(variable.shape)}."
            )
        if not np.issubdtype(array.dtype, np.floating) and np.issubdtype(variable.dtype, np.floating):
            raise ValueError(f"'{path}': weight {name} has dtype {array.dtype}; expected a float array.")
    for name, (layer, variable) in expected.items():
        variable.assign(stored[name].astype(variable.dtype, copy=False))


# ----- models --------------------------------------------------------------------------------------
def _compile_config(model):
    """The compile arguments as JSON-able data, or None when they cannot be stored by name."""
    from .. import losses, metrics, optimizers

    if not getattr(model, "compiled", False):
        return None
    try:
        loss = model._loss_identifier
        if not isinstance(loss, str) and loss is not None:
            loss = losses.serialize(loss)
        entries = {}
        for key, identifiers in (("metrics", model._metric_identifiers), ("weighted_metrics", model._weighted_metric_identifiers)):
            entries[key] = [m if isinstance(m, str) else metrics.serialize(m) for m in identifiers or []]
        loss_weight = getattr(model, "_loss_weight", 1.0)
        return {"optimizer": optimizers.serialize(model.optimizer), "loss": loss,
                "loss_weights": None if loss_weight == 1.0 else loss_weight, **entries}
    except (ValueError, TypeError):
        return None


def save_model(model, filepath, overwrite=True, include_optimizer=True) -> None:
    """Write ``model`` (config, weights, and if compiled the compile settings and optimizer state)."""
    import warnings

    from .. import __version__

    filepath = check_save_path(filepath, weights_only=False, where="model.save")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"'{filepath}' exists; pass overwrite=True to replace it.")
    if not getattr(model, "built", False):
        raise ValueError(
            f"Model '{model.name}' is not built yet, so it has no weights to save. Build it (call it on data, "
            "give the first layer an `input_shape`, or call `model.build(input_shape)`) first."
        )
    config = {"class_name": type(model).__name__, "config": model.get_config()}
    metadata = {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "cnnkit_version": __version__,
        "model_config": json.dumps(config),
    }
    tensors = weights_to_tensors(model)
    compile_config = _compile_config(model)
    if getattr(model, "compiled", False) and compile_config is None:
        warnings.warn("The model's compile settings include objects cnnkit cannot store by name; they are not saved.",
                      stacklevel=3)
    if compile_config is not None:
        metadata["compile_config"] = json.dumps(compile_config)
        if include_optimizer and model.optimizer.built:
            store = {}
            model.optimizer.save_own_variables(store)
            tensors.update({f"optimizer/{key}": value for key, value in store.items()})
    write_safetensors(filepath, tensors, metadata)


def _deserialize_model(config, path):
    from ..layers import LAYER_REGISTRY
    from .sequential import Sequential

    if not isinstance(config, dict) or config.get("class_name") != "Sequential" or not isinstance(config.get("config"), dict):
        found = config.get("class_name") if isinstance(config, dict) else config
        raise ValueError(f"'{path}': unknown model class {found!r}; cnnkit loads Sequential models.")
    inner = config["config"]
    layer_configs = inner.get("layers", [])
    if not isinstance(layer_configs, list):
        raise ValueError(f"'{path}': the model config's 'layers' must be a list.")
    for entry in layer_configs:
        class_name = entry.get("class_name") if isinstance(entry, dict) else None
        if class_name not in LAYER_REGISTRY:
            raise ValueError(
                f"'{path}' names the unknown layer class {class_name!r}. cnnkit only loads its own layers "
                f"({', '.join(sorted(LAYER_REGISTRY))}); nothing from the file is imported or evaluated."
            )
    try:
        return Sequential.from_config(inner)
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"'{path}': the model config could not be rebuilt: {error}") from None


def load_model(filepath, compile=True):  # noqa: A002 - Keras's argument name
    """Rebuild a model saved with ``model.save``: layers, weights, and (if ``compile``) its compile
    settings and optimizer state.

    Raises:
        ModelFileNotFoundError: no file at ``filepath`` (a FileNotFoundError and a ValueError).
        ValueError: the file is truncated, corrupt or lies in its header; it is not a cnnkit model
            file; it names an unknown layer class or refers to Python code (nothing is imported).
    """
    from .. import losses, metrics, optimizers

    if not isinstance(filepath, (str, os.PathLike)):
        raise TypeError(f"`filepath` must be a string or a path. Received: filepath={filepath!r}")
    filepath = os.fspath(filepath)
    tensors, metadata = read_safetensors(filepath)
    if metadata.get("format") != MODEL_FORMAT:
        raise ValueError(
            f"'{filepath}' is not a cnnkit model file (format {metadata.get('format')!r}); for a weights file use "
            "`model.load_weights(path)` on a model built the same way."
        )
    config = parse_json_metadata(metadata, "model_config", filepath)
    check_config_is_safe(config, filepath, "model_config")
    compile_config = None
    if compile and "compile_config" in metadata:
        compile_config = parse_json_metadata(metadata, "compile_config", filepath)
        check_config_is_safe(compile_config, filepath, "compile_config")
    model = _deserialize_model(config, filepath)
    if not model.built:
        raise ValueError(f"'{filepath}': the model config has no input shape, so its weights cannot be placed.")
    load_weights_from_tensors(model, tensors, filepath)
    if compile_config is not None:
        try:
            optimizer = optimizers.deserialize(compile_config["optimizer"])
            loss = compile_config.get("loss")
            loss = losses.deserialize(loss) if isinstance(loss, dict) else loss
            restored = {key: [m if isinstance(m, str) else metrics.deserialize(m) for m in compile_config.get(key) or []]
                        for key in ("metrics", "weighted_metrics")}
            model.compile(optimizer=optimizer, loss=loss, loss_weights=compile_config.get("loss_weights"),
                          metrics=restored["metrics"] or None, weighted_metrics=restored["weighted_metrics"] or None)
        except (TypeError, ValueError, KeyError) as error:
            raise ValueError(f"'{filepath}': the compile settings could not be restored: {error}") from None
        store = {key[len("optimizer/"):]: value for key, value in tensors.items() if key.startswith("optimizer/")}
        if store:
            optimizer.build(model.trainable_weights)
            try:
                optimizer.load_own_variables(store)
            except ValueError as error:
                raise ValueError(f"'{filepath}': {error}") from None
    return model


def save_weights(model, filepath, overwrite=True) -> None:
    """Write the model's weights as a plain safetensors file (named ``.safetensors`` or ``.weights.h5``)."""
    filepath = check_save_path(filepath, weights_only=True, where="model.save_weights")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"'{filepath}' exists; pass overwrite=True to replace it.")
    if not getattr(model, "built", False):
        raise ValueError(f"Model '{model.name}' is not built yet, so it has no weights to save.")
    write_safetensors(filepath, weights_to_tensors(model), {"format": WEIGHTS_FORMAT, "format_version": FORMAT_VERSION})


def load_weights(model, filepath) -> None:
    """Load weights written by ``save_weights`` (or ``save``) into a model with the same layers."""
    if not isinstance(filepath, (str, os.PathLike)):
        raise TypeError(f"`filepath` must be a string or a path. Received: filepath={filepath!r}")
    filepath = os.fspath(filepath)
    if not getattr(model, "built", False):
        raise ValueError(
            f"Model '{model.name}' is not built yet: build it (e.g. `model.build(input_shape)`) before loading weights."
        )
    tensors, _ = read_safetensors(filepath)
    load_weights_from_tensors(model, tensors, filepath)
