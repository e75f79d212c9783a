"""Saving: one safetensors file, exact round trips, atomic writes, and files that lie or attack."""
import builtins
import json
import os

import numpy as np
import pytest
from safetensors import safe_open

import cnnkit
from cnnkit.layers import BatchNormalization, Conv2D, Dense, Flatten, MaxPooling2D
from cnnkit.models import Sequential, load_model
from cnnkit.models import saving


def trained_model():
    cnnkit.random.set_seed(0)
    model = Sequential([
        Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1), kernel_regularizer="l2"),
        BatchNormalization(),
        MaxPooling2D(),
        Flatten(),
        Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = data()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    return model


def data(samples=24):
    rng = np.random.default_rng(1)
    return rng.standard_normal((samples, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, samples)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = trained_model()
    path = tmp_path_factory.mktemp("saved") / "model.cnnkit"
    model.save(path)
    return model, path


def rewrite(path, target, edit_header=None, edit_metadata=None, data_bytes=None):
    """Copy a safetensors file with its JSON header (or metadata entries) edited."""
    raw = open(path, "rb").read()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + size])
    if edit_metadata:
        metadata = header["__metadata__"]
        edit_metadata(metadata)
    if edit_header:
        edit_header(header)
    encoded = json.dumps(header).encode()
    body = raw[8 + size:] if data_bytes is None else data_bytes
    with open(target, "wb") as handle:
        handle.write(len(encoded).to_bytes(8, "little") + encoded + body)
    return target


# ----- round trips ---------------------------------------------------------------------------------
def test_save_load_predicts_exactly_and_keeps_compile_and_optimizer_state(saved, tmp_path):
    model, path = saved
    restored = load_model(path)
    x, y = data()
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [type(l).__name__ for l in restored.layers] == [type(l).__name__ for l in model.layers]
    assert restored.optimizer.get_config() == model.optimizer.get_config()
    assert restored.optimizer.iterations == model.optimizer.iterations == 6
    # Training goes on identically from both.
    copy = load_model(path)
    cnnkit.random.set_seed(5)
    restored.fit(x, y, batch_size=8, epochs=1, verbose=0)
    cnnkit.random.set_seed(5)
    copy.fit(x, y, batch_size=8, epochs=1, verbose=0)
    for ours, theirs in zip(restored.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    uncompiled = load_model(path, compile=False)
    assert not uncompiled.compiled


def test_file_is_one_plain_safetensors_file_with_config_in_the_header(saved):
    model, path = saved
    with safe_open(str(path), framework="np") as handle:
        metadata = handle.metadata()
        keys = set(handle.keys())
    config = json.loads(metadata["model_config"])
    assert metadata["format"] == "cnnkit-model" and config["class_name"] == "Sequential"
    assert [entry["class_name"] for entry in config["config"]["layers"]] == [
        "Conv2D", "BatchNormalization", "MaxPooling2D", "Flatten", "Dense"]
    assert "layers/conv2d/vars/0" in keys and "layers/batch_normalization/vars/3" in keys
    assert any(key.startswith("optimizer/") for key in keys)
    assert json.loads(metadata["compile_config"])["loss"] == "sparse_categorical_crossentropy"
    assert list(os.listdir(path.parent)) == [path.name]


def test_save_weights_and_load_weights_into_a_fresh_model(saved, tmp_path):
    model, _ = saved
    path = tmp_path / "weights.safetensors"
    model.save_weights(path)
    with safe_open(str(path), framework="np") as handle:
        assert len(list(handle.keys())) == len(model.weights)
    fresh = trained_model()  # other layer names (conv2d_5, ...) and other weights
    fresh.load_weights(path)
    x, _ = data()
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


def test_weights_that_do_not_fit_the_model(saved, tmp_path):
    model, _ = saved
    path = tmp_path / "weights.safetensors"
    model.save_weights(path)
    wider = Sequential([Conv2D(5, 3, input_shape=(8, 8, 1)), BatchNormalization(), MaxPooling2D(), Flatten(), Dense(3)])
    with pytest.raises(ValueError, match=r"shape \(3, 3, 1, 4\) in the file, but the model expects \(3, 3, 1, 5\)"):
        wider.load_weights(path)
    other = Sequential([Dense(3, input_shape=(4,))])
    with pytest.raises(ValueError, match="missing weights"):
        other.load_weights(path)
    with pytest.raises(ValueError, match="not a cnnkit model file"):
        load_model(path)


# ----- atomic writes ------------------------------------------------------------------------------------
def test_interrupted_save_leaves_the_previous_file_intact(saved, tmp_path, monkeypatch):
    model, _ = saved
    path = tmp_path / "model.cnnkit"
    model.save(path)
    before = open(path, "rb").read()
    other = Sequential([Dense(2, input_shape=(3,))])

    def crash(descriptor):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="simulated"):
        other.save(path)
    monkeypatch.undo()
    assert open(path, "rb").read() == before
    assert os.listdir(tmp_path) == ["model.cnnkit"]  # the temporary file was removed
    load_model(path)


# ----- files that are broken or lie -----------------------------------------------------------------------
def test_truncated_and_corrupt_files_name_the_file(saved, tmp_path):
    _, path = saved
    raw = open(path, "rb").read()
    cases = {
        "empty.cnnkit": b"",
        "short.cnnkit": raw[:5],
        "header_cut.cnnkit": raw[:100],
        "data_cut.cnnkit": raw[:-10],
        "garbage.cnnkit": os.urandom(4096),
        "bad_json.cnnkit": (20).to_bytes(8, "little") + b"{not json at all!!!}",
    }
    for name, content in cases.items():
        target = tmp_path / name
        target.write_bytes(content)
        with pytest.raises(ValueError, match=name):
            load_model(target)


