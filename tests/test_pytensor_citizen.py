"""sknet in a process that also uses plain PyTensor: what importing it changes.

Importing sknet changes three PyTensor settings, each only when the user did
not choose it (``floatX``, ``blas__ldflags``, ``mode``); sknet's rewrites
apply only in the modes :func:`sknet.backend.get_mode` builds, and nothing of
PyTensor is replaced.
"""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.compile.mode import Mode
from pytensor.tensor.special import log_softmax

import sknet


def _run(code, flags="", **env):
    """Run ``code`` in a fresh interpreter; its last stdout line, as JSON.

    PyTensor's flags are ``flags`` only (plus the session's compile directory,
    if it set one) and no ``.pytensorrc`` is read unless ``env`` names one.
    """
    keep = [f for f in os.environ.get("PYTENSOR_FLAGS", "").split(",") if f.startswith("base_compiledir")]
    full_env = dict(os.environ, PYTENSORRC=os.devnull, PYTENSOR_FLAGS=",".join(keep + [flags] if flags else keep))
    full_env.update(env)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _graph():
    """A graph that every sknet C rewrite would change: a sum over batch and
    spatial axes (BlockSum), a log-softmax (inlined), a rectified convolution
    plus bias (fused) and its pooling gradient (masked)."""
    x, w, b = T.tensor4("x"), T.tensor4("w"), T.vector("b")
    conv = sknet.nonlinearities.rectify(sknet.ops.corr2d(x, w) + b.dimshuffle("x", 0, "x", "x"))
    pooled = sknet.ops.pool_2d(conv, (2, 2))
    loss = log_softmax(pooled.flatten(2), axis=1).sum()
    return [x, w, b], [loss, pytensor.grad(loss, x), (x * 2).sum(axis=(0, 2, 3))]


def _rewritten_by_sknet(fn):
    """The traces of sknet's rewrites in a compiled function's graph."""
    found = set()
    for node in fn.maker.fgraph.apply_nodes:
        name = type(node.op).__name__
        if name in ("BlockSum", "CorrMMBiasRelu") or getattr(node.op, "positive_mask", False):
            found.add(name if name != "Pool2DGrad" else "Pool2DGrad(positive_mask)")
    if not any("Softmax" in str(node.op) for node in fn.maker.fgraph.apply_nodes):
        found.add("softmax inlined")
    return found


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return (
        rng.standard_normal((2, 1, 6, 6)).astype("float32"),
        rng.standard_normal((2, 1, 3, 3)).astype("float32"),
        rng.standard_normal(2).astype("float32"),
    )


@pytest.fixture(scope="module")
def sknet_c_fn():
    """Compiled in sknet's C mode first, so that sknet's rewrites are registered."""
    inputs, outputs = _graph()
    return pytensor.function(inputs, outputs, mode=sknet.backend.get_mode())


def test_sknet_c_mode_applies_every_rewrite(sknet_c_fn):
    assert _rewritten_by_sknet(sknet_c_fn) == {
        "BlockSum",
        "CorrMMBiasRelu",
        "Pool2DGrad(positive_mask)",
        "softmax inlined",
    }


