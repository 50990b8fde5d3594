"""Hooks into the training loop: Callback and the built-in callbacks.

A callback's hooks receive the net; ``net.history_`` holds one dict per
finished epoch. Raising :class:`StopTraining` from a hook ends the fit
cleanly after the current epoch.
"""

import os
import sys
import time

import numpy as np
from sklearn.base import BaseEstimator

__all__ = [
    "Callback",
    "StopTraining",
    "EarlyStopping",
    "Checkpoint",
    "LRScheduler",
    "EpochScoring",
    "PrintLog",
    "PrintLayerInfo",
    "ProgressBar",
    "FunctionCallback",
]


class StopTraining(Exception):
    """Raised by a callback to end training after the current epoch.

    Examples
    --------
    >>> issubclass(StopTraining, Exception)
    True
    """


def _lower_is_better(monitor):
    return monitor.endswith("loss") or monitor.endswith("error") or monitor == "dur"


class Callback(BaseEstimator):
    """Base class of callbacks; override the hooks you need.

    Callbacks are scikit-learn style objects (``get_params``/``set_params``),
    so ``callbacks__<name>__<param>`` routes parameters to them. The estimator
    works on clones, so the instances you pass are never modified.

    Examples
    --------
    >>> class CountEpochs(Callback):
    ...     def on_train_begin(self, net, X=None, y=None):
    ...         self.n_ = 0
    ...     def on_epoch_end(self, net, history):
    ...         self.n_ += 1
    >>> CountEpochs().get_params()
    {}
    """

    def on_train_begin(self, net, X=None, y=None):
        """Called once before the first epoch of a fit."""

    def on_epoch_begin(self, net, history):
        """Called before each epoch; ``history`` holds the finished ones."""

    def on_batch_end(self, net, batch_loss, batch_size, training):
        """Called after each batch, training or validation."""

    def on_epoch_end(self, net, history):
        """Called after each epoch; ``history[-1]`` is the epoch's record."""

    def on_train_end(self, net):
        """Called once when training ends, however it ends."""


class FunctionCallback(Callback):
    """Wrap nolearn-style functions ``f(net, history)`` as a callback.

    Parameters
    ----------
    on_epoch_finished, on_batch_finished, on_training_started, on_training_finished : list of callables

    Examples
    --------
    >>> seen = []
    >>> cb = FunctionCallback(on_epoch_finished=[lambda net, h: seen.append(len(h))])
    >>> cb.on_epoch_end(None, [{}])
    >>> seen
    [1]
    """

    def __init__(
        self,
        on_epoch_finished=(),
        on_batch_finished=(),
        on_training_started=(),
        on_training_finished=(),
    ):
        self.on_epoch_finished = on_epoch_finished
        self.on_batch_finished = on_batch_finished
        self.on_training_started = on_training_started
        self.on_training_finished = on_training_finished

    @staticmethod
    def _call(funcs, *args):
        for func in [funcs] if callable(funcs) else funcs:
            func(*args)

    def on_train_begin(self, net, X=None, y=None):
        self._call(self.on_training_started, net, net.history_)

    def on_batch_end(self, net, batch_loss, batch_size, training):
        self._call(self.on_batch_finished, net, net.history_)

    def on_epoch_end(self, net, history):
        self._call(self.on_epoch_finished, net, history)

    def on_train_end(self, net):
        self._call(self.on_training_finished, net, net.history_)


