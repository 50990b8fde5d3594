"""nolearn's NeuralNet options, spelled as nolearn scripts spell them: ``regression=``,
``custom_scores``, ``scores_valid``, ``more_params``, ``check_input``, ``fit(epochs=)``, the
nesterov default, ``net.update_learning_rate`` and stopping from ``on_training_finished``."""

import io
from contextlib import redirect_stdout

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.metrics import accuracy_score, log_loss, mean_absolute_error, r2_score

from sknet import NeuralNet, NeuralNetClassifier, NeuralNetRegressor
from sknet import compile as build
from sknet.callbacks import Callback, StopTraining
from sknet.layers import DenseLayer, InputLayer
from sknet.nonlinearities import softmax
from sknet.updates import adam, nesterov_momentum

LAYERS = [("input", InputLayer), ("hidden", DenseLayer), ("output", DenseLayer)]


def nolearn_net(n_features, **kwargs):
    """A net as a nolearn script writes it: legacy layer names and ``prefix_param`` routing."""
    params = dict(input_shape=(None, n_features), hidden_num_units=16, max_epochs=10, random_state=0, verbose=0)
    params.update(kwargs)
    return NeuralNet(layers=LAYERS, **params)


@pytest.fixture(scope="module")
def digit_labels(digits):
    X, y = digits
    return X, np.array([f"digit{v}" for v in y])


def test_regression_true_fits_diabetes(diabetes):
    X, y = diabetes
    net = nolearn_net(10, regression=True, output_num_units=1, output_nonlinearity=None, update_learning_rate=0.01)
    net.fit(X[:300], y[:300])
    assert is_regressor(net) and not is_classifier(net)
    pred = net.predict(X[300:])
    assert pred.shape == (len(X) - 300,)
    assert r2_score(y[300:], pred) > 0.3
    assert net.score(X[300:], y[300:]) == pytest.approx(r2_score(y[300:], pred))


def test_regression_false_is_a_classifier_of_the_users_labels(digit_labels):
    X, y = digit_labels
    net = nolearn_net(
        64,
        regression=False,
        use_label_encoder=True,
        output_num_units=10,
        output_nonlinearity=softmax,
        update_learning_rate=0.1,
        max_epochs=20,
    )
    assert is_classifier(net)
    net.fit(X[:450], y[:450])
    assert list(net.classes_) == sorted(set(y))
    pred = net.predict(X[450:])
    assert pred.dtype.kind == "U" and set(pred) <= set(y)
    assert accuracy_score(y[450:], pred) > 0.85
    proba = net.predict_proba(X[450:])
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(net.classes_[proba.argmax(axis=1)], pred)


def test_neuralnet_defaults_to_nesterov_momentum_and_update_momentum_works(diabetes):
    X, y = diabetes
    net = nolearn_net(10, regression=True, output_num_units=1, output_nonlinearity=None, update_momentum=0.5)
    assert net.update is nesterov_momentum
    assert NeuralNetClassifier([]).update is adam and NeuralNetRegressor([]).update is adam
    net.fit(X[:200], y[:200], epochs=1)
    assert net.get_hyperparameter("update__learning_rate") == pytest.approx(0.01)
    assert net.get_hyperparameter("update__momentum") == pytest.approx(0.5)
    assert clone(net).update is nesterov_momentum


def test_update_learning_rate_read_as_an_attribute_and_adjusted_by_a_hook(diabetes):
    X, y = diabetes
    rates = np.linspace(0.03, 0.001, 4).astype(np.float32)
    seen = []

    def adjust(net, history):  # nolearn's AdjustVariable
        seen.append(float(net.update_learning_rate.get_value()))
        net.update_learning_rate.set_value(rates[len(history) - 1])

    net = nolearn_net(
        10,
        regression=True,
        output_num_units=1,
        output_nonlinearity=None,
        update_learning_rate=pytensor.shared(np.float32(0.03)),
        update_momentum=0.9,
        on_epoch_finished=[adjust],
        max_epochs=4,
    )
    assert net.update_momentum == 0.9
    net.fit(X, y)
    np.testing.assert_allclose(seen, [0.03, *rates[:3]], rtol=1e-6)
    assert float(net.update_learning_rate.get_value()) == pytest.approx(rates[3])
    with pytest.raises(AttributeError, match="update_learnin_rate"):
        net.update_learnin_rate  # noqa: B018


