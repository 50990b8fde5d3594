"""TransformerLayer and TPSTransformerLayer against numpy references."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.gradient import verify_grad

from sknet.layers import (
    DenseLayer,
    InputLayer,
    ReshapeLayer,
    TPSTransformerLayer,
    TransformerLayer,
    get_output,
)

RNG = np.random.default_rng(0)


def sample_ref(img, xs, ys, border):
    """Bilinear sampling of img (c, h, w) at normalised points, border as the layers do."""
    c, h, w = img.shape
    x = (xs + 1) / 2 * (w - 1)
    y = (ys + 1) / 2 * (h - 1)
    out = np.zeros((c, x.size))
    for k, (px, py) in enumerate(zip(x.ravel(), y.ravel())):
        x0, y0 = np.floor(px), np.floor(py)
        for xi, yi in [(x0, y0), (x0, y0 + 1), (x0 + 1, y0), (x0 + 1, y0 + 1)]:
            weight = (1 - abs(px - xi)) * (1 - abs(py - yi))
            if border == "nearest":
                cx, cy = min(max(xi, 0), w - 1), min(max(yi, 0), h - 1)
            elif border == "mirror":
                cx = min(xi % (2 * (w - 1)), -xi % (2 * (w - 1)))
                cy = min(yi % (2 * (h - 1)), -yi % (2 * (h - 1)))
            else:
                cx, cy = xi % w, yi % h
            out[:, k] += weight * img[:, int(cy), int(cx)]
    return out


def grid_ref(out_h, out_w):
    xs, ys = np.meshgrid(np.linspace(-1, 1, out_w), np.linspace(-1, 1, out_h))
    return xs.ravel(), ys.ravel()


def affine_ref(x, theta, factor, border):
    out_h, out_w = int(x.shape[2] // factor[0]), int(x.shape[3] // factor[1])
    gx, gy = grid_ref(out_h, out_w)
    outs = []
    for img, t in zip(x, theta.reshape(-1, 2, 3)):
        src = t @ np.vstack([gx, gy, np.ones_like(gx)])
        outs.append(sample_ref(img, src[0], src[1], border).reshape(-1, out_h, out_w))
    return np.array(outs)


def tps_ref(x, offsets, n, factor, border):
    """Solve each sample's thin plate spline system directly and sample at the mapped grid."""
    side = int(np.sqrt(n))
    sx, sy = np.meshgrid(np.linspace(-1, 1, side), np.linspace(-1, 1, side))
    src = np.vstack([sx.ravel(), sy.ravel()]).T  # (n, 2)

    def U(r2):
        return np.where(r2 > 0, r2 * np.log(np.where(r2 > 0, r2, 1)), 0)

    K = U(((src[:, None] - src[None]) ** 2).sum(-1))
    P = np.hstack([np.ones((n, 1)), src])
    A = np.block([[K, P], [P.T, np.zeros((3, 3))]])
    out_h, out_w = int(x.shape[2] // factor[0]), int(x.shape[3] // factor[1])
    gx, gy = grid_ref(out_h, out_w)
    g = np.vstack([gx, gy]).T
    basis = np.hstack([U(((g[:, None] - src[None]) ** 2).sum(-1)), np.ones((len(g), 1)), g])
    outs = []
    for img, off in zip(x, offsets.reshape(-1, 2, n)):
        dest = src + off.T
        coef = np.linalg.solve(A, np.vstack([dest, np.zeros((3, 2))]))  # (n + 3, 2)
        mapped = basis @ coef
        outs.append(sample_ref(img, mapped[:, 0], mapped[:, 1], border).reshape(-1, out_h, out_w))
    return np.array(outs)


def _run(layer, l_in, l_loc, x, loc, mode):
    f = pytensor.function([l_in.input_var, l_loc.input_var], get_output(layer), mode=mode)
    return f(x.astype("float32"), loc.astype("float32"))


AFFINE_CASES = [(b, f) for b in ("nearest", "mirror", "wrap") for f in (1, (0.7, 2.3))]
TPS_CASES = [(p, b, f) for p in (True, False) for b, f in (("nearest", 1), ("wrap", (0.7, 2.3)), ("mirror", (1.5, 1)))]


@pytest.fixture(scope="module")
def affine_case(mode):
    """Every (border mode, downsample factor) in one compiled function."""
    l_in, l_loc = InputLayer((None, 2, 7, 8)), InputLayer((None, 6))
    layers = [TransformerLayer(l_in, l_loc, downsample_factor=f, border_mode=b) for b, f in AFFINE_CASES]
    return layers, pytensor.function([l_in.input_var, l_loc.input_var], get_output(layers), mode=mode)


@pytest.fixture(scope="module")
def tps_case(mode):
    l_in, l_loc = InputLayer((None, 2, 7, 8)), InputLayer((None, 18))
    layers = [
        TPSTransformerLayer(l_in, l_loc, downsample_factor=f, control_points=9, precompute_grid=p, border_mode=b)
        for p, b, f in TPS_CASES
    ]
    return layers, pytensor.function([l_in.input_var, l_loc.input_var], get_output(layers), mode=mode)


class TestTransformerLayer:
    def test_outputs_match_numpy(self, affine_case):
        layers, f = affine_case
        x = RNG.normal(size=(3, 2, 7, 8))
        theta = np.array([1, 0, 0, 0, 1, 0]) + RNG.normal(scale=0.6, size=(3, 6))
        for layer, out, (border, _) in zip(layers, f(x.astype("float32"), theta.astype("float32")), AFFINE_CASES):
            assert out.shape == (3,) + layer.output_shape[1:]
            ref = affine_ref(x, theta, layer.downsample_factor, border)
            np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)

    def test_identity_and_lasagne_border_values(self, mode):
        # the identity, and the values Lasagne's own test expects for a 4x zoom-out
        l_in, l_loc = InputLayer((1, 1, 16, 16)), InputLayer((1, 6))
        image = np.hstack((np.zeros((16, 8)), np.ones((16, 8)))).reshape(1, 1, 16, 16)
        identity = np.array([[1, 0, 0, 0, 1, 0]])
        zoom = np.array([[4, 0, 0, 0, 1, 0]])
        out = _run(TransformerLayer(l_in, l_loc), l_in, l_loc, image, identity, mode)
        np.testing.assert_allclose(out, image, atol=1e-6)
        expected = {
            "nearest": image[0, 0, 0],
            "mirror": [0.5, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0.5],
            "wrap": [1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0],
        }
        for border, row in expected.items():
            out = _run(TransformerLayer(l_in, l_loc, border_mode=border), l_in, l_loc, image, zoom, mode)
            np.testing.assert_allclose(out[0, 0], np.tile(row, (16, 1)), atol=1e-5)

    def test_variable_input_size(self, mode):
        x = RNG.normal(size=(2, 3, 12, 10)).astype("float32")
        theta = np.array([1, 0, 0, 0, 1, 0]) + RNG.normal(scale=0.3, size=(2, 6))
        outs = []
        for shape in [(None, 3, 12, 10), (None, 3, None, 10)]:
            l_in, l_loc = InputLayer(shape), InputLayer((None, 6))
            layer = TransformerLayer(l_in, l_loc, downsample_factor=(0.7, 2.3))
            outs.append(_run(layer, l_in, l_loc, x, theta, mode))
        assert layer.output_shape == (None, 3, None, 4)
        np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-5)
        assert outs[0].shape == (2, 3, 17, 4)

    def test_bad_input(self):
        l_in = InputLayer((None, 3, 8, 8))
        with pytest.raises(ValueError, match="localization"):
            TransformerLayer(l_in, DenseLayer(l_in, 5))
        with pytest.raises(ValueError, match="4-dimensional"):
            l_3d = InputLayer((None, 8, 8))
            TransformerLayer(l_3d, DenseLayer(l_3d, 6))
        with pytest.raises(ValueError, match="border_mode"):
            TransformerLayer(l_in, InputLayer((None, 6)), border_mode="invalid")

    def test_verify_grad(self, mode):
        rng = np.random.default_rng(1)

        def fn(x, theta):
            layer = TransformerLayer(InputLayer((None, 2, 4, 5)), InputLayer((None, 6)), border_mode="mirror")
            return layer.get_output_for([x, theta])

        theta = np.array([[0.9, 0.2, 0.1, -0.1, 1.1, 0.05]] * 2) + rng.normal(scale=0.05, size=(2, 6))
        verify_grad(
            fn, [rng.normal(size=(2, 2, 4, 5)), theta], rng=rng, mode=mode, eps=1e-4, abs_tol=1e-3, rel_tol=1e-3
        )


