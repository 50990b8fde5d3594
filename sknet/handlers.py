"""nolearn's epoch handlers as callbacks: SaveWeights, RememberBestWeights, RestoreBestWeights, WeightLog.

Each is a :class:`~sknet.callbacks.Callback` (give it in ``callbacks=``) and
also a nolearn handler: calling it as ``handler(net, history)`` does what its
hook does, so nolearn code that lists it in ``on_epoch_finished`` (or
``on_training_finished`` for :class:`RestoreBestWeights`, ``on_batch_finished``
for :class:`WeightLog`) runs unchanged.
"""

import csv
import io
import itertools
import pickle
import weakref
from datetime import datetime

import numpy as np

from .callbacks import Callback
from .persistence import atomic_write

__all__ = ["SaveWeights", "RememberBestWeights", "RestoreBestWeights", "WeightLog"]

# {net: [RememberBestWeights that saw it]}: how RestoreBestWeights finds its partner without reading
# the net's attributes (a callbacks= entry is a clone the user never sees).
_REMEMBERED = weakref.WeakKeyDictionary()
_UPDATES = itertools.count()


class _Handler(Callback):
    """A callback that nolearn code may also call as ``handler(net, history)`` (its epoch hook)."""

    def __call__(self, net, history):
        self.on_epoch_end(net, history=history)


class SaveWeights(_Handler):
    """Save the weights (or the pickled net) after an epoch, nolearn's handler.

    Parameters
    ----------
    path : str
        A format string; ``{epoch}`` (zero-padded to 4 digits, as nolearn),
        ``{loss}`` (the epoch's ``valid_loss``, format specs allowed:
        ``{loss:.4f}``) and ``{timestamp}`` (``YYYY-mm-dd-HH-MM-SS``) are
        filled in. Weights go to an ``.npz`` archive whatever the suffix.
    every_n_epochs : int
        Save only on epochs that are a multiple of this.
    only_best : bool
        Save only when ``valid_loss`` is no worse than on any earlier epoch.
    pickle : bool
        Pickle the whole net instead of writing its weights.
    verbose : int
        1 prints each path written.

    Every file is written atomically (a temporary file renamed over the
    path), so an interrupted save never leaves a half-written file.

    Examples
    --------
    >>> SaveWeights('w-{epoch}.npz').format_path({'epoch': 3, 'valid_loss': 0.25})
    'w-0003.npz'
    >>> SaveWeights('w-{loss:.2f}.npz').format_path({'epoch': 3, 'valid_loss': 0.25})
    'w-0.25.npz'
    """

    def __init__(self, path, every_n_epochs=1, only_best=False, pickle=False, verbose=0):
        self.path = path
        self.every_n_epochs = every_n_epochs
        self.only_best = only_best
        self.pickle = pickle
        self.verbose = verbose

    def format_path(self, record):
        """The file name for an epoch's history record."""
        return str(self.path).format(
            epoch=f"{record['epoch']:04d}",
            loss=record.get("valid_loss", float("nan")),
            timestamp=datetime.now().strftime("%Y-%m-%d-%H-%M-%S"),
        )

    def on_epoch_end(self, net, history=None, **kwargs):
        record = history[-1]
        if self.only_best:
            if record.get("valid_loss") is None:
                raise KeyError(
                    "SaveWeights(only_best=True) needs valid_loss in the history; is there a validation set?"
                )
            if record["valid_loss"] > min(r["valid_loss"] for r in history if r.get("valid_loss") is not None):
                return
        if record["epoch"] % self.every_n_epochs != 0:
            return
        path = self.format_path(record)
        if self.verbose:
            print(f"Writing {path}")
        if self.pickle:
            atomic_write(path, lambda f: pickle.dump(net, f, protocol=pickle.HIGHEST_PROTOCOL))
        else:
            net.save_params_to(path)
        self.saved_paths_ = getattr(self, "saved_paths_", []) + [path]


class RememberBestWeights(_Handler):
    """Keep a copy of the weights of the best epoch so far, nolearn's handler.

    Parameters
    ----------
    loss : str
        The history key to minimize (default ``valid_loss``).
    score : str, optional
        A history key to maximize instead (``valid_accuracy`` ...).
    verbose : int
        Whether :class:`RestoreBestWeights` says what it loaded.

    Attributes
    ----------
    best_weights : dict or None
        ``{layer name: [arrays]}`` of the best epoch.
    best_weights_loss : float
        The best value (negated for a ``score``).
    best_weights_epoch : int or None

    Examples
    --------
    >>> remember = RememberBestWeights(score='valid_accuracy')
    >>> remember.key()
    'valid_accuracy'
    """

    def __init__(self, loss="valid_loss", score=None, verbose=1):
        self.loss = loss
        self.score = score
        self.verbose = verbose

    def key(self):
        """The history key watched."""
        return self.score if self.score is not None else self.loss

    # nolearn keeps these from construction on; a clone starts afresh.
    best_weights = None
    best_weights_loss = np.inf
    best_weights_epoch = None

    def on_epoch_end(self, net, history=None, **kwargs):
        record = history[-1]
        if len(history) == 1:
            # A new training run (sknet's fit starts afresh unless warm_start): forget an earlier run's best.
            self.best_weights, self.best_weights_loss, self.best_weights_epoch = None, np.inf, None
        if record.get(self.key()) is None:
            raise KeyError(
                f"RememberBestWeights watches {self.key()!r}, which is not in the history (keys: {sorted(record)})"
            )
        value = -record[self.key()] if self.score is not None else record[self.key()]
        if value < self.best_weights_loss:
            self.best_weights = net.get_all_params_values()
            self.best_weights_loss = value
            self.best_weights_epoch = record["epoch"]
            self.updated_ = next(_UPDATES)
            seen = _REMEMBERED.setdefault(net, [])
            if not any(r is self for r in seen):
                seen.append(self)


