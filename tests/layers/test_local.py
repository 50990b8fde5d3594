"""LocallyConnected2DLayer against a numpy reference."""

import numpy as np
import pytensor
import pytest
from pytensor.gradient import verify_grad

from sknet.layers import InputLayer, LocallyConnected2DLayer, get_output


def local_ref(x, W, flip, channelwise):
    """Loop over output positions: each has its own filters over its 'same'-padded window."""
    kh, kw, H, Wd = W.shape[-4:]
    if flip:
        W = W[..., ::-1, ::-1, :, :]
    xp = np.pad(x, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
    out = np.zeros((x.shape[0], W.shape[0], H, Wd))
    for y in range(H):
        for z in range(Wd):
            win = xp[:, :, y : y + kh, z : z + kw]
            if channelwise:
                out[:, :, y, z] = np.einsum("bcij,cij->bc", win, W[:, :, :, y, z])
            else:
                out[:, :, y, z] = np.einsum("bcij,fcij->bf", win, W[:, :, :, :, y, z])
    return out


CASES = [(3, True, False), ((3, 1), False, False), ((1, 5), True, True), (3, False, True)]


@pytest.fixture(scope="module")
def local_case(mode):
    l_in = InputLayer((None, 3, 5, 6))
    layers = [
        LocallyConnected2DLayer(
            l_in,
            3,
            fs,
            flip_filters=flip,
            channelwise=cw,
            untie_biases=True,
            nonlinearity=None,
            b=np.arange(90, dtype="float32").reshape(3, 5, 6),
        )
        for fs, flip, cw in CASES
    ]
    return layers, pytensor.function([l_in.input_var], get_output(layers), mode=mode)


class TestLocallyConnected2DLayer:
    def test_outputs_match_numpy(self, local_case):
        layers, f = local_case
        x = np.random.default_rng(0).normal(size=(2, 3, 5, 6)).astype("float32")
        for layer, out, (_, flip, cw) in zip(layers, f(x), CASES):
            ref = local_ref(x, layer.W.get_value(), flip, cw) + np.arange(90).reshape(3, 5, 6)
            np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)

    def test_shapes_and_params(self):
        l = LocallyConnected2DLayer(InputLayer((None, 2, 4, 5)), 6, (3, 5))
        assert l.output_shape == (None, 6, 4, 5)
        assert l.W.get_value().shape == (6, 2, 3, 5, 4, 5)
        assert l.b.get_value().shape == (6,)
        cw = LocallyConnected2DLayer(InputLayer((None, 2, 4, 5)), 2, 3, channelwise=True)
        assert cw.W.get_value().shape == (2, 3, 3, 4, 5)

    def test_bad_input(self):
        with pytest.raises(ValueError, match="fixed input shape"):
            LocallyConnected2DLayer(InputLayer((None, 2, None, 5)), 6, 3)
        with pytest.raises(ValueError, match="channelwise"):
            LocallyConnected2DLayer(InputLayer((None, 2, 4, 5)), 3, 3, channelwise=True)
        with pytest.raises(NotImplementedError, match="pad"):
            LocallyConnected2DLayer(InputLayer((None, 2, 4, 5)), 3, 3, pad="valid")
        with pytest.raises(NotImplementedError, match="stride"):
            LocallyConnected2DLayer(InputLayer((None, 2, 4, 5)), 3, 3, stride=2)
        with pytest.raises(NotImplementedError):
            LocallyConnected2DLayer(InputLayer((None, 2, 4, 5)), 3, 2)  # even: no 'same'
        with pytest.raises(ValueError, match="grouped"):
            LocallyConnected2DLayer(InputLayer((None, 2, 4, 5)), 4, 3, num_groups=2)

    @pytest.mark.parametrize("channelwise", [False, True])
    def test_verify_grad(self, channelwise, mode):
        rng = np.random.default_rng(1)
        wshape = (2, 3, 3, 3, 4) if channelwise else (2, 2, 3, 3, 3, 4)

        def fn(x, W):
            l = LocallyConnected2DLayer(
                InputLayer((None, 2, 3, 4)), 2, 3, W=W, b=None, nonlinearity=None, channelwise=channelwise
            )
            return get_output(l, x)

        verify_grad(fn, [rng.normal(size=(2, 2, 3, 4)), rng.normal(size=wshape)], rng=rng, mode=mode)
