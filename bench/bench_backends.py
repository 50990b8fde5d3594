"""Grid-search wall time (cache, processes, dask) and epoch time per backend vs PyTorch CPU.

Two tables:

1. A 12-point GridSearchCV (learning rate x l2, 3-fold) of a small MLP on
   ``load_digits``: ``n_jobs=1`` without and with sknet's function cache,
   ``n_jobs=2`` (joblib's loky processes) and joblib's dask backend on a
   2-worker ``LocalCluster``. Each run is a fresh child process (cold
   function cache, warm C compile directory); the cluster's start-up is not
   counted.
2. Seconds per epoch of the Lasagne tutorial MLP and CNN (nesterov momentum,
   batch 128, dropout) trained by ``NeuralNetClassifier`` in the C, NUMBA
   and JAX modes, and of the same networks in PyTorch on the CPU (torch is
   not a dependency of sknet). Data are random MNIST-shaped arrays; the first
   epoch (compilation, JIT warm-up) is dropped.

All figures are medians of ``--repeats`` runs (configurations alternate
within each repeat) on a shared, loaded machine.
Run::

    python bench/bench_backends.py --repeats 3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

GRID = {"update__learning_rate": [0.01, 0.03, 0.1], "objective__l2": [0.0, 1e-4, 1e-3, 1e-2]}


def grid_child(config, epochs):
    import dask_search
    import joblib

    from sknet import function_cache

    X, y = dask_search.load_data()
    search = dask_search.make_search(epochs)
    search.set_params(param_grid=GRID, n_jobs=2 if config in ("n_jobs=2", "dask") else 1)
    function_cache.set_enabled(config != "no cache")
    if config == "dask":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
        client = Client(cluster)
        client.run(lambda: __import__("sknet"))
        t0 = time.perf_counter()
        with joblib.parallel_backend("dask"):
            search.fit(X, y)
        wall = time.perf_counter() - t0
        compiles = sum(info.compiles for info in client.run(function_cache.cache_info).values())
        client.close()
        cluster.close()
    else:
        t0 = time.perf_counter()
        search.fit(X, y)
        wall = time.perf_counter() - t0
        compiles = function_cache.compile_count() if config != "n_jobs=2" else None
    print(json.dumps({"wall": wall, "compiles": compiles, "score": search.best_score_}))


def epoch_child(kind, backend, n, epochs):
    from bench_compile import tutorial_spec

    rng = np.random.RandomState(0)
    shape = (784,) if kind == "mlp" else (1, 28, 28)
    X = rng.rand(n, *shape).astype(np.float32)
    y = rng.randint(0, 10, n)
    if backend == "torch":
        durations = torch_epochs(kind, X, y, epochs)
    else:
        from sknet import NeuralNetClassifier, updates

        net = NeuralNetClassifier(
            tutorial_spec(kind),
            update=updates.nesterov_momentum,
            update__learning_rate=0.01,
            update__momentum=0.9,
            mode=None if backend == "C" else backend,
            max_epochs=epochs,
            train_split=False,
            random_state=0,
        ).fit(X, y)
        durations = net.history_[:, "dur"]
    print(json.dumps({"epoch": statistics.median(durations[1:])}))


def torch_epochs(kind, X, y, epochs):
    import torch
    from torch import nn

    torch.manual_seed(0)
    if kind == "mlp":
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
    else:
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
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    loss_fn = nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    rng = np.random.RandomState(0)
    durations = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        order = torch.from_numpy(rng.permutation(len(X)))
        for start in range(0, len(X), 128):
            idx = order[start : start + 128]
            opt.zero_grad()
            loss_fn(net(Xt[idx]), yt[idx]).backward()
            opt.step()
        durations.append(time.perf_counter() - t0)
    return durations


def run_child(*args):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    out = subprocess.run(
        [sys.executable, __file__, "--child", *map(str, args)], env=env, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(
    repeats=3,
    epochs=3,
    grid_epochs=5,
    sizes=(("mlp", 10000), ("cnn", 2000)),
    backends=("C", "NUMBA", "JAX", "torch"),
    tables=("grid", "epoch"),
):
    med = statistics.median
    if "grid" in tables:
        print(f"12-point GridSearchCV, cv=3, {grid_epochs} epochs (medians of {repeats})")
        print(f"{'config':12} {'wall s':>8} {'compiles':>9}")
        configs = ("no cache", "cache", "n_jobs=2", "dask")
        runs = {c: [] for c in configs}
        for _ in range(repeats):
            for config in configs:
                runs[config].append(run_child("grid", config, grid_epochs))
        for config in configs:
            compiles = runs[config][0]["compiles"]
            wall = med(r["wall"] for r in runs[config])
            print(f"{config:12} {wall:8.1f} {'-' if compiles is None else compiles:>9}")
    if "epoch" in tables:
        print(f"\nseconds per epoch, batch 128 (medians of {repeats} runs x {epochs - 1} epochs)")
        print(f"{'net':12} " + " ".join(f"{b:>8}" for b in backends) + "   ratios to torch")
        for kind, n in sizes:
            # Backends alternate within each repeat, so load from other jobs
            # falls on all of them alike.
            runs = {b: [] for b in backends}
            for _ in range(repeats):
                for b in backends:
                    runs[b].append(run_child("epoch", kind, b, n, epochs)["epoch"])
            times = [med(runs[b]) for b in backends]
            ratios = ""
            if "torch" in backends:
                ref = times[list(backends).index("torch")]
                ratios = " ".join(f"{b}={t / ref:.1f}x" for b, t in zip(backends, times) if b != "torch")
            print(f"{kind + ' n=' + str(n):12} " + " ".join(f"{t:8.2f}" for t in times) + "   " + ratios)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--grid-epochs", type=int, default=5)
    parser.add_argument("--tables", nargs="+", default=["grid", "epoch"])
    parser.add_argument("--backends", nargs="+", default=["C", "NUMBA", "JAX", "torch"])
    parser.add_argument("--child", nargs="+", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, *rest = args.child
        if what == "grid":
            grid_child(rest[0], int(rest[1]))
        else:
            epoch_child(rest[0], rest[1], int(rest[2]), int(rest[3]))
    else:
        main(args.repeats, args.epochs, args.grid_epochs, tables=args.tables, backends=args.backends)
