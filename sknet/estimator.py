"""NeuralNet, NeuralNetClassifier, NeuralNetRegressor: the scikit-learn contract.

The estimators compose small objects from the modules beside this one:
:mod:`~sknet.routing` (``prefix__param`` names), :mod:`~sknet.hyperparams`
(injected vs static hyper-parameters), :mod:`~sknet.targets` (what y means),
:mod:`~sknet.validation` (checks before compiling), :mod:`~sknet.training`
(the loop and its divergence guard), :mod:`~sknet.persistence` (weights),
and :mod:`~sknet.compile` (spec to compiled functions).
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import compile as build
from . import updates
from .batch_iterators import BatchIterator, TrainSplit, configured, split_data
from .callbacks import FunctionCallback, assemble
from .features import FeaturesMixin, LogitsMixin, OutputsMixin
from .functions import NetFunctions
from .history import History, best_epoch
from .hyperparams import ESTIMATOR_DEFAULTS, HyperParameters
from .layers import Layer
from .multi_output import as_spec, as_y, check_validation_data, check_X_y, mean_score
from .nolearn_options import NOLEARN_OPTIONS, NolearnOptionsMixin
from .persistence import PersistenceMixin
from .routing import ROUTING_PREFIXES, Router, clone_sharing, signature_with
from .summary import spec_summary
from .summary import summary as layer_summary
from .targets import ClassifierTargets, RegressorTargets, Targets
from .training import TrainingLoop, failure_hints
from .validation import (
    check_input_shapes,
    check_learning_rates,
    check_max_epochs,
    check_sample_weight,
    check_X,
    expected_failed_checks,
)

__all__ = [
    "NeuralNet",
    "NeuralNetClassifier",
    "NeuralNetRegressor",
    "History",
    "ROUTING_PREFIXES",
    "expected_failed_checks",
]

# Changing these on an initialized net invalidates its compiled functions.
_GRAPH_PARAMS = ("update", "objective_loss_function", "mode", "objective", "more_params")
# ... and these rebuild its callbacks or iterators (so a warm-started fit uses them).
_CALLBACK_PARAMS = ("callbacks", "verbose", *FunctionCallback.HOOKS, "custom_scores", "scores_train", "scores_valid")
_ITERATOR_PARAMS = ("batch_iterator_train", "batch_iterator_test", "train_split")

#: NeuralNet's keyword parameters after ``update``, and their defaults: its
#: signature (where scikit-learn reads parameter names) is built from them.
_PARAMS = {
    "objective_loss_function": None,
    "batch_iterator_train": None,
    "batch_iterator_test": None,
    "train_split": None,
    "callbacks": None,
    "max_epochs": 100,
    "warm_start": False,
    "random_state": None,
    "verbose": 0,
    "mode": None,
    **dict.fromkeys(FunctionCallback.HOOKS),
    "transform_layer": None,
    **NOLEARN_OPTIONS,
}


class NeuralNet(NolearnOptionsMixin, OutputsMixin, FeaturesMixin, PersistenceMixin, BaseEstimator):
    """A neural network as a scikit-learn estimator (generic objective).

    ``__init__`` only stores its arguments; :meth:`initialize` (called by
    :meth:`fit`) builds the layers, and the train / validation / predict
    functions are compiled on first use.

    Parameters
    ----------
    layers : list, Layer or callable
        A list of ``(LayerClass, kwargs)``, a list of ``(name, LayerClass)``
        (parameters routed as ``name__param``), an output Layer, a list of
        output Layers (y a tuple, one array per output; see
        :mod:`sknet.multi_output`), or a callable returning one (called with
        the ``layers__*`` arguments).
    update : callable
        An update rule from :mod:`sknet.updates`, its parameters routed as
        ``update__name``; see :mod:`sknet.hyperparams` for which are changed
        without recompiling. ``NeuralNet``'s default is nolearn's,
        ``nesterov_momentum`` (learning rate 0.01, momentum 0.9); the two
        subclasses default to adam with a learning rate of 3e-3 (Lasagne's
        adam: 1e-3), so small tables learn in tens of epochs.
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
        0 silent; 1 a line on compiling (with its duration), a progress bar
        over each epoch's batches (in a terminal or notebook) and one table
        row per epoch; 2 also the layer table.
    mode : None or str
        PyTensor compile mode (None: sknet's default, the C backend).
    on_epoch_finished, on_batch_finished, on_training_started, on_training_finished : callable or list, optional
        nolearn-style hooks ``f(net, history)``; raising ``StopIteration``
        in one ends training.
    transform_layer : None, str or Layer
        The layer whose activations :meth:`transform` returns (None: the
        output layer's incoming layer); see :class:`sknet.features.FeaturesMixin`.
    regression, y_tensor_type, use_label_encoder, custom_scores, scores_train, scores_valid, more_params, check_input
        nolearn's options; see :class:`sknet.nolearn_options.NolearnOptionsMixin`.
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

    _targets_class = Targets

    def __init__(self, layers, *, update=updates.nesterov_momentum, **kwargs):
        self.layers = layers
        self.update = update
        for name, default in _PARAMS.items():
            setattr(self, name, kwargs.pop(name, default))
        self._routed = kwargs

    # ------------------------------------------------------------------
    # Parameters and routing

    def get_params(self, deep=True):
        params = super().get_params(deep=False)
        params.update(self._routed)
        return params

    def __sklearn_clone__(self):
        return clone_sharing(self, Layer)

    def _layer_names(self):
        try:
            return build.spec_layer_names(as_spec(self.layers)) or []
        except ValueError:
            return []

    def _router(self):
        # Cached per spec object: finding a spec's layer names walks the whole spec.
        cached = self.__dict__.get("_router_cache")
        if cached is None or cached[0] is not self.layers:
            router = Router(ROUTING_PREFIXES + tuple(self._layer_names()), self._get_param_names(), type(self).__name__)
            cached = self._router_cache = (self.layers, router)
        return cached[1]

    def _groups(self):
        return self._router().group(self._all_routed())

    def set_params(self, **params):
        """Set constructor and routed parameters; unknown names raise ValueError.

        On an initialized net, injected hyper-parameters
        (``update__learning_rate``, ``objective__l2`` ...) change in place,
        without recompiling; static ones recompile on next use.

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
        routed = {k: v for k, v in params.items() if k not in names}
        try:
            build.spec_form(as_spec(self.layers))
        except ValueError:
            # Without a valid spec the layer names are unknown; checked again at initialize().
            self._routed.update(routed)
            return self._refresh(params)
        router = self._router()
        spelled = {router.route(k): k for k in self._routed}
        hyper = getattr(self, "hyperparameters_", None)
        for key, value in routed.items():
            prefix, rest = router.route(key)
            old = spelled.pop((prefix, rest), None)
            if old is not None:
                del self._routed[old]
            spelled[(prefix, rest)] = key
            self._routed[key] = value
            if hyper is not None and hyper.set(f"{prefix}__{rest}", value):
                continue
            if prefix in ("update", "objective"):
                self._invalidate()
        return self._refresh(params)

    def _refresh(self, params):
        """Rebuild the callbacks and iterators of an initialized net whose settings for them changed."""
        if hasattr(self, "callbacks_"):
            heads = {key.partition("__")[0] for key in params}
            if heads & set(_CALLBACK_PARAMS):
                self.initialize_callbacks()
            if heads & set(_ITERATOR_PARAMS):
                self.initialize_iterators()
        return self

    def set_hyperparameter(self, name, value):
        """Set an injected hyper-parameter (``'update__learning_rate'`` ...) of an initialized net.

        Unlike :meth:`set_params` this leaves the constructor parameters as
        they were (schedulers use it).
        """
        prefix, rest = self._router().route(name)
        self._hyperparameters().set(f"{prefix}__{rest}", value, strict=True)

    def get_hyperparameter(self, name):
        """The current value of an injected hyper-parameter."""
        prefix, rest = self._router().route(name)
        return self._hyperparameters().get(f"{prefix}__{rest}")

    def _hyperparameters(self):
        if getattr(self, "hyperparameters_", None) is None:
            groups = self._groups()
            defaults = ESTIMATOR_DEFAULTS.get(self.update)
            self.hyperparameters_ = HyperParameters(
                self.update, groups.get("update", {}), groups.get("objective", {}), defaults
            )
        return self.hyperparameters_

    def _invalidate(self):
        self._functions = self.hyperparameters_ = None

    # ------------------------------------------------------------------
    # Initialization hooks

    def __sklearn_is_fitted__(self):
        return getattr(self, "layers_", None) is not None

    def initialize(self, X=None, y=None):
        """Build layers, hyper-parameters, iterators, split and callbacks; returns self.

        With ``y`` the targets are fitted first (classes, output units).
        Compilation happens later, on first use.
        """
        check_max_epochs(self.max_epochs)
        self.check_options()
        check_learning_rates(self._all_routed())
        groups = self._groups()
        self._check_prebuilt(groups)
        self._seeds = [int(s) for s in check_random_state(self.random_state).randint(2**31 - 1, size=4)]
        self.targets_ = None if y is None else self._make_targets(y)
        self._input_shapes = build.input_shapes_of(X)
        self.initialize_layers(groups)
        self._invalidate()
        self._hyperparameters()
        self.initialize_iterators(groups)
        self.initialize_callbacks(groups)
        self.history_ = History()
        return self

    def _check_prebuilt(self, groups):
        if build.spec_form(as_spec(self.layers)) != "layer":
            return
        routed = sorted(k for k in self._routed if self._router().route(k)[0] in self._layer_names())
        if routed:
            raise ValueError(
                f"Routed layer parameters {routed} cannot change a prebuilt network (layers= an output "
                "Layer); build the layers with these values, or give layers as a list spec"
            )

    def initialize_layers(self, groups=None):
        """Build ``layers_`` from the spec, seeded by ``random_state``; returns self."""
        groups = self._groups() if groups is None else groups
        layer_params = {k: v for k, v in groups.items() if k in set(self._layer_names())}
        targets = getattr(self, "targets_", None)
        with build.seeded(self._seeds[0]):
            self.layers_ = build.build_layers(
                as_spec(self.layers),
                layer_params=layer_params,
                callable_params=groups.get("layers"),
                input_shapes=self._input_shapes,
                output_units=None if targets is None else targets.output_units(),
            )
        named = build.names_output_nonlinearity(as_spec(self.layers), layer_params)
        out = next(reversed(self.layers_.values()))
        if targets is not None:
            targets.bind(out, default_loss=self.objective_loss_function is None, named_nonlinearity=named)
        else:
            self._bind_unfitted(out, named)
        self._inputs = build.input_layers(self.layers_)
        return self

    def initialize_iterators(self, groups=None):
        """Fresh batch iterators and train split for this fit; returns self."""
        groups = self._groups() if groups is None else groups
        seeds = self._seeds
        self.batch_iterator_train_ = configured(
            self.batch_iterator_train, BatchIterator(128, shuffle=True), groups.get("batch_iterator_train"), seeds[2]
        )
        self.batch_iterator_test_ = configured(
            self.batch_iterator_test, BatchIterator(128), groups.get("batch_iterator_test"), seeds[2]
        )
        self.train_split_ = (
            None
            if self.train_split is False
            else configured(self.train_split, TrainSplit(eval_size=0.2), groups.get("train_split"), seeds[3])
        )
        return self

    def initialize_callbacks(self, groups=None):
        """Clone the callbacks, route their parameters, add the verbosity ones; returns self."""
        groups = self._groups() if groups is None else groups
        hooks = {name: getattr(self, name) for name in FunctionCallback.HOOKS}
        given = list(self.callbacks or []) + self._score_callbacks()
        self.callbacks_ = assemble(given, groups.get("callbacks"), hooks, self.verbose)
        return self

    # ------------------------------------------------------------------
    # Compiled functions (never pickled)

    def _fns(self):
        """The net's :class:`~sknet.functions.NetFunctions` (each function compiled on first use)."""
        check_is_fitted(self)
        if getattr(self, "_functions", None) is None:
            loss, targets = self.objective_loss_function, getattr(self, "targets_", None)
            if loss is None and targets is not None:
                loss = targets.default_loss()
            loss = self._loss_for_compile(loss)
            self._functions = NetFunctions(
                self.layers_, self.update, self._hyperparameters(), targets, loss, self.mode, self._seeds[1]
            )
        return self._functions

    # ------------------------------------------------------------------
    # Training

    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None, epochs=None):
        """Train the net on (X, y) for ``max_epochs`` epochs (or ``epochs``, nolearn's spelling); returns self.

        Parameters
        ----------
        X : array, DataFrame or dict of arrays
        y : array
        sample_weight : array, optional
            Weighs each sample's loss.
        X_val, y_val, sample_weight_val : optional
            Validation data (and weights of its loss), checked like X and y;
            given, they replace ``train_split`` for this fit. Routable with
            ``set_fit_request``; see ``docs/validation-data.md``.
        epochs : int, optional
            Train this many epochs instead of ``max_epochs``.

        Notes
        -----
        ``best_epoch_`` is the epoch with the lowest ``valid_loss`` and
        ``best_score_`` that loss (None without validation data). Bad data
        raises before anything compiles; divergence, Ctrl-C and a first epoch
        that learned nothing are handled as :mod:`sknet.training` says (the
        net keeps its last good weights); ``docs/bad_input.md`` lists each.
        """
        check_max_epochs(self.max_epochs if epochs is None else epochs)
        self.check_options()
        check_learning_rates(self._all_routed())
        warm = self.warm_start and self.__sklearn_is_fitted__()
        names = [n for n, _ in self._inputs] if warm else build.spec_input_names(as_spec(self.layers))
        if self.check_input:
            X, y = check_X_y(self, X, y, reset=not warm, classifier=is_classifier(self), input_names=names)
        else:
            X, y = (X if isinstance(X, dict) else np.asarray(X)), as_y(self, y)
        classes = (self.classes_ if warm else np.unique(y)) if is_classifier(self) else None
        valid = check_validation_data(self, X_val, y_val, sample_weight_val, names, classes)
        if not warm:
            self.initialize(X, y)
        return self._train(X, y, self.max_epochs if epochs is None else epochs, sample_weight, valid)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch, keeping the weights (initializing on the first call); returns self."""
        fitted = self.__sklearn_is_fitted__()
        names = [n for n, _ in self._inputs] if fitted else build.spec_input_names(as_spec(self.layers))
        X, y = check_X_y(self, X, y, reset=not fitted, classifier=is_classifier(self), input_names=names)
        if not fitted:
            self.initialize(X, y if classes is None else np.asarray(classes))
        return self._train(X, y, 1, sample_weight)

    def _sample_weight(self, y, sample_weight):
        return check_sample_weight(y, sample_weight)

    def _split(self, X, y, w, valid=None):
        if valid is not None:
            check_input_shapes(self._inputs, valid[0])
            return X, valid[0], y, valid[1], w, valid[2]
        X_tr, X_va, y_tr, y_va, w_tr = split_data(self.train_split_, X, y, w, self)
        if X_va is not None and not isinstance(self.train_split_, TrainSplit):
            X_va = check_X(self, X_va, reset=False, input_names=[n for n, _ in self._inputs])
            check_input_shapes(self._inputs, X_va)
        return X_tr, X_va, y_tr, y_va, w_tr, None

    def _train(self, X, y, epochs, sample_weight, valid=None):
        check_input_shapes(self._inputs, X)
        w = self._sample_weight(y, sample_weight)
        X_tr, X_va, y_tr, y_va, w_tr, w_va = self._split(X, y, w, valid)
        scored = any(getattr(cb, "needs_train_output", False) for cb in self.callbacks_.values())
        train_fn, valid_fn, compile_time = self._fns().for_fit(
            w_tr is not None, X_va is not None, print if self.verbose else None, w_va is not None, scored
        )
        loss = self.objective_loss_function or self.targets_.default_loss()
        lr = self._hyperparameters().shared.get("update__learning_rate")
        loop = TrainingLoop(
            self,
            self.callbacks_.values(),
            train_fn,
            valid_fn,
            self.batch_iterator_train_,
            self.batch_iterator_test_,
            self._inputs,
            self.targets_,
            self._functions.state,
            self.history_,
            failure_hints=lambda: failure_hints(self.layers_, loss, X, y, lr),
        )
        message = loop.run(X, y, X_tr, y_tr, X_va, y_va, w_tr, epochs, compile_time=compile_time, w_valid=w_va)
        self.n_iter_ = len(self.history_)
        self.best_epoch_, self.best_score_ = best_epoch(self.history_)
        if message and self.verbose and message != "diverged":
            print(message)
        return self

    # ------------------------------------------------------------------
    # Prediction

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
        groups = self._groups()
        names = set(self._layer_names())
        return spec_summary(as_spec(self.layers), {k: v for k, v in groups.items() if k in names}, groups.get("layers"))

    # nolearn's name for history_
    @property
    def train_history_(self):
        return self.history_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags


NeuralNet.__init__.__signature__ = signature_with(NeuralNet.__init__, **_PARAMS)


class NeuralNetClassifier(LogitsMixin, ClassifierMixin, NeuralNet):
    """A neural network classifier (categorical cross-entropy by default).

    Labels of any type go through ``classes_``. A last DenseLayer without
    ``num_units`` gets one unit per class; an output layer whose spec names
    no nonlinearity gets softmax (sigmoid for a 1-unit binary output).

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

    _targets_class = ClassifierTargets

    def __init__(self, layers, *, update=updates.adam, class_weight=None, **kwargs):
        super().__init__(layers, update=update, **kwargs)
        self.class_weight = class_weight

    # scikit-learn reads the parameters from the signature: NeuralNet's, plus class_weight.
    __init__.__signature__ = signature_with(NeuralNet.__init__, update=updates.adam, class_weight=None)

    def _sample_weight(self, y, sample_weight):
        return check_sample_weight(y, sample_weight, self.class_weight)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy on (X, y) (several outputs: the mean of theirs); unseen labels raise ValueError."""
        check_is_fitted(self)
        self.targets_.check_known(y)
        return mean_score(self, X, y, sample_weight, super().score)

    def predict_proba(self, X):
        """Class probabilities, one column per entry of ``classes_``."""
        output = self._forward(X)
        return self.targets_.proba(output)

    def predict(self, X):
        """The most probable class of each sample, in the labels given to fit."""
        output = self._forward(X)
        return self.targets_.decode(output)


class NeuralNetRegressor(RegressorMixin, NeuralNet):
    """A neural network regressor (squared error by default).

    y may be 1-D (predictions are then 1-D too) or 2-D. A last DenseLayer
    without ``num_units`` gets one unit per target; an output layer whose
    spec names no nonlinearity is linear.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> X = np.linspace(-1, 1, 64)[:, None]; y = 2 * X[:, 0]
    >>> net = NeuralNetRegressor([(InputLayer, {}), (DenseLayer, {})], update__learning_rate=0.05,
    ...                          max_epochs=40, train_split=False, random_state=0).fit(X, y)
    >>> net.predict(X).shape
    (64,)
    """

    _targets_class = RegressorTargets

    def __init__(self, layers, *, update=updates.adam, **kwargs):
        super().__init__(layers, update=update, **kwargs)

    __init__.__signature__ = signature_with(NeuralNet.__init__, update=updates.adam)

    @property
    def y_ndim_(self):
        """1 when fitted on a 1-D y (predictions are then 1-D), else 2."""
        return self.targets_.ndim_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def score(self, X, y, sample_weight=None):
        """R² of ``predict(X)`` against y; for several outputs the mean of their R² scores."""
        return mean_score(self, X, y, sample_weight, super().score)

    def predict(self, X):
        """Predicted targets (float64, as scikit-learn regressors give), shaped like the y given to fit."""
        output = self._forward(X)
        return self.targets_.decode(output)
