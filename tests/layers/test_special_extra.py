"""InverseLayer, RandomizedRectifierLayer/rrelu and prelu, against numpy references."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.gradient import verify_grad

from sknet import nonlinearities
from sknet.layers import (
    Conv2DLayer,
    DenseLayer,
    InputLayer,
    InverseLayer,
    MaxPool2DLayer,
    ParametricRectifierLayer,
    RandomizedRectifierLayer,
    get_output,
    prelu,
    rrelu,
)


class TestInverseLayer:
    def test_dense_is_the_transposed_product_through_the_nonlinearity(self, mode):
        rng = np.random.RandomState(0)
        l_in = InputLayer((None, 4))
        l_dense = DenseLayer(l_in, 3, nonlinearity=nonlinearities.rectify)
        l_inv = InverseLayer(l_dense, l_dense)
        assert l_inv.output_shape == (None, 4)
        x = rng.randn(5, 4).astype("float32")
        out = pytensor.function([l_in.input_var], get_output(l_inv), mode=mode)(x)
        W, b = l_dense.W.get_value(), l_dense.b.get_value()
        # d/dx sum(y * relu(x W + b)) with the incoming y = relu(x W + b)
        pre = x @ W + b
        y = np.maximum(pre, 0)
        np.testing.assert_allclose(out, (y * (pre > 0)) @ W.T, rtol=1e-5, atol=1e-6)

    def test_conv_and_pool_invert_to_the_input_shape(self, mode):
        l_in = InputLayer((None, 2, 6, 6))
        l_conv = Conv2DLayer(l_in, 3, 3, nonlinearity=None)
        l_pool = MaxPool2DLayer(l_conv, 2)
        l_unpool = InverseLayer(l_pool, l_pool)
        l_deconv = InverseLayer(l_unpool, l_conv)
        assert l_unpool.output_shape == (None, 3, 4, 4)
        assert l_deconv.output_shape == (None, 2, 6, 6)
        x = np.random.RandomState(1).randn(2, 2, 6, 6).astype("float32")
        conv, pool, unpool, deconv = pytensor.function(
            [l_in.input_var], get_output([l_conv, l_pool, l_unpool, l_deconv]), mode=mode
        )(x)
        # unpooling puts each maximum back at its place, zeros elsewhere
        windows = conv.reshape(2, 3, 2, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
        is_max = windows == windows.max(axis=(4, 5), keepdims=True)
        expected_unpool = (is_max * pool[:, :, :, :, None, None]).transpose(0, 1, 2, 4, 3, 5)
        np.testing.assert_allclose(unpool, expected_unpool.reshape(2, 3, 4, 4), rtol=1e-6)
        # the transposed convolution: each output position spreads W back
        W = l_conv.W.get_value()[:, :, ::-1, ::-1]  # flip_filters=True: a true convolution
        expected = np.zeros((2, 2, 6, 6))
        for i in range(4):
            for j in range(4):
                expected[:, :, i : i + 3, j : j + 3] += np.einsum("bf,fcij->bcij", unpool[:, :, i, j], W)
        np.testing.assert_allclose(deconv, expected, rtol=1e-4, atol=1e-5)

    def test_needs_a_layer_with_one_incoming(self):
        with pytest.raises(ValueError, match="one incoming layer"):
            InverseLayer(InputLayer((None, 3)), InputLayer((None, 3)))


class TestRandomizedRectifierLayer:
    def test_deterministic_uses_the_mean_slope(self, mode):
        l_in = InputLayer((None, 3))
        l = RandomizedRectifierLayer(l_in, lower=0.2, upper=0.6)
        x = np.array([[-2.0, 0.0, 3.0]], "float32")
        out = pytensor.function([l_in.input_var], get_output(l, deterministic=True), mode=mode)(x)
        np.testing.assert_allclose(out, [[-0.8, 0.0, 3.0]], rtol=1e-6)

    @pytest.mark.parametrize(
        "shared_axes, slope_shape",
        [("auto", (1, 4, 1, 1)), ("all", (1, 1, 1, 1)), ((0, 1), (1, 1, 3, 5)), (0, (1, 4, 3, 5))],
    )
    def test_training_slopes_are_uniform_and_shared(self, shared_axes, slope_shape, mode):
        l_in = InputLayer((None, 4, 3, 5))
        l = RandomizedRectifierLayer(l_in, lower=0.1, upper=0.5, shared_axes=shared_axes)
        f = pytensor.function([l_in.input_var], get_output(l), mode=mode)
        x = -np.ones((6, 4, 3, 5), "float32")
        slopes = -f(x)
        assert ((slopes >= 0.1) & (slopes < 0.5)).all()
        # the slope varies only along the axes it is not shared over
        for axis, size in enumerate(slope_shape):
            if size == 1:
                assert np.ptp(slopes, axis=axis).max() == 0
            else:
                assert np.ptp(slopes, axis=axis).max() > 0
        assert not np.array_equal(slopes, -f(x))  # fresh slopes every call
        positive = np.abs(np.random.RandomState(0).randn(6, 4, 3, 5)).astype("float32")
        np.testing.assert_array_equal(f(positive), positive)

    def test_unknown_sizes_and_equal_bounds(self, mode):
        l_in = InputLayer((None, None))
        l = RandomizedRectifierLayer(l_in, lower=0.3, upper=0.3)
        out = get_output(l)
        x = np.array([[-1.0, 2.0]], "float32")
        np.testing.assert_allclose(pytensor.function([l_in.input_var], out, mode=mode)(x), [[-0.3, 2.0]], rtol=1e-6)

    def test_symbolic_bounds(self, mode):
        lower = pytensor.shared(np.float32(0.25))
        l_in = InputLayer((None, 2))
        l = RandomizedRectifierLayer(l_in, lower=lower, upper=0.75)
        f = pytensor.function([l_in.input_var], get_output(l, deterministic=True), mode=mode)
        np.testing.assert_allclose(f(np.float32([[-1, 1]])), [[-0.5, 1.0]], rtol=1e-6)

    def test_gradient_of_the_deterministic_output(self, mode):
        l = RandomizedRectifierLayer((None, 4), lower=0.2, upper=0.4)
        x = np.array([[-1.0, 0.5, -0.3, 2.0]])
        verify_grad(lambda v: l.get_output_for(v, deterministic=True), [x], rng=np.random.RandomState(0), mode=mode)

    def test_lower_above_upper_is_an_error(self):
        with pytest.raises(ValueError, match="higher than lower bound"):
            RandomizedRectifierLayer((None, 3), lower=0.9, upper=0.1)

    def test_rrelu_takes_the_nonlinearity(self):
        dense = DenseLayer(InputLayer((None, 3)), 4)
        top = rrelu(dense, lower=0.1, upper=0.2)
        assert isinstance(top, RandomizedRectifierLayer) and top.input_layer is dense
        assert dense.nonlinearity is nonlinearities.identity
        assert (top.lower, top.upper) == (0.1, 0.2)


def test_prelu_matches_numpy(mode):
    dense = DenseLayer(InputLayer((None, 3)), 2, nonlinearity=nonlinearities.tanh)
    top = prelu(dense, alpha=np.array([0.1, 0.5]))
    assert isinstance(top, ParametricRectifierLayer)
    assert dense.nonlinearity is nonlinearities.identity
    x = np.random.RandomState(2).randn(4, 3).astype("float32")
    f = pytensor.function([dense.input_layer.input_var], get_output([dense, top]), mode=mode)
    pre, out = f(x)
    np.testing.assert_allclose(out, np.where(pre > 0, pre, pre * [0.1, 0.5]), rtol=1e-6)
    xs = T.matrix()
    assert top.get_output_for(xs).ndim == 2
