"""The LeNet-5 blog's Lasagne script, ported by changing only its imports.

Old Lasagne/Theano code compiles with ``theano.function(...)`` and no
``mode=``; ported, that is ``pytensor.function`` without a mode, which gets
PyTensor's default mode: NUMBA in PyTensor 3, sknet's C mode once sknet is
imported (unless the user chose a mode). This script trains the blog's LeNet
(conv 20 5x5, max-pool 2, conv 50 5x5, max-pool 2, dense 500, softmax 10;
nesterov momentum, batches of 500) that way and prints the wall time of the
compile, of each epoch and of the whole run. ``--max-batches`` shortens the
epochs for a quick comparison. Run::

    SKNET_DATA=../shared/data python bench/lenet_blog.py --epochs 1 --max-batches 40
    SKNET_DATA=../shared/data PYTENSOR_FLAGS=mode=NUMBA python bench/lenet_blog.py ...  # PyTensor's default
"""

import argparse
import sys
import time

import numpy as np
import pytensor
import pytensor.tensor as T

import sknet as lasagne  # was: import lasagne (and import theano as pytensor)
from sknet.datasets import load_mnist


def build_lenet(input_var=None):
    net = lasagne.layers.InputLayer(shape=(None, 1, 28, 28), input_var=input_var)
    net = lasagne.layers.Conv2DLayer(
        net,
        num_filters=20,
        filter_size=(5, 5),
        nonlinearity=lasagne.nonlinearities.rectify,
        W=lasagne.init.GlorotUniform(),
    )
    net = lasagne.layers.MaxPool2DLayer(net, pool_size=(2, 2))
    net = lasagne.layers.Conv2DLayer(
        net, num_filters=50, filter_size=(5, 5), nonlinearity=lasagne.nonlinearities.rectify
    )
    net = lasagne.layers.MaxPool2DLayer(net, pool_size=(2, 2))
    net = lasagne.layers.DenseLayer(
        lasagne.layers.dropout(net, p=0.5), num_units=500, nonlinearity=lasagne.nonlinearities.rectify
    )
    return lasagne.layers.DenseLayer(
        lasagne.layers.dropout(net, p=0.5), num_units=10, nonlinearity=lasagne.nonlinearities.softmax
    )


def iterate_minibatches(inputs, targets, batchsize, shuffle=None, max_batches=None):
    """The blog's batch loop; ``shuffle`` is a numpy Generator (or None)."""
    indices = np.arange(len(inputs))
    if shuffle is not None:
        shuffle.shuffle(indices)
    for n, start in enumerate(range(0, len(inputs) - batchsize + 1, batchsize)):
        if max_batches is not None and n >= max_batches:
            return
        excerpt = indices[start : start + batchsize]
        yield inputs[excerpt], targets[excerpt]


def load_data():
    try:
        data = load_mnist()
    except (FileNotFoundError, OSError) as exc:
        print(f"MNIST not found ({exc}); random images", file=sys.stderr)
        rng = np.random.default_rng(0)
        X = rng.random((60000, 1, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, len(X)).astype(np.int32)
        return X[:50000], y[:50000], X[50000:], y[50000:]
    X, y = data.X_train.astype(np.float32), data.y_train.astype(np.int32)
    return X[:50000], y[:50000], X[50000:], y[50000:]


def main(num_epochs=3, max_batches=None, batch_size=500):
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    X_train, y_train, X_val, y_val = load_data()
    input_var, target_var = T.tensor4("inputs"), T.ivector("targets")
    network = build_lenet(input_var)
    prediction = lasagne.layers.get_output(network)
    loss = lasagne.objectives.categorical_crossentropy(prediction, target_var).mean()
    params = lasagne.layers.get_all_params(network, trainable=True)
    updates = lasagne.updates.nesterov_momentum(loss, params, learning_rate=0.01, momentum=0.9)
    test_prediction = lasagne.layers.get_output(network, deterministic=True)
    test_loss = lasagne.objectives.categorical_crossentropy(test_prediction, target_var).mean()
    test_acc = T.mean(T.eq(T.argmax(test_prediction, axis=1), target_var), dtype=pytensor.config.floatX)

    t0 = time.perf_counter()
    train_fn = pytensor.function([input_var, target_var], loss, updates=updates)  # no mode=, as the blog
    val_fn = pytensor.function([input_var, target_var], [test_loss, test_acc])
    compile_s = time.perf_counter() - t0
    mode = type(pytensor.compile.mode.get_mode(None)).__name__, str(pytensor.config.mode)[:40]
    print(f"default mode: {mode[0]} ({mode[1]}); pytensor.function x2: {compile_s:.1f} s")

    steps = []  # wall time of every train call: the first includes NUMBA's JIT compile
    for epoch in range(num_epochs):
        t0 = time.perf_counter()
        train_err, train_batches = 0.0, 0
        for inputs, targets in iterate_minibatches(X_train, y_train, batch_size, rng, max_batches):
            t1 = time.perf_counter()
            train_err += train_fn(inputs, targets)
            steps.append(time.perf_counter() - t1)
            train_batches += 1
        val_err, val_acc, val_batches = 0.0, 0.0, 0
        for inputs, targets in iterate_minibatches(X_val, y_val, batch_size, None, max_batches):
            err, acc = val_fn(inputs, targets)
            val_err, val_acc, val_batches = val_err + err, val_acc + acc, val_batches + 1
        print(
            f"epoch {epoch + 1}: {time.perf_counter() - t0:.1f} s ({train_batches} batches), "
            f"train loss {train_err / train_batches:.4f}, val loss {val_err / val_batches:.4f}, "
            f"val accuracy {100 * val_acc / val_batches:.2f} %"
        )
    print(f"first train call: {steps[0]:.1f} s; later train steps: median {1e3 * np.median(steps[1:]):.0f} ms")
    total = time.perf_counter() - start
    print(f"total wall time: {total:.1f} s")
    return total


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-batches", type=int, default=None, help="batches per epoch (default: all)")
    args = parser.parse_args()
    main(args.epochs, args.max_batches)
