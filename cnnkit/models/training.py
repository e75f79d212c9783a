"""``Model``: the training API every cnnkit model shares (Keras 3's ``Trainer``).

This module owns ``compile``, ``fit``, ``evaluate``, ``predict``, ``train_on_batch``,
``test_on_batch``, ``predict_on_batch`` and the model-level weight API. Who owns each ``fit``
argument:

- ``x``, ``y``, ``sample_weight``, ``class_weight``: checked once here (``_prepare_data``):
  the input shape against the model's, the number of samples, the labels against the loss and
  the model's output (range, integer-ness, one-hot or not), converted once to the model's float
  dtype (integer labels stay integers);
- ``batch_size`` (default 32), ``shuffle`` (a new permutation from ``cnnkit.random`` every epoch),
  ``steps_per_epoch``: the epoch loop in ``fit``;
- ``validation_split`` (the last fraction, taken before shuffling, as Keras),
  ``validation_data``, ``validation_batch_size``, ``validation_freq``: ``fit`` hands them to
  ``evaluate``'s loop and prefixes the results with ``val_``;
- ``epochs``, ``initial_epoch``: the epoch loop (``BackupAndRestore`` may move the start);
- ``callbacks``, ``verbose``: a ``CallbackList`` with ``History`` and (unless ``verbose=0``)
  ``ProgbarLogger`` added, as Keras.

One training step (``train_step``) reads as five sentences: predict, measure the loss (plus the
layers' regularisation penalties), differentiate, let the optimizer update the weights in place
(constraints after), record the loss and metrics. Logs use Keras's names (``loss``,
``accuracy``, ``val_loss``, ...), sorted as Keras sorts them.

Example:
    >>> import numpy as np
    >>> from cnnkit import Sequential
    >>> from cnnkit.layers import Dense
    >>> model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> history = model.fit(np.ones((8, 4)), np.zeros(8, dtype=int), epochs=2, verbose=0)
    >>> sorted(history.history)
    ['accuracy', 'loss']
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import callbacks as callbacks_module
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from .. import random as cnnkit_random
from ..autograd import Tensor, no_grad
from ..layers.base import Layer
from ..serialization import snake_case

__all__ = ["Model"]


def _format_shape(shape) -> str:
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _as_array(value, name: str) -> np.ndarray:
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, (dict, str, bytes)) or value is None:
        raise TypeError(
            f"`{name}` must be a NumPy array (or nested lists of numbers) with one entry per sample; cnnkit "
            f"models have one input and one output. Received: {name} of type {type(value).__name__}"
        )
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"`{name}` must be an array (or nested lists of numbers). Received: {type(value).__name__} ({error})") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise TypeError(f"`{name}` must hold numbers. Received: {name} with dtype {array.dtype}.")
    return array


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}")
    return int(value)


def _check_verbose(verbose):
    """``verbose`` as given (Keras hands ``'auto'`` to the callbacks as is), once checked."""
    if isinstance(verbose, str) and verbose == "auto":
        return verbose
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)  # Keras compares with 0 and 1, so True and False work there too
    if not isinstance(verbose, (numbers.Integral, np.integer)) or verbose not in (0, 1, 2):
        raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}")
    return int(verbose)


def _loss_kind(loss) -> str | None:
    """What targets ``loss`` expects: 'sparse', 'categorical', 'binary', 'regression' or None."""
    kind = metrics_module._loss_kind(loss)
    if kind is not None:
        return kind
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__
    name = snake_case(str(name))
    if any(word in name for word in ("mean_squared_error", "mean_absolute_error", "huber")):
        return "regression"
    return None


# ----- predict: batches side by side ----------------------------------------------------------------
# One LeNet-5 batch of 256 digits spends about a third of its time in passes NumPy runs on one core
# (row copies, tanh, pooling) and the rest in products too small for two BLAS threads to share
# well. So ``predict`` runs as many batches side by side as cnnkit has threads, each thread with a
# one-thread BLAS (the passes release the GIL), each thread taking the next batch when it is free. Measured (2 threads, 2,048 digits, batch 256):
# 25.0 -> 19.2 ms, the same outputs bit for bit. Only for models made of cnnkit's own layers and
# predict calls without user callbacks: a user's layer or callback may not expect to run on two
# threads at once.
def _cnnkit_layers_only(model) -> bool:
    for layer in getattr(model, "layers", []):
        if not type(layer).__module__.startswith("cnnkit."):
            return False
        if hasattr(layer, "layers") and not _cnnkit_layers_only(layer):
            return False
    return True


def _side_by_side_batches(model, total_steps: int, callbacks) -> int:
    """How many predict batches to run at once: cnnkit's thread count, or 1 (see the note above)."""
    from ..backend import get_num_threads

    if total_steps < 2 or callbacks or not _cnnkit_layers_only(model):
        return 1
    return max(1, min(get_num_threads(), total_steps))


