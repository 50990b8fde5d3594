"""Small data: the README tour's net against scikit-learn's MLPClassifier on digits, at equal epochs.

``load_digits`` split 1,347 train / 450 test (``train_test_split``,
``random_state=0``, stratified), pixels scaled to [0, 1]. Both nets: one
hidden layer of 128 relu units, adam 1e-3, batch 128 (scikit-learn's
``batch_size='auto'`` is ``min(200, n)``: set to 128 here for both), the
same number of epochs, and no early stopping or validation split in either:

* sknet: the tour's ``NeuralNetClassifier`` (dropout 0.2 after the hidden
  layer) with ``train_split=False`` and no callbacks;
* scikit-learn: ``MLPClassifier(hidden_layer_sizes=(128,), solver='adam')``
  with ``early_stopping=False``, ``n_iter_no_change`` larger than the epochs
  and ``tol=0``, so it runs every epoch (its ConvergenceWarning is silenced).

Both run on one BLAS thread (``threadpool_limits(1)``, ``SKNET_BLAS_THREADS=1``):
on a shared machine, numpy's OpenBLAS threads otherwise spin while waiting
for a core and scikit-learn's epochs take ten times longer.

Time is a warm ``fit``: the second fit of a fresh clone in the same process
(sknet's compilation is then reused, as in any fit after the first); the
first fit is timed too. Medians over ``--repeats`` (the two alternate, so
they see the same load), test accuracy of the last repeat. Run::

    python bench/bench_digits_sklearn.py --epochs 50 --repeats 7
"""

import argparse
import os
import statistics
import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits


def data():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=450, random_state=0, stratify=y)


def sknet_net(epochs):
    from sknet import NeuralNetClassifier, updates
    from sknet.layers import DenseLayer, DropoutLayer, InputLayer

    return NeuralNetClassifier(
        layers=[(InputLayer, {}), (DenseLayer, {"num_units": 128}), (DropoutLayer, {"p": 0.2}), (DenseLayer, {})],
        update=updates.adam,
        update__learning_rate=1e-3,
        batch_iterator_train__batch_size=128,
        max_epochs=epochs,
        train_split=False,
        random_state=0,
    )


def sklearn_net(epochs):
    return MLPClassifier(
        hidden_layer_sizes=(128,),
        solver="adam",
        learning_rate_init=1e-3,
        batch_size=128,
        max_iter=epochs,
        early_stopping=False,
        n_iter_no_change=10 * epochs + 10,
        tol=0.0,
        random_state=0,
    )


def timed_fit(net, X, y):
    start = time.perf_counter()
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        net.fit(X, y)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    os.environ.setdefault("SKNET_BLAS_THREADS", "1")  # read when sknet is imported below
    X_train, X_test, y_train, y_test = data()
    makers = {"sknet": sknet_net(args.epochs), "scikit-learn": sklearn_net(args.epochs)}
    first = {name: timed_fit(clone(net), X_train, y_train) for name, net in makers.items()}
    times, nets, loads = {name: [] for name in makers}, {}, []
    for _ in range(args.repeats):
        for name, net in makers.items():
            nets[name] = clone(net)
            times[name].append(timed_fit(nets[name], X_train, y_train))
        loads.append(os.getloadavg()[0])
    epochs = {"sknet": len(nets["sknet"].history_), "scikit-learn": nets["scikit-learn"].n_iter_}
    acc = {name: net.score(X_test, y_test) for name, net in nets.items()}
    med = {name: statistics.median(t) for name, t in times.items()}
    print(
        f"digits: {len(X_train)} train / {len(X_test)} test; 128 relu units, adam 1e-3, batch 128; "
        f"median of {args.repeats} warm fits; 1-minute load {min(loads):.1f} to {max(loads):.1f} "
        f"on {os.cpu_count()} CPUs (machine shared).\n"
    )
    print("| net | epochs | first fit (s) | warm fit (s) | per epoch (ms) | test accuracy (%) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in makers:
        print(
            f"| {name} | {epochs[name]} | {first[name]:.2f} | {med[name]:.3f} | "
            f"{1e3 * med[name] / epochs[name]:.2f} | {100 * acc[name]:.2f} |"
        )
    ratio = med["sknet"] / med["scikit-learn"]
    print(
        f"\nwarm fit ratio sknet / scikit-learn: {ratio:.2f}; "
        f"accuracy sknet - scikit-learn: {100 * (acc['sknet'] - acc['scikit-learn']):+.2f} points"
    )


if __name__ == "__main__":
    main()
