"""sknet.backend: float32, the default C mode, and a silent, working BLAS link."""

import os
import subprocess
import sys

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.link.vm import VMLinker

from sknet import backend


def _run(code, **env):
    """Run ``code`` in a fresh interpreter; return (stdout, stderr)."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("PYTENSOR_FLAGS", "SKNET_BLAS")}
    # keep the test session's compile cache, if it set one
    if "PYTENSOR_FLAGS" in os.environ and "base_compiledir" in os.environ["PYTENSOR_FLAGS"]:
        env["PYTENSOR_FLAGS"] = ",".join(f for f in [os.environ["PYTENSOR_FLAGS"], env.get("PYTENSOR_FLAGS", "")] if f)
    full_env.update(env)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr


class TestImport:
    def test_import_prints_no_blas_warning(self):
        out, err = _run(
            "import warnings; warnings.simplefilter('always')\n"
            "import sknet, pytensor\n"
            "print(repr(pytensor.config.blas__ldflags))"
        )
        assert "BLAS" not in err and "blas" not in err, err
        assert "scipy_openblas" in out

    def test_opt_out_gives_empty_flags_without_warning(self):
        out, err = _run(
            "import warnings; warnings.simplefilter('always')\n"
            "import sknet, pytensor\n"
            "print(repr(pytensor.config.blas__ldflags))",
            SKNET_BLAS="0",
        )
        assert out.strip() == "''"
        assert "BLAS" not in err

    def test_user_flags_win(self):
        out, _ = _run(
            "import sknet, pytensor; print(repr(pytensor.config.blas__ldflags))",
            PYTENSOR_FLAGS="blas__ldflags=-lmyblas",
        )
        assert out.strip() == "'-lmyblas'"

    def test_user_floatx_is_kept_but_default_is_float32(self):
        out, _ = _run("import sknet, pytensor; print(pytensor.config.floatX)")
        assert out.strip() == "float32"
        out, _ = _run(
            "import sknet, pytensor; print(pytensor.config.floatX)",
            PYTENSOR_FLAGS="floatX=float64",
        )
        assert out.strip() == "float64"


class TestGetMode:
    def test_default_is_c_backend(self):
        mode = backend.get_mode(None)
        assert isinstance(mode.linker, VMLinker) and mode.linker.c_thunks is not False
        assert mode is backend.get_mode("CVM")

    @pytest.mark.parametrize("name", ["cvm", "NUMBA", "JAX"])
    def test_named_modes(self, name):
        assert backend.get_mode(name) is not None

    def test_c_mode_keeps_intermediates(self):
        assert backend.get_mode("CVM").linker.allow_gc is False
        assert isinstance(backend.get_mode(), backend.SknetMode)

    def test_reused_buffers_follow_shape_changes(self):
        """Intermediates kept between calls are resized when the batch changes."""
        from sknet.ops import corr2d, pool_2d

        x, w = T.tensor4("x"), T.tensor4("w")
        f = pytensor.function([x, w], pool_2d(corr2d(x, w) * 2, (2, 2)).sum(axis=(1, 2, 3)), mode=backend.get_mode())
        rng = np.random.default_rng(0)
        W = rng.standard_normal((2, 1, 3, 3)).astype("float32")
        ref = pytensor.function(
            [x, w],
            pool_2d(corr2d(x, w) * 2, (2, 2)).sum(axis=(1, 2, 3)),
            mode=pytensor.compile.mode.Mode("py", "fast_compile"),
        )
        for n in (5, 3, 5, 1):
            X = rng.standard_normal((n, 1, 8, 8)).astype("float32")
            np.testing.assert_allclose(f(X, W), ref(X, W), rtol=1e-5)

    def test_mode_instance_passes_through(self):
        m = backend.get_mode("CVM")
        assert backend.get_mode(m) is m

    def test_bad_mode_type(self):
        with pytest.raises(TypeError, match="mode must be"):
            backend.get_mode(3)


def test_blas_gemm_matches_numpy(mode):
    """The linked BLAS computes the right numbers in compiled dot/gemm."""
    rng = np.random.RandomState(0)
    a = T.matrix("a")
    b = T.matrix("b")
    c = pytensor.shared(rng.rand(5, 3).astype("float32"))
    f = pytensor.function([a, b], T.dot(a, b) * 2 + c, mode=mode)
    A = rng.rand(5, 4).astype("float32")
    B = rng.rand(4, 3).astype("float32")
    np.testing.assert_allclose(f(A, B), 2 * A @ B + c.get_value(), rtol=1e-5)


class TestBlasThreads:
    def test_set_and_restore(self):
        before = backend.set_blas_threads(1)
        assert before == 1
        assert backend.set_blas_threads(2) == 2

    def test_rejects_zero(self):
        with pytest.raises(ValueError, match="at least 1"):
            backend.set_blas_threads(0)

    def test_environment_variable(self):
        out, _ = _run(
            "import sknet, sknet.backend as b\nprint(b._openblas_library().scipy_openblas_get_num_threads())",
            SKNET_BLAS_THREADS="1",
        )
        assert out.strip() == "1"
