"""The training loop: one epoch routine for training and validation, callbacks, the divergence guard.

Nothing here reads an estimator attribute: the loop is handed the compiled
functions, iterators, data and callbacks, and passes the net itself only to
the callbacks' hooks, with the epoch's data as keyword arguments.

The divergence rule: an epoch diverged when a batch loss, the epoch's
validation loss or a weight is not finite, or when the epoch's training or
validation loss exceeds :data:`EXPLOSION_FACTOR` times the last good epoch's
(with losses under ``1e-3`` counted as ``1e-3``). Then the weights and
optimizer state of the last good epoch are restored. If the net has no good
epoch yet (its first epoch fails) that is an error naming the likely causes,
never an untrained net returned as if fitted; later, training stops with a
RuntimeWarning.
"""

import math
import sys
import time
import warnings

import numpy as np

from .callbacks import Callback, StopTraining
from .history import mark_best

__all__ = [
    "EXPLOSION_FACTOR",
    "DivergenceError",
    "exploded",
    "failure_hints",
    "input_arrays",
    "run_epoch",
    "TrainingLoop",
]

#: An epoch loss this many times the last good epoch's counts as divergence.
EXPLOSION_FACTOR = 1e3


class DivergenceError(RuntimeError):
    """The loss was not finite in a net's first epoch: nothing was learned.

    Examples
    --------
    >>> issubclass(DivergenceError, RuntimeError)
    True
    """


def exploded(loss, reference):
    """True when ``loss`` is not finite or blew up by orders of magnitude over ``reference``.

    Examples
    --------
    >>> exploded(float('nan'), 1.0), exploded(2.8e30, 0.3), exploded(0.5, 0.3), exploded(0.5, None)
    (True, True, False, False)
    """
    if loss is None:
        return False
    if not math.isfinite(loss):
        return True
    return reference is not None and loss > EXPLOSION_FACTOR * max(reference, 1e-3)


def input_arrays(inputs, Xb):
    """The arrays to feed the compiled functions for a batch, in input-layer order.

    Parameters
    ----------
    inputs : list of (name, InputLayer)
    Xb : array or dict of arrays

    Examples
    --------
    >>> from sknet.layers import InputLayer
    >>> [a.dtype.name for a in input_arrays([('x', InputLayer((None, 2)))], np.zeros((1, 2)))]
    ['float32']
    """
    arrays = [Xb[name] for name, _ in inputs] if isinstance(Xb, dict) else [Xb]
    out = []
    for arr, (_, layer) in zip(arrays, inputs):
        dtype = layer.input_var.dtype
        out.append(arr if getattr(arr, "dtype", None) == dtype else np.asarray(arr, dtype=dtype))
    return out


def failure_hints(layers, loss, X, y, learning_rate=None):
    """What to check after a first epoch whose loss was not finite, as one sentence.

    Names the output layer's nonlinearity with the loss and the targets'
    range, the learning rate, and the scale of X.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> from sknet.objectives import squared_error
    >>> out = DenseLayer(InputLayer((None, 2)), 1)
    >>> hints = failure_hints({'out': out}, squared_error, np.ones((2, 2)), np.array([0.0, 1e9]))
    >>> print(hints.replace('; ', ';\\n'))
    Check the output layer 'out' (nonlinearity rectify) with the loss squared_error and targets from 0 to 1e+09;
    the scale of X (largest absolute value 1).
    """
    name, out = next(reversed(layers.items()))
    nonlinearity = getattr(out, "nonlinearity", None)
    checks = [
        f"the output layer {name!r} (nonlinearity {getattr(nonlinearity, '__name__', type(nonlinearity).__name__)}) "
        f"with the loss {getattr(loss, '__name__', loss)}"
    ]
    y = np.asarray(y)
    if y.dtype.kind in "iuf" and y.size:
        checks[0] += f" and targets from {np.min(y):.4g} to {np.max(y):.4g}"
    if learning_rate is not None:
        checks.append(f"the learning rate (update__learning_rate={float(learning_rate.get_value()):.4g})")
    arrays = X.values() if isinstance(X, dict) else [X]
    scale = max(float(np.max(np.abs(a))) if np.size(a) else 0.0 for a in arrays)
    checks.append(f"the scale of X (largest absolute value {scale:.4g})")
    return "Check " + "; ".join(checks) + "."


class _Diverged(Exception):
    pass


