"""Small data and tiny nets shared by the estimator tests."""

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_digits
from sklearn.preprocessing import StandardScaler




@pytest.fixture(scope="session")
def digits():
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X[:600]).astype(np.float32)
    return X, y[:600]


@pytest.fixture(scope="session")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    return X, ((y - y.mean()) / y.std()).astype(np.float32)
