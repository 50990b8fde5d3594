"""Epoch-path search: a grid search over hyper-parameters and epoch counts that trains each run once.

:class:`EpochSearchCV` behaves like scikit-learn's
:class:`~sklearn.model_selection.GridSearchCV` over ``param_grid`` with
``max_epochs`` added (same ``cv_results_`` keys and rows, ``best_params_``,
refit), but each (candidate, fold) is trained once, up to the largest epoch
count, and the held-out fold is scored at every listed epoch on the way. A net
after epoch ``e`` of a longer run is the net a run of ``e`` epochs ends with
(same seeds, same batches), so the scores equal GridSearchCV's bit for bit
when training is deterministic (a fixed ``random_state``) and no callback
changes the weights when training ends (``EarlyStopping`` with
``restore_best_weights``: there an intermediate epoch is scored with its own
weights, not the restored ones).
"""

import numbers
import time
import traceback
import warnings

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing, get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from .batch_iterators import is_dict_input, num_samples
from .callbacks import Callback
from .estimator import NeuralNet

__all__ = ["EpochSearchCV", "max_epochs_param"]


def max_epochs_param(estimator):
    """The parameter name of the net's ``max_epochs`` in ``estimator`` (a net or a Pipeline ending in one).

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sknet import NeuralNetClassifier
    >>> max_epochs_param(Pipeline([('scale', StandardScaler()), ('net', NeuralNetClassifier([]))]))
    'net__max_epochs'
    """
    prefix, step = "", estimator
    while isinstance(step, Pipeline):
        name, step = step.steps[-1]
        prefix += f"{name}__"
    if not isinstance(step, NeuralNet):
        raise ValueError(
            f"EpochSearchCV needs a sknet net or a Pipeline whose last step is one; got "
            f"{type(step).__name__} as the {'last step' if prefix else 'estimator'}"
        )
    return prefix + "max_epochs"


def _rows(X, index):
    if X is None:
        return None
    if is_dict_input(X):
        return {key: _safe_indexing(value, index) for key, value in X.items()}
    return _safe_indexing(X, index)


def _fold_params(params, n_samples, index):
    """Fit parameters for one fold: arrays with one entry per sample are cut to ``index``, as GridSearchCV does."""
    out = {}
    for key, value in params.items():
        per_sample = hasattr(value, "__len__") and not isinstance(value, (str, dict)) and np.ndim(value) > 0
        out[key] = _rows(value, index) if per_sample and len(value) == n_samples else value
    return out


def _candidates(grids, key, epochs):
    """``(base, rows, where)``: the candidates without epochs, GridSearchCV's rows with them, and for
    each row the index of its candidate and of its epoch count.

    Rows come in the order (and with the key order) ``ParameterGrid`` gives
    the grids with ``key: epochs`` added; positions are matched, never values.

    Examples
    --------
    >>> base, rows, where = _candidates([{'lr': [0.1, 0.2]}], 'max_epochs', [5, 10])
    >>> rows[1], where
    ({'lr': 0.1, 'max_epochs': 10}, [(0, 0), (0, 1), (1, 0), (1, 1)])
    """
    base, rows, where = [], [], []
    for grid in grids:
        positions = {name: range(len(values)) for name, values in grid.items()}
        candidates = list(ParameterGrid(positions))
        offset = len(base)
        base += [{name: grid[name][i] for name, i in c.items()} for c in candidates]
        for row in ParameterGrid({**positions, key: range(len(epochs))}):
            rows.append({name: epochs[i] if name == key else grid[name][i] for name, i in row.items()})
            e = row.pop(key)
            where.append((offset + candidates.index(row), e))
    return base, rows, where


def _metric(scores, name):
    return scores[name] if isinstance(scores, dict) else scores


def _as_dict(scores):
    return scores if isinstance(scores, dict) else {"score": scores}


class _EpochPath(Callback):
    """Call ``evaluate(epoch)`` at the end of each listed epoch (shared, never copied, by the net)."""

    def __init__(self, epochs=(), evaluate=None):
        self.epochs = epochs
        self.evaluate = evaluate

    def __sklearn_clone__(self):
        return self

    def on_epoch_end(self, net, epoch=None, **kwargs):
        if epoch in self.epochs:
            self.evaluate(epoch)


