"""Keras 3 conformance of the model API: Sequential, compile/fit/evaluate/predict, History and
callbacks, optimizers and schedules, metrics and saving.

Every expectation here is Keras 3's documented or source behaviour (keras/src/models/sequential.py,
trainers/trainer.py, trainers/compile_utils.py, callbacks/*.py, optimizers/*.py, metrics/*.py,
saving/saving_api.py), except where cnnkit's file format differs; those places say so.
"""
import csv
import inspect
import math
import warnings

import numpy as np
import pytest

import cnnkit
from cnnkit import Sequential, callbacks, losses, metrics, optimizers
from cnnkit.layers import Conv2D, Dense, Flatten, Input, clear_session
from cnnkit.models import load_model
from cnnkit.optimizers import schedules


def dense_model(classes=3, features=4, activation="softmax"):
    return Sequential([Input((features,)), Dense(classes, activation=activation)])


def classification_data(samples=12, features=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((samples, features)).astype(np.float32), rng.integers(0, classes, samples)


def compiled(metrics_list=None, loss="sparse_categorical_crossentropy", optimizer="sgd", seed=0, **kwargs):
    cnnkit.random.set_seed(seed)
    model = dense_model(**kwargs)
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics_list)
    return model


def softmax_probabilities(model, x):
    """The model's output computed here with NumPy from its weights (Dense + softmax)."""
    kernel, bias = model.get_weights()
    logits = x.astype(np.float64) @ kernel + bias
    logits -= logits.max(axis=1, keepdims=True)
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


# ----- Sequential ------------------------------------------------------------------------------------
def test_sequential_signature_and_default_names():
    parameters = inspect.signature(Sequential.__init__).parameters
    assert [(p.name, p.default) for p in list(parameters.values())[1:]] == [("layers", None), ("trainable", True), ("name", None)]
    clear_session()
    assert Sequential().name == "sequential" and Sequential().name == "sequential_1"
    assert Sequential(name="mine").name == "mine"


def test_layers_exclude_the_input_layer_and_shapes_are_known():
    model = Sequential([Input((4,)), Dense(3), Dense(2)])
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dense"]
    assert model.built and model.input_shape == (None, 4) and model.output_shape == (None, 2)
    assert model.count_params() == 4 * 3 + 3 + 3 * 2 + 2
    legacy = Sequential([Dense(3, input_shape=(5,))])  # Keras's legacy input_shape= on the first layer
    assert legacy.built and legacy.input_shape == (None, 5) and len(legacy.layers) == 1


def test_unbuilt_model_raises_for_shapes_and_count_params_as_keras():
    model = Sequential([Dense(3)])
    assert not model.built and model.weights == []
    with pytest.raises(ValueError, match="no defined input shape"):
        model.input_shape
    with pytest.raises(ValueError, match="no defined output shape"):
        model.output_shape
    with pytest.raises(ValueError, match="count_params.*isn't built"):
        model.count_params()
    model.build((None, 6))
    assert model.output_shape == (None, 3) and model.count_params() == 21


def test_build_errors_match_keras():
    with pytest.raises(ValueError, match="cannot be built because it has no layers"):
        Sequential().build((None, 3))
    with pytest.raises(ValueError, match=r"already been configured to use input shape \(None, 4\).*\(None, 5\)"):
        Sequential([Input((4,)), Dense(2)]).build((None, 5))
    with pytest.raises(ValueError, match="You cannot add a different Input layer"):
        Sequential([Input((4,)), Input((4,))])


def test_add_rejects_non_layers_with_an_error_that_is_both_value_and_type_error():
    for bad in (3, "dense", np.ones(3), lambda x: x):
        with pytest.raises(ValueError, match="Only instances of .* can be added to a Sequential model"):
            Sequential().add(bad)
        with pytest.raises(TypeError):
            Sequential().add(bad)


def test_pop_and_add_rebuild():
    model = Sequential([Input((4,)), Dense(3), Dense(2)])
    last = model.pop()
    assert isinstance(last, Dense) and model.output_shape == (None, 3) and len(model.layers) == 1
    model.add(Dense(7))
    assert model.output_shape == (None, 7)


