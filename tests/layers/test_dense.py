"""Tests of DenseLayer and NINLayer against numpy references."""

import numpy as np
import pytensor
import pytest
from pytensor.gradient import verify_grad

from sknet import nonlinearities
from sknet.layers import DenseLayer, InputLayer, NINLayer, get_output


def _relu(x):
    return np.maximum(x, 0)


class TestDenseLayer:
    @pytest.mark.parametrize(
        "input_shape, num_leading_axes, w_shape, out_shape",
        [
            ((None, 6), 1, (6, 4), (None, 4)),
            ((None, 2, 3), 1, (6, 4), (None, 4)),
            ((None, 2, 3), 2, (3, 4), (None, 2, 4)),
            ((None, 2, 3), -1, (3, 4), (None, 2, 4)),
            ((None, 2, 3, 5), -2, (15, 4), (None, 2, 4)),
        ],
    )
    def test_shapes(self, input_shape, num_leading_axes, w_shape, out_shape):
        l = DenseLayer(InputLayer(input_shape), num_units=4, num_leading_axes=num_leading_axes)
        assert l.W.get_value().shape == w_shape
        assert l.b.get_value().shape == (4,)
        assert l.output_shape == out_shape
        concrete = (7,) + input_shape[1:]
        assert l.get_output_shape_for(concrete) == (7,) + out_shape[1:]

    @pytest.mark.parametrize("num_leading_axes", [1, 2])
    def test_output(self, num_leading_axes, mode):
        rng = np.random.RandomState(0)
        x = rng.randn(5, 2, 3).astype("float32")
        l_in = InputLayer((None, 2, 3))
        l = DenseLayer(l_in, num_units=4, num_leading_axes=num_leading_axes, b=rng.randn(4))
        f = pytensor.function([l_in.input_var], get_output(l), mode=mode)
        W, b = l.W.get_value(), l.b.get_value()
        if num_leading_axes == 1:
            want = _relu(x.reshape(5, 6) @ W + b)
        else:
            want = _relu(x @ W + b)
        np.testing.assert_allclose(f(x), want, rtol=1e-5, atol=1e-6)

    def test_no_bias_and_linear(self, mode):
        rng = np.random.RandomState(1)
        l_in = InputLayer((None, 3))
        l = DenseLayer(l_in, num_units=2, b=None, nonlinearity=None)
        assert l.b is None
        assert l.get_params() == [l.W]
        x = rng.randn(4, 3).astype("float32")
        f = pytensor.function([l_in.input_var], get_output(l), mode=mode)
        np.testing.assert_allclose(f(x), x @ l.W.get_value(), rtol=1e-5, atol=1e-6)
        assert (f(x) < 0).any()  # linear: negative values survive

    def test_param_tags_and_names(self):
        l = DenseLayer(InputLayer((None, 3)), num_units=2, name="fc")
        assert l.W.name == "fc.W" and l.b.name == "fc.b"
        assert l.get_params(regularizable=True) == [l.W]
        assert l.get_params(trainable=True) == [l.W, l.b]

    def test_invalid_arguments(self):
        with pytest.raises(ValueError, match="num_leading_axes"):
            DenseLayer(InputLayer((None, 3)), num_units=2, num_leading_axes=2)
        with pytest.raises(ValueError, match="num_leading_axes"):
            DenseLayer(InputLayer((None, 3)), num_units=2, num_leading_axes=-3)
        with pytest.raises(ValueError, match="fixed input shape"):
            DenseLayer(InputLayer((None, None)), num_units=2)

    def test_grad(self, mode):
        rng = np.random.RandomState(2)
        x = rng.randn(4, 2, 3)

        def fn(inp, W, b):
            l = DenseLayer((None, 2, 3), num_units=2, W=W, b=b, nonlinearity=nonlinearities.tanh)
            return l.get_output_for(inp)

        verify_grad(fn, [x, rng.randn(6, 2), rng.randn(2)], rng=rng, mode=mode)


class TestNINLayer:
    @pytest.mark.parametrize("untie_biases", [False, True])
    def test_output(self, untie_biases, mode):
        rng = np.random.RandomState(3)
        x = rng.randn(2, 3, 4, 5).astype("float32")
        l_in = InputLayer((None, 3, 4, 5))
        b_shape = (6, 4, 5) if untie_biases else (6,)
        l = NINLayer(l_in, num_units=6, untie_biases=untie_biases, b=rng.randn(*b_shape), nonlinearity=None)
        assert l.output_shape == (None, 6, 4, 5)
        assert l.b.get_value().shape == b_shape
        f = pytensor.function([l_in.input_var], get_output(l), mode=mode)
        W, b = l.W.get_value(), l.b.get_value()
        want = np.einsum("bchw,cu->buhw", x, W)
        want += b if untie_biases else b[None, :, None, None]
        np.testing.assert_allclose(f(x), want, rtol=1e-5, atol=1e-5)

    def test_default_relu_and_shapes(self):
        l = NINLayer(InputLayer((None, 3, 7)), num_units=2)
        assert l.output_shape == (None, 2, 7)
        assert l.W.get_value().shape == (3, 2)
        assert l.nonlinearity is nonlinearities.rectify
        with pytest.raises(ValueError, match="channels"):
            NINLayer(InputLayer((None, None, 7)), num_units=2)

    def test_grad(self, mode):
        rng = np.random.RandomState(4)

        def fn(inp, W, b):
            l = NINLayer((None, 3, 2, 2), num_units=2, W=W, b=b, untie_biases=True, nonlinearity=nonlinearities.tanh)
            return l.get_output_for(inp)

        verify_grad(fn, [rng.randn(2, 3, 2, 2), rng.randn(3, 2), rng.randn(2, 2, 2)], rng=rng, mode=mode)