def _threads_for_batches(side_by_side: int):
    """One BLAS thread per batch thread while batches run side by side; nothing changed otherwise."""
    import contextlib

    from ..backend import single_threaded

    return single_threaded() if side_by_side > 1 else contextlib.nullcontext()


_PREDICT_EXECUTOR = []


def _in_order(task, steps: int, workers: int):
    """Yield ``task(step)`` for ``step`` in ``range(steps)``, in order; with ``workers`` > 1 the
    tasks run on that many pool threads, each taking the next step as soon as it is free (no
    thread waits for the slower one of a pair: 21.1 -> 20.4 ms against pairs in rounds), with at
    most ``2 * workers`` results waiting to be yielded."""
    if workers <= 1:
        for step in range(steps):
            yield task(step)
        return
    import collections
    import concurrent.futures

    if not _PREDICT_EXECUTOR or _PREDICT_EXECUTOR[0]._max_workers != workers:
        _PREDICT_EXECUTOR[:] = [concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="cnnkit-predict")]
    executor, pending, submitted = _PREDICT_EXECUTOR[0], collections.deque(), 0
    try:
        while submitted < steps or pending:
            while submitted < steps and len(pending) < 2 * workers:
                pending.append(executor.submit(task, submitted))
                submitted += 1
            yield pending.popleft().result()
    finally:  # an exception (or an abandoned generator): let the running tasks end before leaving
        for future in pending:
            future.cancel()
        concurrent.futures.wait(pending)