def _fit_path(estimator, key, X, y, train, test, params, epochs, scorer, fit_params, error_score, return_train_score):
    """Train one (candidate, fold) up to ``max(epochs)``, scoring the held-out fold at each listed epoch.

    Returns one dict per epoch of ``epochs`` (sorted): ``test_scores`` and
    ``train_scores`` (dicts), ``fit_time`` (seconds of training to that
    epoch), ``score_time`` and ``error`` (a traceback or None).
    """
    est = clone(estimator).set_params(**clone(params, safe=False))
    X_train, y_train, X_test, y_test = _rows(X, train), _rows(y, train), _rows(X, test), _rows(y, test)
    fit_params = _fold_params(fit_params, num_samples(X), train)
    results, scoring = {}, [0.0]
    start = time.perf_counter()

    def score(epoch):
        fit_time = time.perf_counter() - start - scoring[0]
        t0 = time.perf_counter()
        record = {"fit_time": fit_time, "error": None}
        try:
            record["test_scores"] = _as_dict(scorer(est, X_test, y_test))
            if return_train_score:
                record["train_scores"] = _as_dict(scorer(est, X_train, y_train))
        except Exception:
            if error_score == "raise":
                raise
            warnings.warn(
                f"Scoring failed at epoch {epoch}; the score is set to {error_score}:\n{traceback.format_exc()}",
                UserWarning,
                stacklevel=2,
            )
            record["test_scores"] = record["train_scores"] = error_score
        record["score_time"] = time.perf_counter() - t0
        scoring[0] += record["score_time"]
        results[epoch] = record

    # The last epoch is scored after fit returns, as GridSearchCV scores a finished fit.
    path = _EpochPath(frozenset(epochs[:-1]), score)
    net_prefix = key[: -len("max_epochs")]
    net = est.get_params()[net_prefix[:-2]] if net_prefix else est
    est.set_params(**{key: epochs[-1], f"{net_prefix}callbacks": list(net.callbacks or []) + [("epoch_path", path)]})
    try:
        est.fit(X_train, y_train, **fit_params)
    except Exception:
        if error_score == "raise":
            raise
        error = traceback.format_exc()
        for epoch in epochs:
            if epoch not in results:
                results[epoch] = {
                    "fit_time": time.perf_counter() - start - scoring[0],
                    "score_time": 0.0,
                    "test_scores": error_score,
                    "train_scores": error_score,
                    "error": error,
                }
    else:
        # Epochs training never reached (early stopping, divergence) get the final net, as a shorter run would.
        for epoch in epochs:
            if epoch not in results:
                score(epoch)
    return [results[epoch] for epoch in epochs]


def _has(name):
    """Whether the search offers ``name``: it refits, and the (refitted) estimator has it."""

    def check(search):
        if search.refit is False:
            return False
        return hasattr(search.best_estimator_ if hasattr(search, "best_estimator_") else search.estimator, name)

    return check


def _delegate(name):
    """The method ``name`` of :class:`EpochSearchCV`: ``best_estimator_.<name>(X)``, as GridSearchCV has."""

    def method(self, X):
        check_is_fitted(self, "best_estimator_")
        return getattr(self.best_estimator_, name)(X)

    method.__name__ = name
    method.__qualname__ = f"EpochSearchCV.{name}"
    method.__doc__ = f"``best_estimator_.{name}(X)``."
    return available_if(_has(name))(method)


