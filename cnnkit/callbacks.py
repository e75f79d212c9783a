"""Callbacks: hooks into ``fit``/``evaluate``/``predict``, with Keras 3's classes and semantics.

This module owns what happens around training steps and epochs: ``Callback`` (the hooks),
``CallbackList`` (how ``fit`` calls them, adding ``History`` and ``ProgbarLogger``), and
``History``, ``ProgbarLogger``, ``EarlyStopping``, ``ModelCheckpoint`` (best-only, atomic
writes), ``ReduceLROnPlateau``, ``TerminateOnNaN``, ``CSVLogger``, ``LearningRateScheduler``,
``LambdaCallback`` and ``BackupAndRestore`` (resume a killed ``fit`` from its last finished epoch).

Callbacks that remember something across epochs (a best value, a patience counter) expose it
through ``get_state()``/``set_state(state)`` (JSON-able values and NumPy arrays), so that
``BackupAndRestore`` can resume them exactly.

Example:
    >>> from cnnkit import callbacks
    >>> stop = callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
"""
from __future__ import annotations

import csv
import json
import math
import os
import shutil
import sys
import warnings

import numpy as np

__all__ = [
    "Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping", "ModelCheckpoint",
    "ReduceLROnPlateau", "TerminateOnNaN", "CSVLogger", "LearningRateScheduler", "LambdaCallback",
    "BackupAndRestore",
]


def _print(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


class Callback:
    """Base class: override the hooks you need. ``self.model`` and ``self.params`` are set by ``fit``.

    Hooks: ``on_train_begin/end(logs)``, ``on_epoch_begin/end(epoch, logs)``,
    ``on_train_batch_begin/end(batch, logs)``, and the same for ``test`` and ``predict``.
    ``logs`` is always a dict (empty when there is nothing to report); it holds the running values
    (``'loss'``, metrics, and at epoch end ``'val_*'``). As in Keras, the training batch hooks call
    the older ``on_batch_begin``/``on_batch_end`` by default, so callbacks written for those work.
    """

    def __init__(self):
        self.params = {}
        self._model = None

    def set_params(self, params: dict) -> None:
        self.params = params

    def set_model(self, model) -> None:
        self._model = model

    @property
    def model(self):
        return self._model

    def get_state(self) -> dict:
        """What this callback must carry over to a resumed run (JSON values and arrays)."""
        return {}

    def set_state(self, state: dict) -> None:
        """Restore ``get_state()``'s dict."""

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)  # Keras's backwards-compatible alias

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


_HOOKS = [name for name in vars(Callback) if name.startswith("on_") and name not in ("on_batch_begin", "on_batch_end")]
# A training batch hook also runs when only its older alias is overridden.
_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


def _overrides(callback, hook: str) -> bool:
    """Whether ``callback`` does something in ``hook`` (its class or the instance defines it)."""
    names = (hook, _ALIASES[hook]) if hook in _ALIASES else (hook,)
    return any(getattr(type(callback), name) is not getattr(Callback, name) or name in vars(callback) for name in names)


