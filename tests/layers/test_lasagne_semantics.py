"""Lasagne's graph semantics that ported code relies on.

Each test here failed on sknet before it matched Lasagne (commit a1d989a):
broadcastable size-1 axes, float64 networks, deep recurrent sub-networks, the
InputLayer's attributes, parameter order, symbolic and numpy-integer sizes,
shape checks at output time, integer dropout.
"""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest

from sknet import init, utils
from sknet.layers import (
    BatchNormLayer,
    ConcatLayer,
    Conv2DLayer,
    CustomRecurrentLayer,
    DenseLayer,
    DropoutLayer,
    ElemwiseSumLayer,
    EmbeddingLayer,
    GRULayer,
    InputLayer,
    Layer,
    LSTMLayer,
    MaxPool2DLayer,
    PadLayer,
    RecurrentLayer,
    ReshapeLayer,
    TransposedConv2DLayer,
    get_all_layers,
    get_all_param_values,
    get_all_params,
    get_output,
    get_output_shape,
    set_all_param_values,
)


class TestBroadcastableSizeOneAxes:
    def test_param_of_size_one_broadcasts_over_the_batch(self, mode):
        layer = Layer((None, 3))
        b = layer.add_param(np.zeros, (1, 3), name="b")
        b.set_value(np.float32([[1, 2, 3]]))
        x = T.matrix("x")
        assert (x + b).broadcastable == (False, False)
        f = pytensor.function([x], x + b, mode=mode)
        np.testing.assert_allclose(f(np.zeros((4, 3), "float32")), np.tile([[1, 2, 3]], (4, 1)))

    def test_input_layer_with_a_one_is_broadcastable_there(self, mode):
        l_in = InputLayer((None, 1, 3))
        assert l_in.input_var.broadcastable == (False, True, False)
        assert InputLayer((1, 2)).input_var.broadcastable == (True, False)
        y = T.tensor3("y")
        f = pytensor.function([l_in.input_var, y], get_output(l_in) * y, mode=mode)
        x = np.arange(6, dtype="float32").reshape(2, 1, 3)
        np.testing.assert_allclose(f(x, np.ones((2, 4, 3), "float32")), np.repeat(x, 4, axis=1))

    def test_size_one_dense_layer_trains(self, mode):
        """A one-unit output (a (1,) bias, a (n, 1) weight) through sgd updates."""
        from sknet.updates import adam

        l_in = InputLayer((None, 2))
        l_out = DenseLayer(l_in, 1, nonlinearity=None)
        assert l_out.b.broadcastable == (True,)
        y = T.matrix("y")
        loss = T.mean(T.sqr(get_output(l_out) - y))
        f = pytensor.function([l_in.input_var, y], loss, updates=adam(loss, get_all_params(l_out), 0.1), mode=mode)
        X = np.random.RandomState(0).randn(16, 2).astype("float32")
        Y = X @ np.float32([[1.0], [-2.0]]) + 0.5
        losses = [float(f(X, Y)) for _ in range(60)]
        assert losses[-1] < losses[0] / 10


@pytest.mark.parametrize("cls", [RecurrentLayer, LSTMLayer, GRULayer])
def test_recurrent_layers_of_one_unit(cls, mode):
    """One unit: (1, 1) weights and a (1, 1) initial state, broadcastable, in scan."""
    l_in = InputLayer((5, 3, 4))
    layer = cls(l_in, num_units=1, learn_init=True)
    out = get_output(layer)
    grads = pytensor.grad(T.mean(out), get_all_params(layer, trainable=True))
    f = pytensor.function([l_in.input_var], [out] + grads, mode=mode)
    values = f(np.random.RandomState(0).randn(5, 3, 4).astype("float32"))
    assert values[0].shape == (5, 3, 1)
    assert all(np.isfinite(v).all() for v in values)


@pytest.fixture
def float64():
    with pytensor.config.change_flags(floatX="float64"):
        yield


