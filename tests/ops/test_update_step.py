"""UpdateStep (and AdamStep, its adam) against numpy, in place or not, in every mode."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest

import sknet
from sknet import updates
from sknet.ops.adam import AdamStep
from sknet.ops.update_step import RULES, UpdateStep

B1, B2, EPS = 0.9, 0.999, 1e-8


def _adam_reference(p, m, v, g, a):
    m = B1 * m + (1 - B1) * g
    v = B2 * v + (1 - B2) * g * g
    return p - a * m / (np.sqrt(v) + EPS), m, v


def _compiled_step(op, shape, dtype, mode, grad_of=lambda g: g):
    """Shared parameter and states, ``f(grad, *scalars)`` applying ``op`` to them."""
    rule = RULES[op.rule]
    rng = np.random.default_rng(0)
    shared = [pytensor.shared(rng.normal(size=shape).astype(dtype))]
    shared += [pytensor.shared(np.abs(rng.normal(size=shape)).astype(dtype)) for _ in rule.states]
    g = T.tensor("g", dtype=dtype, shape=(None,) * len(shape))
    scalars = [T.scalar(name, dtype=dtype) for name in rule.scalars]
    new = op.make_node(*shared, grad_of(g), *scalars).outputs
    return shared, pytensor.function([g, *scalars], [], updates=list(zip(shared, new)), mode=mode)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adam_three_steps_match_numpy(dtype, mode):
    if dtype == "float64" and sknet.config.mode_for_tests() == "JAX":
        import jax

        if not jax.config.jax_enable_x64:
            pytest.skip("JAX without x64 computes float64 arrays in float32")
    shared, f = _compiled_step(AdamStep(B1, B2, EPS), (4, 3), dtype, mode)
    rng = np.random.default_rng(1)
    ref = [s.get_value().astype(np.float64) for s in shared]
    for step in range(3):
        G = rng.normal(size=(4, 3)).astype(dtype)
        f(G, np.asarray(0.01 * (step + 1), dtype))
        ref = _adam_reference(*ref, G.astype(np.float64), 0.01 * (step + 1))
        rtol = 1e-5 if dtype == "float32" else 1e-12
        for got, want in zip(shared, ref):
            np.testing.assert_allclose(got.get_value(), want, rtol=rtol, atol=rtol)


# each rule's step on 3 x 4 arrays, against the same arithmetic in float64:
# constants and scalars that are not the rules' defaults
CONSTANTS = {"epsilon": 1e-3, "rho": 0.8, "beta1": 0.8, "beta2": 0.99}
SCALARS = {"learning_rate": 0.05, "momentum": 0.7, "step": 0.02}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_rule_in_c_matches_its_formula_in_float64(rule, mode):
    spec = RULES[rule]
    op = UpdateStep(rule, [CONSTANTS[c] for c in spec.constants])
    shared, f = _compiled_step(op, (3, 4), "float32", mode)
    scalars = [SCALARS[s] for s in spec.scalars]
    ref = [s.get_value().astype(np.float64) for s in shared]
    rng = np.random.default_rng(2)
    for _ in range(3):
        G = rng.normal(size=(3, 4)).astype("float32")
        f(G, *np.float32(scalars))
        ref = spec.formula(np, *ref, G.astype(np.float64), *scalars, *op.constants)
        for got, want in zip(shared, ref):
            np.testing.assert_allclose(got.get_value(), want, rtol=2e-5, atol=1e-6)


def test_the_rewrites_make_it_in_place_in_c_and_expand_it_in_jit_modes(mode):
    W = pytensor.shared(np.ones((3, 2), "float32"), name="W")
    b = pytensor.shared(np.zeros(2, "float32"), name="b")
    x = T.matrix("x")
    loss = T.sqr(T.dot(x, W) + b).mean()
    f = pytensor.function([x], loss, updates=updates.adam(loss, [W, b]), mode=mode)
    steps = [n.op for n in f.maker.fgraph.apply_nodes if isinstance(n.op, UpdateStep)]
    if sknet.config.mode_for_tests() == "CVM":
        assert len(steps) == 2 and all(isinstance(op, AdamStep) and op.inplace for op in steps)
    else:  # NUMBA and JAX compile the step's expressions
        assert steps == []


def test_parameter_read_in_the_same_call_sees_the_old_value(mode):
    """An output that reads the parameter is computed before the in-place step."""
    W = pytensor.shared(np.ones((2, 2), "float32"), name="W")
    x = T.matrix("x")
    loss = T.sqr(T.dot(x, W)).sum()
    f = pytensor.function([x], [W * 1, loss], updates=updates.adam(loss, [W], learning_rate=0.5), mode=mode)
    before, _ = f(np.ones((2, 2), "float32"))
    np.testing.assert_array_equal(before, np.ones((2, 2), "float32"))
    assert (W.get_value() < 1).all()


def test_non_contiguous_gradient(mode):
    shared, f = _compiled_step(UpdateStep("sgd"), (3, 4), "float32", mode, grad_of=lambda g: g.T)
    p0 = shared[0].get_value()
    G = np.arange(12, dtype="float32").reshape(4, 3) - 5
    f(G, np.float32(0.1))
    np.testing.assert_allclose(shared[0].get_value(), p0 - 0.1 * G.T, rtol=1e-6)


def test_python_implementation_matches_c():
    """``perform`` (PyTensor's Python linker) computes what the C code does."""
    op = UpdateStep("amsgrad", (B1, B2, EPS))
    results = []
    for mode in (sknet.backend.get_mode("CVM"), pytensor.compile.mode.Mode(linker="py", optimizer=None)):
        shared, f = _compiled_step(op, (2, 5), "float32", mode)
        f(np.linspace(-1, 1, 10, dtype="float32").reshape(2, 5), np.float32(0.1))
        results.append([s.get_value() for s in shared])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_bad_inputs_raise():
    with pytest.raises(TypeError, match="float32 or float64"):
        AdamStep(B1, B2, EPS)(T.ivector(), T.ivector(), T.ivector(), T.ivector(), 0.1)
    with pytest.raises(TypeError, match="one shape"):
        AdamStep(B1, B2, EPS)(T.matrix(), T.matrix(), T.matrix(), T.vector(), 0.1)
    with pytest.raises(TypeError, match="scalars"):
        AdamStep(B1, B2, EPS)(T.matrix(), T.matrix(), T.matrix(), T.matrix(), T.vector())
    with pytest.raises(TypeError, match="takes the parameter, 1 states, the gradient and 2 scalars"):
        UpdateStep("momentum")(T.matrix(), T.matrix(), 0.1, 0.9)
    with pytest.raises(ValueError, match="unknown update rule 'adamw'"):
        UpdateStep("adamw")
    with pytest.raises(ValueError, match=r"rmsprop takes 2 numbers as constants \('rho', 'epsilon'\)"):
        UpdateStep("rmsprop", (0.9,))
