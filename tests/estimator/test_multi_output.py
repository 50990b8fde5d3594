"""Multi-output nets, nolearn's ``layers=[out_a, out_b]``: y a tuple, the summed loss, tuple predictions."""

import numpy as np
import pytensor.tensor as T
import pytest
from sklearn.base import clone
from sklearn.metrics import accuracy_score, r2_score

from sknet import NeuralNet, NeuralNetClassifier, NeuralNetRegressor
from sknet.batch_iterators import TrainSplit, split_data
from sknet.compile import seeded
from sknet.function_cache import compile_count
from sknet.layers import DenseLayer, InputLayer
from sknet.multi_output import MultiOutputLayer, MultiTargets, pack, unpack
from sknet.nonlinearities import softmax
from sknet.objectives import categorical_crossentropy, squared_error
from sknet.targets import ClassifierTargets


def two_heads(n_features, units_a, units_b, nonlinearity=softmax, hidden=32):
    """A shared trunk with two output layers (initial weights seeded: a prebuilt net keeps its own)."""
    with seeded(0):
        trunk = DenseLayer(InputLayer((None, n_features), name="input"), hidden, name="trunk")
        head_a = DenseLayer(trunk, units_a, nonlinearity=nonlinearity, name="a")
        head_b = DenseLayer(trunk, units_b, nonlinearity=nonlinearity, name="b")
    return [head_a, head_b]


@pytest.fixture(scope="module")
def digit_parity(digits):
    """Digits with two label sets: the digit as a string ('d3') and its parity (1 odd, 2 even)."""
    X, y = digits
    return X, np.array([f"d{v}" for v in y]), np.where(y % 2 == 0, 2, 1)


@pytest.fixture(scope="module")
def fitted(digit_parity):
    X, digit, parity = digit_parity
    net = NeuralNetClassifier(two_heads(64, 10, 2, hidden=64), max_epochs=60, random_state=0)
    return net.fit(X[:450], (digit[:450], parity[:450]))


def test_two_heads_on_a_shared_trunk_learn_both_labels(fitted, digit_parity):
    X, digit, parity = digit_parity
    pred_digit, pred_parity = fitted.predict(X[450:])
    assert pred_digit.dtype.kind == "U" and set(pred_digit) <= set(digit)  # the user's labels
    assert set(pred_parity) <= {1, 2}
    acc_digit, acc_parity = accuracy_score(digit[450:], pred_digit), accuracy_score(parity[450:], pred_parity)
    assert acc_digit > 0.8 and acc_parity > 0.85
    # score: the mean of the outputs' accuracies
    assert fitted.score(X[450:], (digit[450:], parity[450:])) == pytest.approx((acc_digit + acc_parity) / 2)
    # the default split held out a validation part of every y
    assert fitted.history_[-1]["valid_loss"] < fitted.history_[0]["valid_loss"]


