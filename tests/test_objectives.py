"""Losses and accuracies against numpy formulas, and their gradients."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.gradient import verify_grad

from sknet import objectives as obj
from sknet.nonlinearities import softmax

RTOL = 1e-5

rng = np.random.RandomState(0)
P_BIN = rng.uniform(0.05, 0.95, size=(6, 3)).astype("float32")
T_BIN = (rng.uniform(size=(6, 3)) > 0.5).astype("float32")
P_COL = rng.uniform(0.05, 0.95, size=(6, 1)).astype("float32")
T_COL = np.array([0, 1, 1, 0, 1, 0], dtype="float32")
_logits = rng.randn(6, 4)
P_CAT = (np.exp(_logits) / np.exp(_logits).sum(1, keepdims=True)).astype("float32")
T_INT = np.array([0, 3, 1, 2, 2, 1], dtype="int32")
T_ONEHOT = np.eye(4, dtype="float32")[T_INT]
T_SOFT = rng.dirichlet(np.ones(4), size=6).astype("float32")
SCORES = rng.randn(6, 4).astype("float32")
W_AGG = rng.uniform(0.5, 2.0, size=6).astype("float32")


def np_bce(p, t):
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def np_multiclass_hinge(s, t, delta):
    correct = s[np.arange(len(t)), t]
    others = np.where(np.eye(s.shape[1], dtype=bool)[t], -np.inf, s).max(axis=1)
    return np.maximum(others - correct + delta, 0)


@pytest.fixture(scope="module")
def results(mode):
    """Every objective expression, compiled into one function and evaluated."""
    p_bin, t_bin = T.matrix("p_bin"), T.matrix("t_bin")
    p_col = T.tensor("p_col", dtype="float32", shape=(None, 1))
    t_col = T.vector("t_col")
    p_cat, t_int, t_mat = T.matrix("p_cat"), T.ivector("t_int"), T.matrix("t_mat")
    t_soft, scores, w = T.matrix("t_soft"), T.matrix("scores"), T.vector("w")
    loss = T.vector("loss")
    exprs = {
        "bce": obj.binary_crossentropy(p_bin, t_bin),
        "bce_col": obj.binary_crossentropy(p_col, t_col),
        "cce_int": obj.categorical_crossentropy(p_cat, t_int),
        "cce_onehot": obj.categorical_crossentropy(p_cat, t_mat),
        "cce_soft": obj.categorical_crossentropy(p_cat, t_soft),
        "se": obj.squared_error(p_bin, t_bin),
        "se_col": obj.squared_error(p_col, t_col),
        "bhinge_logodds": obj.binary_hinge_loss(scores, t_bin[:, :1].repeat(4, axis=1), log_odds=True),
        "bhinge_probs": obj.binary_hinge_loss(p_bin, t_bin, delta=0.5, log_odds=False),
        "bhinge_pm1": obj.binary_hinge_loss(scores[:, :3], 2 * t_bin - 1, log_odds=True, binary=False),
        "bhinge_col": obj.binary_hinge_loss(p_col, t_col, log_odds=True),
        "mhinge_int": obj.multiclass_hinge_loss(scores, t_int),
        "mhinge_onehot": obj.multiclass_hinge_loss(scores, t_mat, delta=0.3),
        "agg_mean": obj.aggregate(loss),
        "agg_sum": obj.aggregate(loss, mode="sum"),
        "agg_wmean": obj.aggregate(loss, w),
        "agg_wsum": obj.aggregate(loss, w, mode="sum"),
        "agg_norm": obj.aggregate(loss, w, mode="normalized_sum"),
        "bacc": obj.binary_accuracy(p_bin, t_bin),
        "bacc_thr": obj.binary_accuracy(p_bin, t_bin, threshold=0.7),
        "bacc_col": obj.binary_accuracy(p_col, t_col),
        "cacc": obj.categorical_accuracy(p_cat, t_int),
        "cacc_onehot": obj.categorical_accuracy(p_cat, t_mat),
        "cacc_top2": obj.categorical_accuracy(p_cat, t_int, top_k=2),
        "cacc_top3": obj.categorical_accuracy(p_cat, t_mat, top_k=3),
    }
    inputs = [p_bin, t_bin, p_col, t_col, p_cat, t_int, t_mat, t_soft, scores, w, loss]
    f = pytensor.function(inputs, list(exprs.values()), mode=mode, on_unused_input="ignore")
    values = f(P_BIN, T_BIN, P_COL, T_COL, P_CAT, T_INT, T_ONEHOT, T_SOFT, SCORES, W_AGG, -np.log(P_CAT[:, 0]))
    return dict(zip(exprs, values))


def test_binary_crossentropy(results):
    np.testing.assert_allclose(results["bce"], np_bce(P_BIN, T_BIN), rtol=RTOL)
    # a target vector is aligned with a one-column prediction, not broadcast
    assert results["bce_col"].shape == (6, 1)
    np.testing.assert_allclose(results["bce_col"], np_bce(P_COL, T_COL[:, None]), rtol=RTOL)


def test_categorical_crossentropy(results):
    expected = -np.log(P_CAT[np.arange(6), T_INT])
    np.testing.assert_allclose(results["cce_int"], expected, rtol=RTOL)
    np.testing.assert_allclose(results["cce_onehot"], expected, rtol=RTOL)
    np.testing.assert_allclose(results["cce_soft"], -(T_SOFT * np.log(P_CAT)).sum(axis=1), rtol=RTOL)


def test_squared_error(results):
    np.testing.assert_allclose(results["se"], (P_BIN - T_BIN) ** 2, rtol=RTOL)
    np.testing.assert_allclose(results["se_col"], (P_COL - T_COL[:, None]) ** 2, rtol=RTOL)


def test_binary_hinge_loss(results):
    t_pm = 2 * T_BIN - 1
    np.testing.assert_allclose(results["bhinge_logodds"], np.maximum(1 - SCORES * t_pm[:, :1], 0), rtol=RTOL)
    log_odds = np.log(P_BIN / (1 - P_BIN))
    np.testing.assert_allclose(results["bhinge_probs"], np.maximum(0.5 - log_odds * t_pm, 0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(results["bhinge_pm1"], np.maximum(1 - SCORES[:, :3] * t_pm, 0), rtol=RTOL)
    np.testing.assert_allclose(results["bhinge_col"], np.maximum(1 - P_COL * (2 * T_COL[:, None] - 1), 0), rtol=RTOL)
    assert (results["bhinge_logodds"] > 0).any() and (results["bhinge_logodds"] == 0).any()


def test_binary_hinge_loss_warns_without_log_odds():
    with pytest.warns(FutureWarning, match="log_odds"):
        obj.binary_hinge_loss(T.vector(), T.vector())


def test_multiclass_hinge_loss(results):
    np.testing.assert_allclose(results["mhinge_int"], np_multiclass_hinge(SCORES, T_INT, 1.0), rtol=RTOL)
    np.testing.assert_allclose(results["mhinge_onehot"], np_multiclass_hinge(SCORES, T_INT, 0.3), rtol=RTOL)
    with pytest.raises(TypeError, match="rank mismatch"):
        obj.multiclass_hinge_loss(T.matrix(), T.tensor3())


def test_aggregate(results):
    loss = -np.log(P_CAT[:, 0])
    np.testing.assert_allclose(results["agg_mean"], loss.mean(), rtol=RTOL)
    np.testing.assert_allclose(results["agg_sum"], loss.sum(), rtol=RTOL)
    np.testing.assert_allclose(results["agg_wmean"], (loss * W_AGG).mean(), rtol=RTOL)
    np.testing.assert_allclose(results["agg_wsum"], (loss * W_AGG).sum(), rtol=RTOL)
    np.testing.assert_allclose(results["agg_norm"], (loss * W_AGG).sum() / W_AGG.sum(), rtol=RTOL)
    with pytest.raises(ValueError, match="requires weights"):
        obj.aggregate(T.vector(), mode="normalized_sum")
    with pytest.raises(ValueError, match="mode must be"):
        obj.aggregate(T.vector(), mode="median")


def test_binary_accuracy(results):
    np.testing.assert_array_equal(results["bacc"], (P_BIN >= 0.5) == T_BIN)
    np.testing.assert_array_equal(results["bacc_thr"], (P_BIN >= 0.7) == T_BIN)
    np.testing.assert_array_equal(results["bacc_col"], (P_COL >= 0.5) == T_COL[:, None])


def test_categorical_accuracy(results):
    ranks = (P_CAT > P_CAT[np.arange(6), T_INT][:, None]).sum(axis=1)  # 0 = top
    np.testing.assert_array_equal(results["cacc"], ranks < 1)
    np.testing.assert_array_equal(results["cacc_onehot"], ranks < 1)
    np.testing.assert_array_equal(results["cacc_top2"], ranks < 2)
    np.testing.assert_array_equal(results["cacc_top3"], ranks < 3)
    # the fixture must exercise both outcomes for the top-k checks to mean anything
    assert 0 < results["cacc"].sum() < results["cacc_top2"].sum() < 6
    with pytest.raises(TypeError, match="rank mismatch"):
        obj.categorical_accuracy(T.matrix(), T.tensor3())


def test_categorical_crossentropy_rank_mismatch():
    with pytest.raises(TypeError, match="categorical_crossentropy"):
        obj.categorical_crossentropy(T.matrix(), T.tensor3())


def test_softmax_crossentropy_is_finite_for_extreme_logits(mode):
    """log(softmax) is rewritten to log-softmax: no inf/NaN although the
    target's probability underflows to 0 in float32."""
    x, t = T.matrix("x"), T.ivector("t")
    loss = obj.categorical_crossentropy(softmax(x), t).sum()
    f = pytensor.function([x, t], [loss, pytensor.grad(loss, x)], mode=mode)
    logits = np.array([[100.0, 0.0, -100.0], [0.0, 0.0, 0.0]], dtype="float32")
    value, grad = f(logits, np.array([2, 0], dtype="int32"))
    np.testing.assert_allclose(value, 200.0 + np.log(3.0), rtol=RTOL)
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad[0], [1.0, 0.0, -1.0], atol=1e-6)


