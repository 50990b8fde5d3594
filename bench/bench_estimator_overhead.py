"""Per-epoch overhead of NeuralNetClassifier over a plain PyTensor loop.

The same MLP (784-800-800-10, dropout, adam 1e-3, batch 128, no validation
split) is trained one epoch at a time by the estimator (``partial_fit``) and
by a hand-written loop, alternating (in ABBA order), so that machine load hits both alike.
The first estimator epoch (it compiles) is dropped. Run::

    SKNET_DATA=../shared/data python bench/bench_estimator_overhead.py --repeats 5
"""

import argparse
import time

import numpy as np
import pytensor
import pytensor.tensor as T

import sknet
from sknet import NeuralNetClassifier
from sknet.datasets import load_mnist
from sknet.layers import DenseLayer, DropoutLayer, InputLayer, get_all_params, get_output
from sknet.nonlinearities import softmax
from sknet.objectives import categorical_crossentropy
from sknet.updates import adam

SPEC = [
    (InputLayer, {}),
    (DropoutLayer, {"p": 0.2}),
    (DenseLayer, {"num_units": 800}),
    (DropoutLayer, {"p": 0.5}),
    (DenseLayer, {"num_units": 800}),
    (DropoutLayer, {"p": 0.5}),
    (DenseLayer, {"nonlinearity": softmax}),
]


def plain_loop_epoch_fn(batch_size=128):
    """Return ``epoch(X, y)`` training the same network with a bare loop."""
    sknet.random.seed(0)
    l_in = InputLayer((None, 784))
    layer = l_in
    for cls, kwargs in SPEC[1:-1]:
        layer = cls(layer, **kwargs)
    out = DenseLayer(layer, 10, nonlinearity=softmax)
    y = T.ivector("y")
    loss = categorical_crossentropy(get_output(out), y).mean()
    train = pytensor.function(
        [l_in.input_var, y],
        loss,
        updates=adam(loss, get_all_params(out, trainable=True), learning_rate=1e-3),
        mode=sknet.backend.get_mode(),
    )
    rng = np.random.RandomState(0)

    def epoch(X, yv):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            idx = order[start : start + batch_size]
            train(X[idx], yv[idx])

    return epoch


def main(repeats=5):
    data = load_mnist()
    X = data.X_train[:50000].reshape(50000, -1)
    y = data.y_train[:50000]
    net = NeuralNetClassifier(SPEC, update=adam, update__learning_rate=1e-3, train_split=False, random_state=0)
    plain_epoch = plain_loop_epoch_fn()
    net.partial_fit(X, y)  # compiles
    plain_epoch(X, y)
    est, plain = [], []
    runs = [(lambda: net.partial_fit(X, y), est), (lambda: plain_epoch(X, y), plain)]
    for i in range(repeats):
        # ABBA order: whichever runs second in a pair is not always the same one
        for run, times in runs if i % 2 == 0 else runs[::-1]:
            t = time.perf_counter()
            run()
            times.append(time.perf_counter() - t)
    e, p = float(np.median(est)), float(np.median(plain))
    print("estimator epochs: " + ", ".join(f"{v:.2f}" for v in est))
    print("plain loop epochs: " + ", ".join(f"{v:.2f}" for v in plain))
    print(f"median estimator {e:.2f} s, plain loop {p:.2f} s, overhead {100 * (e / p - 1):+.1f} %")
    return e, p


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    main(parser.parse_args().repeats)
