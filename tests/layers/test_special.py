"""Tests of NonlinearityLayer, BiasLayer, ScaleLayer, ExpressionLayer and PReLU."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.gradient import verify_grad

from sknet import nonlinearities
from sknet.layers import (
    BiasLayer,
    DenseLayer,
    ExpressionLayer,
    InputLayer,
    NonlinearityLayer,
    ParametricRectifierLayer,
    ScaleLayer,
    get_all_params,
    get_output,
    prelu,
    standardize,
)


def _compile(layer, mode):
    l_in = layer.input_layer
    return pytensor.function([l_in.input_var], get_output(layer), mode=mode)


class TestNonlinearityLayer:
    def test_output(self, mode):
        x = np.array([[-2.0, -0.5, 0.0, 3.0]], "float32")
        l_in = InputLayer((None, 4))
        relu = NonlinearityLayer(l_in)
        sig = NonlinearityLayer(l_in, nonlinearity=nonlinearities.sigmoid)
        lin = NonlinearityLayer(l_in, nonlinearity=None)
        f = pytensor.function([l_in.input_var], get_output([relu, sig, lin]), mode=mode)
        got_relu, got_sig, got_lin = f(x)
        np.testing.assert_allclose(got_relu, np.maximum(x, 0))
        np.testing.assert_allclose(got_sig, 1 / (1 + np.exp(-x)), rtol=1e-6)
        np.testing.assert_array_equal(got_lin, x)
        assert relu.output_shape == (None, 4)
        assert relu.get_params() == []


class TestBiasLayer:
    @pytest.mark.parametrize(
        "input_shape, shared_axes, b_shape",
        [
            ((None, 3), "auto", (3,)),
            ((None, 3, 4, 5), "auto", (3,)),
            ((None, 3, 4, 5), (0, 2), (3, 5)),
            ((None, 3, 4, 5), 0, (3, 4, 5)),
            ((None, 3, 4), (0, -1), (3,)),
        ],
    )
    def test_param_shape(self, input_shape, shared_axes, b_shape):
        l = BiasLayer(InputLayer(input_shape), shared_axes=shared_axes)
        assert l.b.get_value().shape == b_shape
        assert l.output_shape == input_shape
        assert l.get_params(regularizable=True) == []
        assert l.get_params(trainable=True) == [l.b]

    @pytest.mark.parametrize("shared_axes", ["auto", (0, 2)])
    def test_output(self, shared_axes, mode):
        rng = np.random.RandomState(0)
        x = rng.randn(2, 3, 4, 5).astype("float32")
        l_in = InputLayer((None, 3, 4, 5))
        b_shape = (3,) if shared_axes == "auto" else (3, 5)
        b = rng.randn(*b_shape).astype("float32")
        l = BiasLayer(l_in, b=b, shared_axes=shared_axes)
        if shared_axes == "auto":
            want = x + b[None, :, None, None]
        else:
            want = x + b[None, :, None, :]
        np.testing.assert_allclose(_compile(l, mode)(x), want, rtol=1e-6)

    def test_no_bias(self):
        l_in = InputLayer((None, 3))
        l = BiasLayer(l_in, b=None)
        assert l.b is None and l.get_params() == []
        assert get_output(l) is l_in.input_var

    def test_unknown_unshared_size_raises(self):
        with pytest.raises(ValueError, match="specified input sizes"):
            BiasLayer(InputLayer((None, None, 4)))
        # fine when the unknown axis is shared
        BiasLayer(InputLayer((None, 3, None)))

    def test_grad(self, mode):
        rng = np.random.RandomState(1)

        def fn(inp, b):
            return BiasLayer((None, 3, 2), b=b, shared_axes=(0,)).get_output_for(inp) ** 2

        verify_grad(fn, [rng.randn(2, 3, 2), rng.randn(3, 2)], rng=rng, mode=mode)


class TestScaleLayer:
    def test_defaults(self):
        l = ScaleLayer(InputLayer((None, 3, 4, 4)))
        np.testing.assert_array_equal(l.scales.get_value(), np.ones(3, "float32"))
        assert l.shared_axes == (0, 2, 3)
        assert l.get_params(regularizable=True) == []
        assert l.output_shape == (None, 3, 4, 4)

    def test_output(self, mode):
        rng = np.random.RandomState(2)
        x = rng.randn(2, 3, 4).astype("float32")
        s = rng.randn(4).astype("float32")
        l = ScaleLayer(InputLayer((None, 3, 4)), scales=s, shared_axes=(0, 1))
        np.testing.assert_allclose(_compile(l, mode)(x), x * s, rtol=1e-6)

    def test_unknown_unshared_size_raises(self):
        with pytest.raises(ValueError, match="specified input sizes"):
            ScaleLayer(InputLayer((None, None)))

    def test_grad(self, mode):
        rng = np.random.RandomState(3)

        def fn(inp, s):
            return ScaleLayer((None, 3, 2), scales=s).get_output_for(inp) ** 2

        verify_grad(fn, [rng.randn(2, 3, 2), rng.randn(3)], rng=rng, mode=mode)


class TestStandardize:
    def test_output_and_frozen_params(self, mode):
        rng = np.random.RandomState(4)
        x = rng.randn(5, 3).astype("float32")
        offset, scale = x.mean(axis=0), x.std(axis=0)
        l_in = InputLayer((None, 3))
        l = standardize(l_in, offset, scale)
        assert get_all_params(l, trainable=True) == []
        assert len(get_all_params(l)) == 2
        f = pytensor.function([l_in.input_var], get_output(l), mode=mode)
        np.testing.assert_allclose(f(x), (x - offset) / scale, rtol=1e-5, atol=1e-6)


class TestExpressionLayer:
    def test_output(self, mode):
        x = np.arange(6, dtype="float32").reshape(2, 3)
        l_in = InputLayer((None, 3))
        l = ExpressionLayer(l_in, lambda t: t**2 - 1)
        np.testing.assert_allclose(_compile(l, mode)(x), x**2 - 1)

    def test_output_shape_none_tuple_callable(self):
        l_in = InputLayer((None, 3, 4))
        assert ExpressionLayer(l_in, lambda t: t).output_shape == (None, 3, 4)
        fixed = ExpressionLayer(l_in, lambda t: t[:, 0], output_shape=[None, 4])
        assert fixed.output_shape == (None, 4)
        func = ExpressionLayer(l_in, lambda t: t.sum(axis=2), output_shape=lambda shape: shape[:2])
        assert func.output_shape == (None, 3)
        assert func.get_output_shape_for((7, 3, 4)) == (7, 3)

    @pytest.mark.parametrize(
        "function, input_shape, want",
        [
            (lambda t: t.mean(axis=-1), (None, 3, 4), (None, 3)),
            (lambda t: t.dimshuffle(1, 0, "x"), (None, 3), (3, None, 1)),
            (lambda t: t.reshape((t.shape[0], -1)), (None, 3, 4), (None, 12)),
            (lambda t: t.reshape((-1, 2)), (4, 3), (6, 2)),
            (lambda t: t.sum(), (None, 3), ()),
            (lambda t: T.concatenate([t, t], axis=1), (None, 3, None), (None, 6, None)),
        ],
    )
    def test_auto_output_shape(self, function, input_shape, want):
        l = ExpressionLayer(InputLayer(input_shape), function, output_shape="auto")
        assert l.output_shape == want

    def test_auto_with_concrete_input_shape(self):
        l = ExpressionLayer(InputLayer((None, 3, 4)), lambda t: t.mean(axis=-1), output_shape="auto")
        assert l.get_output_shape_for((5, 3, 4)) == (5, 3)


class TestParametricRectifierLayer:
    @pytest.mark.parametrize("shared_axes, alpha_shape", [("auto", (3,)), ("all", ()), ((0, 1), (4,))])
    def test_output(self, shared_axes, alpha_shape, mode):
        rng = np.random.RandomState(5)
        x = rng.randn(2, 3, 4).astype("float32")
        alpha = np.asarray(rng.rand(*alpha_shape), dtype="float32")
        l = ParametricRectifierLayer(InputLayer((None, 3, 4)), alpha=alpha, shared_axes=shared_axes)
        assert l.alpha.get_value().shape == alpha_shape
        if shared_axes == "auto":
            a = alpha[None, :, None]
        else:
            a = alpha
        want = np.where(x > 0, x, a * x)
        np.testing.assert_allclose(_compile(l, mode)(x), want, rtol=1e-6)

    def test_grad(self, mode):
        rng = np.random.RandomState(6)
        x = rng.randn(3, 2)
        x[np.abs(x) < 0.1] = 0.5  # keep test points away from the kink

        def fn(inp, alpha):
            return ParametricRectifierLayer((None, 2), alpha=alpha).get_output_for(inp)

        verify_grad(fn, [x, rng.rand(2)], rng=rng, mode=mode)

    def test_prelu_shortcut(self):
        dense = DenseLayer(InputLayer((None, 3)), num_units=2)
        l = prelu(dense)
        assert isinstance(l, ParametricRectifierLayer)
        assert dense.nonlinearity is nonlinearities.identity
        assert l.input_layer is dense
        np.testing.assert_allclose(l.alpha.get_value(), 0.25)