class _Monitor(Callback):
    """Shared logic of callbacks watching one history key for improvements."""

    def _improved(self, history):
        value = history[-1].get(self.monitor)
        if value is None:
            raise KeyError(
                f"{type(self).__name__} monitors {self.monitor!r}, which is not in the "
                f"history (keys: {sorted(history[-1])}); is there a validation set?"
            )
        lower = self.lower_is_better
        if lower is None:
            lower = _lower_is_better(self.monitor)
        sign = 1.0 if lower else -1.0
        delta = getattr(self, "min_delta", 0.0)
        if self.best_ is None or sign * (value - self.best_) < -delta:
            self.best_ = value
            return True
        return False


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str
        A history key; names ending in ``loss`` are minimized, others maximized
        (override with ``lower_is_better``).
    patience : int
    min_delta : float
        The smallest change that counts as an improvement.
    restore_best_weights : bool
        Put the weights of the best epoch back when training ends.
    lower_is_better : None or bool

    Examples
    --------
    >>> es = EarlyStopping(patience=2)
    >>> es.patience, es.monitor
    (2, 'valid_loss')
    """

    def __init__(
        self,
        monitor="valid_loss",
        patience=5,
        min_delta=0.0,
        restore_best_weights=True,
        lower_is_better=None,
    ):
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.restore_best_weights = restore_best_weights
        self.lower_is_better = lower_is_better

    def on_train_begin(self, net, X=None, y=None):
        self.best_ = None
        self.best_epoch_ = None
        self.best_weights_ = None
        self.stopped_epoch_ = None

    def on_epoch_end(self, net, history):
        if self._improved(history):
            self.best_epoch_ = history[-1]["epoch"]
            if self.restore_best_weights:
                self.best_weights_ = net.get_all_params_values()
        elif history[-1]["epoch"] - self.best_epoch_ >= self.patience:
            self.stopped_epoch_ = history[-1]["epoch"]
            raise StopTraining(
                f"Early stopping: {self.monitor} has not improved since epoch "
                f"{self.best_epoch_} ({self.best_:.6g})."
            )

    def on_train_end(self, net):
        if self.restore_best_weights and self.best_weights_ is not None:
            net.load_params_from(self.best_weights_)


class Checkpoint(_Monitor):
    """Save the weights to ``path`` whenever ``monitor`` improves (atomic write).

    Parameters
    ----------
    path : str
        The ``.npz`` file; a format string may use ``{epoch}``.
    monitor : str or None
        None saves after every epoch.
    lower_is_better : None or bool

    Examples
    --------
    >>> Checkpoint('best.npz').monitor
    'valid_loss'
    """

    def __init__(self, path, monitor="valid_loss", lower_is_better=None):
        self.path = path
        self.monitor = monitor
        self.lower_is_better = lower_is_better

    def on_train_begin(self, net, X=None, y=None):
        self.best_ = None
        self.saved_epochs_ = []

    def on_epoch_end(self, net, history):
        if self.monitor is None or self._improved(history):
            epoch = history[-1]["epoch"]
            net.save_params_to(str(self.path).format(epoch=epoch))
            self.saved_epochs_.append(epoch)
            history[-1]["checkpoint"] = True


class LRScheduler(Callback):
    """Set an update hyper-parameter before each epoch, without recompiling.

    Parameters
    ----------
    schedule : callable or sequence
        ``schedule(epoch)`` (epochs count from 1) or a sequence indexed by
        ``epoch - 1`` (its last value is kept once it runs out).
    param : str
        The routed name of the hyper-parameter.

    Examples
    --------
    >>> sched = LRScheduler(lambda epoch: 0.1 / epoch)
    >>> sched.value(2)
    0.05
    """

    def __init__(self, schedule, param="update__learning_rate"):
        self.schedule = schedule
        self.param = param

    def value(self, epoch):
        """The scheduled value for ``epoch`` (counted from 1)."""
        if callable(self.schedule):
            return float(self.schedule(epoch))
        values = list(self.schedule)
        return float(values[min(epoch, len(values)) - 1])

    def on_epoch_begin(self, net, history):
        epoch = history[-1]["epoch"] + 1 if history else 1
        net.set_hyperparameter(self.param, self.value(epoch))


class EpochScoring(Callback):
    """Add a scikit-learn score of the net to each epoch's history.

    Parameters
    ----------
    scoring : str or callable
        A scorer name (``'f1_macro'``, ``'neg_mean_squared_error'`` ...) or a
        callable ``scoring(net, X, y)``.
    on_train : bool
        Score on the training part instead of the validation part.
    name : str, optional
        The history key; by default ``valid_<scoring>`` (``train_<scoring>``).
    lower_is_better : bool
        How PrintLog marks the best value.

    Examples
    --------
    >>> EpochScoring('f1_macro').key()
    'valid_f1_macro'
    """

    def __init__(self, scoring, on_train=False, name=None, lower_is_better=False):
        self.scoring = scoring
        self.on_train = on_train
        self.name = name
        self.lower_is_better = lower_is_better

    def key(self):
        """The history key this callback writes."""
        if self.name is not None:
            return self.name
        base = self.scoring if isinstance(self.scoring, str) else self.scoring.__name__
        return ("train_" if self.on_train else "valid_") + base

    def on_train_begin(self, net, X=None, y=None):
        from sklearn.metrics import check_scoring

        self.scorer_ = check_scoring(net, scoring=self.scoring)

    def on_epoch_end(self, net, history):
        X, y = net.train_data_ if self.on_train else net.valid_data_
        if X is None or len(y) == 0:
            return
        history[-1][self.key()] = float(self.scorer_(net, X, y))


class PrintLog(Callback):
    """Print one table row per epoch; the best losses so far are marked ``*``.

    Parameters
    ----------
    keys : sequence of str, optional
        Columns to show besides ``epoch`` and ``dur``; by default every numeric
        key of the history.
    sink : callable
        Where lines go (default ``print``).

    Examples
    --------
    >>> lines = []
    >>> log = PrintLog(sink=lines.append)
    >>> log.on_train_begin(None)
    >>> log.on_epoch_end(None, [{'epoch': 1, 'train_loss': 0.5, 'dur': 0.1}])
    >>> print(lines[0]); print(lines[2])
      epoch  train_loss    dur
          1    0.50000*  0.10s
    """

    def __init__(self, keys=None, sink=print):
        self.keys = keys
        self.sink = sink

    def on_train_begin(self, net, X=None, y=None):
        self.best_ = {}
        self.columns_ = None

    def _columns(self, record):
        if self.keys is not None:
            keys = list(self.keys)
        else:
            keys = [
                k
                for k, v in record.items()
                if k not in ("epoch", "dur") and isinstance(v, (int, float, np.floating))
                and not isinstance(v, bool)
            ]
        return keys

    def on_epoch_end(self, net, history):
        record = history[-1]
        if self.columns_ is None:
            self.columns_ = self._columns(record)
            self.widths_ = [max(len(k) + 2, 12) for k in self.columns_]
            header = "  epoch" + "".join(f"{k:>{w}}" for k, w in zip(self.columns_, self.widths_)) + "    dur"
            self.sink(header)
            self.sink("-" * len(header))
        cells = []
        for key, width in zip(self.columns_, self.widths_):
            value = record.get(key)
            if value is None:
                cells.append(" " * width)
                continue
            lower = _lower_is_better(key)
            best = self.best_.get(key)
            is_best = best is None or (value < best if lower else value > best)
            if is_best:
                self.best_[key] = value
            cells.append(f"{value:>{width - 1}.5f}" + ("*" if is_best else " "))
        self.sink(f"{record['epoch']:>7}" + "".join(cells) + f"  {record['dur']:.2f}s")


class PrintLayerInfo(Callback):
    """Print the layer table of :meth:`NeuralNet.summary` when training starts.

    The table (name, type, output shape, parameter count and, for conv and
    pool layers, the receptive field) is printed once per initialization:
    not again on warm-started fits or later ``partial_fit`` calls. Nets with
    ``verbose >= 2`` add this callback themselves; given in ``callbacks`` it
    prints whatever the verbosity.

    Parameters
    ----------
    sink : callable
        Where the text goes (default ``print``).

    Examples
    --------
    >>> from sknet import NeuralNet
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> net = NeuralNet([(InputLayer, {'shape': (None, 3)}), (DenseLayer, {'num_units': 2})])
    >>> PrintLayerInfo().on_train_begin(net)
    #  name    type        output shape  params
    -  ------  ----------  ------------  ------
    0  input0  InputLayer  (None, 3)          0
    1  dense1  DenseLayer  (None, 2)          8
    total params: 8
    """

    def __init__(self, sink=print):
        self.sink = sink

    def __sklearn_clone__(self):
        # Share the sink: a deep copy of ``lines.append`` would append to a copied list.
        return type(self)(sink=self.sink)

    def on_train_begin(self, net, X=None, y=None):
        if getattr(self, "printed_", False):
            return
        self.sink(net.summary())
        self.printed_ = True


def _in_notebook():
    """True inside a Jupyter kernel (where tqdm.auto draws a widget)."""
    if "IPython" not in sys.modules:
        return False
    shell = sys.modules["IPython"].get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class ProgressBar(Callback):
    """A tqdm progress bar over each epoch's batches, with the running loss.

    One bar per epoch counts the training and then the validation batches
    (the total comes from the batch iterators); its postfix shows the running
    mean training loss (``loss``) and, once validation starts, the running
    validation loss (``valid_loss``). Nets with ``verbose >= 2`` add this
    callback themselves.

    The bar uses ``tqdm.auto``: a widget in Jupyter, text in a terminal. It is
    silent when the stream it writes to (``file``, default standard error) is
    not a terminal and the code does not run in a Jupyter kernel, so logs of
    batch jobs stay clean; ``force=True`` draws it anyway (as text when
    ``file`` is given).

    Parameters
    ----------
    force : bool
        Draw the bar even without a terminal or notebook.
    file : file-like, optional
        Where a text bar goes (default ``sys.stderr``).
    tqdm_kwargs : dict, optional
        Passed to ``tqdm`` (``leave``, ``mininterval``, ``ncols`` ...).

    Attributes
    ----------
    batch_counts_ : list of int
        The number of batches each drawn bar counted.

    Examples
    --------
    >>> import io
    >>> bar = ProgressBar(file=io.StringIO())
    >>> bar.active()  # an in-memory file is not a terminal
    False
    >>> ProgressBar(force=True, file=io.StringIO()).active()
    True
    """

    def __init__(self, force=False, file=None, tqdm_kwargs=None):
        self.force = force
        self.file = file
        self.tqdm_kwargs = tqdm_kwargs

    def __sklearn_clone__(self):
        # The net clones its callbacks; a stream cannot be deep-copied (and a
        # copy would swallow the output), so the clone shares it.
        return type(self)(**self.get_params(deep=False))

    def active(self):
        """Whether the bar will be drawn."""
        if self.force:
            return True
        if self.file is None and _in_notebook():
            return True
        stream = sys.stderr if self.file is None else self.file
        isatty = getattr(stream, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # a closed stream
            return False

    def on_train_begin(self, net, X=None, y=None):
        self.bar_ = None
        self.batch_counts_ = []

    def on_epoch_begin(self, net, history):
        self.bar_ = None
        if not self.active():
            return
        if self.file is None:
            from tqdm.auto import tqdm
        else:
            from tqdm import tqdm
        kwargs = {"leave": False, "unit": "batch", "dynamic_ncols": self.file is None}
        kwargs.update(self.tqdm_kwargs or {})
        epoch = history[-1]["epoch"] + 1 if history else 1
        total = getattr(net, "n_batches_per_epoch_", None)
        self.bar_ = tqdm(total=total, desc=f"epoch {epoch}", file=self.file, **kwargs)
        self.sums_ = {True: [0.0, 0], False: [0.0, 0]}

    def on_batch_end(self, net, batch_loss, batch_size, training):
        if getattr(self, "bar_", None) is None:
            return
        sums = self.sums_[bool(training)]
        sums[0] += batch_loss * batch_size
        sums[1] += batch_size
        self.bar_.set_postfix(self._postfix(), refresh=False)
        self.bar_.update(1)

    def _postfix(self):
        postfix = {}
        for key, is_train in (("loss", True), ("valid_loss", False)):
            total, count = self.sums_[is_train]
            if count:
                postfix[key] = f"{total / count:.4f}"
        return postfix

    def on_epoch_end(self, net, history):
        if getattr(self, "bar_", None) is not None:
            # tqdm redraws at most every `mininterval`: show the epoch's final state.
            self.bar_.set_postfix(self._postfix(), refresh=True)
            self.batch_counts_.append(self.bar_.n)
            self.bar_.close()
            self.bar_ = None

    def on_train_end(self, net):
        self.on_epoch_end(net, None)


def _atomic_savez(path, arrays):
    """Write ``arrays`` to ``path`` as .npz via a temporary file and a rename."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{time.time_ns()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
