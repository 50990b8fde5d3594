"""Benchmark: the Lasagne tutorial's build_cnn training step, sknet vs PyTorch CPU.

Runs each framework in its own subprocess (so each peak memory is its own)
and prints ms per batch of 128 MNIST images (consecutive batches of the
training set; random images without ``SKNET_DATA``) for a full training step
(forward, backward, adam update), the forward pass of the two conv layers
alone, compile time and peak RSS, with the sknet/PyTorch ratios (medians
over repeats, then over rounds).

sknet's compile time is the time to ``pytensor.function`` plus the first call
of the train function, twice: cold (a process whose PyTensor compile
directory is new and empty, ``PYTENSOR_FLAGS=compiledir=<new dir>``: every C
module is built) and warm (the usual compile directory).

OpenBLAS picks its kernels for the CPU unless ``OPENBLAS_CORETYPE`` forces
them (some machines set it, with ``OPENBLAS_L2_SIZE``, to work around old
OpenBLAS builds; on an AVX-512 CPU forcing ``Haswell`` costs sknet ~10 %).
``--native-blas`` runs both children without those two variables; the
kernels sknet's OpenBLAS ran are printed either way.

    python bench/bench_cnn.py [--repeats 30] [--rounds 5] [--batch-size 128] [--no-cold] [--native-blas]
"""

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")


