"""Benchmark: the tutorial CNN exported to ONNX and to a numpy predictor, against sknet.

Trains the Lasagne tutorial's CNN (``examples/mnist_cnn.py``) briefly on
MNIST, exports it with :func:`sknet.export.to_onnx` and
:func:`sknet.export.to_numpy_predictor`, and prints

- test accuracy of sknet, onnxruntime and the numpy predictor on the 10,000
  test images, the number of images whose label differs from sknet's, and
  the max abs difference of the probabilities;
- prediction time on the 10,000 test images (median over repeats) of sknet's
  ``predict`` (compiled function warm), onnxruntime's ``run`` and the numpy
  predictor's ``predict``, with ratios to sknet.

Every library runs single-threaded unless ``SKNET_BLAS_THREADS`` says more
(onnxruntime's intra-op threads and numpy's BLAS follow it too).

    SKNET_DATA=/path/to/data python bench/bench_export.py [--epochs 1] [--train-size 60000] [--repeats 5]
"""

import argparse
import json
import os
import statistics
import sys
import time

THREADS = os.environ.setdefault("SKNET_BLAS_THREADS", "1")
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, THREADS)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))


def _median_s(fn, repeats):
    fn()  # warm: compiled function built, caches filled
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(epochs=1, train_size=60000, repeats=5):
    """Train, export, compare; return a dict of the figures."""
    import onnxruntime as ort
    from mnist_cnn import build_net

    from sknet.datasets import load_mnist
    from sknet.export import to_numpy_predictor, to_onnx

    data = load_mnist()
    X_train, y_train = data.X_train[:train_size], data.y_train[:train_size]
    X_test, y_test = data.X_test, data.y_test

    net = build_net(num_epochs=epochs, verbose=0, eval_size=None)
    t0 = time.perf_counter()
    net.fit(X_train, y_train)
    fit_s = time.perf_counter() - t0

    model = to_onnx(net, X_sample=X_test[:500])
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(THREADS)
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    predictor = to_numpy_predictor(net)

    ref_labels, ref_proba = net.predict(X_test), net.predict_proba(X_test)
    onnx_labels, onnx_proba = session.run(None, {"X": X_test})
    np_labels, np_proba = predictor.predict(X_test), predictor.predict_proba(X_test)

    times = {
        "sknet": _median_s(lambda: net.predict(X_test), repeats),
        "onnxruntime": _median_s(lambda: session.run(None, {"X": X_test}), repeats),
        "numpy": _median_s(lambda: predictor.predict(X_test), repeats),
    }
    result = {
        "epochs": epochs,
        "train_size": len(X_train),
        "fit_s": round(fit_s, 1),
        "threads": int(THREADS),
        "accuracy": {
            "sknet": float(np.mean(ref_labels == y_test)),
            "onnxruntime": float(np.mean(onnx_labels == y_test)),
            "numpy": float(np.mean(np_labels == y_test)),
        },
        "labels_differing": {
            "onnxruntime": int(np.sum(onnx_labels != ref_labels)),
            "numpy": int(np.sum(np_labels != ref_labels)),
        },
        "max_abs_diff_proba": {
            "onnxruntime": float(np.abs(onnx_proba - ref_proba).max()),
            "numpy": float(np.abs(np_proba - ref_proba).max()),
        },
        "predict_10k_s": {k: round(v, 3) for k, v in times.items()},
        "time_ratio_vs_sknet": {k: round(v / times["sknet"], 2) for k, v in times.items()},
    }
    print(f"tutorial CNN, {epochs} epoch(s) on {len(X_train)} MNIST images ({fit_s:.0f} s), {THREADS} thread(s)")
    print(f"{'':12s} {'accuracy':>9s} {'labels != sknet':>16s} {'max|dp|':>9s} {'predict 10k':>12s} {'vs sknet':>9s}")
    for k in ("sknet", "onnxruntime", "numpy"):
        acc = result["accuracy"][k]
        diff = result["labels_differing"].get(k, 0)
        dp = result["max_abs_diff_proba"].get(k, 0.0)
        print(f"{k:12s} {100 * acc:8.2f}% {diff:16d} {dp:9.2e} {times[k]:11.3f}s {times[k] / times['sknet']:8.2f}x")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-size", type=int, default=60000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    main(args.epochs, args.train_size, args.repeats)
