"""Every PyTensor backend end to end: fit, predict, pickle, reload in another mode.

The C backend (``mode=None``) is the reference: one epoch without dropout
must give the same weights in every mode (float32 tolerance), which checks
the NUMBA and JAX versions of sknet's convolution and pooling gradients.
NUMBA and JAX compile slowly, so the nets and data are tiny.
"""

import pickle
import warnings

import numpy as np
import pytensor.tensor as T
import pytest
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.raise_op import Assert
from sklearn.datasets import load_digits

from sknet import NeuralNetClassifier, function_cache
from sknet.layers import Conv2DLayer, DenseLayer, DropoutLayer, InputLayer, MaxPool2DLayer, Pool2DLayer

# fits in every mode: about 45 s on two shared cores (NUMBA and JAX compile)
pytestmark = [
    pytest.mark.slow,
    # PyTensor silences numba's note on np.dot over non-contiguous views (its
    # Dot op meets transposed weights) when it loads its numba backend; pytest
    # restores the filters after each test, so a test that compiles NUMBA
    # functions after the one that loaded the backend sees the note. The
    # same filter as PyTensor's, for these tests; a user's process keeps it.
    pytest.mark.filterwarnings(r"ignore:np\.dot\(\) is faster on contiguous arrays:numba.NumbaPerformanceWarning"),
]

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


# What PyTensor's JAX backend says about any network sknet compiles: runtime
# checks it skips, generators it copies. Neither is the user's doing.
JAX_NOTES = ("Skipping Assert", "Skipping CheckAndRaise", "The RandomType SharedVariables")


def test_jax_dropout_is_reproducible(data):
    # PyTensor's JAX backend has no binomial sampler: dropout masks use uniform < p.
    X, y = data
    spec = [(InputLayer, {}), (DenseLayer, {"num_units": 12}), (DropoutLayer, {"p": 0.5}), (DenseLayer, {})]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nets = [
            NeuralNetClassifier(spec, mode="JAX", max_epochs=2, train_split=False, random_state=3).fit(X["mlp"], y)
            for _ in range(2)
        ]
    assert not [str(w.message) for w in caught if str(w.message).startswith(JAX_NOTES)]
    np.testing.assert_array_equal(nets[0].predict_proba(X["mlp"]), nets[1].predict_proba(X["mlp"]))
    other = NeuralNetClassifier(spec, mode="JAX", max_epochs=2, train_split=False, random_state=4).fit(X["mlp"], y)
    assert not np.allclose(other.predict_proba(X["mlp"]), nets[0].predict_proba(X["mlp"]))


def test_jax_mode_means_in_float32_without_truncation_warnings():
    # PyTensor sums float32 in float64 and counts elements in int64; JAX without x64 truncated both, warning.
    x = T.matrix("x")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = function_cache.function([x], [T.mean(x), T.sqr(x).sum(axis=0)], mode="JAX")
        values = np.arange(12, dtype="float32").reshape(4, 3) / 7
        mean, sums = f(values)
    assert not [str(w.message) for w in caught if "truncated" in str(w.message)]
    np.testing.assert_allclose(mean, values.mean(), rtol=1e-6)
    np.testing.assert_allclose(sums, (values**2).sum(axis=0), rtol=1e-6)


def test_jax_mode_still_raises_a_check_false_at_compile_time():
    x = T.vector("x")
    with pytest.raises(AssertionError, match="never"):
        function_cache.function([x], Assert("never")(x, T.as_tensor_variable(np.array(False))), mode="JAX")


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


# Issue 16's layers in the JIT modes: every 3-D layer in one chain, both
# spatial transformers side by side. Their localization nets start off the
# identity: on the pixel grid bilinear sampling has no gradient in the
# positions (it jumps there), and each backend's rounding would pick a side.
def volumetric_net():
    from sknet.layers import Conv3DLayer, MaxPool3DLayer, Pool3DLayer, TransposedConv3DLayer, Upscale3DLayer

    layer = InputLayer((None, 2, 4, 4, 4))
    layer = Conv3DLayer(layer, 3, 2, pad=1, name="Conv3DLayer")  # (3, 5, 5, 5)
    layer = MaxPool3DLayer(layer, 2, name="MaxPool3DLayer")  # (3, 2, 2, 2)
    layer = Upscale3DLayer(layer, 2, name="Upscale3DLayer")  # (3, 4, 4, 4)
    layer = TransposedConv3DLayer(layer, 2, 2, name="TransposedConv3DLayer")  # (2, 5, 5, 5)
    layer = Pool3DLayer(layer, 2, mode="average_exc_pad", ignore_border=False, name="Pool3DLayer")  # (2, 3, 3, 3)
    return DenseLayer(layer, 1, nonlinearity=None)


