"""Tests of the recurrent layers against numpy references of Lasagne's equations.

Compiling a scan costs seconds, so each layer class gets one compiled
function returning all its variants (mask, backwards, only_return_final,
unroll_scan, precompute_input=False, initial states as layers), shared by
the tests through module-scoped fixtures.
"""

import logging

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.gradient import verify_grad

from sknet import init, nonlinearities, objectives, updates
from sknet.layers import (
    CustomRecurrentLayer,
    DenseLayer,
    Gate,
    GRULayer,
    InputLayer,
    LSTMLayer,
    RecurrentLayer,
    get_all_params,
    get_output,
)

B, STEPS, F, N = 3, 5, 4, 6  # batch, time steps, features, units
RTOL, ATOL = 1e-4, 1e-5

# variants compiled together: (name, layer kwargs)
VARIANTS = [
    ("plain", {}),
    ("mask", {"mask": True}),
    ("backwards_mask", {"mask": True, "backwards": True}),
    ("final", {"only_return_final": True}),
    ("final_backwards_mask", {"only_return_final": True, "backwards": True, "mask": True}),
    ("unroll_mask", {"unroll_scan": True, "mask": True}),
    ("unroll_backwards", {"unroll_scan": True, "backwards": True}),
    ("no_precompute_mask", {"precompute_input": False, "mask": True}),
    ("init_layers", {"init_layers": True}),
]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _relu(x):
    return np.maximum(x, 0.0)


def _run_reference(step, X, states, mask, backwards):
    """Iterate ``step(x_t, *states) -> states`` over time; outputs the last state."""
    out = np.zeros(X.shape[:2] + states[-1].shape[1:])
    order = range(X.shape[1])[::-1] if backwards else range(X.shape[1])
    for t in order:
        new = step(X[:, t], *states)
        if mask is not None:
            m = mask[:, t, None] > 0
            new = [np.where(m, n, s) for n, s in zip(new, states)]
        states = new
        out[:, t] = states[-1]
    return out


def lstm_reference(X, p, mask=None, backwards=False, h0=None, c0=None, peepholes=True):
    def pre(x, h, gate):
        return x @ p[f"W_in_to_{gate}"] + h @ p[f"W_hid_to_{gate}"] + p[f"b_{gate}"]

    def step(x, c, h):
        i = pre(x, h, "ingate") + (c * p["W_cell_to_ingate"] if peepholes else 0)
        f = pre(x, h, "forgetgate") + (c * p["W_cell_to_forgetgate"] if peepholes else 0)
        c_new = _sigmoid(f) * c + _sigmoid(i) * np.tanh(pre(x, h, "cell"))
        o = pre(x, h, "outgate") + (c_new * p["W_cell_to_outgate"] if peepholes else 0)
        return [c_new, _sigmoid(o) * np.tanh(c_new)]

    zeros = np.zeros((X.shape[0], p["b_ingate"].shape[0]))
    c0 = zeros if c0 is None else c0
    h0 = zeros if h0 is None else h0
    return _run_reference(step, X, [c0, h0], mask, backwards)


def gru_reference(X, p, mask=None, backwards=False, h0=None, c0=None):
    def step(x, h):
        r = _sigmoid(x @ p["W_in_to_resetgate"] + h @ p["W_hid_to_resetgate"] + p["b_resetgate"])
        u = _sigmoid(x @ p["W_in_to_updategate"] + h @ p["W_hid_to_updategate"] + p["b_updategate"])
        c = np.tanh(x @ p["W_in_to_hidden_update"] + p["b_hidden_update"] + r * (h @ p["W_hid_to_hidden_update"]))
        return [(1 - u) * h + u * c]

    h0 = np.zeros((X.shape[0], p["b_resetgate"].shape[0])) if h0 is None else h0
    return _run_reference(step, X, [h0], mask, backwards)