class CallbackList:
    """Calls every callback's hook in order; ``fit`` adds ``History`` and ``ProgbarLogger`` last.

    Only callbacks that override a hook are called for it, so the per-batch cost of callbacks
    that do nothing per batch is nil.
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback):
            callbacks = [callbacks]  # Keras flattens a single callback into a list
        elif isinstance(callbacks, (list, tuple)):
            callbacks = list(callbacks)
        else:
            raise TypeError(
                f"`callbacks` must be a list of cnnkit.callbacks.Callback objects. Received: callbacks={callbacks!r} "
                f"of type {type(callbacks).__name__}"
            )
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    f"`callbacks` must be a list of cnnkit.callbacks.Callback objects. Received: {callback!r}"
                )
        self.callbacks = callbacks
        self.history = next((c for c in callbacks if isinstance(c, History)), None)
        if self.history is None and add_history:
            self.history = History()
            self.callbacks.append(self.history)
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        self.params = params
        for callback in self.callbacks:
            callback.set_params(params)
            if model is not None:
                callback.set_model(model)
        # For each hook, the callbacks that override it.
        # A backup must see every other callback's end-of-epoch state: it ends epochs last.
        backups_last = sorted(self.callbacks, key=lambda c: isinstance(c, BackupAndRestore))
        self._active = {
            hook: [getattr(c, hook) for c in (backups_last if hook == "on_epoch_end" else self.callbacks)
                   if _overrides(c, hook)]
            for hook in _HOOKS
        }

    def __iter__(self):
        return iter(self.callbacks)

    def _call(self, hook, *args, logs=None):
        methods = self._active[hook]
        if methods:
            logs = {} if logs is None else logs  # Keras hands every hook a dict
            for method in methods:
                method(*args, logs)

    def on_train_begin(self, logs=None): self._call("on_train_begin", logs=logs)
    def on_train_end(self, logs=None): self._call("on_train_end", logs=logs)
    def on_epoch_begin(self, epoch, logs=None): self._call("on_epoch_begin", epoch, logs=logs)
    def on_epoch_end(self, epoch, logs=None): self._call("on_epoch_end", epoch, logs=logs)
    def on_train_batch_begin(self, batch, logs=None): self._call("on_train_batch_begin", batch, logs=logs)
    def on_train_batch_end(self, batch, logs=None): self._call("on_train_batch_end", batch, logs=logs)
    def on_test_begin(self, logs=None): self._call("on_test_begin", logs=logs)
    def on_test_end(self, logs=None): self._call("on_test_end", logs=logs)
    def on_test_batch_begin(self, batch, logs=None): self._call("on_test_batch_begin", batch, logs=logs)
    def on_test_batch_end(self, batch, logs=None): self._call("on_test_batch_end", batch, logs=logs)
    def on_predict_begin(self, logs=None): self._call("on_predict_begin", logs=logs)
    def on_predict_end(self, logs=None): self._call("on_predict_end", logs=logs)
    def on_predict_batch_begin(self, batch, logs=None): self._call("on_predict_batch_begin", batch, logs=logs)
    def on_predict_batch_end(self, batch, logs=None): self._call("on_predict_batch_end", batch, logs=logs)

    def wants_batch_logs(self) -> bool:
        """Whether any callback reads per-batch training logs."""
        return bool(self._active["on_train_batch_end"])


class History(Callback):
    """Records each epoch's logs: ``history.history['loss']`` is the list of epoch losses.

    ``fit`` adds one and returns it (also as ``model.history``).
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self

    def get_state(self) -> dict:
        return {"history": self.history, "epoch": self.epoch}

    def set_state(self, state: dict) -> None:
        self.history = {key: list(values) for key, values in state.get("history", {}).items()}
        self.epoch = list(state.get("epoch", []))


