"""PyTensor set-up in one place: float dtype, compile modes and BLAS linking.

Importing sknet changes three of PyTensor's settings, each only when the user
did not choose it (in ``PYTENSOR_FLAGS`` or ``.pytensorrc``): ``floatX``
becomes ``float32`` (:func:`configure_floatx`), ``blas__ldflags`` links the
scipy-openblas32 wheel (:func:`configure_blas`), and ``mode``, the mode of a
``pytensor.function`` called without ``mode=``, becomes sknet's C mode
(:func:`configure_mode`). Nothing else: sknet's graph rewrites carry tags of
their own that only the modes :func:`get_mode` builds include
(:mod:`sknet.ops.registry`), and its parallel C build is a linker of its own
(:mod:`sknet.parallel_build`).
"""

import functools
import os
import warnings

import pytensor
from pytensor.compile.mode import Mode

from . import config as _env

__all__ = [
    "FLOATX",
    "DEFAULT_MODE",
    "SknetMode",
    "get_mode",
    "configure_blas",
    "configure_floatx",
    "configure_mode",
    "set_blas_threads",
]

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
    prefix + name + "_" for prefix in "sd" for name in ("gemm", "gemv", "ger", "dot", "axpy", "copy", "scal")
] + ["openblas_set_num_threads", "openblas_get_num_threads", "openblas_set_threads_callback_function"]


class SknetMode(Mode):
    """A PyTensor ``Mode`` that registers sknet's rewrites before its first compile.

    The modes :func:`get_mode` builds are of this class; their queries include
    sknet's rewrite tags (:mod:`sknet.ops.registry`), which are registered
    when such a mode first hands its rewrites to a compilation, never at
    import.

    Examples
    --------
    >>> from sknet.backend import SknetMode, get_mode
    >>> isinstance(get_mode(), SknetMode), isinstance(get_mode("NUMBA"), SknetMode)
    (True, True)
    """

    @property
    def optimizer(self):
        from .ops import _threads
        from .ops.registry import register

        register(self.linker)
        _threads.follow_load()
        return super().optimizer

    @property
    def function_maker(self):
        maker = super().function_maker
        if type(self.linker).__name__ != "JAXLinker":
            return maker
        return _jax_function_maker(maker)


@functools.cache
def _jax_function_maker(maker):
    class JAXFunctionMaker(maker):
        """PyTensor's ``FunctionMaker``, linking without the JAX linker's note on random generators.

        The JAX linker compiles a copy of each shared random generator and
        says so, at every compilation of a network with dropout. sknet
        compiles such a function once per network, seeding the generator
        from ``random_state`` first, so the copy is the stream the network
        draws from, reproducibly; the note says nothing to act on.
        """

        def create(self, *args, **kwargs):
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="The RandomType SharedVariables", category=UserWarning)
                return super().create(*args, **kwargs)

    return JAXFunctionMaker


def get_mode(mode=None):
    """Return the PyTensor compile mode sknet uses for ``mode``.

    Parameters
    ----------
    mode : None, str or pytensor.compile.mode.Mode
        None gives sknet's default, its C mode (``'CVM'``). ``'CVM'``,
        ``'NUMBA'`` and ``'JAX'`` give sknet's versions of those PyTensor
        modes: PyTensor's rewrites plus sknet's for that backend
        (:mod:`sknet.ops.registry`). Other strings name PyTensor's own
        predefined modes. A ``Mode`` instance is returned unchanged, so
        ``get_mode(pytensor.compile.mode.get_mode('CVM'))`` is PyTensor's
        own C mode, without sknet's rewrites.

        sknet's ``'CVM'`` differs from PyTensor's in three ways. Compiled
        functions keep their intermediate arrays between calls
        (``allow_gc=False``), so ops write into the buffers of the previous
        call instead of asking the system for fresh pages every call (a
        train step of the tutorial CNN page-faulted 16 MB per call with
        ``allow_gc=True``); the price is that memory, held while the
        function lives. Its linker builds the C modules a new function needs
        in parallel (:mod:`sknet.parallel_build`). And it applies sknet's
        C-only rewrites (fused and vectorised ops of :mod:`sknet.ops`).

    Returns
    -------
    pytensor.compile.mode.Mode

    Examples
    --------
    >>> from sknet.backend import get_mode
    >>> get_mode().linker.__class__.__name__, get_mode().linker.allow_gc
    ('ParallelVMLinker', False)
    >>> sorted(get_mode("NUMBA").provided_optimizer.include)
    ['fast_run', 'numba', 'sknet', 'sknet_jit']
    """
    if mode is None:
        mode = DEFAULT_MODE
    if isinstance(mode, Mode):
        return mode
    if not isinstance(mode, str):
        raise TypeError(f"mode must be None, a string or a Mode, got {mode!r}")
    return _sknet_mode(mode.upper())


