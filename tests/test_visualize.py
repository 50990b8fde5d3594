"""Tests for sknet.visualize: every plot rendered to PNG with Agg, and the numbers behind them."""

import os
import subprocess
import sys
import textwrap
from collections import OrderedDict
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytensor
import pytest
from matplotlib.image import imread
from sklearn.datasets import load_digits

from sknet import NeuralNetClassifier, visualize
from sknet.layers import Conv2DLayer, DenseLayer, FlattenLayer, InputLayer, get_output
from sknet.nonlinearities import softmax, tanh

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)


@pytest.fixture(autouse=True)
def _close_figures():
    """The plots register their figures with pyplot: close them after each test."""
    yield
    plt.close("all")


class LayerNet:
    """A classifier-shaped wrapper around a layer graph: ``layers_`` and ``predict_proba``."""

    def __init__(self, layers, mode, classes=None):
        self.layers_ = OrderedDict(layers)
        l_in, l_out = list(self.layers_.values())[0], list(self.layers_.values())[-1]
        self._fn = pytensor.function([l_in.input_var], get_output(l_out, deterministic=True), mode=mode)
        if classes is not None:
            self.classes_ = np.asarray(classes)

    def predict_proba(self, X):
        return self._fn(np.asarray(X, dtype="float32"))


def render(fig, tmp_path, name="plot.png"):
    """Save with Agg, check the PNG decodes to a non-blank image; return its pixels."""
    path = tmp_path / name
    fig.savefig(path, dpi=50)
    return render_file(path)


def render_file(path):
    """The pixels of a saved PNG, checked to be a real, non-blank image."""
    assert path.stat().st_size > 1000
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 50 and pixels.shape[1] > 50
    assert pixels[..., :3].std() > 0.01
    return pixels


def image_data(ax, k=0):
    return np.asarray(ax.get_images()[k].get_array())


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    X = (d.images[:240] / 16.0).astype("float32")[:, None]
    return X, d.target[:240]


@pytest.fixture(scope="module")
def net(digits):
    X, y = digits
    layers = [
        (InputLayer, {"shape": (None, 1, 8, 8)}),
        (Conv2DLayer, {"num_filters": 4, "filter_size": 3}),
        (DenseLayer, {}),
    ]
    return NeuralNetClassifier(layers, max_epochs=2, random_state=0, update__learning_rate=0.01).fit(X, y)


@pytest.fixture(scope="module")
def smooth_net(mode):
    """A small tanh/softmax stand-in: smooth, so finite differences are exact up to O(eps^2)."""
    rng = np.random.RandomState(0)
    l_in = InputLayer((None, 1, 4, 4))
    l_hid = DenseLayer(l_in, 6, W=rng.normal(0, 0.8, (16, 6)), nonlinearity=tanh)
    l_out = DenseLayer(l_hid, 3, W=rng.normal(0, 1.0, (6, 3)), nonlinearity=softmax)
    return LayerNet([("input", l_in), ("hidden", l_hid), ("output", l_out)], mode)


def one_pixel_net(pixel, mode, k=3.0, classes=None):
    """p(class 0) = sigmoid(2 k x[pixel]): the output depends on one pixel only."""
    W = np.zeros((64, 2))
    W[pixel[0] * 8 + pixel[1]] = [k, -k]
    l_in = InputLayer((None, 1, 8, 8))
    l_out = DenseLayer(FlattenLayer(l_in), 2, W=W, b=np.zeros(2), nonlinearity=softmax)
    return LayerNet([("input", l_in), ("output", l_out)], mode, classes)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


class TestOptionalMatplotlib:
    def test_import_sknet_does_not_load_matplotlib(self):
        code = "import sys, sknet, sknet.visualize; assert 'matplotlib' not in sys.modules"
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120)

    def test_missing_matplotlib_names_the_extra(self, monkeypatch):
        for name in ("matplotlib", "matplotlib.pyplot"):
            monkeypatch.setitem(sys.modules, name, None)
        with pytest.raises(ImportError, match=r"pip install sknet\[plot\]"):
            visualize.plot_loss([{"epoch": 1, "train_loss": 1.0}])