def test_calling_the_model_on_lists_and_float64_gives_float32():
    model = dense_model()
    output = model([[1.0, 2.0, 3.0, 4.0]])
    assert output.shape == (1, 3) and output.dtype == np.float32
    assert model(np.ones((2, 4), dtype=np.float64)).dtype == np.float32


def test_get_layer_by_name_and_index():
    model = Sequential([Input((4,)), Dense(3, name="hidden"), Dense(2, name="out")])
    assert model.get_layer("out") is model.layers[1] and model.get_layer(index=0) is model.layers[0]
    with pytest.raises(ValueError, match="No such layer: nope"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="at index 5 but model only has 2 layers"):
        model.get_layer(index=5)
    with pytest.raises(ValueError, match="Provide only a layer name or a layer index"):
        model.get_layer("out", 0)


def test_summary_layout_matches_keras():
    clear_session()
    lines = []
    Sequential([Input((4,)), Dense(3)]).summary(print_fn=lines.append)
    assert lines[0] == 'Model: "sequential"'
    assert lines[2].startswith("┃ Layer (type)") and "┃ Output Shape" in lines[2] and lines[2].endswith("Param # ┃")
    assert any(line.startswith("│ dense (Dense)") and "(None, 3)" in line and line.endswith(" 15 │") for line in lines)
    assert lines[-3:] == [" Total params: 15 (60.00 B)", " Trainable params: 15 (60.00 B)", " Non-trainable params: 0 (0.00 B)"]
    unbuilt = []
    Sequential([Dense(3)]).summary(print_fn=unbuilt.append)
    assert any("│ ?" in line and "0 (unbuilt)" in line for line in unbuilt)
    assert unbuilt[-3] == " Total params: 0 (0.00 B)"


def test_summary_layer_range_and_trainable_column():
    model = Sequential([Input((4,)), Dense(3, name="first"), Flatten(name="flat"), Dense(2, name="last")])
    model.get_layer("last").trainable = False
    lines = []
    model.summary(print_fn=lines.append, layer_range=["flat", "last"], show_trainable=True)
    rows = [line for line in lines if line.startswith("│")]
    assert [row.split()[1] for row in rows] == ["flat", "last"]
    assert rows[0].rstrip("│ ").endswith("-") and rows[1].rstrip("│ ").endswith("N")  # '-' without weights
    assert lines[-3] == " Total params: 23 (92.00 B)"  # the totals cover the whole model
    with pytest.raises(ValueError, match="do not match the layer names"):
        model.summary(layer_range=["nothing", "last"])


# ----- compile -----------------------------------------------------------------------------------------
def test_compile_signature_and_defaults():
    parameters = inspect.signature(Sequential.compile).parameters
    expected = {"optimizer": "rmsprop", "loss": None, "loss_weights": None, "metrics": None, "weighted_metrics": None,
                "run_eagerly": False, "steps_per_execution": 1, "jit_compile": "auto", "auto_scale_loss": True}
    assert {name: parameters[name].default for name in expected} == expected
    model = dense_model()
    model.compile(loss="mse")
    assert type(model.optimizer) is optimizers.RMSprop and model.optimizer.learning_rate == pytest.approx(0.001)


def test_compile_keeps_keras_execution_attributes():
    model = dense_model()
    model.compile(loss="mse", run_eagerly=True, steps_per_execution=4, jit_compile=True)
    assert (model.run_eagerly, model.steps_per_execution, model.jit_compile) == (True, 4, False)


@pytest.mark.parametrize("name, cls", [("adam", optimizers.Adam), ("sgd", optimizers.SGD), ("rmsprop", optimizers.RMSprop),
                                       ("adagrad", optimizers.Adagrad), ("adamw", optimizers.AdamW), ("Adam", optimizers.Adam),
                                       ("SGD", optimizers.SGD)])
def test_optimizer_names(name, cls):
    model = dense_model()
    model.compile(optimizer=name, loss="mse")
    assert type(model.optimizer) is cls


