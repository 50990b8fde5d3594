"""Update rules against numpy implementations of their formulas."""

import warnings
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest

import sknet
from sknet import updates
from sknet.ops.update_step import RULES as STEP_RULES
from sknet.ops.update_step import UpdateStep

# sknet's C mode makes the fused step; its NUMBA and JAX modes expand it
CVM = sknet.config.mode_for_tests() == "CVM"

# ATOL: the least-squares run drives some weights from 0.5 through ~0 in 5
# adam steps of ~0.1, where the step's direction m / sqrt(v) depends on
# gradients near zero, computed in float32: the trajectory there moves by
# ~3e-6 under perturbations of one float32 rounding (PyTensor's own adam
# expression with float64 instead of float32 constants lands 2.2e-6 from the
# float64 reference). A wrong update is off by 1e-3 or more.
RTOL, ATOL = 1e-4, 1e-5


# ---------------------------------------------------------------------------
# numpy references: one step for one parameter, with a per-parameter state
# dict and the (1-based) step number t
# ---------------------------------------------------------------------------


def np_sgd(p, g, s, hp, t):
    return p - hp["learning_rate"] * g


def np_momentum(p, g, s, hp, t):
    s["v"] = hp["momentum"] * s.get("v", 0.0) - hp["learning_rate"] * g
    return p + s["v"]


def np_nesterov(p, g, s, hp, t):
    s["v"] = hp["momentum"] * s.get("v", 0.0) - hp["learning_rate"] * g
    return p + hp["momentum"] * s["v"] - hp["learning_rate"] * g


def np_adagrad(p, g, s, hp, t):
    s["a"] = s.get("a", 0.0) + g**2
    return p - hp["learning_rate"] * g / np.sqrt(s["a"] + hp["epsilon"])


def np_rmsprop(p, g, s, hp, t):
    s["a"] = hp["rho"] * s.get("a", 0.0) + (1 - hp["rho"]) * g**2
    return p - hp["learning_rate"] * g / np.sqrt(s["a"] + hp["epsilon"])


def np_adadelta(p, g, s, hp, t):
    rho, eps = hp["rho"], hp["epsilon"]
    s["a"] = rho * s.get("a", 0.0) + (1 - rho) * g**2
    step = g * np.sqrt(s.get("d", 0.0) + eps) / np.sqrt(s["a"] + eps)
    s["d"] = rho * s.get("d", 0.0) + (1 - rho) * step**2
    return p - hp["learning_rate"] * step


def np_adam(p, g, s, hp, t):
    b1, b2 = hp["beta1"], hp["beta2"]
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g**2
    a_t = hp["learning_rate"] * np.sqrt(1 - b2**t) / (1 - b1**t)
    return p - a_t * s["m"] / (np.sqrt(s["v"]) + hp["epsilon"])


def np_adamax(p, g, s, hp, t):
    b1, b2 = hp["beta1"], hp["beta2"]
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["u"] = np.maximum(b2 * s.get("u", 0.0), np.abs(g))
    return p - hp["learning_rate"] / (1 - b1**t) * s["m"] / (s["u"] + hp["epsilon"])


def np_amsgrad(p, g, s, hp, t):
    b1, b2 = hp["beta1"], hp["beta2"]
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g**2
    s["v_hat"] = np.maximum(s.get("v_hat", 0.0), s["v"])
    a_t = hp["learning_rate"] * np.sqrt(1 - b2**t) / (1 - b1**t)
    return p - a_t * s["m"] / (np.sqrt(s["v_hat"]) + hp["epsilon"])


