"""Build the C modules of a compiled function concurrently.

PyTensor's C backend compiles one C++ module per distinct op and links them
one after another, holding a lock on the compile directory while the C
compiler runs, so a cold compile uses one core: the tutorial CNN's train
function needs ~43 modules and ~21 s of ``g++`` on one core.

:class:`ParallelVMLinker` (the linker of sknet's ``'CVM'`` mode) first finds the
modules the function needs that are not in the compile cache, runs ``g++`` on
them in a thread pool (each in a private temporary directory, outside
PyTensor's cache and its lock), puts each build into PyTensor's compile cache
through the cache's own entry point (``ModuleCache.module_from_key``, which
takes any object that gives the source and compiles it into a directory: here
one that copies the finished build), and then lets PyTensor link as usual,
finding every module in its cache. Nothing of PyTensor is replaced: other
modes and linkers build as PyTensor always does. If anything in the parallel
pass fails, that module is simply built the usual way.

Every module starts by including the Python and NumPy headers, which is a
third to a half of ``g++``'s time on a small module. With GCC, sknet builds
those headers once per set of compiler flags into a precompiled header
(``<compiledir>/sknet_pch``) and passes ``-include`` of it to the modules
whose source starts with exactly those includes, so that the result is the
same program. GCC ignores a precompiled header that does not match the flags
and reads the headers as usual.

The quick build (on unless ``SKNET_QUICK_BUILD=0``) cuts a cold build's
``g++`` time by about a quarter and every process's first compilation by
~0.4 s: modules are built without debug information (``-g0`` after
PyTensor's ``-g``: the same code); the precompiled header also holds
``<vector>`` and ``<algorithm>``, which two thirds of PyTensor's modules
include next (the others get declarations they do not use); linker flags
(BLAS's ``-Wl,-rpath``, ``-Xlinker``) are left out of the header's flags,
where they made ``g++`` link and fail; and the ``-march`` flags PyTensor
finds in every process (two ``g++`` runs and a test program) are kept in
``<compiledir>/sknet_march.json``, per compiler and CPU
(:func:`remember_march_flags`).

Workers: ``os.cpu_count()``, or ``SKNET_COMPILE_WORKERS`` (1 turns the
pass off, and PyTensor builds every module itself). ``SKNET_PCH=0`` turns the
precompiled header off.
"""

import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

from pytensor.configdefaults import config
from pytensor.graph.fg import FunctionGraph
from pytensor.link.c import cmodule
from pytensor.link.c.basic import CLinker, get_module_cache
from pytensor.link.c.op import COp
from pytensor.link.vm import VMLinker

from . import config as _env

__all__ = ["ParallelVMLinker", "build_modules", "remember_march_flags"]

_log = logging.getLogger(__name__)


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


# with <vector> and <algorithm> too (the next includes of most modules)
_STL_PREFIX = _PREFIX + "#include <vector>\n#include <algorithm>\n"

# flags that change how a header compiles (others are the linker's)
_COMPILE_FLAGS = ("-D", "-U", "-I", "-m", "-f", "-O", "-std", "-g", "-W", "-isystem")


def _compile_only(preargs):
    """``preargs`` without the linker's flags (``-Wl,``, ``-Xlinker X``, ``-L``, ``-l``, bare paths).

    Examples
    --------
    >>> _compile_only(["-O3", "-Wl,-rpath,/a", "-Xlinker", "-rpath", "/a", "--param", "l1=32", "-lm", "-DX"])
    ['-O3', '--param', 'l1=32', '-DX']
    """
    out, args = [], iter(preargs)
    for arg in args:
        if arg == "--param":
            out += [arg, next(args, "")]
        elif arg.startswith(_COMPILE_FLAGS) and not arg.startswith("-Wl,"):
            out.append(arg)
    return out


def _preargs(job):
    """The flags sknet builds ``job`` with: PyTensor's, then ``-g0`` (a quick build)."""
    preargs = list(job["preargs"] or [])
    return preargs + ["-g0"] if _env.quick_build_enabled() else preargs


def _pch_flags(include_dirs, preargs, hide_symbols):
    """The compile flags that shape a precompiled header (all but libraries)."""
    preargs = _compile_only(preargs or []) if _env.quick_build_enabled() else preargs or []
    flags = ["-g"] + [a for a in preargs if not (config.cmodule__remove_gxx_opt and a.startswith("-O"))]
    flags += [f"-I{d}" for d in list(include_dirs or []) + cmodule.std_include_dirs() if d]
    if hide_symbols:
        flags.append("-fvisibility=hidden")
    return flags