def test_predict_proba_is_a_tuple_of_probabilities(fitted, digit_parity):
    X = digit_parity[0][450:]
    proba_digit, proba_parity = fitted.predict_proba(X)
    assert proba_digit.shape == (len(X), 10) and proba_parity.shape == (len(X), 2)
    np.testing.assert_allclose(proba_digit.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(proba_parity.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(fitted.predict(X)[1], np.array([1, 2])[proba_parity.argmax(axis=1)])


def test_the_heads_share_one_trunk_and_clone_keeps_it(fitted):
    layers = fitted.layers_
    assert sum(isinstance(layer, InputLayer) for layer in layers.values()) == 1
    assert layers["a"].input_layer is layers["b"].input_layer is layers["trunk"]
    assert clone(fitted).layers is fitted.layers


def test_the_split_takes_the_same_rows_of_every_y(digit_parity):
    X, digit, parity = digit_parity
    y = pack((digit, parity))
    _, _, y_train, y_valid, _ = split_data(TrainSplit(0.25, random_state=0), X, y)
    for part in (y_train, y_valid):
        d, p = unpack(part)
        np.testing.assert_array_equal(np.where(np.char.lstrip(d, "d").astype(int) % 2 == 0, 2, 1), p)
    assert len(y_valid) == 150


@pytest.mark.parametrize("make", [NeuralNetRegressor, lambda layers, **kw: NeuralNet(layers, regression=True, **kw)])
def test_two_regression_outputs_on_diabetes(diabetes, make):
    X, y = diabetes
    # a 1-D target and a 2-column one (two of the inputs, kept in X)
    y2 = np.c_[X[:, 2] + X[:, 3], X[:, 2] - X[:, 3]]
    net = make(two_heads(10, 1, 2, nonlinearity=None), max_epochs=60, random_state=0, update__learning_rate=0.01)
    net.fit(X[:350], (y[:350], y2[:350]))
    pred, pred2 = net.predict(X[350:])
    assert pred.shape == (len(X) - 350,) and pred2.shape == (len(X) - 350, 2)
    r2_a, r2_b = r2_score(y[350:], pred), r2_score(y2[350:], pred2)
    assert r2_a > 0 and r2_b > 0.5
    assert net.score(X[350:], (y[350:], y2[350:])) == pytest.approx((r2_a + r2_b) / 2)


def test_summed_loss_is_the_sum_of_the_outputs_mean_losses():
    out = MultiOutputLayer(two_heads(3, 3, 2))
    targets = MultiTargets(ClassifierTargets).fit((np.array(["x", "y", "z", "x"]), np.array([5, 7, 7, 5])))
    targets.bind(out, default_loss=True)
    rng = np.random.RandomState(0)
    proba_a, proba_b = rng.dirichlet(np.ones(3), 4), rng.dirichlet(np.ones(2), 4)
    predictions = np.hstack([proba_a, proba_b]).astype("float32")
    encoded = targets.encode((np.array(["x", "y", "z", "x"]), np.array([5, 7, 7, 5])))
    loss = targets.default_loss()(T.constant(predictions), T.constant(encoded)).eval()
    expected = -np.log(proba_a[np.arange(4), [0, 1, 2, 0]]) - np.log(proba_b[np.arange(4), [0, 1, 1, 0]])
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    assert categorical_crossentropy.__name__ in targets.default_loss().__name__
    # a regressor's 2-column output: squared error averaged over its columns
    reg = MultiTargets(NeuralNetRegressor._targets_class).fit((np.zeros(4), np.zeros((4, 2))))
    reg.bind(MultiOutputLayer(two_heads(3, 1, 2, nonlinearity=None)), default_loss=True)
    values = rng.rand(4, 3).astype("float32")
    got = reg.summed_loss(squared_error)(T.constant(values), T.constant(np.zeros((4, 3), "float32"))).eval()
    np.testing.assert_allclose(got, values[:, 0] ** 2 + (values[:, 1:] ** 2).mean(axis=1), rtol=1e-5)


@pytest.mark.parametrize(
    "y, message",
    [
        (lambda d, p: d, "y must be a tuple of 2 arrays, one per output"),
        (lambda d, p: (d,), "y has 1 arrays, but this net has 2 output layers"),
        (lambda d, p: (d, p, p), "y has 3 arrays, but this net has 2 output layers"),
        (lambda d, p: (d, p[:-1]), "y\\[1\\] \\(for the output layer 'b'\\) has 99 samples, but X has 100"),
        (lambda d, p: (d, np.zeros((100, 2, 2))), "has shape \\(100, 2, 2\\); each y must be 1-D or 2-D"),
    ],
)
def test_a_y_that_does_not_fit_the_outputs_raises_before_compiling(digit_parity, y, message):
    X, digit, parity = digit_parity
    net = NeuralNetClassifier(two_heads(64, 10, 2), max_epochs=1)
    before = compile_count()
    with pytest.raises(ValueError, match=message):
        net.fit(X[:100], y(digit[:100], parity[:100]))
    assert compile_count() == before


def test_an_output_that_does_not_fit_its_labels_is_named(digit_parity):
    X, digit, parity = digit_parity
    with pytest.raises(ValueError, match="y\\[1\\] and the output layer 'b': The output layer has 3 units but y has 2"):
        NeuralNetClassifier(two_heads(64, 10, 3)).fit(X[:100], (digit[:100], parity[:100]))


def test_a_regressor_rejects_labels_that_are_not_numbers(digit_parity):
    X, digit, parity = digit_parity
    with pytest.raises(ValueError, match="y\\[0\\] \\(for the output layer 'a'\\) must hold numbers"):
        NeuralNetRegressor(two_heads(64, 1, 1, nonlinearity=None)).fit(X[:100], (digit[:100], parity[:100]))


def test_validation_data_warm_start_and_classes(fitted, digit_parity):
    X, digit, parity = digit_parity
    assert [c.tolist() for c in fitted.classes_] == [[f"d{v}" for v in range(10)], [1, 2]]
    net = clone(fitted).set_params(max_epochs=2, warm_start=True)
    net.fit(X[:450], (digit[:450], parity[:450]), X_val=X[450:], y_val=(digit[450:], parity[450:]))
    before = net.history_[-1]["valid_loss"]
    net.fit(X[:450], (digit[:450], parity[:450]), X_val=X[450:], y_val=(digit[450:], parity[450:]))
    assert len(net.history_) == 4 and net.history_[-1]["valid_loss"] < before  # kept training
    with pytest.raises(ValueError, match="y_val\\[1\\] has labels that are not in y\\[1\\]: \\[3\\]"):
        net.fit(X[:450], (digit[:450], parity[:450]), X_val=X[450:], y_val=(digit[450:], parity[450:] + 1))
    with pytest.raises(ValueError, match="class_weight is not supported"):
        clone(fitted).set_params(class_weight="balanced").fit(X[:100], (digit[:100], parity[:100]))


def test_pickle_and_weights_round_trip(fitted, digit_parity, tmp_path):
    import pickle

    X, digit, parity = digit_parity
    expected = fitted.predict_proba(X[450:])
    fitted.save_params_to(tmp_path / "w.npz")
    other = NeuralNetClassifier(two_heads(64, 10, 2, hidden=64), max_epochs=1).fit(X[:40], (digit[:40], parity[:40]))
    other.load_params_from(str(tmp_path / "w.npz"))
    for net in (pickle.loads(pickle.dumps(fitted)), other):
        for got, want in zip(net.predict_proba(X[450:]), expected):
            np.testing.assert_allclose(got, want, rtol=1e-6)
    assert "MultiOutputLayer" in fitted.summary()


def test_transform_returns_the_shared_trunk(fitted, digit_parity):
    X = digit_parity[0][450:]
    trunk = fitted.layers[0].input_layer  # the caller's own layer object names the net's copy
    features = fitted.set_params(transform_layer=trunk).transform(X)
    np.testing.assert_array_equal(features, fitted.get_output("trunk", X))
    assert features.shape == (len(X), 64)
    with pytest.raises(ValueError, match="several incoming layers; name the one transform returns"):
        fitted.set_params(transform_layer=None).transform(X)
