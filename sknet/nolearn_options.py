"""nolearn's NeuralNet options on sknet's estimators: ``regression=``, ``custom_scores`` and the like.

:class:`NolearnOptionsMixin` holds the options a nolearn script passes to
``NeuralNet`` (:data:`NOLEARN_OPTIONS`, with their defaults). The estimator
adds them to its signature with :func:`sknet.routing.signature_with`, so
scikit-learn's ``get_params``, ``clone`` and grid searches see them;
``__init__`` only stores them and :meth:`NolearnOptionsMixin.check_options`
validates them when ``fit`` starts, before anything compiles.
"""

import numpy as np
import pytensor
import pytensor.tensor as T
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from .callbacks import EpochScoring
from .layers import get_output
from .multi_output import MultiTargets, is_multi, mean_score
from .objectives import aggregate as mean_loss
from .regularization import l1 as l1_penalty
from .regularization import l2 as l2_penalty
from .regularization import regularize_network_params
from .targets import ClassifierTargets, RegressorTargets, Targets

__all__ = ["NOLEARN_OPTIONS", "NolearnOptionsMixin", "ProbaScore", "ExpressionScore", "Objective", "objective"]

#: The nolearn-only keyword parameters and their defaults.
NOLEARN_OPTIONS = {
    "objective": None,
    "regression": None,
    "y_tensor_type": None,
    "use_label_encoder": None,
    "custom_scores": None,
    "scores_train": None,
    "scores_valid": None,
    "more_params": None,
    "check_input": True,
}


def objective(layers, loss_function, target, aggregate=mean_loss, deterministic=False, l1=0, l2=0, get_output_kw=None):
    """nolearn's default objective: the aggregated loss of the last layer's output, plus penalties.

    A custom ``objective=`` usually calls this one and adds a term.

    Parameters
    ----------
    layers : Layers
        The net's ``layers_`` (``layers[-1]`` is the output layer).
    loss_function : callable
        Elementwise ``loss_function(predictions, target)``.
    target : PyTensor variable
    aggregate : callable
        Reduces the elementwise loss to a scalar (default: the mean).
    deterministic : bool
        True for the validation loss (dropout off).
    l1, l2 : number or scalar expression
        Weights of the L1 / L2 penalties on the regularizable parameters.
    get_output_kw : dict, optional
        Keyword arguments for ``get_output``.

    Examples
    --------
    >>> from sknet.compile import build_layers
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> from sknet.objectives import squared_error
    >>> layers = build_layers([(InputLayer, {'shape': (None, 2)}), (DenseLayer, {'num_units': 1})])
    >>> objective(layers, squared_error, T.matrix('y'), l2=1e-3).ndim
    0
    """
    output_layer = layers[-1]
    predictions = get_output(output_layer, deterministic=deterministic, **(get_output_kw or {}))
    loss = aggregate(loss_function(predictions, target))
    if l1 is not None and not (_is_zero(l1)):
        loss = loss + l1 * regularize_network_params(output_layer, l1_penalty)
    if l2 is not None and not (_is_zero(l2)):
        loss = loss + l2 * regularize_network_params(output_layer, l2_penalty)
    return loss


def _is_zero(value):
    return isinstance(value, (int, float)) and value == 0