def test_metric_names_in_logs_follow_the_identifiers():
    x, y = classification_data()
    model = compiled(["acc", "sparse_top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
                      metrics.SparseTopKCategoricalAccuracy(k=1, name="top1")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["acc", "sparse_top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
                           metrics.SparseTopKCategoricalAccuracy(k=1, name="top1")],
                  weighted_metrics=["acc", "sparse_categorical_accuracy"])
    history = model.fit(x, y, epochs=1, verbose=0)
    # As Keras's CompileMetrics.result: repeated names get _1, a weighted repeat gets weighted_.
    names = ["loss", "acc", "sparse_top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy_1", "top1",
             "weighted_acc", "sparse_categorical_accuracy"]
    assert model.metrics_names == names and list(history.history) == sorted(names)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["top1"] == pytest.approx(logs["acc"]) == pytest.approx(logs["weighted_acc"])


def test_accuracy_variant_is_chosen_from_shapes_only_as_keras_3():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    multi_label = (rng.random((16, 3)) > 0.5).astype(np.float32)
    cnnkit.random.set_seed(3)
    model = dense_model(activation="sigmoid")
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    logs = model.evaluate(x, multi_label, verbose=0, return_dict=True)
    # (16, 3) labels against (16, 3) outputs: Keras 3 picks CategoricalAccuracy, whatever the loss.
    scores = model.predict(x, verbose=0)
    expected = np.mean(scores.argmax(axis=1) == multi_label.argmax(axis=1))
    assert logs["accuracy"] == pytest.approx(expected)
    assert [type(m).__name__ for m in model.metrics[1:]] == ["CategoricalAccuracy"]


# ----- fit, History and callbacks ----------------------------------------------------------------------
def test_history_holds_lists_per_epoch_with_keras_params():
    x, y = classification_data(samples=40)
    model = compiled(["accuracy"])
    history = model.fit(x, y, epochs=3, verbose=0, validation_split=0.25)
    assert history is model.history
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(isinstance(values, list) and len(values) == 3 for values in history.history.values())
    assert all(isinstance(value, float) for values in history.history.values() for value in values)
    assert history.epoch == [0, 1, 2]
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 1}  # 30 training samples, batch_size 32


def test_verbose_auto_reaches_the_callbacks_as_auto_and_prints_a_bar(capsys):
    x, y = classification_data(samples=70)
    history = compiled().fit(x, y, epochs=2)
    assert history.params == {"verbose": "auto", "epochs": 2, "steps": 3}  # ceil(70 / 32)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "3/3" in out and "loss:" in out


def test_verbose_accepts_booleans_as_keras(capsys):
    x, y = classification_data()
    compiled().fit(x, y, verbose=False)
    assert capsys.readouterr().out == ""
    compiled().evaluate(x, y, verbose=True)
    assert "loss:" in capsys.readouterr().out


def test_class_weight_weights_each_sample_by_its_class():
    x, y = classification_data()
    model = compiled()
    class_weight = {0: 2.0, 2: 0.5}  # class 1 keeps weight 1, as in Keras
    weighted = compiled()
    weighted.fit(x, y, epochs=1, batch_size=len(x), verbose=0, class_weight=class_weight, shuffle=False)
    explicit = np.array([class_weight.get(int(label), 1.0) for label in y], dtype=np.float32)
    model.fit(x, y, epochs=1, batch_size=len(x), verbose=0, sample_weight=explicit, shuffle=False)
    for ours, theirs in zip(weighted.get_weights(), model.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    one_hot = compiled(loss="categorical_crossentropy")
    one_hot.fit(x, np.eye(3)[y], epochs=1, batch_size=len(x), verbose=0, class_weight={"0": 2.0, 2: 0.5}, shuffle=False)
    for ours, theirs in zip(one_hot.get_weights(), model.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_validation_split_takes_the_last_samples_before_shuffling():
    x, y = classification_data(samples=20)
    model = compiled()
    history = model.fit(x, y, epochs=1, batch_size=4, validation_split=0.3, verbose=0)
    assert history.params["steps"] == 4  # 14 training samples
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x[14:], y[14:], verbose=0), rel=1e-6)


