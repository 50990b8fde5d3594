"""Tests of FlattenLayer, ReshapeLayer, DimshuffleLayer, PadLayer and SliceLayer."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.gradient import verify_grad

from sknet.layers import (
    DimshuffleLayer,
    FlattenLayer,
    InputLayer,
    PadLayer,
    ReshapeLayer,
    SliceLayer,
    dimshuffle,
    flatten,
    get_output,
    pad,
    reshape,
)


def _compile(layer, mode):
    l_in = layer.input_layer
    return pytensor.function([l_in.input_var], get_output(layer), mode=mode)


@pytest.fixture(scope="module")
def x4():
    return np.random.RandomState(0).randn(2, 3, 4, 5).astype("float32")


class TestFlattenLayer:
    @pytest.mark.parametrize("outdim, shape", [(1, (None,)), (2, (None, 60)), (3, (None, 3, 20)), (4, (None, 3, 4, 5))])
    def test_output_and_shape(self, outdim, shape, x4, mode):
        l = FlattenLayer(InputLayer((None, 3, 4, 5)), outdim=outdim)
        assert l.output_shape == shape
        want = x4.reshape(x4.shape[: outdim - 1] + (-1,))
        np.testing.assert_array_equal(_compile(l, mode)(x4), want)

    def test_unknown_trailing_size(self):
        assert FlattenLayer(InputLayer((None, 3, None))).output_shape == (None, None)
        assert FlattenLayer(InputLayer((2, 3, 4))).output_shape == (2, 12)

    def test_invalid_outdim(self):
        with pytest.raises(ValueError, match="outdim"):
            FlattenLayer(InputLayer((None, 3)), outdim=0)

    def test_shortcut(self):
        assert flatten is FlattenLayer


class TestReshapeLayer:
    @pytest.mark.parametrize(
        "spec, want_shape, concrete",
        [
            (([0], 3, -1), (None, 3, 20), (2, 3, 20)),
            (([0], -1), (None, 60), (2, 60)),
            ((-1, 5), (None, 5), (24, 5)),
            (([0], [2], [1], 5), (None, 4, 3, 5), (2, 4, 3, 5)),
            ((2, 60), (2, 60), (2, 60)),
        ],
    )
    def test_output_and_shape(self, spec, want_shape, concrete, x4, mode):
        l = ReshapeLayer(InputLayer((None, 3, 4, 5)), spec)
        assert l.output_shape == want_shape
        np.testing.assert_array_equal(_compile(l, mode)(x4), x4.reshape(concrete))

    def test_shape_with_known_batch(self):
        l = ReshapeLayer(InputLayer((2, 3, 4, 5)), (-1, [1], 5))
        assert l.output_shape == (8, 3, 5)
        assert l.get_output_shape_for((6, 3, 4, 5)) == (24, 3, 5)

    def test_unknown_size_not_copied_gives_none(self):
        l = ReshapeLayer(InputLayer((None, 3, None)), ([0], -1))
        assert l.output_shape == (None, None)
        # [2] copies the unknown axis, so -1 can still be inferred
        l = ReshapeLayer(InputLayer((2, 6, None)), (-1, 3, [2]))
        assert l.output_shape == (4, 3, None)

    def test_symbolic_entry(self, mode):
        n = T.iscalar("n")
        l_in = InputLayer((None, 12))
        l = ReshapeLayer(l_in, ([0], n, -1))
        assert l.output_shape == (None, None, None)
        f = pytensor.function([l_in.input_var, n], get_output(l), mode=mode)
        x = np.arange(24, dtype="float32").reshape(2, 12)
        np.testing.assert_array_equal(f(x, 4), x.reshape(2, 4, 3))

    @pytest.mark.parametrize(
        "spec, match",
        [
            ((0, 3), "positive"),
            ((-2, 3), "positive"),
            ((-1, -1), "-1 at most once"),
            (([0, 1], 3), "single-element"),
            ((3.5,), "tuple of int"),
            (([5], -1), "only 4 dimensions"),
            ((7, -1), "size"),
            (([0], 7), "mismatch"),
        ],
    )
    def test_invalid_specs(self, spec, match):
        with pytest.raises(ValueError, match=match):
            ReshapeLayer(InputLayer((2, 3, 4, 5)), spec)

    def test_grad(self, mode):
        rng = np.random.RandomState(1)
        weights = rng.randn(3, 8)

        def fn(inp):
            out = ReshapeLayer((None, 2, 4, 3), ([0], [3], -1)).get_output_for(inp)
            return out * weights

        verify_grad(fn, [rng.randn(2, 2, 4, 3)], rng=rng, mode=mode)

    def test_shortcut(self):
        assert reshape is ReshapeLayer


class TestDimshuffleLayer:
    def test_permute_and_insert(self, x4, mode):
        l = DimshuffleLayer(InputLayer((None, 3, 4, 5)), (3, "x", 0, 2, 1))
        assert l.output_shape == (5, 1, None, 4, 3)
        want = x4.transpose(3, 0, 2, 1)[:, None]
        np.testing.assert_array_equal(_compile(l, mode)(x4), want)

    def test_drop_size_one_axis(self, mode):
        l_in = InputLayer((None, 1, 3))
        l = DimshuffleLayer(l_in, (2, 0))
        assert l.output_shape == (3, None)
        x = np.arange(6, dtype="float32").reshape(2, 1, 3)
        np.testing.assert_array_equal(_compile(l, mode)(x), x[:, 0].T)

    def test_invalid_patterns(self):
        l_in = InputLayer((None, 3, 4))
        with pytest.raises(ValueError, match="twice"):
            DimshuffleLayer(l_in, (0, 1, 1))
        with pytest.raises(ValueError, match="int or 'x'"):
            DimshuffleLayer(l_in, (0, "y", 1, 2))
        with pytest.raises(ValueError, match="dimension 3"):
            DimshuffleLayer(l_in, (0, 1, 2, 3))
        with pytest.raises(ValueError, match="drops dimension 2 of size 4"):
            DimshuffleLayer(l_in, (0, 1))

    def test_shortcut(self):
        assert dimshuffle is DimshuffleLayer


class TestPadLayer:
    @pytest.mark.parametrize(
        "width, val, batch_ndim, np_width, shape",
        [
            (1, 0, 2, [(0, 0), (0, 0), (1, 1), (1, 1)], (None, 3, 6, 7)),
            ((1, (0, 2)), 0, 2, [(0, 0), (0, 0), (1, 1), (0, 2)], (None, 3, 6, 7)),
            ([2], -1.5, 2, [(0, 0), (0, 0), (2, 2), (0, 0)], (None, 3, 8, 5)),
            (1, 3.0, 1, [(0, 0), (1, 1), (1, 1), (1, 1)], (None, 5, 6, 7)),
        ],
    )
    def test_output_and_shape(self, width, val, batch_ndim, np_width, shape, x4, mode):
        l = PadLayer(InputLayer((None, 3, 4, 5)), width, val=val, batch_ndim=batch_ndim)
        assert l.output_shape == shape
        want = np.pad(x4, np_width, mode="constant", constant_values=val)
        np.testing.assert_array_equal(_compile(l, mode)(x4), want)

    def test_unknown_sizes_stay_unknown(self):
        assert PadLayer(InputLayer((None, 3, None, 4)), 2).output_shape == (None, 3, None, 8)

    def test_too_many_widths(self):
        l = PadLayer(InputLayer((None, 3, 4)), (1, 1))
        with pytest.raises(ValueError, match="pad widths"):
            l.output_shape

    def test_grad(self, mode):
        rng = np.random.RandomState(2)
        weights = rng.randn(2, 5, 4)

        def fn(inp):
            return PadLayer((None, 2, 3, 2), ((1, 1), (0, 2))).get_output_for(inp) * weights

        verify_grad(fn, [rng.randn(3, 2, 3, 2)], rng=rng, mode=mode)

    def test_shortcut(self):
        assert pad is PadLayer


class TestSliceLayer:
    @pytest.mark.parametrize(
        "indices, axis, shape, index",
        [
            (0, -1, (None, 3, 4), np.s_[..., 0]),
            (2, 1, (None, 4, 5), np.s_[:, 2]),
            (-1, 2, (None, 3, 5), np.s_[:, :, -1]),
            (slice(1, None, 2), -1, (None, 3, 4, 2), np.s_[..., 1::2]),
            (slice(None, -1), 1, (None, 2, 4, 5), np.s_[:, :-1]),
            (slice(0, 1), 0, (None, 3, 4, 5), np.s_[0:1]),
        ],
    )
    def test_output_and_shape(self, indices, axis, shape, index, x4, mode):
        l = SliceLayer(InputLayer((None, 3, 4, 5)), indices, axis=axis)
        assert l.output_shape == shape
        np.testing.assert_array_equal(_compile(l, mode)(x4), x4[index])

    def test_known_size_of_sliced_axis(self):
        assert SliceLayer(InputLayer((10, 3)), slice(2, 8, 3), axis=0).output_shape == (2, 3)
        assert SliceLayer(InputLayer((None, 10)), slice(-3, None)).output_shape == (None, 3)
