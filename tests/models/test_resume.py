"""Resuming: a training process killed with SIGKILL mid-epoch and started again ends with exactly
the weights of an uninterrupted run; a process killed while saving never leaves a broken file."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import cnnkit
from cnnkit.models import load_model
from cnnkit.models.saving import read_safetensors

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(cnnkit.__file__)))

TRAINING_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    import numpy as np
    import cnnkit
    from cnnkit import callbacks
    from cnnkit.layers import Dense, Dropout
    from cnnkit.models import Sequential

    backup_dir, weights_path, history_path = sys.argv[1:4]
    kill_epoch, kill_batch = int(sys.argv[4]), int(sys.argv[5])

    cnnkit.random.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8)).astype("float32")
    y = rng.integers(0, 3, 64)
    model = Sequential([Dense(16, activation="relu", input_shape=(8,)), Dropout(0.25), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    epoch_now = [None]

    def remember(epoch, logs):
        epoch_now[0] = epoch

    def maybe_die(batch, logs):
        if epoch_now[0] == kill_epoch and batch == kill_batch:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no flush: as a crash or `kill -9`

    used = [
        callbacks.BackupAndRestore(backup_dir),
        callbacks.ReduceLROnPlateau("val_loss", patience=1, factor=0.5),
        callbacks.EarlyStopping("val_loss", patience=20),
        callbacks.LambdaCallback(on_epoch_begin=remember, on_train_batch_end=maybe_die),
    ]
    history = model.fit(x, y, batch_size=8, epochs=6, validation_split=0.25, verbose=0, callbacks=used)
    model.save_weights(weights_path)
    with open(history_path, "w") as handle:
        json.dump({"history": history.history, "epoch": history.epoch,
                   "iterations": model.optimizer.iterations, "learning_rate": model.optimizer.learning_rate}, handle)
    """
)


def run_script(script, *arguments, timeout=120):
    environment = dict(os.environ, PYTHONPATH=REPOSITORY, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(script), *map(str, arguments)], env=environment,
                          capture_output=True, text=True, timeout=timeout)


def test_killed_training_resumes_to_the_uninterrupted_result(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(TRAINING_SCRIPT)

    reference = run_script(script, tmp_path / "reference_backup", tmp_path / "reference.safetensors",
                           tmp_path / "reference.json", -1, -1)
    assert reference.returncode == 0, reference.stderr

    backup_dir = tmp_path / "backup"
    killed = run_script(script, backup_dir, tmp_path / "resumed.safetensors", tmp_path / "resumed.json", 3, 2)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    _, metadata = read_safetensors(backup_dir / "backup.safetensors")
    assert json.loads(metadata["training_state"])["epoch"] == 3  # epochs 0, 1, 2 finished before the kill

    resumed = run_script(script, backup_dir, tmp_path / "resumed.safetensors", tmp_path / "resumed.json", -1, -1)
    assert resumed.returncode == 0, resumed.stderr
    assert not backup_dir.exists()  # deleted once training finished

    ours, _ = read_safetensors(tmp_path / "resumed.safetensors")
    theirs, _ = read_safetensors(tmp_path / "reference.safetensors")
    assert sorted(ours) == sorted(theirs)
    for name in theirs:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    resumed_log = json.loads((tmp_path / "resumed.json").read_text())
    reference_log = json.loads((tmp_path / "reference.json").read_text())
    assert resumed_log == reference_log  # history of all epochs, step count, reduced learning rate


SAVING_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from cnnkit.layers import Dense
    from cnnkit.models import Sequential

    path = sys.argv[1]
    model = Sequential([Dense(256, input_shape=(512,)), Dense(256)])
    version = 0
    while True:
        model.set_weights([np.full(w.shape, version, dtype=np.float32) for w in model.get_weights()])
        model.save(path)
        version += 1
        if version == 1:
            print("saved", flush=True)
    """
)


def test_process_killed_while_saving_leaves_a_loadable_file(tmp_path):
    script = tmp_path / "save_forever.py"
    script.write_text(SAVING_SCRIPT)
    path = tmp_path / "model.cnnkit"
    environment = dict(os.environ, PYTHONPATH=REPOSITORY, OPENBLAS_NUM_THREADS="1")
    process = subprocess.Popen([sys.executable, str(script), str(path)], env=environment, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "saved"
        time.sleep(0.3)  # several more saves are under way by now
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    model = load_model(path)
    values = {float(np.unique(w)[0]) for w in model.get_weights()}
    assert len(values) == 1  # one whole version, never a mix of two