def test_validation_data_tuple_of_three_weights_the_validation_loss():
    x, y = classification_data(samples=8)
    weights = np.array([1, 0, 2, 0, 1, 1, 0, 3], dtype=np.float32)
    model = compiled()
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y, weights))
    per_sample = -np.log(softmax_probabilities(model, x)[np.arange(8), y])
    assert history.history["val_loss"][0] == pytest.approx(np.sum(per_sample * weights) / 8, rel=1e-5)


def test_epochs_is_the_index_of_the_last_epoch_with_initial_epoch():
    x, y = classification_data()
    history = compiled().fit(x, y, epochs=4, initial_epoch=2, verbose=0)
    assert history.epoch == [2, 3] and len(history.history["loss"]) == 2
    assert compiled().fit(x, y, epochs=0, verbose=0).history == {}


def test_callback_order_and_logs_are_dicts():
    class Recorder(callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.calls = []

    hooks = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
             "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end"]
    for hook in hooks:
        def record(self, *args, _hook=hook):
            *positions, logs = args
            assert isinstance(logs, dict)
            self.calls.append((_hook, *positions, tuple(sorted(logs))))
        setattr(Recorder, hook, record)

    x, y = classification_data(samples=6)
    recorder = Recorder()
    compiled(["accuracy"]).fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[recorder], validation_data=(x[:2], y[:2]))
    logged = ("accuracy", "loss")
    assert recorder.calls == [
        ("on_train_begin", ()), ("on_epoch_begin", 0, ()),
        ("on_train_batch_begin", 0, ()), ("on_train_batch_end", 0, logged),
        ("on_train_batch_begin", 1, ()), ("on_train_batch_end", 1, logged),
        ("on_test_begin", ()), ("on_test_batch_begin", 0, ()), ("on_test_batch_end", 0, logged), ("on_test_end", logged),
        ("on_epoch_end", 0, logged + ("val_accuracy", "val_loss")),
        ("on_train_end", logged + ("val_accuracy", "val_loss")),
    ]
    assert recorder.params == {"verbose": 0, "epochs": 1, "steps": 2} and recorder.model is not None


def test_on_batch_end_alias_and_a_single_callback_outside_a_list():
    class Counter(callbacks.Callback):
        seen = []

        def on_batch_end(self, batch, logs=None):
            self.seen.append((batch, round(logs["loss"], 6)))

    x, y = classification_data(samples=10)
    counter = Counter()
    compiled().fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=counter)
    assert [batch for batch, _ in counter.seen] == [0, 1, 2]


def test_evaluate_returns_scalar_list_or_dict():
    x, y = classification_data()
    plain = compiled()
    loss = plain.evaluate(x, y, verbose=0)
    assert isinstance(loss, float)
    expected = np.mean(-np.log(softmax_probabilities(plain, x)[np.arange(len(y)), y]))
    assert loss == pytest.approx(expected, rel=1e-5)
    with_metrics = compiled(["accuracy"])
    values = with_metrics.evaluate(x, y, verbose=0)
    accuracy = np.mean(softmax_probabilities(with_metrics, x).argmax(1) == y)
    assert isinstance(values, list) and values == pytest.approx([expected, accuracy], rel=1e-5)
    assert with_metrics.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx({"loss": expected, "accuracy": accuracy}, rel=1e-5)


@pytest.mark.parametrize("samples, batch_size", [(33, None), (7, 5), (1, None), (64, 32)])
def test_predict_batches_any_length(samples, batch_size):
    rng = np.random.default_rng(samples)
    x = rng.standard_normal((samples, 4))
    model = compiled()
    predictions = model.predict(x, batch_size=batch_size, verbose=0)
    assert isinstance(predictions, np.ndarray) and predictions.dtype == np.float32 and predictions.shape == (samples, 3)
    np.testing.assert_allclose(predictions, softmax_probabilities(model, x), rtol=1e-5, atol=1e-6)


