"""Exporting fitted estimators: classifiers (string / non-zero labels), regressors, Pipelines, pickles."""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import skl2onnx
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknet import NeuralNetClassifier, NeuralNetRegressor, nonlinearities
from sknet.export import to_numpy_predictor, to_onnx
from sknet.export.numpy_predictor import NumpyPredictor
from sknet.layers import DenseLayer, DropoutLayer, InputLayer

HEAVY = ("pytensor", "sklearn", "scipy", "numba", "jax", "sknet")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


def _mlp(**kwargs):
    layers = [
        (InputLayer, {}),
        (DenseLayer, {"num_units": 32}),
        (DropoutLayer, {"p": 0.3}),
        (DenseLayer, kwargs.pop("out", {})),
    ]
    return dict(layers=layers, max_epochs=8, train_split=False, random_state=0, update__learning_rate=0.01, **kwargs)


@pytest.fixture(scope="module")
def string_clf(digits):
    X, y = digits
    labels = np.array([f"digit-{d}" for d in y])
    return NeuralNetClassifier(**_mlp()).fit(X, labels)


@pytest.fixture(scope="module")
def binary_clf(digits):
    X, y = digits
    keep = (y == 3) | (y == 8)
    net = NeuralNetClassifier(**_mlp(out={"num_units": 1, "nonlinearity": nonlinearities.sigmoid}))
    return net.fit(X[keep], y[keep])


@pytest.fixture(scope="module")
def regressors(digits):
    X, y = digits
    y1 = (y / 9.0).astype(np.float32)
    y2 = np.stack([y1, X[:, 20]], axis=1)
    return (NeuralNetRegressor(**_mlp()).fit(X, y1), NeuralNetRegressor(**_mlp()).fit(X, y2))


def _proba_diff(a, b):
    return float(np.abs(np.asarray(a, np.float64) - b).max())


def test_string_labels_onnx_and_numpy(string_clf, digits, onnx_runner):
    X, _ = digits
    model = to_onnx(string_clf, X_sample=X[:200])
    assert float({p.key: p.value for p in model.metadata_props}["sknet_max_abs_diff"]) <= 1e-5
    labels, proba = onnx_runner(model, X)
    ref_proba, ref_labels = string_clf.predict_proba(X), string_clf.predict(X)
    assert _proba_diff(proba, ref_proba) <= 1e-5
    assert labels.tolist() == ref_labels.tolist()
    assert (ref_labels == np.array([f"digit-{d}" for d in digits[1]])).mean() > 0.8
    predictor = string_clf.to_numpy_predictor(X_sample=X[:200])
    assert predictor.max_abs_diff_ <= 1e-5
    assert _proba_diff(predictor.predict_proba(X), ref_proba) <= 1e-5
    assert predictor.predict(X).tolist() == ref_labels.tolist()


def test_binary_sigmoid_classifier(binary_clf, digits, onnx_runner):
    X, y = digits
    X = X[(y == 3) | (y == 8)]
    assert binary_clf.classes_.tolist() == [3, 8]
    ref_proba, ref_labels = binary_clf.predict_proba(X), binary_clf.predict(X)
    labels, proba = onnx_runner(to_onnx(binary_clf), X)
    assert proba.shape == (len(X), 2) and _proba_diff(proba, ref_proba) <= 1e-5
    assert labels.dtype == np.int64 and labels.tolist() == ref_labels.tolist()
    predictor = to_numpy_predictor(binary_clf)
    assert _proba_diff(predictor.predict_proba(X), ref_proba) <= 1e-5
    assert predictor.predict(X).tolist() == ref_labels.tolist()


def test_regressors_keep_the_target_shape(regressors, digits, onnx_runner):
    X, _ = digits
    for net, shape in zip(regressors, [(len(X),), (len(X), 2)]):
        ref = net.predict(X)
        assert ref.shape == shape
        (out,) = onnx_runner(to_onnx(net), X)
        assert out.shape == shape and _proba_diff(out, ref) <= 1e-5
        mine = to_numpy_predictor(net).predict(X)
        assert mine.shape == shape and mine.dtype == np.float64 and _proba_diff(mine, ref) <= 1e-5


def test_transform_is_the_layer_before_the_output(string_clf, digits):
    X, _ = digits
    predictor = to_numpy_predictor(string_clf)
    name = list(string_clf.layers_)[-2]
    np.testing.assert_allclose(predictor.transform(X[:50]), string_clf.get_output(name, X[:50]), rtol=1e-5, atol=1e-6)


