"""Data and tiny nets shared by every test that fits an estimator.

Tests take these fixtures instead of defining their own spec or factory, so
the same few graphs compile once per session (PyTensor reuses a compiled
module for every graph of the same shape).
"""

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_digits
from sklearn.preprocessing import StandardScaler

from sknet import NeuralNetClassifier, NeuralNetRegressor
from sknet.layers import DenseLayer, InputLayer


@pytest.fixture(scope="session")
def digits():
    """600 scaled digits with their labels 0..9."""
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X[:600]).astype(np.float32)
    return X, y[:600]


@pytest.fixture(scope="session")
def diabetes():
    """The diabetes regression set, X and y standardized."""
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    return X, ((y - y.mean()) / y.std()).astype(np.float32)


@pytest.fixture(scope="session")
def tiny_spec():
    """The default small spec: input, 16 hidden units, output sized by the targets."""
    return [(InputLayer, {}), (DenseLayer, {"num_units": 16}), (DenseLayer, {})]


@pytest.fixture(scope="session")
def make_classifier(tiny_spec):
    """``make_classifier(**params)``: a tiny classifier; ``layers=`` replaces the spec."""

    def make(**params):
        kwargs = dict(update__learning_rate=0.01, batch_iterator_train__batch_size=32, max_epochs=5, random_state=0)
        kwargs.update(params)
        return NeuralNetClassifier(kwargs.pop("layers", tiny_spec), **kwargs)

    return make


@pytest.fixture(scope="session")
def make_regressor(tiny_spec):
    """``make_regressor(**params)``: a tiny regressor; ``layers=`` replaces the spec."""

    def make(**params):
        kwargs = dict(update__learning_rate=0.01, max_epochs=30, random_state=0)
        kwargs.update(params)
        return NeuralNetRegressor(kwargs.pop("layers", tiny_spec), **kwargs)

    return make