def test_predict_needs_no_compile_and_builds_an_unbuilt_model():
    model = Sequential([Dense(2)])
    assert model.predict(np.ones((3, 5)), verbose=0).shape == (3, 2) and model.input_shape == (None, 5)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.int32, np.int64, np.uint16, np.uint32, np.float32, np.float64])
def test_integer_labels_of_any_dtype_and_a_trailing_axis_give_the_same_loss(dtype):
    x, y = classification_data()
    reference = compiled().evaluate(x, y, verbose=0)
    assert compiled().evaluate(x, y.astype(dtype), verbose=0) == pytest.approx(reference, rel=1e-6)
    assert compiled().evaluate(x, y.astype(dtype)[:, None], verbose=0) == pytest.approx(reference, rel=1e-6)


def test_list_float64_and_uint8_inputs_are_cast_to_float32():
    x, y = classification_data()
    model = compiled()
    reference = model.evaluate(x, y, verbose=0)
    assert model.evaluate(x.tolist(), y.tolist(), verbose=0) == pytest.approx(reference, rel=1e-6)
    assert model.evaluate(x.astype(np.float64), y, verbose=0) == pytest.approx(reference, rel=1e-6)
    cnnkit.random.set_seed(0)
    cnn = Sequential([Input((5, 5, 1)), Conv2D(2, 3), Flatten(), Dense(3, activation="softmax")])
    cnn.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    images = np.random.default_rng(0).integers(0, 256, (4, 5, 5, 1)).astype(np.uint8)
    history = cnn.fit(images, [0, 1, 2, 0], verbose=0)
    assert math.isfinite(history.history["loss"][0]) and all(w.dtype == np.float32 for w in cnn.get_weights())


def test_train_and_test_on_batch_return_that_batch_as_latest_keras():
    x, y = classification_data()
    model = compiled(["accuracy"])
    before = model.evaluate(x, y, verbose=0)
    assert model.test_on_batch(x, y) == pytest.approx(before, rel=1e-6)
    assert model.train_on_batch(x, y) == pytest.approx(before, rel=1e-6)  # the loss before the update
    assert model.test_on_batch(x, y, return_dict=True)["loss"] == pytest.approx(model.evaluate(x, y, verbose=0)[0], rel=1e-6)


# ----- optimizers and schedules ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cls, name, expected",
    [
        (optimizers.SGD, "SGD", {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}),
        (optimizers.Adam, "adam", {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}),
        (optimizers.AdamW, "adamw", {"learning_rate": 0.001, "weight_decay": 0.004, "beta_1": 0.9, "beta_2": 0.999,
                                     "epsilon": 1e-7, "amsgrad": False}),
        (optimizers.RMSprop, "rmsprop", {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False}),
        (optimizers.Adagrad, "adagrad", {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7}),
    ],
)
def test_optimizer_defaults_and_config_keys(cls, name, expected):
    config = cls().get_config()
    base = {"name", "learning_rate", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue", "use_ema", "ema_momentum",
            "ema_overwrite_frequency", "loss_scale_factor", "gradient_accumulation_steps"}
    assert set(config) == base | set(expected) and config["name"] == name
    assert {key: config[key] for key in expected} == pytest.approx(expected)
    rebuilt = cls.from_config(config)
    assert rebuilt.get_config() == config