def _median_ms(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def _data(batch_size):
    """MNIST's training images and labels (random images if MNIST is not there).

    Both frameworks train on the same consecutive batches of real data, with
    the whole set loaded first, as a training run would. (That matters for
    PyTorch: after the process has allocated and freed large arrays, glibc
    serves its per-step activations from the heap instead of fresh pages, and
    its step here took 15-19 ms instead of 25 ms.)
    """
    try:
        from sknet.datasets import load_mnist

        data = load_mnist()
        X = np.ascontiguousarray(data.X_train[:50000], dtype=np.float32)
        y = np.asarray(data.y_train[:50000], dtype=np.int32)
    except (FileNotFoundError, OSError) as exc:
        print(f"MNIST not found ({exc}); random images", file=sys.stderr)
        rng = np.random.default_rng(0)
        X = rng.random((50 * batch_size, 1, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, len(X)).astype(np.int32)
    return X, y


def _batches(X, y, batch_size):
    """A callable returning the next (inputs, targets) batch, cycling through the data."""
    starts = range(0, len(X) - batch_size + 1, batch_size)
    batches = itertools.cycle([(X[s : s + batch_size], y[s : s + batch_size]) for s in starts])
    return lambda: next(batches)


def run_sknet(repeats, batch_size):
    import pytensor
    import pytensor.tensor as T

    import sknet as lasagne
    import sknet.objectives
    import sknet.updates

    sys.path.insert(0, EXAMPLES)
    from mnist_cnn_loop import build_cnn  # the tutorial network, written once; imports sknet

    X_all, y_all = _data(batch_size)
    next_batch = _batches(X_all, y_all, batch_size)
    X, y = next_batch()
    input_var, target_var = T.tensor4("inputs"), T.ivector("targets")
    network = build_cnn(input_var)
    prediction = lasagne.layers.get_output(network)
    loss = lasagne.objectives.categorical_crossentropy(prediction, target_var).mean()
    params = lasagne.layers.get_all_params(network, trainable=True)
    updates = lasagne.updates.adam(loss, params, learning_rate=1e-3)
    mode = lasagne.backend.get_mode(lasagne.config.bench_mode())
    t0 = time.perf_counter()
    train_fn = pytensor.function([input_var, target_var], loss, updates=updates, mode=mode)
    train_fn(X, y)  # NUMBA compiles on the first call
    compile_s = time.perf_counter() - t0

    conv_layers = [l for l in lasagne.layers.get_all_layers(network) if isinstance(l, lasagne.layers.Conv2DLayer)]
    x1 = T.tensor4("x1")
    conv1 = conv_layers[0].get_output_for(input_var)
    conv2 = conv_layers[1].get_output_for(x1)
    conv_fn = pytensor.function([input_var, x1], [conv1, conv2], mode=mode)
    X1 = np.random.default_rng(1).random((batch_size, 32, 12, 12), dtype=np.float32)

    return dict(
        train_ms=_median_ms(lambda: train_fn(*next_batch()), repeats),
        conv_ms=_median_ms(lambda: conv_fn(X, X1), repeats),
        compile_s=compile_s,
        peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        blas_core=_blas_core(),
    )


def _blas_core():
    """The kernel family sknet's OpenBLAS runs (e.g. 'SkylakeX', 'Haswell'), or None."""
    import ctypes

    from sknet.backend import _openblas_library

    lib = _openblas_library()
    if lib is None:
        return None
    lib.scipy_openblas_get_corename.restype = ctypes.c_char_p
    return lib.scipy_openblas_get_corename().decode()


def run_torch(repeats, batch_size):
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 32, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(512, 256),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(256, 10),
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    X_all, y_all = _data(batch_size)
    next_batch = _batches(torch.from_numpy(X_all), torch.from_numpy(y_all).long(), batch_size)
    Xt, _ = next_batch()

    def step():
        xb, yb = next_batch()
        opt.zero_grad()
        loss = F.cross_entropy(net(xb), yb)
        loss.backward()
        opt.step()

    X1 = torch.from_numpy(np.random.default_rng(1).random((batch_size, 32, 12, 12), dtype=np.float32))

    def conv():
        with torch.no_grad():
            net[0](Xt), net[3](X1)

    t0 = time.perf_counter()
    step()
    compile_s = time.perf_counter() - t0
    return dict(
        train_ms=_median_ms(step, repeats),
        conv_ms=_median_ms(conv, repeats),
        compile_s=compile_s,
        peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        threads=torch.get_num_threads(),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--only", choices=["sknet", "torch"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-compile run")
    parser.add_argument("--native-blas", action="store_true", help="run without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE")
    args = parser.parse_args(argv)
    if args.only:
        run = run_sknet if args.only == "sknet" else run_torch
        print(json.dumps(run(args.repeats, args.batch_size)))
        return None

    base_env = dict(os.environ)
    if args.native_blas:
        base_env.pop("OPENBLAS_CORETYPE", None)
        base_env.pop("OPENBLAS_L2_SIZE", None)

    def child(name, repeats, env=None):
        out = subprocess.run(
            [sys.executable, __file__, "--only", name, "--repeats", str(repeats), "--batch-size", str(args.batch_size)],
            check=True,
            capture_output=True,
            text=True,
            env=env or base_env,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])

    cold = None
    if not args.no_cold:
        with tempfile.TemporaryDirectory() as compiledir:
            env = dict(base_env, PYTENSOR_FLAGS=f"compiledir={compiledir}")
            cold = child("sknet", 1, env)["compile_s"]
    # Rounds of one sknet and one PyTorch process each: the machine's speed
    # drifts, so each round's ratio compares neighbours in time.
    rounds = [{name: child(name, args.repeats) for name in ("sknet", "torch")} for _ in range(args.rounds)]
    med = statistics.median

    def row(label, key, fmt):
        s = med(r["sknet"][key] for r in rounds)
        t = med(r["torch"][key] for r in rounds)
        ratio = med(r["sknet"][key] / r["torch"][key] for r in rounds)
        print(f"{label:24}{s:10{fmt}}{t:10{fmt}}{ratio:8.2f}")

    print(
        f"build_cnn train step, batch {args.batch_size}: medians of {args.repeats} steps "
        f"per process, then over {args.rounds} rounds (ratio: median of the rounds' ratios)"
    )
    print(f"{'':24}{'sknet':>10}{'pytorch':>10}{'ratio':>8}")
    row("train step (ms)", "train_ms", ".1f")
    row("conv fwd x2 (ms)", "conv_ms", ".1f")
    row("compile/first call (s)", "compile_s", ".2f")
    if cold is not None:
        print(f"{'  cold compile dir (s)':24}{cold:10.2f}")
    print(
        f"{'peak RSS (MB)':24}{max(r['sknet']['peak_mb'] for r in rounds):10.0f}"
        f"{max(r['torch']['peak_mb'] for r in rounds):10.0f}"
    )
    print(
        f"sknet's OpenBLAS kernels: {rounds[0]['sknet']['blas_core']} "
        f"(OPENBLAS_CORETYPE={base_env.get('OPENBLAS_CORETYPE', 'unset')})"
    )
    print(
        "per round, train ms sknet/torch: "
        + ", ".join(f"{r['sknet']['train_ms']:.1f}/{r['torch']['train_ms']:.1f}" for r in rounds)
    )
    results = dict(rounds=rounds, cold_compile_s=cold)
    return results


if __name__ == "__main__":
    main()