def test_custom_scores_are_recorded_and_printed(digit_labels):
    X, y = digit_labels

    def neg_log_loss(y_true, proba):
        return -log_loss(y_true, proba, labels=sorted(set(y)))

    net = nolearn_net(
        64,
        regression=False,
        output_num_units=10,
        output_nonlinearity=softmax,
        custom_scores=[("acc", lambda y_true, proba: accuracy_score(y_true, np.unique(y)[proba.argmax(1)]))]
        + [("nll", neg_log_loss)],
        max_epochs=3,
        verbose=1,
    )
    with redirect_stdout(io.StringIO()) as out:
        net.fit(X[:450], y[:450], X_val=X[450:], y_val=y[450:])
    last = net.history_[-1]
    assert last["acc"] == pytest.approx(accuracy_score(y[450:], net.predict(X[450:])))
    assert last["nll"] == pytest.approx(neg_log_loss(y[450:], net.predict_proba(X[450:])), rel=1e-4)
    header = out.getvalue()
    assert "acc" in header and "nll" in header


def test_scores_valid_and_scores_train_are_symbolic(diabetes):
    X, y = diabetes

    def mae(predictions, target):
        return T.mean(T.abs(predictions - target))

    net = nolearn_net(
        10,
        regression=True,
        output_num_units=1,
        output_nonlinearity=None,
        scores_valid=[("valid_mae", mae)],
        scores_train=[("train_mae", mae)],
        max_epochs=3,
    )
    net.fit(X[:300], y[:300], X_val=X[300:], y_val=y[300:])
    last = net.history_[-1]
    assert last["valid_mae"] == pytest.approx(mean_absolute_error(y[300:], net.predict(X[300:])), rel=1e-5)
    assert 0 < last["train_mae"] < 2


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("custom_scores", [("auc", "roc_auc")], "custom_scores must be a list of \\(name, callable\\) pairs"),
        ("custom_scores", lambda y, p: 0.0, "custom_scores must be a list"),
        ("scores_valid", [("a", len), ("a", len)], "repeat a name"),
        ("more_params", [("hidden_num_units", 3)], "more_params must be a dict"),
        ("check_input", "yes", "check_input must be a bool"),
        ("regression", "yes", "regression must be None, True or False"),
        ("use_label_encoder", 1.5, "use_label_encoder must be a bool"),
        ("y_tensor_type", "ivector", "y_tensor_type must be a tensor type"),
    ],
)
def test_bad_options_raise_before_compiling(diabetes, monkeypatch, option, value, message):
    X, y = diabetes
    monkeypatch.setattr(build, "compile_train", None)  # compiling would fail differently
    net = nolearn_net(10, **{"regression": True, "output_num_units": 1, option: value})
    assert net.get_params()[option] is value  # __init__ only stores
    with pytest.raises(ValueError, match=message):
        net.fit(X, y)


def test_regression_contradicting_the_subclass_raises(digits, make_classifier):
    X, y = digits
    with pytest.raises(ValueError, match="regression=True contradicts NeuralNetClassifier"):
        make_classifier(regression=True).fit(X, y)


def test_y_tensor_type_is_checked_against_y(digits):
    X, y = digits
    ok = nolearn_net(64, regression=False, y_tensor_type=T.ivector, output_num_units=10, max_epochs=1)
    ok.fit(X[:100], y[:100] + 1)
    assert set(ok.predict(X[:100])) <= set(y + 1)
    bad = nolearn_net(64, regression=True, y_tensor_type=T.ivector, output_num_units=1, max_epochs=1)
    with pytest.raises(ValueError, match="y_tensor_type .* does not fit y"):
        bad.fit(X[:100], y[:100].astype(np.float32))


def test_more_params_route_like_keywords(digits):
    X, y = digits
    net = NeuralNet(LAYERS, regression=False, more_params={"input_shape": (None, 64), "hidden_num_units": 7})
    net.set_params(output_num_units=10, max_epochs=1).fit(X[:100], y[:100])
    assert net.layers_["hidden"].num_units == 7
    assert clone(net).get_params()["more_params"] == {"input_shape": (None, 64), "hidden_num_units": 7}
    keyword_wins = net.set_params(hidden_num_units=5).initialize()
    assert keyword_wins.layers_["hidden"].num_units == 5


def test_check_input_false_skips_scikit_learns_validation(diabetes):
    X, y = diabetes
    net = nolearn_net(10, regression=True, output_num_units=1, check_input=False, max_epochs=1)
    net.fit(X, y)
    assert not hasattr(net, "n_features_in_")
    checked = nolearn_net(10, regression=True, output_num_units=1, max_epochs=1).fit(X, y)
    assert checked.n_features_in_ == 10


