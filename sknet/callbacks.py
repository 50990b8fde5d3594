"""The callback contract and the built-in callbacks.

Every hook is ``on_<event>(self, net, **kwargs)``. The training loop
announces each event with its data as keyword arguments, so a callback takes
what it needs by name, ignores the rest, and never reads the estimator's
internals; new keywords never break old callbacks. Raising
:class:`StopTraining` from a hook ends the fit cleanly after the current
epoch.

==================  ==========================================================
hook                keyword arguments (besides ``history``, always given)
==================  ==========================================================
``on_train_begin``  ``X``, ``y`` (as given to fit), ``X_train``, ``y_train``,
                    ``X_valid``, ``y_valid`` (the split; y in the user's labels,
                    the validation ones None without validation)
``on_epoch_begin``  ``epoch`` (counted from 1), ``n_batches`` (training plus
                    validation batches)
``on_batch_end``    ``loss``, ``batch_size``, ``training`` (False for a
                    validation batch)
``on_epoch_end``    ``epoch``, the split as in ``on_train_begin``,
                    ``valid_output`` (the network's deterministic output on
                    ``X_valid``, row for row), ``train_output`` and
                    ``train_target`` (the training batches' outputs and their
                    targets in the user's labels, in batch order; only when a
                    callback sets ``needs_train_output``)
``on_train_end``    as ``on_train_begin``
==================  ==========================================================

``history[-1]`` is the finished epoch's record in ``on_epoch_end``; the loop
has set ``train_loss_best``, ``valid_loss_best`` (and for a classifier
``valid_accuracy_best``); a scorer sets ``<key>_best`` for its own key, and
:class:`PrintLog` marks exactly the values whose ``_best`` flag is set.
"""

import difflib
from collections import OrderedDict

from sklearn.base import BaseEstimator, clone

from .history import mark_best

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
    "assemble",
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
    works on clones, so the instances you pass are never modified. Every hook
    takes ``(self, net, **kwargs)``; the module docstring lists the keywords.

    Attributes
    ----------
    needs_train_output : bool
        Set it (class or instance) to receive ``train_output`` and
        ``train_target`` in ``on_epoch_end``.

    Examples
    --------
    >>> class CountEpochs(Callback):
    ...     def on_train_begin(self, net, **kwargs):
    ...         self.n_ = 0
    ...     def on_epoch_end(self, net, history=None, **kwargs):
    ...         self.n_ += 1
    >>> cb = CountEpochs()
    >>> cb.on_train_begin(None, X=None); cb.on_epoch_end(None, history=[{}], epoch=1)
    >>> cb.n_
    1
    """

    needs_train_output = False

    def on_train_begin(self, net, **kwargs):
        """Called once before the first epoch of a fit."""

    def on_epoch_begin(self, net, **kwargs):
        """Called before each epoch; ``history`` holds the finished ones."""

    def on_batch_end(self, net, **kwargs):
        """Called after each batch, training or validation."""

    def on_epoch_end(self, net, **kwargs):
        """Called after each epoch; ``history[-1]`` is the epoch's record."""

    def on_train_end(self, net, **kwargs):
        """Called once when training ends, however it ends."""


class FunctionCallback(Callback):
    """Wrap nolearn-style functions ``f(net, history)`` as a callback.

    A function that raises ``StopIteration`` ends training, as in nolearn.
    ``on_batch_finished`` functions run after training batches only.

    Parameters
    ----------
    on_epoch_finished, on_batch_finished, on_training_started, on_training_finished : callable or list of callables

    Examples
    --------
    >>> seen = []
    >>> cb = FunctionCallback(on_epoch_finished=[lambda net, h: seen.append(len(h))])
    >>> cb.on_epoch_end(None, history=[{}], epoch=1)
    >>> seen
    [1]
    """

    #: The nolearn hook names, as a net's parameters.
    HOOKS = ("on_epoch_finished", "on_batch_finished", "on_training_started", "on_training_finished")

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
    def _call(funcs, net, history):
        for func in [funcs] if callable(funcs) else funcs:
            try:
                func(net, history)
            except StopIteration as exc:
                raise StopTraining(str(exc) or f"Stopped by {getattr(func, '__name__', func)}") from None

    def on_train_begin(self, net, history=None, **kwargs):
        self._call(self.on_training_started, net, history)

    def on_batch_end(self, net, history=None, training=True, **kwargs):
        if training:
            self._call(self.on_batch_finished, net, history)

    def on_epoch_end(self, net, history=None, **kwargs):
        self._call(self.on_epoch_finished, net, history)

    def on_train_end(self, net, history=None, **kwargs):
        self._call(self.on_training_finished, net, history)


