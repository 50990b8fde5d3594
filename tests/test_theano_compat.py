"""sknet.theano_compat: Theano-era code runs with its imports changed, and the numbers are Theano's."""

import re
from pathlib import Path

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.signal import convolve2d, correlate2d

from sknet import theano_compat
from sknet.theano_compat import RandomStreams, conv2d, max_pool_2d, pool_2d

ROOT = Path(__file__).resolve().parents[1]
PORTING_DOC = ROOT / "docs" / "theano-porting.md"

# The only edits a port makes: each Theano import line and its replacement.
IMPORTS = {
    "import theano\n": "from sknet import theano_compat as theano\n",
    "from theano import tensor as T\n": "from sknet.theano_compat import tensor as T\n",
    "import theano.tensor as T\n": "from sknet.theano_compat import tensor as T\n",
    "from theano.tensor.nnet import conv2d\n": "from sknet.theano_compat import conv2d\n",
    "from theano.tensor.nnet import conv\n": "from sknet.theano_compat import conv\n",
    "from theano.tensor.signal import pool\n": "from sknet.theano_compat import pool\n",
}

# The feature-map demo of the deeplearning.net LeNet tutorial (the one the
# seed blogs reuse), on a 28x28 digit instead of the wolf photo, as written
# for Theano 0.9/1.0.
FEATURE_MAPS = """\
import numpy
import theano
from theano import tensor as T
from theano.tensor.nnet import conv2d

rng = numpy.random.RandomState(23455)
input = T.tensor4(name='input')
w_shp = (3, 1, 5, 5)
w_bound = numpy.sqrt(1 * 5 * 5)
W = theano.shared(numpy.asarray(
            rng.uniform(low=-1.0 / w_bound, high=1.0 / w_bound, size=w_shp),
            dtype=input.dtype), name='W')
b_shp = (3,)
b = theano.shared(numpy.asarray(
            rng.uniform(low=-.5, high=.5, size=b_shp),
            dtype=input.dtype), name='b')
conv_out = conv2d(input, W)
output = T.nnet.sigmoid(conv_out + b.dimshuffle('x', 0, 'x', 'x'))
f = theano.function([input], output)
filtered_img = f(img)
"""

# The tutorial's LeNetConvPoolLayer forward pass, in its pre-0.9 spelling.
CONV_POOL = """\
import numpy
import theano
import theano.tensor as T
from theano.tensor.nnet import conv
from theano.tensor.signal import pool

x = T.tensor4('x')
W = theano.shared(numpy.asarray(filters, dtype=theano.config.floatX), borrow=True)
conv_out = conv.conv2d(input=x, filters=W, filter_shape=(4, 2, 3, 3), image_shape=(5, 2, 9, 8))
pooled_out = pool.pool_2d(input=conv_out, ws=(2, 2), ignore_border=True)
out = T.tanh(pooled_out)
result = theano.function([x], out)(images)
"""


def port(source):
    """Change the imports, and nothing else."""
    ported = source
    for old, new in IMPORTS.items():
        ported = ported.replace(old, new)
    changed = [(a, b) for a, b in zip(source.splitlines(), ported.splitlines()) if a != b]
    assert changed and all(a.startswith(("import ", "from ")) for a, _ in changed)
    return ported


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def convolve_reference(x, w, pad=(0, 0), stride=(1, 1), flip=True):
    """scipy's 2-D convolution (or correlation) summed over channels, zero padded, strided."""
    op = convolve2d if flip else correlate2d
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    out = np.array(
        [
            [sum(op(xp[n, c], w[f, c], mode="valid") for c in range(x.shape[1])) for f in range(w.shape[0])]
            for n in range(x.shape[0])
        ]
    )
    return out[:, :, :: stride[0], :: stride[1]]


@pytest.fixture(scope="module")
def digit():
    """One 28x28 test image: MNIST when this workplace has it, else a digit from scikit-learn."""
    from sknet.datasets import load_mnist

    try:
        return load_mnist(ROOT.parent / "shared" / "data").X_test[:1]
    except FileNotFoundError:
        from sklearn.datasets import load_digits

        img = np.kron(load_digits().images[0] / 16.0, np.ones((3, 3)))
        return np.pad(img, 2)[None, None].astype("float32")


