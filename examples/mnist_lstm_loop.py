"""MNIST read row by row by an LSTM, trained with a plain PyTensor loop.

Each 28x28 image is a sequence of 28 steps of 28 features (one pixel row per
step); one ``LSTMLayer(128, only_return_final=True)`` reads it and a dense
softmax layer classifies its final hidden state. Written as Lasagne-era code:
only the import line differs. Run::

    SKNET_DATA=../shared/data python examples/mnist_lstm_loop.py --epochs 5

Falls back to scikit-learn's ``load_digits`` (8 steps of 8 features) with a
notice when MNIST is not found. On a machine shared with other busy
processes, set ``OPENBLAS_NUM_THREADS=1``: the scan's small per-step matrix
products are slower with a multi-threaded BLAS that has to wait for cores.
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
    """Return X_train, y_train, X_val, y_val, X_test, y_test as (n, rows, cols) sequences, and the
    dataset's name."""
    try:
        data = load_mnist()
    except FileNotFoundError as exc:
        from sklearn.datasets import load_digits

        print(f"MNIST not found ({exc}); using scikit-learn's load_digits instead.")
        print("dataset: digits (scikit-learn's 8x8 digits), 1,000 training, 300 validation and 497 test images")
        digits = load_digits()
        X = (digits.images / 16.0).astype("float32")
        y = digits.target.astype("int32")
        return X[:1000], y[:1000], X[1000:1300], y[1000:1300], X[1300:], y[1300:], "digits"
    print(f"dataset: MNIST, 50,000 training, 10,000 validation and 10,000 test images from {data.path}", flush=True)
    # (n, 1, 28, 28) images -> (n, 28 steps, 28 features)
    X_train, X_test = data.X_train[:, 0], data.X_test[:, 0]
    return (X_train[:50000], data.y_train[:50000], X_train[50000:], data.y_train[50000:], X_test, data.y_test, "MNIST")


def build_lstm(seq_len, num_features, num_units=128, num_classes=10, input_var=None):
    """InputLayer -> LSTMLayer(num_units, only_return_final=True) -> DenseLayer(softmax)."""
    l_in = lasagne.layers.InputLayer((None, seq_len, num_features), input_var=input_var)
    l_lstm = lasagne.layers.LSTMLayer(l_in, num_units, only_return_final=True)
    return lasagne.layers.DenseLayer(l_lstm, num_classes, nonlinearity=lasagne.nonlinearities.softmax)


def iterate_minibatches(inputs, targets, batchsize, shuffle=False, rng=None):
    indices = np.arange(len(inputs))
    if shuffle:
        (rng or np.random).shuffle(indices)
    for start in range(0, len(inputs), batchsize):
        excerpt = indices[start : start + batchsize]
        yield inputs[excerpt], targets[excerpt]


def compile_functions(network, input_var, target_var, learning_rate=1e-3, mode=None):
    """Return (train_fn, val_fn): adam on the cross-entropy, and loss/accuracy."""
    prediction = lasagne.layers.get_output(network)
    loss = lasagne.objectives.categorical_crossentropy(prediction, target_var).mean()
    params = lasagne.layers.get_all_params(network, trainable=True)
    updates = lasagne.updates.adam(loss, params, learning_rate=learning_rate)
    test_prediction = lasagne.layers.get_output(network, deterministic=True)
    test_loss = lasagne.objectives.categorical_crossentropy(test_prediction, target_var).mean()
    test_acc = T.mean(T.eq(T.argmax(test_prediction, axis=1), target_var), dtype="float32")
    mode = lasagne.backend.get_mode(mode)
    train_fn = pytensor.function([input_var, target_var], loss, updates=updates, mode=mode)
    val_fn = pytensor.function([input_var, target_var], [test_loss, test_acc], mode=mode)
    return train_fn, val_fn


def evaluate(val_fn, X, y, batchsize=500):
    err = acc = 0.0
    for inputs, targets in iterate_minibatches(X, y, batchsize):
        e, a = val_fn(inputs, targets)
        err, acc = err + e * len(inputs), acc + a * len(inputs)
    return err / len(X), acc / len(X)


def main(num_epochs=5, batchsize=128, learning_rate=1e-3, seed=0, mode=None):
    """Train the row-by-row LSTM; returns a dict of figures (accuracy, timings)."""
    lasagne.random.seed(seed)
    rng = np.random.RandomState(seed)
    X_train, y_train, X_val, y_val, X_test, y_test, dataset = load_dataset()
    input_var = T.tensor3("inputs", dtype="float32")
    target_var = T.ivector("targets")
    network = build_lstm(X_train.shape[1], X_train.shape[2], input_var=input_var)

    t0 = time.perf_counter()
    train_fn, val_fn = compile_functions(network, input_var, target_var, learning_rate, mode)
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
            f"epoch {epoch + 1:2d}/{num_epochs}  {epoch_times[-1]:.1f} s  "
            f"train loss {train_err / train_batches:.4f}  valid loss {val_err:.4f}  "
            f"valid acc {100 * val_acc:.2f} %",
            flush=True,
        )
    test_err, test_acc = evaluate(val_fn, X_test, y_test)
    print(f"{dataset} test loss {test_err:.4f}  test accuracy {100 * test_acc:.2f} % after {epochs(num_epochs)}")
    print(f"compile {compile_time:.1f} s, median epoch {np.median(epoch_times):.1f} s")
    return {"test_accuracy": test_acc, "compile_time": compile_time, "median_epoch_time": float(np.median(epoch_times))}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batchsize", type=int, default=128)
    parser.add_argument("--mode", default=None)
    args = parser.parse_args()
    main(num_epochs=args.epochs, batchsize=args.batchsize, mode=args.mode)