class _Monitor(Callback):
    """Shared logic of callbacks watching one history key for improvements.

    With ``lower_is_better=None`` the record's ``<monitor>_best`` flag (set by
    the loop or a scorer) says whether the value improved; keys without one
    are judged by name (``*loss``, ``*error`` lower, others higher).
    """

    def _improved(self, record):
        value = record.get(self.monitor)
        if value is None:
            raise KeyError(
                f"{type(self).__name__} monitors {self.monitor!r}, which is not in the "
                f"history (keys: {sorted(record)}); is there a validation set?"
            )
        delta = getattr(self, "min_delta", 0.0)
        flag = record.get(f"{self.monitor}_best")
        if self.lower_is_better is None and flag is not None:
            improved = flag and (self.best_ is None or abs(value - self.best_) > delta)
        else:
            lower = _lower_is_better(self.monitor) if self.lower_is_better is None else self.lower_is_better
            sign = 1.0 if lower else -1.0
            improved = self.best_ is None or sign * (value - self.best_) < -delta
        if improved:
            self.best_ = value
        return improved


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str
        A history key.
    patience : int
    min_delta : float
        The smallest change that counts as an improvement.
    restore_best_weights : bool
        Put the weights of the best epoch back when training ends.
    lower_is_better : None or bool
        None: follow the history's ``<monitor>_best`` flags (or the name).

    Examples
    --------
    >>> es = EarlyStopping(patience=2)
    >>> es.on_train_begin(None)
    >>> for epoch, loss in enumerate([1.0, 0.5, 0.7, 0.6], start=1):
    ...     try:
    ...         es.on_epoch_end(None, history=[{'epoch': epoch, 'valid_loss': loss}])
    ...     except StopTraining as stop:
    ...         print(stop)
    Early stopping: valid_loss has not improved since epoch 2 (0.5).
    """

    def __init__(
        self, monitor="valid_loss", patience=5, min_delta=0.0, restore_best_weights=True, lower_is_better=None
    ):
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.restore_best_weights = restore_best_weights
        self.lower_is_better = lower_is_better

    def on_train_begin(self, net, **kwargs):
        self.best_ = None
        self.best_epoch_ = None
        self.best_weights_ = None
        self.stopped_epoch_ = None

    def on_epoch_end(self, net, history=None, **kwargs):
        record = history[-1]
        if self._improved(record):
            self.best_epoch_ = record["epoch"]
            if self.restore_best_weights and net is not None:
                self.best_weights_ = net.get_all_params_values()
        elif record["epoch"] - self.best_epoch_ >= self.patience:
            self.stopped_epoch_ = record["epoch"]
            raise StopTraining(
                f"Early stopping: {self.monitor} has not improved since epoch {self.best_epoch_} ({self.best_:.6g})."
            )

    def on_train_end(self, net, **kwargs):
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
        None: follow the history's ``<monitor>_best`` flags (or the name).

    Examples
    --------
    >>> Checkpoint('best.npz').monitor
    'valid_loss'
    """

    def __init__(self, path, monitor="valid_loss", lower_is_better=None):
        self.path = path
        self.monitor = monitor
        self.lower_is_better = lower_is_better

    def on_train_begin(self, net, **kwargs):
        self.best_ = None
        self.saved_epochs_ = []

    def on_epoch_end(self, net, history=None, **kwargs):
        record = history[-1]
        if self.monitor is None or self._improved(record):
            net.save_params_to(str(self.path).format(epoch=record["epoch"]))
            self.saved_epochs_.append(record["epoch"])
            record["checkpoint"] = True


