"""LocalResponseNormalization2DLayer, StandardizationLayer, instance_norm, layer_norm and
BatchNormLayer's batch_norm_stat tag, against numpy references."""

import numpy as np
import pytensor
import pytest
from pytensor.gradient import verify_grad

from sknet import nonlinearities
from sknet.layers import (
    BatchNormLayer,
    BiasLayer,
    Conv2DLayer,
    DenseLayer,
    InputLayer,
    LocalResponseNormalization2DLayer,
    NonlinearityLayer,
    ScaleLayer,
    StandardizationLayer,
    batch_norm,
    get_all_layers,
    get_all_params,
    get_output,
    instance_norm,
    layer_norm,
)


def _lrn_ref(x, alpha, k, beta, n):
    half = n // 2
    sq = np.pad(x**2, ((0, 0), (half, half), (0, 0), (0, 0)))
    total = sum(sq[:, i : i + x.shape[1]] for i in range(n))
    return x / (k + alpha * total) ** beta


class TestLocalResponseNormalization2DLayer:
    @pytest.mark.parametrize("kwargs", [{}, {"alpha": 0.5, "k": 1.0, "beta": 0.6, "n": 3}])
    def test_matches_numpy(self, kwargs, mode):
        x = np.random.RandomState(0).randn(2, 7, 3, 4).astype("float32")
        l_in = InputLayer((None, 7, 3, 4))
        l = LocalResponseNormalization2DLayer(l_in, **kwargs)
        assert l.output_shape == (None, 7, 3, 4) and l.get_params() == []
        out = pytensor.function([l_in.input_var], get_output(l), mode=mode)(x)
        full = dict(alpha=1e-4, k=2, beta=0.75, n=5)
        full.update(kwargs)
        np.testing.assert_allclose(out, _lrn_ref(x.astype("float64"), **full), rtol=1e-5)

    def test_gradient(self, mode):
        x = np.random.RandomState(1).randn(2, 4, 2, 2)
        l = LocalResponseNormalization2DLayer((None, 4, 2, 2), alpha=0.3, k=1, n=3)
        verify_grad(l.get_output_for, [x], rng=np.random.RandomState(0), mode=mode)

    def test_errors(self):
        with pytest.raises(NotImplementedError, match="odd n"):
            LocalResponseNormalization2DLayer((None, 4, 2, 2), n=4)
        with pytest.raises(ValueError, match="4-d"):
            LocalResponseNormalization2DLayer((None, 4, 2))


