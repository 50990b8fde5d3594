"""EpochSearchCV against GridSearchCV: same rows, keys and scores, each (candidate, fold) trained once."""

import time

import numpy as np
import pytest
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknet.function_cache import compile_count
from sknet.model_selection import EpochSearchCV, max_epochs_param

GRID = {"update__learning_rate": [0.003, 0.03]}
EPOCHS = [2, 4, 6, 8]


@pytest.fixture(scope="module")
def searches(digits, make_classifier):
    """GridSearchCV and EpochSearchCV over the same 2 x 4 grid on digits, cv=3, with their costs."""
    X, y = digits
    labels = np.array(list("abcdefghij"))[y]  # the user's own labels
    net = make_classifier()
    out = {}
    for name, search in [
        ("grid", GridSearchCV(net, {**GRID, "max_epochs": EPOCHS}, cv=3)),
        ("epoch", EpochSearchCV(net, GRID, epochs=EPOCHS, cv=3)),
    ]:
        compiled, start = compile_count(), time.perf_counter()
        search.fit(X, labels)
        out[name] = (search, time.perf_counter() - start, compile_count() - compiled)
    print(
        f"\nwall time: GridSearchCV {out['grid'][1]:.2f} s, EpochSearchCV {out['epoch'][1]:.2f} s "
        f"(ratio {out['epoch'][1] / out['grid'][1]:.2f}); compilations {out['grid'][2]} and {out['epoch'][2]}"
    )
    return out


def test_scores_equal_gridsearch_bit_for_bit(searches):
    grid, epoch = searches["grid"][0].cv_results_, searches["epoch"][0].cv_results_
    assert [sorted(p.items()) for p in epoch["params"]] == [sorted(p.items()) for p in grid["params"]]
    for key in ["mean_test_score", "std_test_score", "split0_test_score", "split1_test_score", "split2_test_score"]:
        np.testing.assert_array_equal(epoch[key], grid[key], err_msg=key)
    np.testing.assert_array_equal(epoch["rank_test_score"], grid["rank_test_score"])
    assert epoch["mean_test_score"].max() > 0.8  # digits are learned, not a degenerate tie


def test_same_keys_and_best_as_gridsearch(searches):
    grid, epoch = searches["grid"][0], searches["epoch"][0]
    assert sorted(epoch.cv_results_) == sorted(grid.cv_results_)
    np.testing.assert_array_equal(epoch.cv_results_["param_max_epochs"], grid.cv_results_["param_max_epochs"])
    assert epoch.best_params_ == grid.best_params_ and "max_epochs" in epoch.best_params_
    assert epoch.best_index_ == grid.best_index_ and epoch.best_score_ == grid.best_score_
    assert epoch.best_estimator_.max_epochs == epoch.best_params_["max_epochs"]
    assert epoch.best_estimator_.n_iter_ == epoch.best_params_["max_epochs"]
    X = np.random.RandomState(1).randn(5, 64).astype(np.float32)
    np.testing.assert_array_equal(epoch.predict(X), grid.predict(X))
    assert set(epoch.classes_) == set("abcdefghij")


def test_costs_less_than_gridsearch(searches):
    # The 8-epoch runs only: 8 of the 20 epochs GridSearchCV trains per (rate, fold).
    assert searches["epoch"][1] < searches["grid"][1]
    fit_times = searches["epoch"][0].cv_results_["mean_fit_time"].reshape(4, 2)
    assert np.all(np.diff(fit_times, axis=0) > 0)  # a row's fit time is the time to reach its epoch


def test_pipeline_scores_equal_gridsearch(digits, make_classifier):
    X, y = digits
    pipe = Pipeline([("scale", StandardScaler()), ("net", make_classifier())])
    grid = GridSearchCV(
        pipe, {"net__update__learning_rate": [0.01], "net__max_epochs": [1, 3]}, cv=2, scoring="f1_macro"
    ).fit(X[:300], y[:300])
    search = EpochSearchCV(pipe, {"net__update__learning_rate": [0.01]}, epochs=[1, 3], cv=2, scoring="f1_macro").fit(
        X[:300], y[:300]
    )
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], grid.cv_results_["mean_test_score"])
    assert search.best_params_ == grid.best_params_
    assert search.best_estimator_.named_steps["net"].n_iter_ == search.best_params_["net__max_epochs"]


def _stop_after_3(net, history):
    if len(history) == 3:
        raise StopIteration("three epochs")


