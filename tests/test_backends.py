"""Every PyTensor backend end to end: fit, predict, pickle, reload in another mode.

The C backend (``mode=None``) is the reference: one epoch without dropout
must give the same weights in every mode (float32 tolerance), which checks
the NUMBA and JAX versions of sknet's convolution and pooling gradients.
NUMBA and JAX compile slowly, so the nets and data are tiny.
"""

import pickle

import numpy as np
import pytensor.tensor as T
import pytest
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from sklearn.datasets import load_digits

from sknet import NeuralNetClassifier, function_cache
from sknet.layers import Conv2DLayer, DenseLayer, DropoutLayer, InputLayer, MaxPool2DLayer, Pool2DLayer

# fits in every mode: about 45 s on two shared cores (NUMBA and JAX compile)
pytestmark = pytest.mark.slow

MODES = [None, "CVM", "NUMBA", "JAX"]
# Reload every fitted net in a different backend.
RELOAD = {None: "NUMBA", "CVM": "JAX", "NUMBA": "JAX", "JAX": None}

SPECS = {
    "mlp": [(InputLayer, {}), (DenseLayer, {"num_units": 12}), (DenseLayer, {})],
    "cnn": [
        (InputLayer, {}),
        (Conv2DLayer, {"num_filters": 3, "filter_size": 3, "pad": "same"}),
        (MaxPool2DLayer, {"pool_size": 2}),
        (Conv2DLayer, {"num_filters": 3, "filter_size": 2, "stride": 2, "pad": 1}),
        (Pool2DLayer, {"pool_size": 2, "mode": "average_exc_pad", "ignore_border": False}),
        (DenseLayer, {}),
    ],
}


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    X = (X[:96] / 16.0).astype(np.float32)
    return {"mlp": X, "cnn": X.reshape(-1, 1, 8, 8)}, y[:96]


def make_net(kind, mode, **kwargs):
    return NeuralNetClassifier(
        SPECS[kind],
        mode=mode,
        max_epochs=1,
        train_split=False,
        batch_iterator_train__batch_size=32,
        update__learning_rate=0.05,
        random_state=0,
        **kwargs,
    )


def weights(net):
    return [v for values in net.get_all_params_values().values() for v in values]


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return {(kind, mode): make_net(kind, mode).fit(X[kind], y) for kind in SPECS for mode in MODES}


@pytest.mark.parametrize("kind", sorted(SPECS))
@pytest.mark.parametrize("mode", MODES)
class TestModes:
    def test_same_training_as_c(self, fitted, kind, mode):
        for got, want in zip(weights(fitted[kind, mode]), weights(fitted[kind, None])):
            np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)

    def test_pickle_and_reload_in_another_mode(self, data, fitted, kind, mode):
        X, _ = data
        net = fitted[kind, mode]
        proba = net.predict_proba(X[kind])
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
        other = pickle.loads(pickle.dumps(net)).set_params(mode=RELOAD[mode])
        assert other.mode == RELOAD[mode]
        np.testing.assert_allclose(other.predict_proba(X[kind]), proba, rtol=1e-4, atol=1e-6)


def test_jax_dropout_is_reproducible(data):
    # PyTensor's JAX backend has no binomial sampler: dropout masks use uniform < p.
    X, y = data
    spec = [(InputLayer, {}), (DenseLayer, {"num_units": 12}), (DropoutLayer, {"p": 0.5}), (DenseLayer, {})]
    nets = [
        NeuralNetClassifier(spec, mode="JAX", max_epochs=2, train_split=False, random_state=3).fit(X["mlp"], y)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(nets[0].predict_proba(X["mlp"]), nets[1].predict_proba(X["mlp"]))


class _Twice(Op):
    """An op with only a Python implementation (no JAX conversion)."""

    __props__ = ()

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = 2 * inputs[0]


def test_missing_op_error_names_op_and_mode():
    x = T.vector("x")
    with pytest.raises(NotImplementedError, match=r"'JAX'.*_Twice"):
        function_cache.function([x], _Twice()(x), mode="JAX")