def test_learning_rate_is_settable_unless_it_is_a_schedule():
    optimizer = optimizers.Adam()
    optimizer.learning_rate = 0.5
    assert optimizer.learning_rate == 0.5
    scheduled = optimizers.SGD(learning_rate=schedules.ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(TypeError, match="not settable"):
        scheduled.learning_rate = 0.2


@pytest.mark.parametrize("arguments", [{"clipnorm": 1.0, "clipvalue": 1.0}, {"clipnorm": 1.0, "global_clipnorm": 1.0},
                                       {"clipvalue": 1.0, "global_clipnorm": 1.0}])
def test_clipping_options_are_mutually_exclusive(arguments):
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set"):
        optimizers.SGD(**arguments)


def test_clipnorm_and_global_clipnorm_scale_as_keras():
    from cnnkit.variables import Variable

    gradients = [np.array([3.0, 4.0], np.float32), np.array([12.0], np.float32)]
    for arguments, scales in (({"clipnorm": 1.0}, [1 / 5, 1 / 12]), ({"global_clipnorm": 6.5}, [0.5, 0.5]),
                              ({"clipvalue": 3.5}, None)):
        variables = [Variable(np.zeros(2, np.float32)), Variable(np.zeros(1, np.float32))]
        optimizers.SGD(learning_rate=1.0, **arguments).apply([g.copy() for g in gradients], variables)
        if scales is None:
            expected = [-np.clip(g, -3.5, 3.5) for g in gradients]
        else:
            expected = [-g * s for g, s in zip(gradients, scales)]
        for variable, value in zip(variables, expected):
            np.testing.assert_allclose(variable.numpy(), value, rtol=1e-6)


def test_schedule_formulas():
    staircase = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    smooth = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert [staircase(s) for s in (0, 9, 10, 25)] == pytest.approx([0.1, 0.1, 0.05, 0.025])
    assert smooth(5) == pytest.approx(0.1 * 0.5 ** 0.5)
    cosine = schedules.CosineDecay(1.0, decay_steps=10, alpha=0.1)
    assert [cosine(s) for s in (0, 5, 10, 30)] == pytest.approx([1.0, 0.55, 0.1, 0.1])
    warm = schedules.CosineDecay(0.0, decay_steps=10, warmup_target=1.0, warmup_steps=4)
    assert [warm(s) for s in (0, 2, 4, 9, 14, 50)] == pytest.approx([0.0, 0.5, 1.0, 0.5, 0.0, 0.0])
    no_warmup = schedules.CosineDecay(0.3, decay_steps=10, warmup_target=1.0)  # Keras: decay from the target
    assert [no_warmup(s) for s in (0, 5)] == pytest.approx([1.0, 0.5])
    piecewise = schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [piecewise(s) for s in (0, 10, 11, 20, 21)] == [1.0, 1.0, 0.5, 0.5, 0.1]


def test_a_schedule_is_read_at_the_optimizer_step():
    x, y = classification_data(samples=8)
    schedule = schedules.PiecewiseConstantDecay([1], [0.5, 0.0])  # two updates at 0.5, then frozen
    model = compiled(optimizer=optimizers.SGD(learning_rate=schedule))
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    frozen = model.get_weights()
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for before, after in zip(frozen, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert model.optimizer.iterations == 4 and model.optimizer.learning_rate == 0.0


# ----- callbacks ------------------------------------------------------------------------------------------------
def defaults(function):
    return {p.name: p.default for p in inspect.signature(function).parameters.values() if p.default is not p.empty}


def test_callback_defaults_match_keras():
    assert defaults(callbacks.EarlyStopping.__init__) == {
        "monitor": "val_loss", "min_delta": 0, "patience": 0, "verbose": 0, "mode": "auto", "baseline": None,
        "restore_best_weights": False, "start_from_epoch": 0}
    assert defaults(callbacks.ReduceLROnPlateau.__init__) == {
        "monitor": "val_loss", "factor": 0.1, "patience": 10, "verbose": 0, "mode": "auto", "min_delta": 1e-4,
        "cooldown": 0, "min_lr": 0.0}
    assert defaults(callbacks.ModelCheckpoint.__init__) == {
        "monitor": "val_loss", "verbose": 0, "save_best_only": False, "save_weights_only": False, "mode": "auto",
        "save_freq": "epoch", "initial_value_threshold": None}
    assert defaults(callbacks.CSVLogger.__init__) == {"separator": ",", "append": False}


def test_early_stopping_with_start_from_epoch_and_baseline():
    x, y = classification_data()
    # Fake a loss that never improves after epoch 0: patience 1 stops at epoch 1 without warm-up,
    # and start_from_epoch=3 delays monitoring to epoch 3, stopping at epoch 4.
    for start, expected_epochs in ((0, 2), (3, 5)):
        model = compiled()
        stop = callbacks.EarlyStopping(monitor="fake", mode="min", patience=1, start_from_epoch=start)
        fake = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update(fake=1.0))
        history = model.fit(x, y, epochs=10, verbose=0, callbacks=[fake, stop])
        assert len(history.epoch) == expected_epochs
    # A baseline that is never beaten keeps the first epoch counted: a constant value stops one
    # epoch earlier than without one (Keras only stops in epochs without improvement).
    for baseline, expected_epochs in ((None, 4), (0.5, 3)):
        stop = callbacks.EarlyStopping(monitor="fake", mode="min", patience=3, baseline=baseline)
        fake = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update(fake=1.0))
        history = compiled().fit(x, y, epochs=10, verbose=0, callbacks=[fake, stop])
        assert len(history.epoch) == expected_epochs and stop.stopped_epoch == expected_epochs - 1