@pytest.mark.parametrize(
    "lie, match",
    [
        (lambda h: h["layers/conv2d/vars/0"].update(shape=[3, 3, 1, 8]), "needs .* bytes"),
        (lambda h: h["layers/conv2d/vars/0"].update(data_offsets=[0, 10**9]), "outside"),
        (lambda h: h["layers/conv2d/vars/1"].update(data_offsets=h["layers/conv2d/vars/0"]["data_offsets"][:]), "overlap|needs"),
        (lambda h: h["layers/conv2d/vars/0"].update(dtype="OBJ"), "unsupported dtype"),
        (lambda h: h["layers/conv2d/vars/0"].update(shape=[-1, 3]), "invalid shape"),
    ],
)
def test_header_lying_about_shapes_or_offsets(saved, tmp_path, lie, match):
    _, path = saved
    target = rewrite(path, tmp_path / "lying.cnnkit", edit_header=lie)
    with pytest.raises(ValueError, match=f"lying.cnnkit.*({match})"):
        load_model(target)
    with pytest.raises(ValueError, match="lying.cnnkit"):
        Sequential([Dense(2, input_shape=(3,))]).load_weights(target)


def test_weights_file_whose_header_lies_about_a_shape(saved, tmp_path):
    """A consistent file (offsets fit) that claims other shapes than the model's weights."""
    model, _ = saved
    path = tmp_path / "weights.safetensors"
    tensors = saving.weights_to_tensors(model)
    tensors["layers/dense/vars/0"] = tensors["layers/dense/vars/0"].reshape(-1, 1)
    saving.write_safetensors(path, tensors)
    with pytest.raises(ValueError, match=r"weights.safetensors.*layers/dense/vars/0.*\(108, 1\).*\(36, 3\)"):
        model.load_weights(path)


# ----- files that try to run code ----------------------------------------------------------------------------
@pytest.fixture
def no_code_runs(monkeypatch):
    """Fail the test if loading evaluates code or imports a module named in the file."""
    imported = []
    real_import = builtins.__import__

    def watching_import(name, *args, **kwargs):
        imported.append(name)
        return real_import(name, *args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("a model file made cnnkit evaluate code")

    monkeypatch.setattr(builtins, "__import__", watching_import)
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    yield imported
    assert not any(name.startswith(("os", "subprocess", "evil")) for name in imported), imported


def edit_layers(edit):
    def edit_metadata(metadata):
        config = json.loads(metadata["model_config"])
        edit(config["config"]["layers"])
        metadata["model_config"] = json.dumps(config)
    return edit_metadata


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda layers: layers[0].update(class_name="EvilLayer"), "unknown layer class 'EvilLayer'"),
        (lambda layers: layers[0].update(class_name="os.system"), "os.system"),
        (lambda layers: layers[0].update(module="evil_module"), "module 'evil_module'"),
        (lambda layers: layers[0]["config"].update(
            activation={"module": "os", "class_name": "system", "config": "rm -rf /"}), "module 'os'"),
        (lambda layers: layers[0]["config"].update(
            activation={"class_name": "__lambda__", "config": {"code": "eval('1')"}}), "__lambda__"),
        (lambda layers: layers[0]["config"].update(activation="lambda x: __import__('os')"), "Python code"),
        (lambda layers: layers[0]["config"].update(activation="os.system"), "os.system"),
        (lambda layers: layers[0]["config"].update(
            kernel_initializer={"class_name": "GlorotUniform", "config": {}, "registered_name": "evil>Init"}), "evil>Init"),
        (lambda layers: layers[0]["config"].update(
            kernel_initializer={"class_name": "EvilInitializer", "config": {}}), "EvilInitializer"),
    ],
)
def test_unknown_classes_and_code_references_are_refused(saved, tmp_path, no_code_runs, edit, match):
    _, path = saved
    target = rewrite(path, tmp_path / "evil.cnnkit", edit_metadata=edit_layers(edit))
    with pytest.raises(ValueError, match=match) as error:
        load_model(target)
    assert "evil.cnnkit" in str(error.value)


def test_compile_config_cannot_name_code(saved, tmp_path, no_code_runs):
    _, path = saved

    def edit(metadata):
        config = json.loads(metadata["compile_config"])
        config["loss"] = {"module": "subprocess", "class_name": "run", "config": {}}
        metadata["compile_config"] = json.dumps(config)

    target = rewrite(path, tmp_path / "evil_compile.cnnkit", edit_metadata=edit)
    with pytest.raises(ValueError, match="subprocess"):
        load_model(target)


def test_unbuilt_model_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="not built"):
        Sequential([Dense(2)]).save(tmp_path / "x.cnnkit")
    model = Sequential([Dense(2, input_shape=(3,))])
    model.save(tmp_path / "x.cnnkit")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "x.cnnkit", overwrite=False)


def test_equal_models_save_to_equal_bytes(tmp_path):
    """The header is written with sorted keys: saving the same model twice gives the same file (the
    safetensors package alone writes its metadata in hash-map order), which any reader still loads."""
    import hashlib

    from safetensors.numpy import load_file

    from cnnkit.models import load_model
    from cnnkit.zoo import lenet5

    model = lenet5()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    digests = set()
    for index in range(3):
        path = tmp_path / f"model{index}.keras"
        model.save(path)
        data = path.read_bytes()
        assert int.from_bytes(data[:8], "little") % 8 == 0  # the header stays 8-byte aligned
        digests.add(hashlib.sha256(data).hexdigest())
    assert len(digests) == 1
    assert sorted(load_file(tmp_path / "model0.keras")) == sorted(load_file(tmp_path / "model2.keras"))
    restored = load_model(tmp_path / "model1.keras")
    for ours, theirs in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