class TestFloat64Networks:
    """With PyTensor's floatX set to float64, networks are float64 throughout."""

    def test_recurrent_layers_and_batch_norm(self, float64, mode):
        l_in = InputLayer((None, 4, 3))
        l_mask = InputLayer((None, 4))
        assert l_in.input_var.dtype == "float64"
        rnn = RecurrentLayer(l_in, 5, mask_input=l_mask, learn_init=True)
        lstm = LSTMLayer(rnn, 4, mask_input=l_mask)
        gru = GRULayer(lstm, 3, backwards=True, only_return_final=True)
        bn = BatchNormLayer(gru)
        params = get_all_params(bn)
        assert params and all(p.dtype == "float64" for p in params)
        loss = T.sum(get_output(bn) ** 2)
        grads = pytensor.grad(loss, get_all_params(bn, trainable=True))
        f = pytensor.function(
            [l_in.input_var, l_mask.input_var], [get_output(bn, deterministic=True), loss] + grads, mode=mode
        )
        x = np.random.RandomState(0).randn(2, 4, 3)
        mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], "float64")
        out, loss_value, *grad_values = f(x, mask)
        assert out.dtype == np.float64 and out.shape == (2, 3)
        assert all(g.dtype == np.float64 and np.isfinite(g).all() for g in grad_values)

    def test_custom_recurrent_and_unrolled(self, float64, mode):
        l_in = InputLayer((2, 3, 2))
        in_to_hid = DenseLayer(InputLayer((None, 2)), 3, nonlinearity=None)
        hid_to_hid = DenseLayer(InputLayer((None, 3)), 3, nonlinearity=None)
        rec = CustomRecurrentLayer(l_in, in_to_hid, hid_to_hid, unroll_scan=True)
        out = pytensor.function([l_in.input_var], get_output(rec), mode=mode)(np.ones((2, 3, 2)))
        assert out.dtype == np.float64 and out.shape == (2, 3, 3)

    def test_float32_stays_the_default(self):
        l_in = InputLayer((None, 4, 3))
        lstm = LSTMLayer(l_in, 2)
        assert l_in.input_var.dtype == "float32"
        assert all(p.dtype == "float32" for p in get_all_params(lstm))


def test_custom_recurrent_sub_networks_of_any_depth(mode):
    """Two-layer input-to-hidden and hidden-to-hidden networks, against numpy."""
    n_batch, n_steps, n_in, n_hid = 2, 4, 3, 4
    l_in = InputLayer((n_batch, n_steps, n_in))
    in_to_hid = DenseLayer(DenseLayer(InputLayer((None, n_in)), 5, nonlinearity=None), n_hid, nonlinearity=None)
    hid_to_hid = DenseLayer(
        DenseLayer(InputLayer((None, n_hid)), 6, nonlinearity=None), n_hid, nonlinearity=None, b=None
    )
    rec = CustomRecurrentLayer(l_in, in_to_hid, hid_to_hid, nonlinearity=T.tanh)
    assert rec.output_shape == (n_batch, n_steps, n_hid)
    x = np.random.RandomState(1).randn(n_batch, n_steps, n_in).astype("float32")
    out = pytensor.function([l_in.input_var], get_output(rec), mode=mode)(x)

    (W1, b1, W2, b2), (V1, c1, V2) = (get_all_param_values(in_to_hid), get_all_param_values(hid_to_hid))
    h = np.zeros((n_batch, n_hid))
    expected = []
    for t in range(n_steps):
        h = np.tanh((x[:, t] @ W1 + b1) @ W2 + b2 + (h @ V1 + c1) @ V2)
        expected.append(h)
    np.testing.assert_allclose(out, np.stack(expected, axis=1), rtol=1e-4, atol=1e-5)


def test_custom_recurrent_needs_one_input_layer_per_sub_network():
    l_in = InputLayer((None, 4, 3))
    merged = ElemwiseSumLayer([InputLayer((None, 3)), InputLayer((None, 3))])
    hid_to_hid = DenseLayer(InputLayer((None, 3)), 3)
    with pytest.raises(ValueError, match="exactly one InputLayer, but it has 2"):
        CustomRecurrentLayer(l_in, merged, hid_to_hid)


