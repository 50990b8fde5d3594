"""Conv1DLayer, Conv2DLayer and TransposedConv2DLayer against scipy/numpy references."""

import inspect

import numpy as np
import pytensor
import pytest
from pytensor.gradient import verify_grad
from scipy.signal import convolve2d, correlate2d

from sknet.init import Constant, GlorotUniform
from sknet.layers import (
    Conv1DLayer,
    Conv2DLayer,
    Conv3DLayer,
    DilatedConv2DLayer,
    InputLayer,
    LocallyConnected2DLayer,
    TransposedConv2DLayer,
    TransposedConv3DLayer,
    get_output,
)
from sknet.layers.conv import conv_input_length, conv_output_length
from sknet.nonlinearities import identity, rectify

PADS = ["valid", "full", "same", 1, (2, 1)]
STRIDES = [1, (2, 3)]
CONFIGS = [(p, s, f) for p in PADS for s in STRIDES for f in (True, False)]


def _pad_amount(pad, k):
    return {"valid": 0, "full": k - 1, "same": k // 2}.get(pad, pad)


def conv2d_ref(x, W, pad, stride, flip):
    """Per-channel scipy convolution (flip) or correlation of padded input."""
    stride = stride if isinstance(stride, tuple) else (stride, stride)
    kh, kw = W.shape[2:]
    pads = pad if isinstance(pad, tuple) else (pad, pad)
    ph, pw = _pad_amount(pads[0], kh), _pad_amount(pads[1], kw)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    op = convolve2d if flip else correlate2d
    out = np.array(
        [
            [sum(op(xp[b, c], W[f, c], "valid") for c in range(x.shape[1])) for f in range(W.shape[0])]
            for b in range(x.shape[0])
        ]
    )
    return out[:, :, :: stride[0], :: stride[1]]


def _filter(pad):
    return (3, 5) if pad == "same" else (2, 3)


@pytest.fixture(scope="module")
def conv2d_case(mode):
    """Every (pad, stride, flip) configuration in one compiled function."""
    l_in = InputLayer((None, 3, 7, 6))
    layers = [
        Conv2DLayer(
            l_in, 4, _filter(p), stride=s, pad=p, flip_filters=f, nonlinearity=None, b=np.arange(4, dtype="float32")
        )
        for p, s, f in CONFIGS
    ]
    f = pytensor.function([l_in.input_var], get_output(layers), mode=mode)
    return layers, f


class TestConv2DLayer:
    def test_outputs_match_scipy(self, conv2d_case):
        layers, f = conv2d_case
        x = np.random.default_rng(0).normal(size=(2, 3, 7, 6)).astype("float32")
        for layer, out, (pad, stride, flip) in zip(layers, f(x), CONFIGS):
            ref = conv2d_ref(x, layer.W.get_value(), pad, stride, flip)
            ref += np.arange(4).reshape(1, 4, 1, 1)
            np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4, err_msg=f"pad={pad} stride={stride} flip={flip}")
            assert out.shape[1:] == layer.output_shape[1:]
            assert layer.get_output_shape_for((2, 3, 7, 6)) == out.shape

    def test_shapes(self):
        l = Conv2DLayer(InputLayer((None, 3, None, 9)), 5, (3, 4), stride=2, pad="full")
        assert l.output_shape == (None, 5, None, 6)
        assert l.W.get_value().shape == (5, 3, 3, 4)
        assert l.b.get_value().shape == (5,)
        l = Conv2DLayer(InputLayer((4, 3, 10, 9)), 5, 3, untie_biases=True)
        assert l.output_shape == (4, 5, 8, 7)
        assert l.b.get_value().shape == (5, 8, 7)

    def test_same_needs_odd_filters(self):
        with pytest.raises(NotImplementedError):
            Conv2DLayer(InputLayer((None, 1, 5, 5)), 2, 2, pad="same")

    def test_untied_biases_and_rectify(self, mode):
        rng = np.random.default_rng(1)
        x = rng.normal(size=(2, 2, 5, 4)).astype("float32")
        b = rng.normal(size=(3, 3, 2)).astype("float32")
        l = Conv2DLayer(InputLayer((None, 2, 5, 4)), 3, 3, untie_biases=True, b=b)
        out = get_output(l, x).eval(mode=mode)
        ref = np.maximum(conv2d_ref(x, l.W.get_value(), 0, 1, True) + b, 0)
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)

    def test_groups(self, mode):
        rng = np.random.default_rng(2)
        x = rng.normal(size=(2, 4, 5, 5)).astype("float32")
        l = Conv2DLayer(InputLayer((None, 4, 5, 5)), 6, 3, num_groups=2, nonlinearity=None)
        W = l.W.get_value()
        assert W.shape == (6, 2, 3, 3)
        out = get_output(l, x).eval(mode=mode)
        ref = np.concatenate([conv2d_ref(x[:, :2], W[:3], 0, 1, True), conv2d_ref(x[:, 2:], W[3:], 0, 1, True)], axis=1)
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
        with pytest.raises(ValueError):
            Conv2DLayer(InputLayer((None, 4, 5, 5)), 6, 3, num_groups=3)

    def test_verify_grad(self, mode):
        rng = np.random.default_rng(3)

        def fn(x, W):
            l = Conv2DLayer(
                InputLayer((None, 2, 6, 5)), 3, (3, 2), stride=(2, 1), pad=1, W=W, b=None, nonlinearity=None
            )
            return get_output(l, x)

        verify_grad(fn, [rng.normal(size=(2, 2, 6, 5)), rng.normal(size=(3, 2, 3, 2))], rng=rng, mode=mode)


