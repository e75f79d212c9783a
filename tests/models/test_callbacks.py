"""Callbacks: Keras 3's rules, driven with scripted logs and inside real fits."""
import csv
import math

import numpy as np
import pytest

import cnnkit
from cnnkit import callbacks, optimizers
from cnnkit.callbacks import (
    BackupAndRestore, CallbackList, CSVLogger, EarlyStopping, LambdaCallback, LearningRateScheduler,
    ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN,
)
from cnnkit.layers import Dense
from cnnkit.models import Sequential, load_model


def small_model(learning_rate=0.1):
    cnnkit.random.set_seed(0)
    model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    model.compile(optimizer=optimizers.SGD(learning_rate=learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def small_data(samples=16):
    rng = np.random.default_rng(0)
    return rng.standard_normal((samples, 4)).astype(np.float32), rng.integers(0, 3, samples)


def drive(callback, model, values, key="val_loss"):
    """Run ``callback`` through epochs whose logs hold ``values``; returns the epochs run."""
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin()
    epochs = 0
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {key: value})
        epochs += 1
        if model.stop_training:
            break
    callback.on_train_end()
    return epochs


# ----- EarlyStopping ------------------------------------------------------------------------------
def test_early_stopping_keras_documented_example():
    cnnkit.random.set_seed(0)
    model = Sequential([Dense(1)])  # Keras's example has Dense(10); cnnkit's MSE wants matching shapes
    model.compile(optimizers.SGD(), loss="mse")
    callback = EarlyStopping(monitor="loss", patience=3)
    with np.errstate(all="ignore"):  # the example's loss diverges
        history = model.fit(np.arange(100).reshape(5, 20), np.zeros(5), epochs=10, batch_size=1, callbacks=[callback],
                            verbose=0)
    assert len(history.history["loss"]) == 4


@pytest.mark.parametrize(
    "arguments, values, expected_epochs",
    [
        ({"patience": 2}, [1.0, 0.9, 0.95, 0.96, 0.5], 4),
        ({"patience": 2, "min_delta": 0.2}, [1.0, 0.9, 0.85, 0.7], 3),
        ({"patience": 1, "mode": "max", "monitor": "val_accuracy"}, [0.5, 0.6, 0.55, 0.9], 3),
        ({"patience": 2}, [1.0, 1.0, 1.0, 1.0], 3),
        ({"patience": 2, "baseline": 0.5}, [1.0, 1.0, 1.0, 1.0], 2),  # the baseline is never beaten
        ({"patience": 1, "baseline": 0.5}, [1.0, 0.9, 0.8, 0.7], 4),  # improving epochs never stop (Keras)
        ({"patience": 0, "start_from_epoch": 2}, [1.0, 2.0, 3.0, 4.0], 4),
    ],
)
def test_early_stopping_rules(arguments, values, expected_epochs):
    key = arguments.get("monitor", "val_loss")
    assert drive(EarlyStopping(**arguments), small_model(), values, key=key) == expected_epochs


def test_early_stopping_restores_best_weights_and_infers_accuracy_direction():
    model = small_model()
    weights = []

    class Changer(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            model.set_weights([w + epoch + 1 for w in model.get_weights()])
            weights.append(model.get_weights())

    stop = EarlyStopping(monitor="val_accuracy", patience=1, restore_best_weights=True)
    changer = Changer()
    for callback in (changer, stop):
        callback.set_model(model)
        callback.on_train_begin()
    for epoch, accuracy in enumerate([0.5, 0.8, 0.7, 0.6]):
        changer.on_epoch_end(epoch)
        stop.on_epoch_end(epoch, {"val_accuracy": accuracy})
        if model.stop_training:
            break
    stop.on_train_end()
    assert epoch == 2 and stop.best == 0.8
    for restored, best in zip(model.get_weights(), weights[1]):
        np.testing.assert_array_equal(restored, best)


def test_early_stopping_cannot_guess_direction_of_unknown_metric():
    with pytest.raises(ValueError, match="mode='max'"):
        drive(EarlyStopping(monitor="val_mystery"), small_model(), [1.0], key="val_mystery")


# ----- ModelCheckpoint ------------------------------------------------------------------------------
def test_model_checkpoint_best_only_writes_improvements(tmp_path):
    model = small_model()
    path = str(tmp_path / "model-{epoch:02d}.cnnkit")
    checkpoint = ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    drive(checkpoint, model, [1.0, 0.8, 0.9, 0.7, 0.75])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-01.cnnkit", "model-02.cnnkit", "model-04.cnnkit"]
    assert checkpoint.best == 0.7
    restored = load_model(tmp_path / "model-04.cnnkit")
    for ours, theirs in zip(restored.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_model_checkpoint_in_fit_with_weights_only_and_max_mode(tmp_path):
    model = small_model()
    x, y = small_data()
    path = tmp_path / "best.weights.safetensors"
    checkpoint = ModelCheckpoint(path, monitor="val_accuracy", save_best_only=True, save_weights_only=True)
    model.fit(x, y, epochs=3, batch_size=4, validation_data=(x, y), verbose=0, callbacks=[checkpoint])
    assert path.exists() and checkpoint.best == max(model.history.history["val_accuracy"])
    assert list(tmp_path.iterdir()) == [path]  # no temporary files left behind
    fresh = small_model()
    fresh.load_weights(path)


def test_model_checkpoint_every_epoch_overwrites(tmp_path):
    model = small_model()
    x, y = small_data()
    path = tmp_path / "last.cnnkit"
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[ModelCheckpoint(path)])
    restored = load_model(path)
    for ours, theirs in zip(restored.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    assert restored.optimizer.iterations == model.optimizer.iterations == 4


# ----- ReduceLROnPlateau -------------------------------------------------------------------------------
def test_reduce_lr_on_plateau_patience_cooldown_and_floor():
    model = small_model(learning_rate=1.0)
    model.optimizer.build(model.trainable_weights)
    reduce = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    reduce.set_model(model)
    reduce.on_train_begin()
    rates = []
    for epoch, value in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]):
        logs = {"val_loss": value}
        reduce.on_epoch_end(epoch, logs)
        rates.append(model.optimizer.learning_rate)
        assert logs["learning_rate"] == pytest.approx(rates[-2] if epoch else 1.0)
    # Keras's order: the cooldown epoch ends its cooldown and already counts towards the patience;
    # 0.25 * 0.5 is clipped to min_lr, and min_lr itself is not reduced further.
    assert rates == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2])