class RestoreBestWeights(_Handler):
    """Load the weights a :class:`RememberBestWeights` kept, when training ends.

    Parameters
    ----------
    remember : RememberBestWeights, optional
        By default the net's own (in ``callbacks`` or ``on_epoch_finished``).

    Examples
    --------
    >>> RestoreBestWeights().remember is None
    True
    """

    def __init__(self, remember=None):
        self.remember = remember

    def __call__(self, net, history=None):
        self.on_train_end(net, history=history)

    def on_epoch_end(self, net, **kwargs):
        """Nothing: the weights are restored when training ends."""

    def _find(self, net):
        found = list(_REMEMBERED.get(net, []))
        if self.remember is not None:
            # A callbacks= entry is a clone of the one given: match it by its settings.
            found = [self.remember] + [r for r in found if r.get_params() == self.remember.get_params()]
        found = [r for r in found if r.best_weights is not None]
        if not found:
            raise ValueError(
                "RestoreBestWeights found no RememberBestWeights that saw an epoch; add one "
                "to callbacks (or on_epoch_finished)"
            )
        return max(found, key=lambda r: r.updated_)  # this fit's, not an earlier fit's

    def on_train_end(self, net, **kwargs):
        remember = self._find(net)
        net.load_params_from(remember.best_weights)
        if remember.verbose:
            sign = -1 if remember.score is not None else 1
            print(
                f"Loaded best weights from epoch {remember.best_weights_epoch} where {remember.key()} "
                f"was {sign * remember.best_weights_loss}"
            )


class WeightLog(_Handler):
    """Log the mean, mean absolute value and change of every parameter, nolearn's handler.

    In ``callbacks`` it logs once per epoch; as a nolearn function hook it
    logs on every call (``on_batch_finished=[WeightLog(...)]`` logs every
    training batch, as nolearn).

    Parameters
    ----------
    save_to : str, optional
        A CSV file. Columns ``<layer>_<i> wdiff`` (mean absolute change since
        the last entry; 0 for the first), ``<layer>_<i> wabsmean`` and
        ``<layer>_<i> wmean`` for the ``i``-th parameter of each layer. The
        whole file is rewritten atomically (temporary file and rename) every
        ``write_every`` entries and when training ends, so it is never half
        written; it holds every entry this object has logged.
    write_every : int

    Attributes
    ----------
    history : list of dict
        One entry per call.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> class Net:
    ...     layers_ = {'out': DenseLayer(InputLayer((None, 2)), 1, W=np.ones((2, 1), 'float32'))}
    ...     def get_all_params_values(self):
    ...         return {k: [p.get_value() for p in l.get_params()] for k, l in self.layers_.items()}
    >>> log = WeightLog()
    >>> log(Net(), [])
    >>> log.history[0]['out_0 wmean'], log.history[0]['out_0 wdiff']
    (1.0, 0.0)
    """

    def __init__(self, save_to=None, write_every=8):
        self.save_to = save_to
        self.write_every = write_every

    def on_epoch_end(self, net, history=None, **kwargs):
        weights = net.get_all_params_values()
        last = getattr(self, "last_weights", None) or weights
        entry = {}
        for name, values in weights.items():
            for i, value in enumerate(values):
                before = last.get(name, values)[i]
                entry[f"{name}_{i} wdiff"] = float(np.abs(value - before).mean())
                entry[f"{name}_{i} wabsmean"] = float(np.abs(value).mean())
                entry[f"{name}_{i} wmean"] = float(value.mean())
        self.history = getattr(self, "history", []) + [entry]
        self.last_weights = weights
        if self.save_to and len(self.history) % self.write_every == 0:
            self.write()

    def on_train_end(self, net, **kwargs):
        if self.save_to and getattr(self, "history", None):
            self.write()

    def write(self):
        """Write every entry so far to ``save_to`` (atomically)."""
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(self.history[0]))
        writer.writeheader()
        writer.writerows(self.history)
        atomic_write(self.save_to, lambda f: f.write(text.getvalue().encode()))
