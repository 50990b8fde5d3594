"""The printing callbacks: PrintLog (one table row per epoch) and PrintLayerInfo (the layer table)."""

import numpy as np

from .callbacks import Callback

__all__ = ["PrintLog", "PrintLayerInfo"]


class PrintLog(Callback):
    """Print one table row per epoch; values whose ``<key>_best`` flag is set are marked ``*``.

    A legend line, printed once per callback, says what the marks and units
    mean; accuracies are shown in percent, other values as they are. With a
    validation set the ``trn/val`` column (``train_loss / valid_loss``,
    nolearn's) follows ``valid_loss``. nolearn code may also call it as a
    function hook (``on_epoch_finished=[PrintLog()]``).

    Parameters
    ----------
    keys : sequence of str, optional
        Columns to show besides ``epoch`` and ``dur``; by default every numeric
        key of the history (not the ``_best`` flags).
    sink : callable
        Where lines go (default ``print``).

    Examples
    --------
    >>> lines = []
    >>> log = PrintLog(sink=lines.append)
    >>> log.on_train_begin(None)
    >>> log.on_epoch_end(None, history=[{'epoch': 1, 'train_loss': 0.5, 'train_loss_best': True, 'dur': 0.1}])
    >>> print(lines[1]); print(lines[3])
      epoch  train_loss    dur
          1    0.50000*  0.10s
    """

    def __init__(self, keys=None, sink=print):
        self.keys = keys
        self.sink = sink

    def __sklearn_clone__(self):
        # Share the sink: a deep copy of ``lines.append`` would append to a copied list.
        return type(self)(**self.get_params(deep=False))

    def on_train_begin(self, net, **kwargs):
        self.columns_ = None
        self.legend_ = getattr(self, "legend_", False)

    def __call__(self, net, history):
        self.on_epoch_end(net, history=history)

    def _columns(self, record):
        if self.keys is not None:
            return list(self.keys)
        keys = [
            k
            for k, v in record.items()
            if k not in ("epoch", "dur", "compile_time")
            and not k.endswith("_best")
            and isinstance(v, (int, float, np.floating))
            and not isinstance(v, bool)
        ]
        if "train_loss" in keys and "valid_loss" in keys:
            keys.insert(keys.index("valid_loss") + 1, "trn/val")
        return keys

    @staticmethod
    def _value(record, key):
        if key == "trn/val" and "trn/val" not in record:
            train, valid = record.get("train_loss"), record.get("valid_loss")
            return None if train is None or not valid else train / valid
        return record.get(key)

    @staticmethod
    def _cell(key, value, width):
        if "accuracy" in key:
            return f"{100 * value:>{width - 2}.2f}%"
        return f"{value:>{width - 1}.5f}"

    def on_epoch_end(self, net, history=None, **kwargs):
        record = history[-1]
        if getattr(self, "columns_", None) is None:
            self.columns_ = self._columns(record)
            self.widths_ = [max(len(k) + 2, 12) for k in self.columns_]
            header = "  epoch" + "".join(f"{k:>{w}}" for k, w in zip(self.columns_, self.widths_)) + "    dur"
            if not getattr(self, "legend_", False):
                self.sink("(* marks the best value so far; accuracies in %; dur: seconds per epoch)")
                self.legend_ = True
            self.sink(header)
            self.sink("-" * len(header))
        cells = []
        for key, width in zip(self.columns_, self.widths_):
            value = self._value(record, key)
            if value is None:
                cells.append(" " * width)
                continue
            mark = "*" if record.get(f"{key}_best") else " "
            cells.append(self._cell(key, value, width) + mark)
        self.sink(f"{record['epoch']:>7}" + "".join(cells) + f"  {record['dur']:.2f}s")


class PrintLayerInfo(Callback):
    """Print the layer table of :meth:`NeuralNet.summary` when training starts.

    The table (name, type, output shape, parameter count and, for conv and
    pool layers, the receptive field; at ``verbose >= 2`` also nolearn's
    capacity and coverage, see :func:`sknet.summary.summary`) is printed once
    per initialization:
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

    def __call__(self, net, history=None):
        # nolearn's on_training_started hook; like nolearn's, silent once epochs are in the history.
        if not history:
            self.on_train_begin(net)

    def on_train_begin(self, net, **kwargs):
        if getattr(self, "printed_", False):
            return
        layers = _built_layers(net) if getattr(net, "verbose", 0) >= 2 else None
        if layers is not None:
            from .summary import summary

            # nolearn's detailed table: capacity and coverage columns (for nets with conv/pool layers).
            self.sink(summary(layers, capacity=True))
        else:
            self.sink(net.summary())
        self.printed_ = True


def _built_layers(net):
    """The net's layers, or None before they are built."""
    from sklearn.exceptions import NotFittedError

    try:
        return net.get_all_layers()
    except (NotFittedError, AttributeError):
        return None
