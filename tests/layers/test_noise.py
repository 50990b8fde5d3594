"""Tests of DropoutLayer (and its shortcuts) and GaussianNoiseLayer."""

import numpy as np
import pytensor
import pytest

import sknet
from sknet.layers import (
    DropoutLayer,
    GaussianNoiseLayer,
    InputLayer,
    dropout,
    dropout_channels,
    dropout_locations,
    get_output,
    spatial_dropout,
)


def _compile(layer, mode, **kwargs):
    l_in = layer.input_layer
    return pytensor.function([l_in.input_var], get_output(layer, **kwargs), mode=mode)


class TestDropoutLayer:
    @pytest.mark.parametrize("p", [0.2, 0.5])
    def test_statistics_and_rescale(self, p, mode):
        x = np.random.RandomState(0).uniform(1, 2, size=(400, 500)).astype("float32")
        f = _compile(DropoutLayer(InputLayer((None, 500)), p=p), mode)
        out = f(x)
        dropped = out == 0
        # 200,000 Bernoulli draws: the std of the fraction is about 0.001
        assert abs(dropped.mean() - p) < 0.01
        np.testing.assert_allclose(out[~dropped], x[~dropped] / (1 - p), rtol=1e-6)
        assert abs(out.mean() - x.mean()) < 0.02

    def test_without_rescale(self, mode):
        x = np.full((50, 40), 3.0, "float32")
        out = _compile(DropoutLayer(InputLayer((None, 40)), p=0.5, rescale=False), mode)(x)
        assert set(np.unique(out).tolist()) == {0.0, 3.0}

    def test_deterministic_and_p_zero_pass_through(self):
        l_in = InputLayer((None, 10))
        assert get_output(DropoutLayer(l_in, p=0.5), deterministic=True) is l_in.input_var
        assert get_output(DropoutLayer(l_in, p=0)) is l_in.input_var
        assert get_output(DropoutLayer(l_in, p=0.0)) is l_in.input_var

    def test_unknown_batch_size_and_fresh_masks(self, mode):
        f = _compile(DropoutLayer(InputLayer((None, 50)), p=0.5), mode)
        assert f(np.ones((3, 50), "float32")).shape == (3, 50)
        first = f(np.ones((7, 50), "float32"))
        second = f(np.ones((7, 50), "float32"))
        assert first.shape == (7, 50)
        # the generator state advances between calls through default updates
        assert not np.array_equal(first, second)

    def test_seed_makes_masks_reproducible(self, mode):
        x = np.ones((4, 30), "float32")
        outs = []
        for _ in range(2):
            sknet.random.seed(7)
            outs.append(_compile(DropoutLayer(InputLayer((None, 30))), mode)(x))
        np.testing.assert_array_equal(outs[0], outs[1])

    @pytest.mark.parametrize("shared_axes", [(2, 3), (0,), (-1,)])
    def test_shared_axes(self, shared_axes, mode):
        x = np.ones((60, 8, 3, 4), "float32")
        l = DropoutLayer(InputLayer((None, 8, 3, 4)), p=0.5, shared_axes=shared_axes)
        out = _compile(l, mode)(x)
        axes = tuple(a % 4 for a in shared_axes)
        # the mask is constant along the shared axes
        reduced_min = out.min(axis=axes)
        reduced_max = out.max(axis=axes)
        np.testing.assert_array_equal(reduced_min, reduced_max)
        assert set(np.unique(out).tolist()) == {0.0, 2.0}
        assert 0.3 < (reduced_min == 0).mean() < 0.7

    def test_symbolic_p(self, mode):
        p = pytensor.shared(np.float32(0.25))
        l_in = InputLayer((None, 500))
        f = _compile(DropoutLayer(l_in, p=p), mode)
        x = np.ones((200, 500), "float32")
        assert abs((f(x) == 0).mean() - 0.25) < 0.01
        p.set_value(np.float32(0.75))
        out = f(x)
        assert abs((out == 0).mean() - 0.75) < 0.01
        np.testing.assert_allclose(out[out != 0], 4.0)

    def test_shortcuts(self):
        l_in = InputLayer((None, 3, 5, 5))
        assert dropout is DropoutLayer
        assert dropout_channels(l_in, p=0.1).shared_axes == (2, 3)
        assert spatial_dropout(l_in).shared_axes == (2, 3)
        assert dropout_channels((None, 3, 5)).shared_axes == (2,)
        l = dropout_locations(l_in, p=0.3)
        assert l.shared_axes == (1,) and l.p == 0.3
        assert l.output_shape == (None, 3, 5, 5)
        assert l.get_params() == []


class TestGaussianNoiseLayer:
    def test_statistics(self, mode):
        x = np.full((400, 500), 2.0, "float32")
        f = _compile(GaussianNoiseLayer(InputLayer((None, 500)), sigma=0.5), mode)
        out = f(x)
        noise = out - x
        assert abs(noise.mean()) < 0.01
        assert abs(noise.std() - 0.5) < 0.01
        assert out.dtype == np.float32
        assert not np.array_equal(f(x[:3]), f(x[:3]))

    def test_default_sigma(self):
        assert GaussianNoiseLayer((None, 3)).sigma == 0.1

    def test_deterministic_and_zero_sigma_pass_through(self):
        l_in = InputLayer((None, 4))
        assert get_output(GaussianNoiseLayer(l_in), deterministic=True) is l_in.input_var
        assert get_output(GaussianNoiseLayer(l_in, sigma=0)) is l_in.input_var
