"""The parallel C build: builds are picked up by PyTensor, results unchanged."""

import json
import os
import subprocess
import sys

import numpy as np
import pytensor
import pytest

from sknet import parallel_build

CHILD = r"""
import json, numpy as np, pytensor, pytensor.tensor as T
import sknet
from pytensor.link.c import cmodule
from sknet import parallel_build

# count the compiler's runs: py_module=False are the parallel pass's (this
# wrapper is the test's own instrument, in this child process only)
runs = []
original = cmodule.GCC_compiler.compile_str
def counting(*args, **kwargs):
    runs.append(kwargs.get("py_module", True))
    return original(*args, **kwargs)
cmodule.GCC_compiler.compile_str = counting

# PyTensor's -march detection compiles and runs this test program
probes = []
original_probe = cmodule.try_march_flag
cmodule.try_march_flag = lambda flags: probes.append(flags) or original_probe(flags)

x, y = T.matrix("x"), T.vector("y")
# the dot is BLAS's Dot22: a module with linker flags
out = [T.exp(x) * 3 + y, T.log1p(abs(x)).sum(axis=0), T.tanh(x).max(axis=1), T.cos(y) ** 2, T.dot(x, x.T)]
f = pytensor.function([x, y], out, mode=sknet.backend.get_mode())
X = np.linspace(-1, 1, 6, dtype="float32").reshape(2, 3); Y = np.arange(3, dtype="float32")
print(json.dumps({"parallel": runs.count(False), "serial": runs.count(True), "probes": len(probes),
                  "march": cmodule.GCC_compiler.march_flags, "out": [o.tolist() for o in f(X, Y)]}))
"""


def _child(base):
    env = dict(os.environ, SKNET_COMPILE_WORKERS="2", PYTENSOR_FLAGS=f"base_compiledir={base}")
    env.pop("SKNET_PCH", None)
    env.pop("SKNET_QUICK_BUILD", None)
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True, timeout=600
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def compiledir(tmp_path_factory):
    return tmp_path_factory.mktemp("compiledir")


@pytest.fixture(scope="module")
def cold_run(compiledir):
    """A fresh process on an empty compile directory, 2 build workers."""
    result = _child(compiledir)
    result["pch"] = sorted(p.name for p in compiledir.glob("compiledir_*/sknet_pch/*/*"))
    result["pch_folders"] = [sorted(p.name for p in d.iterdir()) for d in compiledir.glob("compiledir_*/sknet_pch/*")]
    result["libraries"] = [
        p.read_bytes() for p in compiledir.glob(f"compiledir_*/tmp*/*.{parallel_build.cmodule.get_lib_extension()}")
    ]
    return result


@pytest.fixture(scope="module")
def warm_run(cold_run, compiledir):
    """A second process on the same compile directory."""
    return _child(compiledir)


def test_cold_modules_are_built_in_parallel(cold_run):
    # every module of the function was built by the parallel pass; the serial
    # path ran g++ only for PyTensor's own helper modules, if at all
    assert cold_run["parallel"] >= 4
    assert cold_run["serial"] <= 2


def test_precompiled_header_built_for_gcc_only(cold_run):
    if "g++" in os.path.basename(pytensor.config.cxx or ""):
        assert {"prefix.h", "prefix.h.gch"} <= set(cold_run["pch"])
    else:
        assert cold_run["pch"] == []


@pytest.mark.parametrize("run", ["cold_run", "warm_run"])
def test_results_equal_numpy(run, request):
    X = np.linspace(-1, 1, 6, dtype="float32").reshape(2, 3)
    Y = np.arange(3, dtype="float32")
    ref = [np.exp(X) * 3 + Y, np.log1p(abs(X)).sum(axis=0), np.tanh(X).max(axis=1), np.cos(Y) ** 2, X @ X.T]
    got = request.getfixturevalue(run)["out"]
    assert len(got) == len(ref)
    for out, want in zip(got, ref):
        np.testing.assert_allclose(out, want, rtol=1e-5)


def _gcc():
    return "g++" in os.path.basename(pytensor.config.cxx or "")