class TestTPSTransformerLayer:
    def test_outputs_match_numpy(self, tps_case):
        layers, f = tps_case
        x = RNG.normal(size=(3, 2, 7, 8))
        offsets = RNG.normal(scale=0.3, size=(3, 18))
        outs = f(x.astype("float32"), offsets.astype("float32"))
        for layer, out, (precompute, border, _) in zip(layers, outs, TPS_CASES):
            assert layer.precompute_grid is precompute
            assert out.shape == (3,) + layer.output_shape[1:]
            ref = tps_ref(x, offsets, 9, layer.downsample_factor, border)
            np.testing.assert_allclose(out, ref, rtol=1e-3, atol=1e-3)

    def test_identity_shift_and_variable_size(self, mode):
        # zero offsets give the identity (any input size); all-ones offsets shift the
        # image by half its width and height (the values of Lasagne's own test)
        image = np.zeros((28, 28))
        image[[0, -1], :] = image[:, [0, -1]] = 1
        x = np.tile(image, (2, 3, 1, 1))
        l_loc = InputLayer((None, 32))
        for shape in [(None, 3, 28, 28), (None, 3, None, 28)]:
            l_in = InputLayer(shape)
            layer = TPSTransformerLayer(l_in, l_loc, control_points=16)
            assert layer.precompute_grid is (shape[2] is not None)
            out = _run(layer, l_in, l_loc, x, np.zeros((2, 32)), mode)
            np.testing.assert_allclose(out, x, atol=5e-4)
        shifted = np.ones((28, 28))
        shifted[:13, :13] = 0
        shifted[13, :13] = shifted[:13, 13] = 0.5
        shifted[13, 13] = 0.75
        out = _run(layer, l_in, l_loc, x, np.ones((2, 32)), mode)
        np.testing.assert_allclose(out, np.tile(shifted, (2, 3, 1, 1)), atol=1e-4)

    def test_fixed_and_variable_sizes_agree(self, mode):
        # without a precomputed basis, a layer built for a fixed size computes the
        # very graph of one built for any size (Lasagne's downsample test, tightened)
        x = RNG.random((2, 2, 10, 9)).astype("float32")
        offsets = RNG.normal(scale=0.5, size=(2, 8)).astype("float32")
        outs = []
        for shape in [(None, 2, 10, 9), (None, 2, None, 9)]:
            l_in, l_loc = InputLayer(shape), InputLayer((None, 8))
            layer = TPSTransformerLayer(
                l_in, l_loc, downsample_factor=(0.7, 2.3), control_points=4, precompute_grid=False
            )
            outs.append(_run(layer, l_in, l_loc, x, offsets, mode))
        np.testing.assert_array_equal(outs[0], outs[1])
        assert outs[0].shape == (2, 2, 14, 3)

    def test_bad_input(self):
        l_in = InputLayer((None, 3, 28, 28))
        with pytest.raises(ValueError, match="localization"):
            TPSTransformerLayer(l_in, DenseLayer(l_in, 48), control_points=16)
        with pytest.raises(ValueError, match="perfect square"):
            TPSTransformerLayer(l_in, DenseLayer(l_in, 34), control_points=17)
        with pytest.raises(ValueError, match="4-dimensional"):
            l_3d = InputLayer((None, 28, 28))
            TPSTransformerLayer(l_3d, DenseLayer(l_3d, 32))
        l_var = InputLayer((None, 3, None, 28))
        with pytest.raises(ValueError, match="precomputed"):
            TPSTransformerLayer(l_var, DenseLayer(ReshapeLayer(l_var, ([0], 3 * 28 * 28)), 32), precompute_grid=True)

    @pytest.mark.parametrize("precompute", [True, False])
    def test_verify_grad(self, precompute, mode):
        rng = np.random.default_rng(2)

        def fn(x, offsets):
            layer = TPSTransformerLayer(
                InputLayer((None, 1, 4, 5)), InputLayer((None, 8)), control_points=4, precompute_grid=precompute
            )
            return layer.get_output_for([x, offsets])

        verify_grad(
            fn,
            [rng.normal(size=(2, 1, 4, 5)), rng.normal(scale=0.1, size=(2, 8))],
            rng=rng,
            mode=mode,
            eps=1e-4,
            abs_tol=1e-3,
            rel_tol=1e-3,
        )


def test_float64_input_stays_float64(mode):
    x, theta = T.tensor4(dtype="float64"), T.matrix(dtype="float64")
    layer = TransformerLayer(InputLayer((None, 1, 3, 3)), InputLayer((None, 6)))
    out = layer.get_output_for([x, theta])
    assert out.dtype == "float64"
    f = pytensor.function([x, theta], out, mode=mode)
    img = RNG.normal(size=(1, 1, 3, 3))
    np.testing.assert_allclose(f(img, np.array([[1.0, 0, 0, 0, 1, 0]])), img, atol=1e-12)
