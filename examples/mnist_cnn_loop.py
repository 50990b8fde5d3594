"""The Lasagne MNIST tutorial's CNN, ported by ``import sknet as lasagne``,
trained with a plain PyTensor loop (adam 1e-3, batch 128).

    SKNET_DATA=../shared/data python examples/mnist_cnn_loop.py [num_epochs] [data_home]

Loads MNIST with ``sknet.datasets.load_mnist`` (``data_home``, then
``$SKNET_DATA``, then ``~/sknet_data``), trains on the first 50k training
images and reports test accuracy on the 10k test images after each epoch.
"""

import sys
import time

import numpy as np
import pytensor
import pytensor.tensor as T
from _data import epochs

import sknet as lasagne
import sknet.objectives
import sknet.updates
from sknet.datasets import load_mnist


def load_data(data_home=None):
    """First 50k MNIST training images and the 10k test images, via sknet.datasets."""
    data = load_mnist(data_home)
    print(f"dataset: MNIST, 50,000 training and 10,000 test images from {data.path}", flush=True)
    return data.X_train[:50000], data.y_train[:50000], data.X_test, data.y_test


def build_cnn(input_var=None):
    """The tutorial's CNN: conv 32 5x5, pool 2, conv 32 5x5, pool 2, dropout, 256, dropout, 10."""
    network = lasagne.layers.InputLayer(shape=(None, 1, 28, 28), input_var=input_var)
    network = lasagne.layers.Conv2DLayer(
        network,
        num_filters=32,
        filter_size=(5, 5),
        nonlinearity=lasagne.nonlinearities.rectify,
        W=lasagne.init.GlorotUniform(),
    )
    network = lasagne.layers.MaxPool2DLayer(network, pool_size=(2, 2))
    network = lasagne.layers.Conv2DLayer(
        network, num_filters=32, filter_size=(5, 5), nonlinearity=lasagne.nonlinearities.rectify
    )
    network = lasagne.layers.MaxPool2DLayer(network, pool_size=(2, 2))
    network = lasagne.layers.DenseLayer(
        lasagne.layers.dropout(network, p=0.5), num_units=256, nonlinearity=lasagne.nonlinearities.rectify
    )
    network = lasagne.layers.DenseLayer(
        lasagne.layers.dropout(network, p=0.5), num_units=10, nonlinearity=lasagne.nonlinearities.softmax
    )
    return network


def iterate_minibatches(X, y, batch_size, rng=None):
    idx = np.arange(len(X)) if rng is None else rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        sel = idx[start : start + batch_size]
        yield X[sel], y[sel]


def main(num_epochs=3, data_home=None):
    X_train, y_train, X_test, y_test = load_data(data_home)
    lasagne.random.seed(0)
    rng = np.random.default_rng(0)

    input_var, target_var = T.tensor4("inputs"), T.ivector("targets")
    network = build_cnn(input_var)
    prediction = lasagne.layers.get_output(network)
    loss = lasagne.objectives.categorical_crossentropy(prediction, target_var).mean()
    params = lasagne.layers.get_all_params(network, trainable=True)
    updates = lasagne.updates.adam(loss, params, learning_rate=1e-3)
    test_prediction = lasagne.layers.get_output(network, deterministic=True)
    test_acc = T.mean(T.eq(T.argmax(test_prediction, axis=1), target_var), dtype="float32")

    t0 = time.perf_counter()
    mode = lasagne.backend.get_mode(lasagne.config.example_mode())  # C backend by default
    train_fn = pytensor.function([input_var, target_var], loss, updates=updates, mode=mode)
    val_fn = pytensor.function([input_var, target_var], test_acc, mode=mode)
    print(f"compiled in {time.perf_counter() - t0:.1f} s")

    accuracy = None
    for epoch in range(num_epochs):
        t0 = time.perf_counter()
        train_loss = np.mean([train_fn(Xb, yb) for Xb, yb in iterate_minibatches(X_train, y_train, 128, rng)])
        train_time = time.perf_counter() - t0
        accs = [val_fn(Xb, yb) * len(Xb) for Xb, yb in iterate_minibatches(X_test, y_test, 500)]
        accuracy = float(np.sum(accs) / len(X_test))
        print(
            f"epoch {epoch + 1}: train loss {train_loss:.4f}, test accuracy {100 * accuracy:.2f} %, {train_time:.1f} s"
        )
    if accuracy is not None:
        print(f"MNIST test accuracy {100 * accuracy:.2f} % after {epochs(num_epochs)}")
    return accuracy


if __name__ == "__main__":
    main(*(int(a) if i == 0 else a for i, a in enumerate(sys.argv[1:])))