def test_reduce_lr_on_plateau_in_fit_logs_learning_rate():
    model = small_model(learning_rate=0.0)
    x, y = small_data()
    history = model.fit(x, y, epochs=4, verbose=0, callbacks=[ReduceLROnPlateau("loss", factor=0.5, patience=1)])
    assert history.history["learning_rate"] == [0.0, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.0)


# ----- others ---------------------------------------------------------------------------------------------
def test_terminate_on_nan_stops_after_the_first_bad_batch():
    model = small_model()
    x, y = small_data()
    x[0, 0] = np.nan
    history = model.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0, callbacks=[TerminateOnNaN()])
    assert model.optimizer.iterations == 1 and len(history.history["loss"]) == 1
    assert math.isnan(history.history["loss"][0])


def test_csv_logger_writes_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    model = small_model()
    x, y = small_data()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[CSVLogger(path)])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(path, append=True)])
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["epoch", "accuracy", "loss"] and [row[0] for row in rows[1:]] == ["0", "1", "0"]
    assert float(rows[2][2]) == pytest.approx(model.history.history["loss"][0], rel=1e-6) or len(rows) == 4


def test_learning_rate_scheduler_sets_rate_each_epoch():
    model = small_model(learning_rate=0.1)
    x, y = small_data()
    seen = []
    scheduler = LearningRateScheduler(lambda epoch, rate: seen.append(rate) or 0.1 / (epoch + 1))
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[scheduler])
    assert seen == pytest.approx([0.1, 0.1, 0.05])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])
    with pytest.raises(TypeError, match="callable"):
        LearningRateScheduler(0.1)


