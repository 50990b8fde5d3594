"""Build the C modules of a compiled function concurrently.

PyTensor's C backend compiles one C++ module per distinct op and links them
one after another, holding a lock on the compile directory while the C
compiler runs, so a cold compile uses one core: the tutorial CNN's train
function needs ~43 modules and ~21 s of ``g++`` on one core.

:class:`ParallelVMLinker` (the linker of sknet's ``'CVM'`` mode) first finds the
modules the function needs that are not in the compile cache, runs ``g++`` on
them in a thread pool (each in a private temporary directory, outside
PyTensor's cache and its lock), and then lets PyTensor link as usual. When
PyTensor asks its compiler for a module whose source is byte for byte one
already built, it gets a copy of that build instead of a new run of ``g++``;
everything else, the cache and its lock included, is PyTensor's own path. If
anything in the parallel pass fails, that module is simply built the usual
way.

Every module starts by including the Python and NumPy headers, which is a
third to a half of ``g++``'s time on a small module. With GCC, sknet builds
those headers once per set of compiler flags into a precompiled header
(``<compiledir>/sknet_pch``) and passes ``-include`` of it to the modules
whose source starts with exactly those includes, so that the result is the
same program. GCC ignores a precompiled header that does not match the flags
and reads the headers as usual.

Workers: ``os.cpu_count()``, or ``SKNET_COMPILE_WORKERS`` (1 turns the
parallel pass off). ``SKNET_PCH=0`` turns the precompiled header off.
"""

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

from pytensor.configdefaults import config
from pytensor.graph.fg import FunctionGraph
from pytensor.link.c import cmodule
from pytensor.link.c.basic import CLinker, get_module_cache
from pytensor.link.c.op import COp
from pytensor.link.vm import VMLinker

__all__ = ["ParallelVMLinker", "build_modules"]

_log = logging.getLogger(__name__)

_original_compile_str = cmodule.GCC_compiler.compile_str
_lock = threading.Lock()
# (module name, source digest, compiler arguments) -> directory holding the build
_built = {}


def _job_key(module_name, src_code, include_dirs, lib_dirs, libs, preargs, hide_symbols):
    digest = hashlib.sha256(src_code.encode()).hexdigest()
    args = tuple(tuple(a or ()) for a in (include_dirs, lib_dirs, libs, preargs))
    return module_name, digest, args, bool(hide_symbols)


# The includes every PyTensor C module starts with; a module whose source starts
# with them is the same program with them precompiled.
_PREFIX = (
    '#include <Python.h>\n#include "pytensor_mod_helper.h"\n#include <math.h>\n'
    "#include <numpy/arrayobject.h>\n#include <numpy/arrayscalars.h>\n#include <numpy/npy_math.h>\n"
)


def _pch_flags(include_dirs, preargs, hide_symbols):
    """The compile flags that shape a precompiled header (all but libraries)."""
    flags = ["-g"] + [a for a in (preargs or []) if not (config.cmodule__remove_gxx_opt
                                                        and a.startswith("-O"))]
    flags += [f"-I{d}" for d in list(include_dirs or []) + cmodule.std_include_dirs() if d]
    if hide_symbols:
        flags.append("-fvisibility=hidden")
    return flags


def _pch_header(include_dirs, preargs, hide_symbols, build=False):
    """Path of the precompiled prefix header for these flags, or None.

    With ``build``, a missing one is built (atomically: several processes may
    share the compile directory); otherwise only an existing one is used.
    """
    if os.environ.get("SKNET_PCH", "1") == "0" or "g++" not in os.path.basename(config.cxx or ""):
        return None
    flags = _pch_flags(include_dirs, preargs, hide_symbols)
    key = hashlib.sha256("\0".join([config.cxx, _PREFIX] + flags).encode()).hexdigest()[:16]
    folder = os.path.join(config.compiledir, "sknet_pch", key)
    header = os.path.join(folder, "prefix.h")
    if os.path.isfile(header + ".gch"):
        return header
    if not build:
        return None
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=folder)
        with open(os.path.join(tmp, "prefix.h"), "w") as f:
            f.write(_PREFIX)
        subprocess.run([config.cxx, *flags, "-x", "c++-header", os.path.join(tmp, "prefix.h"),
                        "-o", os.path.join(tmp, "prefix.h.gch")],
                       check=True, capture_output=True, timeout=300)
        os.replace(os.path.join(tmp, "prefix.h"), header)
        os.replace(os.path.join(tmp, "prefix.h.gch"), header + ".gch")
        return header
    except Exception as exc:  # modules then build without it
        _log.debug("precompiled header not built: %s", exc)
        return None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _with_pch(src_code, include_dirs, preargs, hide_symbols, build=False):
    if not src_code.startswith(_PREFIX):
        return preargs
    header = _pch_header(include_dirs, preargs, hide_symbols, build)
    return preargs if header is None else list(preargs or []) + ["-include", header]


