"""The ``SKNET_*`` environment variables, all read here.

Each variable has one function below that reads and parses it when called
(so a test or a script may set it before the first use); the rest of sknet
asks these functions and never reads ``os.environ`` itself. The table in
``docs/configuration.md`` lists the same variables (:data:`VARIABLES`; a test
keeps the two in step).

Examples
--------
>>> from sknet import config
>>> sorted(VARIABLES)[:2]
['SKNET_BENCH_MODE', 'SKNET_BLAS']
>>> config.compile_workers() >= 1
True
"""

import os
from pathlib import Path

__all__ = [
    "VARIABLES",
    "data_dir",
    "blas_enabled",
    "blas_threads",
    "openmp_enabled",
    "thread_policy",
    "compile_workers",
    "pch_enabled",
    "function_cache_enabled",
    "function_store_enabled",
    "mode_for_tests",
    "bench_mode",
    "example_mode",
    "quick_build_enabled",
]

#: Every variable sknet reads, with its default in words.
VARIABLES = {
    "SKNET_DATA": "unset: datasets are looked for in data_home, then ~/sknet_data",
    "SKNET_BLAS": "1: link PyTensor's C code to the scipy-openblas32 wheel",
    "SKNET_BLAS_THREADS": "unset: OpenBLAS's own thread count",
    "SKNET_OPENMP": "1: sknet's C ops share OpenBLAS's OpenMP threads",
    "SKNET_THREAD_POLICY": "adaptive: the thread count follows the other processes running",
    "SKNET_COMPILE_WORKERS": "os.cpu_count(): parallel g++ builds of a new function's C modules",
    "SKNET_PCH": "1: a precompiled header of the Python/NumPy includes (g++)",
    "SKNET_FUNCTION_CACHE": "1: reuse compiled functions across clones (read when sknet is imported)",
    "SKNET_FUNCTION_STORE": "1: keep rewritten graphs on disk for later processes",
    "SKNET_TEST_MODE": "CVM: the compile mode of the test suite and doctests",
    "SKNET_BENCH_MODE": "CVM: the compile mode of bench/bench_cnn.py",
    "SKNET_MODE": "CVM: the compile mode of examples/mnist_cnn_loop.py",
    "SKNET_QUICK_BUILD": "1: C modules built without debug info, more precompiled includes, -march found once",
}

_OFF = ("0", "false", "no", "off")


def _get(name):
    return os.environ.get(name, "").strip()


def _switch(name):
    """A switch that is on unless the variable says 0, false, no or off."""
    return _get(name).lower() not in _OFF


def _positive_int(name):
    """The variable as an int of at least 1, or None when unset; else a ValueError naming it."""
    value = _get(name)
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return n


def _reader(name, variable, read, doc, example=None):
    """One public accessor: `read(variable)` under `name`, with a numpydoc docstring and its example.

    The example defaults to that of a switch: ``name() in (True, False)``.
    """
    example = example or f"{name}() in (True, False)"

    def accessor():
        return read(variable)

    accessor.__name__ = accessor.__qualname__ = name
    accessor.__doc__ = f"{doc}\n\n    Examples\n    --------\n    >>> {example}\n    True\n"
    return accessor


def _upper(variable):
    return _get(variable).upper() or None


def data_dir():
    """``SKNET_DATA`` as a Path, or None when unset or empty.

    Examples
    --------
    >>> data_dir() is None or isinstance(data_dir(), Path)
    True
    """
    value = _get("SKNET_DATA")
    return Path(value) if value else None


blas_enabled = _reader(
    "blas_enabled",
    "SKNET_BLAS",
    _switch,
    "False when ``SKNET_BLAS`` is 0: PyTensor's C code then uses numpy's dot.",
)
openmp_enabled = _reader(
    "openmp_enabled",
    "SKNET_OPENMP",
    _switch,
    "False when ``SKNET_OPENMP`` is 0: sknet's C ops then run on one thread.",
)
pch_enabled = _reader(
    "pch_enabled",
    "SKNET_PCH",
    _switch,
    "False when ``SKNET_PCH`` is 0 (no precompiled header for C modules).",
)
quick_build_enabled = _reader(
    "quick_build_enabled",
    "SKNET_QUICK_BUILD",
    _switch,
    "False when ``SKNET_QUICK_BUILD`` is 0: sknet's parallel C build then compiles as PyTensor does.",
)
function_cache_enabled = _reader(
    "function_cache_enabled",
    "SKNET_FUNCTION_CACHE",
    _switch,
    "False when ``SKNET_FUNCTION_CACHE`` is 0 (see :mod:`sknet.function_cache`).",
)
function_store_enabled = _reader(
    "function_store_enabled",
    "SKNET_FUNCTION_STORE",
    _switch,
    "False when ``SKNET_FUNCTION_STORE`` is 0 (see :mod:`sknet.function_store`).",
)
blas_threads = _reader(
    "blas_threads",
    "SKNET_BLAS_THREADS",
    _positive_int,
    "``SKNET_BLAS_THREADS`` as an int (at least 1), or None when unset.",
    "blas_threads() is None or blas_threads() >= 1",
)
bench_mode = _reader(
    "bench_mode",
    "SKNET_BENCH_MODE",
    _upper,
    "``SKNET_BENCH_MODE`` upper-cased, or None (sknet's default mode).",
    "bench_mode() is None or isinstance(bench_mode(), str)",
)
example_mode = _reader(
    "example_mode",
    "SKNET_MODE",
    _upper,
    "``SKNET_MODE`` upper-cased, or None (sknet's default mode): the examples' compile mode.",
    "example_mode() is None or isinstance(example_mode(), str)",
)


def thread_policy():
    """``SKNET_THREAD_POLICY``: ``'adaptive'`` (the default) or ``'fixed'``.

    ``'adaptive'``: while sknet's compiled functions run, the thread count of
    its OpenBLAS and C ops follows the other processes running on the
    machine's cores (:mod:`sknet.ops._threads`). ``'fixed'``: every core, as
    OpenBLAS chooses, whatever else runs. ``SKNET_BLAS_THREADS`` fixes the
    count and wins over both.

    Examples
    --------
    >>> thread_policy() in ('adaptive', 'fixed')
    True
    """
    value = _get("SKNET_THREAD_POLICY").lower() or "adaptive"
    if value not in ("adaptive", "fixed"):
        raise ValueError(f"SKNET_THREAD_POLICY must be 'adaptive' or 'fixed', got {value!r}")
    return value


def compile_workers():
    """``SKNET_COMPILE_WORKERS`` (default ``os.cpu_count()``), at least 1.

    1 turns the parallel build of C modules off.

    Examples
    --------
    >>> compile_workers() >= 1
    True
    """
    value = _get("SKNET_COMPILE_WORKERS")
    try:
        return max(1, int(value)) if value else max(1, os.cpu_count() or 1)
    except ValueError:
        raise ValueError(f"SKNET_COMPILE_WORKERS must be an integer, got {value!r}") from None


def mode_for_tests():
    """``SKNET_TEST_MODE`` upper-cased (default ``'CVM'``): the test suite's compile mode.

    Examples
    --------
    >>> isinstance(mode_for_tests(), str)
    True
    """
    return _upper("SKNET_TEST_MODE") or "CVM"
