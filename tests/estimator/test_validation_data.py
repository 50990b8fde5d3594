"""fit(X_val=, y_val=, sample_weight_val=): validation data replacing the split, best_epoch_, metadata routing."""

import numpy as np
import pytest
import sklearn
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknet.callbacks import Callback, EarlyStopping, EpochScoring

LABELS = np.array(list("abcdefghij"))


class Seen(Callback):
    def on_train_begin(self, net, X_valid=None, y_valid=None, **kwargs):
        self.valid_ = (X_valid, y_valid)


def _reference_loss(net, X, y, w=None):
    """Mean categorical cross-entropy of the net's probabilities, weighted by w, in numpy."""
    proba = net.predict_proba(X).astype(np.float64)
    nll = -np.log(proba[np.arange(len(y)), np.searchsorted(net.classes_, y)])
    return np.average(nll, weights=w)


@pytest.fixture(scope="module")
def split(digits):
    X, y = digits
    return X[:400], LABELS[y[:400]], X[400:], LABELS[y[400:]]


def test_replaces_the_split_and_records_best(split, make_classifier):
    X, y, X_val, y_val = split
    net = make_classifier(callbacks=[("seen", Seen())], max_epochs=6).fit(X, y, X_val=X_val, y_val=y_val)
    X_valid, y_valid = net.callbacks_["seen"].valid_
    np.testing.assert_array_equal(X_valid, X_val)
    np.testing.assert_array_equal(y_valid, y_val)
    # The whole of X trained (no internal split) and the history's valid_loss is the loss on X_val.
    assert net.history_[-1]["valid_loss"] == pytest.approx(_reference_loss(net, X_val, y_val), rel=1e-4)
    assert net.history_[-1]["valid_accuracy"] == pytest.approx(np.mean(net.predict(X_val) == y_val))
    losses = net.history_[:, "valid_loss"]
    assert net.best_epoch_ == int(np.argmin(losses)) + 1 and net.best_score_ == min(losses)
    assert net.n_iter_ == 6 and net.history_[-1]["valid_accuracy"] > 0.8


def test_sample_weight_val_weighs_the_validation_loss(split, make_classifier):
    X, y, X_val, y_val = split
    w = np.where(y_val == "a", 5.0, 1.0)
    net = make_classifier(max_epochs=2).fit(X, y, X_val=X_val, y_val=y_val, sample_weight_val=w)
    assert net.history_[-1]["valid_loss"] == pytest.approx(_reference_loss(net, X_val, y_val, w), rel=1e-4)
    assert net.history_[-1]["valid_accuracy"] == pytest.approx(np.average(net.predict(X_val) == y_val, weights=w))
    # Zero weights on the first batch only: that batch counts for nothing.
    w0 = np.ones(len(y_val))
    w0[:128] = 0
    net.set_params(warm_start=True, max_epochs=1).fit(X, y, X_val=X_val, y_val=y_val, sample_weight_val=w0)
    assert net.history_[-1]["valid_loss"] == pytest.approx(_reference_loss(net, X_val[128:], y_val[128:]), rel=1e-4)


def test_without_validation_best_is_none(split, make_classifier):
    X, y, _, _ = split
    net = make_classifier(max_epochs=1, train_split=False).fit(X, y)
    assert net.best_epoch_ is None and net.best_score_ is None


def test_early_stopping_and_scoring_use_it(split, make_classifier):
    X, y, X_val, y_val = split
    net = make_classifier(max_epochs=3, callbacks=[EpochScoring("f1_macro"), EarlyStopping(patience=1)])
    net.fit(X, y, X_val=X_val, y_val=y_val)
    from sklearn.metrics import f1_score

    assert net.history_[-1]["valid_f1_macro"] == pytest.approx(f1_score(y_val, net.predict(X_val), average="macro"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(X_val=np.zeros((3, 64))), "X_val is given, but y_val is not"),
        (dict(y_val=np.array(["a"])), "y_val is given, but X_val is not"),
        (dict(sample_weight_val=np.ones(3)), "sample_weight_val is given, but X_val and y_val are not"),
        (dict(X_val=np.zeros((3, 5)), y_val=np.array(["a"] * 3)), "X has 5 features, but NeuralNetClassifier"),
        (dict(X_val=np.zeros((3, 64)), y_val=np.array(["a"] * 2)), "inconsistent numbers of samples: 3 and 2"),
        (dict(X_val=np.zeros((2, 64)), y_val=np.array(["a", "zz"])), r"y_val has labels that are not in y: \['zz'\]"),
        (dict(X_val=np.zeros((2, 64)), y_val=np.array(["a", "b"]), sample_weight_val=[1.0]), "inconsistent"),
    ],
)
def test_bad_validation_data_raises_before_compiling(split, make_classifier, kwargs, message):
    from sknet.function_cache import compile_count

    X, y, _, _ = split
    before = compile_count()
    with pytest.raises(ValueError, match=message):
        make_classifier(layers=[(lambda *a, **k: None, {})]).fit(X, y, **kwargs)
    assert compile_count() == before


def test_regressor_validation(diabetes, make_regressor):
    X, y = diabetes
    net = make_regressor(max_epochs=3).fit(X[:300], y[:300], X_val=X[300:], y_val=y[300:])
    mse = np.mean((net.predict(X[300:]) - y[300:]) ** 2)
    assert net.history_[-1]["valid_loss"] == pytest.approx(mse, rel=1e-4)
    with pytest.raises(ValueError, match="y_val contains NaN"):
        make_regressor().fit(X[:300], y[:300], X_val=X[300:302], y_val=[np.nan, 1.0])


def test_pipeline_gridsearch_with_metadata_routing(split, make_classifier):
    """X_val reaches the net through GridSearchCV and a Pipeline that transforms it (transform_input)."""
    X, y, X_val, y_val = split
    X, X_val = X * 10 + 3, X_val * 10 + 3  # the scaler has something to undo
    with sklearn.config_context(enable_metadata_routing=True):
        net = make_classifier(max_epochs=2, callbacks=[("seen", Seen())]).set_fit_request(X_val=True, y_val=True)
        pipe = Pipeline([("scale", StandardScaler()), ("net", net)], transform_input=["X_val"])
        search = GridSearchCV(pipe, {"net__update__learning_rate": [0.003, 0.03]}, cv=2)
        search.fit(X, y, X_val=X_val, y_val=y_val)
    best = search.best_estimator_
    X_valid, _ = best.named_steps["net"].callbacks_["seen"].valid_
    np.testing.assert_allclose(X_valid, best.named_steps["scale"].transform(X_val), rtol=1e-6)
    assert best.named_steps["net"].best_epoch_ in (1, 2)
    assert search.best_score_ > 0.7
