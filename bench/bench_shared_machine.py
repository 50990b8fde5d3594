"""The tutorial MLP and CNN epochs, quiet and beside one busy process: sknet and PyTorch CPU.

A machine is rarely idle: a second notebook kernel, a browser, a compile.
This script measures what one such neighbour costs. For each network
(the Lasagne tutorial's MLP with nesterov momentum 0.1/0.9 and its CNN with
adam 1e-3, batch 128, MNIST or random images) and each framework it runs a
process that times the same slice of an epoch alternately quiet and beside a
busy-loop process (a ``multiprocessing`` child spinning ``while True: pass``,
started before and stopped after each loaded pass), and prints the four
figures per network (sknet and PyTorch, quiet and loaded), the loaded/quiet
ratio of each and the sknet/PyTorch ratio under each load (medians over the
repeats). Times are per epoch of 50,000 images, scaled from ``--batches``
batches (``--batches 0``: whole epochs).

sknet runs once per thread policy of ``--policies``: ``adaptive`` is
sknet's default (``SKNET_THREAD_POLICY=adaptive``: the thread count follows
the other processes running, see :mod:`sknet.ops._threads`), ``fixed`` is
what sknet did before (``SKNET_THREAD_POLICY=fixed``: OpenBLAS's count, one
thread per core, whatever else runs), ``1`` is one thread
(``SKNET_BLAS_THREADS=1``). PyTorch runs with its own defaults. Every
(framework, policy, network) is its own process; the thread count each
ended its quiet and its loaded passes with is printed too. Run::

    SKNET_DATA=../shared/data python bench/bench_shared_machine.py [--batches 100] [--repeats 3]

The load average before and after is printed, and per run the median number
of other tasks running during its quiet and its loaded passes (0 and 1 on an
otherwise idle machine): where the quiet passes saw others, the "quiet"
figures are not quiet.
"""

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "examples"))

NETS = ("mlp", "cnn")
BATCH = 128
EPOCH = 50000
#: sknet's thread policies: the environment of each child
POLICIES = {
    "adaptive": {"SKNET_THREAD_POLICY": "adaptive"},
    "fixed": {"SKNET_THREAD_POLICY": "fixed"},
    "1": {"SKNET_BLAS_THREADS": "1"},
}


def _spin():
    while True:
        pass


def _data(net, n):
    """The first n MNIST training images (flat for the MLP), random images without MNIST."""
    try:
        from sknet.datasets import load_mnist

        data = load_mnist()
        X, y = data.X_train[:n], data.y_train[:n]
    except (FileNotFoundError, OSError) as exc:
        print(f"MNIST not found ({exc}); random images", file=sys.stderr)
        rng = np.random.default_rng(0)
        X, y = rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n).astype(np.int32)
    X = np.ascontiguousarray(X, dtype=np.float32)
    return (X.reshape(len(X), -1) if net == "mlp" else X), np.asarray(y, dtype=np.int32)


def _sknet_cnn_step():
    import pytensor
    import pytensor.tensor as T
    from mnist_cnn_loop import build_cnn

    import sknet as lasagne

    inputs, targets = T.tensor4("inputs"), T.ivector("targets")
    network = build_cnn(inputs)
    objective = lasagne.objectives.categorical_crossentropy
    loss = objective(lasagne.layers.get_output(network), targets).mean()
    steps = lasagne.updates.adam(loss, lasagne.layers.get_all_params(network, trainable=True), 1e-3)
    return pytensor.function([inputs, targets], loss, updates=steps, mode=lasagne.backend.get_mode())


def _torch_cnn_step():
    import torch
    import torch.nn.functional as F
    from run_all import torch_net

    torch.manual_seed(0)
    net = torch_net("cnn")
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step(xb, yb):
        opt.zero_grad()
        F.cross_entropy(net(xb), yb).backward()
        opt.step()

    return step


def epoch_fn(framework, net, X, y):
    """A callable running one pass over (X, y) in batches of 128, shuffled."""
    if net == "mlp":
        import bench_mlp

        if framework == "sknet":
            return bench_mlp.sknet_epoch_fn(X, y, BATCH)[0]
        return bench_mlp.torch_epoch_fn(X, y, BATCH)
    if framework == "torch":
        import torch

        X, y = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    step = _sknet_cnn_step() if framework == "sknet" else _torch_cnn_step()
    rng = np.random.default_rng(0)

    def epoch():
        order = rng.permutation(len(X))
        for start in range(0, len(X) - BATCH + 1, BATCH):
            idx = order[start : start + BATCH]
            step(X[idx], y[idx])

    return epoch


