"""Sequential and the training loop: the lecture's LeNet, training against PyTorch step by step,
Keras's fit semantics (validation_split, shuffling, logs, progress bar) and clear errors."""
import re

import numpy as np
import pytest
import torch

import cnnkit
from cnnkit import callbacks, optimizers
from cnnkit.layers import (
    AveragePooling2D, BatchNormalization, Conv2D, Dense, Flatten, Input, InputLayer,
)
from cnnkit.models import Sequential


def lenet(input_shape=(28, 28, 1)):
    """The lecture's LeNet-5, verbatim (seed-examples.md section 5)."""
    model = Sequential()
    model.add(Conv2D(6, kernel_size=(5, 5), strides=(1, 1), activation='tanh', input_shape=input_shape, padding="valid"))
    model.add(AveragePooling2D(pool_size=(2, 2), strides=(2, 2), padding='valid'))
    model.add(Conv2D(16, kernel_size=(5, 5), strides=(1, 1), activation='tanh', padding='valid'))
    model.add(AveragePooling2D(pool_size=(2, 2), strides=(2, 2), padding='valid'))
    model.add(Flatten())
    model.add(Dense(120, activation='tanh'))
    model.add(Dense(84, activation='tanh'))
    model.add(Dense(10, activation='softmax'))
    return model


def tiny(input_shape=(6, 6, 1), classes=4, **dense_arguments):
    return Sequential([
        Conv2D(3, kernel_size=3, activation="tanh", input_shape=input_shape),
        Flatten(),
        Dense(classes, activation="softmax", **dense_arguments),
    ])


def data(samples=20, shape=(6, 6, 1), classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((samples,) + shape).astype(np.float32), rng.integers(0, classes, size=samples)


# ----- the lecture's model ----------------------------------------------------------------------
def test_lenet_summary_shows_44426_parameters():
    lines = []
    model = lenet()
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert model.count_params() == 44426
    assert "Total params: 44,426 (173.54 KB)" in text
    assert "Trainable params: 44,426 (173.54 KB)" in text
    assert "Non-trainable params: 0 (0.00 B)" in text
    for row in ["(None, 24, 24, 6)", "(None, 12, 12, 6)", "(None, 8, 8, 16)", "(None, 4, 4, 16)", "(None, 256)",
                "30,840", "10,164", "850", "2,416", "156"]:
        assert row in text
    assert lenet((32, 32, 1)).count_params() == 61706


def test_summary_of_unbuilt_model_and_with_trainable_column():
    lines = []
    Sequential([Dense(3)]).summary(print_fn=lines.append)
    assert any("0 (unbuilt)" in line for line in lines) and any("│ ?" in line for line in lines)
    model = tiny()
    model.layers[0].trainable = False
    lines = []
    model.summary(print_fn=lines.append, show_trainable=True)
    assert "Non-trainable params: 30 (120.00 B)" in lines[-1]


# ----- forward and training against PyTorch -------------------------------------------------------
def torch_twin(model):
    """The same network in PyTorch, with the cnnkit weights (Keras layouts converted)."""
    kernel, bias, dense_kernel, dense_bias = model.get_weights()
    conv = torch.nn.Conv2d(1, 3, 3)
    dense = torch.nn.Linear(dense_kernel.shape[0], dense_kernel.shape[1])
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(kernel.transpose(3, 2, 0, 1)))
        conv.bias.copy_(torch.tensor(bias))
        dense.weight.copy_(torch.tensor(dense_kernel.T))
        dense.bias.copy_(torch.tensor(dense_bias))

    def forward(x_nhwc):
        hidden = torch.tanh(conv(x_nhwc.permute(0, 3, 1, 2)))
        hidden = hidden.permute(0, 2, 3, 1).reshape(len(x_nhwc), -1)  # Keras flattens channels-last
        return torch.softmax(dense(hidden), dim=-1)

    return forward, [conv.weight, conv.bias, dense.weight, dense.bias]


def to_keras_layout(parameters):
    weight, bias, dense_weight, dense_bias = (p.detach().numpy() for p in parameters)
    return [weight.transpose(2, 3, 1, 0), bias, dense_weight.T, dense_bias]


