"""NeuralNet, NeuralNetClassifier, NeuralNetRegressor: the one place that knows scikit-learn's rules."""

import difflib
import math
import sys
import time
import warnings
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as T
from scipy.sparse import issparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state, compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_consistent_length, check_is_fitted, validate_data

from . import compile as build
from . import nonlinearities, objectives, updates
from .backend import FLOATX
from .layers import InputLayer
from .batch_iterators import BatchIterator, TrainSplit, is_dict_input, num_samples, take
from .callbacks import (
    Callback,
    EpochScoring,
    FunctionCallback,
    PrintLayerInfo,
    PrintLog,
    ProgressBar,
    StopTraining,
    _atomic_savez,
)
from .history import History
from .summary import summary as layer_summary

__all__ = ["NeuralNet", "NeuralNetClassifier", "NeuralNetRegressor", "History", "ROUTING_PREFIXES"]

#: Prefixes of routed keyword arguments (``prefix__param``), besides layer names.
ROUTING_PREFIXES = (
    "update",
    "objective",
    "batch_iterator_train",
    "batch_iterator_test",
    "train_split",
    "callbacks",
    "layers",
)

# Changing these on an initialized net invalidates its compiled functions.
_GRAPH_PARAMS = ("update", "objective_loss_function", "mode")


def _float32(value):
    return np.asarray(value, dtype=FLOATX)


def _check_numeric(X, name):
    """Raise with a message naming ``name`` when X holds strings or objects that are not numbers."""
    if issparse(X) or (isinstance(getattr(X, "dtype", None), np.dtype) and X.dtype.kind in "biufc"):
        return
    try:
        np.asarray(X, dtype=FLOATX)
    except (TypeError, ValueError) as exc:
        # Keep the exception type: scikit-learn's checks expect TypeError for non-number objects.
        raise type(exc)(f"{name} must hold numbers (it is converted to {FLOATX}): {exc}") from exc