# rule, numpy reference, hyper-parameters (non-default, to show they are
# used) for the fixed-gradient check, and for the least-squares problem
RULES = [
    (updates.sgd, np_sgd, {"learning_rate": 0.1}, {"learning_rate": 0.1}),
    (
        updates.momentum,
        np_momentum,
        {"learning_rate": 0.1, "momentum": 0.8},
        {"learning_rate": 0.05, "momentum": 0.9},
    ),
    (
        updates.nesterov_momentum,
        np_nesterov,
        {"learning_rate": 0.1, "momentum": 0.8},
        {"learning_rate": 0.05, "momentum": 0.9},
    ),
    (updates.adagrad, np_adagrad, {"learning_rate": 0.5, "epsilon": 1e-3}, {"learning_rate": 0.5, "epsilon": 1e-6}),
    (
        updates.rmsprop,
        np_rmsprop,
        {"learning_rate": 0.1, "rho": 0.8, "epsilon": 1e-3},
        {"learning_rate": 0.01, "rho": 0.9, "epsilon": 1e-6},
    ),
    (
        updates.adadelta,
        np_adadelta,
        {"learning_rate": 0.5, "rho": 0.8, "epsilon": 1e-3},
        {"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-2},
    ),
    (
        updates.adam,
        np_adam,
        {"learning_rate": 0.01, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-4},
        {"learning_rate": 0.1, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
    ),
    (
        updates.adamax,
        np_adamax,
        {"learning_rate": 0.01, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-4},
        {"learning_rate": 0.1, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
    ),
    (
        updates.amsgrad,
        np_amsgrad,
        {"learning_rate": 0.01, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-4},
        {"learning_rate": 0.1, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
    ),
]
IDS = [rule.__name__ for rule, *_ in RULES]

# Lasagne's defaults, checked against the signatures
DEFAULTS = {
    "sgd": {},
    "momentum": {"momentum": 0.9},
    "nesterov_momentum": {"momentum": 0.9},
    "adagrad": {"learning_rate": 1.0, "epsilon": 1e-6},
    "rmsprop": {"learning_rate": 1.0, "rho": 0.9, "epsilon": 1e-6},
    "adadelta": {"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-6},
    "adam": {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
    "adamax": {"learning_rate": 0.002, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
    "amsgrad": {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
}


def _params():
    """A weight matrix and a bias that is broadcastable along axis 0."""
    W = pytensor.shared(np.full((3, 2), 0.5, dtype="float32"), name="W")
    b = pytensor.shared(np.array([[0.1, -0.2]], dtype="float32"), shape=(1, None), name="b")
    return W, b


def _np_run(reference, values, grads_per_step, hps_per_step):
    states = [dict() for _ in values]
    values = [v.astype("float64") for v in values]
    history = []
    for t, (grads, hp) in enumerate(zip(grads_per_step, hps_per_step), start=1):
        values = [reference(p, g, s, hp, t) for p, g, s in zip(values, grads, states)]
        history.append(values)
    return history


def _fixed_gradient_run(rule, reference, hp, mode, shared_names):
    """Five steps from fixed gradients, each checked against numpy.

    The hyper-parameters in ``shared_names`` are float32 shared variables, the
    others numbers; the learning rate is halved after three steps without
    recompiling. Returns the compiled function and the final parameters.
    """
    W, b = _params()
    gW = T.matrix("gW")
    gb = T.tensor("gb", dtype="float32", shape=(1, None))
    hyper = {k: pytensor.shared(np.float32(v), name=k) if k in shared_names else v for k, v in hp.items()}
    f = pytensor.function([gW, gb], [], updates=rule([gW, gb], [W, b], **hyper), mode=mode)

    rng = np.random.RandomState(0)
    n_steps = 5
    grads = [[rng.randn(3, 2).astype("float32"), rng.randn(1, 2).astype("float32")] for _ in range(n_steps)]
    hps = [dict(hp) for _ in range(n_steps)]
    for later in hps[3:]:
        later["learning_rate"] = hp["learning_rate"] / 2
    expected = _np_run(reference, [W.get_value(), b.get_value()], grads, hps)

    for step in range(n_steps):
        if step == 3:
            hyper["learning_rate"].set_value(np.float32(hp["learning_rate"] / 2))
        f(*grads[step])
        np.testing.assert_allclose(W.get_value(), expected[step][0], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(b.get_value(), expected[step][1], rtol=RTOL, atol=ATOL)
    assert W.get_value().dtype == np.float32 and b.get_value().dtype == np.float32
    return f, [W.get_value(), b.get_value()]


def _update_steps(f):
    return [node.op for node in f.maker.fgraph.apply_nodes if isinstance(node.op, UpdateStep)]


@pytest.mark.parametrize("rule, reference, hp, _", RULES, ids=IDS)
def test_matches_numpy_with_shared_hyperparameters(rule, reference, hp, _, mode):
    """Every hyper-parameter in a shared variable: rho, beta1, ... symbolic,
    so the step is PyTensor's expressions (sgd and the momentums have no
    static hyper-parameter: their step stays one op)."""
    f, _ = _fixed_gradient_run(rule, reference, hp, mode, shared_names=set(hp))
    assert bool(_update_steps(f)) == (CVM and not STEP_RULES[rule.__name__].constants)


# what sknet.hyperparams injects as shared variables; the others stay numbers
INJECTED = {"learning_rate", "momentum"}


@pytest.mark.parametrize("rule, reference, hp, _", RULES, ids=IDS)
def test_fused_step_matches_numpy_and_the_plain_graph(rule, reference, hp, _, mode):
    """As an estimator builds it (learning rate and momentum shared, the rest
    numbers): one UpdateStep per parameter, in place, matching numpy; the
    same updates compiled as PyTensor's expressions give the same numbers."""
    f, fused = _fixed_gradient_run(rule, reference, hp, mode, INJECTED)
    steps = _update_steps(f)
    if CVM:
        assert len(steps) == 2 and all(op.inplace and op.rule == rule.__name__ for op in steps)
    else:  # sknet's NUMBA and JAX modes compile the expressions
        assert steps == []
    f, plain = _fixed_gradient_run(rule, reference, hp, mode.including("sknet_update_step_expand"), INJECTED)
    assert _update_steps(f) == []
    for got, want in zip(fused, plain):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def _all_rules_three_steps(mode):
    """Every rule, as an estimator builds it, on its own 3 x 2 weight in one
    function of ``mode``; the weights after three steps."""
    g = T.matrix("g")
    upd, weights = OrderedDict(), []
    for rule, _, hp, _ in RULES:
        W = pytensor.shared(np.full((3, 2), 0.5, dtype="float32"), name=rule.__name__)
        hyper = {k: pytensor.shared(np.float32(v)) if k in INJECTED else v for k, v in hp.items()}
        upd.update(rule([g], [W], **hyper))
        weights.append(W)
    f = pytensor.function([g], [], updates=upd, mode=mode)
    rng = np.random.RandomState(3)
    for _ in range(3):
        f(rng.randn(3, 2).astype("float32"))
    return [W.get_value() for W in weights]


@pytest.fixture(scope="module")
def c_mode_weights():
    return _all_rules_three_steps(sknet.backend.get_mode("CVM"))


@pytest.mark.parametrize("backend", ["JAX", pytest.param("NUMBA", marks=pytest.mark.slow)])
def test_jit_backends_give_the_c_numbers_and_no_float64(backend, c_mode_weights):
    """NUMBA and JAX compile the steps' expressions: the fused C op's numbers,
    and nothing in float64 (JAX without x64 warned and truncated adam's step size)."""
    pytest.importorskip(backend.lower())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        weights = _all_rules_three_steps(sknet.backend.get_mode(backend))
    assert [str(w.message) for w in caught if "float64" in str(w.message)] == []
    for name, got, want in zip(IDS, weights, c_mode_weights):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7, err_msg=name)


@pytest.fixture(scope="module")
def least_squares():
    rng = np.random.RandomState(42)
    X = rng.randn(40, 3).astype("float32")
    W_true = rng.randn(3, 2).astype("float32")
    b_true = rng.randn(1, 2).astype("float32")
    Y = (X @ W_true + b_true).astype("float32")
    return X, Y


def _np_least_squares_grads(X, Y, W, b):
    r = X @ W + b - Y
    scale = 2.0 / r.size
    return [scale * X.T @ r, scale * r.sum(axis=0, keepdims=True)], float(np.mean(r**2))


@pytest.mark.parametrize("rule, reference, _, hp", RULES, ids=IDS)
def test_least_squares_loss_falls_and_matches_numpy(rule, reference, _, hp, least_squares, mode):
    """Gradients from the loss, Python-float hyper-parameters: the first steps
    follow the numpy reference and 200 steps cut the loss at least 100-fold."""
    X_np, Y_np = least_squares
    W, b = _params()
    X, Y = T.constant(X_np), T.constant(Y_np)
    loss = T.mean(T.sqr(T.dot(X, W) + b - Y))
    upd = rule(loss, [W, b], **hp)
    f = pytensor.function([], loss, updates=upd, mode=mode)

    states = [dict(), dict()]
    values = [W.get_value().astype("float64"), b.get_value().astype("float64")]
    losses = []
    for t in range(1, 201):
        grads, np_loss = _np_least_squares_grads(X_np, Y_np, *values)
        losses.append(float(f()))
        if t <= 5:
            np.testing.assert_allclose(losses[-1], np_loss, rtol=RTOL)
            values = [reference(p, g, s, hp, t) for p, g, s in zip(values, grads, states)]
            np.testing.assert_allclose(W.get_value(), values[0], rtol=RTOL, atol=ATOL)
            np.testing.assert_allclose(b.get_value(), values[1], rtol=RTOL, atol=ATOL)
    assert losses[-1] < losses[0] / 100, (losses[0], losses[-1])
    assert np.isfinite(losses).all()


@pytest.mark.parametrize("rule", [r for r, *_ in RULES], ids=IDS)
def test_lasagne_defaults(rule):
    import inspect

    params = inspect.signature(rule).parameters
    assert list(params)[:3] == ["loss_or_grads", "params", "learning_rate"]
    defaults = {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
    assert defaults == DEFAULTS[rule.__name__]


@pytest.mark.parametrize("rule, _, hp, __", RULES, ids=IDS)
def test_state_matches_param_type_and_keeps_float32(rule, _, hp, __):
    """Under floatX=float64, Python-float hyper-parameters would upcast; every
    update must still have exactly its variable's type, and accumulators
    copy the parameter's broadcastable pattern."""
    W, b = _params()
    with pytensor.config.change_flags(floatX="float64"):
        upd = rule(T.sum(T.sqr(W)) + T.sum(b), [W, b], **hp)
        upd64 = rule(T.sum(T.sqr(W)) + T.sum(b), [W, b], **{k: pytensor.shared(np.float64(v)) for k, v in hp.items()})
    for u in (upd, upd64):
        assert isinstance(u, OrderedDict)
        assert W in u and b in u
        for var, new in u.items():
            assert new.type == var.type, (var, new.type, var.type)
            assert var.dtype == "float32"
        for var in u:
            if var.get_value().shape == (1, 2):
                assert var.broadcastable == (True, False)


def test_apply_momentum_only_to_given_params_and_copies_dict():
    W, b = _params()
    base = updates.sgd(T.sum(T.sqr(W)) + T.sum(b), [W, b], 0.1)
    before = dict(base)
    for apply in (updates.apply_momentum, updates.apply_nesterov_momentum):
        upd = apply(base, params=[W], momentum=0.5)
        assert dict(base) == before
        assert len(upd) == 3
        assert upd[b] is base[b]
        assert upd[W] is not base[W]


def test_apply_momentum_on_top_of_adagrad(mode):
    """Composition: momentum applied to another rule's steps (Lasagne allows this)."""
    W = pytensor.shared(np.float32([1.0, -2.0]), name="w")
    g = T.vector("g")
    upd = updates.apply_momentum(updates.adagrad([g], [W], learning_rate=0.5), params=[W], momentum=0.5)
    f = pytensor.function([g], [], updates=upd, mode=mode)
    p, a, v = np.array([1.0, -2.0]), 0.0, 0.0
    for grad in ([1.0, 2.0], [0.5, -1.0], [-1.0, 0.3]):
        grad = np.array(grad)
        f(grad.astype("float32"))
        a = a + grad**2
        v = 0.5 * v - 0.5 * grad / np.sqrt(a + 1e-6)
        p = p + v
        np.testing.assert_allclose(W.get_value(), p, rtol=RTOL)


def test_get_or_compute_grads():
    W, b = _params()
    with pytest.raises(ValueError, match="shared variables only"):
        updates.get_or_compute_grads(T.sum(W), [W, T.matrix()])
    with pytest.raises(ValueError, match="1 gradient expressions for 2 parameters"):
        updates.get_or_compute_grads([T.matrix()], [W, b])
    grads = [T.matrix(), T.matrix()]
    assert updates.get_or_compute_grads(grads, [W, b]) is grads
    # any iterable of params works, as the rules turn it into a list once
    gW, gb = updates.get_or_compute_grads(T.sum(W) + 3 * T.sum(b), (p for p in [W, b]))
    np.testing.assert_allclose(T.stack([gW[0, 0], gb[0, 1]]).eval(), [1.0, 3.0])


def _np_norm_constraint(x, max_norm, axes, eps=1e-7):
    norms = np.sqrt(np.sum(x**2, axis=axes, keepdims=True))
    return x * np.clip(norms, 0, max_norm) / (eps + norms)


def test_norm_constraint(mode):
    rng = np.random.RandomState(0)
    dense = rng.randn(5, 4).astype("float32")
    conv = rng.randn(3, 2, 3, 3).astype("float32")
    x2, x4 = T.matrix(), T.tensor4()
    outs = [
        updates.norm_constraint(x2, 1.5),
        updates.norm_constraint(x4, 2.0),
        updates.norm_constraint(x2, 1.0, norm_axes=(1,)),
        updates.norm_constraint(x2, 100.0),
    ]
    assert all(o.dtype == "float32" for o in outs)
    f = pytensor.function([x2, x4], outs, mode=mode)
    got = f(dense, conv)
    np.testing.assert_allclose(got[0], _np_norm_constraint(dense, 1.5, (0,)), rtol=1e-5)
    np.testing.assert_allclose(got[1], _np_norm_constraint(conv, 2.0, (1, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(got[2], _np_norm_constraint(dense, 1.0, (1,)), rtol=1e-5)
    np.testing.assert_allclose(got[3], dense, rtol=1e-5)  # below the limit: kept
    col_norms = np.sqrt((got[0] ** 2).sum(axis=0))
    assert col_norms.max() <= 1.5 + 1e-5
    with pytest.raises(ValueError, match="Must specify `norm_axes`"):
        updates.norm_constraint(T.vector(), 1.0)


def test_total_norm_constraint(mode):
    rng = np.random.RandomState(1)
    a_np = rng.randn(4, 3).astype("float32")
    b_np = rng.randn(3).astype("float32")
    a, b = T.matrix(), T.vector()
    (ca, cb), norm = updates.total_norm_constraint([a, b], 2.0, return_norm=True)
    big = updates.total_norm_constraint([a, b], 1e3)
    f = pytensor.function([a, b], [ca, cb, norm] + big, mode=mode)
    ca_v, cb_v, norm_v, big_a, big_b = f(a_np, b_np)

    total = np.sqrt((a_np**2).sum() + (b_np**2).sum())
    np.testing.assert_allclose(norm_v, total, rtol=1e-5)
    scale = 2.0 / (1e-7 + total)
    np.testing.assert_allclose(ca_v, a_np * scale, rtol=1e-5)
    np.testing.assert_allclose(cb_v, b_np * scale, rtol=1e-5)
    np.testing.assert_allclose(np.sqrt((ca_v**2).sum() + (cb_v**2).sum()), 2.0, rtol=1e-5)
    np.testing.assert_allclose(big_a, a_np, rtol=1e-5)
    np.testing.assert_allclose(big_b, b_np, rtol=1e-5)
    assert len(updates.total_norm_constraint([a, b], 2.0)) == 2