def rnn_reference(X, p, mask=None, backwards=False, h0=None, c0=None):
    def step(x, h):
        return [_relu(x @ p["W_in"] + p["b"] + h @ p["W_hid"])]

    h0 = np.zeros((X.shape[0], p["b"].shape[0])) if h0 is None else h0
    return _run_reference(step, X, [h0], mask, backwards)


def _random_params(rng, kind, units=N):
    """Weights large enough that every nonlinearity and peephole matters."""

    def w(*shape):
        return (0.5 * rng.randn(*shape)).astype("float32")

    if kind == "lstm":
        p = {}
        for gate in ("ingate", "forgetgate", "cell", "outgate"):
            p.update({f"W_in_to_{gate}": w(F, units), f"W_hid_to_{gate}": w(units, units), f"b_{gate}": w(units)})
        for gate in ("ingate", "forgetgate", "outgate"):
            p[f"W_cell_to_{gate}"] = w(units)
        return p
    if kind == "gru":
        p = {}
        for gate in ("resetgate", "updategate", "hidden_update"):
            p.update({f"W_in_to_{gate}": w(F, units), f"W_hid_to_{gate}": w(units, units), f"b_{gate}": w(units)})
        return p
    return {"W_in": w(F, units), "W_hid": w(units, units), "b": w(units)}


def _make_layer(kind, p, l_in, l_mask, l_h0, l_c0, units=N, **kw):
    init_layers = kw.pop("init_layers", False)
    if kw.pop("mask", False):
        kw["mask_input"] = l_mask
    if kind == "lstm":

        def gate(g, **extra):
            return Gate(W_in=p[f"W_in_to_{g}"], W_hid=p[f"W_hid_to_{g}"], b=p[f"b_{g}"], **extra)

        if init_layers:
            kw.update(hid_init=l_h0, cell_init=l_c0)
        return LSTMLayer(
            l_in,
            units,
            ingate=gate("ingate", W_cell=p["W_cell_to_ingate"]),
            forgetgate=gate("forgetgate", W_cell=p["W_cell_to_forgetgate"]),
            cell=gate("cell", W_cell=None, nonlinearity=nonlinearities.tanh),
            outgate=gate("outgate", W_cell=p["W_cell_to_outgate"]),
            **kw,
        )
    if init_layers:
        kw.update(hid_init=l_h0)
    if kind == "gru":

        def gate(g, **extra):
            return Gate(W_in=p[f"W_in_to_{g}"], W_hid=p[f"W_hid_to_{g}"], b=p[f"b_{g}"], W_cell=None, **extra)

        return GRULayer(
            l_in,
            units,
            resetgate=gate("resetgate"),
            updategate=gate("updategate"),
            hidden_update=gate("hidden_update", nonlinearity=nonlinearities.tanh),
            **kw,
        )
    if kind == "custom":
        in_to_hid = DenseLayer(InputLayer((None, F)), units, W=p["W_in"], b=p["b"], nonlinearity=None)
        hid_to_hid = DenseLayer(InputLayer((None, units)), units, W=p["W_hid"], b=None, nonlinearity=None)
        return CustomRecurrentLayer(l_in, in_to_hid, hid_to_hid, **kw)
    return RecurrentLayer(l_in, units, W_in_to_hid=p["W_in"], W_hid_to_hid=p["W_hid"], b=p["b"], **kw)


REFERENCES = {"lstm": lstm_reference, "gru": gru_reference, "rnn": rnn_reference, "custom": rnn_reference}