def test_input_layer_has_no_input_layer_attribute():
    l_in = InputLayer((None, 5))
    top = DenseLayer(DenseLayer(l_in, 4), 3)
    assert not hasattr(l_in, "input_layer") and not hasattr(l_in, "input_shape")
    layer = top
    while hasattr(layer, "input_layer"):  # how Lasagne-era code finds the input
        layer = layer.input_layer
    assert layer is l_in


def test_param_order_is_lasagnes(mode):
    """Left-first, depth-first: the order get_all_param_values files are saved in."""
    l_in = InputLayer((None, 4))
    l1 = DenseLayer(l_in, 3, name="l1")
    W_a = pytensor.shared(np.ones((3, 2), "float32"), name="W_a")
    W_b = pytensor.shared(np.ones((2, 5), "float32"), name="W_b")
    l2 = DenseLayer(l1, 5, W=T.dot(W_a, W_b), name="l2")
    l3 = ConcatLayer([l2, DenseLayer(l_in, 2, name="side")])
    names = [p.name for p in get_all_params(l3)]
    assert names == ["l1.W", "l1.b", "W_a", "W_b", "l2.b", "side.W", "side.b"]
    values = [np.full(p.get_value().shape, i, "float32") for i, p in enumerate(get_all_params(l3))]
    set_all_param_values(l3, values)
    assert [float(v.flat[0]) for v in get_all_param_values(l3)] == list(range(7))
    assert W_b.get_value()[0, 0] == 3


class TestSymbolicAndNumpyIntegerSizes:
    def test_reshape_with_symbolic_entries(self, mode):
        x = T.tensor3("x")
        batch, seq, feat = x.shape
        l_in = InputLayer((None, None, None))
        l = ReshapeLayer(l_in, (batch * seq, [2]))
        assert l.get_output_shape_for((batch, seq, feat)) == (None, None)
        assert get_output_shape(l, (batch, seq, feat)) == (None, None)
        f = pytensor.function([x], get_output(l, x), mode=mode)
        assert f(np.ones((3, 5, 6), "float32")).shape == (15, 6)
        assert f(np.ones((4, 5, 7), "float32")).shape == (20, 7)

    def test_transposed_conv_with_symbolic_output_size(self, mode):
        l_in = InputLayer((None, 2, 4, 4))
        size = pytensor.shared(np.array([9, 10]), name="size")
        l = TransposedConv2DLayer(l_in, 3, 3, stride=2, output_size=size, nonlinearity=None)
        assert l.output_shape == (None, 3, None, None)
        f = pytensor.function([l_in.input_var], get_output(l), mode=mode)
        x = np.random.RandomState(0).randn(1, 2, 4, 4).astype("float32")
        assert f(x).shape == (1, 3, 9, 10)
        size.set_value(np.array([10, 9]))
        out = f(x)
        assert out.shape == (1, 3, 10, 9)
        fixed = TransposedConv2DLayer(l_in, 3, 3, stride=2, output_size=(10, 9), W=l.W, b=l.b, nonlinearity=None)
        np.testing.assert_allclose(out, get_output(fixed, x).eval(), rtol=1e-5)

    def test_numpy_integers_wherever_an_int_is_accepted(self, mode):
        i = np.int64
        l_in = InputLayer((None, i(2), i(6), i(6)))
        assert l_in.shape == (None, 2, 6, 6) and type(l_in.shape[1]) is int
        conv = Conv2DLayer(l_in, i(3), i(3), stride=i(1), pad=i(1))
        pool = MaxPool2DLayer(conv, i(2))
        pad = PadLayer(pool, i(1))
        deconv = TransposedConv2DLayer(pad, i(2), (i(3), i(3)), output_size=(i(7), i(7)))
        reshape = ReshapeLayer(deconv, ([0], i(-1)))
        dense = DenseLayer(reshape, i(4))
        assert get_output_shape(dense) == (None, 4)
        assert deconv.output_shape == (None, 2, 7, 7)
        x = np.random.RandomState(0).randn(2, 2, 6, 6).astype("float32")
        out = pytensor.function([l_in.input_var], get_output(dense), mode=mode)(x)
        assert out.shape == (2, 4)
        emb = EmbeddingLayer(InputLayer((None,), input_var=T.ivector()), i(5), i(3))
        assert emb.W.get_value().shape == (5, 3)
        rnn = LSTMLayer(InputLayer((None, i(3), i(2))), i(4))
        assert rnn.output_shape == (None, 3, 4)


