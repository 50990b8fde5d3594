"""A NeuralNetRegressor on scikit-learn's diabetes data, in a Pipeline with a scaler.

``load_diabetes`` ships with scikit-learn, so this runs offline. The target
is standardized by ``TransformedTargetRegressor`` (a net's squared error
trains badly on raw targets in the hundreds); the score is R^2 on a held-out
quarter, next to a ridge regression baseline. Run::

    python examples/regression.py --epochs 200
"""

import argparse
import time

from _data import epochs
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknet import NeuralNetRegressor, updates
from sknet.layers import DenseLayer, DropoutLayer, InputLayer
from sknet.nonlinearities import rectify


def build_net(num_epochs=200, num_units=32, verbose=0, random_state=0):
    """Two hidden ReLU layers with dropout; the linear output size comes from y."""
    return NeuralNetRegressor(
        layers=[
            (InputLayer, {}),
            (DenseLayer, {"num_units": num_units, "nonlinearity": rectify}),
            (DropoutLayer, {"p": 0.1}),
            (DenseLayer, {"num_units": num_units, "nonlinearity": rectify}),
            (DenseLayer, {}),
        ],
        update=updates.adam,
        update__learning_rate=3e-3,
        objective__l2=1e-4,
        batch_iterator_train__batch_size=32,
        train_split=False,
        max_epochs=num_epochs,
        verbose=verbose,
        random_state=random_state,
    )


def main(num_epochs=200, train_size=None, verbose=0):
    """Fit the net and a ridge baseline; returns both test R^2 scores."""
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    X_train, y_train = X_train[:train_size], y_train[:train_size]
    print(f"dataset: diabetes (scikit-learn), {len(X_train)} training and {len(X_test)} test patients", flush=True)
    model = TransformedTargetRegressor(
        make_pipeline(StandardScaler(), build_net(num_epochs, verbose=verbose)),
        transformer=StandardScaler(),
    )
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_time = time.perf_counter() - start
    r2 = model.score(X_test, y_test)
    baseline = make_pipeline(StandardScaler(), RidgeCV()).fit(X_train, y_train).score(X_test, y_test)
    print(
        f"diabetes: test R^2 {r2:.3f} (ridge baseline {baseline:.3f}) after {epochs(num_epochs)}, fit {fit_time:.1f} s"
    )
    return {"test_r2": r2, "ridge_r2": baseline, "fit_time": fit_time, "train_size": len(X_train)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    args = parser.parse_args()
    main(args.epochs, verbose=1)