def test_model_checkpoint_formats_the_path_and_checks_the_extension(tmp_path):
    x, y = classification_data()
    pattern = str(tmp_path / "w.{epoch:02d}-{val_loss:.2f}.weights.h5")
    model = compiled()
    history = model.fit(x, y, epochs=2, verbose=0, validation_data=(x, y),
                        callbacks=[callbacks.ModelCheckpoint(pattern, save_weights_only=True)])
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == [f"w.{epoch + 1:02d}-{loss:.2f}.weights.h5" for epoch, loss in enumerate(history.history["val_loss"])]
    fresh = compiled(seed=5)
    fresh.load_weights(tmp_path / names[-1])
    for ours, theirs in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    with pytest.raises(ValueError, match=r"\.weights\.h5.*Received: filepath=.*best\.keras"):
        callbacks.ModelCheckpoint(str(tmp_path / "best.keras"), save_weights_only=True)
    with pytest.raises(ValueError, match=r"\.keras.*Received: filepath=.*best\.txt"):
        callbacks.ModelCheckpoint(str(tmp_path / "best.txt"))


def test_model_checkpoint_best_only_without_the_value_warns_and_saves(tmp_path):
    x, y = classification_data()
    path = tmp_path / "best.keras"
    with pytest.warns(UserWarning, match="Can save best model only with val_loss available"):
        compiled().fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.ModelCheckpoint(str(path), save_best_only=True)])
    assert path.exists()


def test_reduce_lr_on_plateau_reduces_after_patience_and_logs_the_rate():
    x, y = classification_data()
    model = compiled(optimizer=optimizers.SGD(learning_rate=0.1))
    fake = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update(plateau=1.0))
    reduce = callbacks.ReduceLROnPlateau(monitor="plateau", factor=0.5, patience=2, min_lr=0.03)
    history = model.fit(x, y, epochs=6, verbose=0, callbacks=[fake, reduce])
    # wait reaches 2 at epochs 2 and 4: 0.1 -> 0.05 -> 0.03 (min_lr); logged before each change.
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.03])
    assert model.optimizer.learning_rate == pytest.approx(0.03)


def test_csv_logger_columns_and_append(tmp_path):
    x, y = classification_data()
    path = tmp_path / "log.csv"
    model = compiled(["accuracy"])
    model.fit(x, y, epochs=2, verbose=0, validation_data=(x, y), callbacks=[callbacks.CSVLogger(str(path))])
    model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y), callbacks=[callbacks.CSVLogger(str(path), append=True)])
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [row[0] for row in rows[1:]] == ["0", "1", "0"] and len(rows) == 4


def test_terminate_on_nan_stops_or_raises():
    x, y = classification_data(samples=8)
    nan_x = x.copy()
    nan_x[5] = np.nan  # the second batch of 4 gives a NaN loss
    model = compiled()
    history = model.fit(nan_x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=[callbacks.TerminateOnNaN()])
    assert history.epoch == [0] and math.isnan(history.history["loss"][0])
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 1"):
        compiled().fit(nan_x, y, batch_size=4, epochs=3, shuffle=False, verbose=0,
                       callbacks=[callbacks.TerminateOnNaN(raise_error=True)])