class TestPortedScripts:
    def test_feature_map_demo_runs_with_imports_changed(self, digit):
        namespace = {"img": digit}
        exec(compile(port(FEATURE_MAPS), "feature_maps.py", "exec"), namespace)
        maps = namespace["filtered_img"]
        assert maps.shape == (1, 3, 24, 24) and maps.dtype == np.float32
        W, b = namespace["W"].get_value(), namespace["b"].get_value()
        for k in range(3):
            expected = sigmoid(convolve2d(digit[0, 0], W[k, 0], mode="valid") + b[k])
            np.testing.assert_allclose(maps[0, k], expected, rtol=1e-5, atol=1e-6)
        # the maps differ from filter to filter and follow the digit's strokes
        assert maps.std(axis=(2, 3)).min() > 0.01
        assert namespace["theano"].function is pytensor.function

    def test_conv_pool_layer_in_the_old_spelling(self):
        rng = np.random.default_rng(0)
        images = rng.normal(size=(5, 2, 9, 8)).astype("float32")
        filters = rng.normal(size=(4, 2, 3, 3)).astype("float32")
        namespace = {"images": images, "filters": filters}
        exec(compile(port(CONV_POOL), "conv_pool.py", "exec"), namespace)
        conved = convolve_reference(images, filters)  # (5, 4, 7, 6)
        pooled = conved[:, :, :6].reshape(5, 4, 3, 2, 3, 2).max(axis=(3, 5))
        np.testing.assert_allclose(namespace["result"], np.tanh(pooled), rtol=1e-4, atol=1e-5)

    def test_theano_tutorial_pp_and_grad(self):
        theano, T = theano_compat, theano_compat.tensor
        x = T.dscalar("x")
        gy = T.grad(x**2, x)
        assert "x" in theano.pp(gy)
        assert theano.function([x], gy)(4) == pytest.approx(8.0)


@pytest.fixture(scope="module")
def data():
    """Two 3-channel images and four 3x4 filters."""
    rng = np.random.default_rng(1)
    return rng.normal(size=(2, 3, 9, 10)).astype("float32"), rng.normal(size=(4, 3, 3, 4)).astype("float32")


@pytest.fixture(scope="module")
def z():
    return np.random.default_rng(4).normal(size=(3, 5)).astype("float32") * 3


class TestConv2d:
    @pytest.mark.parametrize(
        "border_mode, pad",
        [
            ("valid", (0, 0)),
            ("full", (2, 3)),
            ("half", (1, 2)),
            (1, (1, 1)),
            ((2, 0), (2, 0)),
        ],
    )
    @pytest.mark.parametrize("subsample", [(1, 1), (2, 3)])
    @pytest.mark.parametrize("flip", [True, False])
    def test_against_scipy(self, data, mode, border_mode, pad, subsample, flip):
        x, w = data
        X, W = pt.tensor4("x"), pt.tensor4("w")
        out = conv2d(X, W, border_mode=border_mode, subsample=subsample, filter_flip=flip, filter_shape=w.shape)
        got = pytensor.function([X, W], out, mode=mode)(x, w)
        np.testing.assert_allclose(got, convolve_reference(x, w, pad, subsample, flip), rtol=1e-4, atol=1e-4)

    def test_full_and_half_match_scipy_modes(self, data, mode):
        x, w = data[0][:1, :1], data[1][:1, :1, :3, :3]
        for border_mode, scipy_mode in (("full", "full"), ("half", "same")):
            got = conv2d(pt.constant(x), pytensor.shared(w), border_mode=border_mode).eval(mode=mode)
            np.testing.assert_allclose(got[0, 0], convolve2d(x[0, 0], w[0, 0], mode=scipy_mode), rtol=1e-4, atol=1e-5)
        got = conv2d(pt.constant(x), pt.constant(w), filter_flip=False).eval(mode=mode)
        np.testing.assert_allclose(got[0, 0], correlate2d(x[0, 0], w[0, 0], mode="valid"), rtol=1e-4, atol=1e-5)

    def test_gradients(self, mode):
        rng = np.random.default_rng(2)
        x, w = rng.normal(size=(2, 2, 5, 6)), rng.normal(size=(3, 2, 3, 2))
        pytensor.gradient.verify_grad(
            lambda a, b: conv2d(a, b, border_mode="full", subsample=(2, 1), filter_shape=(3, 2, 3, 2)),
            [x, w],
            rng=np.random.default_rng(3),
            mode=mode,
        )

    def test_bad_arguments(self):
        x4, w4 = pt.tensor4("x"), pt.tensor4("w")
        with pytest.raises(ValueError, match="4-D input"):
            conv2d(pt.matrix("x"), w4)
        with pytest.raises(ValueError, match="needs the kernel size: pass filter_shape"):
            conv2d(x4, w4, border_mode="full")
        with pytest.raises(ValueError, match="border_mode must be"):
            conv2d(x4, w4, border_mode="same")
        with pytest.raises(ValueError, match="filter_dilation"):
            conv2d(x4, w4, filter_dilation=(2, 2))
        with pytest.raises(ValueError, match="subsample"):
            conv2d(x4, w4, subsample=(0, 1))


