"""Upscale1DLayer, FeaturePoolLayer, FeatureWTALayer and SpatialPyramidPoolingLayer
against numpy references, with gradients checked numerically."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.gradient import verify_grad

from sknet.layers import (
    FeaturePoolLayer,
    FeatureWTALayer,
    InputLayer,
    SpatialPyramidPoolingLayer,
    Upscale1DLayer,
    get_output,
)
from sknet.layers.pool_extra import pool_2d_nxn_regions


def _grad_check(layer, x, mode):
    rng = np.random.RandomState(0)
    verify_grad(lambda v: layer.get_output_for(v), [x], rng=rng, eps=1e-2, abs_tol=1e-3, rel_tol=1e-3, mode=mode)


class TestUpscale1DLayer:
    @pytest.mark.parametrize("factor", [1, 3, (2,)])
    def test_repeat_and_dilate_match_numpy(self, factor, mode):
        x = np.random.RandomState(0).randn(2, 3, 5).astype("float32")
        l_in = InputLayer((None, 3, 5))
        rep, dil = Upscale1DLayer(l_in, factor), Upscale1DLayer(l_in, factor, mode="dilate")
        a = factor if isinstance(factor, int) else factor[0]
        assert rep.output_shape == dil.output_shape == (None, 3, 5 * a)
        got_rep, got_dil = pytensor.function([l_in.input_var], get_output([rep, dil]), mode=mode)(x)
        np.testing.assert_array_equal(got_rep, np.repeat(x, a, axis=2))
        expected = np.zeros((2, 3, 5 * a), "float32")
        expected[:, :, ::a] = x
        np.testing.assert_array_equal(got_dil, expected)

    def test_unknown_length_and_numpy_int(self, mode):
        l = Upscale1DLayer(InputLayer((None, 2, None)), np.int64(2))
        assert l.output_shape == (None, 2, None) and l.scale_factor == (2,)
        x = np.arange(6, dtype="float32").reshape(1, 2, 3)
        out = pytensor.function([l.input_layer.input_var], get_output(l), mode=mode)(x)
        np.testing.assert_array_equal(out, np.repeat(x, 2, axis=2))

    def test_gradient(self, mode):
        x = np.random.RandomState(1).randn(2, 2, 4)
        _grad_check(Upscale1DLayer((None, 2, 4), 2), x, mode)
        _grad_check(Upscale1DLayer((None, 2, 4), 2, mode="dilate"), x, mode)

    def test_errors(self):
        with pytest.raises(ValueError, match="Scale factor must be >= 1"):
            Upscale1DLayer((None, 2, 4), 0)
        with pytest.raises(ValueError, match="'repeat' or 'dilate'"):
            Upscale1DLayer((None, 2, 4), 2, mode="nearest")
        with pytest.raises(ValueError, match="length 1"):
            Upscale1DLayer((None, 2, 4), (2, 2))


class TestFeaturePoolLayer:
    @pytest.mark.parametrize("axis, fn, np_fn", [(1, T.max, np.max), (2, T.mean, np.mean), (-1, T.max, np.max)])
    def test_matches_numpy(self, axis, fn, np_fn, mode):
        x = np.random.RandomState(0).randn(2, 6, 4, 6).astype("float32")
        l_in = InputLayer((None, 6, 4, 6))
        l = FeaturePoolLayer(l_in, 2, axis=axis, pool_function=fn)
        ax = axis % 4
        shape = list(x.shape)
        shape[ax : ax + 1] = [shape[ax] // 2, 2]
        expected = np_fn(x.reshape(shape), axis=ax + 1)
        assert l.output_shape == (None,) + expected.shape[1:]
        out = pytensor.function([l_in.input_var], get_output(l), mode=mode)(x)
        np.testing.assert_allclose(out, expected, rtol=1e-6)

    def test_maxout_gradient(self, mode):
        x = np.random.RandomState(2).randn(3, 6)
        _grad_check(FeaturePoolLayer((None, 6), 3), x, mode)

    def test_pool_size_must_divide(self):
        with pytest.raises(ValueError, match=r"\(7\) is not a multiple of the pool size"):
            FeaturePoolLayer((None, 7), 2)
        assert FeaturePoolLayer((None, None), 2).output_shape == (None, None)


class TestFeatureWTALayer:
    def test_matches_numpy(self, mode):
        x = np.random.RandomState(3).randn(4, 6, 3).astype("float32")
        l_in = InputLayer((None, 6, 3))
        l = FeatureWTALayer(l_in, 3)
        assert l.output_shape == (None, 6, 3)
        groups = x.reshape(4, 2, 3, 3)
        keep = groups == groups.max(axis=2, keepdims=True)
        expected = (groups * keep).reshape(x.shape)
        out = pytensor.function([l_in.input_var], get_output(l), mode=mode)(x)
        np.testing.assert_array_equal(out, expected)

    def test_tie_keeps_first(self):
        l = FeatureWTALayer((None, 4), 2)
        out = l.get_output_for(T.constant(np.array([[2.0, 2.0, -1.0, 5.0]], "float32"))).eval()
        np.testing.assert_array_equal(out, [[2.0, 0.0, 0.0, 5.0]])

    def test_gradient(self, mode):
        x = np.random.RandomState(4).randn(2, 6)
        _grad_check(FeatureWTALayer((None, 6), 2), x, mode)

    def test_region_size_must_divide(self):
        with pytest.raises(ValueError, match="not a multiple of the region size"):
            FeatureWTALayer((None, 5), 2)


def _spp_kaiming_ref(x, n, reduce):
    h, w = x.shape[2:]
    bins = []
    for r in range(n):
        for c in range(n):
            r0, r1 = int(np.floor(r / n * h)), int(np.ceil((r + 1) / n * h))
            c0, c1 = int(np.floor(c / n * w)), int(np.ceil((c + 1) / n * w))
            bins.append(reduce(x[:, :, r0:r1, c0:c1], axis=(2, 3)))
    return np.stack(bins, axis=2)


def _spp_fast_ref(x, n, reduce):
    h, w = x.shape[2:]
    wh, ww, sh, sw = -(-h // n), -(-w // n), h // n, w // n
    return np.stack(
        [reduce(x[:, :, r * sh : r * sh + wh, c * sw : c * sw + ww], axis=(2, 3)) for r in range(n) for c in range(n)],
        axis=2,
    )


class TestSpatialPyramidPoolingLayer:
    @pytest.mark.parametrize("implementation, ref", [("kaiming", _spp_kaiming_ref), ("fast", _spp_fast_ref)])
    @pytest.mark.parametrize("pool_mode, reduce", [("max", np.max), ("average_exc_pad", np.mean)])
    @pytest.mark.parametrize("known", [True, False])
    def test_matches_numpy(self, implementation, ref, pool_mode, reduce, known, mode):
        x = np.random.RandomState(5).randn(2, 3, 9, 8).astype("float32")
        l_in = InputLayer((None, 3, 9, 8) if known else (None, 3, None, None))
        l = SpatialPyramidPoolingLayer(l_in, [4, 2, 1], mode=pool_mode, implementation=implementation)
        assert l.output_shape == (None, 3, 21)
        out = pytensor.function([l_in.input_var], get_output(l), mode=mode)(x)
        expected = np.concatenate([ref(x, n, reduce) for n in (4, 2, 1)], axis=2)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)

    def test_any_input_size_gives_the_same_output_size(self, mode):
        l_in = InputLayer((None, 2, None, None))
        l = SpatialPyramidPoolingLayer(l_in, [3, 1], implementation="kaiming")
        f = pytensor.function([l_in.input_var], get_output(l), mode=mode)
        for size in [(3, 3), (7, 5), (16, 11)]:
            assert f(np.ones((1, 2) + size, "float32")).shape == (1, 2, 10)

    def test_fast_rejects_sizes_it_cannot_bin(self, mode):
        with pytest.raises(ValueError, match="use implementation='kaiming'"):
            SpatialPyramidPoolingLayer((None, 2, 7, 8), [4])
        l_in = InputLayer((None, 2, None, None))
        l = SpatialPyramidPoolingLayer(l_in, [4])
        f = pytensor.function([l_in.input_var], get_output(l), mode=mode)
        assert f(np.ones((1, 2, 8, 8), "float32")).shape == (1, 2, 16)
        with pytest.raises(AssertionError, match="use implementation='kaiming'"):
            f(np.ones((1, 2, 7, 8), "float32"))

    @pytest.mark.parametrize("implementation", ["kaiming", "fast"])
    def test_gradient(self, implementation, mode):
        x = np.random.RandomState(6).randn(1, 2, 4, 6)
        _grad_check(SpatialPyramidPoolingLayer((None, 2, 4, 6), [2, 1], implementation=implementation), x, mode)

    def test_errors(self):
        with pytest.raises(ValueError, match="Expected 4 input dimensions"):
            SpatialPyramidPoolingLayer((None, 3, 8))
        with pytest.raises(ValueError, match="Mode must be either 'max', 'average_inc_pad' or"):
            SpatialPyramidPoolingLayer((None, 3, 8, 8), mode="median")
        with pytest.raises(ValueError, match="'fast' or 'kaiming'"):
            SpatialPyramidPoolingLayer((None, 3, 8, 8), implementation="slow")

    def test_nxn_regions_function(self):
        x = np.arange(25, dtype="float32").reshape(1, 1, 5, 5)
        bins = pool_2d_nxn_regions(T.constant(x), 2, mode="average_inc_pad")
        got = np.concatenate([b.eval() for b in bins], axis=2)
        np.testing.assert_allclose(got, _spp_kaiming_ref(x, 2, np.mean))
        with pytest.raises(ValueError, match="Mode must be either"):
            pool_2d_nxn_regions(T.constant(x), 2, mode="sum")
