"""The thread policy (sknet.ops._threads): by default the count of sknet's
OpenBLAS and C-op threads follows the other processes running; the user's
SKNET_BLAS_THREADS, set_blas_threads and SKNET_THREAD_POLICY=fixed win.

Each check runs in a fresh interpreter: the policy starts with the first
compilation of a process and is the process's own.
"""

import hashlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import pytest

from sknet.ops import _threads

pytestmark = pytest.mark.skipif(
    not _threads.enabled() or (os.cpu_count() or 1) < 2,
    reason="a thread count to choose needs sknet's OpenBLAS, g++ and two cores",
)

# A fresh process, its tiny graph compiled in sknet's default mode, then `body`.
PRELUDE = """
import json, os, threading, time
import pytensor, pytensor.tensor as T
import sknet
from sknet import backend
from sknet.ops import _threads

lib = backend._openblas_library()
count = lambda: int(lib.scipy_openblas_get_num_threads())
daemon = lambda: any(t.name == "sknet-threads-follow-load" and t.is_alive() for t in threading.enumerate())

def settle(want):  # busy: the daemon does not look while the process idles
    deadline = time.monotonic() + 20
    while count() != want and time.monotonic() < deadline:
        pass
    return count()
"""

COMPILE = "x = T.vector('x'); pytensor.function([x], 2 * x)(__import__('numpy').ones(3, 'float32'))\n"


def run_fresh(body, **env):
    """Run PRELUDE + body in a new interpreter with the thread variables unset but `env`; its last JSON line."""
    full_env = {k: v for k, v in os.environ.items() if k not in _THREAD_VARIABLES}
    full_env.update(env)
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + body], env=full_env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# The user's settings, and the variables by which OpenBLAS takes its own count.
_THREAD_VARIABLES = {
    "SKNET_BLAS_THREADS",
    "SKNET_THREAD_POLICY",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "GOTO_NUM_THREADS",
}


def test_by_default_the_count_follows_the_load():
    """The daemon runs after the first compilation; fed a load (others_running
    replaced by a stub), it gives sknet the cores the others leave free, and
    all of them back when they are gone."""
    result = run_fresh(
        "others = [0]\n"
        "_threads.others_running = lambda: others[0]\n"
        "before = daemon()\n" + COMPILE + "most, cpus = count(), os.cpu_count()\n"
        "others[0] = cpus - 1\n"
        "busy = settle(1)\n"
        "others[0] = 0\n"
        "quiet = settle(most)\n"
        "print(json.dumps(dict(before=before, after=daemon(), most=most, busy=busy, quiet=quiet,"
        " policy=_threads.describe())))"
    )
    assert result["before"] is False and result["after"] is True
    assert result["most"] == os.cpu_count()
    assert result["busy"] == 1
    assert result["quiet"] == result["most"]
    assert result["policy"] == f"adaptive: {result['most']} of at most {result['most']} threads"


def test_set_blas_threads_fixes_the_count_whatever_the_load():
    result = run_fresh(
        "others = [0]\n"
        "_threads.others_running = lambda: others[0]\n" + COMPILE + "assert daemon()\n"
        "most = count()\n"
        "chosen = backend.set_blas_threads(most)\n"
        "others[0] = os.cpu_count()\n"
        "time.sleep(1.0)\n"
        "print(json.dumps(dict(chosen=chosen, now=count(), daemon=daemon(), policy=_threads.describe())))"
    )
    assert result["daemon"] is False
    assert result["now"] == result["chosen"] == os.cpu_count()
    assert result["policy"] == f"fixed: {os.cpu_count()} threads"


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"SKNET_BLAS_THREADS": "1"}, "fixed: 1 threads"),
        ({"SKNET_THREAD_POLICY": "fixed"}, f"fixed: {os.cpu_count()} threads"),
    ],
)
def test_the_users_variables_win(env, expected):
    result = run_fresh(
        COMPILE + "print(json.dumps(dict(daemon=daemon(), policy=_threads.describe())))",
        **env,
    )
    assert result == {"daemon": False, "policy": expected}


def test_threads_for_load_leaves_a_core_to_each_other_task():
    assert [_threads.threads_for_load(n, cpus=8, most=6) for n in range(10)] == [6, 6, 6, 5, 4, 3, 2, 1, 1, 1]
    assert _threads.threads_for_load(0, cpus=2, most=1) == 1


def test_own_running_threads_are_counted():
    """While a second thread of this process hashes (without the GIL), two of
    its threads are running: others_running leaves both out."""
    data = b"x" * 50_000_000
    counts, done = [], threading.Event()

    def sample():
        while not done.is_set():
            counts.append(_threads._own_running())

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        for _ in range(5):
            hashlib.sha256(data).digest()  # releases the GIL: the sampler runs beside it
    finally:
        done.set()
        sampler.join()
    assert max(counts) >= 2


def test_others_running_counts_a_busy_process():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        with_busy = []
        for _ in range(20):
            with_busy.append(_threads.others_running())
            time.sleep(0.02)
    finally:
        busy.kill()
        busy.wait()
    assert statistics.median(with_busy) >= 1
    assert min(with_busy) >= 0