def test_predict_equals_pytorch():
    cnnkit.random.set_seed(0)
    model = tiny()
    x, _ = data()
    forward, _ = torch_twin(model)
    expected = forward(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(model.predict(x, batch_size=7, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_fit_matches_pytorch_training_step_by_step():
    """Two epochs of SGD with momentum, batches of 8 over 20 samples (a partial last batch),
    no shuffling: the weights and the logged epoch losses match PyTorch's."""
    cnnkit.random.set_seed(1)
    model = tiny()
    x, y = data(seed=1)
    forward, parameters = torch_twin(model)
    torch_optimizer = torch.optim.SGD(parameters, lr=0.1, momentum=0.9)
    epoch_losses = []
    for _ in range(2):
        total = 0.0
        for begin in range(0, 20, 8):
            xb, yb = torch.tensor(x[begin:begin + 8]), torch.tensor(y[begin:begin + 8])
            loss = torch.nn.functional.nll_loss(torch.log(forward(xb)), yb)
            torch_optimizer.zero_grad()
            loss.backward()
            torch_optimizer.step()
            total += loss.item() * len(xb)
        epoch_losses.append(total / 20)

    model.compile(optimizer=optimizers.SGD(learning_rate=0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for ours, theirs in zip(model.get_weights(), to_keras_layout(parameters)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(history.history["loss"], epoch_losses, rtol=1e-5)
    assert model.optimizer.iterations == 6


def test_training_reduces_loss_and_stays_float32():
    cnnkit.random.set_seed(2)
    model = tiny()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = data(samples=32, seed=2)
    history = model.fit(x.astype(np.float64), y, batch_size=8, epochs=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert model.predict(x, verbose=0).dtype == np.float32
    assert all(v.dtype != np.float64 for v in model.optimizer.variables[2:])


# ----- Keras's fit semantics ------------------------------------------------------------------------
def test_validation_split_takes_the_last_fraction_before_shuffling():
    cnnkit.random.set_seed(3)
    model = tiny()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = data(samples=20, seed=3)
    history = model.fit(x, y, batch_size=4, epochs=1, validation_split=0.25, verbose=0)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    expected = model.evaluate(x[15:], y[15:], verbose=0, return_dict=True)
    assert history.history["val_loss"][0] == pytest.approx(expected["loss"], rel=1e-6)
    assert history.history["val_accuracy"][0] == pytest.approx(expected["accuracy"])
    assert model.optimizer.iterations == 4  # 15 training samples in batches of 4


def test_shuffling_draws_from_cnnkit_random():
    def run(seed):
        cnnkit.random.set_seed(seed)
        model = tiny()
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        x, y = data(seed=4)
        model.fit(x, y, batch_size=4, epochs=2, verbose=0)
        return model.get_weights()

    first, again, other = run(7), run(7), run(8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_evaluate_train_on_batch_test_on_batch_and_metric_names():
    cnnkit.random.set_seed(5)
    model = tiny()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["acc"])
    x, y = data(seed=5)
    probabilities = model.predict(x, verbose=0)
    expected_loss = float(np.mean(-np.log(probabilities[np.arange(20), y])))
    expected_accuracy = float(np.mean(probabilities.argmax(1) == y))
    loss, accuracy = model.evaluate(x, y, batch_size=6, verbose=0)
    assert loss == pytest.approx(expected_loss, rel=1e-5) and accuracy == pytest.approx(expected_accuracy)
    assert model.metrics_names == ["loss", "acc"]
    assert model.test_on_batch(x, y, return_dict=True)["loss"] == pytest.approx(expected_loss, rel=1e-5)
    before = model.get_weights()
    loss_on_batch, _ = model.train_on_batch(x, y)
    assert loss_on_batch == pytest.approx(expected_loss, rel=1e-5)  # the loss before the update
    assert not np.array_equal(before[0], model.get_weights()[0])
    np.testing.assert_array_equal(model.predict_on_batch(x[:3]), model.predict(x[:3], verbose=0))


def test_predict_in_batches_equals_one_call_and_records_no_graph():
    cnnkit.random.set_seed(6)
    model = tiny()
    x, _ = data(samples=23, seed=6)
    whole = model(x).data
    np.testing.assert_allclose(model.predict(x, batch_size=5, verbose=0), whole, rtol=1e-6)
    for variable in model.weights:
        variable.grad = None
    model.predict(x, verbose=0)
    assert all(variable.grad is None for variable in model.weights)


def test_regularisation_joins_the_loss_and_constraints_follow_each_update():
    cnnkit.random.set_seed(7)
    model = tiny(kernel_regularizer="l2", kernel_constraint="non_neg")
    model.compile(optimizer=optimizers.SGD(learning_rate=0.5), loss="sparse_categorical_crossentropy")
    x, y = data(seed=7)
    kernel = model.layers[-1].kernel.numpy()
    probabilities = model.predict(x, verbose=0)
    cross_entropy = float(np.mean(-np.log(probabilities[np.arange(20), y])))
    penalty = 0.01 * float(np.sum(kernel.astype(np.float64) ** 2))
    assert model.train_on_batch(x, y) == pytest.approx(cross_entropy + penalty, rel=1e-5)
    model.fit(x, y, batch_size=5, epochs=2, verbose=0)
    assert model.layers[-1].kernel.numpy().min() >= 0.0


def test_frozen_layer_is_not_trained_and_batchnorm_statistics_move():
    cnnkit.random.set_seed(8)
    model = Sequential([Input(shape=(5,)), Dense(4), BatchNormalization(), Dense(2, activation="softmax")])
    model.layers[0].trainable = False
    frozen = model.layers[0].kernel.numpy()
    moving_mean = model.layers[1].moving_mean.numpy()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(8)
    model.fit(rng.standard_normal((16, 5)).astype(np.float32) + 3, rng.integers(0, 2, 16), batch_size=8, verbose=0)
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), frozen)
    assert not np.array_equal(model.layers[1].moving_mean.numpy(), moving_mean)
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 4


def test_sample_weight_and_class_weight():
    cnnkit.random.set_seed(9)
    model = tiny()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = data(seed=9)
    per_sample = -np.log(model.predict(x, verbose=0)[np.arange(20), y])
    weights = np.linspace(0, 2, 20).astype(np.float32)
    loss = model.evaluate(x, y, sample_weight=weights, batch_size=20, verbose=0)
    assert loss == pytest.approx(float(np.mean(per_sample * weights)), rel=1e-5)
    classes = {0: 0.0, 1: 1.0, 2: 2.0, 3: 3.0}
    loss = model.test_on_batch(x, y, sample_weight=np.array([classes[c] for c in y], dtype=np.float32))
    assert loss == pytest.approx(float(np.mean(per_sample * y)), rel=1e-5)
    model.fit(x, y, class_weight=classes, verbose=0, epochs=1)


def test_input_layer_build_and_config_round_trip():
    cnnkit.random.set_seed(10)
    model = Sequential([InputLayer(shape=(6, 6, 1)), Conv2D(2, 3), Flatten(), Dense(3)], name="net")
    assert model.built and [type(l).__name__ for l in model.layers] == ["Conv2D", "Flatten", "Dense"]
    rebuilt = Sequential.from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    x, _ = data(samples=4, seed=10)
    np.testing.assert_array_equal(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0))
    assert rebuilt.name == "net" and rebuilt.get_config()["layers"][0]["class_name"] == "InputLayer"
    late = Sequential([Dense(3), Dense(2)])
    assert not late.built
    late.build((None, 4))
    assert late.count_params() == 4 * 3 + 3 + 3 * 2 + 2 and late.output_shape == (None, 2)


def test_progress_bar_output(capsys):
    cnnkit.random.set_seed(11)
    model = tiny()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = data(seed=11)
    model.fit(x, y, batch_size=8, epochs=2, validation_data=(x[:4], y[:4]))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    number = r"\d\.\d{4}(e[+-]\d\d)?"  # Keras prints values below 1e-3 in scientific notation
    assert re.fullmatch(rf"3/3 ━{{20}} \d+s \d+(us|ms|s)/step - accuracy: {number} - loss: {number} "
                        rf"- val_accuracy: {number} - val_loss: {number}", lines[1]), lines[1]
    model.fit(x, y, batch_size=8, epochs=1, verbose=2)
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(rf"3/3 - \d+s - \d+(us|ms|s)/step - accuracy: {number} - loss: {number}", line), line
    model.fit(x, y, epochs=1, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""
    model.evaluate(x, y)
    assert re.fullmatch(rf"1/1 ━{{20}} .* - accuracy: {number} - loss: {number}", capsys.readouterr().out.strip())


def test_history_and_callback_params():
    seen = {}

    class Recorder(callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.update(self.params)

    cnnkit.random.set_seed(12)
    model = tiny()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = data(seed=12)
    history = model.fit(x, y, batch_size=6, epochs=3, verbose=0, callbacks=[Recorder()])
    assert history is model.history and history.epoch == [0, 1, 2] and len(history.history["loss"]) == 3
    assert seen == {"verbose": 0, "epochs": 3, "steps": 4}
    history = model.fit(x, y, epochs=3, initial_epoch=2, verbose=0)
    assert history.epoch == [2]


# ----- errors ------------------------------------------------------------------------------------------
@pytest.fixture
def compiled():
    cnnkit.random.set_seed(13)
    model = tiny()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_fit_before_compile():
    x, y = data()
    with pytest.raises(ValueError, match=r"must call `compile\(\)`"):
        tiny().fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r"must call `compile\(\)`"):
        tiny().evaluate(x, y, verbose=0)


@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_wrong_input_shape_shows_expected_and_received(compiled, method):
    x, y = data()
    arguments = (x[..., 0],) if method == "predict" else (x[..., 0], y)
    with pytest.raises(ValueError, match=re.escape("expected shape=(None, 6, 6, 1), found shape=(20, 6, 6)")) as error:
        getattr(compiled, method)(*arguments, verbose=0)
    assert "x[..., None]" in str(error.value)
    with pytest.raises(ValueError, match=re.escape("found shape=(20, 5, 5, 1)")):
        getattr(compiled, method)(*((np.zeros((20, 5, 5, 1)),) + arguments[1:]), verbose=0)


def test_x_and_y_of_different_lengths(compiled):
    x, y = data()
    with pytest.raises(ValueError, match=r"same number of samples.*x.shape=\(20, 6, 6, 1\).*y.shape=\(19,\)"):
        compiled.fit(x, y[:19], verbose=0)


def test_labels_out_of_range_or_of_the_wrong_shape(compiled):
    x, y = data()
    with pytest.raises(ValueError, match=r"4 classes.*\[0, 3\]; received values from 1 to 4"):
        compiled.fit(x, np.where(y == 0, 4, y), verbose=0)
    with pytest.raises(ValueError, match=r"from -1"):
        compiled.evaluate(x, np.where(y == 0, -1, y), verbose=0)
    with pytest.raises(ValueError, match="one-hot"):
        compiled.fit(x, np.eye(4)[y], verbose=0)
    with pytest.raises(ValueError, match="integer class labels"):
        compiled.fit(x, y + 0.5, verbose=0)
    compiled.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"one-hot targets.*\(None, 4\).*sparse_categorical_crossentropy"):
        compiled.fit(x, y, verbose=0)
    binary = Sequential([Dense(1, activation="sigmoid", input_shape=(3,))])
    binary.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    with pytest.raises(ValueError, match=r"targets in \[0, 1\]"):
        binary.fit(np.zeros((4, 3)), np.array([0, 1, 2, 1]), verbose=0)
    binary.fit(np.zeros((4, 3)), np.array([0, 1, 1, 0]), verbose=0)  # (N,) targets for (N, 1) outputs are fine


@pytest.mark.parametrize(
    "arguments, match",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"epochs": -1}, "epochs"),
        ({"verbose": 3}, "verbose"),
        ({"validation_split": 1.0}, "validation_split"),
        ({"validation_data": ([1],)}, "validation_data"),
        ({"callbacks": ["stop"]}, "Callback"),
    ],
)
def test_bad_fit_arguments(compiled, arguments, match):
    x, y = data()
    with pytest.raises((ValueError, TypeError), match=match):
        compiled.fit(x, y, **arguments)


def test_bad_stack_and_compile_arguments():
    with pytest.raises(TypeError, match="Only instances"):
        Sequential([Dense(2), "relu"])
    with pytest.raises(ValueError, match="unique names"):
        Sequential([Dense(2, name="same"), Dense(2, name="same")])
    with pytest.raises(ValueError, match="Input layer must be the first"):
        Sequential([Dense(2), Input(shape=(3,))])
    with pytest.raises(ValueError, match="isn't built"):
        Sequential([Dense(2)]).count_params()
    with pytest.raises(ValueError, match="Could not interpret optimizer"):
        tiny().compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="acuracy"):
        tiny().compile(optimizer="adam", loss="mse", metrics=["acuracy"])
    with pytest.raises(ValueError, match="list"):
        tiny().compile(optimizer="adam", loss="mse", metrics="accuracy")
    with pytest.raises(ValueError, match="training data contains 1 samples|not sufficient"):
        model = tiny()
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(*data(samples=1), validation_split=0.5, verbose=0)


def test_subclassed_model_tracks_layers_and_trains(tmp_path):
    class TwoLayers(cnnkit.models.Model):
        def __init__(self):
            super().__init__(name="two_layers")
            self.hidden = Dense(5, activation="relu")
            self.out = Dense(3, activation="softmax")

        def call(self, inputs, training=False):
            return self.out(self.hidden(inputs))

    cnnkit.random.set_seed(14)
    model = TwoLayers()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(14)
    x, y = rng.standard_normal((12, 4)).astype(np.float32), rng.integers(0, 3, 12)
    history = model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    assert len(model.layers) == 2 and len(model.trainable_weights) == 4 and model.count_params() == 43
    assert len(history.history["loss"]) == 3 and model.optimizer.iterations == 9
    model.save_weights(tmp_path / "two.safetensors")
    copy = TwoLayers()
    copy(x[:1])
    copy.load_weights(tmp_path / "two.safetensors")
    np.testing.assert_array_equal(copy.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="functional API"):
        cnnkit.models.Model(inputs=None, outputs=None)