@pytest.fixture(scope="module", params=["lstm", "gru", "rnn", "custom"])
def variants(request, mode):
    """One compiled function per layer kind, giving every variant's output."""
    kind = request.param
    rng = np.random.RandomState(42)
    p = _random_params(rng, kind)
    l_in = InputLayer((None, STEPS, F))
    l_mask = InputLayer((None, STEPS))
    l_h0 = InputLayer((None, N))
    l_c0 = InputLayer((None, N))
    layers = {name: _make_layer(kind, p, l_in, l_mask, l_h0, l_c0, **kw) for name, kw in VARIANTS}
    outputs = get_output(list(layers.values()))
    inputs = [l.input_var for l in (l_in, l_mask, l_h0, l_c0)]
    fn = pytensor.function(inputs, outputs, mode=mode, on_unused_input="ignore")

    X = rng.randn(B, STEPS, F).astype("float32")
    # sequence lengths 5, 3 and 1; padding holds garbage that must be ignored
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype="float32")
    h0 = rng.randn(B, N).astype("float32")
    c0 = rng.randn(B, N).astype("float32")
    results = dict(zip(layers, fn(X, mask, h0, c0)))
    data = {"X": X.astype("float64"), "mask": mask, "h0": h0, "c0": c0}
    p64 = {k: v.astype("float64") for k, v in p.items()}
    return kind, layers, results, data, p64


def _expected(kind, name, data, p):
    kw = dict(VARIANTS)[name]
    ref = REFERENCES[kind]
    out = ref(
        data["X"],
        p,
        mask=data["mask"] if kw.get("mask") else None,
        backwards=kw.get("backwards", False),
        h0=data["h0"] if kw.get("init_layers") else None,
        c0=data["c0"] if kw.get("init_layers") else None,
    )
    if kw.get("only_return_final"):
        # the state after the last processed step
        return out[:, 0] if kw.get("backwards") else out[:, -1]
    return out


class TestOutputsAgainstNumpy:
    @pytest.mark.parametrize("name", [name for name, _ in VARIANTS])
    def test_variant(self, variants, name):
        kind, layers, results, data, p = variants
        out = results[name]
        assert out.dtype == np.float32
        assert out.shape == (B,) + layers[name].output_shape[1:]
        np.testing.assert_allclose(out, _expected(kind, name, data, p), rtol=RTOL, atol=ATOL)

    def test_padded_steps_repeat_the_last_real_state(self, variants):
        _, _, results, _, _ = variants
        out = results["mask"]
        # sequence 1 has length 3, sequence 2 length 1
        np.testing.assert_array_equal(out[1, 3], out[1, 2])
        np.testing.assert_array_equal(out[1, 4], out[1, 2])
        np.testing.assert_array_equal(out[2, 1:], np.repeat(out[2, :1], STEPS - 1, axis=0))
        # without the mask, padded steps would change the state
        assert not np.allclose(results["plain"][1, 4], out[1, 2], atol=1e-3)

    def test_unroll_equals_scan(self, variants):
        _, _, results, _, _ = variants
        np.testing.assert_allclose(results["unroll_mask"], results["mask"], rtol=1e-5, atol=1e-6)

    def test_backwards_differs_from_forwards(self, variants):
        _, _, results, _, _ = variants
        assert not np.allclose(results["backwards_mask"], results["mask"], atol=1e-3)


