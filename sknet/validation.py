"""Checks of the data and settings a net is given, all made before anything compiles."""

import numpy as np
from scipy.sparse import issparse
from sklearn.utils import compute_sample_weight
from sklearn.utils.validation import check_array, check_consistent_length, validate_data

from .backend import FLOATX
from .batch_iterators import is_dict_input, num_samples

__all__ = [
    "check_numeric",
    "check_X",
    "check_X_y",
    "check_input_shapes",
    "check_sample_weight",
    "check_validation_data",
    "check_max_epochs",
    "check_learning_rates",
    "expected_failed_checks",
]

_SGD_REASON = (
    "minibatch SGD: repeating a sample changes the number and composition of the batches (and the "
    "validation split), so weights are not equivalent to repetition, only close in expectation"
)


def check_numeric(X, name):
    """Raise, naming ``name``, when X holds strings or objects that are not numbers.

    The exception type is kept (scikit-learn's checks expect TypeError for
    objects that are not numbers).

    Examples
    --------
    >>> check_numeric(np.array([['a']]), 'X')
    Traceback (most recent call last):
    ...
    ValueError: X must hold numbers (it is converted to float32): could not convert string to float: ...'a'...
    """
    if issparse(X) or (isinstance(getattr(X, "dtype", None), np.dtype) and X.dtype.kind in "biufc"):
        return
    try:
        np.asarray(X, dtype=FLOATX)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name} must hold numbers (it is converted to {FLOATX}): {exc}") from exc


def check_X(estimator, X, reset, input_names=None):
    """X as float32 (an array of any rank, a DataFrame, or a dict of arrays).

    Parameters
    ----------
    estimator : BaseEstimator
        Records ``n_features_in_`` (and feature names) when ``reset``.
    X : array-like or dict
    reset : bool
        True in fit, False when predicting.
    input_names : list of str, optional
        Input layer names a dict X must have.

    Examples
    --------
    >>> from sklearn.base import BaseEstimator
    >>> check_X(BaseEstimator(), [[1, 2]], reset=True).dtype
    dtype('float32')
    """
    if is_dict_input(X):
        if not X:
            raise ValueError("X is an empty dict")
        missing = [name for name in input_names or () if name not in X]
        if missing:
            raise ValueError(f"X has no array for input layer {missing[0]!r} (keys: {sorted(X)})")
        out = {}
        for key, value in X.items():
            check_numeric(value, f"X[{key!r}]")
            out[key] = check_array(value, dtype=np.float32, allow_nd=True, ensure_2d=False, input_name=f"X[{key!r}]")
        num_samples(out)
        return out
    check_numeric(X, "X")
    return validate_data(estimator, X, reset=reset, dtype=np.float32, allow_nd=True)


def check_X_y(estimator, X, y, reset, classifier, input_names=None):
    """Validated ``(X, y)`` for fitting; X and y of different lengths raise ValueError.

    Examples
    --------
    >>> from sklearn.base import BaseEstimator
    >>> check_X_y(BaseEstimator(), [[1.0], [2.0]], [1], reset=True, classifier=True)
    Traceback (most recent call last):
    ...
    ValueError: X and y have inconsistent numbers of samples: X has 2, y has 1
    """
    if y is None:
        raise ValueError(f"{type(estimator).__name__} requires y to be passed, but the target y is None.")
    y_params = {"multi_output": False} if classifier else {"multi_output": True, "y_numeric": True}
    if is_dict_input(X):
        X = check_X(estimator, X, reset, input_names)
        y = validate_data(estimator, X="no_validation", y=y, reset=False, **y_params)
        check_consistent_length(next(iter(X.values())), y)
        return X, y
    check_numeric(X, "X")
    try:
        n_X = X.shape[0] if hasattr(X, "shape") else np.shape(X)[0]
        n_y = np.shape(y)[0]
    except (IndexError, TypeError, ValueError):
        n_X = n_y = None  # left to scikit-learn's checks below
    if n_X != n_y:
        raise ValueError(f"X and y have inconsistent numbers of samples: X has {n_X}, y has {n_y}")
    return validate_data(estimator, X, y, reset=reset, dtype=np.float32, allow_nd=True, **y_params)


def check_input_shapes(inputs, X):
    """Raise ValueError unless X fits the input layers: their number, rank and fixed sizes.

    ``inputs`` holds the net's ``(name, InputLayer)`` pairs; X is one array
    for a single input, else a dict keyed by input name.

    Examples
    --------
    >>> from sknet.layers import InputLayer
    >>> check_input_shapes([('input0', InputLayer((None, 3)))], np.zeros((2, 4)))
    Traceback (most recent call last):
    ...
    ValueError: Input layer 'input0' expects data of shape (None, 3) (2 dimensions), got X with shape (2, 4)
    """
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
        # Axis 0 is the batch: a fixed batch size in the spec (nolearn-era code) accepts any number of samples.
        ok = len(shape) == len(expected) and all(e is None or e == s for e, s in zip(expected[1:], shape[1:]))
        if not ok:
            raise ValueError(
                f"Input layer {name!r} expects data of shape {expected} "
                f"({len(expected)} dimensions), got X with shape {shape}"
            )