SCRIPT = """
import numpy as np
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sknet import NeuralNetClassifier
from sknet.layers import DenseLayer, InputLayer
from sknet.visualize import plot_loss

X, y = load_digits(return_X_y=True)
net = NeuralNetClassifier([(InputLayer, {}), (DenseLayer, {})], max_epochs=3, random_state=0)
net.fit(X[:300].astype("float32") / 16, y[:300])
fig = plot_loss(net)
assert plt.gcf() is fig and plt.get_fignums() == [fig.number]
plt.savefig("loss.png")
plt.show()  # a no-op warning on Agg; must not fail
plt.close("all")

fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
plt.savefig("empty.png")
assert plot_loss(net, ax=right) is fig
plt.savefig("ax.png")
"""


class TestPyplot:
    def test_script_plt_savefig_after_plot_loss(self, tmp_path):
        env = dict(os.environ, MPLBACKEND="Agg")
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(SCRIPT)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        pixels = render_file(tmp_path / "loss.png")
        assert pixels.shape[:2] == (400, 600)  # the default figsize (6, 4) at 100 dpi
        # plot_loss drew into the right-hand axes only: the left half is unchanged
        empty, both = imread(tmp_path / "empty.png"), render_file(tmp_path / "ax.png")
        # the left axes ends at 0.45 of the width; the right one's tick labels start after it
        cut, half = int(0.45 * both.shape[1]), both.shape[1] // 2
        np.testing.assert_array_equal(both[:, :cut], empty[:, :cut])
        changed = np.abs(both[:, half:] - empty[:, half:]).max(axis=-1) > 0.1
        assert changed.mean() > 0.01

    @pytest.mark.parametrize("plot", ["loss", "conv_weights", "conv_activity", "occlusion", "saliency"])
    def test_every_plot_is_pyplots_current_figure(self, plot, net, digits, tmp_path):
        X, y = digits[0][:2], digits[1][:2]
        layer = net.layers_["conv2d1"]
        fig = {
            "loss": lambda: visualize.plot_loss(net),
            "conv_weights": lambda: visualize.plot_conv_weights(layer),
            "conv_activity": lambda: visualize.plot_conv_activity(layer, X[:1]),
            "occlusion": lambda: visualize.plot_occlusion(net, X, y, square_length=3),
            "saliency": lambda: visualize.plot_saliency(net, X),
        }[plot]()
        assert plt.gcf() is fig and fig.number in plt.get_fignums()
        plt.savefig(tmp_path / "current.png", dpi=50)
        np.testing.assert_array_equal(render_file(tmp_path / "current.png"), render(fig, tmp_path))


class TestAxes:
    def test_plot_loss_into_given_axes(self, net):
        fig, (left, right) = plt.subplots(1, 2)
        assert visualize.plot_loss(net, ax=left) is fig
        assert len(fig.axes) == 2 and not right.get_lines()
        assert [line.get_label() for line in left.get_lines()][:2] == ["train", "valid"]
        np.testing.assert_allclose(left.get_lines()[0].get_ydata(), [r["train_loss"] for r in net.history_])

    def test_panels_fill_the_given_subplot(self, net, tmp_path):
        fig, (left, right) = plt.subplots(1, 2, figsize=(8, 4))
        box = right.get_position()
        layer = net.layers_["conv2d1"]
        assert visualize.plot_conv_weights(layer, ax=right) is fig
        assert left in fig.axes and right not in fig.axes and len(fig.axes) == 1 + 4
        W = layer.W.get_value()
        for k, panel in enumerate(fig.axes[1:]):
            np.testing.assert_allclose(image_data(panel), W[k, 0], rtol=1e-6)
            inside = panel.get_position()
            assert box.x0 - 1e-6 <= inside.x0 and inside.x1 <= box.x1 + 1e-6
            assert box.y0 - 1e-6 <= inside.y0 and inside.y1 <= box.y1 + 1e-6
        assert fig._suptitle is None  # the caller's figure keeps its own title
        render(fig, tmp_path)

    def test_heat_maps_into_given_subplot(self, net, digits):
        fig, (left, right) = plt.subplots(1, 2)
        X, y = digits[0][:2], digits[1][:2]
        assert visualize.plot_occlusion(net, X, y, square_length=3, ax=left) is fig
        assert len(fig.axes) == 1 + 6 and fig.axes[0] is right

    def test_multi_panel_needs_a_subplot(self, net):
        fig = plt.figure()
        free = fig.add_axes([0.1, 0.1, 0.8, 0.8])
        with pytest.raises(ValueError, match="ax must be a subplot"):
            visualize.plot_conv_weights(net.layers_["conv2d1"], ax=free)


