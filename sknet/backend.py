"""PyTensor set-up in one place: float dtype, compile mode and BLAS linking."""

import functools
import os
import warnings

import pytensor

__all__ = ["FLOATX", "DEFAULT_MODE", "get_mode", "configure_blas", "configure_floatx", "set_blas_threads"]

#: The dtype of every parameter and activation sknet builds, whatever the
#: caller's ``pytensor.config.floatX``.
FLOATX = "float32"

#: sknet's default compile mode: PyTensor's C backend. PyTensor 3's own default
#: (NUMBA) JIT-compiles for tens of seconds to minutes on a cold cache.
DEFAULT_MODE = "CVM"

# Fortran BLAS symbols PyTensor's C code calls, and OpenBLAS's thread controls
# (used by sknet.ops._threads); the scipy-openblas32 wheel exports them with a
# ``scipy_`` prefix, so each is renamed with a define.
_BLAS_SYMBOLS = [
    prefix + name + "_"
    for prefix in "sd"
    for name in ("gemm", "gemv", "ger", "dot", "axpy", "copy", "scal")
] + ["openblas_set_num_threads", "openblas_get_num_threads", "openblas_set_threads_callback_function"]


def get_mode(mode=None):
    """Return the PyTensor compile mode sknet uses for ``mode``.

    Parameters
    ----------
    mode : None, str or pytensor.compile.mode.Mode
        None gives sknet's default, the C backend (``'CVM'``). A string names
        one of PyTensor's predefined modes (``'CVM'``, ``'NUMBA'``, ``'JAX'``,
        ...). A ``Mode`` instance is returned unchanged.

        sknet's ``'CVM'`` differs from PyTensor's in two settings. Compiled
        functions keep their intermediate arrays between calls
        (``allow_gc=False``), so ops write into the buffers of the previous
        call instead of asking the system for fresh pages every call (a
        train step of the tutorial CNN page-faulted 16 MB per call with
        ``allow_gc=True``); the price is that memory, held while the
        function lives. And its linker builds the C modules a new function
        needs in parallel (:mod:`sknet.parallel_build`). The C-only graph
        rewrites of :mod:`sknet.ops` apply to every C mode.
        ``get_mode(pytensor.compile.mode.get_mode('CVM'))`` gives PyTensor's
        own.

    Returns
    -------
    pytensor.compile.mode.Mode

    Examples
    --------
    >>> from sknet.backend import get_mode
    >>> get_mode().linker.__class__.__name__, get_mode().linker.allow_gc
    ('ParallelVMLinker', False)
    """
    from pytensor.compile.mode import Mode
    from pytensor.compile.mode import get_mode as _pytensor_get_mode

    if mode is None:
        mode = DEFAULT_MODE
    if isinstance(mode, Mode):
        return mode
    if not isinstance(mode, str):
        raise TypeError(f"mode must be None, a string or a Mode, got {mode!r}")
    if mode.upper() == "CVM":
        return _c_mode()
    return _pytensor_get_mode(mode.upper())


@functools.cache
def _c_mode():
    from pytensor.compile.mode import Mode

    from .parallel_build import ParallelVMLinker

    return Mode(linker=ParallelVMLinker(use_cloop=True, allow_gc=False), optimizer="fast_run")


def _user_chose(key):
    """Whether the user set PyTensor option ``key`` (flags or .pytensorrc)."""
    config = pytensor.config
    param = type(config).__dict__.get(key)
    if param is not None and hasattr(param, "val"):
        # already read: PyTensor pops the key it read from the flags
        return not param.is_default
    try:
        config.fetch_val_for_key(key)
    except KeyError:
        return False
    return True


def _openblas_ldflags():
    try:
        import scipy_openblas32
    except ImportError:
        return ""
    lib_dir = scipy_openblas32.get_lib_dir()
    if not os.path.isdir(lib_dir):
        return ""
    parts = [
        f"-L{lib_dir}",
        f"-l{scipy_openblas32.get_library()}",
        f"-Xlinker -rpath -Xlinker {lib_dir}",
    ]
    parts += [f"-D{sym}=scipy_{sym}" for sym in _BLAS_SYMBOLS]
    return " ".join(parts)


def _openblas_library():
    """The scipy-openblas32 shared library (the one compiled ops link), or None."""
    import ctypes
    import glob

    try:
        import scipy_openblas32
    except ImportError:
        return None
    pattern = os.path.join(scipy_openblas32.get_lib_dir(), f"lib{scipy_openblas32.get_library()}.*")
    candidates = sorted(glob.glob(pattern))
    return ctypes.CDLL(candidates[0]) if candidates else None


def set_blas_threads(n):
    """Set how many threads sknet's compiled ops use.

    That is the thread count of the OpenBLAS behind them, and also of the
    ops' own loops (correlation, pooling), which share one OpenMP pool with
    that OpenBLAS (:mod:`sknet.ops._threads`). Only the ``scipy-openblas32``
    library linked by :func:`configure_blas` is affected, not numpy's own
    BLAS. Returns the number now in force, or None when that library is not
    in use.

    Parameters
    ----------
    n : int
        At least 1.

    Examples
    --------
    >>> from sknet.backend import set_blas_threads
    >>> set_blas_threads(1) in (1, None)
    True
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"the number of BLAS threads must be at least 1, got {n}")
    lib = _openblas_library()
    if lib is None:
        return None
    lib.scipy_openblas_set_num_threads(n)
    return int(lib.scipy_openblas_get_num_threads())


def configure_blas():
    """Link PyTensor's C backend to the ``scipy-openblas32`` wheel.

    Does nothing when the user chose BLAS flags (``PYTENSOR_FLAGS`` or
    ``.pytensorrc``), when PyTensor already computed them, or when the
    environment variable ``SKNET_BLAS`` is ``0``. Without the wheel the flags
    stay empty and PyTensor falls back to numpy's dot, silently.
    ``SKNET_BLAS_THREADS=n`` sets the linked OpenBLAS's thread count (see
    :func:`set_blas_threads`).

    Returns
    -------
    str
        The BLAS flags now in force.

    Examples
    --------
    >>> from sknet.backend import configure_blas
    >>> isinstance(configure_blas(), str)
    True
    """
    config = pytensor.config
    param = type(config).__dict__.get("blas__ldflags")
    if _user_chose("blas__ldflags") or hasattr(param, "val"):
        return config.blas__ldflags
    flags = "" if os.environ.get("SKNET_BLAS", "1") == "0" else _openblas_ldflags()
    if flags and os.environ.get("SKNET_BLAS_THREADS"):
        set_blas_threads(os.environ["SKNET_BLAS_THREADS"])
    # An empty value is a deliberate choice here: it skips PyTensor's probe
    # and its warning, and dot products fall back to numpy's BLAS.
    config.blas__ldflags = flags
    return flags


def configure_floatx():
    """Make ``float32`` PyTensor's float dtype unless the user chose one.

    Python float constants in a graph take PyTensor's ``floatX``; with its
    default (float64) ``lr * grad`` would silently upcast float32 parameters.
    sknet's estimators also build their graphs under
    ``pytensor.config.change_flags(floatX=FLOATX)``, so they stay float32 even
    when the user asked for float64 explicitly.

    Returns
    -------
    str
        ``pytensor.config.floatX`` after the call.

    Examples
    --------
    >>> from sknet.backend import configure_floatx
    >>> configure_floatx() in ('float32', 'float64', 'float16')
    True
    """
    config = pytensor.config
    if not _user_chose("floatX"):
        config.floatX = FLOATX
    return config.floatX


configure_floatx()
configure_blas()