class TestShapesCheckedAtOutputTime:
    """Lasagne builds merge and pad layers on incomings of any shape."""

    @pytest.mark.parametrize(
        "make",
        [
            lambda a, b: ConcatLayer([a, b], axis=1),
            lambda a, b: ElemwiseSumLayer([a, b]),
            lambda a, b: ConcatLayer([a, b], axis=0, cropping=["lower", None]),
        ],
    )
    def test_merge_layers(self, make):
        layer = make(InputLayer((None, 3)), InputLayer((None, 4, 2)))
        with pytest.raises(ValueError, match="Mismatch|dimensionality"):
            layer.output_shape
        assert make(InputLayer((None, 3)), InputLayer((None, 3))).output_shape[1] in (3, 6)

    def test_merge_layers_accept_incomings_without_shapes(self):
        class ShapeLess:
            output_shape = None

        layer = ConcatLayer([ShapeLess(), ShapeLess()], axis=1, cropping=["lower"] * 2)
        assert layer.cropping == ["lower", None]
        assert layer.get_output_shape_for([(3, 2), (4, 5)]) == (3, 7)

    def test_pad_layer(self):
        layer = PadLayer(InputLayer((None, 3, 5)), width=[1, 2, 3])
        with pytest.raises(ValueError, match="3 pad widths for 1 paddable axes"):
            layer.output_shape
        assert layer.get_output_shape_for((None, 3, 5, 5, 5)) == (None, 3, 7, 9, 11)


def test_dropout_without_rescale_keeps_an_int_dtype(mode):
    x = pytensor.shared(np.ones((100, 100), dtype="int32"))
    layer = DropoutLayer((100, 100), p=0.5, rescale=False)
    out = layer.get_output_for(x)
    assert out.dtype == "int32"
    values = pytensor.function([], out, mode=mode)()
    assert set(np.unique(values)) == {0, 1} and 0.4 < values.mean() < 0.6
    rescaled = DropoutLayer((100, 100), p=0.5).get_output_for(x)
    assert set(np.unique(rescaled.eval())) <= {0.0, 2.0}


def test_get_output_checks_its_input_keys_and_uses_the_none_key(mode):
    l_in = InputLayer((None, 3))
    from sknet.layers import ElemwiseMergeLayer

    merge = ElemwiseMergeLayer([(None, 3), l_in], T.mul)
    with pytest.raises(TypeError, match="keys must be layers"):
        get_output(merge, {"input": np.ones((1, 3))})
    with pytest.raises(ValueError, match="free-floating"):
        get_output(merge)
    x = T.matrix("x")
    f = pytensor.function([x, l_in.input_var], get_output(merge, {None: x}), mode=mode)
    np.testing.assert_allclose(f(np.full((1, 3), 2, "float32"), np.full((1, 3), 3, "float32")), np.full((1, 3), 6))


def test_get_output_accepts_keywords_of_get_output_for():
    class Scale(Layer):
        def get_output_for(self, input, factor=2, **kwargs):
            return factor * input

    import warnings

    l = Scale(InputLayer((None, 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_output(l, factor=3)
    with pytest.warns(UserWarning, match="perhaps you meant factor"):
        get_output(l, factr=3)
    assert [type(x) for x in get_all_layers(l)] == [InputLayer, Scale]


def test_initializers_follow_floatx():
    with pytensor.config.change_flags(floatX="float64"):
        for initializer in (
            init.GlorotUniform(),
            init.Normal(),
            init.Constant(1.0),
            init.Orthogonal(),
            init.HeNormal(),
        ):
            assert initializer((3, 3)).dtype == np.float64
    assert init.GlorotUniform()((3, 3)).dtype == np.float32
    assert utils.floatX(np.ones(2)).dtype == np.float32