class TestPlotLoss:
    def test_fitted_net(self, net, tmp_path):
        fig = visualize.plot_loss(net)
        render(fig, tmp_path)
        assert len(fig.axes) == 1
        lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
        train = [row["train_loss"] for row in net.history_]
        valid = [row["valid_loss"] for row in net.history_]
        np.testing.assert_allclose(lines["train"].get_ydata(), train)
        np.testing.assert_allclose(lines["valid"].get_ydata(), valid)
        np.testing.assert_array_equal(lines["train"].get_xdata(), [1, 2])
        best = int(np.argmin(valid))
        (marker,) = [line for label, line in lines.items() if label.startswith("best valid")]
        assert marker.get_label() == f"best valid (epoch {best + 1})"
        np.testing.assert_allclose(marker.get_ydata(), [valid[best]])

    def test_best_epoch_is_the_lowest_valid_loss(self):
        history = [
            {"epoch": e, "train_loss": 1.0 / e, "valid_loss": v}
            for e, v in enumerate([0.9, 0.5, float("nan"), 0.7], start=1)
        ]
        marker = visualize.plot_loss(history).axes[0].get_lines()[-1]
        assert marker.get_label() == "best valid (epoch 2)"
        np.testing.assert_allclose(marker.get_xdata(), [2])

    @pytest.mark.parametrize("missing", [None, float("nan"), "absent"])
    def test_without_validation_only_train(self, missing, tmp_path):
        history = [{"epoch": e, "train_loss": 1.0 / e} for e in (1, 2, 3)]
        if missing != "absent":
            for row in history:
                row["valid_loss"] = missing
        fig = visualize.plot_loss(history)
        render(fig, tmp_path)
        assert [line.get_label() for line in fig.axes[0].get_lines()] == ["train"]


class TestPlotConvWeights:
    def test_first_layer_kernels(self, net, tmp_path):
        layer = net.layers_["conv2d1"]
        fig = visualize.plot_conv_weights(layer)
        render(fig, tmp_path)
        W = layer.W.get_value()
        assert len(fig.axes) == 4
        for k, ax in enumerate(fig.axes):
            np.testing.assert_allclose(image_data(ax), W[k, 0], rtol=1e-6)
            assert ax.get_title() == str(k)

    def test_multichannel_mean_or_one_channel(self, tmp_path):
        W = np.random.RandomState(0).normal(size=(5, 3, 2, 2)).astype("float32")
        layer = SimpleNamespace(W=pytensor.shared(W))
        fig = visualize.plot_conv_weights(layer)
        render(fig, tmp_path)
        assert len(fig.axes) == 5
        np.testing.assert_allclose(image_data(fig.axes[3]), W[3].mean(axis=0), rtol=1e-6)
        fig = visualize.plot_conv_weights(layer, channel=2)
        np.testing.assert_allclose(image_data(fig.axes[3]), W[3, 2], rtol=1e-6)

    def test_rejects_dense_weights(self):
        with pytest.raises(ValueError, match="4-D W"):
            visualize.plot_conv_weights(DenseLayer(InputLayer((None, 3)), 2))