class Objective:
    """A nolearn ``objective(layers, target, **kwargs)`` as sknet's compile step builds a loss.

    :func:`sknet.compile.build_loss` hands the whole loss to an object with a
    ``build_loss`` method; this one calls the nolearn-style function with the
    net's layers, ``loss_function``, ``deterministic``, ``l1``/``l2`` (when
    given) and the other ``objective__*`` parameters (``get_output_kw`` ...).

    Examples
    --------
    >>> from sknet import NeuralNet, layers as L, objectives
    >>> net = NeuralNet([(L.InputLayer, {'shape': (None, 2)}), (L.DenseLayer, {'num_units': 1})]).initialize()
    >>> made = Objective(objective, objectives.squared_error, net.layers_)
    >>> loss, pred = made.build_loss(net.layers_[-1], T.matrix('y'), deterministic=True)
    >>> loss.ndim, pred.ndim
    (0, 2)
    """

    def __init__(self, function, loss_function, layers):
        self.function, self.loss_function, self.layers = function, loss_function, layers

    def build_loss(self, output_layer, target, weights=None, deterministic=False, l1=None, l2=None, loss_kwargs=None):
        """``(scalar loss, predictions)``, as :func:`sknet.compile.build_loss` returns them."""
        if weights is not None:
            raise ValueError("objective= takes no sample weights; fit without sample_weight (or class_weight)")
        kwargs = dict(loss_kwargs or {})
        kwargs.update({k: v for k, v in (("l1", l1), ("l2", l2)) if v is not None})
        loss = self.function(
            self.layers, target=target, loss_function=self.loss_function, deterministic=deterministic, **kwargs
        )
        predictions = get_output(output_layer, deterministic=deterministic, **kwargs.get("get_output_kw", {}) or {})
        return loss, predictions


class ProbaScore:
    """A scorer ``(net, X, y) -> func(y, net.predict_proba(X))``: nolearn's ``custom_scores`` entry.

    Examples
    --------
    >>> class Net:
    ...     def predict_proba(self, X): return np.array([[0.75, 0.25], [0.5, 0.5]])
    >>> ProbaScore(lambda y, p: float(p[np.arange(2), y].mean()))(Net(), None, np.array([0, 1]))
    0.625
    """

    def __init__(self, func):
        self.func = func

    def __call__(self, net, X, y):
        return self.func(y, net.predict_proba(X))


class ExpressionScore:
    """A scorer from nolearn's ``scores_train``/``scores_valid`` entry ``func(predictions, target)``.

    ``func`` builds a symbolic scalar from symbolic predictions and targets
    (as nolearn's did with Theano); it is compiled once, on first use, and
    evaluated on the network's output and the targets as the loss sees them.

    Examples
    --------
    >>> score = ExpressionScore(lambda p, t: T.mean(T.abs(p - t)))
    >>> class Net:
    ...     targets_ = RegressorTargets().fit(np.array([1.0, 3.0]))
    ...     def _forward(self, X): return np.array([[2.0], [2.0]], dtype='float32')
    >>> score(Net(), None, np.array([1.0, 3.0]))
    1.0
    """

    def __init__(self, func):
        self.func = func

    def __call__(self, net, X, y):
        output, target = np.asarray(net._forward(X)), np.asarray(net.targets_.encode(y))
        if getattr(self, "_fn", None) is None:
            p = T.tensor(dtype=str(output.dtype), shape=(None,) * output.ndim, name="predictions")
            t = T.tensor(dtype=str(target.dtype), shape=(None,) * target.ndim, name="target")
            self._fn = pytensor.function([p, t], self.func(p, t))
        return float(self._fn(output, target))

    def __getstate__(self):
        return {"func": self.func}


def _check_named_functions(name, value):
    if value is None:
        return []
    entries = list(value) if isinstance(value, (list, tuple)) else None
    if entries is None or not all(
        isinstance(e, (list, tuple)) and len(e) == 2 and isinstance(e[0], str) and callable(e[1]) for e in entries
    ):
        raise ValueError(f"{name} must be a list of (name, callable) pairs, got {value!r}")
    return entries