class TestNnet:
    @pytest.mark.parametrize(
        "name, reference",
        [
            ("sigmoid", sigmoid),
            ("ultra_fast_sigmoid", sigmoid),
            ("hard_sigmoid", lambda z: np.clip(0.2 * z + 0.5, 0, 1)),
            ("softplus", lambda z: np.log1p(np.exp(z))),
            ("softsign", lambda z: z / (1 + np.abs(z))),
            ("relu", lambda z: np.maximum(z, 0)),
            ("elu", lambda z: np.where(z > 0, z, np.expm1(z))),
            ("softmax", lambda z: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)),
            ("logsoftmax", lambda z: z - np.log(np.exp(z).sum(axis=1, keepdims=True))),
        ],
    )
    def test_elementwise_and_rows(self, z, name, reference, mode):
        Z = pt.matrix("z")
        got = pytensor.function([Z], getattr(theano_compat.tensor.nnet, name)(Z), mode=mode)(z)
        np.testing.assert_allclose(got, reference(z.astype(np.float64)), rtol=1e-5, atol=1e-6)

    def test_leaky_relu(self, z):
        got = theano_compat.nnet.relu(pt.constant(z), alpha=0.1).eval()
        np.testing.assert_allclose(got, np.where(z > 0, z, 0.1 * z), rtol=1e-6)

    def test_crossentropies(self, z):
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        labels = np.array([4, 0, 2], dtype="int32")
        expected = -np.log(p[np.arange(3), labels])
        nnet = theano_compat.nnet
        by_index = nnet.categorical_crossentropy(pt.constant(p), pt.constant(labels))
        one_hot = nnet.categorical_crossentropy(pt.constant(p), pt.constant(np.eye(5)[labels]))
        np.testing.assert_allclose(by_index.eval(), expected, rtol=1e-5)
        np.testing.assert_allclose(one_hot.eval(), expected, rtol=1e-5)
        o, t = sigmoid(z), (z > 0).astype("float32")
        np.testing.assert_allclose(
            nnet.binary_crossentropy(pt.constant(o), pt.constant(t)).eval(),
            -(t * np.log(o) + (1 - t) * np.log(1 - o)),
            rtol=1e-5,
            atol=1e-6,
        )


