"""The whole first fit of two estimators, cold and warm, with sknet's quick build off and on.

* ``mlp``: the README tour's digits net (128 relu units, dropout 0.2,
  softmax; adam 1e-3, at most 50 epochs with EarlyStopping(patience=5)) on
  scikit-learn's digits;
* ``cnn``: the tutorial CNN estimator of ``examples/mnist_cnn.py`` (adam 1e-3,
  batch 128, 2 epochs) on the digits scaled to 28x28 (``examples/_data.py``).

Each figure comes from a fresh process; "fit" is ``fit`` and one
``predict`` (train, valid and predict functions compiled), "compile" is the
compile time the history's first row records (train and valid functions)
plus the first predict's, "modules" the C modules that process added to the
compile directory, "process CPU" the CPU seconds of that process and its
``g++`` runs (import included; steadier than wall time on a shared machine),
"epoch" the median epoch time. Three runs per variant and
repeat share one new compile directory (``PYTENSOR_FLAGS=base_compiledir=``):

* cold: the directory is empty;
* warm: the same net again;
* new net: the same layer kinds with other sizes (the hidden layer 64 units
  instead of 128, the CNN's dense layer 200 instead of 256): PyTensor's C
  code does not depend on sizes, so no module is built.

The variants ("off" and "on"), chosen by ``--compare``: ``quick`` sets
``SKNET_QUICK_BUILD=0`` (as PyTensor builds: debug info, one precompiled
header, ``-march`` detected in every process) against ``=1``; ``store``
sets ``SKNET_FUNCTION_STORE=0`` (every process rewrites its graphs) against
``=1`` (warm and new-net runs link the graphs the cold run stored,
:mod:`sknet.function_store`); ``both`` (the default) has both off against
both on: sknet before and after them. "graphs loaded" counts the functions
taken from the store. Medians over ``--repeats``; the variants alternate so
that both see the same load. Run::

    python bench/bench_first_fit.py --repeats 2 [--compare both|quick|store]

One repeat took 4 minutes on a shared 2-core machine (load ~5), mostly the
four cold runs.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"mlp": (128, 64), "cnn": (256, 200)}
#: --compare: the environment of the "off" and "on" runs
VARIANTS = {
    "both": (
        {"SKNET_QUICK_BUILD": "0", "SKNET_FUNCTION_STORE": "0"},
        {"SKNET_QUICK_BUILD": "1", "SKNET_FUNCTION_STORE": "1"},
    ),
    "quick": (
        {"SKNET_QUICK_BUILD": "0", "SKNET_FUNCTION_STORE": "0"},
        {"SKNET_QUICK_BUILD": "1", "SKNET_FUNCTION_STORE": "0"},
    ),
    "store": (
        {"SKNET_QUICK_BUILD": "1", "SKNET_FUNCTION_STORE": "0"},
        {"SKNET_QUICK_BUILD": "1", "SKNET_FUNCTION_STORE": "1"},
    ),
}


def _count_modules():
    import pytensor

    return sum(1 for _ in Path(pytensor.config.compiledir).glob("tmp*/mod.cpp"))


def child(net_kind, units):
    """Build, fit and predict once; print the figures as JSON."""
    sys.path.insert(0, str(ROOT / "examples"))
    import numpy as np

    from sknet import NeuralNetClassifier, callbacks, function_cache, updates
    from sknet.layers import DenseLayer, DropoutLayer, InputLayer

    before = _count_modules()
    if net_kind == "mlp":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        net = NeuralNetClassifier(
            layers=[(InputLayer, {}), (DenseLayer, {"num_units": units}), (DropoutLayer, {"p": 0.2}), (DenseLayer, {})],
            update=updates.adam,
            update__learning_rate=1e-3,
            max_epochs=50,
            callbacks=[callbacks.EarlyStopping(patience=5)],
            random_state=0,
        )
    else:
        from _data import digits_as_mnist
        from mnist_cnn import build_net

        X, y, _, _ = digits_as_mnist()
        net = build_net(num_epochs=2, verbose=0).set_params(dense6__num_units=units)
    start = time.perf_counter()
    net.fit(X, y)
    fitted = time.perf_counter()
    net.predict(X[:5])
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "fit": done - start,
                "compile": net.history_[0]["compile_time"] + (done - fitted),
                "modules": _count_modules() - before,
                "loaded": function_cache.load_count(),
                "epoch": float(np.median([row["dur"] for row in net.history_])),
            }
        )
    )


def _run(net_kind, units, compiledir, variant):
    env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={compiledir}", **variant)
    env.setdefault("SKNET_BLAS_THREADS", "1")
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [sys.executable, __file__, "--child", net_kind, str(units)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    ).stdout
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(out.strip().splitlines()[-1])
    result["cpu"] = now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--nets", default="mlp,cnn")
    parser.add_argument("--compare", choices=sorted(VARIANTS), default="both", help="the variants off and on")
    parser.add_argument("--child", nargs=2, metavar=("NET", "UNITS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], int(args.child[1]))
    off, on = VARIANTS[args.compare]
    runs = ("cold", "warm", "new net")
    results = {}  # (net, is_on, run) -> list of dicts
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeats):
        for net_kind in args.nets.split(","):
            for is_on, variant in ((False, off), (True, on)):
                with tempfile.TemporaryDirectory(prefix="sknet-first-fit-") as compiledir:
                    size, other = SIZES[net_kind]
                    for run, units in zip(runs, (size, size, other)):
                        result = _run(net_kind, units, compiledir, variant)
                        results.setdefault((net_kind, is_on, run), []).append(result)
                        loads.append(os.getloadavg()[0])
    print(f"off: {off}; on: {on}.")
    print(f"Medians of {args.repeats} repeat(s); SKNET_BLAS_THREADS=1; {os.cpu_count()} CPUs;")
    print(f"1-minute load average during the runs: {min(loads):.1f} to {max(loads):.1f} (machine shared).\n")
    print(
        "| net | run | fit (s) off | fit (s) on | ratio on/off | compile (s) off | compile (s) on "
        "| process CPU (s) off / on | C modules off / on | graphs loaded off / on | epoch (s) off / on |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for net_kind in args.nets.split(","):
        for run in runs:
            off_rows, on_rows = results[(net_kind, False, run)], results[(net_kind, True, run)]

            def med(rows, key):
                return statistics.median(r[key] for r in rows)

            print(
                f"| {net_kind} | {run} | {med(off_rows, 'fit'):.2f} | {med(on_rows, 'fit'):.2f} | "
                f"{med(on_rows, 'fit') / med(off_rows, 'fit'):.2f} | "
                f"{med(off_rows, 'compile'):.2f} | {med(on_rows, 'compile'):.2f} | "
                f"{med(off_rows, 'cpu'):.1f} / {med(on_rows, 'cpu'):.1f} | "
                f"{med(off_rows, 'modules'):.0f} / {med(on_rows, 'modules'):.0f} | "
                f"{med(off_rows, 'loaded'):.0f} / {med(on_rows, 'loaded'):.0f} | "
                f"{med(off_rows, 'epoch'):.3f} / {med(on_rows, 'epoch'):.3f} |"
            )


if __name__ == "__main__":
    main()
