"""The C ops' threads (sknet.ops._threads): the same numbers on 1 and 2
threads, OpenBLAS's GEMMs run through the OpenMP callback, and a forked child
still computes (OpenMP's threads do not exist there)."""

import os
import pickle
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest

import sknet.ops.corr as corr_module
from sknet import backend
from sknet.ops import _threads, corr2d, pool_2d

pytestmark = pytest.mark.skipif(
    not _threads.enabled() or os.environ.get("SKNET_TEST_MODE", "CVM").upper() != "CVM",
    reason="the threads are the C backend's (g++ and sknet's OpenBLAS)",
)


@pytest.fixture
def blas_threads():
    """Set the thread count for one test, then put back the machine's default."""
    default = os.cpu_count() or 1
    yield backend.set_blas_threads
    backend.set_blas_threads(default)


def build_conv_pool_fn(mode):
    """Correlation, its two gradients and pooling, in chunks of one image.

    A scratch budget of 200 elements makes each image its own chunk, so a
    batch of 5 is 5 GEMMs shared among the threads.
    """
    saved = corr_module._BUFFER_ELEMENTS
    corr_module._BUFFER_ELEMENTS = 200
    try:
        x, w, g = T.tensor4("x"), T.tensor4("w"), T.tensor4("g")
        y = corr2d(x, w, (1, 2), (1, 0))
        p = pool_2d(y, (2, 2), ignore_border=True)
        gx, gw = pytensor.grad((y * g).sum() + p.sum(), [x, w])
        return pytensor.function([x, w, g], [y, p, gx, gw], mode=mode)
    finally:
        corr_module._BUFFER_ELEMENTS = saved


@pytest.fixture(scope="module")
def conv_pool_fn(mode):
    return build_conv_pool_fn(mode)


def _conv_values():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 3, 7, 8)).astype("float32")
    w = rng.normal(size=(4, 3, 3, 2)).astype("float32")
    g = rng.normal(size=(5, 4, 7, 4)).astype("float32")
    return x, w, g


def test_one_and_two_threads_agree_with_the_reference(conv_pool_fn, blas_threads, corr_ref):
    x, w, g = _conv_values()
    results = {}
    for n in (1, 2):
        assert blas_threads(n) == n
        results[n] = conv_pool_fn(x, w, g)
    np.testing.assert_allclose(results[1][0], corr_ref(x, w, (1, 2), (1, 0)), rtol=1e-4, atol=1e-4)
    for one, two in zip(results[1], results[2]):
        # per-thread partial weight gradients are summed in another order
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-5)


def test_blas_gemm_runs_through_the_callback(conv_pool_fn, blas_threads, mode):
    """After a threaded op installed the callback, a GEMM big enough for
    OpenBLAS to split runs its jobs on OpenMP's threads, and is right."""
    blas_threads(2)
    conv_pool_fn(*_conv_values())
    a, b = T.matrix("a"), T.matrix("b")
    f = pytensor.function([a, b], T.dot(a, b), mode=mode)
    rng = np.random.default_rng(1)
    A = rng.normal(size=(384, 256)).astype("float32")
    B = rng.normal(size=(256, 320)).astype("float32")
    np.testing.assert_allclose(f(A, B), A.astype(np.float64) @ B, rtol=1e-4, atol=1e-3)


def check_forked_child():
    """After the threaded ops ran on 2 threads, a forked child computes the same numbers.

    Raises AssertionError when the child hangs (120 s) or differs.
    """
    backend.set_blas_threads(2)
    conv_pool_fn = build_conv_pool_fn(backend.get_mode("CVM"))
    x, w, g = _conv_values()
    expected = conv_pool_fn(x, w, g)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: compute, send the result, leave without any teardown
        try:
            os.close(read_end)
            with os.fdopen(write_end, "wb") as out:
                pickle.dump([np.asarray(r) for r in conv_pool_fn(x, w, g)], out)
        finally:
            os._exit(0)
    os.close(write_end)
    deadline = time.monotonic() + 120
    chunks = []
    with os.fdopen(read_end, "rb") as inp:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([inp], [], [], 1.0)
            if ready:
                data = inp.read1(1 << 20)
                if not data:
                    break
                chunks.append(data)
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise AssertionError("the forked child hung in the threaded ops")
    os.waitpid(pid, 0)
    for got, want in zip(pickle.loads(b"".join(chunks)), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_forked_child_computes_without_hanging():
    # The fork happens in a fresh interpreter: this one may have started JAX's
    # threads (any test compiled with mode='JAX'), and JAX warns, rightly, that
    # os.fork() after that can deadlock. The child there has sknet's own
    # threads to cope with, which is what this test is about.
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        "import test_threads; test_threads.check_forked_child(); "
        "assert 'jax' not in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fork" not in done.stderr, done.stderr
