"""One pool of threads for sknet's C ops and the OpenBLAS they call.

sknet's C ops (correlation, pooling) split their loops over OpenMP threads,
and the same OpenMP threads run OpenBLAS's parallel GEMMs: the ops install a
callback (``openblas_set_threads_callback_function``, OpenBLAS >= 0.3.27) into
the scipy-openblas32 library that only sknet's compiled ops link (numpy's
BLAS is another library, untouched). Why one pool: OpenBLAS's own worker
threads busy-wait for ~70 ms after each GEMM, and OpenMP's do too, so two
pools on the same cores starve each other (a CNN train step went from 24 to
48 ms). Inside an op's parallel loop each thread calls GEMM single-threaded.

The thread count is OpenBLAS's, one knob for everything. By default
(``SKNET_THREAD_POLICY=adaptive``) it follows the machine's load: from the
first compilation in one of sknet's modes, a daemon thread looks ten times a
second at how many tasks are running on the machine that are not this
process's (:func:`others_running`: ``/proc/loadavg`` less this process's
running threads) and gives sknet the cores they leave free, at least 1 and
at most OpenBLAS's own count (:func:`threads_for_load`, on the median of the
last five looks, so a passing compile does not move it). Why: with a thread
on every core, a busy neighbour holds back every parallel step, which waits
for its slowest thread, the one sharing a core; and the threads busy-wait
between steps, taking that core's time from the neighbour. A tutorial MLP
epoch took 4 to 10 times as long beside one busy process; on one thread
less, about as long as on one thread alone. The daemon changes the count
holding the GIL (``PyDLL``), which PyTensor's C code holds for a whole call,
so never under a running GEMM. :func:`sknet.backend.set_blas_threads` or
``SKNET_BLAS_THREADS`` fix the count instead (the daemon stops), and
``SKNET_THREAD_POLICY=fixed`` keeps OpenBLAS's count whatever else runs.
Where ``/proc/loadavg`` counts tasks this process never shares cores with (a
container pinned to some cores of a busy host), choose ``fixed``.

In a child made by ``fork()`` OpenMP's threads do not exist and using them
would hang, so a fork handler puts the child's sknet ops and BLAS on one
thread (and no daemon runs there).

Active when PyTensor compiles with g++ and links sknet's OpenBLAS (the
default, :func:`sknet.backend.configure_blas`); ``SKNET_OPENMP=0`` turns it
off. Otherwise the helpers below compile to serial code.

Examples
--------
>>> from sknet.ops import _threads
>>> isinstance(_threads.enabled(), bool)
True
>>> set(_threads.compile_args()) <= {'-fopenmp'}
True
>>> _threads.threads_for_load(others=1, cpus=2, most=2)
1
"""

import collections
import os
import threading
import time

from pytensor.configdefaults import config
from pytensor.tensor.blas import ldflags

from .. import config as _env
from . import _csource

__all__ = [
    "enabled",
    "compile_args",
    "cache_version",
    "ThreadedCOp",
    "C_SUPPORT",
    "threads_for_load",
    "others_running",
    "follow_load",
    "stop_following",
    "describe",
]


def enabled():
    """Whether sknet's C ops are compiled with OpenMP threads (see the module docstring).

    Examples
    --------
    >>> from sknet.ops._threads import enabled
    >>> enabled() in (True, False)
    True
    """
    if not _env.openmp_enabled():
        return False
    if "g++" not in os.path.basename(config.cxx or ""):
        return False
    return "-Dopenblas_set_threads_callback_function=" in (config.blas__ldflags or "")


def compile_args():
    """Extra compiler arguments of an op using :data:`C_SUPPORT`.

    Examples
    --------
    >>> from sknet.ops._threads import compile_args
    >>> compile_args() in ([], ['-fopenmp'])
    True
    """
    return ["-fopenmp"] if enabled() else []


def cache_version():
    """A tuple to put in an op's ``c_code_cache_version``: the code and whether OpenMP is on.

    Examples
    --------
    >>> from sknet.ops._threads import cache_version
    >>> len(cache_version())
    2
    """
    return (_csource.checksum("threads_support.c"), enabled())


class ThreadedCOp:
    """Mixin for a ``COp`` whose C code uses :data:`C_SUPPORT`: links sknet's BLAS and OpenMP.

    Put it before ``COp`` in the bases; the op's ``c_support_code`` must
    include :data:`C_SUPPORT` and its ``c_code_cache_version``
    :func:`cache_version`.

    Examples
    --------
    >>> from pytensor.link.c.op import COp
    >>> from sknet.ops._threads import ThreadedCOp
    >>> class MyOp(ThreadedCOp, COp):
    ...     __props__ = ()
    ...     def perform(self, node, inputs, outputs): pass
    >>> isinstance(MyOp().c_compile_args(), list)
    True
    """

    def c_compile_args(self, **kwargs):
        return ldflags(libs=False, flags=True) + compile_args()

    def c_libraries(self, **kwargs):
        return ldflags()

    def c_lib_dirs(self, **kwargs):
        return ldflags(libs=False, libs_dir=True)

    def c_header_dirs(self, **kwargs):
        return ldflags(libs=False, include_dir=True)