def _settle(seconds):
    """Wait busily: sknet's adaptive policy does not look at the load while its process idles."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _timed(fn, phase, others):
    """fn's wall time; meanwhile a thread notes, ten times a second, how many
    tasks not of this process are running (sknet.ops._threads.others_running),
    into others[phase]."""
    from sknet.ops._threads import others_running

    done = threading.Event()

    def look():
        while not done.wait(0.1):
            others[phase].append(others_running())

    looker = threading.Thread(target=look, daemon=True)
    looker.start()
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    done.set()
    looker.join()
    return elapsed


def worker(framework, net, batches, repeats):
    """Times `repeats` quiet and `repeats` loaded passes, alternating; prints a JSON line."""
    n = batches * BATCH if batches else EPOCH
    X, y = _data(net, n)
    epoch = epoch_fn(framework, net, X, y)
    epoch()  # warm-up: first-call allocations, thread start
    scale = EPOCH / (len(X) // BATCH * BATCH)
    times, others = {"quiet": [], "loaded": []}, {"quiet": [], "loaded": []}
    threads = {}
    spawn = multiprocessing.get_context("spawn")
    for _ in range(repeats):
        times["quiet"].append(_timed(epoch, "quiet", others) * scale)
        threads["quiet"] = _thread_count(framework)
        busy = spawn.Process(target=_spin, daemon=True)
        busy.start()
        _settle(0.8)  # it starts spinning; sknet's adaptive policy looks at the load for 0.5 s
        try:
            times["loaded"].append(_timed(epoch, "loaded", others) * scale)
            threads["loaded"] = _thread_count(framework)
        finally:
            busy.terminate()
            busy.join()
        _settle(0.8)
    others = {phase: statistics.median(v) if v else None for phase, v in others.items()}
    print(json.dumps(dict(times, threads=threads, others=others)))


def _thread_count(framework):
    if framework == "torch":
        import torch

        return torch.get_num_threads()
    from sknet.ops import _threads

    return _threads.describe()


def run_child(framework, net, policy, args):
    env = dict(os.environ)
    if framework == "sknet":
        for name in ("SKNET_BLAS_THREADS", "SKNET_THREAD_POLICY"):
            env.pop(name, None)
        env.update(POLICIES[policy])
    cmd = [sys.executable, __file__, "--worker", framework, net, "--batches", str(args.batches)]
    out = subprocess.run(
        cmd + ["--repeats", str(args.repeats)], env=env, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def report(results, policies, nets):
    """The table: per network and run, the medians, loaded/quiet, and the ratios to PyTorch and to 'fixed'."""
    med = statistics.median
    cols = ["quiet", "loaded", "loaded/quiet", "/torch quiet", "/torch loaded", "quiet/fixed"]
    print(f"\nepoch of {EPOCH} images, batch {BATCH}, in s (medians); loaded: beside one busy process")
    print(f"{'net':5}{'run':16}" + "".join(f"{c:>14}" for c in cols))
    for net in nets:
        torch_run, fixed = results.get(("torch", net)), results.get(("sknet", net, "fixed"))
        for key in [("sknet", net, p) for p in policies] + [("torch", net)]:
            if key not in results:
                continue
            q, lo = med(results[key]["quiet"]), med(results[key]["loaded"])
            cells = [q, lo, lo / q]
            if key[0] == "sknet":
                if torch_run:
                    cells += [q / med(torch_run["quiet"]), lo / med(torch_run["loaded"])]
                if fixed:
                    cells += [None] * (5 - len(cells)) + [q / med(fixed["quiet"])]
            name = "pytorch" if key[0] == "torch" else f"sknet {key[2]}"
            print(f"{net:5}{name:16}" + "".join(" " * 14 if c is None else f"{c:14.2f}" for c in cells))
    print("quiet / loaded passes: threads at the end of the last; other tasks running (median of looks every 0.1 s)")
    for key, r in results.items():
        print(
            f"  {' '.join(str(k) for k in key)}: {r['threads']['quiet']} / {r['threads']['loaded']}; "
            f"others {r['others']['quiet']} / {r['others']['loaded']}"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=100, help="batches per timed pass (0: whole epochs)")
    parser.add_argument("--repeats", type=int, default=3, help="quiet/loaded pairs per process")
    parser.add_argument("--policies", default="adaptive,fixed", help=f"sknet's, of {', '.join(POLICIES)}")
    parser.add_argument("--nets", default=",".join(NETS))
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--worker", nargs=2, metavar=("FRAMEWORK", "NET"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(*args.worker, args.batches, args.repeats)
    policies = [p for p in args.policies.split(",") if p]
    unknown = set(policies) - set(POLICIES)
    if unknown:
        parser.error(f"unknown policies {sorted(unknown)}; choose among {list(POLICIES)}")
    nets = args.nets.split(",")
    print(f"{os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.2f}", flush=True)
    results = {}
    for net in nets:
        for policy in policies:
            results[("sknet", net, policy)] = run_child("sknet", net, policy, args)
            print(f"sknet {policy} {net}: {results[('sknet', net, policy)]}", flush=True)
        if not args.no_torch:
            results[("torch", net)] = run_child("torch", net, None, args)
            print(f"torch {net}: {results[('torch', net)]}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    report(results, policies, nets)
    return results


if __name__ == "__main__":
    main()