def run_epoch(fn, batches, inputs, on_batch=None, collect=True, what="training loss"):
    """Run ``fn`` over every batch; the one routine for training and validation epochs.

    Parameters
    ----------
    fn : callable
        ``fn(*inputs, yb[, wb]) -> (loss, output)``, or the loss alone (the train function also
        applies its updates).
    batches : iterable
        ``(Xb, yb)`` or ``(Xb, yb, wb)`` tuples.
    inputs : list of (name, InputLayer)
    on_batch : callable, optional
        ``on_batch(loss=, batch_size=)`` after each batch.
    collect : bool
        Keep the batches' outputs and targets.
    what : str
        Names the loss in the divergence message.

    Returns
    -------
    (mean loss, outputs, targets)
        The mean of the batch losses weighted by batch size, or by the sum of
        the batch's sample weights when batches carry them (so a weighted
        epoch loss is ``sum(w * l) / sum(w)`` over the epoch; a batch whose
        weights are all zero counts for nothing). None without batches. Then
        the batches' outputs and encoded targets in batch order (empty lists
        unless ``collect``).

    Examples
    --------
    >>> from sknet.layers import InputLayer
    >>> fn = lambda x, y: (((x[:, 0] - y) ** 2).mean(), x)
    >>> batches = [(np.ones((2, 1)), np.zeros(2)), (np.zeros((1, 1)), np.zeros(1))]
    >>> loss, outs, ys = run_epoch(fn, batches, [('x', InputLayer((None, 1)))])
    >>> round(loss, 4), len(outs)
    (0.6667, 2)
    """
    total, count, outputs, targets = 0.0, 0, [], []
    for batch in batches:
        arrays = input_arrays(inputs, batch[0])
        result = fn(*arrays, *batch[1:])
        loss, output = result if isinstance(result, list | tuple) else (result, None)
        loss, size = float(loss), len(arrays[0])
        if len(batch) > 2:
            size = float(np.sum(batch[2]))
        if size == 0:  # all weights zero: the batch loss is 0/0 and means nothing
            loss = 0.0
        if not math.isfinite(loss):
            raise _Diverged(f"the {what} became {loss}")
        total += loss * size
        count += size
        if collect:
            outputs.append(output)
            targets.append(batch[1])
        if on_batch is not None:
            on_batch(loss=loss, batch_size=size)
    return (total / count if count else None), outputs, targets


def _concat(arrays):
    return np.concatenate(arrays) if arrays else None