class TestShapesAndParams:
    def test_output_shapes(self):
        l_in = InputLayer((None, None, 3))
        for cls in (LSTMLayer, GRULayer, RecurrentLayer):
            assert cls(l_in, 7).output_shape == (None, None, 7)
            assert cls(l_in, 7, only_return_final=True).output_shape == (None, 7)
            assert cls(l_in, 7).get_output_shape_for([(2, 9, 3)]) == (2, 9, 7)

    def test_trailing_dims_are_flattened(self):
        l = LSTMLayer(InputLayer((None, 5, 2, 3)), 4)
        assert l.W_in_to_ingate.get_value().shape == (6, 4)

    def test_lstm_param_names_tags_and_peepholes(self):
        l = LSTMLayer(InputLayer((None, 5, 3)), 4)
        names = [p.name for p in l.get_params()]
        assert names[:3] == ["W_in_to_ingate", "W_hid_to_ingate", "b_ingate"]
        assert {"W_cell_to_ingate", "W_cell_to_forgetgate", "W_cell_to_outgate"} <= set(names)
        assert "W_cell_to_cell" not in names
        assert [p.name for p in l.get_params(regularizable=False)] == [
            "b_ingate",
            "b_forgetgate",
            "b_cell",
            "b_outgate",
            "cell_init",
            "hid_init",
        ]
        assert len(l.get_params(trainable=True)) == 15  # 4 * 3 + 3 peepholes
        no_peep = LSTMLayer(InputLayer((None, 5, 3)), 4, peepholes=False)
        assert len(no_peep.get_params(trainable=True)) == 12

    def test_learn_init(self):
        l_in = InputLayer((None, 5, 3))
        for cls, inits in (
            (LSTMLayer, {"cell_init", "hid_init"}),
            (GRULayer, {"hid_init"}),
            (RecurrentLayer, {"hid_init"}),
        ):
            fixed = {p.name for p in cls(l_in, 4).get_params(trainable=True)}
            learned = {p.name for p in cls(l_in, 4, learn_init=True).get_params(trainable=True)}
            assert not (fixed & inits)
            assert learned - fixed == inits

    def test_init_layers_become_incomings(self):
        l_in, l_h, l_c = InputLayer((None, 5, 3)), InputLayer((None, 4)), InputLayer((None, 4))
        l_mask = InputLayer((None, 5))
        l = LSTMLayer(l_in, 4, hid_init=l_h, cell_init=l_c, mask_input=l_mask)
        assert l.input_layers == [l_in, l_mask, l_h, l_c]
        assert "hid_init" not in [p.name for p in l.get_params()]

    def test_gru_param_order_is_lasagnes(self):
        l = GRULayer(InputLayer((None, 5, 3)), 4)
        assert [p.name for p in l.get_params()][::3] == [
            "W_in_to_updategate",
            "W_in_to_resetgate",
            "W_in_to_hidden_update",
            "hid_init",
        ]

    def test_recurrent_layer_params(self):
        l = RecurrentLayer(InputLayer((None, 5, 3)), 4, name="rnn")
        names = [p.name for p in get_all_params(l)]
        assert names == ["rnn.hid_init", "rnn.input_to_hidden.W", "rnn.input_to_hidden.b", "rnn.hidden_to_hidden.W"]
        assert l.W_in_to_hid.get_value().shape == (3, 4)

    def test_unroll_needs_fixed_length_and_full_gradient(self):
        with pytest.raises(ValueError, match="sequence length"):
            LSTMLayer(InputLayer((None, None, 3)), 4, unroll_scan=True)
        with pytest.raises(ValueError, match="Gradient steps"):
            GRULayer(InputLayer((None, 5, 3)), 4, unroll_scan=True, gradient_steps=2)

    def test_custom_layer_shape_mismatch(self):
        in_to_hid = DenseLayer(InputLayer((None, 3)), 4)
        hid_to_hid = DenseLayer(InputLayer((None, 5)), 5)
        with pytest.raises(ValueError, match="must match"):
            CustomRecurrentLayer(InputLayer((None, 5, 3)), in_to_hid, hid_to_hid)


@pytest.fixture(scope="module")
def lstm_grads(mode):
    """Gradients of one LSTM's final state: full, clipped, truncated, and wrt hid_init."""
    rng = np.random.RandomState(3)
    p = _random_params(rng, "lstm")
    x = T.tensor3("x", dtype="float32")
    l_in = InputLayer((None, STEPS, F), input_var=x)
    kw = dict(only_return_final=True, learn_init=True)
    full = _make_layer("lstm", p, l_in, None, None, None, **kw)
    clipped = _make_layer("lstm", p, l_in, None, None, None, grad_clipping=1e-4, **kw)
    truncated = _make_layer("lstm", p, l_in, None, None, None, gradient_steps=2, **kw)
    outs = get_output([full, clipped, truncated])
    # a large multiplier so that unclipped gate gradients are far above the clip
    costs = [100 * o.sum() for o in outs]
    grads = [T.grad(c, x) for c in costs] + [T.grad(costs[0], full.hid_init)]
    fn = pytensor.function([x], outs + grads, mode=mode)
    X = rng.randn(B, STEPS, F).astype("float32")
    return fn(X), X, p


