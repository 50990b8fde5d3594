"""Benchmark: a small volumetric CNN's training step, sknet's 3-D layers vs PyTorch CPU.

The net (bc012 layout, batch of 8 single-channel 24^3 volumes, 10 classes):

    Conv3D(16, 3, pad 1) -> ReLU -> MaxPool3D(2) -> Conv3D(32, 3, pad 1) -> ReLU
    -> MaxPool3D(2) -> Dense(10) -> softmax, cross-entropy, adam

sknet's Conv3DLayer / MaxPool3DLayer are built from its 2-D correlation and
pooling ops (:mod:`sknet.layers.conv3d`, :mod:`sknet.layers.pool3d`); PyTorch
runs ``nn.Conv3d`` / ``nn.MaxPool3d``. Both run in this one process with the
same number of threads (``--threads``, default 1), interleaved:
each round times ``--repeats`` steps of each, and the script prints the
medians per round, the median over rounds and the sknet/PyTorch ratio of
each round's medians (the median of those ratios is the figure to quote on a
shared machine). Also timed: the forward pass of each convolution layer
alone, and a TransposedConv3DLayer (16 -> 8 channels, stride 2) forward and
backward against ``nn.ConvTranspose3d``.

    python bench/bench_conv3d.py [--repeats 20] [--rounds 5] [--batch-size 8] [--size 24] [--threads 1]
"""

import argparse
import statistics
import time

import numpy as np
from bench_cnn import _median_ms  # run as a script from bench/


def _data(batch, size):
    rng = np.random.default_rng(0)
    X = rng.random((batch, 1, size, size, size), dtype=np.float32)
    y = rng.integers(0, 10, batch).astype(np.int32)
    return X, y


def build_sknet(batch, size):
    """Compiled train step, per-layer forward functions and the transposed conv, for sknet."""
    import pytensor
    import pytensor.tensor as T

    import sknet
    from sknet import layers as L

    x, t = T.tensor5("x"), T.ivector("t")
    l_in = L.InputLayer((None, 1, size, size, size), input_var=x)
    c1 = L.Conv3DLayer(l_in, 16, 3, pad=1)
    p1 = L.MaxPool3DLayer(c1, 2)
    c2 = L.Conv3DLayer(p1, 32, 3, pad=1)
    p2 = L.MaxPool3DLayer(c2, 2)
    out = L.DenseLayer(p2, 10, nonlinearity=sknet.nonlinearities.softmax)
    loss = sknet.objectives.categorical_crossentropy(L.get_output(out), t).mean()
    params = L.get_all_params(out, trainable=True)
    mode = sknet.backend.get_mode()
    t0 = time.perf_counter()
    step = pytensor.function([x, t], loss, updates=sknet.updates.adam(loss, params, 1e-3), mode=mode)
    compile_s = time.perf_counter() - t0
    x2 = T.tensor5("x2")
    fwd = pytensor.function([x, x2], [c1.get_output_for(x), c2.get_output_for(x2)], mode=mode)

    y_in = L.InputLayer((None, 16, size // 2, size // 2, size // 2))
    de = L.TransposedConv3DLayer(y_in, 8, 3, stride=2, crop=1, output_size=size - 1, nonlinearity=None)
    de_out = L.get_output(de)
    de_grads = pytensor.grad(de_out.sum(), [y_in.input_var, de.W])
    deconv = pytensor.function([y_in.input_var], [de_out, *de_grads], mode=mode)
    return step, fwd, deconv, compile_s


def build_torch(batch, size, threads):
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    c1, c2 = nn.Conv3d(1, 16, 3, padding=1), nn.Conv3d(16, 32, 3, padding=1)
    flat = 32 * (size // 4) ** 3
    net = nn.Sequential(
        c1, nn.ReLU(), nn.MaxPool3d(2), c2, nn.ReLU(), nn.MaxPool3d(2), nn.Flatten(), nn.Linear(flat, 10)
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    de = nn.ConvTranspose3d(16, 8, 3, stride=2, padding=1)

    def step(X, y):
        opt.zero_grad()
        loss = F.cross_entropy(net(X), y)
        loss.backward()
        opt.step()

    def fwd(X, X2):
        with torch.no_grad():
            return c1(X), c2(X2)

    def deconv(Y):
        Y = Y.detach().requires_grad_(True)
        out = de(Y)
        out.sum().backward()
        return out

    return step, fwd, deconv, torch


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--size", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads for both frameworks")
    args = parser.parse_args(argv)
    threads = args.threads
    import sknet.backend

    sknet.backend.set_blas_threads(threads)
    B, S = args.batch_size, args.size
    X, y = _data(B, S)
    X2 = np.random.default_rng(1).random((B, 16, S // 2, S // 2, S // 2), dtype=np.float32)
    Y = np.random.default_rng(2).random((B, 16, S // 2, S // 2, S // 2), dtype=np.float32)

    sk_step, sk_fwd, sk_de, compile_s = build_sknet(B, S)
    th_step, th_fwd, th_de, torch = build_torch(B, S, threads)
    Xt, yt, X2t, Yt = (torch.from_numpy(X), torch.from_numpy(y).long(), torch.from_numpy(X2), torch.from_numpy(Y))
    # the two agree on the transposed convolution's output shape
    assert sk_de(Y)[0].shape == tuple(th_de(Yt).shape), (sk_de(Y)[0].shape, th_de(Yt).shape)

    tasks = {
        "train step": (lambda: sk_step(X, y), lambda: th_step(Xt, yt)),
        "conv1+conv2 forward": (lambda: sk_fwd(X, X2), lambda: th_fwd(Xt, X2t)),
        "transposed conv fwd+bwd": (lambda: sk_de(Y), lambda: th_de(Yt)),
    }
    print(f"batch {B} x 1 x {S}^3, {threads} thread(s); sknet compile {compile_s:.1f} s")
    results = {name: ([], []) for name in tasks}
    for r in range(args.rounds):
        for name, (sk, th) in tasks.items():
            results[name][0].append(_median_ms(sk, args.repeats))
            results[name][1].append(_median_ms(th, args.repeats))
        print(f"round {r + 1}: " + "; ".join(f"{n} {s[-1]:.1f} / {t[-1]:.1f} ms" for n, (s, t) in results.items()))
    print(
        f"{'':26s}{'sknet ms':>10s}{'torch ms':>10s}{'ratio':>8s}  (medians over rounds; "
        "ratio = median of per-round sknet/torch)"
    )
    for name, (s, t) in results.items():
        ratio = statistics.median(a / b for a, b in zip(s, t))
        print(f"{name:26s}{statistics.median(s):10.1f}{statistics.median(t):10.1f}{ratio:8.2f}")


if __name__ == "__main__":
    main()
