"""The Lasagne tutorial's MLP on MNIST as a scikit-learn estimator.

Run::

    SKNET_DATA=../shared/data python examples/mnist_mlp.py --epochs 10

Prints the dataset it uses first. Falls back to scikit-learn's ``load_digits``
with a notice when MNIST is not found (see ``sknet.datasets``; a relative
``SKNET_DATA`` works from the repository root and from ``examples/``).
"""

import argparse
import time

import numpy as np
from _data import epochs, load_images

from sknet import NeuralNetClassifier, updates
from sknet.layers import DenseLayer, DropoutLayer, InputLayer
from sknet.nonlinearities import rectify, softmax


def build_net(num_epochs=10, verbose=1, random_state=0):
    """The tutorial MLP: dropout .2, 800 relu, dropout .5, 800 relu, dropout .5, softmax."""
    return NeuralNetClassifier(
        layers=[
            (InputLayer, {}),
            (DropoutLayer, {"p": 0.2}),
            (DenseLayer, {"num_units": 800, "nonlinearity": rectify}),
            (DropoutLayer, {"p": 0.5}),
            (DenseLayer, {"num_units": 800, "nonlinearity": rectify}),
            (DropoutLayer, {"p": 0.5}),
            (DenseLayer, {"nonlinearity": softmax}),  # num_units from the classes
        ],
        update=updates.adam,
        update__learning_rate=1e-3,
        batch_iterator_train__batch_size=128,
        train_split__eval_size=0.1,
        max_epochs=num_epochs,
        verbose=verbose,
        random_state=random_state,
    )


def main(num_epochs=10, train_size=None, test_size=None, verbose=1):
    """Fit, report test accuracy; returns a dict of figures."""
    data = load_images(train_size, test_size, flat=True)
    net = build_net(num_epochs, verbose=verbose)
    start = time.perf_counter()
    net.fit(data["X_train"], data["y_train"])
    fit_time = time.perf_counter() - start
    accuracy = net.score(data["X_test"], data["y_test"])
    epoch_times = [row["dur"] for row in net.history_]
    print(
        f"{data['name']} test accuracy {100 * accuracy:.2f} % after {epochs(len(net.history_))}; "
        f"fit {fit_time:.1f} s (compiling {net.history_[0].get('compile_time') or 0:.1f} s), "
        f"median epoch {np.median(epoch_times):.2f} s"
    )
    return {
        "test_accuracy": accuracy,
        "fit_time": fit_time,
        "source": data["source"],
        "median_epoch_time": float(np.median(epoch_times)),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--test-size", type=int, default=None)
    args = parser.parse_args()
    main(args.epochs, args.train_size, args.test_size)
