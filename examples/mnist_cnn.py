"""The Lasagne MNIST tutorial's CNN as a NeuralNetClassifier (adam 1e-3, batch 128).

conv 32 5x5 -> max-pool 2 -> conv 32 5x5 -> max-pool 2 -> dropout .5 ->
dense 256 -> dropout .5 -> dense 10 softmax, given as a ``(LayerClass,
kwargs)`` list. Run::

    SKNET_DATA=../shared/data python examples/mnist_cnn.py --epochs 10

Falls back to scikit-learn's ``load_digits`` with a notice when MNIST is not
found (see ``examples/_data.py``).
"""

import argparse
import time

import numpy as np
from _data import epochs, load_images

from sknet import NeuralNetClassifier, updates
from sknet.layers import Conv2DLayer, DenseLayer, DropoutLayer, InputLayer, MaxPool2DLayer
from sknet.nonlinearities import rectify, softmax


def cnn_layers():
    """The tutorial's build_cnn as a layer spec (the input shape comes from the data)."""
    return [
        (InputLayer, {}),
        (Conv2DLayer, {"num_filters": 32, "filter_size": (5, 5), "nonlinearity": rectify}),
        (MaxPool2DLayer, {"pool_size": (2, 2)}),
        (Conv2DLayer, {"num_filters": 32, "filter_size": (5, 5), "nonlinearity": rectify}),
        (MaxPool2DLayer, {"pool_size": (2, 2)}),
        (DropoutLayer, {"p": 0.5}),
        (DenseLayer, {"num_units": 256, "nonlinearity": rectify}),
        (DropoutLayer, {"p": 0.5}),
        (DenseLayer, {"num_units": 10, "nonlinearity": softmax}),
    ]


def build_net(num_epochs=10, verbose=1, random_state=0, eval_size=0.1):
    """NeuralNetClassifier over :func:`cnn_layers`, adam 1e-3, batch 128."""
    return NeuralNetClassifier(
        layers=cnn_layers(),
        update=updates.adam,
        update__learning_rate=1e-3,
        batch_iterator_train__batch_size=128,
        train_split__eval_size=eval_size,
        max_epochs=num_epochs,
        verbose=verbose,
        random_state=random_state,
    )


def main(num_epochs=10, train_size=None, test_size=None, verbose=1):
    """Fit on MNIST (or digits), score on its test set; returns a dict of figures."""
    data = load_images(train_size, test_size)
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
        "epochs": len(net.history_),
        "median_epoch_time": float(np.median(epoch_times)),
        "source": data["source"],
        "net": net,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--test-size", type=int, default=None)
    args = parser.parse_args()
    main(args.epochs, args.train_size, args.test_size)
