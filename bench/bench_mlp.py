"""Epoch time of the Lasagne tutorial MLP: sknet (plain PyTensor loop) vs PyTorch CPU.

Both train the same network (784-800-800-10, dropout .2/.5/.5, nesterov
momentum 0.1/0.9, batch 128) on the same 50,000 MNIST images in this one
process, alternating, and the median epoch times are compared. Needs
``pip install torch==2.13.0`` (not a dependency of sknet). Run::

    SKNET_DATA=../shared/data python bench/bench_mlp.py --repeats 3
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import mnist_mlp_loop as tutorial  # noqa: E402


def sknet_epoch_fn(X, y, batchsize, mode=None):
    import pytensor.tensor as T

    input_var, target_var = T.matrix("inputs"), T.ivector("targets")
    network = tutorial.build_mlp(X.shape[1:], input_var)
    t0 = time.perf_counter()
    train_fn, _ = tutorial.compile_functions(network, input_var, target_var, mode=mode)
    compile_time = time.perf_counter() - t0
    rng = np.random.RandomState(0)

    def epoch():
        for xb, yb in tutorial.iterate_minibatches(X, y, batchsize, True, rng):
            train_fn(xb, yb)

    return epoch, compile_time


def torch_epoch_fn(X, y, batchsize):
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Dropout(0.2),
        nn.Linear(784, 800),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(800, 800),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(800, 10),
    )
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    loss_fn = nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    rng = np.random.RandomState(0)
    net.train()

    def epoch():
        for xb, yb in tutorial.iterate_minibatches(Xt, yt, batchsize, True, rng):
            opt.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()

    return epoch


def main(repeats=3, batchsize=128, mode=None):
    X_train, y_train, *_ = tutorial.load_dataset()
    X = X_train.reshape(len(X_train), -1)
    y = y_train
    sk_epoch, compile_time = sknet_epoch_fn(X, y, batchsize, mode)
    th_epoch = torch_epoch_fn(X, y, batchsize)
    times = {"sknet": [], "torch": []}
    for _ in range(repeats):
        for name, fn in (("sknet", sk_epoch), ("torch", th_epoch)):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    med = {k: float(np.median(v)) for k, v in times.items()}
    ratio = med["sknet"] / med["torch"]
    print(f"samples per epoch: {len(X)}, batch {batchsize}, repeats {repeats}")
    print(f"sknet compile time: {compile_time:.1f} s")
    for k, v in times.items():
        print(f"{k:6s} epoch times: " + ", ".join(f"{t:.2f}" for t in v) + f"  median {med[k]:.2f} s")
    print(f"ratio sknet/torch (median epoch time): {ratio:.2f}")
    return med, ratio


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batchsize", type=int, default=128)
    p.add_argument("--mode", default=None)
    a = p.parse_args()
    main(a.repeats, a.batchsize, a.mode)