class TestPlotConvActivity:
    def test_feature_maps_of_one_digit(self, net, digits, tmp_path):
        x = digits[0][:1]
        fig = visualize.plot_conv_activity(net.layers_["conv2d1"], x)
        render(fig, tmp_path)
        assert [ax.get_title() for ax in fig.axes] == ["input", "0", "1", "2", "3"]
        np.testing.assert_allclose(image_data(fig.axes[0]), x[0, 0])
        expected = net.get_output("conv2d1", x)[0]
        assert expected.shape == (4, 6, 6)
        for k in range(4):
            np.testing.assert_allclose(image_data(fig.axes[k + 1]), expected[k], rtol=1e-5, atol=1e-6)

    def test_needs_one_image_and_a_4d_layer(self, net, digits):
        with pytest.raises(ValueError, match="exactly one image"):
            visualize.plot_conv_activity(net.layers_["conv2d1"], digits[0][:2])
        with pytest.raises(ValueError, match="4-D output"):
            visualize.plot_conv_activity(net.layers_["dense2"], digits[0][:1])


class TestOcclusion:
    @pytest.mark.parametrize("pixel, square_length", [((2, 3), 3), ((2, 3), 4), ((0, 0), 3), ((7, 5), 1)])
    def test_known_answer(self, pixel, square_length, mode):
        stand_in = one_pixel_net(pixel, mode)
        x = np.random.RandomState(1).uniform(0, 0.5, (1, 1, 8, 8)).astype("float32")
        x[0, 0][pixel] = 1.0
        heat = visualize.occlusion_heatmap(stand_in, x, 0, square_length=square_length)
        # the square at (i, j) covers rows i - L//2 .. i - L//2 + L - 1, and the same for columns
        rows = np.arange(8)[:, None] - square_length // 2
        cols = np.arange(8)[None, :] - square_length // 2
        covered = (
            (rows <= pixel[0])
            & (pixel[0] < rows + square_length)
            & (cols <= pixel[1])
            & (pixel[1] < cols + square_length)
        )
        assert covered.sum() > 0
        expected = np.where(covered, sigmoid(6.0 * x.mean()), sigmoid(6.0))
        np.testing.assert_allclose(heat, expected, rtol=1e-5)

    def test_target_is_a_label_when_the_net_has_classes(self, mode):
        stand_in = one_pixel_net((4, 4), mode, classes=["a", "b"])
        x = np.random.RandomState(2).uniform(0, 1, (1, 8, 8)).astype("float32")
        heat_a = visualize.occlusion_heatmap(stand_in, x, "a", square_length=2, fill_value=0.0)
        heat_b = visualize.occlusion_heatmap(stand_in, x, "b", square_length=2, fill_value=0.0)
        np.testing.assert_allclose(heat_a + heat_b, 1.0, rtol=1e-6)
        assert heat_a.min() == pytest.approx(0.5)
        with pytest.raises(ValueError, match="not one of net.classes_"):
            visualize.occlusion_heatmap(stand_in, x, "c")

    def test_real_net_matches_predicting_the_occluded_image(self, net, digits):
        x, label = digits[0][5:6], digits[1][5]
        heat = visualize.occlusion_heatmap(net, x, label, square_length=3)
        assert heat.shape == (8, 8)
        column = list(net.classes_).index(label)
        for i, j in [(0, 0), (3, 4), (7, 2)]:
            occluded = x.copy()
            occluded[0, 0, max(0, i - 1) : i + 2, max(0, j - 1) : j + 2] = x.mean()
            assert heat[i, j] == pytest.approx(net.predict_proba(occluded)[0, column], rel=1e-5)

    def test_plot(self, net, digits, tmp_path):
        X, y = digits[0][:3], digits[1][:3]
        fig = visualize.plot_occlusion(net, X, y, square_length=3)
        render(fig, tmp_path)
        assert len(fig.axes) == 9
        assert [ax.get_title() for ax in fig.axes[:3]] == ["image", "p(target) occluded", "overlay"]
        np.testing.assert_allclose(image_data(fig.axes[4]), visualize.occlusion_heatmap(net, X[1:2], y[1], 3))
        np.testing.assert_allclose(fig.get_size_inches(), [9, 9])
        with pytest.raises(ValueError, match="one target per image"):
            visualize.plot_occlusion(net, X, y[:2])


