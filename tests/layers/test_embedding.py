"""Tests of EmbeddingLayer."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.gradient import verify_grad

from sknet.layers import EmbeddingLayer, InputLayer, get_output


class TestEmbeddingLayer:
    @pytest.mark.parametrize("index_shape", [(4,), (2, 3), (2, 2, 3)], ids=["1d", "2d", "3d"])
    def test_output_and_shape(self, index_shape, mode):
        rng = np.random.RandomState(0)
        W = rng.randn(7, 3).astype("float32")
        var = T.tensor(dtype="int32", shape=(None,) * len(index_shape))
        l_in = InputLayer((None,) + index_shape[1:], input_var=var)
        l = EmbeddingLayer(l_in, input_size=7, output_size=3, W=W)
        assert l.output_shape == (None,) + index_shape[1:] + (3,)
        idx = rng.randint(0, 7, size=index_shape).astype("int32")
        f = pytensor.function([var], get_output(l), mode=mode)
        np.testing.assert_array_equal(f(idx), W[idx])

    def test_float_indices_are_cast(self, mode):
        W = np.arange(8, dtype="float32").reshape(4, 2)
        l_in = InputLayer((None, 3))
        l = EmbeddingLayer(l_in, input_size=4, output_size=2, W=W)
        f = pytensor.function([l_in.input_var], get_output(l), mode=mode)
        idx = np.array([[0, 3, 2]], dtype="float32")
        np.testing.assert_array_equal(f(idx), W[idx.astype(int)])

    def test_params(self):
        l = EmbeddingLayer(InputLayer((None, 2)), input_size=50, output_size=40, name="emb")
        W = l.W.get_value()
        assert W.shape == (50, 40) and W.dtype == np.float32
        assert l.W.name == "emb.W"
        # Lasagne's default initializer: Normal(std=0.01)
        assert abs(W.mean()) < 0.002 and abs(W.std() - 0.01) < 0.001
        assert l.get_params(trainable=True) == [l.W]
        assert l.get_params(regularizable=True) == [l.W]

    def test_grad_wrt_W(self, mode):
        rng = np.random.RandomState(1)
        idx = np.array([[0, 2, 2], [4, 0, 1]], dtype="int32")  # repeats accumulate

        def fn(W):
            l = EmbeddingLayer((None, 3), input_size=5, output_size=2, W=W)
            return l.get_output_for(T.constant(idx)) ** 2

        verify_grad(fn, [rng.randn(5, 2)], rng=rng, mode=mode)

    def test_gradient_values(self, mode):
        W = pytensor.shared(np.zeros((4, 2), "float32"))
        idx = T.ivector("idx")
        l = EmbeddingLayer(InputLayer((None,), input_var=idx), input_size=4, output_size=2, W=W)
        grad = pytensor.grad(get_output(l).sum(), W)
        f = pytensor.function([idx], grad, mode=mode)
        want = np.zeros((4, 2), "float32")
        np.add.at(want, [1, 1, 3], 1.0)
        np.testing.assert_array_equal(f(np.array([1, 1, 3], "int32")), want)
