"""Mini-batches and train/validation splits: BatchIterator, TrainSplit, FixedSplit."""

import numpy as np
from scipy.sparse import issparse
from sklearn.base import BaseEstimator, is_classifier
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils import check_random_state

__all__ = [
    "BatchIterator",
    "TrainSplit",
    "FixedSplit",
    "configured",
    "split_data",
    "is_dict_input",
    "num_samples",
    "take",
]


def is_dict_input(X):
    """True for a dict of arrays keyed by input layer name (sparse dok matrices are not).

    Examples
    --------
    >>> is_dict_input({'a': np.zeros(2)}), is_dict_input(np.zeros(2))
    (True, False)
    """
    return isinstance(X, dict) and not issparse(X)


def num_samples(X):
    """Number of samples in X (a numpy array, a DataFrame or a dict of arrays).

    Examples
    --------
    >>> num_samples({'a': np.zeros((3, 2)), 'b': np.zeros((3,))})
    3
    """
    if is_dict_input(X):
        lengths = {len(v) for v in X.values()}
        if len(lengths) != 1:
            raise ValueError(f"The arrays of a dict X differ in length: {sorted(lengths)}")
        return lengths.pop()
    return len(X)


def take(X, index):
    """Rows ``index`` (a slice or an integer array) of X, whatever its container.

    A slice of a numpy array is a view: no data is copied.

    Examples
    --------
    >>> take(np.arange(5), slice(1, 3))
    array([1, 2])
    >>> take({'a': np.arange(5)}, np.array([4, 0]))
    {'a': array([4, 0])}
    """
    if X is None:
        return None
    if is_dict_input(X):
        return {key: take(value, index) for key, value in X.items()}
    if hasattr(X, "iloc"):
        return X.iloc[index]
    return X[index]