class EpochSearchCV(MetaEstimatorMixin, BaseEstimator):
    """GridSearchCV over ``param_grid`` and epoch counts, training each (candidate, fold) once.

    Each candidate of ``param_grid`` is trained on each fold for
    ``max(epochs)`` epochs; at the end of every epoch listed in ``epochs`` the
    held-out fold is scored, so one run gives the scores of ``len(epochs)``
    rows. ``cv_results_`` has the rows and keys GridSearchCV gives for
    ``param_grid`` with ``max_epochs: epochs`` added (``params``,
    ``param_<name>``, ``split<k>_test_score``, ``mean/std/rank_test_score``,
    ``mean/std_fit_time`` and ``mean/std_score_time``); the fit time of a row
    is the time its run took to reach that epoch (its scoring excluded).

    Parameters
    ----------
    estimator : NeuralNet or Pipeline
        A sknet net, or a Pipeline whose last step is one (its ``max_epochs``
        is then searched as ``<step>__max_epochs``; the held-out fold goes
        through the fitted earlier steps as in ``pipeline.score``).
    param_grid : dict or list of dicts
        As GridSearchCV's, without ``max_epochs``.
    epochs : list of int
        The epoch counts to score.
    scoring : None, str, callable, list or dict
        As GridSearchCV's (None: the estimator's ``score``).
    n_jobs : int, optional
        Runs in parallel (joblib), one job per (candidate, fold).
    refit : bool, str or callable
        Refit the best row (with its ``max_epochs``) on all the data; a str
        names the metric with multi-metric scoring, a callable picks the
        index from ``cv_results_``.
    cv : int, cross-validation generator or iterable
        As GridSearchCV's.
    verbose : int
    pre_dispatch : int or str
    error_score : 'raise' or float
        The score of a row whose fit or scoring failed.
    return_train_score : bool

    Attributes
    ----------
    cv_results_ : dict of arrays
    best_index_, best_score_, best_params_, best_estimator_ : as GridSearchCV's
        ``best_params_`` includes ``max_epochs``.
    scorer_, n_splits_, refit_time_, multimetric_

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknet import NeuralNetClassifier
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> X, y = load_iris(return_X_y=True)
    >>> net = NeuralNetClassifier([(InputLayer, {}), (DenseLayer, {})], train_split=False, random_state=0)
    >>> search = EpochSearchCV(net, {'update__learning_rate': [0.01, 0.1]}, epochs=[1, 5], cv=3).fit(X, y)
    >>> [sorted(p.items()) for p in search.cv_results_['params'][:2]]
    [[('max_epochs', 1), ('update__learning_rate', 0.01)], [('max_epochs', 1), ('update__learning_rate', 0.1)]]
    >>> search.best_params_['max_epochs'] in (1, 5)
    True
    """

    def __init__(
        self,
        estimator,
        param_grid,
        epochs,
        *,
        scoring=None,
        n_jobs=None,
        refit=True,
        cv=None,
        verbose=0,
        pre_dispatch="2*n_jobs",
        error_score=np.nan,
        return_train_score=False,
    ):
        self.estimator = estimator
        self.param_grid = param_grid
        self.epochs = epochs
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.refit = refit
        self.cv = cv
        self.verbose = verbose
        self.pre_dispatch = pre_dispatch
        self.error_score = error_score
        self.return_train_score = return_train_score

    def _check(self):
        key = max_epochs_param(self.estimator)
        epochs = self.epochs
        if (
            isinstance(epochs, (str, bytes))
            or not hasattr(epochs, "__iter__")
            or not len(epochs)
            or not all(isinstance(e, numbers.Integral) and not isinstance(e, bool) and e >= 1 for e in epochs)
        ):
            raise ValueError(f"epochs must be a non-empty list of positive integers, got {epochs!r}")
        if len(set(epochs)) != len(epochs):
            raise ValueError(f"epochs has repeated values: {list(epochs)}")
        grids = [self.param_grid] if isinstance(self.param_grid, dict) else list(self.param_grid)
        for grid in grids:
            if key in grid:
                raise ValueError(f"param_grid sets {key!r}; give the epoch counts in epochs= instead")
        if not (self.error_score == "raise" or isinstance(self.error_score, numbers.Number)):
            raise ValueError(f"error_score must be 'raise' or a number, got {self.error_score!r}")
        ParameterGrid(grids)  # checks the grid's form
        return key, [int(e) for e in epochs], grids

    def fit(self, X, y=None, *, groups=None, **fit_params):
        """Run the search, then refit the best row on all of (X, y); returns self.

        Parameters
        ----------
        X, y : array-like
        groups : array-like, optional
            Group labels for a group-aware ``cv``.
        **fit_params
            Passed to the estimator's ``fit``; arrays with one entry per
            sample are cut to each training fold (as GridSearchCV does).
        """
        key, listed, grids = self._check()
        epochs = sorted(listed)
        base, rows, where = _candidates(grids, key, listed)
        where = [(candidate, epochs.index(listed[e])) for candidate, e in where]
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y, groups))
        self.n_splits_ = len(splits)
        self.scorer_ = check_scoring(self.estimator, scoring=self.scoring)
        self.multimetric_ = not (callable(self.scoring) or self.scoring is None or isinstance(self.scoring, str))
        self._check_refit()
        if self.verbose > 0:
            print(
                f"Fitting {len(splits)} folds for each of {len(base)} candidates, up to {epochs[-1]} epochs "
                f"(scored at {epochs}), totalling {len(splits) * len(base)} fits"
            )
        jobs = Parallel(n_jobs=self.n_jobs, pre_dispatch=self.pre_dispatch, verbose=self.verbose)(
            delayed(_fit_path)(
                self.estimator,
                key,
                X,
                y,
                train,
                test,
                params,
                epochs,
                self.scorer_,
                fit_params,
                self.error_score,
                self.return_train_score,
            )
            for params in base
            for train, test in splits
        )
        paths = np.empty((len(base), len(splits)), dtype=object)
        for index, path in enumerate(jobs):
            paths[divmod(index, len(splits))] = path
        self._warn_failures(paths, len(rows) * len(splits))
        self.cv_results_ = self._results(rows, where, paths)
        self._select_best(X, y, fit_params)
        return self

    def _check_refit(self):
        if self.multimetric_ and self.refit is not False and not callable(self.refit):
            names = list(self.scoring) if not isinstance(self.scoring, dict) else list(self.scoring.keys())
            if not isinstance(self.refit, str) or self.refit not in names:
                raise ValueError(
                    f"With several metrics, refit must be False, a callable or one of {names}; got {self.refit!r}"
                )

    def _warn_failures(self, paths, n_fits):
        errors = [rec["error"] for path in paths.ravel() for rec in path if rec["error"] is not None]
        if not errors:
            return
        if len(errors) == n_fits:
            raise ValueError(f"All the {n_fits} fits failed. The first error:\n{errors[0]}")
        warnings.warn(
            f"{len(errors)} fits failed out of a total of {n_fits}; their score is "
            f"error_score={self.error_score}. The first error:\n{errors[0]}",
            FitFailedWarning,
            stacklevel=3,
        )

    def _results(self, rows, where, paths):
        n_rows, n_splits = len(rows), paths.shape[1]
        records = [[paths[c, k][e] for k in range(n_splits)] for c, e in where]
        results = {}

        def store(name, values, splits=False, rank=False):
            array = np.asarray(values, dtype=np.float64).reshape(n_rows, n_splits)
            if splits:
                for k in range(n_splits):
                    results[f"split{k}_{name}"] = array[:, k]
            means = array.mean(axis=1)
            results[f"mean_{name}"] = means
            results[f"std_{name}"] = np.sqrt(((array - means[:, None]) ** 2).mean(axis=1))
            if name.startswith(("train_", "test_")) and not np.all(np.isfinite(means)):
                warnings.warn(
                    f"One or more of the {name.split('_')[0]} scores are non-finite: {means}", UserWarning, stacklevel=4
                )
            if rank:
                if np.isnan(means).all():
                    results[f"rank_{name}"] = np.ones(n_rows, dtype=np.int32)
                else:
                    filled = np.where(np.isnan(means), np.nanmin(means) - 1, means)
                    results[f"rank_{name}"] = rankdata(-filled, method="min").astype(np.int32)

        store("fit_time", [[r["fit_time"] for r in row] for row in records])
        store("score_time", [[r["score_time"] for r in row] for row in records])
        for name, masked in self._param_arrays(rows).items():
            results[name] = masked
        results["params"] = rows
        names = self._metric_names(records)
        for kind in ("test",) + (("train",) if self.return_train_score else ()):
            for name in names:
                values = [[_metric(r[f"{kind}_scores"], name) for r in row] for row in records]
                store(f"{kind}_{name}", values, splits=True, rank=kind == "test")
        return results

    @staticmethod
    def _metric_names(records):
        for row in records:
            for rec in row:
                if isinstance(rec["test_scores"], dict):
                    return list(rec["test_scores"])
        return ["score"]

    @staticmethod
    def _param_arrays(rows):
        names = []
        for row in rows:
            names += [k for k in row if k not in names]
        arrays = {}
        for name in sorted(names):
            present = {i: row[name] for i, row in enumerate(rows) if name in row}
            try:
                dense = np.array(list(present.values()))
                dtype = dense.dtype if dense.dtype.kind != "U" and dense.ndim == 1 else object
            except ValueError:
                dtype = object
            masked = np.ma.MaskedArray(np.empty(len(rows), dtype=dtype), mask=True)
            for i, value in present.items():
                masked[i] = value
            arrays[f"param_{name}"] = masked
        return arrays

    def _select_best(self, X, y, fit_params):
        results = self.cv_results_
        if callable(self.refit):
            self.best_index_ = int(self.refit(results))
        elif self.refit is not False or not self.multimetric_:
            metric = self.refit if self.multimetric_ else "score"
            self.best_index_ = int(np.argmin(results[f"rank_test_{metric}"]))
            self.best_score_ = float(results[f"mean_test_{metric}"][self.best_index_])
        if hasattr(self, "best_index_"):
            self.best_params_ = results["params"][self.best_index_]
        if self.refit is not False:
            start = time.perf_counter()
            self.best_estimator_ = clone(self.estimator).set_params(**clone(self.best_params_, safe=False))
            self.best_estimator_.fit(X, y, **fit_params)
            self.refit_time_ = time.perf_counter() - start

    # Delegation to the refitted estimator, as GridSearchCV does.

    predict = _delegate("predict")
    predict_proba = _delegate("predict_proba")
    decision_function = _delegate("decision_function")
    transform = _delegate("transform")

    def score(self, X, y=None):
        """The refit metric of ``best_estimator_`` on (X, y)."""
        check_is_fitted(self, "best_estimator_")
        scores = self.scorer_(self.best_estimator_, X, y)
        return scores[self.refit] if isinstance(scores, dict) else scores

    @property
    def classes_(self):
        """``best_estimator_.classes_``."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.classes_

    @property
    def n_features_in_(self):
        """``best_estimator_.n_features_in_``."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.n_features_in_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        sub = get_tags(self.estimator)
        tags.estimator_type = sub.estimator_type
        tags.classifier_tags, tags.regressor_tags = sub.classifier_tags, sub.regressor_tags
        tags.input_tags = sub.input_tags
        return tags