class ProgbarLogger(Callback):
    """Prints ``Epoch 3/10`` and Keras's progress bar for training, evaluation and prediction.

    The verbosity is ``params['verbose']`` (1: bar, 2: one line per epoch).
    """

    def __init__(self):
        super().__init__()
        self.progbar = None
        self._in_fit = False

    def _verbose(self) -> int:
        verbose = self.params.get("verbose", 1)
        return 1 if verbose == "auto" else int(verbose or 0)

    def _new_bar(self, steps):
        from .models.progbar import Progbar

        self.progbar = Progbar(target=steps, verbose=self._verbose())

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        epochs = self.params.get("epochs", 1)
        if self._verbose() and epochs > 1:
            _print(f"Epoch {epoch + 1}/{epochs}")
        self._new_bar(self.params.get("steps"))

    def on_train_batch_end(self, batch, logs=None):
        if self._verbose() == 1:
            self.progbar.update(batch + 1, list((logs or {}).items()), finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        steps = self.params.get("steps") or self.progbar._seen
        self.progbar.update(steps, list((logs or {}).items()), finalize=True)

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._new_bar(self.params.get("steps"))

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit and self._verbose() == 1:
            self.progbar.update(batch + 1, list((logs or {}).items()), finalize=False)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self.progbar.update(self.params.get("steps") or self.progbar._seen, list((logs or {}).items()), finalize=True)

    def on_predict_begin(self, logs=None):
        self._new_bar(self.params.get("steps"))

    def on_predict_batch_end(self, batch, logs=None):
        if self._verbose() == 1:
            self.progbar.update(batch + 1, finalize=False)

    def on_predict_end(self, logs=None):
        self.progbar.update(self.params.get("steps") or self.progbar._seen, finalize=True)


class _MonitorCallback(Callback):
    """Shared by callbacks that watch a logged quantity: chooses min or max as Keras does."""

    def __init__(self, monitor, mode, min_delta=0.0, baseline=None):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.", stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(min_delta)
        self.baseline = baseline
        self.monitor_op = None
        self.best = None

    def _direction(self) -> str:
        """'min' or 'max' for the monitored quantity."""
        if self.mode in ("min", "max"):
            return self.mode
        name = self.monitor[4:] if self.monitor.startswith("val_") else self.monitor
        if name == "loss":
            return "min"
        for metric in getattr(self.model, "metrics", []) or []:
            if getattr(metric, "name", None) == name:
                return "max" if getattr(metric, "_direction", "up") == "up" else "min"
        # Before the first batch the compiled metrics are not resolved yet: go by the usual names.
        if name in ("acc", "accuracy") or name.endswith(("accuracy", "precision", "recall")):
            return "max"
        if name in ("mse", "mae") or name.endswith("error"):
            return "min"
        raise ValueError(
            f"{type(self).__name__} callback received monitor={self.monitor}, but cnnkit isn't able to "
            "automatically determine whether that metric should be maximized or minimized. Pass `mode='max'` in "
            "order to monitor based on the highest metric value, or pass `mode='min'` in order to use the lowest value."
        )

    def _set_monitor_op(self) -> None:
        if self._direction() == "min":
            self.monitor_op = lambda current, reference: current + self.min_delta < reference
            initial = math.inf
        else:
            self.monitor_op = lambda current, reference: current - self.min_delta > reference
            initial = -math.inf
        if self.best is None:
            self.best = initial

    def _is_improvement(self, current, reference) -> bool:
        if reference is None:
            return True
        return bool(self.monitor_op(current, reference))

    def _monitor_value(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"{type(self).__name__} is conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join((logs or {}).keys())}",
                stacklevel=3,
            )
        return value


class EarlyStopping(_MonitorCallback):
    """Stop training when a monitored quantity has stopped improving (Keras 3's rules).

    Args:
        monitor: the logged quantity (default ``'val_loss'``).
        min_delta: the smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        verbose: 1 prints when stopping and restoring.
        mode: ``'auto'``, ``'min'`` or ``'max'``.
        baseline: a value the quantity must beat to reset the patience.
        restore_best_weights: at the end, put back the weights of the best epoch.
        start_from_epoch: epochs to wait before monitoring.

    Example:
        >>> stop = EarlyStopping(monitor="loss", patience=3)
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta, baseline=baseline)
        self.patience = patience
        self.verbose = verbose
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0
        self.best = None
        self.monitor_op = None

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self._monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_state(self) -> dict:
        return {"wait": self.wait, "best": self.best, "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def set_state(self, state: dict) -> None:
        self.wait = state["wait"]
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
        self.stopped_epoch = state["stopped_epoch"]
        self.best_weights = state["best_weights"]
        if self.monitor_op is None:
            self._set_monitor_op()


class ModelCheckpoint(_MonitorCallback):
    """Save the model (or its weights) at the end of each epoch, or only when it improves.

    Files are written atomically (a temporary file in the same folder, flushed, synced and
    renamed): a crash while saving leaves the previous checkpoint intact.

    Args:
        filepath: where to save; may hold ``{epoch:02d}`` and logged values (``{val_loss:.2f}``).
            A model file ends in ``.keras``, ``.cnnkit`` or ``.safetensors``; with
            ``save_weights_only`` a weights file ends in ``.weights.h5`` (Keras's name) or
            ``.safetensors`` (both hold safetensors; see ``cnnkit.models.saving``).
        monitor: the quantity for ``save_best_only``.
        verbose: 1 prints a line when saving.
        save_best_only: save only when ``monitor`` improves.
        save_weights_only: ``model.save_weights`` instead of ``model.save``.
        mode: ``'auto'``, ``'min'`` or ``'max'``.
        save_freq: ``'epoch'`` or a number of batches.
        initial_value_threshold: a value the first saved model must beat.

    Example:
        >>> checkpoint = ModelCheckpoint("best.cnnkit", monitor="val_accuracy", save_best_only=True)
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, baseline=None)
        self.best = initial_value_threshold
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"`filepath` must be a string or path. Received: filepath={filepath!r}")
        self.filepath = os.fspath(filepath)
        from .models.saving import check_save_path

        check_save_path(self.filepath, weights_only=bool(save_weights_only), argument="filepath",
                        where="ModelCheckpoint")
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are 'epoch' or integer values")
        self.save_freq = save_freq
        self._batches_since_save = 0
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _file_path(self, epoch, batch, logs) -> str:
        try:
            values = dict(logs or {})
            if batch is not None:
                values.setdefault("batch", batch + 1)
            return self.filepath.format(epoch=epoch + 1, **values)
        except KeyError as error:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: {error}') from None

    def _save(self, epoch, batch, logs) -> None:
        path = self._file_path(epoch, batch, logs)
        if self.save_best_only:
            if self.monitor_op is None:
                self._set_monitor_op()
            current = (logs or {}).get(self.monitor)
            if current is None:
                # Keras warns and saves anyway.
                warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=2)
            elif self._is_improvement(current, self.best):
                if self.verbose > 0:
                    best = "None" if self.best is None else f"{self.best:.5f}"
                    _print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, saving model to {path}")
                self.best = current
            else:
                if self.verbose > 0:
                    _print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
        elif self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: saving model to {path}")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if os.path.isdir(path):
            raise IsADirectoryError(f"Please specify a non-directory filepath for ModelCheckpoint. Filepath used is an existing directory: {path}")
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)

    def get_state(self) -> dict:
        return {"best": self.best}

    def set_state(self, state: dict) -> None:
        self.best = state["best"]


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving (Keras 3's rules).

    Args:
        monitor: the logged quantity (default ``'val_loss'``).
        factor: the multiplier (< 1).
        patience: epochs without improvement before reducing.
        verbose: 1 prints each reduction.
        mode: ``'auto'`` (max when the name contains ``'acc'``), ``'min'`` or ``'max'``.
        min_delta: the smallest change that counts as an improvement.
        cooldown: epochs to wait after a reduction.
        min_lr: the lower bound.

    Also writes the current learning rate into the epoch's logs as ``'learning_rate'``.

    Example:
        >>> reduce = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5, min_lr=1e-4)
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if kwargs:
            raise TypeError(f"Unrecognized arguments for ReduceLROnPlateau: {kwargs}")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        self.monitor = monitor
        self.factor = factor
        self.min_lr = min_lr
        self.min_delta = min_delta
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.mode = mode
        self._reset()

    def _reset(self) -> None:
        if self.mode not in ("auto", "min", "max"):
            warnings.warn(f"Learning rate reduction mode {self.mode} is unknown, fallback to auto mode.", stacklevel=2)
            self.mode = "auto"
        if self.mode == "min" or (self.mode == "auto" and "acc" not in self.monitor):
            self.monitor_op = lambda current, best: current < best - self.min_delta
            self.best = math.inf
        else:
            self.monitor_op = lambda current, best: current > best + self.min_delta
            self.best = -math.inf
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(logs.keys())}.",
                stacklevel=2,
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self.monitor_op(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(self.model.optimizer.learning_rate)
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        _print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def get_state(self) -> dict:
        return {"best": self.best, "wait": self.wait, "cooldown_counter": self.cooldown_counter}

    def set_state(self, state: dict) -> None:
        self.best = state["best"]
        self.wait = state["wait"]
        self.cooldown_counter = state["cooldown_counter"]


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite.

    Args:
        raise_error: raise a RuntimeError at once instead of stopping gracefully (then the other
            callbacks' ``on_train_end`` does not run, as in Keras).
    """

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = bool(raise_error)

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            if self.raise_error:
                raise RuntimeError(
                    f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. Terminating training immediately."
                )
            _print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class CSVLogger(Callback):
    """Write each epoch's logs as a row of a CSV file (columns ``epoch`` then the sorted log names).

    Args:
        filename: the CSV file.
        separator: the column separator.
        append: add to an existing file instead of overwriting it (for continued training).

    Example:
        >>> logger = CSVLogger("training.csv")
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.keys = None
        self.writer = None
        self.csv_file = None
        self.append_header = True

    def on_train_begin(self, logs=None):
        mode = "w"
        self.append_header = True
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, encoding="utf-8") as existing:
                    self.append_header = not bool(len(existing.readline()))
            mode = "a"
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode, newline="", encoding="utf-8")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs.keys())
        if self.writer is None:
            separator = self.sep

            class Dialect(csv.excel):
                delimiter = separator

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys, dialect=Dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, logs.get(key, "NA")) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to ``schedule(epoch, current_rate)``.

    Args:
        schedule: ``schedule(epoch, learning_rate) -> new learning rate`` (epoch from 0); as in
            Keras, a function of the epoch alone (``schedule(epoch)``) is accepted too.
        verbose: 1 prints each change.

    Example:
        >>> scheduler = LearningRateScheduler(lambda epoch, rate: rate if epoch < 5 else rate * 0.5)
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"`schedule` must be a callable (epoch, learning_rate) -> learning_rate. Received: {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        learning_rate = float(self.model.optimizer.learning_rate)
        try:
            learning_rate = self.schedule(epoch, learning_rate)
        except TypeError:  # Keras's older API: schedule(epoch)
            learning_rate = self.schedule(epoch)
        if isinstance(learning_rate, np.generic) or hasattr(learning_rate, "item"):
            learning_rate = learning_rate.item()
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {learning_rate!r}")
        self.model.optimizer.learning_rate = float(learning_rate)
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {learning_rate}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class LambdaCallback(Callback):
    """A callback made of functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    Keyword arguments name hooks (``on_epoch_begin``, ``on_epoch_end``, ``on_train_batch_end``,
    ``on_batch_end``, ``on_train_begin``, ``on_train_end``, ...).
    """

    def __init__(self, **hooks):
        super().__init__()
        aliases = {"on_batch_begin": "on_train_batch_begin", "on_batch_end": "on_train_batch_end"}
        for name, function in hooks.items():
            name = aliases.get(name, name)
            if name not in _HOOKS:
                raise TypeError(f"LambdaCallback has no hook {name!r}. Known hooks: {_HOOKS}")
            setattr(self, name, function)  # CallbackList also calls hooks set on the instance


