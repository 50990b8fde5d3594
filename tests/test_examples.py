"""Every example's main() for one epoch on a small subset (slow: they compile real nets).

MNIST is read from ``$SKNET_DATA`` when it is there; otherwise the examples
fall back to scikit-learn's digits, which one test forces on purpose.
Accuracy after one epoch on a few hundred images only has to beat chance
(10 classes) clearly.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# In this workplace MNIST lives beside the checkout, in ../shared/data.
SHARED_DATA = EXAMPLES.parent.parent / "shared" / "data"
SMALL = {"train_size": 800, "test_size": 400}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def examples_on_path():
    sys.path.insert(0, str(EXAMPLES))
    yield
    sys.path.remove(str(EXAMPLES))


def assert_png(path):
    data = Path(path).read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000, path


def test_digits_fallback_when_mnist_is_missing(tmp_path, monkeypatch, capsys):
    import _data

    monkeypatch.setenv("SKNET_DATA", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    data = _data.load_images(train_size=100, test_size=50)
    assert "using scikit-learn's load_digits" in capsys.readouterr().out
    assert data["source"] == "digits"
    assert data["X_train"].shape == (100, 1, 28, 28) and data["X_test"].shape == (50, 1, 28, 28)
    assert data["X_train"].dtype == np.float32 and 0 <= data["X_train"].min() < data["X_train"].max() <= 1
    # Each digit pixel became a 3x3 block inside a 2-pixel frame.
    X, _, _, _ = _data.digits_as_mnist()
    from sklearn.datasets import load_digits

    np.testing.assert_allclose(X[0, 0, 2:-2:3, 2:-2:3], load_digits().images[0] / 16.0)
    assert not X[:, :, :2].any() and not X[:, :, -2:].any()


def test_mnist_cnn(tmp_path, monkeypatch, capsys):
    import mnist_cnn

    # The digits fallback on purpose: this example must run with no data at all.
    monkeypatch.setenv("SKNET_DATA", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    figures = mnist_cnn.main(num_epochs=1, verbose=0, **SMALL)
    out = capsys.readouterr().out
    assert "load_digits" in out
    assert "dataset: digits (scikit-learn's 8x8 digits at 28x28), 800 training and 400 test images" in out
    closing = out.strip().splitlines()[-1]
    assert re.match(
        r"digits \(scikit-learn's 8x8 digits at 28x28\) test accuracy \d+\.\d\d % after 1 epoch;", closing
    ), closing
    assert figures["source"] == "digits" and figures["epochs"] == 1
    assert figures["test_accuracy"] > 0.3
    assert 0 < figures["median_epoch_time"] < figures["fit_time"]


def test_mnist_mlp(capsys):
    import mnist_mlp

    figures = mnist_mlp.main(num_epochs=1, verbose=0, **SMALL)
    lines = capsys.readouterr().out.strip().splitlines()
    name = {"mnist": "MNIST", "digits": "digits (scikit-learn's 8x8 digits at 28x28)"}[figures["source"]]
    (dataset,) = [line for line in lines if line.startswith("dataset: ")]
    assert dataset.startswith(f"dataset: {name}, 800 training and 400 test images")
    match = re.match(rf"{re.escape(name)} test accuracy (\d+\.\d\d) % after 1 epoch;", lines[-1])
    assert match, lines[-1]
    assert float(match.group(1)) == pytest.approx(100 * figures["test_accuracy"], abs=0.006)
    assert figures["test_accuracy"] > 0.3
    assert 0 < figures["median_epoch_time"] < figures["fit_time"]


@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason="no MNIST in ../shared/data here")
@pytest.mark.parametrize("value", ["../shared/data", "../../shared/data"])
def test_relative_sknet_data_from_examples_folder(value):
    """Run from examples/, SKNET_DATA relative to the repository root or to examples/ finds MNIST."""
    # (the printed path tells SKNET_DATA's folder from a ~/sknet_data fallback)
    env = dict(os.environ, SKNET_DATA=value)
    done = subprocess.run(
        [sys.executable, "mnist_mlp.py", "--epochs", "1", "--train-size", "600", "--test-size", "300"],
        cwd=EXAMPLES,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert "not found" not in done.stdout
    where = SHARED_DATA.resolve() / "mnist"
    assert lines[0] == f"dataset: MNIST, 600 training and 300 test images from {where}"
    assert re.match(r"MNIST test accuracy \d+\.\d\d % after 1 epoch; fit", lines[-1]), lines[-1]


def test_mnist_custom_mlp_grid_search():
    import mnist_custom_mlp

    figures = mnist_custom_mlp.main(num_epochs=1, width=128, param_grid={"layers__depth": [1, 2]}, **SMALL)
    assert figures["best_params"]["layers__depth"] in (1, 2)
    assert len(figures["cv_scores"]) == 2
    assert figures["best_score"] == max(figures["cv_scores"])
    assert figures["test_accuracy"] > 0.2


def test_custom_mlp_builder_depth_and_dropout():
    import mnist_custom_mlp

    from sknet.layers import DenseLayer, DropoutLayer, get_all_layers

    layers = get_all_layers(mnist_custom_mlp.build_custom_mlp(depth=3, width=7, drop_input=0, drop_hidden=0.5))
    dense = [layer for layer in layers if isinstance(layer, DenseLayer)]
    assert [layer.num_units for layer in dense] == [7, 7, 7, 10]
    assert [layer.p for layer in layers if isinstance(layer, DropoutLayer)] == [0.5] * 3


def test_lenet_optimizers(tmp_path):
    import lenet

    plot = tmp_path / "curves.png"
    figures = lenet.main(num_epochs=1, plot_path=plot, **SMALL)
    assert set(figures["test_accuracy"]) == {"sgd", "nesterov_momentum", "rmsprop", "adam"}
    assert figures["test_accuracy"]["adam"] > 0.2
    assert_png(plot)


def test_tricks(tmp_path):
    import tricks

    plot = tmp_path / "tricks.png"
    figures = tricks.main(num_epochs=1, variants=("plain", "dropout+batch_norm"), plot_path=plot, **SMALL)
    assert set(figures["test_accuracy"]) == {"plain", "dropout+batch_norm"}
    assert max(figures["test_accuracy"].values()) > 0.2
    assert all(np.isfinite(v) for v in figures["valid_loss"].values())
    assert_png(plot)


def test_tricks_variants_build_what_they_say():
    import tricks

    from sknet.layers import BatchNormLayer, DropoutLayer, get_all_layers

    for name, (dropout, batch_norm) in tricks.VARIANTS.items():
        layers = get_all_layers(tricks.build_small_cnn(dropout, batch_norm))
        assert any(isinstance(layer, DropoutLayer) for layer in layers) == dropout, name
        assert sum(isinstance(layer, BatchNormLayer) for layer in layers) == 3 * batch_norm, name


def test_kernels(tmp_path):
    import kernels

    figures = kernels.main(num_epochs=1, out_dir=tmp_path, verbose=0, **SMALL)
    assert figures["num_kernels"] == 32
    assert set(figures["paths"]) == {"kernels", "feature_maps_conv1", "feature_maps_conv2"}
    for path in figures["paths"].values():
        assert_png(path)
    assert figures["test_accuracy"] > 0.2


def test_regression():
    import regression

    figures = regression.main(num_epochs=30)
    # One epoch is meaningless for 331 samples in batches of 32; 30 take a second.
    assert figures["test_r2"] > 0.2
    assert figures["ridge_r2"] > 0.3


def test_epoch_search():
    import epoch_search

    figures = epoch_search.main(epochs=(1, 2), train_size=300, cv=2)
    assert figures["equal"]  # EpochSearchCV's scores are GridSearchCV's
    assert figures["EpochSearchCV"]["best_params"] == figures["GridSearchCV"]["best_params"]
    assert figures["EpochSearchCV"]["best_score"] > 0.3


def test_transfer_features():
    import transfer_features

    from sknet.datasets import load_fashion_mnist

    try:
        load_fashion_mnist()
    except FileNotFoundError as exc:
        pytest.skip(f"the example needs MNIST and Fashion-MNIST (SKNET_DATA): {exc}")
    figures = transfer_features.main(num_epochs=1, mnist_size=1000, fashion_size=300, test_size=300)
    assert figures["n_features"] == 128 and figures["mnist_accuracy"] > 0.5
    assert figures["MNIST CNN features"] > 0.4  # ten clothes classes: chance is 0.1