class TestGradients:
    def test_grad_clipping_leaves_forward_pass_alone(self, lstm_grads):
        (o_full, o_clip, o_trunc, *_), _, _ = lstm_grads
        np.testing.assert_allclose(o_clip, o_full, rtol=1e-6)
        np.testing.assert_allclose(o_trunc, o_full, rtol=1e-6)

    def test_grad_clipping_bounds_input_gradient(self, lstm_grads):
        (_, _, _, g_full, g_clip, _, _), _, p = lstm_grads
        # each gate pre-activation gradient is clipped to 1e-4 at every step,
        # so dx_t is at most 1e-4 * (row sums of |W_in| over the 4 gates)
        w_in = np.concatenate([p[f"W_in_to_{g}"] for g in ("ingate", "forgetgate", "cell", "outgate")], axis=1)
        bound = 1e-4 * np.abs(w_in).sum(axis=1)
        assert np.all(np.abs(g_clip) <= bound + 1e-7)
        assert np.any(g_clip != 0)
        assert np.abs(g_full).max() > 100 * bound.max()

    def test_gradient_steps_truncates_backprop(self, lstm_grads):
        (_, _, _, g_full, _, g_trunc, _), _, _ = lstm_grads
        # only the last 2 steps receive gradient
        assert np.all(g_trunc[:, : STEPS - 2] == 0)
        np.testing.assert_allclose(g_trunc[:, -1], g_full[:, -1], rtol=1e-5, atol=1e-6)
        assert np.abs(g_full[:, 0]).max() > 0

    def test_learned_hid_init_gets_gradient(self, lstm_grads):
        (*_, g_h0), _, _ = lstm_grads
        assert g_h0.shape == (1, N)
        assert np.abs(g_h0).max() > 0

    @pytest.mark.parametrize("cls", [LSTMLayer, GRULayer])
    def test_verify_grad_input_and_hidden_weights(self, cls, mode):
        rng = np.random.RandomState(5)
        mask = np.array([[1, 1, 1], [1, 1, 0]], dtype="float32")
        gate_name = "forgetgate" if cls is LSTMLayer else "resetgate"

        def cost(x, w_hid):
            l_in = InputLayer((None, 3, 2), input_var=x)
            gates = {gate_name: Gate(W_hid=w_hid, W_cell=None if cls is GRULayer else init.Constant(0.3))}
            l = cls(l_in, 3, mask_input=InputLayer((None, 3), input_var=T.constant(mask)), **gates)
            return get_output(l)

        pt = [rng.randn(2, 3, 2).astype("float32"), (0.5 * rng.randn(3, 3)).astype("float32")]
        verify_grad(cost, pt, rng=rng, eps=1e-2, abs_tol=2e-3, rel_tol=2e-2, mode=mode)

    def test_verify_grad_rnn_backwards(self, mode):
        rng = np.random.RandomState(6)

        def cost(x):
            l = RecurrentLayer(
                InputLayer((None, 3, 2), input_var=x),
                3,
                backwards=True,
                nonlinearity=nonlinearities.tanh,
                W_hid_to_hid=init.Normal(0.5),
            )
            return get_output(l)

        verify_grad(
            cost, [rng.randn(2, 3, 2).astype("float32")], rng=rng, eps=1e-2, abs_tol=2e-3, rel_tol=2e-2, mode=mode
        )


