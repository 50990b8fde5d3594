"""Rewritten graphs of compiled functions kept on disk, for the next process.

Once every C module of a network is in PyTensor's cache, most of what is left
of compiling its functions is PyTensor rewriting the graph (measured by
``bench/bench_first_fit.py --compare store``). That work depends
only on the graph's structure, the key of :mod:`sknet.function_cache`. So,
for sknet's C mode, each function that cache compiles is also pickled here,
its shared values emptied (weights never go to disk), under a digest of that
key; a later process meeting the same structure, say the same architecture
with other layer sizes, unpickles it and PyTensor only links the stored
graph, loading its C modules from the cache.

The files live in ``sknet_functions/`` of PyTensor's compile directory. The
digest also covers the versions of PyTensor, NumPy and Python, PyTensor's
configuration and a checksum of sknet's own source files, so an upgrade, an
edited sknet or other flags never load a stale graph. A file that does not
load is removed and the function compiled as usual. ``SKNET_FUNCTION_STORE=0``
turns the store off. The files are pickles, trusted as PyTensor trusts the
modules and keys of its compile directory: only their owner should write there.

Examples
--------
>>> from sknet import function_store
>>> function_store.active() in (True, False)
True
"""

import functools
import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytensor

from . import config
from .backend import _sknet_mode, get_mode
from .ops import _threads

__all__ = ["digest", "load", "save", "directory", "active", "set_enabled", "set_directory"]

_state = {"enabled": None, "directory": None}


def active():
    """Whether functions are stored and looked up on disk (``SKNET_FUNCTION_STORE``, or :func:`set_enabled`).

    Examples
    --------
    >>> active() in (True, False)
    True
    """
    if _state["enabled"] is None:
        return config.function_store_enabled()
    return _state["enabled"]


def set_enabled(flag):
    """Turn the store on (True), off (False) or back to ``SKNET_FUNCTION_STORE`` (None); returns the previous.

    Examples
    --------
    >>> previous = set_enabled(False)
    >>> active()
    False
    >>> _ = set_enabled(previous)
    """
    previous, _state["enabled"] = _state["enabled"], flag
    return previous


def directory():
    """The folder of the stored functions: ``sknet_functions`` in PyTensor's compile directory.

    Examples
    --------
    >>> directory().name
    'sknet_functions'
    """
    return _state["directory"] or Path(pytensor.config.compiledir) / "sknet_functions"


def set_directory(path):
    """Keep the stored functions in ``path`` (None: the default); returns the previous setting.

    Examples
    --------
    >>> previous = set_directory('/tmp/elsewhere/sknet_functions')
    >>> str(directory())
    '/tmp/elsewhere/sknet_functions'
    >>> _ = set_directory(previous)
    """
    previous = _state["directory"]
    _state["directory"] = None if path is None else Path(path)
    return previous


@functools.cache
def _sources():
    """A checksum of sknet's own source files and the versions it runs on."""
    h = hashlib.sha256()
    here = Path(__file__).parent
    for path in sorted(p for p in here.rglob("*") if p.suffix in (".py", ".c")):
        h.update(str(path.relative_to(here)).encode())
        h.update(path.read_bytes())
    for part in (pytensor.__version__, np.__version__, sys.version):
        h.update(part.encode())
    return h.digest()


def _fingerprint():
    """What besides the graph decides the rewritten graph: sknet, the versions, PyTensor's flags now."""
    plain = (str, int, float, bool, type(None), tuple)
    flags = []
    for name in sorted(pytensor.config._config_var_dict):
        try:
            value = getattr(pytensor.config, name)
        except Exception:  # a flag whose value cannot be computed here
            value = None
        # values that are objects print their address: their type stands for them
        flags.append((name, repr(value) if isinstance(value, plain) else type(value).__qualname__))
    return _sources() + repr(flags).encode()


def _canonical(obj):
    """``obj`` as plain data that pickles to the same bytes in every process.

    Ops and types by class and properties (their ``__dict__`` may hold caches
    filled by earlier compilations), arrays by dtype, shape and bytes.
    """
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
        return obj
    if isinstance(obj, (tuple, list)):
        return tuple(_canonical(item) for item in obj)
    if isinstance(obj, dict):
        return ("dict", tuple(sorted((repr(k), _canonical(v)) for k, v in obj.items())))
    if isinstance(obj, np.ndarray):
        return ("array", obj.dtype.str, obj.shape, np.ascontiguousarray(obj).tobytes())
    if isinstance(obj, np.generic):
        return ("scalar", obj.dtype.str, obj.tobytes())
    cls = type(obj)
    props = getattr(cls, "__props__", None)
    if isinstance(props, tuple):
        return (cls.__module__, cls.__qualname__, tuple((name, _canonical(getattr(obj, name))) for name in props))
    return (cls.__module__, cls.__qualname__, pickle.dumps(obj, protocol=4))


def digest(key, mode):
    """The file name of the function with structural ``key`` in ``mode``, or None when it is not stored.

    None while the store is off; only sknet's C mode is stored, and only keys that pickle.

    Examples
    --------
    >>> import pytensor.tensor as T
    >>> from sknet.function_cache import graph_key
    >>> x = T.vector('x')
    >>> previous = set_enabled(True)
    >>> a, b, c = [digest(graph_key([x], [x * k])[0], None) for k in (2, 2, 3)]
    >>> a == b, a == c
    (True, False)
    >>> _ = set_enabled(previous)
    """
    if not active() or get_mode(mode) is not _sknet_mode("CVM"):
        return None
    try:
        data = pickle.dumps(_canonical(key[1:]), protocol=4)
    except Exception:  # an op that does not pickle: compile per process
        return None
    return hashlib.sha256(_fingerprint() + data).hexdigest()[:40] + ".pkl"


def load(name):
    """``(function, shared containers in key order)`` stored under ``name``, or None.

    Examples
    --------
    >>> load('not-stored.pkl') is None
    True
    """
    if not name or not active():
        return None
    path = directory() / name
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        with pytensor.config.change_flags(unpickle_function=True):
            fn, positions = pickle.loads(data)
        containers = [fn.input_storage[i] for i in positions]
    except Exception:  # written by another version, truncated...: compile again
        path.unlink(missing_ok=True)
        return None
    # A compilation in sknet's mode starts the thread policy's daemon; a load is one too.
    _threads.follow_load()
    return fn, containers


def save(name, fn, containers):
    """Store ``fn`` under ``name``; its shared ``containers`` (in key order) must hold no values.

    Written to a temporary file, then renamed: a reader never sees half a file.
    Any failure (a full disk, a graph that does not pickle) leaves nothing.

    Examples
    --------
    >>> save(None, None, []) is None
    True
    """
    if not name or not active():
        return
    # The function's own containers share their storage lists with the shared variables' containers.
    index = {id(c.storage): i for i, c in enumerate(fn.input_storage)}
    try:
        data = pickle.dumps((fn, [index[id(c.storage)] for c in containers]), protocol=4)
        folder = directory()
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, folder / name)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except Exception:  # the store only saves time: a function it cannot keep is still compiled
        pass
