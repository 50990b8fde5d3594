"""Tests of the network-wide helpers: graph walk, outputs, shapes and params."""

import warnings

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest

from sknet.layers import (
    ConcatLayer,
    DenseLayer,
    DropoutLayer,
    ElemwiseSumLayer,
    InputLayer,
    Layer,
    count_params,
    get_all_layers,
    get_all_param_values,
    get_all_params,
    get_output,
    get_output_shape,
    set_all_param_values,
)


class Double(Layer):
    def get_output_for(self, input, **kwargs):
        return 2 * input


class NeedsFlag(Layer):
    """Accepts an extra get_output kwarg, declared through get_output_kwargs."""

    def __init__(self, incoming, **kwargs):
        super().__init__(incoming, **kwargs)
        self.get_output_kwargs = ["flag"]

    def get_output_for(self, input, flag=False, **kwargs):
        return input + 1 if flag else input


@pytest.fixture
def diamond():
    l_in = InputLayer((None, 3), name="in")
    a = Double(l_in, name="a")
    b = Double(l_in, name="b")
    top = ElemwiseSumLayer([a, b], name="sum")
    out = Double(top, name="out")
    return l_in, a, b, top, out


class TestGetAllLayers:
    def test_diamond_order(self, diamond):
        l_in, a, b, top, out = diamond
        assert get_all_layers(out) == [l_in, a, b, top, out]
        assert get_all_layers(top) == [l_in, a, b, top]

    def test_several_outputs(self, diamond):
        l_in, a, b, top, out = diamond
        assert get_all_layers([b, a]) == [l_in, b, a]
        assert get_all_layers([out, a]) == [l_in, a, b, top, out]

    def test_treat_as_input(self, diamond):
        l_in, a, b, top, out = diamond
        assert get_all_layers(out, treat_as_input=[top]) == [top, out]
        assert get_all_layers(out, treat_as_input=[a]) == [a, l_in, b, top, out]

    def test_deep_chain_has_no_recursion_limit(self):
        layer = l_in = InputLayer((None, 2))
        chain = [l_in]
        for _ in range(2000):
            layer = Double(layer)
            chain.append(layer)
        assert get_all_layers(layer) == chain
        out = get_output(layer)
        assert out.ndim == 2
        assert get_output_shape(layer, (5, 2)) == (5, 2)