class BatchIterator(BaseEstimator):
    """Cut (X, y) into mini-batches; subclass and override :meth:`transform` to augment.

    Calling the iterator with data returns a fresh generator, so one iterator
    can serve many fits at once and keeps no state between them except its
    random generator (created on first use from ``random_state``).

    Parameters
    ----------
    batch_size : int
        Samples per batch; the last batch may be shorter.
    shuffle : bool
        Visit the samples in a new random order on every call.
    random_state : None, int or numpy.random.RandomState
        Seeds the shuffling.
    seed : None or int
        nolearn's name for ``random_state`` (used when ``random_state`` is None).

    Examples
    --------
    >>> it = BatchIterator(batch_size=2)
    >>> [(xb.tolist(), yb.tolist()) for xb, yb in it(np.arange(5), np.arange(5) * 10)]
    [([0, 1], [0, 10]), ([2, 3], [20, 30]), ([4], [40])]
    """

    def __init__(self, batch_size=128, shuffle=False, random_state=None, seed=None):
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.seed = seed

    def __call__(self, X, y=None, sample_weight=None):
        """Return a generator of ``(Xb, yb)`` batches (``(Xb, yb, wb)`` with sample_weight)."""
        self._check_params()
        return self._batches(X, y, sample_weight)

    def _check_params(self):
        """Raise ValueError for a batch_size that is not a positive integer (the net calls it before compiling)."""
        size = self.batch_size
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"{type(self).__name__}: batch_size must be a positive integer, got {size!r}")

    def _batches(self, X, y, sample_weight):
        n = num_samples(X)
        bs = int(self.batch_size)
        order = None
        if self.shuffle:
            if getattr(self, "_rng", None) is None:
                self._rng = check_random_state(_seed(self))
            order = self._rng.permutation(n)
        for start in range(0, n, bs):
            index = slice(start, start + bs) if order is None else order[start : start + bs]
            batch = self.transform(take(X, index), take(y, index))
            if sample_weight is not None:
                batch = (*batch, sample_weight[index])
            yield batch

    def n_batches(self, X):
        """Number of batches one pass over X gives.

        Examples
        --------
        >>> BatchIterator(batch_size=2).n_batches(np.zeros(5))
        3
        """
        return -(-num_samples(X) // int(self.batch_size))

    def transform(self, Xb, yb):
        """Return the batch to train on; the default returns it unchanged.

        Parameters
        ----------
        Xb : array or dict of arrays
        yb : array or None

        Returns
        -------
        (Xb, yb)

        Examples
        --------
        >>> class Flip(BatchIterator):
        ...     def transform(self, Xb, yb):
        ...         return Xb[:, ::-1], yb
        >>> next(iter(Flip()(np.array([[1, 2]]))))[0]
        array([[2, 1]])
        """
        return Xb, yb

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_rng", None)
        return state


def _seed(obj):
    """``random_state``, or nolearn's ``seed`` where random_state is unset."""
    return obj.random_state if obj.random_state is not None else getattr(obj, "seed", None)


class TrainSplit(BaseEstimator):
    """Split (X, y) into a training part and a validation part, nolearn style.

    Parameters
    ----------
    eval_size : float, int or None
        Fraction (0 < eval_size < 1) or number of validation samples; None or
        0 trains on everything.
    stratify : None or bool
        Keep class proportions in both parts; None lets the estimator decide
        (classifiers stratify).
    shuffle : bool
        Draw the validation samples at random rather than taking the last ones.
    random_state : None, int or numpy.random.RandomState
    seed : None or int
        nolearn's name for ``random_state`` (used when ``random_state`` is None).

    Called directly, as nolearn's, it returns ``X_train, X_valid, y_train,
    y_valid``; without validation the validation parts are empty (length 0).

    Examples
    --------
    >>> X, y = np.arange(10).reshape(5, 2), np.arange(5)
    >>> X_tr, X_va, y_tr, y_va = TrainSplit(eval_size=0.4, shuffle=False)(X, y, None)
    >>> y_tr.tolist(), y_va.tolist()
    ([0, 1, 2], [3, 4])
    """

    def __init__(self, eval_size=0.2, stratify=None, shuffle=True, random_state=None, seed=None):
        self.eval_size = eval_size
        self.stratify = stratify
        self.shuffle = shuffle
        self.random_state = random_state
        self.seed = seed

    def _check_params(self):
        """Raise ValueError for an eval_size that is neither None, a fraction in [0, 1) nor a count >= 0."""
        size = self.eval_size
        if size is None:
            return
        if isinstance(size, bool) or not isinstance(size, (int, np.integer, float, np.floating)):
            raise ValueError(f"TrainSplit: eval_size must be a fraction in [0, 1) or a count, got {size!r}")
        if isinstance(size, (float, np.floating)) and not 0 <= size < 1:
            raise ValueError(f"TrainSplit: eval_size must be a fraction in [0, 1) as a float, got {size!r}")
        if size < 0:
            raise ValueError(f"TrainSplit: eval_size must not be negative, got {size!r}")

    def _n_valid(self, n):
        self._check_params()
        size = self.eval_size
        if size is None or size == 0:
            return 0
        if isinstance(size, (float, np.floating)):
            n_valid = int(np.ceil(size * n))
        else:
            n_valid = int(size)
        # With too few samples there is nothing sensible to hold out.
        return n_valid if 0 < n_valid < n else 0

    def __call__(self, X, y, net=None):
        train, valid = self.split_indices(num_samples(X), y, net)
        if len(valid) == 0:
            return X, take(X, valid), y, take(y, valid)
        return take(X, train), take(X, valid), take(y, train), take(y, valid)

    def split_indices(self, n, y, net=None):
        """Sorted ``(train, valid)`` index arrays for ``n`` samples.

        Examples
        --------
        >>> TrainSplit(eval_size=0.5, shuffle=False).split_indices(4, None)
        (array([0, 1]), array([2, 3]))
        """
        n_valid = self._n_valid(n)
        if n_valid == 0:
            return np.arange(n), np.arange(0)
        stratify = self.stratify
        if stratify is None:
            stratify = net is not None and is_classifier(net)
        if not self.shuffle:
            train, valid = np.arange(n - n_valid), np.arange(n - n_valid, n)
        else:
            rng = check_random_state(_seed(self))
            splitter = ShuffleSplit(n_splits=1, test_size=n_valid, random_state=rng)
            if stratify and y is not None:
                _, counts = np.unique(y, return_counts=True)
                # Stratification needs two members per class and room for each
                # class on both sides; otherwise fall back to a plain shuffle.
                if counts.min() >= 2 and len(counts) <= min(n_valid, n - n_valid):
                    splitter = StratifiedShuffleSplit(n_splits=1, test_size=n_valid, random_state=rng)
            y_for_split = y if y is not None else np.zeros(n)
            train, valid = next(splitter.split(np.zeros((n, 1)), y_for_split))
            train.sort()
            valid.sort()
        return train, valid


class FixedSplit(BaseEstimator):
    """Use a given validation set instead of splitting the training data.

    Pass it as ``train_split=FixedSplit(X_valid, y_valid)``.

    Parameters
    ----------
    X_valid : array, DataFrame or dict of arrays
    y_valid : array

    Examples
    --------
    >>> split = FixedSplit(np.ones((2, 3)), np.array([0, 1]))
    >>> X_tr, X_va, y_tr, y_va = split(np.zeros((4, 3)), np.zeros(4), None)
    >>> X_tr.shape, X_va.shape
    ((4, 3), (2, 3))
    """

    def __init__(self, X_valid, y_valid):
        self.X_valid = X_valid
        self.y_valid = y_valid

    def __call__(self, X, y, net=None):
        return X, self.X_valid, y, self.y_valid


def configured(given, default, params=None, seed=None):
    """A fresh iterator or split for one fit: a clone of ``given`` (or ``default``) with ``params`` set.

    An unset ``random_state`` gets ``seed``, so a net's ``random_state``
    fixes shuffling and splitting; bad settings raise ValueError now, before
    anything compiles.

    Examples
    --------
    >>> it = configured(None, BatchIterator(), {'batch_size': 32}, seed=0)
    >>> it.batch_size, it.random_state
    (32, 0)
    """
    from sklearn.base import clone

    obj = default if given is None else clone(given, safe=False)
    if params:
        obj.set_params(**params)
    if getattr(obj, "random_state", 0) is None and getattr(obj, "seed", None) is None:
        obj.random_state = seed
    check = getattr(obj, "_check_params", None)
    if check is not None:
        check()
    return obj


def split_data(split, X, y, w=None, net=None):
    """``(X_train, X_valid, y_train, y_valid, w_train)`` by a net's ``train_split_``.

    ``split`` is None (no validation), a :class:`TrainSplit` (sample weights
    follow its indices) or any callable ``split(X, y, net)``; an empty
    validation part becomes None.

    Examples
    --------
    >>> parts = split_data(TrainSplit(0.25, shuffle=False), np.arange(8), np.arange(8), np.ones(8))
    >>> [p.tolist() for p in parts[1:3]], len(parts[4])
    ([[6, 7], [0, 1, 2, 3, 4, 5]], 6)
    """
    if split is None:
        return X, None, y, None, w
    if isinstance(split, TrainSplit):
        train, valid = split.split_indices(num_samples(X), y, net)
        if len(valid) == 0:
            return X, None, y, None, w
        return take(X, train), take(X, valid), take(y, train), take(y, valid), take(w, train)
    X_tr, X_va, y_tr, y_va = split(X, y, net)
    if w is not None and num_samples(X_tr) != len(w):
        raise ValueError("sample_weight needs train_split to be a TrainSplit (or to keep all of X for training)")
    if X_va is not None and num_samples(X_va) == 0:
        X_va = y_va = None
    return X_tr, X_va, y_tr, y_va, w
