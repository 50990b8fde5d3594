"""One pool of threads for sknet's C ops and the OpenBLAS they call.

sknet's C ops (correlation, pooling) split their loops over OpenMP threads,
and the same OpenMP threads run OpenBLAS's parallel GEMMs: the ops install a
callback (``openblas_set_threads_callback_function``, OpenBLAS >= 0.3.27) into
the scipy-openblas32 library that only sknet's compiled ops link (numpy's
BLAS is another library, untouched). Why one pool: OpenBLAS's own worker
threads busy-wait for ~70 ms after each GEMM, and OpenMP's do too, so two
pools on the same cores starve each other (a CNN train step went from 24 to
48 ms). Inside an op's parallel loop each thread calls GEMM single-threaded.

The thread count is OpenBLAS's (:func:`sknet.backend.set_blas_threads`,
``SKNET_BLAS_THREADS``), one knob for everything. In a child made by
``fork()`` OpenMP's threads do not exist and using them would hang, so a
fork handler puts the child's sknet ops and BLAS on one thread.

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
"""

import os

from pytensor.configdefaults import config
from pytensor.tensor.blas import ldflags

from .. import config as _env
from . import _csource

__all__ = ["enabled", "compile_args", "cache_version", "ThreadedCOp", "C_SUPPORT"]


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
