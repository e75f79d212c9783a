"""Bad input to the model API raises ValueError or TypeError that names the argument, shows the
value received and says what was expected, before any training happens (never an IndexError or
a NumPy broadcasting error from deep inside)."""
import numpy as np
import pytest

import cnnkit
from cnnkit import Sequential, callbacks, metrics, optimizers
from cnnkit.layers import Conv2D, Dense, Flatten, Input
from cnnkit.models import load_model
from cnnkit.optimizers import schedules

RNG = np.random.default_rng(0)
X = RNG.standard_normal((10, 4)).astype(np.float32)
Y = RNG.integers(0, 3, 10)
IMAGES = RNG.standard_normal((6, 8, 8, 1)).astype(np.float32)


def model(loss="sparse_categorical_crossentropy", metrics_list=None, compile_it=True):
    cnnkit.random.set_seed(0)
    built = Sequential([Input((4,)), Dense(3, activation="softmax")])
    if compile_it:
        built.compile(optimizer="sgd", loss=loss, metrics=metrics_list)
    return built


def cnn():
    cnnkit.random.set_seed(0)
    built = Sequential([Input((8, 8, 1)), Conv2D(2, 3), Flatten(), Dense(3, activation="softmax")])
    built.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return built


CASES = {
    # fit's arguments
    "batch_size zero": (lambda: model().fit(X, Y, batch_size=0, verbose=0), ValueError, ["batch_size", "=0", ">= 1"]),
    "batch_size float": (lambda: model().fit(X, Y, batch_size=1.5, verbose=0), ValueError, ["batch_size", "1.5", "int"]),
    "batch_size string": (lambda: model().fit(X, Y, batch_size="32", verbose=0), ValueError, ["batch_size", "'32'"]),
    "epochs negative": (lambda: model().fit(X, Y, epochs=-1, verbose=0), ValueError, ["epochs", "-1", ">= 0"]),
    "epochs float": (lambda: model().fit(X, Y, epochs=2.5, verbose=0), ValueError, ["epochs", "2.5"]),
    "initial_epoch": (lambda: model().fit(X, Y, initial_epoch=-2, verbose=0), ValueError, ["initial_epoch", "-2"]),
    "verbose": (lambda: model().fit(X, Y, verbose=3), ValueError, ["verbose", "3", "'auto', 0, 1 or 2"]),
    "verbose string": (lambda: model().predict(X, verbose="loud"), ValueError, ["verbose", "'loud'"]),
    "validation_split one": (lambda: model().fit(X, Y, validation_split=1.0, verbose=0), ValueError,
                             ["validation_split", "1.0", "[0, 1)"]),
    "validation_split string": (lambda: model().fit(X, Y, validation_split="0.2", verbose=0), ValueError,
                                ["validation_split", "'0.2'"]),
    "validation_split too small": (lambda: model().fit(X[:1], Y[:1], validation_split=0.1, verbose=0), ValueError,
                                   ["validation_split=0.1", "1 samples"]),
    "validation_data array": (lambda: model().fit(X, Y, validation_data=X, verbose=0), ValueError,
                              ["validation_data", "(x_val, y_val)", "ndarray"]),
    "validation_data one item": (lambda: model().fit(X, Y, validation_data=(X,), verbose=0), ValueError,
                                 ["validation_data", "length 1"]),
    "validation_data wrong shape": (lambda: model().fit(X, Y, validation_data=(X[:, :3], Y), verbose=0), ValueError,
                                    ["validation_data", "expected shape=(None, 4)", "found shape=(10, 3)"]),
    "validation_freq": (lambda: model().fit(X, Y, validation_data=(X, Y), validation_freq=0, verbose=0), ValueError,
                        ["validation_freq=0", "positive int"]),
    "steps_per_epoch": (lambda: model().fit(X, Y, steps_per_epoch=0, verbose=0), ValueError, ["steps_per_epoch", "=0"]),
    "class_weight list": (lambda: model().fit(X, Y, class_weight=[1, 2], verbose=0), ValueError,
                          ["class_weight", "[1, 2]", "mapping"]),
    "class_weight key": (lambda: model().fit(X, Y, class_weight={"zero": 1.0}, verbose=0), ValueError,
                         ["class_weight", "'zero'", "integer keys"]),
    "class_weight value": (lambda: model().fit(X, Y, class_weight={0: "heavy"}, verbose=0), ValueError,
                           ["class_weight", "'heavy'", "numbers"]),
    "class_weight and sample_weight": (lambda: model().fit(X, Y, class_weight={0: 1.0}, sample_weight=np.ones(10), verbose=0),
                                       ValueError, ["sample_weight", "class_weight"]),
    "sample_weight length": (lambda: model().fit(X, Y, sample_weight=np.ones(3), verbose=0), ValueError,
                             ["sample_weight", "(3,)", "10 samples"]),
    "callbacks item": (lambda: model().fit(X, Y, callbacks=[print], verbose=0), TypeError, ["callbacks", "Callback", "print"]),
    "callbacks string": (lambda: model().fit(X, Y, callbacks="early", verbose=0), TypeError, ["callbacks", "'early'"]),
    # data
    "x and y lengths": (lambda: model().fit(X, Y[:7], verbose=0), ValueError, ["x.shape=(10, 4)", "y.shape=(7,)"]),
    "x wrong width": (lambda: model().fit(X[:, :3], Y, verbose=0), ValueError,
                      ["expected shape=(None, 4)", "found shape=(10, 3)"]),
    "x missing": (lambda: model().fit(None, Y, verbose=0), ValueError, ["`x` is None"]),
    "y missing": (lambda: model().fit(X, None, verbose=0), ValueError, ["`y` is None"]),
    "x dict": (lambda: model().fit({"input": X}, Y, verbose=0), TypeError, ["`x`", "dict"]),
    "x strings": (lambda: model().fit(np.full((10, 4), "a"), Y, verbose=0), TypeError, ["`x`", "numbers", "<U1"]),
    "x ragged": (lambda: model().predict([[1.0, 2.0, 3.0, 4.0], [1.0]], verbose=0), TypeError, ["`x`", "inhomogeneous"]),
    "x empty": (lambda: model().predict(np.zeros((0, 4)), verbose=0), ValueError, ["at least one sample", "(0, 4)"]),
    "evaluate wrong width": (lambda: model().evaluate(X[:, :2], Y, verbose=0), ValueError,
                             ["expected shape=(None, 4)", "found shape=(10, 2)", "evaluate"]),
    "predict one sample": (lambda: model().predict(X[0], verbose=0), ValueError,
                           ["expected shape=(None, 4)", "found shape=(4,)", "batch axis"]),
    "predict one image": (lambda: cnn().predict(IMAGES[0], verbose=0), ValueError,
                          ["expected shape=(None, 8, 8, 1)", "found shape=(8, 8, 1)", "x[None]"]),
    "images without channel": (lambda: cnn().fit(IMAGES[..., 0], Y[:6], verbose=0), ValueError,
                               ["expected shape=(None, 8, 8, 1)", "found shape=(6, 8, 8)", "x[..., None]"]),
    "images channels first": (lambda: cnn().predict(IMAGES.transpose(0, 3, 1, 2), verbose=0), ValueError,
                              ["expected shape=(None, 8, 8, 1)", "found shape=(6, 1, 8, 8)"]),
    "calling the model on a bad shape": (lambda: model()(X[:, :3]), ValueError,
                                         ["expected shape=(None, 4)", "found shape=(10, 3)"]),
    # labels against the loss
    "one-hot labels with a sparse loss": (lambda: model().fit(X, np.eye(3)[Y], verbose=0), ValueError,
                                          ["sparse_categorical_crossentropy", "y of shape (10, 3)", "one-hot",
                                           "categorical_crossentropy"]),
    "labels out of range": (lambda: model().fit(X, Y + 3, verbose=0), ValueError, ["`y`", "[0, 2]", "from 3 to 5"]),
    "negative labels": (lambda: model().evaluate(X, Y - 1, verbose=0), ValueError, ["`y`", "[0, 2]", "-1"]),
    "fractional labels": (lambda: model().fit(X, Y + 0.5, verbose=0), ValueError, ["integer class labels", "`y`"]),
    "integer labels with a categorical loss": (lambda: model("categorical_crossentropy").fit(X, Y, verbose=0), ValueError,
                                               ["categorical_crossentropy", "y of shape (10,)", "(None, 3)",
                                                "sparse_categorical_crossentropy"]),
    "one-hot of the wrong width": (lambda: model("categorical_crossentropy").fit(X, np.eye(4)[Y], verbose=0), ValueError,
                                   ["y of shape (10, 4)", "(None, 3)"]),
    "binary targets outside [0, 1]": (lambda: model("binary_crossentropy").fit(X, np.full((10, 3), 2.0), verbose=0),
                                      ValueError, ["[0, 1]", "from 2.0"]),
    "regression target shape": (lambda: model("mse").fit(X, np.ones((10, 2)), verbose=0), ValueError,
                                ["y of shape (10, 2)", "(None, 3)"]),
    "metric that does not fit the labels": (lambda: model(metrics_list=["mae"]).fit(X, Y, verbose=0), ValueError,
                                            ["'mae'", "(10,)", "(10, 3)"]),
    # order of calls
    "fit before compile": (lambda: model(compile_it=False).fit(X, Y, verbose=0), ValueError, ["compile()", "fit()"]),
    "evaluate before compile": (lambda: model(compile_it=False).evaluate(X, Y, verbose=0), ValueError,
                                ["compile()", "evaluate()"]),
    "fit without a loss": (lambda: model(loss=None).fit(X, Y, verbose=0), ValueError, ["loss"]),
    # compile
    "metrics as a string": (lambda: model(metrics_list="accuracy"), ValueError, ["metrics", "'accuracy'", "list"]),
    "unknown metric": (lambda: model(metrics_list=["acuracy"]), ValueError, ["'acuracy'", "Known"]),
    "unknown loss": (lambda: model(loss="cross_entropy"), ValueError, ["'cross_entropy'"]),
    "unknown optimizer": (lambda: Sequential([Dense(2)]).compile(optimizer="adamax2", loss="mse"), ValueError,
                          ["optimizer", "'adamax2'"]),
    "loss_weights": (lambda: Sequential([Dense(2)]).compile(loss="mse", loss_weights="half"), ValueError,
                     ["loss_weights", "'half'"]),
    # the model
    "adding a non-layer": (lambda: Sequential().add(np.ones(3)), ValueError, ["Only instances", "ndarray"]),
    "layers not a list": (lambda: Sequential(Dense(2)), TypeError, ["layers", "list", "Dense"]),
    "duplicate layer names": (lambda: Sequential([Dense(2, name="d"), Dense(2, name="d")]), ValueError,
                              ["unique names", "'d'"]),
    "get_layer name": (lambda: model().get_layer("conv"), ValueError, ["No such layer: conv", "dense"]),
    "count_params unbuilt": (lambda: Sequential([Dense(2)]).count_params(), ValueError, ["count_params", "build"]),
    "set_weights count": (lambda: model().set_weights([np.ones((4, 3))]), ValueError, ["length 1", "2 weights"]),
    # optimizers, schedules, callbacks, metrics
    "learning_rate string": (lambda: optimizers.Adam(learning_rate="fast"), ValueError, ["learning_rate", "'fast'"]),
    "momentum": (lambda: optimizers.SGD(momentum=1.5), ValueError, ["momentum", "1.5", "[0, 1]"]),
    "beta_1": (lambda: optimizers.Adam(beta_1=1.0), ValueError, ["beta_1", "1.0", "< 1.0"]),
    "epsilon": (lambda: optimizers.RMSprop(epsilon="tiny"), TypeError, ["epsilon", "'tiny'"]),
    "clipping twice": (lambda: optimizers.SGD(clipnorm=1.0, clipvalue=0.5), ValueError,
                       ["clipnorm=1.0", "clipvalue=0.5", "Only one of"]),
    "unknown optimizer argument": (lambda: optimizers.Adam(lr=0.1), ValueError, ["not recognized", "'lr'"]),
    "decay_steps": (lambda: schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5), ValueError,
                    ["decay_steps", "0", "> 0"]),
    "piecewise lengths": (lambda: schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5]), ValueError,
                          ["boundaries", "values", "length"]),
    "reduce factor": (lambda: callbacks.ReduceLROnPlateau(factor=1.0), ValueError, ["factor", "1.0", ">= 1.0"]),
    "checkpoint save_freq": (lambda: callbacks.ModelCheckpoint("m.keras", save_freq="batch"), ValueError,
                             ["save_freq", "'batch'", "'epoch' or integer"]),
    "checkpoint weights name": (lambda: callbacks.ModelCheckpoint("w.keras", save_weights_only=True), ValueError,
                                ["filepath=w.keras", ".weights.h5"]),
    "scheduler not callable": (lambda: callbacks.LearningRateScheduler(0.1), TypeError, ["schedule", "0.1"]),
    "top k": (lambda: metrics.TopKCategoricalAccuracy(k=0), ValueError, ["k", "0", "positive"]),
    "threshold": (lambda: metrics.Precision(thresholds=1.5), ValueError, ["thresholds", "1.5", "[0, 1]"]),
    "binary threshold": (lambda: metrics.BinaryAccuracy(threshold=1.0), ValueError, ["threshold", "1.0", "(0, 1)"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_raises_a_clear_error(name):
    call, error, fragments = CASES[name]
    with pytest.raises(error) as raised:
        call()
    message = str(raised.value)
    missing = [fragment for fragment in fragments if fragment not in message]
    assert not missing, f"message lacks {missing}: {message}"


def test_errors_happen_before_any_weight_changes():
    subject = model()
    before = subject.get_weights()
    for call in (lambda: subject.fit(X, Y + 3, verbose=0), lambda: subject.fit(X, Y, batch_size=0, verbose=0),
                 lambda: subject.fit(X, Y, validation_data=(X[:, :3], Y), verbose=0),
                 lambda: subject.fit(X, Y, validation_freq=0, validation_data=(X, Y), verbose=0)):
        with pytest.raises(ValueError):
            call()
    for ours, theirs in zip(subject.get_weights(), before):
        np.testing.assert_array_equal(ours, theirs)
    assert subject.optimizer.iterations == 0


def test_file_errors_name_the_path(tmp_path):
    subject = model()
    for name in ("model.h5", "model.pkl", "model"):
        with pytest.raises(ValueError, match=rf"filepath=.*{name}.*|Received: filepath=.*{name}") as raised:
            subject.save(tmp_path / name)
        assert ".keras" in str(raised.value)
    with pytest.raises(ValueError, match=r"\.weights\.h5.*Received: filepath=.*w\.bin"):
        subject.save_weights(tmp_path / "w.bin")
    with pytest.raises(TypeError, match="filepath"):
        subject.save(42)
    for call in (lambda: load_model(tmp_path / "gone.keras"), lambda: subject.load_weights(tmp_path / "gone.weights.h5")):
        with pytest.raises(ValueError, match="gone"):
            call()
        with pytest.raises(FileNotFoundError):
            call()
    (tmp_path / "notes.keras").write_text("not a model")
    with pytest.raises(ValueError, match="notes.keras"):
        load_model(tmp_path / "notes.keras")
    subject.save_weights(tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="w.safetensors.*not a cnnkit model file.*load_weights"):
        load_model(tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="w.safetensors.*does not fit this model"):
        cnn().load_weights(tmp_path / "w.safetensors")