@pytest.mark.parametrize("mode", ["CVM", Mode(linker="cvm", optimizer="fast_run")], ids=["CVM", "Mode"])
def test_explicit_pytensor_mode_gets_no_sknet_rewrite(sknet_c_fn, data, mode):
    inputs, outputs = _graph()
    fn = pytensor.function(inputs, outputs, mode=mode)
    assert _rewritten_by_sknet(fn) == set()
    for got, want in zip(fn(*data), sknet_c_fn(*data)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_explicit_numba_mode_gets_no_sknet_rewrite(sknet_c_fn):
    x = T.tensor4("x")
    relu = sknet.nonlinearities.rectify(x)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn = pytensor.function([x], [x.sum(axis=(0, 2, 3)), relu], mode="NUMBA")
        grad = pytensor.function([x], pytensor.grad(relu.sum(), x), mode="NUMBA")
    ops = {type(node.op).__name__ for node in fn.maker.fgraph.apply_nodes}
    assert "BlockSum" not in ops and "Sum" in ops
    # sknet's NUMBA mode rewrites the rectifier to maximum(x, 0); plain NUMBA keeps sknet's op
    assert any("relu" in str(node.op) for node in fn.maker.fgraph.apply_nodes)
    # ... and compiles it: no object mode
    assert not [str(w.message) for w in caught if "object mode" in str(w.message)]
    values = np.array([-1.5, -0.0, 0.0, 2.0, np.nan, -np.inf, np.inf, 3e-39], "float32").reshape(1, 2, 2, 2)
    _, out = fn(values)
    want = np.where(values > 0, values, 0)
    want[np.isnan(values)] = np.nan
    np.testing.assert_array_equal(out, want)
    assert not np.signbit(out[~np.isnan(out)]).any()  # +0, as the C op gives
    np.testing.assert_array_equal(grad(values), (want > 0).astype("float32"))


def test_no_pytensor_mode_includes_a_tag_of_sknets_rewrites(sknet_c_fn):
    from pytensor.compile import optdb
    from pytensor.compile.mode import predefined_modes

    from sknet.ops import registry

    modes = [*predefined_modes.values(), pytensor.compile.mode.get_mode("FAST_RUN")]
    tags = set().union(*(m._optimizer.include for m in modes))
    assert {"fast_run", "numba", "jax"} <= tags
    tags |= {"cxx_only", "inplace"}  # PyTensor's C-only and in-place rewrites (sknet's were under them)
    for db in (optdb, optdb["specialize"]):
        for tag in tags:
            names = {getattr(e, "name", None) or getattr(e, "__name__", "") for e in db.__db__.get(tag, ())}
            assert not names & set(registry.rewrite_names()), tag


def test_function_without_mode_uses_sknets_c_mode():
    out = _run(
        "import json, pytensor, pytensor.tensor as T, sknet\n"
        "x = T.tensor4()\n"
        "f = pytensor.function([x], x.sum(axis=(0, 2, 3)))\n"
        "g = pytensor.function([x], x.sum(axis=(0, 2, 3)), mode='CVM')\n"
        "print(json.dumps([pytensor.config.mode is sknet.backend.get_mode(),\n"
        "                  [type(n.op).__name__ for n in f.maker.fgraph.toposort()],\n"
        "                  [type(n.op).__name__ for n in g.maker.fgraph.toposort()]]))"
    )
    assert out == [True, ["BlockSum"], ["Sum"]]


@pytest.mark.parametrize("how", ["flags", "pytensorrc"])
def test_users_mode_choice_is_kept(tmp_path, how):
    code = "import json, pytensor, sknet; print(json.dumps(str(pytensor.config.mode)))"
    if how == "flags":
        out = _run(code, flags="mode=FAST_COMPILE")
    else:
        rc = tmp_path / "pytensorrc"
        rc.write_text("[global]\nmode = FAST_COMPILE\n")
        out = _run(code, PYTENSORRC=str(rc))
    assert out == "FAST_COMPILE"


SNAPSHOT = """
import json, pytensor
from pytensor.compile import optdb
from pytensor.compile.mode import predefined_modes
from pytensor.link.c import cmodule

def snapshot():
    values = {}
    for name in pytensor.config._config_var_dict:
        try:
            values[name] = repr(getattr(pytensor.config, name))
        except Exception as exc:
            values[name] = type(exc).__name__
    return dict(
        config=values,
        rewrites=sorted(optdb.__db__),
        specialize=sorted(optdb["specialize"].__db__),
        modes=sorted(predefined_modes),
        compile_str=repr(cmodule.GCC_compiler.__dict__["compile_str"]),
    )

before = snapshot()
import sknet.layers, sknet.updates, sknet.nonlinearities
after = snapshot()
changed = sorted(k for k in before["config"] if before["config"][k] != after["config"][k])
print(json.dumps([changed, {k: before[k] == after[k] for k in before if k != "config"}]))
"""


def test_importing_lasagne_modules_changes_only_the_documented_settings():
    changed, same = _run(SNAPSHOT)
    assert set(changed) <= {"floatX", "blas__ldflags", "mode"}, changed
    assert "mode" in changed
    # no rewrite registered, no mode added, PyTensor's compiler untouched
    assert same == {"rewrites": True, "specialize": True, "modes": True, "compile_str": True}