# C++: PyTensor compiles modules with g++. Without -fopenmp (or without
# sknet's OpenBLAS, whose symbols arrive as -D renames in the BLAS flags)
# everything in it is serial.
C_SUPPORT = _csource.read("threads_support.c")


def threads_for_load(others, cpus, most):
    """The thread count that leaves `others` running tasks a core each.

    Parameters
    ----------
    others : int
        Tasks running on the machine that are not this process's.
    cpus : int
        The machine's cores (``os.cpu_count()``): `others` may run on any.
    most : int
        The count on a quiet machine (OpenBLAS's own, at most the cores
        this process may use).

    Returns
    -------
    int
        ``cpus - others``, at least 1 and at most `most`.

    Examples
    --------
    >>> from sknet.ops._threads import threads_for_load
    >>> [threads_for_load(n, cpus=4, most=4) for n in range(6)]
    [4, 3, 2, 1, 1, 1]
    """
    return max(1, min(int(most), int(cpus) - int(others)))


def _read(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def _own_running():
    """This process's threads that are running or ready to run (state R)."""
    running = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            stat = _read(f"/proc/self/task/{tid}/stat")
        except OSError:  # the thread ended meanwhile
            continue
        state = stat.rindex(b")") + 2  # the name, in parentheses, may hold anything
        running += stat[state : state + 1] == b"R"
    return running


def others_running():
    """How many tasks run on the machine now that are not this process's, or None without ``/proc``.

    The kernel's count of running tasks (``/proc/loadavg``, fourth field),
    less this process's threads in state R. A snapshot: it moves with every
    short-lived process.

    Examples
    --------
    >>> from sknet.ops._threads import others_running
    >>> n = others_running()
    >>> n is None or n >= 0
    True
    """
    try:
        running = int(_read("/proc/loadavg").split()[3].split(b"/")[0])
        return max(0, running - _own_running())
    except (OSError, ValueError, IndexError):
        return None


class _Follower:
    """The daemon of the adaptive policy (module docstring); one per process."""

    interval = 0.1
    window = 5

    def __init__(self, get, set_, most):
        self.get, self.set, self.most = get, set_, most
        self.cpus = os.cpu_count() or 1
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="sknet-threads-follow-load", daemon=True)

    def run(self):
        looks = collections.deque(maxlen=self.window)
        cpu = time.process_time()
        while not self.stop.wait(self.interval):
            now = time.process_time()
            used, cpu = now - cpu, now
            if used < 0.2 * self.interval:  # this process idles: no need to look (nor to read /proc)
                continue
            others = others_running()
            if others is None:
                return
            looks.append(others)
            want = threads_for_load(sorted(looks)[len(looks) // 2], self.cpus, self.most)
            if want != self.get() and not self.stop.is_set():
                self.set(want)


_follower = None
_lock = threading.Lock()


def follow_load():
    """Start the adaptive policy's daemon (module docstring), once; return whether it runs.

    Nothing starts when ``SKNET_THREAD_POLICY`` is ``fixed``, when
    ``SKNET_BLAS_THREADS`` or :func:`sknet.backend.set_blas_threads` fixed
    the count, or when PyTensor does not link sknet's OpenBLAS. Called by
    sknet's modes when they compile.

    Examples
    --------
    >>> from sknet.ops._threads import follow_load
    >>> follow_load() in (True, False)
    True
    """
    global _follower
    from .. import backend

    with _lock:
        if _follower is not None:
            return _follower.thread.is_alive()
        if _env.thread_policy() != "adaptive" or _env.blas_threads() is not None or backend._threads_fixed:
            return False
        lib = backend._openblas_library()
        if lib is None or "openblas" not in (config.blas__ldflags or ""):
            return False
        most = int(lib.scipy_openblas_get_num_threads())
        _follower = _Follower(lib.scipy_openblas_get_num_threads, lib.scipy_openblas_set_num_threads, most)
        if most > 1:
            _follower.thread.start()
        return _follower.thread.is_alive()


def stop_following(restore=True):
    """Stop the adaptive policy's daemon; with `restore`, give OpenBLAS its quiet count back.

    :func:`sknet.backend.set_blas_threads` calls it (without `restore`).

    Examples
    --------
    >>> from sknet.ops._threads import stop_following
    >>> stop_following(restore=False)
    """
    global _follower
    with _lock:
        follower, _follower = _follower, None
    if follower is None or not follower.thread.is_alive():
        return
    follower.stop.set()
    follower.thread.join()
    if restore:
        follower.set(follower.most)


def describe():
    """The policy in force, in words, e.g. ``'adaptive: 1 of at most 2 threads'``.

    Examples
    --------
    >>> from sknet.ops._threads import describe
    >>> isinstance(describe(), str)
    True
    """
    from .. import backend

    lib = backend._openblas_library()
    if lib is None:
        return "numpy's BLAS, no threads of sknet's own"
    now = int(lib.scipy_openblas_get_num_threads())
    follower = _follower
    if follower is not None and follower.thread.is_alive():
        return f"adaptive: {now} of at most {follower.most} threads"
    return f"fixed: {now} threads"


def _forget_in_child():
    global _follower, _lock
    _follower, _lock = None, threading.Lock()  # neither the thread nor a holder of the lock is in the child


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
