"""Compile time of the Lasagne tutorial MLP and CNN: cold, warm, and a cache hit.

* cold: a fresh process with an empty PyTensor compile directory
  (``PYTENSOR_FLAGS=base_compiledir=<new temp dir>``): every C module is
  generated and built by the C compiler;
* warm: a fresh process with the usual compile directory (C modules already
  built): graph rewriting and linking only;
* hit: in the same process, a clone with other hyper-parameters; sknet's
  function cache reuses the compilation (graph building only).

Each figure is the time from ``initialize()`` to having the train and predict
functions (``NeuralNet._function``), in a child process per repeat; medians
are printed. The machine this ran on is shared, so expect noise. Run::

    python bench/bench_compile.py --repeats 3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def tutorial_spec(kind):
    """The Lasagne tutorial networks as sknet ``layers`` specs."""
    from sknet import nonlinearities
    from sknet.layers import Conv2DLayer, DenseLayer, DropoutLayer, InputLayer, MaxPool2DLayer

    if kind == "mlp":
        return [
            (InputLayer, {"shape": (None, 784)}),
            (DropoutLayer, {"p": 0.2}),
            (DenseLayer, {"num_units": 800}),
            (DropoutLayer, {"p": 0.5}),
            (DenseLayer, {"num_units": 800}),
            (DropoutLayer, {"p": 0.5}),
            (DenseLayer, {"num_units": 10, "nonlinearity": nonlinearities.softmax}),
        ]
    return [
        (InputLayer, {"shape": (None, 1, 28, 28)}),
        (Conv2DLayer, {"num_filters": 32, "filter_size": 5}),
        (MaxPool2DLayer, {"pool_size": 2}),
        (Conv2DLayer, {"num_filters": 32, "filter_size": 5}),
        (MaxPool2DLayer, {"pool_size": 2}),
        (DropoutLayer, {"p": 0.5}),
        (DenseLayer, {"num_units": 256}),
        (DropoutLayer, {"p": 0.5}),
        (DenseLayer, {"num_units": 10, "nonlinearity": nonlinearities.softmax}),
    ]


def child(kind, mode):
    """Time building + compiling train and predict twice (second: a clone); print JSON."""
    from sknet import NeuralNetClassifier, updates
    from sknet.function_cache import compile_count

    shape = (784,) if kind == "mlp" else (1, 28, 28)
    X = np.zeros((20,) + shape, np.float32)
    y = np.arange(20) % 10
    times = []
    for lr in (0.01, 0.1):
        net = NeuralNetClassifier(
            tutorial_spec(kind),
            update=updates.nesterov_momentum,
            update__learning_rate=lr,
            update__momentum=0.9,
            mode=mode,
            random_state=0,
        )
        net._fit_targets(y)
        net.initialize(X, y)
        t0 = time.perf_counter()
        net._function("train")
        net._function("predict")
        times.append(time.perf_counter() - t0)
    print(json.dumps({"first": times[0], "hit": times[1], "compiles": compile_count()}))


def run_child(kind, mode, compiledir=None):
    env = dict(os.environ)
    if compiledir is not None:
        env["PYTENSOR_FLAGS"] = f"base_compiledir={compiledir}"
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--mode", str(mode)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(repeats=3, kinds=("mlp", "cnn"), mode=None):
    print(f"{'net':5} {'cold s':>8} {'warm s':>8} {'hit s':>8}  compiles/process  (medians of {repeats})")
    for kind in kinds:
        run_child(kind, mode)  # make sure the usual compile directory is warm
        cold, warm, hit, counts = [], [], [], set()
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as tmp:
                cold.append(run_child(kind, mode, tmp)["first"])
            result = run_child(kind, mode)
            warm.append(result["first"])
            hit.append(result["hit"])
            counts.add(result["compiles"])
        med = statistics.median
        print(f"{kind:5} {med(cold):8.2f} {med(warm):8.2f} {med(hit):8.3f}  {sorted(counts)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--kinds", nargs="+", default=["mlp", "cnn"])
    parser.add_argument("--mode", default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    mode = None if args.mode in (None, "None") else args.mode
    if args.child:
        child(args.child, mode)
    else:
        main(args.repeats, args.kinds, mode)