class NeuralNet(BaseEstimator):
    """A neural network as a scikit-learn estimator (generic objective).

    ``__init__`` only stores its arguments; :meth:`initialize` (called by
    :meth:`fit`) builds the layers, and the train / validation / predict
    functions are compiled on first use.

    Parameters
    ----------
    layers : list, Layer or callable
        A list of ``(LayerClass, kwargs)``, a list of ``(name, LayerClass)``
        (parameters routed as ``name__param``), an output Layer, or a callable
        returning one (called with the ``layers__*`` arguments).
    update : callable
        An update rule from :mod:`sknet.updates`; its parameters are routed
        as ``update__name``. Scalar ones live in shared variables.
    objective_loss_function : callable, optional
        ``f(predictions, targets)`` giving an elementwise loss; default
        ``squared_error``. ``objective__l1`` / ``objective__l2`` add weight
        penalties; other ``objective__*`` are passed to the function.
    batch_iterator_train, batch_iterator_test : BatchIterator, optional
        Defaults: ``BatchIterator(128, shuffle=True)`` and ``BatchIterator(128)``.
    train_split : TrainSplit, FixedSplit, callable or False, optional
        Default ``TrainSplit(eval_size=0.2)``; False trains on everything.
    callbacks : list, optional
        Callback objects or ``(name, Callback)`` pairs.
    max_epochs : int
    warm_start : bool
        Keep the weights between calls of :meth:`fit`.
    random_state : None, int or RandomState
        Fixes initialization, dropout, shuffling and the split.
    verbose : int
        0 silent, 1 one table row per epoch, 2 also a layer table and a
        progress bar.
    mode : None or str
        PyTensor compile mode (None: sknet's default, the C backend).
    on_epoch_finished, on_batch_finished, on_training_started, on_training_finished : callable or list, optional
        nolearn-style hooks ``f(net, history)``.
    **kwargs
        Routed parameters ``prefix__param`` (or nolearn's ``prefix_param``).

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> net = NeuralNet([(InputLayer, {}), (DenseLayer, {'num_units': 1, 'nonlinearity': None})],
    ...                 update__learning_rate=0.05, max_epochs=2, random_state=0)
    >>> net.get_params()['update__learning_rate']
    0.05
    """

    _stratify_split = False

    def __init__(
        self,
        layers,
        update=updates.adam,
        objective_loss_function=None,
        batch_iterator_train=None,
        batch_iterator_test=None,
        train_split=None,
        callbacks=None,
        max_epochs=100,
        warm_start=False,
        random_state=None,
        verbose=0,
        mode=None,
        on_epoch_finished=None,
        on_batch_finished=None,
        on_training_started=None,
        on_training_finished=None,
        **kwargs,
    ):
        self.layers = layers
        self.update = update
        self.objective_loss_function = objective_loss_function
        self.batch_iterator_train = batch_iterator_train
        self.batch_iterator_test = batch_iterator_test
        self.train_split = train_split
        self.callbacks = callbacks
        self.max_epochs = max_epochs
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.mode = mode
        self.on_epoch_finished = on_epoch_finished
        self.on_batch_finished = on_batch_finished
        self.on_training_started = on_training_started
        self.on_training_finished = on_training_finished
        self._routed = dict(kwargs)

    # ------------------------------------------------------------------
    # Parameters and routing

    def get_params(self, deep=True):
        params = super().get_params(deep=False)
        params.update(self._routed)
        return params

    def _layer_names(self):
        try:
            return build.spec_layer_names(self.layers) or []
        except ValueError:
            return []

    def _prefixes(self):
        # Longest first (so 'dense1' is tried before 'dense'); by name among equals, so messages are stable.
        return sorted(set(ROUTING_PREFIXES) | set(self._layer_names()), key=lambda p: (-len(p), p))

    def _route(self, key):
        """Return ``(prefix, rest)`` for a routed key, or raise with a hint."""
        prefixes = self._prefixes()
        for sep in ("__", "_"):
            for prefix in prefixes:
                if key.startswith(prefix + sep) and len(key) > len(prefix) + len(sep):
                    return prefix, key[len(prefix) + len(sep):]
        head, _, tail = key.partition("__")
        candidates = prefixes + self._get_param_names()
        guess = difflib.get_close_matches(head, candidates, n=1)
        if guess and tail:
            hint = f" Did you mean {guess[0] + '__' + tail!r}?"
        elif guess:
            hint = f" Did you mean {guess[0]!r}?"
        else:
            hint = ""
        raise ValueError(
            f"Invalid parameter {key!r} for {type(self).__name__}.{hint} Routed parameters "
            f"start with one of {prefixes} followed by '__'."
        )

    def _routed_groups(self):
        groups = {}
        # '__' spellings override nolearn's single-underscore ones.
        for key in sorted(self._routed, key=lambda k: "__" in k):
            prefix, rest = self._route(key)
            groups.setdefault(prefix, {})[rest] = self._routed[key]
        return groups

    def set_params(self, **params):
        """Set constructor and routed parameters; unknown names raise ValueError.

        On an initialized net, scalar hyper-parameters held in shared
        variables (``update__learning_rate``, ``objective__l2`` ...) change in
        place, without recompiling.

        Examples
        --------
        >>> from sknet.layers import InputLayer, DenseLayer
        >>> net = NeuralNet([(InputLayer, {}), (DenseLayer, {})])
        >>> net.set_params(dense1__num_units=3).get_params()['dense1__num_units']
        3
        >>> net.set_params(dense_1__num_units=3)
        Traceback (most recent call last):
        ...
        ValueError: Invalid parameter 'dense_1__num_units' for NeuralNet. Did you mean 'dense1__num_units'? ...
        """
        names = self._get_param_names()
        for key, value in params.items():
            if key in names:
                setattr(self, key, value)
                if key in _GRAPH_PARAMS:
                    self._invalidate()
        try:
            build.spec_form(self.layers)
        except ValueError:
            # Without a valid spec the layer names are unknown; routed names
            # are checked again at initialize().
            self._routed.update({k: v for k, v in params.items() if k not in names})
            return self
        for key, value in params.items():
            if key in names:
                continue
            prefix, rest = self._route(key)
            for other in list(self._routed):
                if other != key and self._route(other) == (prefix, rest):
                    del self._routed[other]
            self._routed[key] = value
            canonical = f"{prefix}__{rest}"
            hyper = getattr(self, "_hyper", None)
            if hyper and canonical in hyper and np.ndim(value) == 0 and not isinstance(value, bool):
                hyper[canonical].set_value(_float32(value))
            elif prefix in ("update", "objective"):
                self._invalidate()
        return self

    def set_hyperparameter(self, name, value):
        """Set a shared hyper-parameter (``'update__learning_rate'`` ...) of an initialized net.

        Unlike :meth:`set_params` this leaves the constructor parameters as
        they were (schedulers use it).
        """
        prefix, rest = self._route(name)
        canonical = f"{prefix}__{rest}"
        hyper = getattr(self, "_hyper", None) or {}
        if canonical not in hyper:
            raise ValueError(f"{name!r} is not a shared hyper-parameter of this net; have {sorted(hyper)}")
        hyper[canonical].set_value(_float32(value))

    def get_hyperparameter(self, name):
        """The current value of a shared hyper-parameter."""
        prefix, rest = self._route(name)
        return float(self._hyper[f"{prefix}__{rest}"].get_value())

    def _invalidate(self):
        self._fns = {}
        self._hyper = None

    # ------------------------------------------------------------------
    # Initialization hooks

    def __sklearn_is_fitted__(self):
        return getattr(self, "layers_", None) is not None

    def _check_hyperparameters(self):
        if not isinstance(self.max_epochs, (int, np.integer)) or self.max_epochs < 1:
            raise ValueError(f"max_epochs must be a positive integer, got {self.max_epochs!r}")
        for key, value in self._routed.items():
            if key.endswith("learning_rate") and np.ndim(value) == 0 and not isinstance(value, bool):
                if not value > 0:
                    raise ValueError(f"{key} must be positive, got {value!r}")

    def initialize(self, X=None, y=None):
        """Build layers, iterators, split and callbacks from the parameters.

        Compilation happens later, on first use. Returns self.
        """
        self._check_hyperparameters()
        groups = self._routed_groups()
        seeds = check_random_state(self.random_state).randint(2**31 - 1, size=4)
        self._seeds = [int(s) for s in seeds]
        self._build_info = self._infer_build_info(X, y)
        self.initialize_layers(groups)
        self.initialize_iterators(groups)
        self.initialize_callbacks(groups)
        self.history_ = History()
        self._invalidate()
        return self

    def _infer_build_info(self, X, y):
        info = {"input_shapes": {}, "output_units": None, "output_nonlinearity": None}
        if X is not None:
            if is_dict_input(X):
                info["input_shapes"] = {k: (None,) + np.shape(v)[1:] for k, v in X.items()}
            else:
                info["input_shapes"] = {None: (None,) + np.shape(X)[1:]}
        return info

    def initialize_layers(self, groups=None):
        """Build ``layers_`` from the spec, seeded by ``random_state``."""
        groups = self._routed_groups() if groups is None else groups
        names = set(self._layer_names())
        layer_params = {k: v for k, v in groups.items() if k in names}
        with build.seeded(self._seeds[0]):
            self.layers_ = build.build_layers(
                self.layers,
                layer_params=layer_params,
                callable_params=groups.get("layers"),
                **self._build_info,
            )
        self._input_names = [name for name, _ in build.input_layers(self.layers_)]
        return self

    def initialize_iterators(self, groups=None):
        """Fresh batch iterators and train split for this fit."""
        groups = self._routed_groups() if groups is None else groups

        def make(given, default, prefix, seed):
            obj = default if given is None else clone(given, safe=False)
            if groups.get(prefix):
                obj.set_params(**groups[prefix])
            if getattr(obj, "random_state", 0) is None:
                obj.random_state = seed
            return obj

        self.batch_iterator_train_ = make(
            self.batch_iterator_train, BatchIterator(128, shuffle=True), "batch_iterator_train", self._seeds[2]
        )
        self.batch_iterator_test_ = make(
            self.batch_iterator_test, BatchIterator(128), "batch_iterator_test", self._seeds[2]
        )
        if self.train_split is False:
            self.train_split_ = None
        else:
            self.train_split_ = make(self.train_split, TrainSplit(eval_size=0.2), "train_split", self._seeds[3])
        for obj in (self.batch_iterator_train_, self.batch_iterator_test_, self.train_split_):
            check = getattr(obj, "_check_params", None)
            if check is not None:
                check()
        return self

    def initialize_callbacks(self, groups=None):
        """Clone the callbacks and add the verbosity ones; returns self."""
        groups = self._routed_groups() if groups is None else groups
        named = OrderedDict()
        for item in self.callbacks or []:
            name, cb = item if isinstance(item, tuple) else (type(item).__name__.lower(), item)
            base, i = name, 1
            while name in named:
                name, i = f"{base}_{i}", i + 1
            named[name] = clone(cb, safe=False) if hasattr(cb, "get_params") else cb
        routed = {}
        for key, value in (groups.get("callbacks") or {}).items():
            cb_name, _, param = key.partition("__")
            if cb_name not in named or not param:
                hint = difflib.get_close_matches(cb_name, list(named), n=1)
                hint = f" Did you mean 'callbacks__{hint[0]}__{param}'?" if hint else ""
                raise ValueError(f"callbacks__{key}: no callback named {cb_name!r} (have {list(named)}).{hint}")
            routed.setdefault(cb_name, {})[param] = value
        for cb_name, params in routed.items():
            named[cb_name].set_params(**params)
        hooks = dict(
            on_epoch_finished=self.on_epoch_finished or (),
            on_batch_finished=self.on_batch_finished or (),
            on_training_started=self.on_training_started or (),
            on_training_finished=self.on_training_finished or (),
        )
        if any(hooks.values()):
            named["functions"] = FunctionCallback(**hooks)
        # Scores first, so the others (early stopping, the log) see them.
        ordered = sorted(named.items(), key=lambda kv: not isinstance(kv[1], EpochScoring))
        if self.verbose >= 2:
            # Not when given explicitly too: the table would print twice.
            if not any(isinstance(cb, PrintLayerInfo) for _, cb in ordered):
                ordered.insert(0, ("print_layer_info", PrintLayerInfo()))
            if not any(isinstance(cb, ProgressBar) for _, cb in ordered):
                ordered.append(("progress_bar", ProgressBar()))
        if self.verbose >= 1:
            ordered.append(("print_log", PrintLog()))
        self.callbacks_ = OrderedDict(ordered)
        return self

    # ------------------------------------------------------------------
    # Data

    def _validate_X(self, X, reset):
        if is_dict_input(X):
            if not X:
                raise ValueError("X is an empty dict")
            expected = self._spec_input_names() if reset else getattr(self, "_input_names", None)
            missing = [name for name in expected or () if name not in X]
            if missing:
                raise ValueError(f"X has no array for input layer {missing[0]!r} (keys: {sorted(X)})")
            out = {}
            for key, value in X.items():
                _check_numeric(value, f"X[{key!r}]")
                out[key] = check_array(value, dtype=np.float32, allow_nd=True, ensure_2d=False,
                                       input_name=f"X[{key!r}]")
            num_samples(out)
            return out
        _check_numeric(X, "X")
        return validate_data(self, X, reset=reset, dtype=np.float32, allow_nd=True)

    def _spec_input_names(self):
        """Names of the input layers of a list spec (None for the other forms)."""
        try:
            form = build.spec_form(self.layers)
        except ValueError:
            return None
        if form not in ("class_kwargs", "name_class"):
            return None
        factories = [item[0] if form == "class_kwargs" else item[1] for item in self.layers]
        names = build.spec_layer_names(self.layers)
        return [name for name, factory in zip(names, factories)
                if isinstance(factory, type) and issubclass(factory, InputLayer)]

    def _validate_Xy(self, X, y, reset):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        if is_dict_input(X):
            X = self._validate_X(X, reset)
            y = validate_data(self, X="no_validation", y=y, reset=False, **self._y_check_params())
            check_consistent_length(next(iter(X.values())), y)
            return X, y
        _check_numeric(X, "X")
        try:
            n_X = X.shape[0] if hasattr(X, "shape") else np.shape(X)[0]
            n_y = np.shape(y)[0]
        except (IndexError, TypeError, ValueError):
            n_X = n_y = None  # left to scikit-learn's checks below
        if n_X != n_y:
            raise ValueError(f"X and y have inconsistent numbers of samples: X has {n_X}, y has {n_y}")
        return validate_data(self, X, y, reset=reset, dtype=np.float32, allow_nd=True,
                             **self._y_check_params())

    def _y_check_params(self):
        return {"multi_output": True, "y_numeric": True}

    def _check_inputs(self, X):
        """Match X against the input layers (rank and fixed sizes), before compiling."""
        inputs = build.input_layers(self.layers_)
        if not is_dict_input(X):
            if len(inputs) != 1:
                raise ValueError(
                    f"This net has {len(inputs)} input layers {[n for n, _ in inputs]}; "
                    "pass X as a dict keyed by their names"
                )
            X = {inputs[0][0]: X}
        for name, layer in inputs:
            if name not in X:
                raise ValueError(f"X has no array for input layer {name!r} (keys: {sorted(X)})")
            shape, expected = np.shape(X[name]), layer.shape
            ok = len(shape) == len(expected) and all(
                e is None or e == s for e, s in zip(expected, shape)
            )
            if not ok:
                raise ValueError(
                    f"Input layer {name!r} expects data of shape {expected} "
                    f"({len(expected)} dimensions), got X with shape {shape}"
                )

    def _input_arrays(self, Xb):
        if is_dict_input(Xb):
            arrays = [Xb[name] for name in self._input_names]
        else:
            arrays = [Xb]
        out = []
        for arr, (_, layer) in zip(arrays, build.input_layers(self.layers_)):
            dtype = layer.input_var.dtype
            if getattr(arr, "dtype", None) != dtype:
                arr = np.asarray(arr, dtype=dtype)
            out.append(arr)
        return out

    def _fit_targets(self, y):
        """Learn what the targets need (classes ...) before the layers are built."""
        encoded = self._encode_y(y)
        self._target_spec = (str(encoded.dtype), encoded.ndim)

    def _encode_y(self, y):
        y = np.asarray(y)
        return y.astype(np.int32) if y.dtype.kind in "iub" else y.astype(FLOATX)

    def _default_loss(self):
        return objectives.squared_error

    # ------------------------------------------------------------------
    # Compiled functions (never pickled)

    def _target_var(self):
        dtype, ndim = getattr(self, "_target_spec", (FLOATX, 2))
        return T.tensor(dtype=dtype, shape=(None,) * ndim, name="y")

    def _loss_setup(self):
        groups = self._routed_groups()
        if not getattr(self, "_hyper", None):
            scalars, other = build.update_hyperparameters(self.update, groups.get("update", {}))
            hyper = OrderedDict(
                (f"update__{k}", pytensor.shared(_float32(v), name=f"update__{k}")) for k, v in scalars.items()
            )
            for key in ("l1", "l2"):
                if key in groups.get("objective", {}):
                    value = groups["objective"][key]
                    hyper[f"objective__{key}"] = pytensor.shared(_float32(value), name=f"objective__{key}")
            self._hyper = hyper
            self._update_other = other
        loss_kwargs = {k: v for k, v in groups.get("objective", {}).items() if k not in ("l1", "l2")}
        loss_function = self.objective_loss_function or self._default_loss()
        return loss_function, loss_kwargs

    def _function(self, kind, weighted=False):
        key = (kind, weighted)
        fns = getattr(self, "_fns", None)
        if fns is None:
            fns = self._fns = {}
        if key in fns:
            return fns[key]
        check_is_fitted(self)
        loss_function, loss_kwargs = self._loss_setup()
        hyper = self._hyper
        l1, l2 = hyper.get("objective__l1"), hyper.get("objective__l2")
        with build.seeded(self._seeds[1] + len(fns)):
            if kind == "train":
                update_params = {k[len("update__"):]: v for k, v in hyper.items() if k.startswith("update__")}
                update_params.update(self._update_other)
                weights = T.vector("w", dtype=FLOATX) if weighted else None
                fn, upd = build.compile_train(
                    self.layers_, self._target_var(), loss_function, self.update, update_params,
                    weights=weights, l1=l1, l2=l2, loss_kwargs=loss_kwargs, mode=self.mode,
                )
                self._state_vars = list(upd.keys())
            elif kind == "valid":
                fn = build.compile_valid(self.layers_, self._target_var(), loss_function, l1=l1, l2=l2,
                                         loss_kwargs=loss_kwargs, mode=self.mode)
            elif kind == "predict":
                fn = build.compile_predict(self.layers_, mode=self.mode)
            else:  # ("output", layer name)
                fn = build.compile_predict(self.layers_, self.layers_[kind[1]], mode=self.mode)
        fns[key] = fn
        return fn

    # ------------------------------------------------------------------
    # Training

    def fit(self, X, y, **fit_params):
        """Train the net on (X, y) for ``max_epochs`` epochs; returns self.

        Parameters
        ----------
        X : array, DataFrame or dict of arrays
        y : array
        **fit_params
            ``sample_weight`` (classifier and regressor).

        Notes
        -----
        Bad data or hyper-parameters raise ValueError (TypeError for X holding
        non-numbers) before anything is compiled. If the training loss or the
        weights become NaN or infinite, training stops with a RuntimeWarning
        that suggests a lower learning rate, and the net keeps the weights of
        its last full epoch. A KeyboardInterrupt (Ctrl-C) also stops training
        cleanly: a one-line notice goes to stderr, the weights are those of the
        last full epoch and ``history_`` ends with that epoch.
        """
        self._check_hyperparameters()
        warm = self.warm_start and self.__sklearn_is_fitted__()
        X, y = self._validate_Xy(X, y, reset=not warm)
        if not warm:
            self._fit_targets(y)
            self.initialize(X, y)
        self._check_inputs(X)
        self.train_loop(X, y, epochs=self.max_epochs, **fit_params)
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch, keeping the weights (initializing on the first call)."""
        fitted = self.__sklearn_is_fitted__()
        X, y = self._validate_Xy(X, y, reset=not fitted)
        if not fitted:
            self._fit_targets(y if classes is None else np.asarray(classes))
            self.initialize(X, y)
        self._check_inputs(X)
        self.train_loop(X, y, epochs=1, sample_weight=sample_weight)
        return self

    def _sample_weight(self, y, sample_weight):
        if sample_weight is None:
            return None
        sample_weight = np.asarray(sample_weight, dtype=FLOATX).reshape(-1)
        check_consistent_length(y, sample_weight)
        if not np.all(np.isfinite(sample_weight)) or np.any(sample_weight < 0):
            raise ValueError("sample_weight must be finite and non-negative")
        if not np.any(sample_weight > 0):
            raise ValueError("sample_weight has only zero weights; at least one must be positive")
        return sample_weight

    def _split(self, X, y, w):
        split = self.train_split_
        if split is None:
            return X, None, y, None, w
        if isinstance(split, TrainSplit):
            train, valid = split.split_indices(num_samples(X), y, self)
            if len(valid) == 0:
                return X, None, y, None, w
            return take(X, train), take(X, valid), take(y, train), take(y, valid), take(w, train)
        X_tr, X_va, y_tr, y_va = split(X, y, self)
        if w is not None and num_samples(X_tr) != len(w):
            raise ValueError("sample_weight needs train_split to be a TrainSplit (or to keep all of X for training)")
        if X_va is not None and num_samples(X_va) == 0:
            X_va = y_va = None
        if X_va is not None:
            X_va = self._validate_X(X_va, reset=False)
            self._check_inputs(X_va)
        return X_tr, X_va, y_tr, y_va, w

    def get_all_params_values(self):
        """``{layer name: [param values]}`` (copies)."""
        check_is_fitted(self)
        return OrderedDict(
            (name, [p.get_value() for p in layer.get_params()]) for name, layer in self.layers_.items()
        )

    def _snapshot(self):
        return [v.get_value() for v in self._state_vars]

    def _restore(self, snapshot):
        for var, value in zip(self._state_vars, snapshot):
            var.set_value(value)

    def _params_finite(self):
        return all(np.all(np.isfinite(v.get_value(borrow=True))) for v in self._state_vars
                   if str(getattr(v, "dtype", "")).startswith("float"))

    def _diverged(self, good, what):
        """Restore the state of the last full epoch, warn and stop training."""
        self._restore(good)
        epoch = len(self.history_)
        warnings.warn(
            f"Training diverged: {what} in epoch {epoch + 1}. Training stopped and the weights of "
            f"epoch {epoch} (the last good one) were restored. Try a lower learning rate "
            "(update__learning_rate).",
            RuntimeWarning,
            stacklevel=4,
        )
        raise StopTraining("diverged")

    def _run_callbacks(self, hook, *args):
        stop = None
        for cb in self.callbacks_.values():
            try:
                getattr(cb, hook)(self, *args)
            except StopTraining as exc:
                stop = exc
        if stop is not None:
            raise stop

    def train_loop(self, X, y, epochs, sample_weight=None):
        """Run ``epochs`` epochs on already validated data; returns self."""
        w = self._sample_weight(y, sample_weight)
        X_tr, X_va, y_tr, y_va, w_tr = self._split(X, y, w)
        y_tr = self._encode_y(y_tr)
        y_va = None if y_va is None else self._encode_y(y_va)
        self.train_data_ = (X_tr, y_tr)
        self.valid_data_ = (X_va, y_va)
        train_fn = self._function("train", weighted=w_tr is not None)
        valid_fn = None if X_va is None else self._function("valid")
        it_train, it_test = self.batch_iterator_train_, self.batch_iterator_test_
        self.n_batches_per_epoch_ = it_train.n_batches(X_tr) + (0 if X_va is None else it_test.n_batches(X_va))
        batch_cbs = [cb for cb in self.callbacks_.values()
                     if type(cb).on_batch_end is not Callback.on_batch_end]
        is_classifier = isinstance(self, ClassifierMixin)
        history = self.history_
        stop_message = None
        # The state after the last full epoch, while an epoch is under way (None between epochs).
        good = None
        self._run_callbacks("on_train_begin", X, y)
        try:
            for _ in range(epochs):
                self._run_callbacks("on_epoch_begin", history)
                good = self._snapshot()
                t0 = time.perf_counter()
                total, count = 0.0, 0
                batches = it_train(X_tr, y_tr) if w_tr is None else it_train(X_tr, y_tr, sample_weight=w_tr)
                for batch in batches:
                    inputs = self._input_arrays(batch[0])
                    loss = float(train_fn(*inputs, *batch[1:]))
                    size = len(inputs[0])
                    if not math.isfinite(loss):
                        self._diverged(good, f"the training loss became {loss}")
                    total += loss * size
                    count += size
                    for cb in batch_cbs:
                        cb.on_batch_end(self, loss, size, True)
                # The last batch's update can overflow the weights although its loss was finite.
                if not self._params_finite():
                    self._diverged(good, "the weights became NaN or infinite")
                record = {"epoch": len(history) + 1, "train_loss": total / max(count, 1)}
                record.update(self._validate_epoch(valid_fn, it_test, X_va, y_va, batch_cbs, is_classifier))
                if record["valid_loss"] is not None and not math.isfinite(record["valid_loss"]):
                    self._diverged(good, f"the validation loss became {record['valid_loss']}")
                record["dur"] = time.perf_counter() - t0
                history.append(record)
                good = None
                self._run_callbacks("on_epoch_end", history)
        except StopTraining as exc:
            stop_message = str(exc)
        except KeyboardInterrupt:
            if good is not None:
                self._restore(good)
            print(f"Training interrupted; keeping the weights of epoch {len(history)}.", file=sys.stderr)
        finally:
            self.n_iter_ = len(history)
            self._run_callbacks("on_train_end")
            self.train_data_ = self.valid_data_ = (None, None)
        if stop_message and self.verbose and stop_message != "diverged":
            print(stop_message)
        return self

    def _validate_epoch(self, valid_fn, iterator, X_va, y_va, batch_cbs, is_classifier):
        if valid_fn is None:
            return {"valid_loss": None}
        total, correct, count = 0.0, 0, 0
        for Xb, yb in iterator(X_va, y_va):
            inputs = self._input_arrays(Xb)
            loss, pred = valid_fn(*inputs, yb)
            size = len(yb)
            total += float(loss) * size
            count += size
            if is_classifier:
                correct += int(np.sum(self._pred_labels(pred) == self._labels_of(yb)))
            for cb in batch_cbs:
                cb.on_batch_end(self, float(loss), size, False)
        record = {"valid_loss": total / count}
        if is_classifier:
            record["valid_accuracy"] = correct / count
        return record

    # ------------------------------------------------------------------
    # Prediction

    def _forward(self, X, kind="predict"):
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        self._check_inputs(X)
        fn = self._function(kind)
        outputs = [fn(*self._input_arrays(Xb)) for Xb, _ in self.batch_iterator_test_(X)]
        return np.concatenate(outputs)

    def predict(self, X):
        """The network's output for X (deterministic)."""
        return self._forward(X)

    def get_output(self, layer, X):
        """Activations of ``layer`` (a name or the Layer itself) for X, as numpy.

        Examples
        --------
        >>> from sknet.layers import InputLayer, DenseLayer
        >>> net = NeuralNet([(InputLayer, {'shape': (None, 3)}), (DenseLayer, {'num_units': 2})]).initialize()
        >>> net.get_output('dense1', np.zeros((4, 3))).shape
        (4, 2)
        """
        check_is_fitted(self)
        if not isinstance(layer, str):
            names = [n for n, l in self.layers_.items() if l is layer]
            if not names:
                raise ValueError(f"{layer!r} is not a layer of this net")
            layer = names[0]
        if layer not in self.layers_:
            hint = difflib.get_close_matches(layer, list(self.layers_), n=1)
            raise ValueError(f"No layer named {layer!r}" + (f"; did you mean {hint[0]!r}?" if hint else ""))
        return self._forward(X, kind=("output", layer))

    def summary(self):
        """The layer table as text: name, type, output shape, parameters, receptive field.

        On a net that is not initialized the layers are built from the spec
        for the table only (nothing is compiled and the net stays unfitted),
        so the InputLayer needs a ``shape`` and the last layer its
        ``num_units``. See :func:`sknet.summary.summary`.

        Examples
        --------
        >>> from sknet.layers import InputLayer, DenseLayer
        >>> net = NeuralNet([(InputLayer, {'shape': (None, 3)}), (DenseLayer, {'num_units': 2})])
        >>> print(net.summary())
        #  name    type        output shape  params
        -  ------  ----------  ------------  ------
        0  input0  InputLayer  (None, 3)          0
        1  dense1  DenseLayer  (None, 2)          8
        total params: 8
        """
        if self.__sklearn_is_fitted__():
            return layer_summary(self.layers_)
        groups = self._routed_groups()
        names = set(self._layer_names())
        try:
            with build.seeded(0):
                layers = build.build_layers(
                    self.layers,
                    layer_params={k: v for k, v in groups.items() if k in names},
                    callable_params=groups.get("layers"),
                    **self._infer_build_info(None, None),
                )
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"summary() could not build the layers before fit ({exc}); give the InputLayer "
                "a shape and the last layer its size, or call it after fit"
            ) from exc
        return layer_summary(layers)

    # ------------------------------------------------------------------
    # Persistence

    def save_params_to(self, path):
        """Write the weights to an ``.npz`` file (atomically: temp file + rename)."""
        arrays = {}
        for name, values in self.get_all_params_values().items():
            for i, value in enumerate(values):
                arrays[f"{name}:{i}"] = value
        _atomic_savez(path, arrays)

    save_params = save_params_to

    def load_params_from(self, source):
        """Load weights from an ``.npz`` path, a dict ``{layer: [arrays]}`` or another net.

        Names and shapes are checked for every layer before anything is set,
        so a mismatch loads nothing. Files are read with ``allow_pickle=False``.
        """
        check_is_fitted(self)
        if isinstance(source, NeuralNet):
            source = source.get_all_params_values()
        if not isinstance(source, dict):
            source = self._read_npz(source)
        targets = []
        for name, layer in self.layers_.items():
            params = layer.get_params()
            if not params:
                continue
            if name not in source:
                raise ValueError(f"The weights have nothing for layer {name!r} (have {sorted(source)})")
            values = source[name]
            if len(values) != len(params):
                raise ValueError(f"Layer {name!r} has {len(params)} parameters, the weights give {len(values)}")
            for param, value in zip(params, values):
                value = np.asarray(value)
                if value.shape != param.get_value(borrow=True).shape:
                    raise ValueError(
                        f"Layer {name!r}: parameter {param.name} has shape "
                        f"{param.get_value(borrow=True).shape}, the weights give {value.shape}"
                    )
                if value.dtype.kind not in "biuf":
                    raise ValueError(
                        f"Layer {name!r}: parameter {param.name} must be numeric, the weights give dtype {value.dtype}"
                    )
                if not np.all(np.isfinite(value)):
                    raise ValueError(f"Layer {name!r}: parameter {param.name} has NaN or infinite weights")
                targets.append((param, value.astype(param.dtype)))
        extra = {n for n, v in source.items() if len(v)} - {n for n, l in self.layers_.items() if l.get_params()}
        if extra:
            raise ValueError(f"The weights name layers this net does not have: {sorted(extra)}")
        previous = [param.get_value() for param, _ in targets]
        try:
            for param, value in targets:
                param.set_value(value)
        except BaseException:
            for (param, _), value in zip(targets, previous):
                param.set_value(value)
            raise
        return self

    load_params = load_params_from

    @staticmethod
    def _read_npz(path):
        import zipfile

        try:
            data = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise ValueError(f"Could not read weights from {path!r}: {exc}") from exc
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError(f"Could not read weights from {path!r}: not an .npz archive (got a single array)")
        try:
            with data:
                raw = {key: data[key] for key in data.files}
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise ValueError(f"Could not read weights from {path!r}: {exc}") from exc
        source = {}
        for key, value in raw.items():
            name, _, index = key.rpartition(":")
            if not name or not index.isdigit():
                raise ValueError(f"Unexpected entry {key!r} in weights file {path!r}")
            source.setdefault(name, {})[int(index)] = value
        return {name: [d[i] for i in sorted(d)] for name, d in source.items()}

    def __getstate__(self):
        state = self.__dict__.copy()
        for key in ("_fns", "_hyper", "_state_vars", "layers_", "train_data_", "valid_data_"):
            state.pop(key, None)
        if self.__sklearn_is_fitted__():
            state["_param_values"] = self.get_all_params_values()
            if getattr(self, "_hyper", None):
                state["_hyper_values"] = {k: float(v.get_value()) for k, v in self._hyper.items()}
        return state

    def __setstate__(self, state):
        values = state.pop("_param_values", None)
        hyper_values = state.pop("_hyper_values", None)
        self.__dict__.update(state)
        self._fns = {}
        self._hyper = None
        if values is not None:
            self.initialize_layers()
            self.load_params_from(values)
            if hyper_values:
                self._loss_setup()
                for key, value in hyper_values.items():
                    if key in self._hyper:
                        self._hyper[key].set_value(_float32(value))

    # nolearn's name for history_
    @property
    def train_history_(self):
        return self.history_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags


