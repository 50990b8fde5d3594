"""sknet.theano_extensions: the 1-D convolutions and pad against numpy."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.gradient import verify_grad

import sknet.theano_extensions
from sknet.theano_extensions import conv
from sknet.theano_extensions.padding import pad

IMPLS = ["conv1d_sc", "conv1d_mc0", "conv1d_mc1", "conv1d_unstrided", "conv1d_sd", "conv1d_md"]
X_SHAPE, W_SHAPE = (2, 3, 11), (4, 3, 4)
CASES = [(impl, flip, stride) for impl in IMPLS for flip in (True, False) for stride in (1, 2)]


def conv1d_ref(x, w, stride=1, pad=0, flip=True):
    """Sum over channels of numpy's 1-D convolutions (or correlations), then strided."""
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
    op = np.convolve if flip else (lambda a, k, m: np.correlate(a, k, m))
    out = np.array(
        [
            [sum(op(x[b, c], w[f, c], "valid") for c in range(x.shape[1])) for f in range(w.shape[0])]
            for b in range(x.shape[0])
        ]
    )
    return out[:, :, ::stride]


@pytest.fixture(scope="module")
def all_convs(mode):
    """Every implementation, flip and stride in one compiled function."""
    X, W = T.tensor3("X"), T.tensor3("W")
    outs = [
        getattr(conv, impl)(X, W, X_SHAPE, W_SHAPE, subsample=(stride,), filter_flip=flip)
        for impl, flip, stride in CASES
    ]
    return pytensor.function([X, W], outs, mode=mode)


def test_module_serves_lasagne_imports():
    assert sknet.theano_extensions.conv is conv
    assert sknet.theano_extensions.padding.pad is pad


def test_convolutions_match_numpy(all_convs):
    rng = np.random.default_rng(0)
    x = rng.normal(size=X_SHAPE).astype("float32")
    w = rng.uniform(-1, 1, W_SHAPE).astype("float32")
    for out, (impl, flip, stride) in zip(all_convs(x, w), CASES):
        np.testing.assert_allclose(
            out,
            conv1d_ref(x, w, stride, flip=flip),
            rtol=1e-4,
            atol=1e-5,
            err_msg=f"{impl} flip={flip} stride={stride}",
        )


def test_shapes_may_be_none_and_borders_and_groups(mode):
    rng = np.random.default_rng(1)
    X, W = T.tensor3("X"), T.tensor3("W")
    x = rng.normal(size=(2, 4, 9)).astype("float32")
    w = rng.normal(size=(2, 4, 3)).astype("float32")
    wg = rng.normal(size=(4, 2, 3)).astype("float32")
    outs = [
        conv.conv1d_sc(X, W, None, None),
        conv.conv1d_mc0(X, W, None, None),
        conv.conv1d_mc1(X, W, None, None),
        conv.conv1d_mc0(X, W, border_mode=2),
        conv.conv1d_mc1(X, W, border_mode=(1,)),
        conv.conv1d_mc0(X, W, None, (2, 4, 3), border_mode="full"),
        conv.conv1d_mc1(X, W, None, (2, 4, 3), border_mode="half"),
    ]
    refs = [conv1d_ref(x, w)] * 3 + [
        conv1d_ref(x, w, pad=2),
        conv1d_ref(x, w, pad=1),
        conv1d_ref(x, w, pad=2),
        conv1d_ref(x, w, pad=1),
    ]
    G = T.tensor3("G")
    outs += [conv.conv1d_mc0(X, G, num_groups=2), conv.conv1d_mc1(X, G, num_groups=2)]
    grouped = np.concatenate([conv1d_ref(x[:, :2], wg[:2]), conv1d_ref(x[:, 2:], wg[2:])], 1)
    refs += [grouped, grouped]
    f = pytensor.function([X, W, G], outs, mode=mode, on_unused_input="ignore")
    for i, (out, ref) in enumerate(zip(f(x, w, wg), refs)):
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5, err_msg=str(i))


@pytest.mark.parametrize("impl", IMPLS)
def test_invalid_border_mode(impl):
    X, W = T.tensor3(), T.tensor3()
    with pytest.raises((RuntimeError, ValueError)):
        getattr(conv, impl)(X, W, (1, 1, 10), (2, 1, 3), border_mode=None)
    if impl in ("conv1d_sc", "conv1d_unstrided", "conv1d_sd", "conv1d_md"):
        with pytest.raises(RuntimeError, match="border_mode"):
            getattr(conv, impl)(X, W, (1, 1, 10), (2, 1, 3), border_mode=1)


@pytest.mark.parametrize("impl", ["conv1d_unstrided", "conv1d_sd", "conv1d_md"])
def test_filter_length_must_be_a_multiple_of_the_stride(impl):
    with pytest.raises(RuntimeError, match="multiple of the stride"):
        getattr(conv, impl)(T.tensor3(), T.tensor3(), (1, 1, 10), (2, 1, 3), subsample=(2,))


@pytest.mark.parametrize("impl", ["conv1d_sc", "conv1d_unstrided", "conv1d_sd"])
def test_verify_grad(impl, mode):
    rng = np.random.default_rng(2)
    fn = getattr(conv, impl)
    verify_grad(
        lambda x, w: fn(x, w, (2, 2, 8), (3, 2, 4), subsample=(2,)),
        [rng.normal(size=(2, 2, 8)), rng.normal(size=(3, 2, 4))],
        rng=rng,
        mode=mode,
    )


@pytest.mark.parametrize("val", [0, 7])
@pytest.mark.parametrize("batch_ndim", [1, 2])
def test_pad(batch_ndim, val):
    x = np.random.default_rng(3).normal(size=(2, 3, 4, 5)).astype("float32")
    width_int, per_axis, per_border = 3, (1, 2, 3, 4), [(1, 2), (3, 4), (0, 2), (3, 0)]
    cases = [
        (width_int, [(width_int, width_int)] * 4),
        (per_axis[batch_ndim:], [(w, w) for w in per_axis]),
        (per_border[batch_ndim:], per_border),
    ]
    for width, np_width in cases:
        np_width = [(0, 0)] * batch_ndim + list(np_width[batch_ndim:])
        out = pad(T.constant(x), width, val, batch_ndim).eval()
        assert out.dtype == x.dtype
        np.testing.assert_array_equal(out, np.pad(x, np_width, constant_values=val))


def test_pad_too_many_widths():
    with pytest.raises(ValueError, match="padding widths"):
        pad(T.matrix(), [1, 1], batch_ndim=1)


def test_pad_verify_grad(mode):
    rng = np.random.default_rng(4)
    verify_grad(lambda x: pad(x, [(1, 2)], val=3, batch_ndim=1), [rng.normal(size=(2, 3))], rng=rng, mode=mode)