class TestConv1DLayer:
    @pytest.mark.parametrize("pad, stride", [("valid", 1), ("full", 2), ("same", 1), (2, 3)])
    def test_output_matches_numpy(self, pad, stride, mode):
        rng = np.random.default_rng(4)
        x = rng.normal(size=(2, 3, 8)).astype("float32")
        l = Conv1DLayer(InputLayer((None, 3, 8)), 4, 3, stride=stride, pad=pad, nonlinearity=None)
        W = l.W.get_value()
        p = _pad_amount(pad, 3)
        xp = np.pad(x, ((0, 0), (0, 0), (p, p)))
        ref = np.array(
            [[sum(np.convolve(xp[b, c], W[f, c], "valid") for c in range(3)) for f in range(4)] for b in range(2)]
        )[:, :, ::stride]
        out = get_output(l, x).eval(mode=mode)
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
        assert l.output_shape == (None, 4, ref.shape[2])


def transposed_ref(x, W, stride, crop, flip):
    """Scatter each input pixel times the filter, then crop."""
    Wk = W if flip else W[:, :, ::-1, ::-1]
    kh, kw = W.shape[2:]
    sh, sw = stride
    B, C, H, Wd = x.shape
    full = np.zeros((B, W.shape[1], (H - 1) * sh + kh, (Wd - 1) * sw + kw))
    for i in range(H):
        for j in range(Wd):
            full[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw] += np.einsum("bc,cfuv->bfuv", x[:, :, i, j], Wk)
    ch, cw = _pad_amount(crop, kh), _pad_amount(crop, kw)
    return full[:, :, ch : full.shape[2] - ch, cw : full.shape[3] - cw]


class TestTransposedConv2DLayer:
    @pytest.mark.parametrize(
        "crop, stride, flip", [(0, (1, 1), False), ("full", (2, 2), False), ("same", (1, 2), True), (1, (3, 2), True)]
    )
    def test_output_matches_reference(self, crop, stride, flip, mode):
        rng = np.random.default_rng(5)
        x = rng.normal(size=(2, 3, 4, 5)).astype("float32")
        l = TransposedConv2DLayer(
            InputLayer((None, 3, 4, 5)), 2, 3, stride=stride, crop=crop, flip_filters=flip, nonlinearity=None
        )
        assert l.W.get_value().shape == (3, 2, 3, 3)
        out = get_output(l, x).eval(mode=mode)
        ref = transposed_ref(x, l.W.get_value(), stride, crop, flip)
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
        assert l.output_shape == (None,) + ref.shape[1:]

    def test_is_the_transpose_of_conv2d(self, mode):
        rng = np.random.default_rng(6)
        x = rng.normal(size=(1, 2, 7, 7)).astype("float32")
        conv = Conv2DLayer(InputLayer((None, 2, 7, 7)), 3, 3, stride=2, b=None, nonlinearity=None)
        y = rng.normal(size=(1, 3, 3, 3)).astype("float32")
        deconv = TransposedConv2DLayer(InputLayer((None, 3, 3, 3)), 2, 3, stride=2, W=conv.W, b=None, nonlinearity=None)
        lhs = (get_output(conv, x).eval(mode=mode) * y).sum()
        rhs = (get_output(deconv, y).eval(mode=mode) * x).sum()
        np.testing.assert_allclose(lhs, rhs, rtol=1e-4)

    def test_output_size(self, mode):
        l = TransposedConv2DLayer(InputLayer((None, 1, 3, 3)), 1, 3, stride=2, output_size=8)
        assert l.output_shape == (None, 1, 8, 8)
        out = get_output(l, np.ones((1, 1, 3, 3), "float32")).eval(mode=mode)
        assert out.shape == (1, 1, 8, 8)
        assert TransposedConv2DLayer(InputLayer((None, 1, None, 4)), 2, 3).output_shape == (None, 2, None, 6)

    def test_verify_grad(self, mode):
        rng = np.random.default_rng(7)

        def fn(x, W):
            l = TransposedConv2DLayer(
                InputLayer((None, 2, 3, 4)), 3, (3, 2), stride=(2, 1), crop=1, W=W, b=None, nonlinearity=None
            )
            return get_output(l, x)

        verify_grad(fn, [rng.normal(size=(2, 2, 3, 4)), rng.normal(size=(2, 3, 3, 2))], rng=rng, mode=mode)


