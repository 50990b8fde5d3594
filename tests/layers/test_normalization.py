"""BatchNormLayer and batch_norm: numerics, running averages, flags, gradients."""

import numpy as np
import pytensor
import pytest
from pytensor.gradient import verify_grad

from sknet import nonlinearities
from sknet.layers import (
    BatchNormLayer,
    Conv2DLayer,
    DenseLayer,
    InputLayer,
    NonlinearityLayer,
    batch_norm,
    get_all_params,
    get_output,
)


def bn_ref(x, axes, eps, gamma, beta, mean=None, inv_std=None):
    if mean is None:
        mean = x.mean(axis=axes, keepdims=True)
        inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    return (x - mean) * gamma * inv_std + beta


@pytest.fixture(scope="module")
def bn4d(mode):
    """A bc01 BatchNormLayer with a training and a deterministic function."""
    rng = np.random.default_rng(0)
    l = BatchNormLayer(
        InputLayer((None, 3, 4, 5)),
        alpha=0.25,
        beta=rng.normal(size=3).astype("float32"),
        gamma=rng.normal(size=3).astype("float32"),
    )
    x = l.input_layer.input_var
    train = pytensor.function([x], get_output(l), mode=mode)
    test = pytensor.function([x], get_output(l, deterministic=True), mode=mode)
    return l, train, test


class TestBatchNormLayer:
    def test_params_and_tags(self, bn4d):
        l = bn4d[0]
        assert l.axes == (0, 2, 3)
        assert [p.name for p in l.get_params()] == ["beta", "gamma", "mean", "inv_std"]
        assert l.get_params(trainable=True) == [l.beta, l.gamma]
        assert l.get_params(regularizable=True) == [l.gamma]
        assert l.output_shape == (None, 3, 4, 5)

    def test_train_output_and_running_averages(self, bn4d):
        l, train, test = bn4d
        l.mean.set_value(np.zeros(3, "float32"))
        l.inv_std.set_value(np.ones(3, "float32"))
        x = np.random.default_rng(1).normal(2, 3, size=(6, 3, 4, 5)).astype("float32")
        g = l.gamma.get_value().reshape(1, 3, 1, 1)
        b = l.beta.get_value().reshape(1, 3, 1, 1)
        np.testing.assert_allclose(train(x), bn_ref(x, (0, 2, 3), 1e-4, g, b), rtol=1e-4, atol=1e-4)
        batch_mean = x.mean(axis=(0, 2, 3))
        batch_inv_std = 1 / np.sqrt(x.var(axis=(0, 2, 3)) + 1e-4)
        np.testing.assert_allclose(l.mean.get_value(), 0.25 * batch_mean, rtol=1e-5)
        np.testing.assert_allclose(l.inv_std.get_value(), 0.75 + 0.25 * batch_inv_std, rtol=1e-5)
        # deterministic: running averages used and left unchanged
        mean, inv_std = l.mean.get_value(), l.inv_std.get_value()
        out = test(x)
        ref = bn_ref(x, None, None, g, b, mean.reshape(1, 3, 1, 1), inv_std.reshape(1, 3, 1, 1))
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(l.mean.get_value(), mean)

    def test_flags_override_deterministic(self, mode):
        l = BatchNormLayer(InputLayer((None, 2)), mean=np.float32([1, 2]), inv_std=np.float32([2, 4]))
        x = np.float32([[0, 1], [2, 5]])
        xv = l.input_layer.input_var
        f = pytensor.function([xv], get_output(l, deterministic=True, batch_norm_update_averages=True), mode=mode)
        np.testing.assert_allclose(f(x), (x - [1, 2]) * [2, 4], rtol=1e-5)
        np.testing.assert_allclose(l.mean.get_value(), 0.9 * np.float32([1, 2]) + 0.1 * x.mean(0), rtol=1e-5)
        g = pytensor.function(
            [xv], get_output(l, batch_norm_use_averages=False, batch_norm_update_averages=False), mode=mode
        )
        before = l.mean.get_value()
        np.testing.assert_allclose(g(x), bn_ref(x, 0, 1e-4, 1, 0), rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(l.mean.get_value(), before)

    def test_custom_axes_and_no_beta_gamma(self, mode):
        l = BatchNormLayer(InputLayer((None, 3, 4)), axes=(0, 1), beta=None, gamma=None)
        assert l.get_params() == [l.mean, l.inv_std]
        x = np.random.default_rng(2).normal(size=(5, 3, 4)).astype("float32")
        out = get_output(l, x, batch_norm_update_averages=False).eval(mode=mode)
        np.testing.assert_allclose(out, bn_ref(x, (0, 1), 1e-4, 1, 0), rtol=1e-4, atol=1e-4)
        with pytest.raises(ValueError):
            BatchNormLayer(InputLayer((None, None, 4)))

    def test_verify_grad(self, mode):
        rng = np.random.default_rng(3)

        def fn(x):
            l = BatchNormLayer(InputLayer((None, 2, 3)), gamma=np.float32([1.5, -0.5]))
            return get_output(l, x, batch_norm_update_averages=False)

        verify_grad(fn, [rng.normal(size=(4, 2, 3))], rng=rng, mode=mode)

    def test_updates_reach_a_train_function(self, mode):
        """Running averages move when only the loss's updates are passed."""
        l_in = InputLayer((None, 1, 5, 5))
        l = batch_norm(Conv2DLayer(l_in, 2, 3))
        loss = get_output(l).mean()
        params = get_all_params(l, trainable=True)
        updates = [(p, p - 0.1 * g) for p, g in zip(params, pytensor.grad(loss, params))]
        f = pytensor.function([l_in.input_var], loss, updates=updates, mode=mode)
        bn = l.input_layer
        f(np.random.default_rng(4).normal(3, 1, size=(4, 1, 5, 5)).astype("float32"))
        assert np.all(bn.mean.get_value() != 0)


class TestBatchNormHelper:
    def test_removes_bias_and_nonlinearity(self):
        l_in = InputLayer((None, 4))
        dense = DenseLayer(l_in, 3, nonlinearity=nonlinearities.tanh, name="fc")
        out = batch_norm(dense, epsilon=1e-3)
        assert isinstance(out, NonlinearityLayer) and out.nonlinearity is nonlinearities.tanh
        assert out.name == "fc_bn_nonlin"
        bn = out.input_layer
        assert isinstance(bn, BatchNormLayer) and bn.epsilon == 1e-3 and bn.name == "fc_bn"
        assert dense.b is None and dense.nonlinearity is nonlinearities.identity
        assert get_all_params(out) == [dense.W, bn.beta, bn.gamma, bn.mean, bn.inv_std]

    def test_layer_without_nonlinearity_attribute(self):
        l = batch_norm(BatchNormLayer(InputLayer((None, 4))))
        assert isinstance(l, BatchNormLayer) and l.name is None