def test_fit_epochs_trains_that_many(digit_labels):
    X, y = digit_labels
    net = nolearn_net(64, regression=False, output_num_units=10, max_epochs=10)
    net.fit(X[:200], y[:200], epochs=3)
    assert len(net.history_) == 3


def test_load_params_from_on_an_unfitted_classifier_then_predict(digits):
    X, y = digits
    fitted = nolearn_net(64, regression=False, output_num_units=10, max_epochs=5).fit(X, y)
    fresh = nolearn_net(64, regression=False, output_num_units=10)
    fresh.load_params_from(fitted)
    np.testing.assert_array_equal(fresh.predict(X), fitted.predict(X))
    np.testing.assert_allclose(fresh.predict_proba(X), fitted.predict_proba(X), rtol=1e-5)


class StopAtEnd(Callback):
    def on_train_end(self, net, **kwargs):
        raise StopTraining("done")


def test_stopping_in_on_train_end_does_not_escape_fit(diabetes):
    X, y = diabetes

    def finished(net, history):
        raise StopIteration

    net = nolearn_net(10, output_num_units=1, max_epochs=2, on_training_finished=[finished])
    assert len(net.fit(X, y).history_) == 2
    net.set_params(on_training_finished=None, callbacks=[StopAtEnd()])
    assert len(net.fit(X, y).history_) == 2


def test_router_is_built_once_per_spec(monkeypatch):
    net = nolearn_net(10)
    calls = []
    original = build.spec_layer_names
    monkeypatch.setattr(build, "spec_layer_names", lambda spec: calls.append(1) or original(spec))
    for _ in range(3):
        net.set_params(hidden_num_units=8)
        net.get_params()
    assert len(calls) <= 1
    net.set_params(layers=list(LAYERS))
    net.set_params(output_num_units=3)
    assert len(calls) <= 2


def test_objective_callable_gets_layers_target_and_objective_params(diabetes):
    from sknet.nolearn_options import objective

    X, y = diabetes
    seen = []

    def doubled(layers, loss_function, target, deterministic=False, get_output_kw=None, **kwargs):
        seen.append((list(layers.keys()), deterministic, get_output_kw, sorted(kwargs)))
        return 2 * objective(layers, loss_function, target, deterministic=deterministic, get_output_kw=get_output_kw)

    net = nolearn_net(
        10,
        regression=True,
        output_num_units=1,
        output_nonlinearity=None,
        objective=doubled,
        objective_get_output_kw={},
        objective_l2=1e-4,
        max_epochs=3,
    )
    net.fit(X[:300], y[:300], X_val=X[300:], y_val=y[300:])
    assert ([["input", "hidden", "output"]] * 2, [False, True]) == ([s[0] for s in seen], [s[1] for s in seen])
    assert all(s[2] == {} and s[3] == ["l2"] for s in seen)
    mse = np.mean((net.predict(X[300:]) - y[300:]) ** 2)
    assert net.history_[-1]["valid_loss"] == pytest.approx(2 * mse, rel=1e-4)
    with pytest.raises(ValueError, match="objective= takes no sample weights"):
        net.fit(X, y, sample_weight=np.ones(len(y)))


def test_grid_search_sees_the_nolearn_options(digit_labels):
    from sklearn.model_selection import GridSearchCV

    X, y = digit_labels
    net = NeuralNet(
        LAYERS, input_shape=(None, 64), output_num_units=10, regression=False, update_learning_rate=0.1, max_epochs=4
    )
    grid = {"more_params": [{"hidden_num_units": 2}, {"hidden_num_units": 32}]}
    search = GridSearchCV(net, grid, cv=2).fit(X[:300], y[:300])
    assert search.best_params_ == {"more_params": {"hidden_num_units": 32}}
    assert search.best_estimator_.layers_["hidden"].num_units == 32
    assert search.best_estimator_.predict(X[300:320]).dtype.kind == "U"


def test_custom_scores_set_on_a_warm_started_net_apply_to_its_next_fit(diabetes):
    X, y = diabetes
    net = nolearn_net(10, regression=True, output_num_units=1, output_nonlinearity=None, warm_start=True, max_epochs=1)
    net.fit(X, y)
    net.set_params(custom_scores=[("r2", lambda y_true, output: r2_score(y_true, output[:, 0]))])
    net.fit(X, y)
    assert [("r2" in record) for record in net.history_] == [False, True]