def _prefix(src_code):
    """The includes to precompile for ``src_code``, or None when it does not start with :data:`_PREFIX`.

    In a quick build, a module that does not include ``<vector>`` and
    ``<algorithm>`` gets them too: declarations it does not use, which cost
    it less than a second header costs to build.
    """
    if not src_code.startswith(_PREFIX):
        return None
    return _STL_PREFIX if _env.quick_build_enabled() else _PREFIX


def _pch_header(include_dirs, preargs, hide_symbols, build=False, prefix=_PREFIX):
    """Path of the precompiled ``prefix`` header for these flags, or None.

    With ``build``, a missing one is built (atomically: several processes may
    share the compile directory); otherwise only an existing one is used.
    """
    if not _env.pch_enabled() or "g++" not in os.path.basename(config.cxx or ""):
        return None
    flags = _pch_flags(include_dirs, preargs, hide_symbols)
    key = hashlib.sha256("\0".join([config.cxx, prefix] + flags).encode()).hexdigest()[:16]
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
            f.write(prefix)
        subprocess.run(
            [
                config.cxx,
                *flags,
                "-x",
                "c++-header",
                os.path.join(tmp, "prefix.h"),
                "-o",
                os.path.join(tmp, "prefix.h.gch"),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
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
    prefix = _prefix(src_code)
    if prefix is None:
        return preargs
    header = _pch_header(include_dirs, preargs, hide_symbols, build, prefix)
    return preargs if header is None else list(preargs or []) + ["-include", header]


def _compile(job, location, py_module):
    """Run PyTensor's compiler on ``job`` (``compile_str`` arguments) into ``location``."""
    preargs = _with_pch(job["src_code"], job["include_dirs"], _preargs(job), job["hide_symbols"])
    return cmodule.GCC_compiler.compile_str(location=location, py_module=py_module, **dict(job, preargs=preargs))


class _Prebuilt:
    """The linker ``ModuleCache.module_from_key`` gets for a module of the parallel pass.

    That method asks its linker for the module's source (``get_src_code``)
    and for the module compiled into a directory of the cache
    (``compile_cmodule``): this one copies the finished build there, or, when
    there is none, compiles it (with the precompiled header).
    """

    def __init__(self, job, built=None):
        self.job, self.built = job, built

    def get_src_code(self):
        return self.job["src_code"]

    def compile_cmodule(self, location):
        lib = f"{self.job['module_name']}.{cmodule.get_lib_extension()}"
        if self.built is not None and os.path.isfile(os.path.join(self.built, lib)):
            for name in (lib, "mod.cpp"):
                shutil.copy2(os.path.join(self.built, name), os.path.join(location, name))
            with open(os.path.join(location, "__init__.py"), "w"):
                pass
            return cmodule.dlimport(os.path.join(location, lib))
        return _compile(self.job, location, py_module=True)


def _machine():
    """What the ``-march`` flags depend on: the compiler (path and build), its flags, the CPU."""
    cxx = os.path.realpath(shutil.which(config.cxx) or config.cxx)
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:  # Linux: the model and the instruction sets
            cpu = "".join(sorted({line for line in f if line.startswith(("model name", "flags"))}))
    except OSError:
        cpu = platform.processor()
    stat = os.stat(cxx)
    return "\0".join([cxx, str(stat.st_mtime_ns), str(stat.st_size), config.gcc__cxxflags, platform.machine(), cpu])


def remember_march_flags():
    """Give PyTensor the ``-march`` flags it found for this compiler and CPU before, or find and keep them.

    PyTensor finds them by running ``g++`` twice and building and running a
    test program, in every process, on its first C compilation (about 0.4 s).
    They are kept in ``<compiledir>/sknet_march.json`` under a key of the
    compiler and the CPU (a compile directory shared between machines keeps
    one entry per machine). Returns True when they were known. Does nothing
    (False) for a compiler other than ``g++``, with ``-march`` in
    ``gcc__cxxflags``, once PyTensor has them, or with ``SKNET_QUICK_BUILD=0``.

    Examples
    --------
    >>> remember_march_flags() in (True, False)
    True
    """
    gcc = cmodule.GCC_compiler
    if (
        gcc.march_flags is not None
        or not _env.quick_build_enabled()
        or "g++" not in os.path.basename(config.cxx or "")
        or "-march" in config.gcc__cxxflags
    ):
        return False
    path = os.path.join(config.compiledir, "sknet_march.json")
    try:
        key = hashlib.sha256(_machine().encode()).hexdigest()
    except OSError as exc:  # PyTensor finds them itself
        _log.debug("march flags not looked up: %s", exc)
        return False
    try:
        with open(path) as f:
            known = json.load(f)
    except (OSError, ValueError):
        known = {}
    known = known if isinstance(known, dict) else {}
    flags = known.get(key)
    if isinstance(flags, list) and all(isinstance(flag, str) for flag in flags):
        gcc.march_flags = list(flags)
        return True
    gcc.compile_args()  # PyTensor's detection
    if gcc.march_flags is not None:
        known[key] = list(gcc.march_flags)
        try:
            os.makedirs(config.compiledir, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=config.compiledir, suffix=".json")
            with os.fdopen(fd, "w") as f:
                json.dump(known, f)
            os.replace(tmp, path)  # atomic: other processes read the old or the new file
        except OSError as exc:
            _log.debug("march flags not kept: %s", exc)
    return False


def _missing_module(node, cache):
    """``(cache key, compile_str arguments)`` of ``node``'s C module, or None if
    cached (or the node has no C code)."""
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
        if key is None:  # PyTensor will not cache it: nothing to build ahead
            return None
        return key, dict(
            module_name=linker.get_dynamic_module().code_hash,
            src_code=src,
            include_dirs=linker.header_dirs(),
            lib_dirs=linker.lib_dirs(),
            libs=linker.libraries(),
            preargs=linker.compile_args(),
            hide_symbols=True,
        )
    except Exception:  # no C code, or PyTensor internals changed: built the usual way
        return None


def _build(root, job):
    """Build ``job`` in a new directory under ``root``; that directory, or None on failure."""
    location = tempfile.mkdtemp(dir=root)
    try:
        _compile(job, location, py_module=False)
    except Exception as exc:  # PyTensor's own build reports the error
        _log.debug("parallel build of %s failed: %s", job["module_name"], exc)
        return None
    return location


def build_modules(nodes, root, workers=None):
    """Build the uncached C modules of ``nodes`` concurrently and put them in PyTensor's cache.

    The builds happen in ``root``; each finished one is copied into the
    compile cache, where PyTensor finds it when it links the nodes. Returns
    the number of modules put in the cache this way (0 with fewer than two
    workers: PyTensor then builds them itself).

    Examples
    --------
    >>> import tempfile
    >>> import pytensor.tensor as T
    >>> from pytensor.graph.fg import FunctionGraph
    >>> x = T.matrix()
    >>> with tempfile.TemporaryDirectory() as root:  # one worker: left to PyTensor
    ...     build_modules(FunctionGraph([x], [T.exp(x)]).toposort(), root, workers=1)
    0
    """
    workers = _env.compile_workers() if workers is None else workers
    if workers < 2:
        return 0
    cache = get_module_cache()
    jobs = {}
    for node in nodes:
        found = _missing_module(node, cache)
        if found is not None:
            jobs.setdefault(_job_key(**found[1]), found)
    if not jobs:
        return 0
    jobs = list(jobs.values())
    # the precompiled headers the jobs need (one per set of flags), then the jobs
    headers = {}
    for _, job in jobs:
        prefix = _prefix(job["src_code"])
        if prefix is not None:
            headers[(prefix, tuple(job["include_dirs"] or ()), tuple(_preargs(job)), job["hide_symbols"])] = job
    with ThreadPoolExecutor(min(workers, max(len(jobs), len(headers)))) as pool:
        list(pool.map(lambda key: _pch_header(key[1], key[2], key[3], build=True, prefix=key[0]), headers))
        # a single module is built straight into the cache below
        built = list(pool.map(lambda kj: _build(root, kj[1]), jobs)) if len(jobs) > 1 else [None]
    for (key, job), location in zip(jobs, built):
        try:
            cache.module_from_key(key=key, lnk=_Prebuilt(job, location))
        except Exception as exc:  # PyTensor builds it when it links, and reports the error
            _log.debug("module %s not cached ahead: %s", job["module_name"], exc)
    return len(jobs)


class ParallelVMLinker(VMLinker):
    """PyTensor's ``VMLinker`` that first builds missing C modules in parallel.

    Examples
    --------
    >>> from pytensor.compile.mode import Mode
    >>> from sknet.parallel_build import ParallelVMLinker
    >>> mode = Mode(linker=ParallelVMLinker(use_cloop=True), optimizer="fast_run")
    """

    def make_all(self, *args, **kwargs):
        try:
            remember_march_flags()
        except Exception as exc:  # PyTensor finds them itself
            _log.debug("march flags not remembered: %s", exc)
        with tempfile.TemporaryDirectory(prefix="sknet-build-") as root:
            try:
                build_modules(self.fgraph.toposort(), root)
            except Exception as exc:  # never worse than PyTensor's serial build
                _log.debug("parallel build skipped: %s", exc)
        return super().make_all(*args, **kwargs)