class Model(Layer):
    """Base class of cnnkit's models: layers, weights, and Keras's training API.

    ``Sequential`` is the model users build; subclass ``Model`` and define ``call`` to write a
    model by hand (layers assigned as attributes are tracked). cnnkit has no functional API.
    """

    def __init__(self, *args, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise ValueError(
                "cnnkit has no functional API: build a `Sequential` model, or subclass `Model` and define `call`."
            )
        super().__init__(**kwargs)
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._initial_epoch = None
        self._callback_list = None
        self._loss_fn = None
        self._loss_identifier = None
        self._loss_weight = 1.0
        self._metric_identifiers = None
        self._weighted_metric_identifiers = None
        self._compiled_metrics = None  # resolved on the first batch, when shapes are known
        self._weighted_metrics = []
        self._loss_tracker = metrics_module.Mean(name="loss")

    # ----- sublayers and weights -----------------------------------------------------------------
    def __setattr__(self, name, value):
        if isinstance(value, Layer) and not name.startswith("_") and value is not self:
            tracked = self.__dict__.setdefault("_tracked_layers", [])
            if all(layer is not value for layer in tracked):
                tracked.append(value)
        super().__setattr__(name, value)

    @property
    def layers(self) -> list:
        """The model's layers, in order."""
        return list(self.__dict__.get("_tracked_layers", []))

    def _trainable_dependents(self) -> list:
        return self.layers

    def _collect(self, attribute: str) -> list:
        seen, result = set(), []
        for layer in self.layers:
            for variable in getattr(layer, attribute):
                if id(variable) not in seen:
                    seen.add(id(variable))
                    result.append(variable)
        return result

    @property
    def weights(self) -> list:
        """All weights of all layers, layer by layer, each layer's in creation order."""
        return self._collect("weights")

    @property
    def trainable_weights(self) -> list:
        if not self._trainable:
            return []
        return self._collect("trainable_weights")

    @property
    def non_trainable_weights(self) -> list:
        if not self._trainable:
            return self.weights
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.weights if id(v) not in trainable]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    @property
    def losses(self) -> list:
        """Every layer's regularisation penalties (scalar Tensors in the autograd graph)."""
        penalties = []
        for layer in self.layers:
            penalties.extend(layer.losses)
        return penalties

    def get_weights(self) -> list:
        """All weights as NumPy arrays (copies), in ``weights`` order."""
        return [variable.numpy() for variable in self.weights]

    def set_weights(self, weights) -> None:
        """Set all weights from a list of arrays in ``weights`` order (count and shapes checked)."""
        if not self.built:
            raise ValueError(f"Model '{self.name}' is not built yet and has no weights; build it first.")
        variables = self.weights
        weights = list(weights)
        if len(weights) != len(variables):
            raise ValueError(
                f"You called `set_weights(weights)` on model '{self.name}' with a weight list of length "
                f"{len(weights)}, but the model was expecting {len(variables)} weights."
            )
        arrays = []
        for variable, value in zip(variables, weights):
            array = np.asarray(value.data if isinstance(value, Tensor) else value)
            if tuple(array.shape) != tuple(variable.shape):
                raise ValueError(
                    f"Weight '{variable.path}' has shape {tuple(variable.shape)}, which is not compatible with "
                    f"the provided weight shape {tuple(array.shape)}."
                )
            arrays.append(array)
        for variable, array in zip(variables, arrays):
            variable.assign(array)

    def get_layer(self, name=None, index=None):
        """A layer of the model by ``name`` or by ``index`` (Keras's ``Model.get_layer``).

        Raises:
            ValueError: both or neither given, an unknown name, or an index past the last layer.
        """
        if index is not None and name is not None:
            raise ValueError(f"Provide only a layer name or a layer index. Received: index={index}, name={name}.")
        layers = self.layers
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, (numbers.Integral, np.integer)):
                raise TypeError(f"`index` must be an int. Received: index={index!r}")
            if len(layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has {len(layers)} layers.")
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: {[layer.name for layer in layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def count_params(self) -> int:
        """The number of scalars in all weights.

        Raises:
            ValueError: the model is not built.
        """
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on model '{self.name}', but the model isn't built. "
                "You can build it manually via: `model.build(input_shape)`."
            )
        return int(sum(int(np.prod(variable.shape)) for variable in self.weights))

    # ----- compile -------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        """Configure training: Keras's names or objects for the optimizer, loss and metrics.

        Args:
            optimizer: a name (``'adam'``, ``'sgd'``, ``'rmsprop'``, ...) or an optimizer object.
            loss: a name (``'sparse_categorical_crossentropy'``, ``'mse'``, ...), a Loss object
                or a function ``(y_true, y_pred) -> per-sample values``.
            loss_weights: a float multiplying the loss (one output).
            metrics: a list of names (``'accuracy'`` picks the right variant), Metric objects or
                functions.
            weighted_metrics: like ``metrics``, but weighted by ``sample_weight``.
            run_eagerly, steps_per_execution, jit_compile, auto_scale_loss: accepted for Keras
                compatibility (cnnkit always runs eagerly, one step at a time). They are kept as
                Keras keeps them: ``model.run_eagerly``, ``model.steps_per_execution``, and
                ``model.jit_compile`` (always False: cnnkit compiles nothing, as Keras's torch
                backend resolves ``'auto'``).

        Raises:
            ValueError: unknown names, or ``metrics`` that is not a list.
        """
        self.optimizer = optimizers_module.get(optimizer)
        self._loss_identifier = loss
        self.loss = loss
        self._loss_fn = None if loss is None else losses_module.as_loss(loss)
        if loss_weights is not None:
            if isinstance(loss_weights, (list, tuple)) and len(loss_weights) == 1:
                loss_weights = loss_weights[0]
            if isinstance(loss_weights, bool) or not isinstance(loss_weights, numbers.Real):
                raise ValueError(f"`loss_weights` must be a float for a single-output model. Received: loss_weights={loss_weights!r}")
        self._loss_weight = 1.0 if loss_weights is None else float(loss_weights)
        for argument, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value is not None and not isinstance(value, (list, tuple)):
                raise ValueError(
                    f"Expected `{argument}` argument to be a list, tuple, or dict. Received instead: "
                    f"{argument}={value!r} of type {type(value)}"
                )
            for identifier in value or []:
                metrics_module.check_identifier(identifier)  # unknown names fail now, not at the first batch
        self._metric_identifiers = list(metrics or [])
        self._weighted_metric_identifiers = list(weighted_metrics or [])
        self._compiled_metrics = None
        self._weighted_metrics = []
        self.run_eagerly = bool(run_eagerly)
        self.steps_per_execution = steps_per_execution
        self.jit_compile = False
        self.stop_training = False
        self.compiled = True

    def _assert_compiled(self, method: str) -> None:
        if not self.compiled:
            raise ValueError(
                f"You must call `compile()` before using the model: `{method}()` needs an optimizer and a loss. "
                "E.g. model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])."
            )
        if self._loss_fn is None and method in ("fit", "train_on_batch"):
            raise ValueError(f"`{method}()` needs a loss: pass `loss=` to `compile()`.")

    @property
    def metrics(self) -> list:
        """The loss tracker and the compiled metrics (once the first batch has been seen)."""
        return [self._loss_tracker] + list(self._compiled_metrics or []) + list(self._weighted_metrics)

    @property
    def metrics_names(self) -> list:
        """The names in the logs, in order: ``'loss'``, then the compiled metrics (and weighted
        metrics) in the order given to ``compile`` (known once the first batch has been seen)."""
        return [name for name, _ in self._named_metrics()]

    def _named_metrics(self) -> list:
        """``(log name, metric)`` pairs. As Keras's ``CompileMetrics.result``: a name seen before
        gets ``_1``, ``_2``, ...; a weighted metric named like a plain one becomes ``weighted_<name>``."""
        pairs = [(self._loss_tracker.name, self._loss_tracker)]
        seen = {}
        for weighted, group in ((False, self._compiled_metrics or []), (True, self._weighted_metrics)):
            for metric in group:
                name = metric.name
                if name in seen:
                    if weighted:
                        name = f"weighted_{metric.name}"
                    if name in seen:
                        seen[name] += 1
                        name = f"{name}_{seen[name] - 1}"
                seen.setdefault(name, 1)
                pairs.append((name, metric))
        return pairs

    def reset_metrics(self) -> None:
        for metric in self.metrics:
            metric.reset_state()

    def _build_metrics(self, y, y_pred) -> None:
        loss = self._loss_identifier
        self._compiled_metrics = [metrics_module.get_compiled_metric(m, y, y_pred, loss) for m in self._metric_identifiers]
        self._weighted_metrics = [metrics_module.get_compiled_metric(m, y, y_pred, loss)
                                  for m in self._weighted_metric_identifiers]

    def _logs(self) -> dict:
        """``{name: value}`` for the loss and every metric, sorted by name (Keras's order)."""
        logs = {name: metric.result() for name, metric in self._named_metrics()}
        return dict(sorted(logs.items()))

    # ----- the steps -------------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True) -> Tensor:
        """The compiled loss of ``y_pred`` against ``y``, plus the layers' regularisation penalties."""
        loss = self._loss_fn(y, y_pred, sample_weight=sample_weight)
        if self._loss_weight != 1.0:
            loss = loss * self._loss_weight
        for penalty in self.losses:
            loss = loss + penalty
        return loss

    def _record(self, loss, y, y_pred, sample_weight) -> None:
        """Add one batch to the loss tracker (weighted by batch size, as Keras) and the metrics."""
        batch_size = y_pred.shape[0]
        tracker = self._loss_tracker
        tracker.total += float(loss.data) * batch_size
        tracker.count += batch_size
        if self._compiled_metrics is None:
            self._build_metrics(y, y_pred.data)
        for metric in self._compiled_metrics:
            metric.update_state(y, y_pred.data)
        for metric in self._weighted_metrics:
            metric.update_state(y, y_pred.data, sample_weight=sample_weight)

    def train_step(self, x, y, sample_weight=None, trainable_weights=None) -> None:
        """One update on one batch."""
        trainable = self.trainable_weights if trainable_weights is None else trainable_weights
        y_pred = self(x, training=True)  # 1. predict
        loss = self.compute_loss(x, y, y_pred, sample_weight)  # 2. measure the loss
        for variable in trainable:  # 3. differentiate
            variable.grad = None
        loss.backward()
        self.optimizer.apply([variable.grad for variable in trainable], trainable)  # 4. update in place
        self._record(loss, y, y_pred, sample_weight)  # 5. record

    def test_step(self, x, y, sample_weight=None) -> None:
        """Loss and metrics of one batch, nothing recorded for backward."""
        with no_grad():
            y_pred = self(x, training=False)
            loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
        self._record(loss, y, y_pred, sample_weight)

    # ----- data ------------------------------------------------------------------------------------
    def _expected_input_shape(self):
        """The input shape with a None batch axis, when the model knows it."""
        return getattr(self, "_build_input_shape", None)

    def _check_model_input_shape(self, shape, where: str) -> None:
        expected = self._expected_input_shape()
        if expected is None:
            return
        if len(shape) == len(expected):
            # Equal sizes (the usual case on every step) settle it in one tuple comparison.
            if tuple(shape[1:]) == tuple(expected[1:]):
                return
            if all(e is None or e == s for e, s in zip(expected[1:], shape[1:])):
                return
        hint = ""
        if len(shape) == len(expected) - 1:
            if expected[-1] == 1 and tuple(shape[1:]) == tuple(expected[1:-1]):
                hint = f" Add the channel axis, e.g. x[..., None] (giving {_format_shape(tuple(shape) + (1,))})."
            elif all(e is None or e == s for e, s in zip(expected[1:], shape)):
                hint = " Add a batch axis, e.g. x[None]."
        raise ValueError(
            f'Input 0 of model "{self.name}" is incompatible with the model: expected shape='
            f"{_format_shape(expected)}, found shape={_format_shape(tuple(shape))} (in {where}).{hint}"
        )

    def _prepare_inputs(self, x, where: str) -> np.ndarray:
        if x is None:
            raise ValueError(f"`{where}` needs input data: `x` is None.")
        x = _as_array(x, "x")
        if x.ndim == 0 or x.shape[0] == 0:
            raise ValueError(f"`{where}` needs at least one sample. Received: x with shape {x.shape}.")
        self._check_model_input_shape(x.shape, where)
        if not self.built:
            self.build((None,) + tuple(x.shape[1:]))
        if x.dtype != np.dtype(self.dtype):
            x = x.astype(self.dtype)
        if not all(layer.built for layer in self.layers):
            # A subclassed model's layers are built by a first call (Keras builds symbolically).
            with no_grad():
                self(x[:1], training=False)
        return x

    def _output_shape(self, input_shape):
        try:
            return tuple(self.compute_output_shape(tuple(input_shape)))
        except Exception:  # noqa: BLE001 - models without shape inference skip the target checks
            return None

    def _prepare_targets(self, y, x, where: str) -> np.ndarray:
        if y is None:
            raise ValueError(f"`{where}` needs targets: `y` is None. Pass the labels as the second argument.")
        y = _as_array(y, "y")
        if y.ndim == 0 or len(y) != len(x):
            raise ValueError(
                "Data cardinality is ambiguous: x and y must have the same number of samples (first axis). "
                f"Received: x.shape={x.shape} ({len(x)} samples), y.shape={y.shape} "
                f"({len(y) if y.ndim else 'no'} samples) in {where}."
            )
        output = self._output_shape((None,) + tuple(x.shape[1:]))
        if output is not None and self._loss_fn is not None:
            self._check_targets(y, output, where)
        if np.issubdtype(y.dtype, np.floating) and y.dtype != np.dtype(self.dtype):
            y = y.astype(self.dtype)  # float64 targets would upcast the loss's graph
        elif y.dtype == np.bool_:
            y = y.astype(self.dtype)
        return y

    def _check_targets(self, y, output, where: str) -> None:
        """Check the labels against the loss and the model's output shape (once, vectorised)."""
        kind = _loss_kind(self._loss_identifier if self._loss_identifier is not None else self._loss_fn)
        if kind is None and self._loss_fn is not None:
            kind = _loss_kind(self._loss_fn)
        loss_name = getattr(self._loss_fn, "name", "the loss")
        received = _format_shape(tuple(y.shape))
        if kind == "sparse":
            classes = output[-1]
            allowed = (tuple(output[1:-1]), tuple(output[1:-1]) + (1,))
            if tuple(y.shape[1:]) not in allowed:
                hint = ""
                if tuple(y.shape[1:]) == tuple(output[1:]):
                    hint = (" These look like one-hot labels: use loss='categorical_crossentropy', or pass integer "
                            "labels (y.argmax(axis=-1)).")
                raise ValueError(
                    f"{loss_name} expects integer class labels of shape {_format_shape((None,) + allowed[0])} for the "
                    f"model's output {_format_shape(output)}; received y of shape {received} in {where}.{hint}"
                )
            if np.issubdtype(y.dtype, np.floating) and not np.all(np.isfinite(y) & (y == np.floor(y))):
                raise ValueError(f"{loss_name} expects integer class labels; received non-integer values in `y` in {where}.")
            ignore = getattr(self._loss_fn, "ignore_class", None)
            values = y if ignore is None else y[y != ignore]
            if values.size and classes is not None and (values.min() < 0 or values.max() >= classes):
                raise ValueError(
                    f"Labels in `y` out of range for {loss_name}: the model's output has {classes} classes, so labels must be "
                    f"integers in [0, {classes - 1}]; received values from {values.min()} to {values.max()} in {where}."
                )
        elif kind == "categorical":
            if tuple(y.shape[1:]) != tuple(output[1:]):
                hint = ""
                if y.ndim == len(output) - 1 or (y.shape[-1:] == (1,) and output[-1] != 1):
                    hint = (" These look like integer labels: use loss='sparse_categorical_crossentropy', or one-hot "
                            "encode them (np.eye(num_classes)[y]).")
                raise ValueError(
                    f"{loss_name} expects one-hot targets of the model's output shape {_format_shape(output)}; "
                    f"received y of shape {received} in {where}.{hint}"
                )
        elif kind in ("binary", "regression"):
            shapes = {tuple(output[1:])}
            if output[-1] == 1:
                shapes.add(tuple(output[1:-1]))
            if tuple(y.shape[1:]) not in shapes:
                raise ValueError(
                    f"{loss_name} expects targets of the model's output shape {_format_shape(output)}; received "
                    f"y of shape {received} in {where}."
                )
            if kind == "binary" and y.size and (y.min() < 0 or y.max() > 1):
                raise ValueError(
                    f"{loss_name} expects targets in [0, 1]; received y with values from {y.min()} to {y.max()} in {where}."
                )

    def _prepare_weights(self, sample_weight, y, class_weight, where: str):
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError("Arguments `sample_weight` and `class_weight` cannot be specified at the same time.")
            if not isinstance(class_weight, dict):
                raise ValueError(
                    "`class_weight` must be a dict-like mapping of class indices to weights. Received: "
                    f"class_weight={class_weight!r} of type {type(class_weight).__name__}."
                )
            cleaned = {}
            for key, weight in class_weight.items():
                try:
                    index = int(key)
                except (TypeError, ValueError):
                    raise ValueError(
                        "`class_weight` must be a dictionary with integer keys representing class indices. "
                        f"Received an invalid key: {key!r} of type {type(key).__name__}."
                    ) from None
                if isinstance(weight, bool) or not isinstance(weight, (numbers.Real, np.number)):
                    raise ValueError(
                        f"`class_weight` values must be numbers. Received: class_weight[{key!r}]={weight!r}"
                    )
                cleaned[index] = float(weight)
            # Keras: one-hot targets -> argmax, a trailing axis of 1 squeezed, labels rounded.
            classes = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y), -1)[:, 0]
            classes = np.round(classes).astype(np.int64)
            weights = np.ones(len(classes), dtype=self.dtype)
            for index, weight in cleaned.items():
                weights[classes == index] = weight
            return weights
        if sample_weight is None:
            return None
        sample_weight = _as_array(sample_weight, "sample_weight").astype(self.dtype)
        if sample_weight.ndim == 0 or len(sample_weight) != len(y):
            raise ValueError(
                f"`sample_weight` must have one weight per sample: received shape {sample_weight.shape} for "
                f"{len(y)} samples in {where}."
            )
        return sample_weight

    def _prepare_data(self, x, y, sample_weight, class_weight, where: str):
        x = self._prepare_inputs(x, where)
        y = self._prepare_targets(y, x, where)
        return x, y, self._prepare_weights(sample_weight, y, class_weight, where)

    @staticmethod
    def _check_batch_size(batch_size) -> int:
        return 32 if batch_size is None else _check_int(batch_size, "batch_size", 1)

    # ----- fit ---------------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train the model for ``epochs`` passes over ``(x, y)``; returns the ``History``.

        Args (Keras 3's):
            x: inputs, ``(samples, ...)`` matching the model's input shape.
            y: targets: integer labels for sparse losses, one-hot for categorical ones.
            batch_size: samples per step (default 32).
            epochs: the index of the last epoch (training runs epochs ``initial_epoch .. epochs - 1``).
            verbose: ``'auto'`` or 1 (progress bar), 2 (one line per epoch), 0 (silent).
            callbacks: a list of ``cnnkit.callbacks.Callback``.
            validation_split: the fraction of the data, taken from the end before shuffling, kept
                for validation.
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``.
            shuffle: reshuffle the training samples before each epoch.
            class_weight: ``{class index: weight}`` turned into sample weights.
            sample_weight: one weight per training sample.
            initial_epoch: the epoch to start at (for resuming).
            steps_per_epoch: batches per epoch (default: all of the data).
            validation_steps, validation_batch_size, validation_freq: as Keras (an int ``n``
                validates every n epochs; a list validates at those epochs, counted from 1).

        Raises:
            ValueError: fit before compile; data of the wrong shape or length; labels that do not
                fit the loss; bad arguments.
        """
        self._assert_compiled("fit")
        batch_size = self._check_batch_size(batch_size)
        epochs = _check_int(epochs, "epochs", 0)
        initial_epoch = _check_int(initial_epoch, "initial_epoch", 0)
        verbose = _check_verbose(verbose)
        if isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real) or not 0 <= validation_split < 1:
            raise ValueError(f"`validation_split` must be a float in [0, 1). Received: validation_split={validation_split!r}")
        self._should_validate(0, validation_freq)  # a bad validation_freq fails before any training
        x, y, sample_weight = self._prepare_data(x, y, sample_weight, class_weight, "fit")
        if validation_split and validation_data is None:
            split_at = int(math.floor(len(x) * (1.0 - validation_split)))
            if split_at == 0 or split_at == len(x):
                raise ValueError(
                    f"Training data contains {len(x)} samples, which is not sufficient to split it into a validation "
                    f"and training set as specified by `validation_split={validation_split}`. Either provide more "
                    "data, or a different value for the `validation_split` argument."
                )
            validation_data = (x[split_at:], y[split_at:]) if sample_weight is None else \
                (x[split_at:], y[split_at:], sample_weight[split_at:])
            x, y = x[:split_at], y[:split_at]
            sample_weight = None if sample_weight is None else sample_weight[:split_at]
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError(
                    "`validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, val_sample_weight). "
                    f"Received: {type(validation_data).__name__} of length {len(validation_data) if hasattr(validation_data, '__len__') else '?'}"
                )
            val_weight = validation_data[2] if len(validation_data) == 3 else None
            validation = self._prepare_data(validation_data[0], validation_data[1], val_weight, None, "validation_data")
        samples = len(x)
        steps = math.ceil(samples / batch_size)
        if steps_per_epoch is not None:
            steps = min(steps, _check_int(steps_per_epoch, "steps_per_epoch", 1))

        callbacks = callbacks_module.CallbackList(
            callbacks, add_history=True, add_progbar=verbose != 0, model=self,
            verbose=verbose, epochs=epochs, steps=steps,
        )
        self.history = callbacks.history
        self._callback_list = callbacks
        self.stop_training = False
        self._initial_epoch = None
        trainable = self.trainable_weights
        if not trainable:
            warnings.warn("The model does not have any trainable weights.", stacklevel=2)
        self.optimizer.build(trainable)
        batch_logs = callbacks.wants_batch_logs()
        epoch_logs = {}
        try:
            callbacks.on_train_begin()
            start = self._initial_epoch if self._initial_epoch is not None else initial_epoch
            for epoch in range(start, epochs):
                self.reset_metrics()
                callbacks.on_epoch_begin(epoch)
                order = cnnkit_random.get_rng().permutation(samples) if shuffle else None
                for step in range(steps):
                    callbacks.on_train_batch_begin(step)
                    begin, end = step * batch_size, min((step + 1) * batch_size, samples)
                    if order is None:
                        x_batch, y_batch = x[begin:end], y[begin:end]
                        w_batch = None if sample_weight is None else sample_weight[begin:end]
                    else:
                        index = order[begin:end]
                        x_batch, y_batch = np.take(x, index, axis=0), np.take(y, index, axis=0)
                        w_batch = None if sample_weight is None else np.take(sample_weight, index, axis=0)
                    if trainable:
                        self.train_step(x_batch, y_batch, w_batch, trainable)
                    else:
                        self.test_step(x_batch, y_batch, w_batch)
                    callbacks.on_train_batch_end(step, self._logs() if batch_logs else None)
                    if self.stop_training:
                        break
                epoch_logs = self._logs()
                if validation is not None and self._should_validate(epoch, validation_freq):
                    val_logs = self._evaluate_arrays(*validation, validation_batch_size or batch_size, callbacks,
                                                     validation_steps)
                    epoch_logs.update({f"val_{name}": value for name, value in val_logs.items()})
                callbacks.on_epoch_end(epoch, epoch_logs)
                if self.stop_training:
                    break
            callbacks.on_train_end(epoch_logs)
        finally:
            self._callback_list = None
        return self.history

    @staticmethod
    def _should_validate(epoch: int, frequency) -> bool:
        if isinstance(frequency, int) and not isinstance(frequency, bool) and frequency >= 1:
            return (epoch + 1) % frequency == 0
        if isinstance(frequency, (list, tuple, set)):
            return epoch + 1 in frequency
        raise ValueError(
            f"`validation_freq` must be a positive int or a list of epochs. Received: validation_freq={frequency!r}"
        )

    # ----- evaluate / predict -------------------------------------------------------------------------
    def _evaluate_arrays(self, x, y, sample_weight, batch_size, callbacks, steps=None) -> dict:
        self.reset_metrics()
        total_steps = math.ceil(len(x) / batch_size)
        if steps is not None:
            total_steps = min(total_steps, _check_int(steps, "steps", 1))
        callbacks.on_test_begin()
        for step in range(total_steps):
            callbacks.on_test_batch_begin(step)
            begin, end = step * batch_size, min((step + 1) * batch_size, len(x))
            self.test_step(x[begin:end], y[begin:end], None if sample_weight is None else sample_weight[begin:end])
            callbacks.on_test_batch_end(step, self._logs())
        logs = self._logs()
        callbacks.on_test_end(logs)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """The loss and metrics over ``(x, y)``, batched.

        Returns:
            The loss (a float) when there are no metrics, else ``[loss, metric, ...]`` in
            ``metrics_names`` order; a dict with ``return_dict=True``.
        """
        self._assert_compiled("evaluate")
        batch_size = self._check_batch_size(batch_size)
        verbose = _check_verbose(verbose)
        if self._loss_fn is None:
            raise ValueError("`evaluate()` needs a loss: pass `loss=` to `compile()`.")
        x, y, sample_weight = self._prepare_data(x, y, sample_weight, None, "evaluate")
        total_steps = math.ceil(len(x) / batch_size) if steps is None else min(math.ceil(len(x) / batch_size), steps)
        callback_list = callbacks_module.CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                                      verbose=verbose, epochs=1, steps=total_steps)
        logs = self._evaluate_arrays(x, y, sample_weight, batch_size, callback_list, steps)
        if return_dict:
            return logs
        values = [logs[name] for name in self.metrics_names if name in logs]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None) -> np.ndarray:
        """The model's outputs for ``x``, computed in batches without recording a graph.

        Returns:
            A NumPy array ``(samples, ...)`` in the model's dtype.
        """
        batch_size = self._check_batch_size(batch_size)
        verbose = _check_verbose(verbose)
        x = self._prepare_inputs(x, "predict")
        total_steps = math.ceil(len(x) / batch_size)
        if steps is not None:
            total_steps = min(total_steps, _check_int(steps, "steps", 1))
        callback_list = callbacks_module.CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                                      verbose=verbose, epochs=1, steps=total_steps)
        callback_list.on_predict_begin()
        outputs = None
        side_by_side = _side_by_side_batches(self, total_steps, callbacks)
        with _threads_for_batches(side_by_side):
            batches = _in_order(lambda step: self._predict_batch(x, step, batch_size), total_steps, side_by_side)
            for step, batch in enumerate(batches):  # callbacks in order, one batch at a time
                callback_list.on_predict_batch_begin(step)
                if outputs is None:
                    outputs = np.empty((min(len(x), total_steps * batch_size),) + batch.shape[1:], dtype=batch.dtype)
                outputs[step * batch_size : step * batch_size + len(batch)] = batch
                callback_list.on_predict_batch_end(step, {"outputs": batch})
        callback_list.on_predict_end()
        return outputs

    def _predict_batch(self, x, step, batch_size):
        """The outputs for batch ``step`` of ``x`` (any thread: the no-grad switch is per thread)."""
        with no_grad():
            return self(x[step * batch_size : (step + 1) * batch_size], training=False).data

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on one batch; returns the loss (and metrics) of that batch."""
        self._assert_compiled("train_on_batch")
        x, y, sample_weight = self._prepare_data(x, y, sample_weight, class_weight, "train_on_batch")
        self.reset_metrics()
        self.train_step(x, y, sample_weight)
        return self._batch_result(return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics of one batch, without training."""
        self._assert_compiled("test_on_batch")
        x, y, sample_weight = self._prepare_data(x, y, sample_weight, None, "test_on_batch")
        self.reset_metrics()
        self.test_step(x, y, sample_weight)
        return self._batch_result(return_dict)

    def predict_on_batch(self, x) -> np.ndarray:
        """The model's outputs for one batch, without recording a graph."""
        x = self._prepare_inputs(x, "predict_on_batch")
        with no_grad():
            return self(x, training=False).data

    def _batch_result(self, return_dict):
        logs = self._logs()
        if return_dict:
            return logs
        values = [logs[name] for name in self.metrics_names if name in logs]
        return values[0] if len(values) == 1 else values

    # ----- inspection and files ----------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None) -> None:
        """Print the table of layers, output shapes and parameter counts (Keras's layout)."""
        from .summary import print_summary

        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable, layer_range=layer_range)

    def save(self, filepath, overwrite=True, include_optimizer=True) -> None:
        """Write the model to one safetensors file (config JSON in the header, weights as tensors),
        atomically. Reload it with ``cnnkit.models.load_model(filepath)``.

        Raises:
            ValueError: ``filepath`` does not end in ``.keras``, ``.cnnkit`` or ``.safetensors``
                (always cnnkit's own file, whatever the name), or the model is not built.
        """
        from .saving import save_model

        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite=True) -> None:
        """Write the weights to a plain safetensors file, atomically.

        Raises:
            ValueError: ``filepath`` does not end in ``.safetensors`` or Keras's ``.weights.h5``.
        """
        from .saving import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath) -> None:
        """Load weights written by ``save_weights`` (or ``save``) into this built model."""
        from .saving import load_weights

        load_weights(self, filepath)