class BackupAndRestore(Callback):
    """Back up the whole training state after every epoch; a restarted ``fit`` resumes from it.

    At each epoch end one file, ``<backup_dir>/backup.safetensors``, is written atomically (temp
    file, flush, fsync, rename) with: the model's weights, the optimizer's state (step count,
    learning rate, slots), cnnkit's random generator state, the number of finished epochs, and
    the state of the other callbacks (best values, patience counters, history). When ``fit``
    starts and that file exists, everything is restored and training continues with the next
    epoch: a run killed at any point ends with exactly the weights of an uninterrupted one.

    Args:
        backup_dir: the folder for the backup (created if needed).
        save_freq: ``'epoch'`` (the only frequency supported).
        delete_checkpoint: delete the backup when training finishes normally.

    Example:
        >>> backup = BackupAndRestore("/tmp/run-backup")
    """

    FILE_NAME = "backup.safetensors"

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True, double_checkpoint=False):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch":
            raise ValueError(f"cnnkit's BackupAndRestore saves at each epoch end only. Received: save_freq={save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = delete_checkpoint
        self.double_checkpoint = double_checkpoint
        self._pending_states = None

    @property
    def backup_path(self) -> str:
        return os.path.join(self.backup_dir, self.FILE_NAME)

    def _other_callbacks(self) -> list:
        callback_list = getattr(self.model, "_callback_list", None)
        return [c for c in (callback_list or []) if c is not self]

    def on_train_begin(self, logs=None):
        from .models import saving

        if not self.model.built:
            raise ValueError(
                "To use the BackupAndRestore callback, the model must be built before calling fit(): give the "
                "first layer an `input_shape` or start with an Input layer."
            )
        if not os.path.exists(self.backup_path):
            return
        tensors, metadata = saving.read_safetensors(self.backup_path)
        state = saving.parse_json_metadata(metadata, "training_state", self.backup_path)
        saving.load_weights_from_tensors(self.model, tensors, self.backup_path)
        optimizer = self.model.optimizer
        optimizer.build(self.model.trainable_weights)
        store = {key[len("optimizer/"):]: value for key, value in tensors.items() if key.startswith("optimizer/")}
        optimizer.load_own_variables(store)
        from . import random as cnnkit_random

        cnnkit_random.set_state(state["random_state"])
        self.model._initial_epoch = int(state["epoch"])
        self._pending_states = (state.get("callbacks", []), tensors)

    def on_epoch_begin(self, epoch, logs=None):
        if self._pending_states is None:
            return
        saved_states, tensors = self._pending_states
        self._pending_states = None
        others = self._other_callbacks()
        for index, (callback, saved) in enumerate(zip(others, saved_states)):
            if saved.get("class") == type(callback).__name__:
                callback.set_state(_decode_state(saved["state"], tensors, f"callbacks/{index}/"))

    def on_epoch_end(self, epoch, logs=None):
        from . import random as cnnkit_random
        from .models import saving

        tensors = saving.weights_to_tensors(self.model)
        store = {}
        self.model.optimizer.save_own_variables(store)
        tensors.update({f"optimizer/{key}": value for key, value in store.items()})
        callback_states = []
        for index, callback in enumerate(self._other_callbacks()):
            encoded = _encode_state(callback.get_state(), tensors, f"callbacks/{index}/")
            callback_states.append({"class": type(callback).__name__, "state": encoded})
        state = {
            "epoch": epoch + 1,
            "random_state": cnnkit_random.get_state(),
            "callbacks": callback_states,
        }
        os.makedirs(self.backup_dir, exist_ok=True)
        saving.write_safetensors(self.backup_path, tensors, {"format": "cnnkit-backup",
                                                             "training_state": json.dumps(state, default=_json_number)})

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.isdir(self.backup_dir):
            shutil.rmtree(self.backup_dir, ignore_errors=True)


def _json_number(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Cannot store {value!r} in a backup.")


def _encode_state(value, tensors: dict, prefix: str):
    """Replace arrays (and lists of arrays) by references to tensors stored under ``prefix``."""
    if isinstance(value, np.ndarray):
        key = f"{prefix}{len([k for k in tensors if k.startswith(prefix)])}"
        tensors[key] = np.require(value, requirements="C")
        return {"__tensor__": key}
    if isinstance(value, dict):
        return {k: _encode_state(v, tensors, prefix) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode_state(v, tensors, prefix) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    return value


def _decode_state(value, tensors: dict, prefix: str):
    if isinstance(value, dict):
        if set(value) == {"__tensor__"}:
            key = value["__tensor__"]
            if not isinstance(key, str) or not key.startswith(prefix) or key not in tensors:
                raise ValueError(f"The backup refers to a missing array {key!r}.")
            return np.array(tensors[key])
        if set(value) == {"__float__"}:
            return float(value["__float__"]) if value["__float__"] in ("inf", "-inf", "nan") else None
        return {k: _decode_state(v, tensors, prefix) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_state(v, tensors, prefix) for v in value]
    return value
