"""Penalties against numpy, over tensors, layers and networks."""

import inspect

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest

from sknet import regularization as reg
from sknet.layers import DenseLayer, InputLayer

rng = np.random.RandomState(0)
W1 = rng.randn(3, 4).astype("float32")
B1 = rng.randn(4).astype("float32")
W2 = rng.randn(4, 2).astype("float32")
B2 = rng.randn(2).astype("float32")


@pytest.fixture
def net():
    l_in = InputLayer((None, 3))
    hidden = DenseLayer(l_in, num_units=4, W=W1, b=B1)
    out = DenseLayer(hidden, num_units=2, W=W2, b=B2)
    return hidden, out


def _np_l1(*arrays):
    return sum(np.abs(a).sum() for a in arrays)


def _np_l2(*arrays):
    return sum((a.astype("float64") ** 2).sum() for a in arrays)


def test_penalties_on_layers_and_networks(net, mode):
    hidden, out = net
    exprs = [
        reg.l1(hidden.W),
        reg.l2(hidden.W),
        reg.apply_penalty(hidden.W, reg.l2),
        reg.apply_penalty([hidden.W, out.W], reg.l1),
        reg.regularize_layer_params(out, reg.l2),
        reg.regularize_layer_params([hidden, out], reg.l1),
        reg.regularize_layer_params(out, reg.l2, tags={"trainable": True}),
        reg.regularize_layer_params_weighted({hidden: 0.5, out: 2.0}, reg.l2),
        reg.regularize_network_params(out, reg.l2),
        reg.regularize_network_params(out, reg.l1, tags={"regularizable": False}),
    ]
    grad = pytensor.grad(reg.regularize_network_params(out, reg.l2), hidden.W)
    f = pytensor.function([], exprs + [grad], mode=mode)
    got = f()
    expected = [
        _np_l1(W1),
        _np_l2(W1),
        _np_l2(W1),
        _np_l1(W1, W2),
        _np_l2(W2),  # the bias is not regularizable, lower layers do not count
        _np_l1(W1, W2),
        _np_l2(W2, B2),
        0.5 * _np_l2(W1) + 2.0 * _np_l2(W2),
        _np_l2(W1, W2),
        _np_l1(B1, B2),
        2 * W1,
    ]
    for value, want in zip(got, expected):
        np.testing.assert_allclose(value, want, rtol=1e-5)
    assert all(v.dtype == np.float32 for v in got)


def test_apply_penalty_passes_kwargs_and_does_not_iterate_a_tensor():
    calls = []

    def penalty(x, power=2):
        calls.append(x)
        return T.sum(abs(x) ** power)

    # a shared variable with a static shape can be iterated row by row;
    # the penalty must still see the whole tensor once
    w = pytensor.shared(np.float32([[1.0, -2.0], [3.0, 0.5]]), shape=(2, 2))
    value = reg.apply_penalty(w, penalty, power=3)
    assert calls == [w]
    np.testing.assert_allclose(value.eval(), 1 + 8 + 27 + 0.125, rtol=1e-6)

    calls.clear()
    reg.apply_penalty((w, w), penalty)
    assert calls == [w, w]
    assert reg.apply_penalty([], reg.l2) == 0


def test_default_tags_are_lasagnes_and_read_only():
    for fn in (reg.regularize_layer_params, reg.regularize_layer_params_weighted, reg.regularize_network_params):
        default = inspect.signature(fn).parameters["tags"].default
        assert dict(default) == {"regularizable": True}
        with pytest.raises(TypeError):
            default["trainable"] = True