class TrainingLoop:
    """Epochs of training and validation with callbacks and the divergence guard.

    Parameters
    ----------
    net : estimator
        Passed to the callbacks' hooks (the loop itself reads nothing from it).
    callbacks : list of Callback
    train_fn, valid_fn : callable
        ``(loss, output)`` functions; ``valid_fn`` None without validation data.
    iterator_train, iterator_test : BatchIterator
    inputs : list of (name, InputLayer)
    targets : sknet.targets.Targets
        Encodes y, decodes outputs, gives class codes for ``valid_accuracy``.
    state : list of shared variables
        Everything the train function changes (weights and optimizer state).
    history : History
        Records are appended to it; each gets ``<key>_best`` flags for the
        losses (and ``valid_accuracy``).
    failure_hints : callable
        ``failure_hints()`` gives the sentence that ends the first-epoch
        error (computed only then).
        Appended to the first-epoch error message (the likely causes).

    Examples
    --------
    See :meth:`sknet.NeuralNet.fit`, which builds and runs one.
    """

    def __init__(
        self,
        net,
        callbacks,
        train_fn,
        valid_fn,
        iterator_train,
        iterator_test,
        inputs,
        targets,
        state,
        history,
        failure_hints=str,
    ):
        self.net = net
        self.callbacks = list(callbacks)
        self.train_fn = train_fn
        self.valid_fn = valid_fn
        self.iterator_train = iterator_train
        self.iterator_test = iterator_test
        self.inputs = inputs
        self.targets = targets
        self.state = state
        self.history = history
        self.failure_hints = failure_hints
        self.classifier = hasattr(targets, "classes_")
        self.collect_train = any(getattr(cb, "needs_train_output", False) for cb in self.callbacks)

    def notify(self, hook, **kwargs):
        """Call ``hook`` on every callback; a StopTraining from any is raised after all ran."""
        stop = None
        for cb in self.callbacks:
            try:
                getattr(cb, hook)(self.net, history=self.history, **kwargs)
            except StopTraining as exc:
                stop = exc
        if stop is not None:
            raise stop

    def run(self, X, y, X_train, y_train, X_valid, y_valid, w_train=None, epochs=1, compile_time=None, w_valid=None):
        """Train for up to ``epochs`` epochs (y in the user's labels); returns the stop message or None.

        ``w_valid`` weighs the validation loss and ``valid_accuracy`` (the
        valid function must then take weights).

        ``compile_time`` (seconds spent compiling for this fit) goes into the
        first record this run writes.
        """
        self.compile_time, self.w_valid = compile_time, w_valid
        enc_train = self.targets.encode(y_train)
        enc_valid = None if X_valid is None else self.targets.encode(y_valid)
        n_batches = self.iterator_train.n_batches(X_train) + (
            0 if X_valid is None else self.iterator_test.n_batches(X_valid)
        )
        batch_cbs = [cb for cb in self.callbacks if type(cb).on_batch_end is not Callback.on_batch_end]
        data = dict(X_train=X_train, y_train=y_train, X_valid=X_valid, y_valid=y_valid)
        message, good = None, None
        self.notify("on_train_begin", X=X, y=y, **data)
        try:
            for _ in range(epochs):
                epoch = len(self.history) + 1
                self.notify("on_epoch_begin", epoch=epoch, n_batches=n_batches)
                good = [v.get_value() for v in self.state]
                record = self._epoch(epoch, enc_train, w_train, X_valid, enc_valid, data, batch_cbs)
                good = None
                self.notify("on_epoch_end", epoch=epoch, **data, **record)
        except _Diverged as exc:
            self._restore(good)
            message = self._diverged(str(exc))
        except StopTraining as exc:
            message = str(exc)
        except KeyboardInterrupt:
            self._restore(good)
            print(f"Training interrupted; keeping the weights of epoch {len(self.history)}.", file=sys.stderr)
        finally:
            try:
                self.notify("on_train_end", X=X, y=y, **data)
            except StopTraining as exc:  # training has ended anyway
                message = message or str(exc)
        return message

    def _epoch(self, epoch, enc_train, w_train, X_valid, enc_valid, data, batch_cbs):
        t0 = time.perf_counter()

        def on_batch(training):
            if not batch_cbs:
                return None

            def call(**kwargs):
                for cb in batch_cbs:
                    cb.on_batch_end(self.net, history=self.history, training=training, **kwargs)

            return call

        extra = () if w_train is None else (w_train,)
        train_batches = self.iterator_train(data["X_train"], enc_train, *extra)
        train_loss, train_out, train_y = run_epoch(
            self.train_fn, train_batches, self.inputs, on_batch(True), collect=self.collect_train
        )
        # The last batch's update can overflow the weights although its loss was finite.
        if not all(
            np.all(np.isfinite(v.get_value(borrow=True)))
            for v in self.state
            if str(getattr(v, "dtype", "")).startswith("float")
        ):
            raise _Diverged("the weights became NaN or infinite")
        record = {"epoch": epoch, "train_loss": train_loss, "valid_loss": None}
        valid_out = None
        if self.valid_fn is not None:
            weights = () if self.w_valid is None else (self.w_valid,)
            valid_loss, outs, _ = run_epoch(
                self.valid_fn,
                self.iterator_test(X_valid, enc_valid, *weights),
                self.inputs,
                on_batch(False),
                what="validation loss",
            )
            valid_out = _concat(outs)
            record["valid_loss"] = valid_loss
            if self.classifier:
                codes = self.targets.predicted_codes(valid_out)
                record["valid_accuracy"] = float(
                    np.average(codes == self.targets.codes(enc_valid), weights=self.w_valid)
                )
        last = self.history[-1] if self.history else {}
        for key, what in (("train_loss", "training loss"), ("valid_loss", "validation loss")):
            if exploded(record[key], last.get(key)):
                before = f" (last good epoch: {last[key]:.4g})" if last.get(key) is not None else ""
                raise _Diverged(f"the {what} became {record[key]:.4g}{before}")
        record["dur"] = time.perf_counter() - t0
        if self.compile_time is not None:
            record["compile_time"], self.compile_time = self.compile_time, None
        self.history.append(record)
        for key, lower in (("train_loss", True), ("valid_loss", True), ("valid_accuracy", False)):
            mark_best(self.history, key, lower)
        train_target = _concat(train_y)
        return {
            "valid_output": valid_out,
            "train_output": _concat(train_out),
            "train_target": None if train_target is None else self.targets.labels(train_target),
        }

    def _restore(self, snapshot):
        if snapshot is not None:
            for var, value in zip(self.state, snapshot):
                var.set_value(value)

    def _diverged(self, what):
        epoch = len(self.history)
        if epoch == 0:
            raise DivergenceError(
                f"Training failed in the first epoch: {what}, so the net learned nothing (its initial "
                f"weights were kept). {self.failure_hints()}"
            )
        warnings.warn(
            f"Training diverged: {what} in epoch {epoch + 1}. Training stopped and the weights of "
            f"epoch {epoch} (the last good one) were restored. Try a lower learning rate "
            "(update__learning_rate) or check the scale of X and y.",
            RuntimeWarning,
            stacklevel=4,
        )
        return "diverged"