class TestPool:
    def test_pool_2d_against_numpy(self, mode):
        x = np.random.default_rng(5).normal(size=(2, 3, 5, 7)).astype("float32")
        X = pt.tensor4("x")
        keep, drop = pytensor.function([X], [pool_2d(X, ws=(2, 2)), pool_2d(X, (2, 2), ignore_border=True)], mode=mode)(
            x
        )
        padded = np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1)), constant_values=-np.inf)
        np.testing.assert_allclose(keep, padded.reshape(2, 3, 3, 2, 4, 2).max(axis=(3, 5)))
        np.testing.assert_allclose(drop, x[:, :, :4, :6].reshape(2, 3, 2, 2, 3, 2).max(axis=(3, 5)))

    def test_old_names_and_three_dimensions(self, mode):
        x = np.random.default_rng(6).normal(size=(3, 4, 6)).astype("float32")
        X = pt.tensor3("x")
        got = pytensor.function([X], max_pool_2d(X, ds=(2, 3), ignore_border=True), mode=mode)(x)
        np.testing.assert_allclose(got, x.reshape(3, 2, 2, 2, 3).max(axis=(2, 4)))
        avg = pool_2d(pt.constant(x), ds=(2, 2), st=(2, 2), ignore_border=True, mode="average_inc_pad").eval()
        np.testing.assert_allclose(avg, x.reshape(3, 2, 2, 3, 2).mean(axis=(2, 4)), rtol=1e-6)
        with pytest.raises(ValueError, match="mode='sum'"):
            pool_2d(X, (2, 2), mode="sum")


class TestRandomStreams:
    def test_size_first_and_theano_keywords(self):
        srng = RandomStreams(seed=234)
        f = pytensor.function(
            [],
            [srng.uniform((400, 50)), srng.normal((400, 50), avg=3.0, std=2.0), srng.binomial(size=(400, 50), p=0.25)],
        )
        u, n, b = f()
        assert u.shape == n.shape == b.shape == (400, 50)
        assert u.dtype == n.dtype == np.float32 and b.dtype == np.int64
        assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.02
        assert abs(n.mean() - 3.0) < 0.05 and abs(n.std() - 2.0) < 0.05
        assert set(np.unique(b)) == {0, 1} and abs(b.mean() - 0.25) < 0.02
        assert not np.array_equal(f()[0], u)  # the state advances on each call

    def test_seeded_streams_repeat(self):
        def draws(seed):
            srng = RandomStreams(seed)
            return pytensor.function([], srng.normal((5,)))()

        np.testing.assert_array_equal(draws(1), draws(1))
        assert not np.array_equal(draws(1), draws(2))
        srng = RandomStreams(7)
        f = pytensor.function([], srng.uniform((4,)))
        srng.seed(11)  # reseeds the generators already in f
        again = f()
        assert not np.array_equal(f(), again)  # the state moved on
        srng.seed(11)
        np.testing.assert_array_equal(f(), again)
        srng.seed(12)
        assert not np.array_equal(f(), again)


class TestNames:
    def test_renamed_names_resolve(self):
        theano, T = theano_compat, theano_compat.tensor
        assert theano.pp is pytensor.printing.pp
        assert T.nnet.sigmoid is pt.sigmoid and T.nnet.conv2d is conv2d
        assert T.tensor4 is pt.tensor4 and T.ftensor4 is pt.ftensor4 and T.grad is pt.grad
        assert theano.config is pytensor.config and theano.shared is pytensor.shared
        assert T.shared_randomstreams.RandomStreams is RandomStreams
        assert theano.sandbox.rng_mrg.MRG_RandomStreams is RandomStreams
        assert T.signal.pool.pool_2d is pool_2d and T.signal.downsample.max_pool_2d is max_pool_2d

    def test_unknown_name_points_at_the_docs(self):
        with pytest.raises(AttributeError, match="theano-porting.md"):
            theano_compat.tensor.nnet.h_softmax

    def test_every_name_in_the_porting_doc_resolves(self):
        names = re.findall(r"^\| `(theano\.[\w.]+)`", PORTING_DOC.read_text(), flags=re.M)
        assert len(names) >= 30
        for name in names:
            obj = theano_compat
            for part in name.split(".")[1:]:
                obj = getattr(obj, part)
            assert obj is not None, name


def test_porting_doc_example_runs():
    (block,) = re.findall(r"^```python\n(.*?)^```$", PORTING_DOC.read_text(), flags=re.M | re.S)
    namespace = {}
    exec(compile(block, "theano-porting.md", "exec"), namespace)
    assert namespace["f"](np.ones((1, 1, 28, 28), dtype="float32")).shape == (1, 3, 24, 24)