# the hidden-to-hidden weight whose gradient the one-unit test checks, per kind
HIDDEN_WEIGHT = {"lstm": "W_hid_to_forgetgate", "gru": "W_hid_to_resetgate", "rnn": "W_hid"}


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_one_unit_gradient_compiles_without_rewrite_failures(kind, mode, caplog):
    """A unit axis of size 1 is static in the graph; scan's rewrites must not trip on it."""
    rng = np.random.RandomState(11)
    p = _random_params(rng, kind, units=1)
    if kind == "rnn":
        p["b"] = np.abs(p["b"]) + 1  # keep the rectifier off its kink
    l_in = InputLayer((None, STEPS, F))
    layer = _make_layer(kind, p, l_in, None, None, None, units=1, precompute_input=True)
    out = get_output(layer)
    weight = layer.W_hid_to_hid if kind == "rnn" else getattr(layer, HIDDEN_WEIGHT[kind])
    with caplog.at_level(logging.WARNING, logger="pytensor"):
        fn = pytensor.function([l_in.input_var], [out, T.grad(out.sum(), weight)], mode=mode)
    failures = [r.getMessage() for r in caplog.records if "Rewrite failure" in r.getMessage()]
    assert failures == []

    X = rng.randn(B, STEPS, F).astype("float32")
    got_out, got_grad = fn(X)
    p64 = {k: v.astype("float64") for k, v in p.items()}
    np.testing.assert_allclose(got_out, REFERENCES[kind](X.astype("float64"), p64), rtol=RTOL, atol=ATOL)
    # d sum(out) / d weight by central differences of the numpy reference
    name, eps = HIDDEN_WEIGHT[kind], 1e-5
    shifted = [dict(p64, **{name: p64[name] + d}) for d in (eps, -eps)]
    want = (REFERENCES[kind](X, shifted[0]).sum() - REFERENCES[kind](X, shifted[1]).sum()) / (2 * eps)
    assert got_grad.shape == (1, 1)
    np.testing.assert_allclose(got_grad[0, 0], want, rtol=1e-3, atol=1e-4)


class TestMemoryTask:
    """Recall the sign of the first step after several steps of noise."""

    @pytest.mark.parametrize("cls", [LSTMLayer, GRULayer])
    def test_learns_to_remember_the_first_input(self, cls, mode):
        rng = np.random.RandomState(0)
        steps = 8

        def batch(n):
            X = rng.uniform(-1, 1, size=(n, steps, 1)).astype("float32")
            y = (rng.rand(n) > 0.5).astype("int32")
            X[:, 0, 0] = 2 * y - 1
            return X, y

        l_in = InputLayer((None, steps, 1))
        l_rec = cls(l_in, 8, only_return_final=True)
        l_out = DenseLayer(l_rec, 2, nonlinearity=nonlinearities.softmax)
        t = T.ivector("t")
        prob = get_output(l_out)
        loss = objectives.categorical_crossentropy(prob, t).mean()
        params = get_all_params(l_out, trainable=True)
        acc = T.mean(T.eq(T.argmax(prob, axis=1), t))
        train = pytensor.function(
            [l_in.input_var, t], loss, updates=updates.adam(loss, params, learning_rate=0.02), mode=mode
        )
        test = pytensor.function([l_in.input_var, t], acc, mode=mode)
        X_test, y_test = batch(500)
        before = test(X_test, y_test)
        for _ in range(300):
            train(*batch(32))
        after = test(X_test, y_test)
        # the final input alone carries no information: chance is 0.5
        assert before < 0.75
        assert after > 0.97


class TestJAXBackend:
    """JAX needs concrete sizes inside scan: it works with static input shapes."""

    @pytest.mark.parametrize("cls", [LSTMLayer, GRULayer])
    def test_static_shapes_match_the_test_mode(self, cls, mode):
        rng = np.random.RandomState(7)
        x = T.tensor(dtype="float32", shape=(3, 5, 4), name="x")
        m = T.tensor(dtype="float32", shape=(3, 5), name="m")
        l = cls(InputLayer((None, 5, 4), input_var=x), 6, backwards=True, mask_input=InputLayer((None, 5), input_var=m))
        out = get_output(l)
        outputs = [out, T.grad(out.sum(), l.get_params(trainable=True)[1])]
        X = rng.randn(3, 5, 4).astype("float32")
        M = (np.arange(5) < np.array([[5], [3], [1]])).astype("float32")
        got = pytensor.function([x, m], outputs, mode="JAX")(X, M)
        want = pytensor.function([x, m], outputs, mode=mode)(X, M)
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.asarray(g), w, rtol=1e-4, atol=1e-5)
