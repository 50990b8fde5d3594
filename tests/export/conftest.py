"""Fixtures of the export tests: MNIST batches and the reference runner for layer graphs."""

from collections import OrderedDict

import numpy as np
import onnxruntime as ort
import pytensor
import pytest

from sknet.datasets import load_mnist
from sknet.layers import get_all_layers, get_output


@pytest.fixture(scope="session")
def mnist_batch():
    """64 MNIST test images, (64, 1, 28, 28) float32 in [0, 1] (read from $SKNET_DATA)."""
    data = load_mnist()
    return data.X_test[:64]


class LayerNet:
    """A bare network (no estimator) with ``layers_`` and a compiled deterministic ``predict``.

    ``outputs(X)`` returns the activations of ``probe`` and of the output layer.
    """

    def __init__(self, output, probe, mode):
        layers = get_all_layers(output)
        self.layers_ = OrderedDict((l.name or f"{type(l).__name__.lower()}{k}", l) for k, l in enumerate(layers))
        self.probe = probe
        # the probe is what transform() returns
        self.transform_layer = probe
        x = layers[0].input_var
        outs = get_output([probe, output], deterministic=True)
        self._fn = pytensor.function([x], outs, mode=mode)

    def outputs(self, X):
        return [np.asarray(v) for v in self._fn(np.asarray(X, dtype=np.float32))]

    def predict(self, X):
        return self.outputs(X)[1]


@pytest.fixture(scope="session")
def layer_net_cls():
    return LayerNet


@pytest.fixture(scope="session")
def onnx_runner():
    return run_onnx


@pytest.fixture(scope="session")
def randomizer():
    return randomize_params


def run_onnx(model, X):
    """Run an ONNX model on X with onnxruntime; return its outputs."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": np.asarray(X, dtype=np.float32)})


def randomize_params(output, seed=0):
    """Give every parameter random values (biases and running averages too, not zeros)."""
    rng = np.random.RandomState(seed)
    for layer in get_all_layers(output):
        for p in layer.params:
            v = p.get_value()
            if p.name in ("inv_std", "gamma", "scales"):
                v = np.abs(1 + 0.3 * rng.randn(*v.shape))
            else:
                v = v + 0.2 * rng.randn(*v.shape)
            p.set_value(v.astype(np.float32))