def test_stopped_runs_and_parallel_jobs_equal_gridsearch(digits, make_classifier):
    """Epochs a stopped run never reaches get its final net, as GridSearchCV's shorter-stopped runs; n_jobs=2 too."""
    X, y = digits
    net = make_classifier(on_epoch_finished=[_stop_after_3])
    grid = GridSearchCV(net, {"max_epochs": [2, 5]}, cv=2).fit(X[:300], y[:300])
    for n_jobs in (None, 2):
        search = EpochSearchCV(net, {}, epochs=[2, 5], cv=2, n_jobs=n_jobs).fit(X[:300], y[:300])
        np.testing.assert_array_equal(search.cv_results_["mean_test_score"], grid.cv_results_["mean_test_score"])
    assert search.best_estimator_.n_iter_ == 3


def test_validation_data_routed_through_a_pipeline(digits, make_classifier):
    """fit(X_val=, y_val=) reaches the net (through the Pipeline's scaler) and scores stay GridSearchCV's."""
    import sklearn

    X, y = digits
    X = X * 4 + 1
    with sklearn.config_context(enable_metadata_routing=True):
        net = make_classifier().set_fit_request(X_val=True, y_val=True)
        pipe = Pipeline([("scale", StandardScaler()), ("net", net)], transform_input=["X_val"])
        kw = dict(X_val=X[400:], y_val=y[400:])
        grid = GridSearchCV(pipe, {"net__max_epochs": [1, 3]}, cv=2).fit(X[:400], y[:400], **kw)
        search = EpochSearchCV(pipe, {}, epochs=[1, 3], cv=2).fit(X[:400], y[:400], **kw)
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], grid.cv_results_["mean_test_score"])
    best = search.best_estimator_
    assert len(best[-1].history_) == 3 and best[-1].best_epoch_ is not None
    accuracy = np.mean(best.predict(X[400:]) == y[400:])
    assert best[-1].history_[-1]["valid_accuracy"] == pytest.approx(accuracy)  # the validation set was X_val


def test_multimetric_and_train_scores(digits, make_classifier):
    X, y = digits
    search = EpochSearchCV(
        make_classifier(),
        {},
        epochs=[1, 2],
        cv=2,
        scoring=["accuracy", "f1_macro"],
        refit="f1_macro",
        return_train_score=True,
    ).fit(X[:200], y[:200])
    results = search.cv_results_
    for key in ["mean_test_accuracy", "rank_test_f1_macro", "split1_train_accuracy", "mean_train_f1_macro"]:
        assert results[key].shape == (2,)
    assert search.best_score_ == results["mean_test_f1_macro"][search.best_index_]


def test_error_score(digits, make_classifier):
    X, y = digits
    net = make_classifier()
    grid = {"update__learning_rate": [0.01, -1.0]}  # a negative rate fails in fit, before compiling
    with pytest.warns(FitFailedWarning, match="4 fits failed out of a total of 8"):
        search = EpochSearchCV(net, grid, epochs=[1, 2], cv=2, error_score=-5.0).fit(X[:200], y[:200])
    failed = np.array([p["update__learning_rate"] < 0 for p in search.cv_results_["params"]])
    assert np.all(search.cv_results_["mean_test_score"][failed] == -5.0)
    assert np.all(search.cv_results_["mean_test_score"][~failed] > 0.1)
    with pytest.raises(ValueError, match="learning_rate must be positive"):
        EpochSearchCV(net, grid, epochs=[1], cv=2, error_score="raise").fit(X[:200], y[:200])


def test_rows_are_gridsearch_candidates_in_order():
    """Rows follow ParameterGrid (GridSearchCV's candidates) for lists of grids, arrays and unsorted epochs."""
    from sklearn.model_selection import ParameterGrid

    from sknet.model_selection import _candidates

    grids = [{"b": np.array([0.1, 0.2]), "a": ["x"]}, {"c": [1, 2, 3]}]
    epochs = [8, 2, 4]
    base, rows, where = _candidates(grids, "max_epochs", epochs)
    expected = list(ParameterGrid([{**g, "max_epochs": epochs} for g in grids]))
    assert [list(r.items()) for r in rows] == [list(r.items()) for r in expected]
    for row, (candidate, e) in zip(rows, where):
        assert {**base[candidate], "max_epochs": epochs[e]} == row


def test_bad_input(make_classifier):
    net = make_classifier()
    X, y = np.zeros((10, 2)), np.arange(10) % 2
    with pytest.raises(ValueError, match="epochs must be a non-empty list of positive integers"):
        EpochSearchCV(net, {}, epochs=[0, 2]).fit(X, y)
    with pytest.raises(ValueError, match="param_grid sets 'max_epochs'; give the epoch counts in epochs="):
        EpochSearchCV(net, {"max_epochs": [2]}, epochs=[2]).fit(X, y)
    with pytest.raises(ValueError, match="needs a sknet net or a Pipeline whose last step is one"):
        EpochSearchCV(StandardScaler(), {}, epochs=[2]).fit(X, y)
    assert max_epochs_param(Pipeline([("a", StandardScaler()), ("b", Pipeline([("c", net)]))])) == "b__c__max_epochs"
