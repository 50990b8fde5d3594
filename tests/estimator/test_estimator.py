"""Fitting, predicting and data handling of NeuralNetClassifier / NeuralNetRegressor."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from sknet import NeuralNet, NeuralNetRegressor, nonlinearities, updates
from sknet.function_cache import compile_count
from sknet.layers import ConcatLayer, DenseLayer, DropoutLayer, InputLayer
from sknet.training import DivergenceError


@pytest.fixture(scope="module")
def fitted(digits, make_classifier):
    X, y = digits
    return make_classifier().fit(X, y)


class TestClassifier:
    def test_learns_digits(self, fitted, digits):
        X, y = digits
        assert fitted.score(X, y) > 0.9
        assert list(fitted.layers_) == ["input0", "dense1", "dense2"]
        assert fitted.layers_["dense2"].output_shape == (None, 10)
        assert fitted.n_features_in_ == 64 and fitted.n_iter_ == 5

    def test_history(self, fitted):
        assert len(fitted.history_) == 5 and fitted.train_history_ is fitted.history_
        for i, rec in enumerate(fitted.history_, 1):
            assert rec["epoch"] == i
            assert {"train_loss", "valid_loss", "valid_accuracy", "dur"} <= set(rec)
        losses = fitted.history_[:, "train_loss"]
        assert losses[-1] < losses[0]

    def test_predict_proba(self, fitted, digits):
        proba = fitted.predict_proba(digits[0][:7])
        assert proba.shape == (7, 10) and proba.dtype == np.float32
        np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
        np.testing.assert_array_equal(fitted.classes_[proba.argmax(1)], fitted.predict(digits[0][:7]))

    def test_string_labels(self, digits, make_classifier):
        X, y = digits
        labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
        net = make_classifier(max_epochs=2).fit(X, labels[y])
        assert set(net.predict(X)) <= set(labels)
        assert net.score(X, labels[y]) > 0.7

    def test_binary_sigmoid_and_softmax(self, digits, make_classifier):
        X, y = digits
        yb = np.where(y < 5, 3, 7)
        sig = make_classifier(
            layers=[(InputLayer, {}), (DenseLayer, {"num_units": 1, "nonlinearity": nonlinearities.sigmoid})]
        )
        sig.fit(X, yb)
        soft = make_classifier(layers=[(InputLayer, {}), (DenseLayer, {})]).fit(X, yb)
        assert soft.layers_["dense1"].output_shape == (None, 2)
        for net in (sig, soft):
            assert net.predict_proba(X).shape == (600, 2)
            assert net.score(X, yb) > 0.8
            np.testing.assert_array_equal(np.unique(net.predict(X)), [3, 7])

    def test_class_and_sample_weight(self, digits, make_classifier):
        X, y = digits
        yb = (y == 0).astype(int)
        plain = make_classifier(max_epochs=3).fit(X, yb)
        weighted = make_classifier(max_epochs=3, class_weight={0: 1.0, 1: 20.0}).fit(X, yb)
        zero_weighted = make_classifier(max_epochs=3).fit(X, yb, sample_weight=np.where(yb == 1, 0.0, 1.0))
        p = [n.predict_proba(X)[:, 1].mean() for n in (zero_weighted, plain, weighted)]
        assert p[0] < p[1] < p[2]

    def test_reproducible(self, digits, make_classifier):
        X, y = digits
        layers = [(InputLayer, {}), (DropoutLayer, {"p": 0.2}), (DenseLayer, {"num_units": 16}), (DenseLayer, {})]
        a = make_classifier(layers=layers, max_epochs=2).fit(X, y).predict_proba(X)
        b = make_classifier(layers=layers, max_epochs=2).fit(X, y).predict_proba(X)
        c = make_classifier(layers=layers, max_epochs=2, random_state=1).fit(X, y).predict_proba(X)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)

    def test_get_output(self, fitted, digits):
        hidden = fitted.get_output("dense1", digits[0][:5])
        assert hidden.shape == (5, 16) and (hidden >= 0).all()
        np.testing.assert_array_equal(hidden, fitted.get_output(fitted.layers_["dense1"], digits[0][:5]))
        with pytest.raises(ValueError, match="did you mean 'dense1'"):
            fitted.get_output("dense_1", digits[0][:5])

    def test_summary(self, fitted):
        assert "dense1  DenseLayer  (None, 16)" in fitted.summary()
        assert "total params: 1210" in fitted.summary()


class TestSpecForms:
    def test_name_class_form(self, digits, make_classifier):
        X, y = digits
        net = make_classifier(
            layers=[("input", InputLayer), ("hidden", DenseLayer), ("output", DenseLayer)],
            hidden__num_units=16,
            hidden_nonlinearity=nonlinearities.tanh,
            max_epochs=2,
        ).fit(X, y)
        assert net.layers_["hidden"].nonlinearity is nonlinearities.tanh
        assert net.layers_["output"].output_shape == (None, 10)
        assert net.score(X, y) > 0.8

    def test_layer_form_does_not_touch_the_given_net(self, digits, make_classifier):
        X, y = digits
        out = DenseLayer(DenseLayer(InputLayer((None, 64)), 16), 10, nonlinearity=nonlinearities.softmax)
        before = out.W.get_value().copy()
        net = make_classifier(layers=out, max_epochs=2).fit(X, y)
        np.testing.assert_array_equal(out.W.get_value(), before)
        assert net.score(X, y) > 0.8

    def test_callable_form(self, digits, make_classifier):
        X, y = digits

        def build(width=4):
            l = InputLayer((None, 64), name="in")
            l = DenseLayer(l, width, name="hidden")
            return DenseLayer(l, 10, nonlinearity=nonlinearities.softmax, name="out")

        net = make_classifier(layers=build, layers__width=12, max_epochs=2).fit(X, y)
        assert list(net.layers_) == ["in", "hidden", "out"]
        assert net.layers_["hidden"].output_shape == (None, 12)

    def test_incoming_by_name_and_dict_input(self, digits, make_classifier):
        X, y = digits
        layers = [
            (InputLayer, {"name": "a"}),
            (InputLayer, {"name": "b"}),
            (DenseLayer, {"incoming": "a", "num_units": 8, "name": "da"}),
            (ConcatLayer, {"incomings": ["da", "b"]}),
            (DenseLayer, {}),
        ]
        net = make_classifier(layers=layers, max_epochs=3).fit({"a": X[:, :32], "b": X[:, 32:]}, y)
        assert net.layers_["concat3"].output_shape == (None, 40)
        assert net.predict({"a": X[:5, :32], "b": X[:5, 32:]}).shape == (5,)
        with pytest.raises(ValueError, match="no array for input layer 'b'"):
            net.predict({"a": X[:5, :32]})

    def test_dataframe_input(self, digits, make_classifier):
        X, y = digits
        df = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)])
        net = make_classifier(max_epochs=2).fit(df, pd.Series(y))
        assert list(net.feature_names_in_[:2]) == ["px0", "px1"]
        # an array after fitting on named columns: scikit-learn's warning, the caller's doing
        with pytest.warns(UserWarning, match="does not have valid feature names"):
            from_array = net.predict(X)
        np.testing.assert_array_equal(net.predict(df), from_array)

    def test_images_and_int_input(self, digits, make_classifier):
        from sknet.layers import FlattenLayer

        X, y = digits
        images = np.round(X.reshape(-1, 1, 8, 8) * 4).astype(np.int64)
        net = make_classifier(layers=[(InputLayer, {}), (FlattenLayer, {}), (DenseLayer, {})], max_epochs=2).fit(
            images, y
        )
        assert net.layers_["input0"].shape == (None, 1, 8, 8)
        assert net.score(images, y) > 0.8


class TestRegressor:
    def test_1d_and_2d(self, diabetes, tiny_spec):
        X, y = diabetes
        net = NeuralNetRegressor(tiny_spec, update__learning_rate=0.01, max_epochs=30, random_state=0).fit(X, y)
        assert net.predict(X).shape == (442,) and net.layers_["dense2"].nonlinearity is nonlinearities.identity
        assert net.score(X, y) > 0.4
        Y = np.column_stack([y, -y])
        net2 = NeuralNetRegressor(tiny_spec, update__learning_rate=0.01, max_epochs=30, random_state=0).fit(X, Y)
        assert net2.predict(X).shape == (442, 2)
        assert net2.score(X, Y) > 0.4

    def test_generic_net_with_objective(self, diabetes):
        X, y = diabetes
        net = NeuralNet(
            [(InputLayer, {}), (DenseLayer, {"num_units": 1, "nonlinearity": None})],
            update=updates.sgd,
            update__learning_rate=0.05,
            max_epochs=20,
            train_split=False,
            random_state=0,
        ).fit(X, y[:, None])
        assert net.predict(X).shape == (442, 1)
        assert net.history_[-1]["train_loss"] < net.history_[0]["train_loss"]
        assert net.history_[-1]["valid_loss"] is None


class TestTraining:
    def test_partial_fit_and_warm_start(self, digits, make_classifier):
        X, y = digits
        net = make_classifier()
        net.partial_fit(X, y)
        w = net.layers_["dense1"].W.get_value().copy()
        net.partial_fit(X, y)
        assert len(net.history_) == 2 and net.n_iter_ == 2
        assert not np.array_equal(w, net.layers_["dense1"].W.get_value())
        warm = make_classifier(max_epochs=2, warm_start=True).fit(X, y)
        first = warm.history_[-1]["train_loss"]
        layer = warm.layers_["dense1"]
        warm.fit(X, y)
        assert warm.layers_["dense1"] is layer and len(warm.history_) == 4
        assert warm.history_[2]["train_loss"] < first * 1.1

    def test_learning_rate_is_shared_no_recompile(self, digits, make_classifier):
        X, y = digits
        net = make_classifier(max_epochs=1).fit(X, y)
        train_fn = net._fns().get("train")
        net.set_params(update__learning_rate=0.5)
        assert net.get_hyperparameter("update__learning_rate") == pytest.approx(0.5)
        assert net._fns().get("train") is train_fn
        net.set_params(update__learning_rate=0.0)
        w = net.layers_["dense1"].W.get_value().copy()
        net.partial_fit(X, y)
        np.testing.assert_array_equal(w, net.layers_["dense1"].W.get_value())

    def test_l2_penalty(self, digits, make_classifier):
        X, y = digits
        free = make_classifier(max_epochs=3).fit(X, y)
        decayed = make_classifier(max_epochs=3, objective__l2=0.1).fit(X, y)
        norm = lambda n: np.sum(n.layers_["dense1"].W.get_value() ** 2)  # noqa: E731
        assert norm(decayed) < 0.7 * norm(free)
        assert decayed.get_hyperparameter("objective__l2") == pytest.approx(0.1)

    def test_nan_loss_in_first_epoch_raises_and_keeps_initial_weights(self, digits, make_classifier):
        X, y = digits
        net = make_classifier(max_epochs=3, update=updates.sgd, update__learning_rate=1e4)
        with pytest.raises(DivergenceError, match="learning rate"):
            net.fit(X * 1e3, y)
        for values in net.get_all_params_values().values():
            for v in values:
                assert np.isfinite(v).all()
        assert np.isfinite(net.predict_proba(X)).all()

    def test_keyboard_interrupt_keeps_last_epoch(self, digits, make_classifier):
        X, y = digits

        def interrupt(net, history):
            if len(history) == 2:
                raise KeyboardInterrupt

        net = make_classifier(max_epochs=5, on_epoch_finished=[interrupt])
        net.fit(X, y)
        assert net.n_iter_ == 2
        assert net.predict(X).shape == (600,)


class TestBadInput:
    @pytest.fixture
    def net(self, make_classifier):
        return make_classifier(max_epochs=1)

    def test_predict_before_fit(self, net, digits):
        with pytest.raises(NotFittedError):
            net.predict(digits[0])

    @pytest.mark.parametrize(
        "make, match",
        [
            (lambda X, y: (np.where(X > 2, np.nan, X), y), "NaN"),
            (lambda X, y: (np.where(X > 2, np.inf, X), y), "infinity"),
            (lambda X, y: (X[:0], y[:0]), "0 sample"),
            (lambda X, y: (X, y[:-1]), "inconsistent numbers of samples"),
            (lambda X, y: (X, np.zeros_like(y)), "only one class"),
            (lambda X, y: (X, y + 0.5), "Unknown label type"),
            (lambda X, y: (X[:, :10], y), "expects data of shape \\(None, 64\\)"),
        ],
    )
    def test_fit_rejects_before_compiling(self, net, digits, make, match):
        X, y = make(*digits)
        layers = [(InputLayer, {"shape": (None, 64)}), (DenseLayer, {})]
        net.set_params(layers=layers)
        before = compile_count()
        with pytest.raises(ValueError, match=match):
            net.fit(X, y)
        assert compile_count() == before

    def test_predict_wrong_shape_and_unseen_labels(self, fitted, digits):
        X, y = digits
        with pytest.raises(ValueError, match="64 features"):
            fitted.predict(X[:, :5])
        with pytest.raises(ValueError, match="expecting 64 features"):
            fitted.predict(X.reshape(-1, 8, 8))
        with pytest.raises(ValueError, match="unseen labels"):
            fitted.score(X, y + 100)

    def test_bad_hyperparameters(self, digits, make_classifier):
        with pytest.raises(ValueError, match="max_epochs"):
            make_classifier(max_epochs=0).fit(*digits)
        with pytest.raises(ValueError, match="learning_rate must be positive"):
            make_classifier(update__learning_rate=-1.0).fit(*digits)
        with pytest.raises(ValueError, match="did you mean update__learning_rate"):
            make_classifier(update__learnig_rate=0.1).fit(*digits)
