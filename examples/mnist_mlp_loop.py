"""The Lasagne tutorial's MLP on MNIST, trained with a plain PyTensor loop.

Written as Lasagne-era code: only the import line differs. Run::

    SKNET_DATA=../shared/data python examples/mnist_mlp_loop.py --epochs 10

Falls back to scikit-learn's ``load_digits`` (8x8 digits) with a notice when
MNIST is not found.
"""

import argparse
import time

import numpy as np
import pytensor
import pytensor.tensor as T
from _data import epochs

import sknet as lasagne
from sknet.datasets import load_mnist


def load_dataset():
    """Return X_train, y_train, X_val, y_val, X_test, y_test as in the tutorial, and the dataset's name."""
    try:
        data = load_mnist()
    except FileNotFoundError as exc:
        from sklearn.datasets import load_digits

        print(f"MNIST not found ({exc}); using scikit-learn's load_digits instead.")
        print("dataset: digits (scikit-learn's 8x8 digits), 1,000 training, 300 validation and 497 test images")
        digits = load_digits()
        X = (digits.images / 16.0).astype("float32")[:, None, :, :]
        y = digits.target.astype("int32")
        return X[:1000], y[:1000], X[1000:1300], y[1000:1300], X[1300:], y[1300:], "digits"
    print(f"dataset: MNIST, 50,000 training, 10,000 validation and 10,000 test images from {data.path}", flush=True)
    X_train, y_train = data.X_train[:50000], data.y_train[:50000]
    X_val, y_val = data.X_train[50000:], data.y_train[50000:]
    return X_train, y_train, X_val, y_val, data.X_test, data.y_test, "MNIST"


def build_mlp(input_shape, input_var=None):
    """784 -> dropout .2 -> 800 -> dropout .5 -> 800 -> dropout .5 -> 10 softmax."""
    l_in = lasagne.layers.InputLayer(shape=(None,) + input_shape, input_var=input_var)
    l_in_drop = lasagne.layers.DropoutLayer(l_in, p=0.2)
    l_hid1 = lasagne.layers.DenseLayer(
        l_in_drop, num_units=800, nonlinearity=lasagne.nonlinearities.rectify, W=lasagne.init.GlorotUniform()
    )
    l_hid1_drop = lasagne.layers.DropoutLayer(l_hid1, p=0.5)
    l_hid2 = lasagne.layers.DenseLayer(l_hid1_drop, num_units=800, nonlinearity=lasagne.nonlinearities.rectify)
    l_hid2_drop = lasagne.layers.DropoutLayer(l_hid2, p=0.5)
    return lasagne.layers.DenseLayer(l_hid2_drop, num_units=10, nonlinearity=lasagne.nonlinearities.softmax)


def iterate_minibatches(inputs, targets, batchsize, shuffle=False, rng=None):
    indices = np.arange(len(inputs))
    if shuffle:
        (rng or np.random).shuffle(indices)
    for start in range(0, len(inputs) - batchsize + 1, batchsize):
        excerpt = indices[start : start + batchsize]
        yield inputs[excerpt], targets[excerpt]


def compile_functions(network, input_var, target_var, learning_rate=0.1, momentum=0.9, mode=None):
    """Return (train_fn, val_fn) exactly as the Lasagne tutorial builds them."""
    prediction = lasagne.layers.get_output(network)
    loss = lasagne.objectives.categorical_crossentropy(prediction, target_var).mean()
    params = lasagne.layers.get_all_params(network, trainable=True)
    updates = lasagne.updates.nesterov_momentum(loss, params, learning_rate=learning_rate, momentum=momentum)
    test_prediction = lasagne.layers.get_output(network, deterministic=True)
    test_loss = lasagne.objectives.categorical_crossentropy(test_prediction, target_var).mean()
    test_acc = T.mean(T.eq(T.argmax(test_prediction, axis=1), target_var), dtype="float32")
    mode = lasagne.backend.get_mode(mode)
    train_fn = pytensor.function([input_var, target_var], loss, updates=updates, mode=mode)
    val_fn = pytensor.function([input_var, target_var], [test_loss, test_acc], mode=mode)
    return train_fn, val_fn


def evaluate(val_fn, X, y, batchsize=500):
    err = acc = n = 0
    for inputs, targets in iterate_minibatches(X, y, min(batchsize, len(X))):
        e, a = val_fn(inputs, targets)
        err, acc, n = err + e, acc + a, n + 1
    return err / n, acc / n


def main(num_epochs=10, batchsize=128, seed=0, mode=None):
    """Train the tutorial MLP; returns a dict of figures (accuracy, timings)."""
    lasagne.random.seed(seed)
    rng = np.random.RandomState(seed)
    X_train, y_train, X_val, y_val, X_test, y_test, dataset = load_dataset()
    input_var = T.matrix("inputs")
    target_var = T.ivector("targets")

    def flat(X):
        return X.reshape(len(X), -1)

    X_train, X_val, X_test = flat(X_train), flat(X_val), flat(X_test)
    network = build_mlp(X_train.shape[1:], input_var)

    t0 = time.perf_counter()
    train_fn, val_fn = compile_functions(network, input_var, target_var, mode=mode)
    compile_time = time.perf_counter() - t0
    print(f"compiled in {compile_time:.1f} s")

    epoch_times = []
    for epoch in range(num_epochs):
        train_err = train_batches = 0
        start = time.perf_counter()
        for inputs, targets in iterate_minibatches(X_train, y_train, batchsize, True, rng):
            train_err += train_fn(inputs, targets)
            train_batches += 1
        epoch_times.append(time.perf_counter() - start)
        val_err, val_acc = evaluate(val_fn, X_val, y_val)
        print(
            f"epoch {epoch + 1:2d}/{num_epochs}  {epoch_times[-1]:.2f} s  "
            f"train loss {train_err / train_batches:.4f}  valid loss {val_err:.4f}  "
            f"valid acc {100 * val_acc:.2f} %"
        )
    test_err, test_acc = evaluate(val_fn, X_test, y_test)
    print(f"{dataset} test loss {test_err:.4f}  test accuracy {100 * test_acc:.2f} % after {epochs(num_epochs)}")
    print(f"compile {compile_time:.1f} s, median epoch {np.median(epoch_times):.2f} s")
    return {"test_accuracy": test_acc, "compile_time": compile_time, "median_epoch_time": float(np.median(epoch_times))}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--mode", default=None, help="PyTensor mode (default: C backend)")
    args = parser.parse_args()
    main(num_epochs=args.epochs, mode=args.mode)