def transformer_net():
    from sknet.layers import ConcatLayer, TPSTransformerLayer, TransformerLayer

    image = InputLayer((None, 1, 6, 6))
    zoom = np.array([0.9, 0.05, 0.03, -0.04, 0.85, 0.02], "float32")
    affine = DenseLayer(image, 6, W=np.zeros((36, 6), "float32"), b=zoom, nonlinearity=None)
    shift = np.full(8, 0.05, "float32")
    offsets = DenseLayer(image, 8, W=np.zeros((36, 8), "float32"), b=shift, nonlinearity=None)
    both = ConcatLayer(
        [
            TransformerLayer(image, affine, name="TransformerLayer"),
            TPSTransformerLayer(image, offsets, control_points=4, name="TPSTransformerLayer"),
        ]
    )
    return DenseLayer(both, 1, nonlinearity=None)


def seeded(build):
    """``build`` with its layers' own initial weights drawn from a fixed seed."""

    def seeded_build():
        from sknet import random

        before = random.get_rng()
        random.seed(0)
        try:
            return build()
        finally:
            random.set_rng(before)

    return seeded_build


NETS = {"volumetric": seeded(volumetric_net), "transformer": seeded(transformer_net)}
NET_OF_LAYER = {
    name: kind
    for kind, names in {
        "volumetric": ["Conv3DLayer", "MaxPool3DLayer", "Upscale3DLayer", "TransposedConv3DLayer", "Pool3DLayer"],
        "transformer": ["TransformerLayer", "TPSTransformerLayer"],
    }.items()
    for name in names
}


@pytest.fixture(scope="module")
def volumes():
    rng = np.random.default_rng(0)
    X = {"volumetric": rng.normal(size=(12, 2, 4, 4, 4)), "transformer": rng.normal(size=(12, 1, 6, 6))}
    return {kind: x.astype("float32") for kind, x in X.items()}, rng.normal(size=(12, 1)).astype("float32")


@pytest.fixture(scope="module")
def layer_outputs(volumes):
    """``outputs(kind, mode)``: the named layers' outputs of net ``kind``, compiled once per mode."""
    from sknet.layers import get_all_layers, get_output

    X, _ = volumes
    nets = {kind: build() for kind, build in NETS.items()}  # the same weights in every mode
    done = {}

    def outputs(kind, mode):
        if (kind, mode) not in done:
            named = [layer for layer in get_all_layers(nets[kind]) if layer.name]
            l_in = next(layer for layer in get_all_layers(nets[kind]) if isinstance(layer, InputLayer))
            fn = function_cache.function(
                [l_in.input_var], [get_output(layer) for layer in named], mode=mode, input_shapes=[l_in.shape]
            )
            done[kind, mode] = {layer.name: got for layer, got in zip(named, fn(X[kind]))}
        return done[kind, mode]

    return outputs


@pytest.mark.parametrize("mode", ["NUMBA", "JAX"])
@pytest.mark.parametrize("layer", sorted(NET_OF_LAYER))
def test_issue16_layer_computes_as_in_c(layer_outputs, layer, mode):
    kind = NET_OF_LAYER[layer]
    want = layer_outputs(kind, None)[layer]
    np.testing.assert_allclose(layer_outputs(kind, mode)[layer], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", sorted(NETS))
def test_issue16_layers_train_in_jax_as_in_c(volumes, kind):
    from sknet import NeuralNetRegressor

    X, y = volumes
    nets = [
        NeuralNetRegressor(
            NETS[kind](),
            mode=mode,
            max_epochs=2,
            train_split=False,
            batch_iterator_train__batch_size=5,  # a smaller last batch too
            update__learning_rate=0.05,
            random_state=0,
        ).fit(X[kind], y)
        for mode in (None, "JAX")
    ]
    c_weights, jax_weights = weights(nets[0]), weights(nets[1])
    assert not np.allclose(np.concatenate([w.ravel() for w in c_weights]), 0)
    for got, want in zip(jax_weights, c_weights):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)
