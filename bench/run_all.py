"""The seed networks (tutorial MLP, tutorial CNN, LeNet-5) in sknet and in PyTorch CPU.

Each (network, framework) pair trains in its own subprocess, so compile
time and peak memory belong to that pair alone, on the same data, batch
size, optimizer and number of epochs. sknet trains the estimators defined in
``examples/`` (``mnist_mlp.py``, ``mnist_cnn.py``, ``lenet.py`` with adam);
PyTorch trains the same layers with the same update rule in a plain loop.
The results go to a markdown table (``bench/results.md`` by default)::

    SKNET_DATA=../shared/data python bench/run_all.py               # full: 10 epochs, 50k images
    SKNET_DATA=../shared/data python bench/run_all.py --epochs 1 --train-size 2000   # smoke run
    SKNET_DATA=../shared/data python bench/run_all.py --epochs 2 --repeats 3          # medians of 3 processes each

``--repeats N`` runs each (net, framework) N times, alternating the
frameworks, and reports medians and each repeat's ratio: on a noisy machine
one pair of processes can differ by 15 % from the next. ``--native-blas``
drops ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` from the children's
environment.

PyTorch is not a dependency of sknet (``pip install torch==2.13.0``); without
it the table has the sknet columns only, and the script says so.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
NETS = ("mlp", "cnn", "lenet")
#: per net: optimizer (adam for all three, as in the examples), learning rate, L2 weight
SETTINGS = {"mlp": (1e-3, 0.0), "cnn": (1e-3, 0.0), "lenet": (1e-3, 1e-4)}
#: the variables that force OpenBLAS's kernels (``--native-blas`` drops them)
BLAS_FORCING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def peak_mb():
    """Peak resident memory of this process in MB (ru_maxrss is in kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(train_size, test_size):
    sys.path.insert(0, str(EXAMPLES))
    from _data import load_images

    return load_images(train_size, test_size)


def run_sknet(net_name, data, epochs, batch_size, mode):
    import lenet
    import mnist_cnn
    import mnist_mlp

    if net_name == "mlp":
        net = mnist_mlp.build_net(epochs, verbose=0)
    elif net_name == "cnn":
        net = mnist_cnn.build_net(epochs, verbose=0)
    else:
        net = lenet.build_net("adam", epochs, l2=SETTINGS["lenet"][1], verbose=0)
    net.set_params(
        train_split=False,
        batch_iterator_train__batch_size=batch_size,
        update__learning_rate=SETTINGS[net_name][0],
        mode=mode,
    )
    start = time.perf_counter()
    net.fit(data["X_train"], data["y_train"])
    fit_time = time.perf_counter() - start
    epoch_times = [row["dur"] for row in net.history_]
    return {
        "epoch_time": float(np.median(epoch_times)),
        "epoch_times": epoch_times,
        # fit() compiles the train function before the first epoch starts.
        "compile_time": fit_time - sum(epoch_times),
        "test_accuracy": float(net.score(data["X_test"], data["y_test"])),
        "train_loss": float(net.history_[-1]["train_loss"]),
    }


def torch_net(net_name):
    """The same layers as the sknet specs, in PyTorch (its default init)."""
    from torch import nn

    if net_name == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.2),
            nn.Linear(784, 800),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(800, 800),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(800, 10),
        )
    if net_name == "cnn":
        return nn.Sequential(
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
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def run_torch(net_name, data, epochs, batch_size):
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    net = torch_net(net_name)
    learning_rate, l2 = SETTINGS[net_name]
    # sknet's objective__l2 adds l2 * sum(W**2) over weights (not biases): gradient 2 * l2 * W.
    weights = [p for p in net.parameters() if p.ndim > 1]
    biases = [p for p in net.parameters() if p.ndim == 1]
    opt = torch.optim.Adam(
        [{"params": weights, "weight_decay": 2 * l2}, {"params": biases, "weight_decay": 0.0}], lr=learning_rate
    )
    X, y = torch.from_numpy(data["X_train"]), torch.from_numpy(data["y_train"].astype(np.int64))
    rng = np.random.default_rng(0)
    first_step = None
    epoch_times, loss_sum = [], 0.0
    for _ in range(epochs):
        net.train()
        order = torch.from_numpy(rng.permutation(len(X)))
        loss_sum = 0.0
        start = time.perf_counter()
        for i in range(0, len(X), batch_size):
            t0 = time.perf_counter()
            idx = order[i : i + batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(net(X[idx]), y[idx])
            loss.backward()
            opt.step()
            loss_sum += float(loss) * len(idx)
            if first_step is None:
                first_step = time.perf_counter() - t0
        epoch_times.append(time.perf_counter() - start)
    net.eval()
    with torch.no_grad():
        X_test = torch.from_numpy(data["X_test"])
        pred = torch.cat([net(X_test[i : i + 500]).argmax(1) for i in range(0, len(X_test), 500)])
    return {
        "epoch_time": float(np.median(epoch_times)),
        "epoch_times": epoch_times,
        "compile_time": first_step,  # no compilation: the first step's time
        "test_accuracy": float((pred.numpy() == data["y_test"]).mean()),
        "train_loss": loss_sum / len(X),
        "threads": torch.get_num_threads(),
    }


def merge(runs):
    """One result from the repeats of a (net, framework): medians, the largest peak memory."""
    merged = dict(runs[0])
    for key in ("epoch_time", "compile_time", "test_accuracy", "train_loss"):
        merged[key] = float(np.median([r[key] for r in runs]))
    merged["peak_mb"] = max(r["peak_mb"] for r in runs)
    merged["epoch_times"] = [t for r in runs for t in r["epoch_times"]]
    return merged


def worker(args):
    data = load(args.train_size, args.test_size)
    if args.framework == "sknet":
        result = run_sknet(args.net, data, args.epochs, args.batch_size, args.mode)
    else:
        result = run_torch(args.net, data, args.epochs, args.batch_size)
    result.update(peak_mb=peak_mb(), source=data["source"], n_train=len(data["X_train"]), n_test=len(data["X_test"]))
    print(json.dumps(result))


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def versions(have_torch):
    import pytensor

    import sknet

    out = f"sknet {sknet.__version__}, pytensor {pytensor.__version__}, numpy {np.__version__}"
    if have_torch:
        import torch

        out += f", torch {torch.__version__}"
    return out


def blas_setting(args):
    """The OpenBLAS kernel choice the children ran with, in words."""
    forced = {n: os.environ[n] for n in BLAS_FORCING if n in os.environ}
    if args.native_blas or not forced:
        return "kernels chosen for the CPU (no OPENBLAS_CORETYPE)"
    return "forced by " + ", ".join(f"{n}={v}" for n, v in forced.items())


def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def table(results, args, have_torch, command, ratios=None):
    any_result = next(r for pair in results.values() for r in pair.values() if r)
    lines = [
        "# sknet vs PyTorch CPU: the seed networks",
        "",
        f"Made by `{command}` on {datetime.date.today().isoformat()}.",
        f"Machine: {machine()}. Versions: {versions(have_torch)}.",
        f"Data: {any_result['source']}, {any_result['n_train']} training images, "
        f"{any_result['n_test']} test images; batch {args.batch_size}; {args.epochs} epoch(s); "
        f"adam 1e-3 for every net (LeNet with L2 1e-4 on the weights); sknet mode "
        f"{args.mode or 'default (C backend)'}. Each (net, framework) ran in its own process"
        + (
            f", {args.repeats} times, alternating with the other framework; figures are medians over the runs."
            if args.repeats > 1
            else "."
        ),
        f"OpenBLAS: {blas_setting(args)}.",
        "",
        "Epoch time is the median over epochs of the training pass alone; ratio = sknet / PyTorch. "
        "sknet's compile time is the build and compilation of the train function before the first "
        "epoch; PyTorch's column is its first training step. Peak memory is the process's max RSS, "
        "data included.",
        "",
        "| net | sknet epoch (s) | PyTorch epoch (s) | ratio | sknet compile (s) "
        "| PyTorch first step (s) | sknet peak (MB) | PyTorch peak (MB) "
        "| sknet test acc (%) | PyTorch test acc (%) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for net in args.nets:
        s, t = results[net].get("sknet"), results[net].get("torch")
        g = lambda r, key: None if not r else r.get(key)  # noqa: E731
        pct = lambda r: None if not r else 100 * r["test_accuracy"]  # noqa: E731
        ratio = (s["epoch_time"] / t["epoch_time"]) if s and t else None
        lines.append(
            f"| {net} | {fmt(g(s, 'epoch_time'), '.2f')} | {fmt(g(t, 'epoch_time'), '.2f')} "
            f"| {fmt(ratio, '.2f')} | {fmt(g(s, 'compile_time'), '.1f')} "
            f"| {fmt(g(t, 'compile_time'), '.3f')} | {fmt(g(s, 'peak_mb'), '.0f')} "
            f"| {fmt(g(t, 'peak_mb'), '.0f')} | {fmt(pct(s), '.2f')} | {fmt(pct(t), '.2f')} |"
        )
    per_net = [(net, (ratios or {}).get(net)) for net in args.nets]
    if args.repeats > 1 and all(r for _, r in per_net):
        lines += [
            "",
            "Ratio of each repeat (sknet / PyTorch, the two processes run one after the other): "
            + "; ".join(f"{net} " + ", ".join(f"{r:.2f}" for r in found) for net, found in per_net)
            + ".",
        ]
    if not have_torch:
        lines += ["", "PyTorch is not installed here, so its columns are n/a (`pip install torch==2.13.0`)."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--train-size", type=int, default=50000, help="first N MNIST training images (the tutorial uses 50,000)"
    )
    parser.add_argument("--test-size", type=int, default=None, help="first N test images (all)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--nets", default=",".join(NETS), help="comma-separated subset of mlp,cnn,lenet")
    parser.add_argument("--mode", default=None, help="sknet's PyTensor mode (default: C backend)")
    parser.add_argument("--out", default=str(HERE / "results.md"))
    parser.add_argument(
        "--repeats", type=int, default=1, help="processes per (net, framework), alternating; medians are reported"
    )
    parser.add_argument("--native-blas", action="store_true", help="run without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE")
    parser.add_argument("--worker", nargs=2, metavar=("NET", "FRAMEWORK"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.net, args.framework = args.worker
        return worker(args)

    args.nets = [n.strip() for n in args.nets.split(",") if n.strip()]
    unknown = set(args.nets) - set(NETS)
    if unknown:
        parser.error(f"unknown nets {sorted(unknown)}; choose from {', '.join(NETS)}")
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False
    if not have_torch:
        print("PyTorch is not installed: running the sknet side only (pip install torch==2.13.0 for the comparison).")
    frameworks = ["sknet"] + (["torch"] if have_torch else [])
    base = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--epochs",
        str(args.epochs),
        "--train-size",
        str(args.train_size),
        "--batch-size",
        str(args.batch_size),
    ]
    if args.test_size is not None:
        base += ["--test-size", str(args.test_size)]
    if args.mode:
        base += ["--mode", args.mode]
    env = dict(os.environ)
    if args.native_blas:
        for name in BLAS_FORCING:
            env.pop(name, None)
    results = {net: {} for net in args.nets}
    ratios = {}  # per net: sknet / PyTorch epoch time of each repeat
    for net in args.nets:
        runs = {framework: [] for framework in frameworks}
        for repeat in range(args.repeats):
            # alternate which framework goes first, so that both see the same drift of the machine
            for framework in frameworks if repeat % 2 == 0 else frameworks[::-1]:
                print(f"{net} / {framework} ({repeat + 1} of {args.repeats}) ...", flush=True)
                proc = subprocess.run(base + ["--worker", net, framework], capture_output=True, text=True, env=env)
                if proc.returncode != 0:
                    print(proc.stdout + proc.stderr, file=sys.stderr)
                    raise SystemExit(f"{net} / {framework} failed (exit {proc.returncode})")
                result = json.loads(proc.stdout.strip().splitlines()[-1])
                runs[framework].append(result)
                print(
                    f"  epoch {result['epoch_time']:.2f} s, compile/first step "
                    f"{result['compile_time']:.2f} s, peak {result['peak_mb']:.0f} MB, "
                    f"test accuracy {100 * result['test_accuracy']:.2f} %",
                    flush=True,
                )
        results[net] = {framework: merge(found) for framework, found in runs.items()}
        if len(frameworks) == 2:
            ratios[net] = [a["epoch_time"] / b["epoch_time"] for a, b in zip(runs["sknet"], runs["torch"])]
    command = "python bench/run_all.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = table(results, args, have_torch, command.strip(), ratios)
    Path(args.out).write_text(text)
    print()
    print(text)
    print(f"written to {args.out}")
    return results


if __name__ == "__main__":
    main()