def test_length_helpers():
    assert conv_output_length(None, 3, 1, "valid") is None
    assert [conv_output_length(10, 3, 2, p) for p in ("valid", "full", "same", 2)] == [4, 6, 5, 6]
    assert [conv_input_length(4, 3, 2, p) for p in ("valid", "full", "same", 2)] == [9, 5, 7, 5]


class TestConvParameterLists:
    """Every convolution layer keeps Lasagne's parameter list: names, positional order, defaults."""

    # (layer, its names for Lasagne's stride and pad, their defaults, the parameters after flip_filters)
    CASES = [
        (Conv1DLayer, ("stride", "pad"), (1, 0), ["convolution", "num_groups"]),
        (Conv2DLayer, ("stride", "pad"), ((1, 1), 0), ["convolution", "num_groups"]),
        (Conv3DLayer, ("stride", "pad"), ((1, 1, 1), 0), ["convolution", "num_groups"]),
        (TransposedConv2DLayer, ("stride", "crop"), ((1, 1), 0), ["output_size"]),
        (TransposedConv3DLayer, ("stride", "crop"), ((1, 1, 1), 0), ["output_size"]),
        (DilatedConv2DLayer, ("dilation", "pad"), ((1, 1), 0), []),
        (LocallyConnected2DLayer, ("stride", "pad"), ((1, 1), "same"), ["channelwise"]),
    ]

    @pytest.mark.parametrize("cls, names, defaults, tail", CASES, ids=lambda c: getattr(c, "__name__", ""))
    def test_signature(self, cls, names, defaults, tail):
        params = inspect.signature(cls).parameters
        expected = ["incoming", "num_filters", "filter_size", *names, "untie_biases", "W", "b", "nonlinearity"]
        assert list(params) == expected + ["flip_filters", *tail, "kwargs"]
        assert [params[n].default for n in names] == list(defaults)
        assert params["untie_biases"].default is False
        assert isinstance(params["W"].default, GlorotUniform)
        assert isinstance(params["b"].default, Constant) and params["b"].default.val == 0.0
        assert params["nonlinearity"].default is rectify
        transposed_layout = cls in (TransposedConv2DLayer, TransposedConv3DLayer, DilatedConv2DLayer)
        assert params["flip_filters"].default is not transposed_layout
        assert all(params[n].default is None for n in tail if n in ("convolution", "output_size"))
        assert params["kwargs"].kind is inspect.Parameter.VAR_KEYWORD

    def test_positional_arguments_bind_in_lasagne_order(self):
        W = np.ones((4, 3, 3, 3), "float32")
        l = Conv2DLayer(InputLayer((None, 3, 8, 8)), 4, 3, 2, "same", True, W, None, None, False)
        assert (l.stride, l.pad, l.untie_biases, l.b, l.flip_filters) == ((2, 2), "same", True, None, False)
        assert l.nonlinearity is identity and l.W.get_value() is not None
        t = TransposedConv2DLayer(InputLayer((None, 3, 4, 4)), 2, 3, 2, 1, False, W[:3, :2], None, None, True, 8)
        assert (t.crop, t.output_size, t.flip_filters, t.output_shape) == ((1, 1), (8, 8), True, (None, 2, 8, 8))
        with pytest.raises(TypeError, match="filter_size"):
            Conv2DLayer(InputLayer((None, 3, 8, 8)), 4)
        with pytest.raises(TypeError, match="strides"):
            Conv2DLayer(InputLayer((None, 3, 8, 8)), 4, 3, strides=2)


class TestTransposedConv2DLayerChecks:
    def test_output_size_that_no_convolution_reaches_is_an_error(self):
        # a stride-2 3x3 convolution maps 7 or 8 to 3, never 20
        for size in (7, 8):
            TransposedConv2DLayer(InputLayer((None, 1, 3, 3)), 1, 3, stride=2, output_size=size)
        with pytest.raises(ValueError, match="output_size"):
            TransposedConv2DLayer(InputLayer((None, 1, 3, 3)), 1, 3, stride=2, output_size=20)

    def test_groups_are_refused(self):
        with pytest.raises(ValueError, match="num_groups"):
            TransposedConv2DLayer(InputLayer((None, 4, 3, 3)), 2, 3, num_groups=2)