class RedSensor:
    """p(class 1) = mean of the red channel (numpy only, no compilation)."""

    def predict_proba(self, X):
        p = np.asarray(X)[:, 0].mean(axis=(1, 2))
        return np.stack([1 - p, p], axis=1)


def test_rgb_images_are_drawn_in_colour(tmp_path):
    X = np.random.RandomState(4).uniform(0, 1, (2, 3, 5, 5)).astype("float32")
    fig = visualize.plot_occlusion(RedSensor(), X, [1, 1], square_length=5, figsize=(6, 5))
    render(fig, tmp_path)
    assert len(fig.axes) == 6
    np.testing.assert_allclose(fig.get_size_inches(), [6, 5])
    drawn = image_data(fig.axes[3])
    assert drawn.shape == (5, 5, 3)
    np.testing.assert_allclose(drawn, (X[1] - X[1].min()).transpose(1, 2, 0) / np.ptp(X[1]), rtol=1e-5)
    # the centre square covers the whole image, replacing red by its mean: p unchanged there
    heat = image_data(fig.axes[4])
    assert heat[2, 2] == pytest.approx(X[1, 0].mean(), rel=1e-5)


def finite_difference_saliency(net, X, eps):
    """Central differences of the top class probability, the top class held fixed."""
    top = net.predict_proba(X).argmax(axis=1)
    n, size = len(X), X[0].size
    steps = np.eye(size, dtype=np.float64).reshape(size, *X.shape[1:]) * eps
    plus = (X[:, None].astype(np.float64) + steps).reshape(-1, *X.shape[1:])
    minus = (X[:, None].astype(np.float64) - steps).reshape(-1, *X.shape[1:])
    p_plus = net.predict_proba(plus).reshape(n, size, -1)[np.arange(n), :, top]
    p_minus = net.predict_proba(minus).reshape(n, size, -1)[np.arange(n), :, top]
    return ((p_plus - p_minus) / (2 * eps)).reshape(X.shape)


class TestSaliency:
    def test_matches_finite_differences_smooth_net(self, smooth_net):
        X = np.random.RandomState(3).uniform(-1, 1, (3, 1, 4, 4)).astype("float32")
        grad = visualize.saliency_map(smooth_net, X)
        assert grad.shape == X.shape and grad.dtype == np.float32
        fd = finite_difference_saliency(smooth_net, X, eps=1e-2)
        np.testing.assert_allclose(grad, fd, rtol=2e-3, atol=2e-4)
        assert np.abs(grad).max() > 1e-2

    def test_matches_finite_differences_conv_net(self, net, digits, tmp_path):
        X = digits[0][10:12]
        grad = visualize.saliency_map(net, X)
        fd = finite_difference_saliency(net, X, eps=1e-3)
        scale = np.abs(fd).max()
        assert scale > 1e-3
        np.testing.assert_allclose(grad, fd, atol=0.005 * scale)

        fig = visualize.plot_saliency(net, X)
        render(fig, tmp_path)
        assert len(fig.axes) == 6
        assert fig.axes[1].get_title() == "saliency"
        np.testing.assert_allclose(image_data(fig.axes[4]), np.abs(grad[1]).max(axis=0), rtol=1e-6)
        np.testing.assert_allclose(image_data(fig.axes[3]), X[1, 0])
