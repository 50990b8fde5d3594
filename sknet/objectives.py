"""Loss functions and accuracies with Lasagne's names, as PyTensor expressions.

Each loss returns one value per example (an elementwise expression);
:func:`aggregate` reduces it to the scalar a training function minimizes:

>>> from sknet.objectives import categorical_crossentropy, aggregate
>>> p = T.matrix('p'); t = T.ivector('t')
>>> loss = aggregate(categorical_crossentropy(p, t))
>>> loss.ndim
0
"""

import warnings

import pytensor.tensor as T

from .utils import as_tensor_expression, one_hot

__all__ = [
    "align_targets",
    "binary_crossentropy",
    "categorical_crossentropy",
    "squared_error",
    "huber_loss",
    "binary_hinge_loss",
    "multiclass_hinge_loss",
    "aggregate",
    "binary_accuracy",
    "categorical_accuracy",
]


def align_targets(predictions, targets):
    """Give a target vector a trailing axis when predictions are one column.

    A network with a single output unit produces shape ``(n, 1)``; targets
    usually come as ``(n,)``. Without alignment an elementwise loss would
    broadcast to ``(n, n)``.

    Parameters
    ----------
    predictions, targets : PyTensor expressions

    Returns
    -------
    predictions, targets

    Examples
    --------
    >>> p = T.matrix('p', shape=(None, 1)); t = T.vector('t')
    >>> align_targets(p, t)[1].type.shape
    (None, 1)
    """
    if getattr(predictions, "broadcastable", None) == (False, True) and getattr(targets, "ndim", None) == 1:
        targets = as_tensor_expression(targets).dimshuffle(0, "x")
    return predictions, targets


def binary_crossentropy(predictions, targets):
    """Binary cross-entropy ``-(t * log(p) + (1 - t) * log(1 - p))``.

    Parameters
    ----------
    predictions : PyTensor expression
        Probabilities in (0, 1), typically a sigmoid output.
    targets : PyTensor expression
        Targets in [0, 1], same shape (a vector is aligned to a one-column
        matrix of predictions).

    Returns
    -------
    PyTensor expression
        The elementwise loss.

    Notes
    -----
    Predictions are not clipped, as in Lasagne. For sigmoid outputs PyTensor
    rewrites ``log(sigmoid(x))`` into a softplus, which stays finite.

    Examples
    --------
    >>> loss = binary_crossentropy(T.constant([0.5, 0.9]), T.constant([1.0, 0.0]))
    >>> print(np.round(loss.eval(), 4))
    [0.6931 2.3026]
    """
    predictions, targets = align_targets(predictions, targets)
    return -(targets * T.log(predictions) + (1.0 - targets) * T.log(1.0 - predictions))


def categorical_crossentropy(predictions, targets):
    """Categorical cross-entropy between predicted and target distributions.

    Parameters
    ----------
    predictions : PyTensor expression
        Matrix of class probabilities, one row per example (a softmax output).
    targets : PyTensor expression
        Either an integer vector of class indices, giving
        ``-log(p[i, t[i]])``, or a matrix of target distributions (one-hot or
        soft), giving ``-sum_j t[i, j] * log(p[i, j])``.

    Returns
    -------
    PyTensor expression
        One loss per row.

    Notes
    -----
    Predictions are not clipped, so results equal Lasagne's. For a softmax
    output PyTensor rewrites ``log(softmax(x))`` into a log-softmax, which is
    finite even when a probability underflows to 0. With integer targets the
    other columns are masked out with a switch, not multiplied by 0, so an
    exact 0 in a non-target column gives neither NaN loss nor NaN gradient
    (as with Theano's indexing).

    Examples
    --------
    >>> p = T.constant(np.array([[0.5, 0.25, 0.25]], dtype='float32'))
    >>> print(np.round(categorical_crossentropy(p, T.constant([1])).eval(), 4))
    [1.3863]
    """
    predictions = as_tensor_expression(predictions)
    targets = as_tensor_expression(targets)
    if targets.ndim == predictions.ndim:
        return -T.sum(targets * T.log(predictions), axis=-1)
    if targets.ndim != predictions.ndim - 1 or predictions.ndim != 2:
        raise TypeError(
            "categorical_crossentropy expects a prediction matrix with an integer "
            f"target vector or a target matrix; got ranks {predictions.ndim} and {targets.ndim}"
        )
    is_target = one_hot(targets, predictions.shape[1]) > 0
    return -T.sum(T.switch(is_target, T.log(predictions), 0.0), axis=-1)


