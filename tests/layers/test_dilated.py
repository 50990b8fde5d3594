"""DilatedConv2DLayer against a numpy reference."""

import numpy as np
import pytensor
import pytest
from pytensor.gradient import verify_grad

from sknet.layers import DilatedConv2DLayer, InputLayer, get_output


def dilated_ref(x, W, dilation):
    """out[b, f, y, x] = sum over c, i, j of x[b, c, y + i*dy, x + j*dx] * W[c, f, i, j]."""
    (dy, dx), (kh, kw) = dilation, W.shape[2:]
    oh, ow = x.shape[2] - (kh - 1) * dy, x.shape[3] - (kw - 1) * dx
    out = np.zeros((x.shape[0], W.shape[1], oh, ow))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i * dy : i * dy + oh, j * dx : j * dx + ow]
            out += np.einsum("bcyx,cf->bfyx", patch, W[:, :, i, j])
    return out


class TestDilatedConv2DLayer:
    @pytest.mark.parametrize("dilation, filter_size", [((1, 1), 3), ((2, 3), (3, 2)), (3, 2)])
    def test_output_matches_numpy(self, dilation, filter_size, mode):
        rng = np.random.default_rng(0)
        l_in = InputLayer((None, 3, 9, 10))
        l = DilatedConv2DLayer(
            l_in, 4, filter_size, dilation=dilation, nonlinearity=None, b=np.arange(4, dtype="float32")
        )
        x = rng.normal(size=(2, 3, 9, 10)).astype("float32")
        out = pytensor.function([l_in.input_var], get_output(l), mode=mode)(x)
        ref = dilated_ref(x, l.W.get_value(), l.dilation) + np.arange(4).reshape(1, 4, 1, 1)
        assert out.shape == (2,) + l.output_shape[1:]
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)

    def test_numpy_input_and_unknown_sizes(self):
        rng = np.random.default_rng(2)
        l = DilatedConv2DLayer(InputLayer((None, 2, None, None)), 3, 2, dilation=(1, 2), nonlinearity=None, b=None)
        x = rng.normal(size=(2, 2, 5, 6)).astype("float32")
        np.testing.assert_allclose(
            l.get_output_for(x).eval(), dilated_ref(x, l.W.get_value(), (1, 2)), rtol=1e-4, atol=1e-5
        )

    def test_shapes_and_params(self):
        l = DilatedConv2DLayer(InputLayer((None, 3, 20, None)), 5, (3, 2), dilation=(4, 2))
        assert l.output_shape == (None, 5, 12, None)
        assert l.W.get_value().shape == (3, 5, 3, 2)  # (input channels, filters, ...)
        assert l.dilation == (4, 2) and not hasattr(l, "stride")
        assert l.flip_filters is False and l.pad == (0, 0)

    def test_bad_input(self):
        with pytest.raises(NotImplementedError, match="pad"):
            DilatedConv2DLayer(InputLayer((None, 3, 9, 9)), 4, 3, pad=1)
        with pytest.raises(NotImplementedError, match="pad"):
            DilatedConv2DLayer(InputLayer((None, 3, 9, 9)), 4, 3, pad="same")
        with pytest.raises(NotImplementedError, match="flip_filters"):
            DilatedConv2DLayer(InputLayer((None, 3, 9, 9)), 4, 3, flip_filters=True)
        with pytest.raises(ValueError, match="grouped"):
            DilatedConv2DLayer(InputLayer((None, 4, 9, 9)), 4, 3, num_groups=2)
        with pytest.raises(ValueError, match="dilation"):
            DilatedConv2DLayer(InputLayer((None, 3, 9, 9)), 4, 3, dilation=0)

    def test_verify_grad(self, mode):
        rng = np.random.default_rng(1)

        def fn(x, W):
            l = DilatedConv2DLayer(
                InputLayer((None, 2, 6, 7)), 3, (2, 3), dilation=(2, 2), W=W, b=None, nonlinearity=None
            )
            return get_output(l, x)

        verify_grad(fn, [rng.normal(size=(2, 2, 6, 7)), rng.normal(size=(2, 3, 2, 3))], rng=rng, mode=mode)
