"""``Model.predict`` running batches side by side on cnnkit's threads (models/training.py).

The outputs must be exactly those of the batches run one at a time; callbacks still see the
batches in order; user layers and user callbacks keep the one-batch-at-a-time loop; the thread
count and the caller's grad mode are left as they were.
"""
import numpy as np
import pytest

import cnnkit
from cnnkit import autograd, layers
from cnnkit.backend import get_num_threads
from cnnkit.callbacks import Callback
from cnnkit.models import Sequential
from cnnkit.models import training


def _lenet_like():
    cnnkit.random.set_seed(3)
    model = Sequential([
        layers.Conv2D(6, 5, activation="tanh", input_shape=(20, 20, 1)),
        layers.AveragePooling2D(2),
        layers.Conv2D(8, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])
    return model


@pytest.fixture
def two_threads():
    before = get_num_threads()
    cnnkit.set_num_threads(2)
    yield
    cnnkit.set_num_threads(before)


@pytest.fixture
def side_by_side_calls(monkeypatch):
    """Records how many threads each ``predict`` ran its batches on."""
    calls = []
    in_order = training._in_order

    def spy(task, steps, workers):
        calls.append(workers)
        return in_order(task, steps, workers)

    monkeypatch.setattr(training, "_in_order", spy)
    return calls


def test_side_by_side_outputs_equal_one_batch_at_a_time(two_threads, side_by_side_calls):
    model = _lenet_like()
    x = np.random.default_rng(0).random((70, 20, 20, 1), dtype=np.float32)
    predicted = model.predict(x, batch_size=16, verbose=0)
    assert side_by_side_calls == [2]  # 5 batches on 2 threads
    one_at_a_time = np.concatenate([model.predict_on_batch(x[start:start + 16]) for start in range(0, 70, 16)])
    np.testing.assert_array_equal(predicted, one_at_a_time)
    assert predicted.dtype == np.float32 and predicted.shape == (70, 10)


def test_thread_count_and_grad_mode_are_restored(two_threads, side_by_side_calls):
    model = _lenet_like()
    x = np.zeros((40, 20, 20, 1), np.float32)
    assert autograd.is_grad_enabled()
    model.predict(x, batch_size=8, verbose=0)
    assert side_by_side_calls == [2]
    assert get_num_threads() == 2 and autograd.is_grad_enabled()


def test_one_thread_runs_one_batch_at_a_time(side_by_side_calls):
    before = get_num_threads()
    cnnkit.set_num_threads(1)
    try:
        _lenet_like().predict(np.zeros((40, 20, 20, 1), np.float32), batch_size=8, verbose=0)
    finally:
        cnnkit.set_num_threads(before)
    assert side_by_side_calls == [1]


class _Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_predict_batch_begin(self, batch, logs=None):
        self.events.append(("begin", batch))

    def on_predict_batch_end(self, batch, logs=None):
        self.events.append(("end", batch, logs["outputs"].shape[0]))


def test_user_callbacks_see_batches_one_at_a_time_in_order(two_threads, side_by_side_calls):
    recorder = _Recorder()
    _lenet_like().predict(np.zeros((20, 20, 20, 1), np.float32), batch_size=8, verbose=0, callbacks=[recorder])
    assert side_by_side_calls == [1]
    assert recorder.events == [("begin", 0), ("end", 0, 8), ("begin", 1), ("end", 1, 8), ("begin", 2), ("end", 2, 4)]


class _UserScale(layers.Layer):
    """A user's own layer: predict must not assume it can run on two threads at once."""

    def call(self, inputs):
        return inputs * 2.0

    def compute_output_shape(self, input_shape):
        return input_shape


def test_user_layers_keep_one_batch_at_a_time(two_threads, side_by_side_calls):
    model = _lenet_like()
    model.add(_UserScale())
    x = np.random.default_rng(1).random((32, 20, 20, 1), dtype=np.float32)
    predicted = model.predict(x, batch_size=8, verbose=0)
    assert side_by_side_calls == [1]
    np.testing.assert_array_equal(predicted[:8], model.predict_on_batch(x[:8]))


def test_an_error_in_a_batch_reaches_the_caller_and_threads_are_restored(two_threads, monkeypatch):
    model = _lenet_like()
    batch = model._predict_batch

    def failing(x, step, batch_size):
        if step == 3:
            raise ValueError("batch 3 failed")
        return batch(x, step, batch_size)

    monkeypatch.setattr(model, "_predict_batch", failing)
    with pytest.raises(ValueError, match="batch 3 failed"):
        model.predict(np.zeros((80, 20, 20, 1), np.float32), batch_size=8, verbose=0)
    assert get_num_threads() == 2