def test_objectives_gradients(mode):
    """One verify_grad over every differentiable loss, away from hinge kinks."""
    r = np.random.RandomState(3)
    p_bin = r.uniform(0.1, 0.9, size=(4, 3))
    t_bin = (r.uniform(size=(4, 3)) > 0.5).astype("float64")
    t_int = np.array([2, 0, 1, 2], dtype="int32")
    t_soft = r.dirichlet(np.ones(3), size=4)
    # scores with the true class clearly in or out of the margin
    scores = np.array([[0.2, 0.1, 2.0], [0.5, 0.9, 0.3], [0.1, 3.0, 1.0], [2.0, 0.3, 0.4]])

    def losses(p, logits, s):
        probs = T.special.softmax(logits, axis=-1)
        parts = [
            obj.binary_crossentropy(p, t_bin),
            obj.squared_error(p, t_bin),
            obj.binary_hinge_loss(p, t_bin, log_odds=False, delta=3.0),
            obj.categorical_crossentropy(probs, t_int),
            obj.categorical_crossentropy(probs, t_soft),
            obj.multiclass_hinge_loss(s, t_int),
            obj.binary_hinge_loss(s, t_bin, log_odds=True, delta=5.0),
        ]
        return T.concatenate([T.flatten(part) for part in parts])

    verify_grad(losses, [p_bin, r.randn(4, 3), scores], rng=r, mode=mode)


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_huber_loss(delta, mode):
    rng = np.random.RandomState(0)
    p_np = (rng.randn(6, 3) * 2).astype("float32")
    t_np = rng.randn(6, 3).astype("float32")
    p, t = T.matrix("p"), T.matrix("t")
    f = pytensor.function([p, t], obj.huber_loss(p, t, delta), mode=mode)
    d = np.abs(p_np - t_np)
    expected = np.where(d <= delta, 0.5 * d**2, delta * (d - delta / 2))
    assert (d > delta).any() and (d <= delta).any()
    np.testing.assert_allclose(f(p_np, t_np), expected, rtol=1e-5)
    verify_grad(
        lambda a: obj.huber_loss(a, T.constant(t_np.astype("float64")), delta).sum(),
        [p_np.astype("float64")],
        rng=rng,
        mode=mode,
    )


def test_huber_loss_aligns_a_target_vector(mode):
    p = T.matrix("p", shape=(None, 1))
    t = T.vector("t")
    f = pytensor.function([p, t], obj.huber_loss(p, t), mode=mode)
    out = f(np.float32([[0.5], [3.0]]), np.float32([0.0, 0.0]))
    np.testing.assert_allclose(out, [[0.125], [2.5]])