def test_learning_rate_scheduler_accepts_keras_one_argument_schedules():
    x, y = classification_data()
    model = compiled()
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[callbacks.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])


# ----- metrics ----------------------------------------------------------------------------------------------------
def test_metrics_without_a_name_are_numbered_like_keras():
    clear_session()
    assert [metrics.Precision().name, metrics.Precision().name, metrics.Recall().name] == ["precision", "precision_1", "recall"]
    assert metrics.Precision(name="p").name == "p"
    assert (metrics.Accuracy().name, metrics.TopKCategoricalAccuracy().name) == ("accuracy", "top_k_categorical_accuracy")
    clear_session()
    assert metrics.Precision().name == "precision"


def test_metric_state_semantics():
    metric = metrics.Precision(thresholds=[0.3, 0.7])
    metric.update_state([1, 0, 1, 1], [0.5, 0.4, 0.8, 0.2])
    assert metric.result() == pytest.approx([2 / 3, 1.0])
    metric.update_state([0], [0.9])
    assert metric.result() == pytest.approx([2 / 4, 1 / 2])
    metric.reset_state()
    assert metric.result() == [0.0, 0.0]
    accuracy = metrics.SparseCategoricalAccuracy()
    assert accuracy([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0.0]], sample_weight=[0.7, 0.3]) == pytest.approx(0.3)
    top2 = metrics.TopKCategoricalAccuracy(k=2)
    assert top2([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]) == pytest.approx(1.0)


# ----- saving --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["model.keras", "model.cnnkit", "model.safetensors"])
def test_save_and_load_keep_predictions_and_compile_state(tmp_path, name):
    x, y = classification_data()
    model = compiled(["accuracy", metrics.Precision(name="p")], optimizer=optimizers.Adam(learning_rate=0.01))
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss=losses.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"], weighted_metrics=["accuracy"], loss_weights=0.5)
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / name)
    restored = load_model(tmp_path / name)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    assert restored.compiled and type(restored.optimizer) is optimizers.Adam
    assert restored.optimizer.iterations == model.optimizer.iterations and restored.optimizer.learning_rate == pytest.approx(0.01)
    assert restored.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx(model.evaluate(x, y, verbose=0, return_dict=True))
    assert not load_model(tmp_path / name, compile=False).compiled


def test_save_model_function_is_model_save(tmp_path):
    from cnnkit.models import save_model

    model = dense_model()
    save_model(model, tmp_path / "m.keras")
    np.testing.assert_array_equal(load_model(tmp_path / "m.keras").get_weights()[0], model.get_weights()[0])


def test_save_refuses_names_cnnkit_does_not_write(tmp_path):
    model = dense_model()
    for name in ("model.h5", "model.hdf5", "model", "model.txt", "model.weights.h5"):
        with pytest.raises(ValueError, match=rf"Received: filepath=.*{name}"):
            model.save(tmp_path / name)
    for name in ("weights.keras", "weights.h5", "weights.npz"):
        with pytest.raises(ValueError, match=rf"\.weights\.h5.*Received: filepath=.*{name}"):
            model.save_weights(tmp_path / name)
    assert list(tmp_path.iterdir()) == []
    model.save_weights(tmp_path / "w.weights.h5")  # Keras's required name (the bytes are safetensors)
    copy = dense_model()
    copy.load_weights(tmp_path / "w.weights.h5")
    for ours, theirs in zip(copy.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_loading_a_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nowhere.keras"
    for load in (lambda: load_model(missing), lambda: dense_model().load_weights(missing)):
        with pytest.raises(FileNotFoundError, match="nowhere.keras"):
            load()
        with pytest.raises(ValueError, match="File not found: filepath=.*nowhere.keras"):
            load()
    with pytest.raises(ValueError, match="is a directory"):
        load_model(tmp_path)


def test_no_warning_in_a_plain_training_run():
    x, y = classification_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compiled(["accuracy"]).fit(x, y, epochs=1, verbose=0, validation_split=0.25)