class LRScheduler(Callback):
    """Set an injected hyper-parameter before each epoch, without recompiling.

    Parameters
    ----------
    schedule : callable or sequence
        ``schedule(epoch)`` (epochs count from 1) or a sequence indexed by
        ``epoch - 1`` (its last value is kept once it runs out).
    param : str
        The routed name of the hyper-parameter (see
        :data:`sknet.hyperparams.INJECTED`).

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

    def on_epoch_begin(self, net, epoch=1, **kwargs):
        net.set_hyperparameter(self.param, self.value(epoch))


class EpochScoring(Callback):
    """Add a scikit-learn score of the net to each epoch's history, and ``<key>_best``.

    The score is computed from the outputs the epoch already produced (the
    validation pass, or the training batches with ``on_train=True``): no
    second forward pass. Labels are the user's own. Writing a key that the
    record already has (``valid_accuracy`` is the loop's own) is an error.

    Parameters
    ----------
    scoring : str or callable
        A scorer name (``'f1_macro'``, ``'neg_mean_squared_error'`` ...) or a
        callable ``scoring(net, X, y)``.
    on_train : bool
        Score the training batches (as trained, in training mode) instead of
        the validation part.
    name : str, optional
        The history key; by default ``valid_<scoring>`` (``train_<scoring>``).
    lower_is_better : bool
        Whether a lower score is better (scikit-learn's scorers are higher is
        better); decides ``<key>_best``.

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

    @property
    def needs_train_output(self):
        return bool(self.on_train)

    def key(self):
        """The history key this callback writes."""
        if self.name is not None:
            return self.name
        base = self.scoring if isinstance(self.scoring, str) else self.scoring.__name__
        return ("train_" if self.on_train else "valid_") + base

    def on_train_begin(self, net, **kwargs):
        from sklearn.metrics import check_scoring

        self.scorer_ = check_scoring(net, scoring=self.scoring)

    def on_epoch_end(
        self,
        net,
        history=None,
        X_train=None,
        X_valid=None,
        y_valid=None,
        valid_output=None,
        train_output=None,
        train_target=None,
        **kwargs,
    ):
        if self.on_train:
            X, y, output = X_train, train_target, train_output
        else:
            X, y, output = X_valid, y_valid, valid_output
        if X is None or output is None or len(y) == 0:
            return
        record, key = history[-1], self.key()
        if key in record:
            raise ValueError(
                f"EpochScoring({self.scoring!r}) would overwrite the history key {key!r}; give it another name= "
                f"(the loop records valid_loss and, for a classifier, valid_accuracy itself)"
            )
        with net.cached_output(X, output):
            record[key] = float(self.scorer_(net, X, y))
        mark_best(history, key, self.lower_is_better)


from .handlers import RememberBestWeights, RestoreBestWeights, SaveWeights, WeightLog  # noqa: E402,F401  (the same)
from .printing import PrintLayerInfo, PrintLog  # noqa: E402  (they subclass Callback, defined above)
from .progress import ProgressBar  # noqa: E402  (it subclasses Callback, defined above)


def assemble(callbacks, routed=None, hooks=None, verbose=0):
    """The callbacks a fit runs, in order: ``{name: callback}``.

    The given ones are cloned (never modified) and named (``(name, cb)``
    pairs, or the class name lower-cased); ``routed`` (``{'name__param':
    value}``) sets their parameters; nolearn function ``hooks`` become a
    :class:`FunctionCallback`; scorers run first, so the others see their
    keys; ``verbose >= 1`` adds :class:`ProgressBar` (silent off a terminal
    or notebook) and :class:`PrintLog`, ``verbose >= 2`` also
    :class:`PrintLayerInfo`.

    Examples
    --------
    >>> list(assemble([EarlyStopping(), ('acc', EpochScoring('accuracy'))], {'acc__on_train': True}, verbose=1))
    ['acc', 'earlystopping', 'progress_bar', 'print_log']
    """
    named = OrderedDict()
    for item in callbacks or []:
        name, cb = item if isinstance(item, tuple) else (type(item).__name__.lower(), item)
        base, i = name, 1
        while name in named:
            name, i = f"{base}_{i}", i + 1
        named[name] = clone(cb, safe=False) if hasattr(cb, "get_params") else cb
    by_callback = {}
    for key, value in (routed or {}).items():
        cb_name, _, param = key.partition("__")
        if cb_name not in named or not param:
            hint = difflib.get_close_matches(cb_name, list(named), n=1)
            hint = f" Did you mean 'callbacks__{hint[0]}__{param}'?" if hint else ""
            raise ValueError(f"callbacks__{key}: no callback named {cb_name!r} (have {list(named)}).{hint}")
        by_callback.setdefault(cb_name, {})[param] = value
    for cb_name, params in by_callback.items():
        named[cb_name].set_params(**params)
    hooks = {k: v for k, v in (hooks or {}).items() if v}
    if hooks:
        named["functions"] = FunctionCallback(**hooks)
    ordered = sorted(named.items(), key=lambda kv: not isinstance(kv[1], EpochScoring))
    # Not when given explicitly too: the table or the bar would show twice.
    if verbose >= 2 and not any(isinstance(cb, PrintLayerInfo) for _, cb in ordered):
        ordered.insert(0, ("print_layer_info", PrintLayerInfo()))
    if verbose >= 1 and not any(isinstance(cb, ProgressBar) for _, cb in ordered):
        ordered.append(("progress_bar", ProgressBar()))
    if verbose >= 1:
        ordered.append(("print_log", PrintLog()))
    return OrderedDict(ordered)