def _standardize_ref(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


class TestStandardizationLayer:
    @pytest.mark.parametrize(
        "shape, axes, expected_axes",
        [
            ((None, 5), "auto", (1,)),
            ((None, 3, 4, 5), "auto", (2, 3)),
            ((None, 3, 4, 5), "spatial", (2, 3)),
            ((None, 3, 4, 5), "features", (1, 2, 3)),
            ((None, 3, 4, 5), 1, (1,)),
            ((None, 3, 4, 5), (1, 3), (1, 3)),
        ],
    )
    def test_matches_numpy(self, shape, axes, expected_axes, mode):
        x = (np.random.RandomState(2).randn(2, *shape[1:]) * 3 + 1).astype("float32")
        l_in = InputLayer(shape)
        l = StandardizationLayer(l_in, axes=axes, epsilon=1e-3)
        assert l.axes == expected_axes and l.output_shape == shape and l.get_params() == []
        out = pytensor.function([l_in.input_var], get_output(l, deterministic=True), mode=mode)(x)
        np.testing.assert_allclose(
            out, _standardize_ref(x.astype("float64"), expected_axes, 1e-3), rtol=1e-4, atol=1e-5
        )

    def test_gradient(self, mode):
        x = np.random.RandomState(3).randn(2, 3, 4)
        verify_grad(
            StandardizationLayer((None, 3, 4), axes="features").get_output_for,
            [x],
            rng=np.random.RandomState(0),
            mode=mode,
        )

    def test_bad_axes(self):
        with pytest.raises(ValueError, match="'auto', 'spatial', 'features'"):
            StandardizationLayer((None, 3), axes="batch")


class TestInstanceAndLayerNorm:
    def test_instance_norm_stack_and_numerics(self, mode):
        x = np.random.RandomState(4).randn(2, 2, 5, 5).astype("float32")
        l_in = InputLayer((None, 2, 5, 5))
        conv = Conv2DLayer(l_in, 3, 3, name="c", nonlinearity=nonlinearities.rectify)
        top = instance_norm(conv, epsilon=1e-3)
        assert [type(l) for l in get_all_layers(top)[2:]] == [
            StandardizationLayer,
            ScaleLayer,
            BiasLayer,
            NonlinearityLayer,
        ]
        assert [l.name for l in get_all_layers(top)[2:]] == ["c_in", "c_in_scale", "c_in_bias", "c_in_nonlin"]
        assert conv.b is None and conv.nonlinearity is nonlinearities.identity
        assert get_all_layers(top)[2].axes == (2, 3)
        assert top.nonlinearity is nonlinearities.rectify
        scale, bias = get_all_layers(top)[3], get_all_layers(top)[4]
        scale.scales.set_value(np.float32([1.0, 2.0, 0.5]))
        bias.b.set_value(np.float32([0.0, -1.0, 1.0]))
        f = pytensor.function([l_in.input_var], [get_output(conv), get_output(top)], mode=mode)
        conv_out, out = f(x)
        expected = _standardize_ref(conv_out.astype("float64"), (2, 3), 1e-3)
        expected = np.maximum(expected * [[[[1.0]], [[2.0]], [[0.5]]]] + [[[[0.0]], [[-1.0]], [[1.0]]]], 0)
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)

    @pytest.mark.parametrize("learn_scale, learn_bias", [(False, True), (True, False), (False, False)])
    def test_instance_norm_options(self, learn_scale, learn_bias):
        top = instance_norm(
            DenseLayer(InputLayer((None, 4, 3)), 5, num_leading_axes=2, nonlinearity=None),
            learn_scale=learn_scale,
            learn_bias=learn_bias,
            name="n",
        )
        kinds = [type(l) for l in get_all_layers(top)[2:]]
        # as in Lasagne, nonlinearity=None is the identity, which moves on top too
        expected = [StandardizationLayer] + [ScaleLayer] * learn_scale + [BiasLayer] * learn_bias + [NonlinearityLayer]
        assert kinds == expected
        assert get_all_layers(top)[2].name == "n"

    def test_layer_norm_stack_and_numerics(self, mode):
        x = np.random.RandomState(5).randn(3, 4).astype("float32")
        l_in = InputLayer((None, 4))
        dense = DenseLayer(l_in, 6, name="d")
        top = layer_norm(dense)
        assert [l.name for l in get_all_layers(top)[1:]] == ["d", "d_ln", "d_ln_scale", "d_ln_bias", "d_ln_nonlin"]
        assert get_all_layers(top)[2].axes == (1,)
        assert [p.name for p in get_all_params(top)] == ["d.W", "d_ln_scale.scales", "d_ln_bias.b"]
        f = pytensor.function([l_in.input_var], [get_output(dense), get_output(top)], mode=mode)
        pre, out = f(x)
        np.testing.assert_allclose(out, np.maximum(_standardize_ref(pre, (1,), 1e-4), 0), rtol=1e-4, atol=1e-5)


def test_batch_norm_stat_tag():
    l = batch_norm(DenseLayer(InputLayer((None, 3)), 4))
    bn = get_all_layers(l)[2]
    assert isinstance(bn, BatchNormLayer)
    assert get_all_params(l, batch_norm_stat=True) == [bn.mean, bn.inv_std]
    assert bn.beta not in get_all_params(l, batch_norm_stat=True)
    assert bn.gamma in get_all_params(l, batch_norm_stat=False)
    # the tag is what Lasagne code filters on to save or reset the statistics
    assert get_all_params(l, trainable=False) == get_all_params(l, batch_norm_stat=True)