def squared_error(a, b):
    """Elementwise squared difference ``(a - b) ** 2``.

    Examples
    --------
    >>> squared_error(T.constant([1.0, 2.0]), T.constant([0.0, 4.0])).eval().tolist()
    [1.0, 4.0]
    """
    a, b = align_targets(a, b)
    return T.sqr(a - b)


def huber_loss(predictions, targets, delta=1):
    """Huber loss: squared for small errors, linear for large ones (smooth L1).

    With ``d = |predictions - targets|``::

        loss = 0.5 * d ** 2              if d <= delta
               delta * (d - delta / 2)   otherwise

    Value and slope are continuous at ``d = delta``; ``delta=1`` is the
    smooth L1 loss of Fast R-CNN.

    Parameters
    ----------
    predictions, targets : PyTensor expressions
        Of the same shape (a target vector is aligned to one prediction
        column, as in :func:`squared_error`).
    delta : scalar
        The distance at which the loss turns from quadratic to linear.

    Returns
    -------
    PyTensor expression
        The loss of each prediction, in the aligned shape.

    Examples
    --------
    >>> huber_loss(T.constant([0.5, 3.0]), T.constant([0.0, 0.0])).eval().tolist()
    [0.125, 2.5]
    """
    predictions, targets = align_targets(predictions, targets)
    abs_diff = abs(targets - predictions)
    quadratic = 0.5 * T.sqr(abs_diff)
    linear = delta * (abs_diff - delta / 2.0)
    return T.switch(abs_diff <= delta, quadratic, linear)


def binary_hinge_loss(predictions, targets, delta=1, log_odds=None, binary=True):
    """Hinge loss ``max(0, delta - t * s)`` for a binary problem.

    Parameters
    ----------
    predictions : PyTensor expression
        Scores ``s``: log-odds (real numbers) when ``log_odds`` is True,
        otherwise probabilities in (0, 1) that are turned into log-odds
        ``log(p / (1 - p))``.
    targets : PyTensor expression
        Targets in {0, 1} when ``binary`` is True (mapped to {-1, 1}),
        otherwise already in {-1, 1}.
    delta : scalar
        The margin: a score on the right side by at least ``delta`` costs 0.
    log_odds : bool or None
        As in Lasagne, None means True but warns (``FutureWarning``) that
        the default may change; pass it explicitly.
    binary : bool

    Returns
    -------
    PyTensor expression
        ``max(0, delta - t * s)`` for each score, zero past the margin.

    Examples
    --------
    >>> s = T.constant([2.0, 0.5, -1.0])
    >>> binary_hinge_loss(s, T.constant([1.0, 1.0, 1.0]), log_odds=True).eval().tolist()
    [0.0, 0.5, 2.0]
    """
    if log_odds is None:
        warnings.warn(
            "binary_hinge_loss: pass log_odds explicitly; None means True (predictions "
            "are log-odds), as in Lasagne, but this default may change.",
            FutureWarning,
            stacklevel=2,
        )
        log_odds = True
    if not log_odds:
        predictions = T.log(predictions / (1.0 - predictions))
    if binary:
        targets = 2 * targets - 1
    predictions, targets = align_targets(predictions, targets)
    return T.maximum(delta - predictions * targets, 0.0)