def check_sample_weight(y, sample_weight, class_weight=None):
    """``sample_weight`` (times ``class_weight``'s weights) as float32 (None: none); bad weights raise ValueError.

    Examples
    --------
    >>> check_sample_weight(np.arange(2), [1, 2]).tolist()
    [1.0, 2.0]
    >>> check_sample_weight(np.arange(2), [0, 0])
    Traceback (most recent call last):
    ...
    ValueError: sample_weight has only zero weights; at least one must be positive
    """
    if class_weight is not None:
        weights = compute_sample_weight(class_weight, y).astype(FLOATX)
        sample_weight = weights if sample_weight is None else weights * check_sample_weight(y, sample_weight)
    if sample_weight is None:
        return None
    sample_weight = np.asarray(sample_weight, dtype=FLOATX).reshape(-1)
    check_consistent_length(y, sample_weight)
    if not np.all(np.isfinite(sample_weight)) or np.any(sample_weight < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    if not np.any(sample_weight > 0):
        raise ValueError("sample_weight has only zero weights; at least one must be positive")
    return sample_weight


def check_validation_data(estimator, X_val, y_val, sample_weight_val, input_names=None, classes=None):
    """``(X_val, y_val, sample_weight_val)`` checked like the training data, or None when not given.

    Parameters
    ----------
    estimator : BaseEstimator
        Fitted on X already (``n_features_in_`` is compared, never reset).
    X_val, y_val : array-like or None
        Both or neither.
    sample_weight_val : array-like or None
        Only with X_val.
    input_names : list of str, optional
        Input layer names a dict X_val must have.
    classes : array, optional
        A classifier's known labels: labels of y_val outside them raise.

    Examples
    --------
    >>> from sklearn.base import BaseEstimator
    >>> est = BaseEstimator(); _ = check_X(est, np.zeros((4, 2)), reset=True)
    >>> check_validation_data(est, None, None, None) is None
    True
    >>> check_validation_data(est, np.zeros((2, 3)), [0, 1], None)
    Traceback (most recent call last):
    ...
    ValueError: X has 3 features, but BaseEstimator is expecting 2 features as input.
    >>> check_validation_data(est, np.zeros((2, 2)), ['a', 'c'], None, classes=np.array(['a', 'b']))
    Traceback (most recent call last):
    ...
    ValueError: y_val has labels that are not in y: ['c']
    """
    if X_val is None and y_val is None:
        if sample_weight_val is not None:
            raise ValueError("sample_weight_val is given, but X_val and y_val are not")
        return None
    if y_val is None:
        raise ValueError("X_val is given, but y_val is not")
    if X_val is None:
        raise ValueError("y_val is given, but X_val is not")
    X_val = check_X(estimator, X_val, reset=False, input_names=input_names)
    y_val = np.asarray(y_val)
    if num_samples(X_val) != len(y_val):
        raise ValueError(f"X_val and y_val have inconsistent numbers of samples: {num_samples(X_val)} and {len(y_val)}")
    if len(y_val) == 0:
        raise ValueError("X_val and y_val are empty")
    if classes is not None:
        unseen = np.setdiff1d(np.unique(y_val), classes)
        if len(unseen):
            raise ValueError(f"y_val has labels that are not in y: {unseen[:10].tolist()}")
    elif y_val.dtype.kind in "fc" and not np.all(np.isfinite(y_val)):
        raise ValueError("y_val contains NaN or infinity")
    return X_val, y_val, check_sample_weight(y_val, sample_weight_val)


def check_max_epochs(max_epochs):
    """Raise ValueError unless ``max_epochs`` is a positive integer.

    Examples
    --------
    >>> check_max_epochs(0)
    Traceback (most recent call last):
    ...
    ValueError: max_epochs must be a positive integer, got 0
    """
    if isinstance(max_epochs, bool) or not isinstance(max_epochs, (int, np.integer)) or max_epochs < 1:
        raise ValueError(f"max_epochs must be a positive integer, got {max_epochs!r}")


def check_learning_rates(routed):
    """Raise ValueError for a routed ``*learning_rate`` number that is not positive.

    Examples
    --------
    >>> check_learning_rates({'update__learning_rate': -1})
    Traceback (most recent call last):
    ...
    ValueError: update__learning_rate must be positive, got -1
    """
    for key, value in routed.items():
        if key.endswith("learning_rate") and np.ndim(value) == 0 and not isinstance(value, bool):
            try:
                positive = bool(value > 0)
            except TypeError:  # a shared variable or an expression (nolearn's theano.shared learning rates)
                continue
            if not positive:
                raise ValueError(f"{key} must be positive, got {value!r}")


def expected_failed_checks(estimator):
    """scikit-learn estimator checks that minibatch SGD cannot meet, with the reason.

    For ``parametrize_with_checks(..., expected_failed_checks=expected_failed_checks)``
    (scikit-learn has no estimator tag for this).

    Examples
    --------
    >>> from sknet import NeuralNetClassifier
    >>> sorted(expected_failed_checks(NeuralNetClassifier([])))
    ['check_sample_weight_equivalence_on_dense_data']
    """
    from .estimator import NeuralNet

    return {"check_sample_weight_equivalence_on_dense_data": _SGD_REASON} if isinstance(estimator, NeuralNet) else {}