class NeuralNetClassifier(ClassifierMixin, NeuralNet):
    """A neural network classifier (categorical cross-entropy by default).

    Labels of any type go through ``classes_``. A last DenseLayer without
    ``num_units`` gets one unit per class (softmax). A 1-unit sigmoid output
    makes a binary classifier (binary cross-entropy).

    Parameters
    ----------
    class_weight : None, 'balanced' or dict
        Weights of the classes in the training loss.
    (others)
        As :class:`NeuralNet`.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> X = np.array([[0.0], [0.1], [0.9], [1.0]] * 8); y = np.array(['a', 'a', 'b', 'b'] * 8)
    >>> net = NeuralNetClassifier([(InputLayer, {}), (DenseLayer, {})], update__learning_rate=0.1,
    ...                           max_epochs=30, train_split=False, random_state=0).fit(X, y)
    >>> net.predict(np.array([[0.0], [1.0]])).tolist()
    ['a', 'b']
    """

    _stratify_split = True

    def __init__(
        self,
        layers,
        update=updates.adam,
        objective_loss_function=None,
        batch_iterator_train=None,
        batch_iterator_test=None,
        train_split=None,
        callbacks=None,
        max_epochs=100,
        warm_start=False,
        random_state=None,
        verbose=0,
        mode=None,
        on_epoch_finished=None,
        on_batch_finished=None,
        on_training_started=None,
        on_training_finished=None,
        class_weight=None,
        **kwargs,
    ):
        super().__init__(
            layers,
            update=update,
            objective_loss_function=objective_loss_function,
            batch_iterator_train=batch_iterator_train,
            batch_iterator_test=batch_iterator_test,
            train_split=train_split,
            callbacks=callbacks,
            max_epochs=max_epochs,
            warm_start=warm_start,
            random_state=random_state,
            verbose=verbose,
            mode=mode,
            on_epoch_finished=on_epoch_finished,
            on_batch_finished=on_batch_finished,
            on_training_started=on_training_started,
            on_training_finished=on_training_finished,
            **kwargs,
        )
        self.class_weight = class_weight

    def _y_check_params(self):
        return {"multi_output": False}

    def _fit_targets(self, y):
        check_classification_targets(y)
        self._label_encoder = LabelEncoder().fit(y)
        self.classes_ = self._label_encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"y has only one class ({self.classes_[:1].tolist()[0]!r}); a classifier needs at least 2 classes"
            )

    def _infer_build_info(self, X, y):
        info = super()._infer_build_info(X, y)
        if hasattr(self, "classes_"):
            info["output_units"] = len(self.classes_)
            info["output_nonlinearity"] = nonlinearities.softmax
        return info

    def initialize_layers(self, groups=None):
        super().initialize_layers(groups)
        out_shape = next(reversed(self.layers_.values())).output_shape
        units = out_shape[-1]
        self._binary_output = units == 1
        n_classes = len(getattr(self, "classes_", ()))
        if n_classes and units != n_classes and not (units == 1 and n_classes == 2):
            raise ValueError(
                f"The output layer has {units} units but y has {n_classes} classes; leave the last "
                "DenseLayer's num_units out to get one unit per class"
            )
        self._target_spec = (FLOATX, 2) if self._binary_output else ("int32", 1)
        return self

    def _default_loss(self):
        if self._binary_output:
            return objectives.binary_crossentropy
        return objectives.categorical_crossentropy

    def _encode_y(self, y):
        codes = self._label_encoder.transform(y).astype(np.int32)
        if self._binary_output:
            return codes.astype(FLOATX)[:, None]
        return codes

    def _labels_of(self, yb):
        return yb[:, 0].astype(np.int32) if self._binary_output else yb

    def _pred_labels(self, proba):
        if self._binary_output:
            return (proba[:, 0] > 0.5).astype(np.int32)
        return proba.argmax(axis=1)

    def _sample_weight(self, y, sample_weight):
        sample_weight = super()._sample_weight(y, sample_weight)
        if self.class_weight is None:
            return sample_weight
        cw = compute_sample_weight(self.class_weight, y).astype(FLOATX)
        return cw if sample_weight is None else cw * sample_weight

    def fit(self, X, y, sample_weight=None):
        """Train on (X, y); ``sample_weight`` weighs each sample's loss. Returns self."""
        return super().fit(X, y, sample_weight=sample_weight)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy on (X, y); labels never seen in fit raise ValueError."""
        check_is_fitted(self)
        unseen = np.setdiff1d(np.unique(np.asarray(y)), self.classes_)
        if len(unseen):
            raise ValueError(f"y contains previously unseen labels: {unseen[:10].tolist()}")
        return super().score(X, y, sample_weight=sample_weight)

    def predict_proba(self, X):
        """Class probabilities, one column per entry of ``classes_``."""
        proba = self._forward(X)
        if self._binary_output:
            proba = np.hstack([1.0 - proba, proba])
        return proba

    def predict(self, X):
        """The most probable class of each sample."""
        proba = self._forward(X)
        labels = self._pred_labels(proba)
        classes = getattr(self, "classes_", None)
        return labels if classes is None else classes[labels]


class NeuralNetRegressor(RegressorMixin, NeuralNet):
    """A neural network regressor (squared error by default).

    y may be 1-D (predictions are then 1-D too) or 2-D. A last DenseLayer
    without ``num_units`` gets one unit per target, linear.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> X = np.linspace(-1, 1, 64)[:, None]; y = 2 * X[:, 0]
    >>> net = NeuralNetRegressor([(InputLayer, {}), (DenseLayer, {})], update__learning_rate=0.05,
    ...                          max_epochs=40, train_split=False, random_state=0).fit(X, y)
    >>> net.predict(X).shape
    (64,)
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _fit_targets(self, y):
        self._y_ndim = np.ndim(y)
        if not np.all(np.isfinite(y)):
            raise ValueError("Input y contains NaN or infinity.")

    def _infer_build_info(self, X, y):
        info = super()._infer_build_info(X, y)
        if y is not None:
            info["output_units"] = 1 if np.ndim(y) == 1 else np.shape(y)[1]
            info["output_nonlinearity"] = nonlinearities.identity
        return info

    def initialize_layers(self, groups=None):
        super().initialize_layers(groups)
        self._target_spec = (FLOATX, 2)
        return self

    def _encode_y(self, y):
        y = np.asarray(y, dtype=FLOATX)
        return y[:, None] if y.ndim == 1 else y

    def fit(self, X, y, sample_weight=None):
        """Train on (X, y); ``sample_weight`` weighs each sample's loss. Returns self."""
        return super().fit(X, y, sample_weight=sample_weight)

    def predict(self, X):
        """Predicted targets (float64, as scikit-learn regressors give), shaped like the y given to fit."""
        out = self._forward(X).astype(np.float64)
        if getattr(self, "_y_ndim", 2) == 1 and out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        return out

