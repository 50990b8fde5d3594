"""transform / get_feature_names_out / set_output and decision_function, against numpy references."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import TunedThresholdClassifierCV
from sklearn.pipeline import Pipeline

from sknet import NeuralNetClassifier
from sknet.layers import Conv2DLayer, DenseLayer, InputLayer


def _relu(x):
    return np.maximum(x, 0)


@pytest.fixture(scope="module")
def fitted(digits, make_classifier):
    X, y = digits
    return make_classifier(max_epochs=3).fit(X, np.array(list("abcdefghij"))[y])


@pytest.fixture(scope="module")
def binary(digits, make_classifier):
    """Digits 3 vs 8 (labels 'three'/'eight') with a 1-unit sigmoid output and with a 2-unit softmax one."""
    X, y = digits
    keep = np.isin(y, [3, 8])
    X, y = X[keep], np.where(y[keep] == 3, "three", "eight")
    spec2 = [(InputLayer, {}), (DenseLayer, {"num_units": 16}), (DenseLayer, {"num_units": 2})]
    sigmoid = make_classifier(max_epochs=4, train_split=False).fit(X, y)
    softmax = make_classifier(layers=spec2, max_epochs=4, train_split=False).fit(X, y)
    return X, y, sigmoid, softmax


def test_transform_is_the_hidden_layer(fitted, digits):
    X, _ = digits
    W, b = fitted.layers_["dense1"].W.get_value(), fitted.layers_["dense1"].b.get_value()
    features = fitted.transform(X)
    assert features.dtype == np.float32 and features.shape == (len(X), 16)
    np.testing.assert_allclose(features, _relu(X @ W + b), rtol=1e-5, atol=1e-5)
    names = fitted.get_feature_names_out()
    assert names.tolist() == [f"dense1_{i}" for i in range(16)]
    with pytest.raises(ValueError, match="input_features has 2 names"):
        fitted.get_feature_names_out(["a", "b"])


def test_transform_layer_by_name_and_errors(fitted, digits):
    X, _ = digits
    net = fitted.set_params(transform_layer="dense2")
    try:
        np.testing.assert_allclose(net.transform(X[:5]), net.predict_proba(X[:5]), rtol=1e-6)
        with pytest.raises(ValueError, match="transform_layer: No layer named 'dens1'; did you mean 'dense1'"):
            net.set_params(transform_layer="dens1").transform(X[:5])
    finally:
        net.set_params(transform_layer=None)


def test_set_output_pandas(fitted, digits):
    pd = pytest.importorskip("pandas")
    X, _ = digits
    df = pd.DataFrame(X[:4], index=[10, 11, 12, 13])
    out = fitted.set_output(transform="pandas").transform(df)
    try:
        assert isinstance(out, pd.DataFrame) and list(out.columns) == list(fitted.get_feature_names_out())
        assert list(out.index) == [10, 11, 12, 13]
        np.testing.assert_array_equal(out.to_numpy(), fitted.transform(X[:4]))
        assert clone(fitted)._sklearn_output_config == {"transform": "pandas"}  # clone keeps it
    finally:
        fitted.set_output(transform="default")


def test_conv_maps_flattened(make_classifier):
    rng = np.random.RandomState(0)
    X, y = rng.rand(12, 1, 5, 5).astype(np.float32), np.arange(12) % 3
    spec = [(InputLayer, {}), (Conv2DLayer, {"num_filters": 2, "filter_size": 3}), (DenseLayer, {})]
    net = make_classifier(layers=spec, max_epochs=1, train_split=False).fit(X, y)
    maps = net.get_output("conv2d1", X)
    np.testing.assert_array_equal(net.transform(X), maps.reshape(12, -1))
    assert net.transform(X).shape == (12, 18) and net.get_feature_names_out()[-1] == "conv2d1_17"


def test_decision_function_multiclass_logits(fitted, digits):
    X, _ = digits
    logits = fitted.decision_function(X)
    W, b = fitted.layers_["dense2"].W.get_value(), fitted.layers_["dense2"].b.get_value()
    np.testing.assert_allclose(logits, fitted.transform(X) @ W + b, rtol=1e-4, atol=1e-4)
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(proba / proba.sum(axis=1, keepdims=True), fitted.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(fitted.classes_[logits.argmax(axis=1)], fitted.predict(X))


@pytest.mark.parametrize("which", ["sigmoid", "softmax"])
def test_decision_function_binary(binary, which):
    X, y, sigmoid, softmax = binary
    net = sigmoid if which == "sigmoid" else softmax
    scores = net.decision_function(X)
    assert scores.shape == (len(X),)
    np.testing.assert_allclose(1 / (1 + np.exp(-scores)), net.predict_proba(X)[:, 1], atol=1e-5)
    np.testing.assert_array_equal(np.where(scores > 0, net.classes_[1], net.classes_[0]), net.predict(X))
    assert roc_auc_score(y == net.classes_[1], scores) > 0.95


def test_calibration_and_threshold_tuning(binary, make_classifier):
    X, y, _, _ = binary
    net = make_classifier(max_epochs=4, train_split=False)
    calibrated = CalibratedClassifierCV(net, method="sigmoid", cv=2, ensemble=False).fit(X, y)
    assert np.mean(calibrated.predict(X) == y) > 0.9
    tuned = TunedThresholdClassifierCV(net, response_method="decision_function", cv=2, scoring="balanced_accuracy").fit(
        X, y
    )
    assert np.isfinite(tuned.best_threshold_) and np.mean(tuned.predict(X) == y) > 0.9


def test_features_in_a_pipeline(digits, make_classifier):
    X, y = digits
    pipe = Pipeline(
        [("net", make_classifier(max_epochs=10, train_split=False)), ("logreg", LogisticRegression(max_iter=500))]
    ).fit(X[:400], y[:400])
    own = pipe.named_steps["net"].score(X[400:], y[400:])
    # The 16 hidden units carry what the net learned: a linear model on them does about as well as the net.
    assert pipe.score(X[400:], y[400:]) > max(0.75, own - 0.1)
    assert pipe[:-1].get_feature_names_out().tolist()[:2] == ["dense1_0", "dense1_1"]


def test_prebuilt_network_transform_layer_object(digits):
    X, y = digits
    hidden = DenseLayer(InputLayer((None, 64)), 8, name="hidden")
    out = DenseLayer(hidden, 10, nonlinearity=None)
    from sknet.nonlinearities import softmax

    out.nonlinearity = softmax
    net = NeuralNetClassifier(out, transform_layer=hidden, max_epochs=1, random_state=0).fit(X, y)
    assert net.transform(X).shape == (len(X), 8) and net.get_feature_names_out()[0] == "hidden_0"