class NolearnOptionsMixin:
    """The nolearn options of :class:`~sknet.NeuralNet`; see ``docs/migrating-from-nolearn.md``.

    Parameters
    ----------
    objective : callable, optional
        nolearn's ``objective(layers, target=, loss_function=, deterministic=, **objective_kwargs)``
        returning the scalar loss (see :func:`objective`, the default); the
        ``objective__*`` parameters (``l1``, ``l2``, ``get_output_kw`` ...) go to it.
    regression : None or bool
        None (default): the estimator's own kind (``NeuralNet``: generic,
        y as given). False: ``NeuralNet`` is a classifier (labels through
        ``classes_``, categorical cross-entropy, ``predict_proba``); True: a
        regressor (squared error, ``predict`` shaped like y).
    y_tensor_type : TensorType, optional
        Checked against y (its rank and integer/float kind); sknet derives the
        target variable from y itself.
    use_label_encoder : None or bool
        Accepted for nolearn code: classifier labels always go through
        ``classes_`` (with labels 0..n-1 that is what nolearn's False gave).
    custom_scores : list of (name, callable), optional
        ``f(y, proba)`` computed on the validation part each epoch, recorded
        in the history under ``name`` (printed by PrintLog), y in the user's labels.
    scores_train, scores_valid : list of (name, callable), optional
        ``f(predictions, target)`` building a symbolic scalar, evaluated on the
        training batches' / validation outputs each epoch, recorded under ``name``.
    more_params : dict, optional
        Further routed parameters (``{'hidden_num_units': 50}``), as keywords would give them.
    check_input : bool
        False skips scikit-learn's validation of X and y in ``fit`` (the input
        shapes are still checked).

    Examples
    --------
    >>> from sknet import NeuralNet
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> net = NeuralNet([(InputLayer, {}), (DenseLayer, {'num_units': 2})], regression=False)
    >>> net.get_params()['regression'], net._estimator_kind()
    (False, 'classifier')
    """

    def _all_routed(self):
        return {**(getattr(self, "more_params", None) or {}), **self._routed}

    def _estimator_kind(self):
        regression = getattr(self, "regression", None)
        if regression is None:
            return {ClassifierTargets: "classifier", RegressorTargets: "regressor"}.get(self._targets_class)
        return "regressor" if regression else "classifier"

    def check_options(self):
        """Raise ValueError naming the first bad nolearn option (called by ``fit`` before compiling)."""
        if self.objective is not None and not callable(self.objective):
            raise ValueError(f"objective must be a callable objective(layers, target, ...), got {self.objective!r}")
        if self.regression not in (None, True, False):
            raise ValueError(f"regression must be None, True or False, got {self.regression!r}")
        if self.regression is not None and self._targets_class is not Targets:
            if (self.regression and self._targets_class is ClassifierTargets) or (
                not self.regression and self._targets_class is RegressorTargets
            ):
                raise ValueError(f"regression={self.regression} contradicts {type(self).__name__}")
        if self.use_label_encoder not in (None, True, False):
            raise ValueError(f"use_label_encoder must be a bool, got {self.use_label_encoder!r}")
        if self.check_input not in (True, False):
            raise ValueError(f"check_input must be a bool, got {self.check_input!r}")
        if self.more_params is not None and not isinstance(self.more_params, dict):
            raise ValueError(f"more_params must be a dict of routed parameters, got {self.more_params!r}")
        if self.y_tensor_type is not None and not hasattr(self.y_tensor_type, "ndim"):
            raise ValueError(f"y_tensor_type must be a tensor type such as T.ivector, got {self.y_tensor_type!r}")
        names = [n for key in ("custom_scores", "scores_train", "scores_valid") for n, _ in self._scores(key)]
        if len(set(names)) < len(names):
            raise ValueError(f"custom_scores / scores_train / scores_valid repeat a name: {names}")

    def _scores(self, key):
        return _check_named_functions(key, getattr(self, key))

    def _score_callbacks(self):
        """``(name, EpochScoring)`` pairs for ``custom_scores``, ``scores_train`` and ``scores_valid``."""
        made = [(n, EpochScoring(ProbaScore(f), name=n)) for n, f in self._scores("custom_scores")]
        made += [(n, EpochScoring(ExpressionScore(f), on_train=True, name=n)) for n, f in self._scores("scores_train")]
        made += [(n, EpochScoring(ExpressionScore(f), name=n)) for n, f in self._scores("scores_valid")]
        return made

    def _make_targets(self, y):
        kind = self._estimator_kind() if self.regression is not None else None
        targets = {"classifier": ClassifierTargets, "regressor": RegressorTargets}.get(kind, self._targets_class)
        if is_multi(self.layers):  # one targets object per output, each of the estimator's kind
            return MultiTargets(targets).fit(y)
        targets = targets().fit(y)
        wanted = self.y_tensor_type
        if wanted is not None:
            have = targets.target_var()
            int_wanted = str(wanted.dtype).startswith(("int", "uint"))
            if wanted.ndim < have.ndim or (int_wanted != str(have.dtype).startswith("int")):
                raise ValueError(
                    f"y_tensor_type {wanted} does not fit y: the targets are {have.type} "
                    f"(y of {np.ndim(y)} dimensions); give a y_tensor_type of that rank and kind, or leave it None"
                )
        return targets

    def _loss_for_compile(self, loss):
        """The elementwise loss, or with ``objective=`` the :class:`Objective` that builds the whole loss."""
        if isinstance(getattr(self, "targets_", None), MultiTargets):
            loss = self.targets_.summed_loss(loss)  # the loss of every output, summed
        return loss if self.objective is None else Objective(self.objective, loss, self.layers_)

    def _bind_unfitted(self, output_layer, named_nonlinearity):
        """A classifier built without y (to load weights) gets the output nonlinearity a fit would give."""
        if self._estimator_kind() == "classifier" and named_nonlinearity is False:
            if hasattr(output_layer, "nonlinearity"):
                output_layer.nonlinearity = ClassifierTargets().default_nonlinearity(output_layer.output_shape[-1])

    def __getattr__(self, name):
        # nolearn code reads routed parameters as attributes (net.update_learning_rate).
        state = self.__dict__
        if name in NOLEARN_OPTIONS:  # a net pickled before the option existed
            return NOLEARN_OPTIONS[name]
        if name.startswith("_") or name.endswith("_") or "_routed" not in state or "layers" not in state:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        routed = self._all_routed()
        if name in routed:
            return routed[name]
        try:
            prefix, rest = self._router().route(name)
        except ValueError:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}") from None
        for key, value in routed.items():
            if self._router().route(key) == (prefix, rest):
                return value
        hyper = state.get("hyperparameters_")
        if hyper is not None and f"{prefix}__{rest}" in hyper.shared:
            return hyper.shared[f"{prefix}__{rest}"]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def classes_(self):
        """The labels seen in fit (classifiers only; several outputs: a tuple, each output's)."""
        targets = getattr(self, "targets_", None)
        if isinstance(targets, MultiTargets) and isinstance(targets.outputs_[0], ClassifierTargets):
            return tuple(t.classes_ for t in targets.outputs_)
        if targets is None or not hasattr(targets, "classes_"):
            raise AttributeError("classes_ is set by fit, for a classifier")
        return targets.classes_

    @available_if(lambda net: net._targets_class is not RegressorTargets)  # scikit-learn: no regressor has it
    def predict_proba(self, X):
        """Class probabilities of a classifier; the network's output otherwise (as nolearn's)."""
        output = self._forward(X)
        targets = getattr(self, "targets_", None)
        return targets.proba(output) if hasattr(targets, "proba") else output

    def predict(self, X):
        """Predictions in the user's terms (labels, or y's shape); the raw output for a generic net.

        A classifier (``regression=False``) whose weights were loaded without
        a fit predicts class indices, as nolearn does without a label encoder.
        """
        output = self._forward(X)
        targets = getattr(self, "targets_", None)
        if targets is None:
            return output.argmax(axis=-1) if self._estimator_kind() == "classifier" else output
        return targets.decode(output)

    def score(self, X, y, sample_weight=None):
        """Accuracy (a classifier) or R² (otherwise) of ``predict(X)`` against y (several outputs: their mean)."""
        check_is_fitted(self)
        if isinstance(getattr(self, "targets_", None), MultiTargets):
            return mean_score(self, X, y, sample_weight, None)
        metric = accuracy_score if self._estimator_kind() == "classifier" else r2_score
        return float(metric(y, self.predict(X), sample_weight=sample_weight))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        kind = self._estimator_kind()
        if kind is not None:
            tags.estimator_type = kind
        if kind == "regressor":
            tags.target_tags.multi_output = True
        return tags