def test_every_precompiled_header_is_built(cold_run):
    # the BLAS module's flags hold -Wl,-rpath and -Xlinker: they once made
    # the header's g++ link (and fail), leaving that module without one
    if not _gcc():
        assert cold_run["pch_folders"] == []
        return
    assert cold_run["pch_folders"]
    assert all(files == ["prefix.h", "prefix.h.gch"] for files in cold_run["pch_folders"])


def test_modules_carry_no_debug_info(cold_run):
    assert cold_run["libraries"]
    assert not any(b".debug_info" in lib for lib in cold_run["libraries"])


def test_march_flags_found_once_per_machine(cold_run, warm_run, compiledir):
    kept = list(compiledir.glob("compiledir_*/sknet_march.json"))
    if not _gcc():  # PyTensor detects -march for g++ only
        assert kept == []
        return
    assert cold_run["probes"] >= 1  # PyTensor's detection ran in the first process
    assert warm_run["probes"] == 0  # and not in the second
    assert warm_run["march"] == cold_run["march"]
    assert list(json.loads(kept[0].read_text()).values()) == [cold_run["march"]]


def test_quick_build_switch(monkeypatch):
    job = dict(JOB, preargs=["-O3", "-Wl,-rpath,/lib"])
    src = parallel_build._PREFIX + "#include <vector>\n#include <algorithm>\nint x;"
    monkeypatch.setenv("SKNET_QUICK_BUILD", "0")
    assert parallel_build._preargs(job) == ["-O3", "-Wl,-rpath,/lib"]
    assert parallel_build._prefix(src) == parallel_build._PREFIX
    assert parallel_build.remember_march_flags() is False
    monkeypatch.setenv("SKNET_QUICK_BUILD", "1")
    assert parallel_build._preargs(job) == ["-O3", "-Wl,-rpath,/lib", "-g0"]
    assert parallel_build._prefix(src) == src[: -len("int x;")]
    assert parallel_build._prefix(parallel_build._PREFIX + "int x;") == src[: -len("int x;")]
    assert parallel_build._prefix("int x;") is None


JOB = dict(
    module_name="m123",
    src_code="int x;",
    include_dirs=["/inc"],
    lib_dirs=[],
    libs=["m"],
    preargs=["-O3"],
    hide_symbols=True,
)


@pytest.fixture
def fake_compiler(monkeypatch):
    calls = []
    monkeypatch.setattr(parallel_build, "_compile", lambda job, location, py_module: calls.append(job) or "built")
    monkeypatch.setattr(parallel_build.cmodule, "dlimport", lambda path: ("imported", path))
    return calls


def test_finished_build_is_copied_not_rebuilt(tmp_path, fake_compiler):
    build, target = tmp_path / "build", tmp_path / "target"
    build.mkdir()
    target.mkdir()
    lib = f"m123.{parallel_build.cmodule.get_lib_extension()}"
    (build / lib).write_bytes(b"binary")
    (build / "mod.cpp").write_text("int x;")
    prebuilt = parallel_build._Prebuilt(JOB, str(build))
    assert prebuilt.get_src_code() == "int x;"
    assert prebuilt.compile_cmodule(str(target)) == ("imported", str(target / lib))
    assert (target / lib).read_bytes() == b"binary" and (target / "__init__.py").exists()
    assert fake_compiler == []


@pytest.mark.parametrize("built", [None, "empty"])
def test_missing_build_is_compiled_into_the_cache_directory(tmp_path, fake_compiler, built):
    folder = tmp_path / "build"
    folder.mkdir()  # exists, but holds no library
    prebuilt = parallel_build._Prebuilt(JOB, None if built is None else str(folder))
    assert prebuilt.compile_cmodule(str(tmp_path)) == "built"
    assert fake_compiler == [JOB]


def test_one_worker_turns_the_pass_off(monkeypatch, tmp_path):
    import pytensor.tensor as T
    from pytensor.graph.fg import FunctionGraph

    monkeypatch.setenv("SKNET_COMPILE_WORKERS", "1")
    x = T.matrix()
    assert parallel_build.build_modules(FunctionGraph([x], [T.sinh(x) * 7]).toposort(), str(tmp_path)) == 0


def test_pytensor_compiler_is_not_replaced():
    from pytensor.link.c import cmodule

    # the class attribute is PyTensor's own function, as defined in its module
    assert cmodule.GCC_compiler.__dict__["compile_str"].__func__.__module__ == "pytensor.link.c.cmodule"
