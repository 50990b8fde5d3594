"""Transfer features: a small CNN trained on MNIST, its hidden layer as features for Fashion-MNIST.

Run::

    SKNET_DATA=../shared/data python examples/transfer_features.py

The CNN is fitted on MNIST digits; ``transform`` then returns its last hidden
layer (``transform_layer`` default: the layer before the output), so the
fitted net is a transformer in a Pipeline feeding a LogisticRegression that
learns Fashion-MNIST clothes. The script prints the accuracy of that
pipeline next to a LogisticRegression on the raw pixels and on the pixels
through random (untrained) CNN features of the same shape.
"""

import argparse
import time

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknet import NeuralNetClassifier
from sknet.datasets import load_fashion_mnist, load_mnist
from sknet.layers import Conv2DLayer, DenseLayer, InputLayer, MaxPool2DLayer


def build_cnn(num_epochs=2, verbose=0):
    """conv 16 5x5 - pool 2 - conv 32 5x5 - pool 2 - dense 128 - softmax."""
    return NeuralNetClassifier(
        [
            (InputLayer, {}),
            (Conv2DLayer, {"num_filters": 16, "filter_size": 5}),
            (MaxPool2DLayer, {"pool_size": 2}),
            (Conv2DLayer, {"num_filters": 32, "filter_size": 5}),
            (MaxPool2DLayer, {"pool_size": 2}),
            (DenseLayer, {"num_units": 128, "name": "features"}),
            (DenseLayer, {}),
        ],
        update__learning_rate=1e-3,
        max_epochs=num_epochs,
        train_split=False,
        verbose=verbose,
        random_state=0,
    )


def _head():
    return LogisticRegression(max_iter=300)


def main(num_epochs=2, mnist_size=10000, fashion_size=2000, test_size=2000, verbose=0):
    """Fit the CNN on MNIST, then the pipelines on Fashion-MNIST; returns a dict of figures."""
    mnist, fashion = load_mnist(), load_fashion_mnist()
    start = time.perf_counter()
    cnn = build_cnn(num_epochs, verbose).fit(mnist.X_train[:mnist_size], mnist.y_train[:mnist_size])
    cnn_time = time.perf_counter() - start
    mnist_accuracy = cnn.score(mnist.X_test[:test_size], mnist.y_test[:test_size])
    X, y = fashion.X_train[:fashion_size], fashion.y_train[:fashion_size]
    X_test, y_test = fashion.X_test[:test_size], fashion.y_test[:test_size]
    # FrozenEstimator: Pipeline.fit leaves the fitted CNN as it is and only calls its transform.
    untrained = build_cnn().initialize(X[:10], np.arange(10))  # the same layers, initial weights
    pipes = {
        "raw pixels": Pipeline([("scale", StandardScaler()), ("logreg", _head())]),
        "untrained CNN features": Pipeline(
            [("cnn", FrozenEstimator(untrained)), ("scale", StandardScaler()), ("logreg", _head())]
        ),
        "MNIST CNN features": Pipeline(
            [("cnn", FrozenEstimator(cnn)), ("scale", StandardScaler()), ("logreg", _head())]
        ),
    }
    figures = {"mnist_accuracy": mnist_accuracy, "cnn_fit_time": cnn_time, "n_features": cnn.transform(X[:1]).shape[1]}
    print(
        f"CNN on {mnist_size} MNIST digits, {num_epochs} epochs ({cnn_time:.1f} s): "
        f"MNIST test accuracy {100 * mnist_accuracy:.2f} %; {figures['n_features']} features "
        f"({cnn.get_feature_names_out()[0]} ...)"
    )
    for name, pipe in pipes.items():
        X_in = X.reshape(len(X), -1) if name == "raw pixels" else X
        X_eval = X_test.reshape(len(X_test), -1) if name == "raw pixels" else X_test
        accuracy = pipe.fit(X_in, y).score(X_eval, y_test)
        figures[name] = accuracy
        print(
            f"Fashion-MNIST ({fashion_size} train, {test_size} test), LogisticRegression on {name}: "
            f"{100 * accuracy:.2f} %"
        )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--mnist-size", type=int, default=10000)
    parser.add_argument("--fashion-size", type=int, default=2000)
    args = parser.parse_args()
    main(args.epochs, args.mnist_size, args.fashion_size)
