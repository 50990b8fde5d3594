"""LSTM training step: sknet (PyTensor scan) against PyTorch CPU ``nn.LSTM``.

The network is the row-by-row MNIST classifier: an LSTM of 128 units over 28
steps of 28 features, its final hidden state into a dense softmax layer of 10,
cross-entropy loss, one adam step per batch of 128. Both libraries run in the
same process on the same random data; the script prints the median time per
step of each and their ratio. Run::

    python bench/bench_lstm.py [--repeats 30] [--mode CVM] [--no-peepholes]
        [--unroll] [--torch-threads N]

PyTorch's LSTM has no peepholes, so ``--no-peepholes`` gives the
like-for-like comparison (sknet's default LSTMLayer has them, as Lasagne's).
Timings on a shared machine are noisy: compare medians from one run; the
CPU time per step (all threads of the process) is also printed, which load
from other processes disturbs less than wall time. When
other processes compete for the cores, run with ``OPENBLAS_NUM_THREADS=1``:
a multi-threaded OpenBLAS spin-waits on the small per-step GEMMs of the scan
and was measured 20x slower here on an oversubscribed 2-core machine.
"""

import argparse
import os
import time

import numpy as np
import pytensor
import pytensor.tensor as T

import sknet
from sknet import layers, nonlinearities, objectives, updates

BATCH, STEPS, FEATURES, UNITS, CLASSES = 128, 28, 28, 128, 10


def make_data(seed=0):
    rng = np.random.RandomState(seed)
    X = rng.rand(BATCH, STEPS, FEATURES).astype("float32")
    y = rng.randint(0, CLASSES, BATCH).astype("int32")
    return X, y


def sknet_step(mode=None, peepholes=True, unroll_scan=False):
    """Compile sknet's train step; return (fn, compile seconds)."""
    x = T.tensor3("x", dtype="float32")
    t = T.ivector("t")
    l_in = layers.InputLayer((None, STEPS, FEATURES), input_var=x)
    l_lstm = layers.LSTMLayer(l_in, UNITS, peepholes=peepholes, only_return_final=True, unroll_scan=unroll_scan)
    l_out = layers.DenseLayer(l_lstm, CLASSES, nonlinearity=nonlinearities.softmax)
    loss = objectives.categorical_crossentropy(layers.get_output(l_out), t).mean()
    params = layers.get_all_params(l_out, trainable=True)
    start = time.perf_counter()
    fn = pytensor.function([x, t], loss, updates=updates.adam(loss, params), mode=sknet.backend.get_mode(mode))
    return fn, time.perf_counter() - start


def torch_step():
    """Build the same network and adam step in PyTorch; return a step closure."""
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(FEATURES, UNITS, batch_first=True)
            self.dense = torch.nn.Linear(UNITS, CLASSES)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.dense(out[:, -1])

    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(X, y):
        opt.zero_grad()
        loss = loss_fn(net(X), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def interleaved_median_ms(steps, repeats, warmup=3):
    """Median wall and CPU ms per call of each ``(fn, args)``, timed in alternation.

    Alternating call by call exposes both libraries to the same load from
    other processes, which matters on a shared machine.
    """
    for fn, args in steps:
        for _ in range(warmup):
            fn(*args)
    times = [[] for _ in steps]
    cpu_times = [[] for _ in steps]
    for _ in range(repeats):
        for (fn, args), ts, cts in zip(steps, times, cpu_times):
            start, cpu_start = time.perf_counter(), time.process_time()
            fn(*args)
            ts.append(time.perf_counter() - start)
            cts.append(time.process_time() - cpu_start)
    return ([1000 * float(np.median(ts)) for ts in times], [1000 * float(np.median(ts)) for ts in cpu_times])


def main(repeats=30, mode=None, peepholes=True, unroll_scan=False, torch_threads=None):
    import torch

    if torch_threads:
        torch.set_num_threads(torch_threads)
    X, y = make_data()
    fn, compile_s = sknet_step(mode, peepholes, unroll_scan)
    step = torch_step()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype("int64"))
    (sk_ms, th_ms), (sk_cpu, th_cpu) = interleaved_median_ms([(fn, (X, y)), (step, (Xt, yt))], repeats)
    label = mode or sknet.backend.DEFAULT_MODE
    print(
        f"LSTM {UNITS} units, {STEPS} steps, batch {BATCH}, {FEATURES} features; "
        f"peepholes={peepholes}, unroll_scan={unroll_scan}"
    )
    print(
        f"torch threads: {torch.get_num_threads()}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )
    print(f"sknet ({label}): compile {compile_s:.1f} s, {sk_ms:.1f} ms/step (CPU time {sk_cpu:.1f} ms)")
    print(f"torch CPU      : {th_ms:.1f} ms/step (CPU time {th_cpu:.1f} ms)")
    print(f"ratio sknet/torch: {sk_ms / th_ms:.2f} wall, {sk_cpu / th_cpu:.2f} CPU time")
    return {
        "sknet_ms": sk_ms,
        "torch_ms": th_ms,
        "ratio": sk_ms / th_ms,
        "sknet_cpu_ms": sk_cpu,
        "torch_cpu_ms": th_cpu,
        "compile_s": compile_s,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--mode", default=None)
    parser.add_argument("--no-peepholes", action="store_true")
    parser.add_argument("--unroll", action="store_true")
    parser.add_argument("--torch-threads", type=int, default=None)
    args = parser.parse_args()
    main(args.repeats, args.mode, not args.no_peepholes, args.unroll, args.torch_threads)