@functools.cache
def _sknet_mode(name):
    from pytensor.compile.mode import get_mode as _pytensor_get_mode
    from pytensor.compile.mode import predefined_optimizers

    from .ops.registry import C_TAG, JAX_TAG, JIT_TAG, TAG

    if name == "CVM":
        from .parallel_build import ParallelVMLinker

        query = predefined_optimizers["fast_run"].including(TAG, C_TAG)
        return SknetMode(linker=ParallelVMLinker(use_cloop=True, allow_gc=False), optimizer=query)
    base = _pytensor_get_mode(name)
    if name in ("NUMBA", "JAX"):
        tags = (TAG, JIT_TAG) if name == "NUMBA" else (TAG, JIT_TAG, JAX_TAG)
        return SknetMode(linker=base.linker, optimizer=base.provided_optimizer.including(*tags))
    return base


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


@functools.cache
def _openblas_library():
    """The scipy-openblas32 shared library (the one compiled ops link), or None.

    Its functions are called holding the GIL (``PyDLL``): PyTensor's C code
    holds it for a whole call, so a thread count set from another thread
    never changes under a running GEMM.
    """
    import ctypes
    import glob

    try:
        import scipy_openblas32
    except ImportError:
        return None
    pattern = os.path.join(scipy_openblas32.get_lib_dir(), f"lib{scipy_openblas32.get_library()}.*")
    candidates = sorted(glob.glob(pattern))
    return ctypes.PyDLL(candidates[0]) if candidates else None


#: True once the user chose the thread count (set_blas_threads, SKNET_BLAS_THREADS)
_threads_fixed = False


def set_blas_threads(n):
    """Set how many threads sknet's compiled ops use, from now on whatever the load.

    That is the thread count of the OpenBLAS behind them, and also of the
    ops' own loops (correlation, pooling), which share one OpenMP pool with
    that OpenBLAS (:mod:`sknet.ops._threads`). Only the ``scipy-openblas32``
    library linked by :func:`configure_blas` is affected, not numpy's own
    BLAS. Returns the number now in force, or None when that library is not
    in use. The count then stays fixed: sknet's default policy, a count
    that follows the machine's load (``SKNET_THREAD_POLICY``,
    :mod:`sknet.ops._threads`), stops.

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
    from .ops import _threads

    global _threads_fixed
    _threads_fixed = True
    _threads.stop_following(restore=False)
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
    flags = _openblas_ldflags() if _env.blas_enabled() else ""
    if flags and _env.blas_threads() is not None:
        set_blas_threads(_env.blas_threads())
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


def configure_mode():
    """Make sknet's C mode PyTensor's default mode unless the user chose one.

    The same rule as :func:`configure_floatx`: a ``pytensor.function`` (or
    ``.eval()``) called without ``mode=`` then compiles with
    ``get_mode()``, PyTensor's C backend with sknet's rewrites, as Theano's
    functions did; PyTensor 3's own default is NUMBA. A mode chosen in
    ``PYTENSOR_FLAGS`` or ``.pytensorrc`` is kept, and a function compiled
    with an explicit mode gets exactly that mode. To opt out, run with
    ``PYTENSOR_FLAGS=mode=NUMBA`` (or set ``pytensor.config.mode`` after
    importing sknet).

    Returns
    -------
    str or pytensor.compile.mode.Mode
        ``pytensor.config.mode`` after the call.

    Examples
    --------
    >>> from sknet.backend import configure_mode
    >>> configure_mode() is not None
    True
    """
    config = pytensor.config
    if not _user_chose("mode"):
        config.mode = get_mode()
    return config.mode


configure_floatx()
configure_blas()
configure_mode()