def _compile_str(module_name, src_code, location=None, include_dirs=None, lib_dirs=None,
                 libs=None, preargs=None, py_module=True, hide_symbols=True):
    """PyTensor's ``compile_str``, which first looks for a finished parallel build."""
    if location is not None and py_module:
        key = _job_key(module_name, src_code, include_dirs, lib_dirs, libs, preargs, hide_symbols)
        with _lock:
            built = _built.pop(key, None)
        if built is not None:
            lib = f"{module_name}.{cmodule.get_lib_extension()}"
            if os.path.isfile(os.path.join(built, lib)):
                for name in (lib, "mod.cpp"):
                    shutil.copy2(os.path.join(built, name), os.path.join(location, name))
                with open(os.path.join(location, "__init__.py"), "w"):
                    pass
                return cmodule.dlimport(os.path.join(location, lib))
    preargs = _with_pch(src_code, include_dirs, preargs, hide_symbols)
    return _original_compile_str(module_name, src_code, location, include_dirs, lib_dirs, libs,
                                 preargs, py_module, hide_symbols)


cmodule.GCC_compiler.compile_str = staticmethod(_compile_str)


def _missing_module(node, cache):
    """The ``compile_str`` arguments of ``node``'s C module, or None if cached
    (or the node has no C code)."""
    if not isinstance(node.op, COp):
        return None
    try:
        linker = CLinker().accept(FunctionGraph(node.inputs, node.outputs), no_recycling=[])
        key = linker.cmodule_key()
        if key is not None and cache._get_from_key(key) is not None:
            return None
        src = linker.get_src_code()
        if key is not None and cache._get_from_hash(cmodule.get_module_hash(src, key), key) is not None:
            return None
        return dict(
            module_name=linker.get_dynamic_module().code_hash, src_code=src,
            include_dirs=linker.header_dirs(), lib_dirs=linker.lib_dirs(),
            libs=linker.libraries(), preargs=linker.compile_args(), hide_symbols=True,
        )
    except Exception:  # no C code, or PyTensor internals changed: built the usual way
        return None


def _build(root, job):
    location = tempfile.mkdtemp(dir=root)
    try:
        preargs = _with_pch(job["src_code"], job["include_dirs"], job["preargs"],
                            job["hide_symbols"])
        _original_compile_str(location=location, py_module=False, **dict(job, preargs=preargs))
    except Exception as exc:  # PyTensor's own build reports the error
        _log.debug("parallel build of %s failed: %s", job["module_name"], exc)
        return
    key = _job_key(job["module_name"], job["src_code"], job["include_dirs"], job["lib_dirs"],
                   job["libs"], job["preargs"], job["hide_symbols"])
    with _lock:
        _built[key] = location


def _workers():
    try:
        return max(1, int(os.environ.get("SKNET_COMPILE_WORKERS", os.cpu_count() or 1)))
    except ValueError:
        return 1


def build_modules(nodes, root, workers=None):
    """Build the uncached C modules of ``nodes`` concurrently into ``root``.

    Returns the number of modules built. PyTensor picks the builds up when it
    links the nodes (while ``root`` exists).

    Examples
    --------
    >>> import tempfile
    >>> import pytensor.tensor as T
    >>> from pytensor.graph.fg import FunctionGraph
    >>> x = T.matrix()
    >>> with tempfile.TemporaryDirectory() as root:  # one module: left to PyTensor
    ...     build_modules(FunctionGraph([x], [T.exp(x)]).toposort(), root)
    0
    """
    workers = _workers() if workers is None else workers
    if workers < 2:
        return 0
    cache = get_module_cache()
    jobs, seen = [], set()
    for node in nodes:
        job = _missing_module(node, cache)
        if job is None:
            continue
        key = _job_key(**job)
        if key not in seen:
            seen.add(key)
            jobs.append(job)
    if len(jobs) < 2:
        return 0
    with ThreadPoolExecutor(min(workers, len(jobs))) as pool:
        # the precompiled headers the jobs need (one per set of flags), then the jobs
        headers = {}
        for job in jobs:
            if job["src_code"].startswith(_PREFIX):
                flags = (tuple(job["include_dirs"] or ()), tuple(job["preargs"] or ()),
                         job["hide_symbols"])
                headers[flags] = job
        list(pool.map(lambda j: _pch_header(j["include_dirs"], j["preargs"], j["hide_symbols"],
                                            build=True), headers.values()))
        list(pool.map(lambda job: _build(root, job), jobs))
    return len(jobs)


def _forget(root):
    with _lock:
        for key in [k for k, v in _built.items() if v.startswith(root)]:
            del _built[key]


class ParallelVMLinker(VMLinker):
    """PyTensor's ``VMLinker`` that first builds missing C modules in parallel.

    Examples
    --------
    >>> from pytensor.compile.mode import Mode
    >>> from sknet.parallel_build import ParallelVMLinker
    >>> mode = Mode(linker=ParallelVMLinker(use_cloop=True), optimizer="fast_run")
    """

    def make_all(self, *args, **kwargs):
        with tempfile.TemporaryDirectory(prefix="sknet-build-") as root:
            try:
                build_modules(self.fgraph.toposort(), root)
            except Exception as exc:  # never worse than PyTensor's serial build
                _log.debug("parallel build skipped: %s", exc)
            try:
                return super().make_all(*args, **kwargs)
            finally:
                _forget(root)