def test_lambda_callback_and_callback_list_validation():
    model = small_model()
    x, y = small_data()
    epochs = []
    model.fit(x, y, epochs=2, verbose=0, callbacks=[LambdaCallback(on_epoch_end=lambda epoch, logs: epochs.append(epoch))])
    assert epochs == [0, 1]
    with pytest.raises(TypeError, match="Callback"):
        CallbackList([lambda: None])
    with pytest.raises(TypeError, match="no hook"):
        LambdaCallback(on_everything=print)


def test_backup_runs_after_every_other_callback_at_epoch_end(tmp_path):
    order = []
    backup = BackupAndRestore(tmp_path / "backup")
    backup.on_epoch_end = lambda epoch, logs=None: order.append("backup")
    late = LambdaCallback(on_epoch_end=lambda epoch, logs: order.append("late"))
    callback_list = CallbackList([backup, late], add_history=True)
    callback_list.on_epoch_end(0, {})
    assert order == ["late", "backup"]


def test_backup_and_restore_resumes_in_process(tmp_path):
    """fit(2 epochs) with a kept backup, then a fresh model's fit(4 epochs) resumes at epoch 2 and
    ends exactly where an uninterrupted 4-epoch run ends (optimizer, RNG and callback state)."""
    x, y = small_data(24)

    def run(epochs, backup_dir=None):
        cnnkit.random.set_seed(3)
        model = Sequential([Dense(5, activation="relu", input_shape=(4,)), Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        # mode="max" on a falling loss makes epoch 0 the "best": its weights travel through the backup.
        used = [EarlyStopping(monitor="loss", mode="max", patience=10, restore_best_weights=True),
                ReduceLROnPlateau("loss", patience=1, factor=0.5)]
        if backup_dir is not None:
            used.insert(0, BackupAndRestore(backup_dir, delete_checkpoint=False))
        history = model.fit(x, y, epochs=epochs, batch_size=5, verbose=0, callbacks=used)
        return model, history, used

    reference, reference_history, _ = run(4)
    backup_dir = tmp_path / "backup"
    run(2, backup_dir)
    resumed, history, used = run(4, backup_dir)
    assert history.epoch == [0, 1, 2, 3]  # the restored History holds the first two epochs too
    assert history.history["loss"] == reference_history.history["loss"]
    for ours, theirs in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    assert resumed.optimizer.iterations == reference.optimizer.iterations
    assert used[1].best_epoch == 0 and used[1].best == max(reference_history.history["loss"])
    assert used[2].best == min(reference_history.history["loss"])


def test_backup_and_restore_arguments():
    with pytest.raises(ValueError, match="backup_dir"):
        BackupAndRestore("")
    with pytest.raises(ValueError, match="save_freq"):
        BackupAndRestore("somewhere", save_freq=10)


# ----- the progress bar ---------------------------------------------------------------------------------
def test_progbar_redraws_in_place_on_a_terminal_and_writes_one_line_elsewhere():
    import io

    from cnnkit.models.progbar import Progbar, format_duration

    terminal = io.StringIO()
    bar = Progbar(4, stream=terminal, dynamic=True, interval=0.0)
    for step in range(1, 5):
        bar.update(step, [("loss", 1.0 / step)])
    output = terminal.getvalue()
    assert output.count("\r") == 4 and output.endswith("\n") and "\x1b[32m" in output
    assert "4/4" in output and "loss: 0.2500" in output

    plain = io.StringIO()
    bar = Progbar(4, stream=plain, dynamic=False)
    for step in range(1, 5):
        bar.update(step, [("loss", 1.0 / step)])
    assert plain.getvalue().count("\n") == 1 and "\r" not in plain.getvalue() and "\x1b" not in plain.getvalue()

    unknown = io.StringIO()
    Progbar(None, stream=unknown, dynamic=False).update(7, finalize=True)
    assert "7/Unknown" in unknown.getvalue()
    assert [format_duration(t) for t in (2.4, 0.031, 0.00085, 0)] == [" 2s/step", " 31ms/step", " 850us/step", " 0s/step"]
