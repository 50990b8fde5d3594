"""Tests of autocrop, ConcatLayer, ElemwiseMergeLayer and ElemwiseSumLayer."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.gradient import verify_grad

from sknet.layers import (
    ConcatLayer,
    ElemwiseMergeLayer,
    ElemwiseSumLayer,
    InputLayer,
    autocrop,
    autocrop_array_shapes,
    concat,
    get_output,
)


def _compile(layer, mode):
    inputs = [l.input_var for l in layer.input_layers]
    return pytensor.function(inputs, get_output(layer), mode=mode)


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.RandomState(0)
    return [rng.randn(*shape).astype("float32") for shape in [(2, 5, 6), (2, 3, 9), (2, 4, 7)]]


class TestAutocrop:
    def test_crop_modes(self, arrays, mode):
        variables = [T.tensor3() for _ in arrays]
        cropped = autocrop(variables, [None, "lower", "center"])
        f = pytensor.function(variables, cropped, mode=mode)
        got = f(*arrays)
        a, b, c = arrays
        # axis 1 -> 3 (first three), axis 2 -> 6 (middle six, offset rounded down)
        np.testing.assert_array_equal(got[0], a[:, :3, 0:6])
        np.testing.assert_array_equal(got[1], b[:, :3, 1:7])
        np.testing.assert_array_equal(got[2], c[:, :3, 0:6])
        upper = pytensor.function(variables, autocrop(variables, [None, "upper"]), mode=mode)
        got = upper(*arrays)
        np.testing.assert_array_equal(got[0], a[:, 2:])
        np.testing.assert_array_equal(got[1], b)
        np.testing.assert_array_equal(got[2], c[:, 1:])

    def test_none_is_identity(self):
        xs = [T.matrix(), T.matrix()]
        assert autocrop(xs, None) == xs
        assert autocrop_array_shapes([(1, 2), (3, 4)], None) == [(1, 2), (3, 4)]

    def test_array_shapes(self):
        shapes = [(2, 5, 6), (2, 3, None), (None, 4, 7)]
        assert autocrop_array_shapes(shapes, [None, "lower", "center"]) == [
            (2, 3, None),
            (2, 3, None),
            (None, 3, None),
        ]

    def test_errors(self):
        with pytest.raises(ValueError, match="dimensionality"):
            autocrop([T.matrix(), T.tensor3()], ["lower"])
        with pytest.raises(ValueError, match="dimensionality"):
            autocrop_array_shapes([(1, 2), (1, 2, 3)], ["lower"])
        with pytest.raises(ValueError, match="Unknown crop mode"):
            autocrop_array_shapes([(1, 2), (1, 2)], ["middle"])
        with pytest.raises(ValueError, match="Unknown crop mode"):
            autocrop([T.matrix(), T.matrix()], ["middle"])


class TestConcatLayer:
    @pytest.mark.parametrize("axis", [0, 1, -1])
    def test_output_and_shape(self, axis, mode):
        rng = np.random.RandomState(1)
        shapes = {0: [(2, 3, 4), (5, 3, 4)], 1: [(2, 3, 4), (2, 1, 4)], -1: [(2, 3, 4), (2, 3, 2)]}
        xs = [rng.randn(*s).astype("float32") for s in shapes[axis]]
        layers = [InputLayer((None,) + s[1:]) for s in shapes[axis]]
        l = ConcatLayer(layers, axis=axis)
        want = np.concatenate(xs, axis=axis)
        expected_shape = (None,) + want.shape[1:]
        assert l.output_shape == expected_shape
        assert l.get_output_shape_for([x.shape for x in xs]) == want.shape
        np.testing.assert_array_equal(_compile(l, mode)(*xs), want)

    def test_shape_inference(self):
        l = ConcatLayer([InputLayer((None, 3, None)), InputLayer((4, None, 5))], axis=1)
        assert l.output_shape == (4, None, 5)
        l = ConcatLayer([InputLayer((None, 3)), InputLayer((None, 4)), InputLayer((2, 1))])
        assert l.output_shape == (2, 8)

    def test_mismatch(self):
        # as in Lasagne, reported when the shape is computed, not at construction
        l = ConcatLayer([InputLayer((None, 3, 4)), InputLayer((None, 3, 5))], axis=1)
        with pytest.raises(ValueError, match="Mismatch"):
            l.output_shape
        l = ConcatLayer([InputLayer((None, 3)), InputLayer((None, 3, 5))])
        with pytest.raises(ValueError, match="Mismatch"):
            l.output_shape

    def test_cropping(self, arrays, mode):
        layers = [InputLayer((None,) + a.shape[1:]) for a in arrays]
        l = ConcatLayer(layers, axis=1, cropping=[None, "lower", "center"])
        assert l.cropping == [None, None, "center"]
        assert l.output_shape == (None, 12, 6)
        a, b, c = arrays
        want = np.concatenate([a[:, :, 0:6], b[:, :, 1:7], c[:, :, 0:6]], axis=1)
        np.testing.assert_array_equal(_compile(l, mode)(*arrays), want)

    def test_grad(self, mode):
        rng = np.random.RandomState(2)
        weights = rng.randn(2, 5)

        def fn(a, b):
            return ConcatLayer([(None, 2), (None, 3)]).get_output_for([a, b]) * weights

        verify_grad(fn, [rng.randn(2, 2), rng.randn(2, 3)], rng=rng, mode=mode)

    def test_shortcut(self):
        assert concat is ConcatLayer


class TestElemwiseMergeLayer:
    @pytest.mark.parametrize("function, reference", [(T.mul, np.multiply), (T.maximum, np.maximum)])
    def test_output(self, function, reference, mode):
        rng = np.random.RandomState(3)
        xs = [rng.randn(2, 4).astype("float32") for _ in range(3)]
        l = ElemwiseMergeLayer([InputLayer((None, 4)) for _ in xs], function)
        want = reference(reference(xs[0], xs[1]), xs[2])
        np.testing.assert_allclose(_compile(l, mode)(*xs), want, rtol=1e-6)

    def test_shape(self):
        l = ElemwiseMergeLayer([InputLayer((None, 4, None)), InputLayer((3, None, 5))], T.mul)
        assert l.output_shape == (3, 4, 5)
        l = ElemwiseMergeLayer([InputLayer((None, 4)), InputLayer((None, 5))], T.mul)
        with pytest.raises(ValueError, match="Mismatch"):
            l.output_shape

    def test_cropping(self, arrays, mode):
        layers = [InputLayer((None,) + a.shape[1:]) for a in arrays]
        l = ElemwiseMergeLayer(layers, T.maximum, cropping=[None, "upper", "lower"])
        assert l.output_shape == (None, 3, 6)
        a, b, c = arrays
        want = np.maximum(np.maximum(a[:, 2:, :6], b[:, :, :6]), c[:, 1:, :6])
        np.testing.assert_array_equal(_compile(l, mode)(*arrays), want)


class TestElemwiseSumLayer:
    @pytest.mark.parametrize("coeffs", [1, 0.5, [1, -2, 0.25]])
    def test_output(self, coeffs, mode):
        rng = np.random.RandomState(4)
        xs = [rng.randn(3, 2, 2).astype("float32") for _ in range(3)]
        l = ElemwiseSumLayer([InputLayer((None, 2, 2)) for _ in xs], coeffs=coeffs)
        cs = coeffs if isinstance(coeffs, list) else [coeffs] * 3
        want = sum(c * x for c, x in zip(cs, xs))
        assert l.output_shape == (None, 2, 2)
        out = _compile(l, mode)(*xs)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)

    def test_wrong_number_of_coeffs(self):
        with pytest.raises(ValueError, match="coefficients"):
            ElemwiseSumLayer([InputLayer((None, 2)), InputLayer((None, 2))], coeffs=[1, 2, 3])

    def test_grad(self, mode):
        rng = np.random.RandomState(5)

        def fn(a, b):
            out = ElemwiseSumLayer([(None, 3), (None, 3)], coeffs=[2, -1]).get_output_for([a, b])
            return out**2

        verify_grad(fn, [rng.randn(2, 3), rng.randn(2, 3)], rng=rng, mode=mode)