class TestGetOutput:
    def test_default_input_var(self, diamond, mode):
        l_in, *_, out = diamond
        f = pytensor.function([l_in.input_var], get_output(out), mode=mode)
        x = np.arange(6, dtype="float32").reshape(2, 3)
        np.testing.assert_allclose(f(x), 8 * x)

    def test_single_expression_and_array(self, diamond, mode):
        *_, out = diamond
        x = T.matrix("x")
        f = pytensor.function([x], get_output(out, x), mode=mode)
        data = np.ones((1, 3), "float32")
        np.testing.assert_allclose(f(data), 8 * data)
        np.testing.assert_allclose(get_output(out, data).eval(), 8 * data)

    def test_dict_inputs_for_several_input_layers(self, mode):
        l1, l2 = InputLayer((None, 2)), InputLayer((None, 3))
        out = ConcatLayer([l1, l2])
        x1, x2 = T.matrix("x1"), T.matrix("x2")
        f = pytensor.function([x1, x2], get_output(out, {l1: x1, l2: x2}), mode=mode)
        a, b = np.ones((2, 2), "float32"), np.zeros((2, 3), "float32")
        np.testing.assert_array_equal(f(a, b), np.concatenate([a, b], axis=1))
        with pytest.raises(ValueError, match="multiple input layers"):
            get_output(out, x1)

    def test_cut_at_an_inner_layer(self, diamond, mode):
        l_in, a, b, top, out = diamond
        t = T.matrix("t")
        expr = get_output(out, {top: t})
        assert l_in.input_var not in pytensor.graph.traversal.graph_inputs([expr])
        f = pytensor.function([t], expr, mode=mode)
        np.testing.assert_allclose(f(np.ones((1, 3), "float32")), 2.0)
        # cutting only one branch leaves the other on the input variable
        expr = get_output(out, {a: t})
        f = pytensor.function([t, l_in.input_var], expr, mode=mode)
        x = np.ones((1, 3), "float32")
        np.testing.assert_allclose(f(5 * x, x), 2 * (5 + 2) * x)

    def test_several_layers(self, diamond):
        l_in, a, b, top, out = diamond
        outs = get_output([a, out])
        assert isinstance(outs, list) and len(outs) == 2
        x = np.ones((1, 3), "float32")
        got_a, got_out = get_output([a, out], x)
        np.testing.assert_allclose(got_a.eval(), 2 * x)

    def test_free_floating_layer(self):
        with pytest.raises(ValueError, match="free-floating"):
            get_output(Double((None, 3)))

    def test_unused_kwarg_warns_with_suggestion(self, diamond):
        *_, out = diamond
        with pytest.warns(UserWarning, match="perhaps you meant deterministic"):
            get_output(out, determinstic=True)
        with pytest.warns(UserWarning, match="unused kwargs"):
            get_output(out, bogus_name=1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            get_output(out, deterministic=True)

    def test_layer_declared_kwargs_are_passed_and_accepted(self):
        l = NeedsFlag(InputLayer((None, 2)))
        x = np.zeros((1, 2), "float32")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            np.testing.assert_allclose(get_output(l, x, flag=True).eval(), 1.0)

    def test_deterministic_reaches_dropout(self):
        l_in = InputLayer((None, 3))
        out = DropoutLayer(l_in, p=0.5)
        assert get_output(out, deterministic=True) is l_in.input_var
        assert get_output(out) is not l_in.input_var


class TestGetOutputShape:
    def test_without_input_shapes(self, diamond):
        l_in, a, b, top, out = diamond
        assert get_output_shape(out) == (None, 3)
        assert get_output_shape([a, out]) == [(None, 3), (None, 3)]

    def test_with_input_shape(self):
        l_in = InputLayer((None, 4))
        l = DenseLayer(l_in, num_units=3)
        assert get_output_shape(l, (10, 4)) == (10, 3)
        assert get_output_shape([l_in, l], (10, 4)) == [(10, 4), (10, 3)]

    def test_with_dict(self):
        l1, l2 = InputLayer((None, 2)), InputLayer((None, 3))
        out = ConcatLayer([l1, l2])
        assert get_output_shape(out, {l1: (5, 2), l2: (5, 3)}) == (5, 5)
        assert get_output_shape(out, {l1: (5, 2)}) == (5, 5)
        with pytest.raises(ValueError, match="multiple input layers"):
            get_output_shape(out, (5, 2))

    def test_cut_at_inner_layer(self, diamond):
        l_in, a, b, top, out = diamond
        assert get_output_shape(out, {top: (7, 3)}) == (7, 3)


@pytest.fixture
def mlp():
    l_in = InputLayer((None, 4))
    l1 = DenseLayer(l_in, num_units=3, name="h")
    l2 = DenseLayer(l1, num_units=2, b=None, name="o")
    return l_in, l1, l2


class TestGetAllParams:
    def test_order_and_tags(self, mlp):
        l_in, l1, l2 = mlp
        assert get_all_params(l2) == [l1.W, l1.b, l2.W]
        assert get_all_params(l2, trainable=True) == [l1.W, l1.b, l2.W]
        assert get_all_params(l2, regularizable=True) == [l1.W, l2.W]
        assert get_all_params(l2, regularizable=False) == [l1.b]
        assert get_all_params(l1) == [l1.W, l1.b]

    def test_shared_params_are_listed_once(self):
        l_in = InputLayer((None, 3))
        l1 = DenseLayer(l_in, num_units=3)
        l2 = DenseLayer(l1, num_units=3, W=l1.W, b=l1.b)
        assert get_all_params(l2) == [l1.W, l1.b]
        assert count_params(l2) == 12

    def test_expression_params(self):
        base = pytensor.shared(np.ones((3, 2), "float32"), name="base")
        l = DenseLayer(InputLayer((None, 3)), num_units=2, W=base.T.T * 2)
        assert get_all_params(l) == [base, l.b]
        assert get_all_params(l, unwrap_shared=False)[0] is l.W


class TestCountParams:
    def test_counts(self, mlp):
        l_in, l1, l2 = mlp
        assert count_params(l2) == 4 * 3 + 3 + 3 * 2
        assert count_params(l2, regularizable=True) == 4 * 3 + 3 * 2
        assert count_params(l2, regularizable=False) == 3
        assert count_params(l_in) == 0


class TestParamValues:
    def test_round_trip(self, mlp):
        l_in, l1, l2 = mlp
        values = get_all_param_values(l2)
        assert [v.shape for v in values] == [(4, 3), (3,), (3, 2)]
        new = [np.full(v.shape, i, dtype="float64") for i, v in enumerate(values)]
        set_all_param_values(l2, new)
        for got, want in zip(get_all_param_values(l2), new):
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got, want)
        # returned values are copies, not the live storage
        get_all_param_values(l2)[0][:] = 99
        assert l1.W.get_value()[0, 0] == 0

    def test_tag_filtered(self, mlp):
        l_in, l1, l2 = mlp
        assert len(get_all_param_values(l2, regularizable=False)) == 1
        set_all_param_values(l2, [np.full(3, 7.0)], regularizable=False)
        np.testing.assert_array_equal(l1.b.get_value(), 7.0)

    def test_mismatch_errors_set_nothing(self, mlp):
        l_in, l1, l2 = mlp
        before = get_all_param_values(l2)
        with pytest.raises(ValueError, match="mismatch"):
            set_all_param_values(l2, before[:2])
        bad = [np.ones((4, 3)), np.ones(3), np.ones((2, 3))]
        with pytest.raises(ValueError, match="shape"):
            set_all_param_values(l2, bad)
        for got, want in zip(get_all_param_values(l2), before):
            np.testing.assert_array_equal(got, want)