def multiclass_hinge_loss(predictions, targets, delta=1):
    """Multi-class hinge loss ``max(0, max_{j != t} p_j - p_t + delta)``.

    Parameters
    ----------
    predictions : PyTensor expression
        Matrix of scores, one row per example (at least two columns).
    targets : PyTensor expression
        Integer class vector or one-hot matrix.
    delta : scalar
        The margin.

    Returns
    -------
    PyTensor expression
        One loss per row.

    Examples
    --------
    >>> p = T.constant(np.array([[0.2, 0.7, 0.1], [0.1, 0.3, 0.6]], dtype='float32'))
    >>> print(np.round(multiclass_hinge_loss(p, T.constant([1, 0])).eval(), 4))
    [0.5 1.5]
    """
    predictions = as_tensor_expression(predictions)
    targets = as_tensor_expression(targets)
    if targets.ndim == predictions.ndim - 1:
        targets = one_hot(targets, predictions.shape[1])
    elif targets.ndim != predictions.ndim:
        raise TypeError(f"rank mismatch between targets ({targets.ndim}) and predictions ({predictions.ndim})")
    is_target = targets > 0
    correct = T.sum(T.switch(is_target, predictions, 0.0), axis=1)
    # -inf can never be the maximum of a row with another class in it, so
    # the target column drops out of the max without advanced indexing.
    rest = T.max(T.switch(is_target, -float("inf"), predictions), axis=1)
    return T.maximum(rest - correct + delta, 0.0)


def aggregate(loss, weights=None, mode="mean"):
    """Reduce an elementwise loss to a scalar, optionally weighted.

    Parameters
    ----------
    loss : PyTensor expression
    weights : PyTensor expression, optional
        Broadcastable to ``loss``; multiplies it before the reduction.
    mode : {'mean', 'sum', 'normalized_sum'}
        ``'normalized_sum'`` divides the weighted sum by the sum of the
        weights (and needs ``weights``).

    Returns
    -------
    scalar PyTensor expression

    Examples
    --------
    >>> l = T.constant([1.0, 2.0, 3.0]); w = T.constant([1.0, 0.0, 1.0])
    >>> float(aggregate(l, w, mode='normalized_sum').eval())
    2.0
    """
    if weights is not None:
        loss = loss * weights
    if mode == "mean":
        return loss.mean()
    if mode == "sum":
        return loss.sum()
    if mode == "normalized_sum":
        if weights is None:
            raise ValueError(
                "aggregate: mode='normalized_sum' requires weights (normalized sums require weights to divide by)"
            )
        return loss.sum() / weights.sum()
    raise ValueError(f"aggregate: mode must be 'mean', 'sum' or 'normalized_sum', got {mode!r}")


def binary_accuracy(predictions, targets, threshold=0.5):
    """Whether each thresholded prediction (``p >= threshold``) equals its target.

    Examples
    --------
    >>> acc = binary_accuracy(T.constant([0.2, 0.6, 0.5]), T.constant([0, 1, 0]))
    >>> acc.eval().tolist()
    [True, True, False]
    """
    predictions, targets = align_targets(predictions, targets)
    return T.eq(T.ge(predictions, threshold), targets)


def categorical_accuracy(predictions, targets, top_k=1):
    """Whether the target class is among the ``top_k`` highest predictions.

    Parameters
    ----------
    predictions : PyTensor expression
        Scores or probabilities, classes on the last axis.
    targets : PyTensor expression
        Integer classes (one rank less) or one-hot / probability targets
        (same rank; their argmax is the class).
    top_k : int

    Returns
    -------
    PyTensor expression
        Booleans, one per example.

    Examples
    --------
    >>> p = T.constant(np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]], dtype='float32'))
    >>> categorical_accuracy(p, T.constant([2, 2]), top_k=2).eval().tolist()
    [True, True]
    """
    predictions = as_tensor_expression(predictions)
    targets = as_tensor_expression(targets)
    if targets.ndim == predictions.ndim:
        targets = T.argmax(targets, axis=-1)
    elif targets.ndim != predictions.ndim - 1:
        raise TypeError(f"rank mismatch between targets ({targets.ndim}) and predictions ({predictions.ndim})")
    if top_k == 1:
        return T.eq(T.argmax(predictions, axis=-1), targets)
    top = T.argsort(predictions, axis=-1)[..., -top_k:]
    return T.any(T.eq(top, T.shape_padright(targets)), axis=-1)
