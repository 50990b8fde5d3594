"""The compiled functions of one built net: train, valid, predict, any layer's output."""

import time

import pytensor.tensor as T

from .backend import FLOATX
from .compile import compile_predict, compile_train, compile_valid, seeded
from .function_cache import compile_count, load_count

__all__ = ["NetFunctions"]


class NetFunctions:
    """The compiled functions of one built net, each compiled on first use.

    Parameters
    ----------
    layers : OrderedDict
        The built layers (the last is the output).
    update : callable
        The update rule.
    hyper : sknet.hyperparams.HyperParameters
    targets : sknet.targets.Targets or None
        Gives the target variable (None for a net that only predicts).
    loss : callable or None
        The elementwise loss (None for a net that only predicts).
    mode : str or None
    seed : int
        Seeds sknet's generator while each graph is built (dropout streams).

    Attributes
    ----------
    state : list of shared variables
        What the train function changes (weights and optimizer state).
    seconds : dict
        Compile time of each function.

    Examples
    --------
    >>> from sknet.compile import build_layers
    >>> from sknet.hyperparams import HyperParameters
    >>> from sknet.layers import DenseLayer, InputLayer
    >>> from sknet.updates import sgd
    >>> layers = build_layers([(InputLayer, {'shape': (None, 2)}), (DenseLayer, {'num_units': 1})])
    >>> fns = NetFunctions(layers, sgd, HyperParameters(sgd, {'learning_rate': 0.1}, {}))
    >>> fns.get('predict')(np.ones((3, 2), 'float32')).shape, ('predict', False) in fns
    ((3, 1), True)
    """

    def __init__(self, layers, update, hyper, targets=None, loss=None, mode=None, seed=0):
        self.layers, self.update, self.hyper = layers, update, hyper
        self.targets, self.loss, self.mode, self.seed = targets, loss, mode, seed
        self.functions, self.seconds, self.state = {}, {}, []

    def __contains__(self, key):
        return key in self.functions

    def get(self, kind, weighted=False, output=False):
        """The function ``kind``: 'train' or 'valid' (``weighted``: they take sample weights), 'predict',
        or ``('output', layer name)``; a train function with ``output`` also returns the batch's output."""
        key = (kind, weighted, output) if kind == "train" else (kind, weighted)
        if key in self.functions:
            return self.functions[key]
        hyper, layers, mode = self.hyper, self.layers, self.mode
        l1, l2 = hyper.penalties()
        start = time.perf_counter()
        with seeded(self.seed + len(self.functions)):
            if kind == "train":
                weights = T.vector("w", dtype=FLOATX) if weighted else None
                fn, updates = compile_train(
                    layers,
                    self.targets.target_var(),
                    self.loss,
                    self.update,
                    hyper.update_kwargs(),
                    weights=weights,
                    l1=l1,
                    l2=l2,
                    loss_kwargs=hyper.loss_kwargs(),
                    mode=mode,
                    return_output=output,
                )
                self.state = list(updates.keys())
            elif kind == "valid":
                fn = compile_valid(
                    layers,
                    self.targets.target_var(),
                    self.loss,
                    l1=l1,
                    l2=l2,
                    loss_kwargs=hyper.loss_kwargs(),
                    mode=mode,
                    weights=T.vector("w", dtype=FLOATX) if weighted else None,
                )
            elif kind == "predict":
                fn = compile_predict(layers, mode=mode)
            else:
                fn = compile_predict(layers, layers[kind[1]], mode=mode)
        self.seconds[key] = time.perf_counter() - start
        self.functions[key] = fn
        return fn

    def for_fit(self, weighted, validation, report=None, valid_weighted=False, train_output=False):
        """``(train, valid or None, seconds spent compiling or None)`` for a fit.

        ``valid_weighted``: the valid function takes sample weights too;
        ``train_output``: the train function returns the batches' outputs too.

        ``report`` (``print``, say) gets a line before compiling and one with
        the time it took, saying whether an identical graph compiled earlier
        in this process was reused, or one an earlier process stored
        (:mod:`sknet.function_store`) was loaded.
        """
        keys = [("train", weighted, train_output)] + ([("valid", bool(valid_weighted))] if validation else [])
        missing = [key[0] for key in keys if key not in self.functions]
        if missing and report:
            report(f"Compiling the {' and '.join(missing)} functions...", end=" ", flush=True)
        start, compiled, loaded = time.perf_counter(), compile_count(), load_count()
        fns = [self.get(*key) for key in keys]
        seconds = time.perf_counter() - start
        if missing and report:
            if compile_count() != compiled:
                note = "first use of this network; reused by later fits"
            elif load_count() != loaded:
                note = "rewritten by an earlier process: its graph was loaded from disk"
            else:
                note = "the same graph was compiled before in this process: reused"
            report(f"{seconds:.1f} s ({note})", flush=True)
        return fns[0], (fns[1] if validation else None), (seconds if missing else None)