def test_pipeline_converts_with_skl2onnx(digits, onnx_runner):
    X, y = digits
    X64 = X.astype(np.float64) * 16  # raw pixel counts; the scaler standardizes them
    labels = y + 10  # labels not starting at 0
    pipe = Pipeline([("scale", StandardScaler()), ("net", NeuralNetClassifier(**_mlp()))]).fit(X64, labels)
    model = skl2onnx.to_onnx(pipe, X64[:1].astype(np.float32), options={id(pipe.steps[-1][1]): {"zipmap": False}})
    onnx_labels, proba = onnx_runner(model, X64)
    assert len(onnx_labels) == 1797
    np.testing.assert_array_equal(onnx_labels, pipe.predict(X64))
    assert _proba_diff(proba, pipe.predict_proba(X64)) <= 1e-4
    # the default (zipmap) conversion also runs and gives the same labels
    default = skl2onnx.to_onnx(pipe, X64[:1].astype(np.float32))
    np.testing.assert_array_equal(onnx_runner(default, X64)[0], pipe.predict(X64))


def test_regressor_pipeline_converts(digits, onnx_runner):
    X, y = digits
    X64 = X.astype(np.float64) * 16
    pipe = Pipeline([("scale", StandardScaler()), ("net", NeuralNetRegressor(**_mlp()))]).fit(X64, y / 9.0)
    (out,) = onnx_runner(skl2onnx.to_onnx(pipe, X64[:1].astype(np.float32)), X64)
    ref = pipe.predict(X64)
    assert ref.shape == (1797,) and out.reshape(-1).shape == ref.shape
    assert _proba_diff(out.reshape(-1), ref) <= 1e-4


def test_unfitted_net_is_not_fitted_error():
    net = NeuralNetClassifier(**_mlp())
    for export in (to_onnx, to_numpy_predictor):
        with pytest.raises(NotFittedError, match="fit or initialize it before exporting"):
            export(net)


def test_onnx_opsets_agree(string_clf, digits, onnx_runner):
    X, _ = digits
    outs = [onnx_runner(to_onnx(string_clf, opset=opset), X[:100])[1] for opset in (13, 18, 21)]
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])
    with pytest.raises(ValueError, match="opset must be >= 13"):
        to_onnx(string_clf, opset=11)


def test_unpickles_and_predicts_with_numpy_only(string_clf, digits, tmp_path):
    X, _ = digits
    path = tmp_path / "predictor.pkl"
    with open(path, "wb") as f:
        pickle.dump(to_numpy_predictor(string_clf), f)
    np.save(tmp_path / "X.npy", X[:300])
    script = textwrap.dedent(f"""
        import pickle, sys
        import numpy as np
        with open({str(path)!r}, "rb") as f:
            predictor = pickle.load(f)
        labels = predictor.predict(np.load({str(tmp_path / "X.npy")!r}))
        heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})
        print(repr((labels.tolist(), heavy)))
    """)
    # -I: no PYTHONPATH, no user site and not the repository on sys.path
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run(
        [sys.executable, "-I", "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env, check=True
    )
    labels, heavy = eval(done.stdout)
    assert heavy == []
    assert labels == string_clf.predict(X[:300]).tolist()


def test_predictor_pickles_twice_and_checks_input(string_clf, digits):
    X, _ = digits
    predictor = pickle.loads(pickle.dumps(pickle.loads(pickle.dumps(to_numpy_predictor(string_clf)))))
    assert predictor.predict(X[:20]).tolist() == string_clf.predict(X[:20]).tolist()
    with pytest.raises(ValueError, match=r"X has shape \(3, 5\); the network takes \(None, 64\)"):
        predictor.predict(np.zeros((3, 5)))


def test_predictor_takes_class_labels_as_a_list():
    """Labels given as a plain list index like an array: one label per row."""
    program = [("act", [0], 1, {"kind": "sigmoid", "args": ()})]
    predictor = NumpyPredictor(program, (None, 1), 1, "proba_binary", classes=["low", "high"])
    X = np.array([[-3.0], [2.0], [0.5]], dtype=np.float32)
    assert predictor.predict(X).tolist() == ["low", "high", "high"]
    np.testing.assert_allclose(predictor.predict_proba(X)[:, 1], 1 / (1 + np.exp(-X[:, 0])), rtol=1e-6)
