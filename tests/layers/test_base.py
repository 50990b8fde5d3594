"""Tests of the Layer and MergeLayer base classes: shapes, params, tags."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest

from sknet import init
from sknet.layers import InputLayer, Layer, MergeLayer


class TestLayer:
    def test_incoming_tuple_or_layer(self):
        from_tuple = Layer((None, 3))
        assert from_tuple.input_shape == (None, 3)
        assert from_tuple.input_layer is None
        l_in = InputLayer((2, 5))
        from_layer = Layer(l_in, name="l")
        assert from_layer.input_layer is l_in
        assert from_layer.input_shape == (2, 5)
        assert from_layer.output_shape == (2, 5)
        assert from_layer.name == "l"

    def test_non_positive_input_shape_raises(self):
        with pytest.raises(ValueError, match="non-positive"):
            Layer((None, 0))
        with pytest.raises(ValueError, match="non-positive"):
            Layer((-1, 3))

    def test_symbolic_output_shape_raises(self):
        class Bad(Layer):
            def get_output_shape_for(self, input_shape):
                return (T.iscalar(),)

        with pytest.raises(ValueError, match="symbolic output shape"):
            Bad((None, 3)).output_shape

    def test_get_output_for_is_abstract(self):
        with pytest.raises(NotImplementedError):
            Layer((None, 3)).get_output_for(T.matrix())

    def test_add_param_naming(self):
        named = Layer((None, 3), name="lay")
        p = named.add_param(init.Constant(0.5), (3, 2), name="W")
        assert p.name == "lay.W"
        np.testing.assert_array_equal(p.get_value(), np.full((3, 2), 0.5, "float32"))
        assert p.dtype == "float32"
        unnamed = Layer((None, 3))
        assert unnamed.add_param(init.Constant(0.0), (2,), name="b").name == "b"
        assert unnamed.add_param(init.Constant(0.0), (2,)).name is None

    def test_add_param_from_array_and_shared(self):
        l = Layer((None, 3))
        arr = np.arange(6.0).reshape(2, 3)
        p = l.add_param(arr, (2, 3), name="a")
        np.testing.assert_array_equal(p.get_value(), arr.astype("float32"))
        shared = pytensor.shared(np.zeros(4, "float32"))
        assert l.add_param(shared, (4,), name="s") is shared
        assert shared.name == "s"
        with pytest.raises(ValueError):
            l.add_param(np.zeros((2, 2)), (2, 3))
        with pytest.raises(ValueError):
            l.add_param(pytensor.shared(np.zeros(3, "float32")), (4,))

    def test_default_and_custom_tags(self):
        l = Layer((None, 3))
        w = l.add_param(init.Constant(0.0), (3,), name="w")
        b = l.add_param(init.Constant(0.0), (3,), name="b", regularizable=False)
        m = l.add_param(init.Constant(0.0), (3,), name="m", trainable=False, stat=True)
        assert l.params[w] == {"trainable", "regularizable"}
        assert l.params[b] == {"trainable"}
        assert l.params[m] == {"regularizable", "stat"}

    def test_get_params_tag_filtering(self):
        l = Layer((None, 3))
        w = l.add_param(init.Constant(0.0), (3,), name="w")
        b = l.add_param(init.Constant(0.0), (3,), name="b", regularizable=False)
        m = l.add_param(init.Constant(0.0), (3,), name="m", trainable=False, stat=True)
        assert l.get_params() == [w, b, m]
        assert l.get_params(trainable=True) == [w, b]
        assert l.get_params(regularizable=True) == [w, m]
        assert l.get_params(trainable=True, regularizable=False) == [b]
        assert l.get_params(stat=True) == [m]
        assert l.get_params(stat=False) == [w, b]
        assert l.get_params(trainable=False) == [m]

    def test_expression_param_is_unwrapped(self):
        shared = pytensor.shared(np.ones((3, 2), "float32"), name="base")
        expr = 2 * shared
        l = Layer((None, 3))
        p = l.add_param(expr, (3, 2), name="W")
        assert p is expr
        assert l.get_params() == [shared]
        assert l.get_params(unwrap_shared=False) == [expr]
        with pytest.raises(ValueError, match="dimensions"):
            l.add_param(T.vector(), (3, 2))

    def test_repr(self):
        assert "Layer" in repr(Layer((None, 3), name="x"))
        assert "'x'" in repr(Layer((None, 3), name="x"))


class TestMergeLayer:
    def test_inputs(self):
        l1 = InputLayer((None, 3))
        merged = MergeLayer([l1, (None, 4)], name="m")
        assert merged.input_shapes == [(None, 3), (None, 4)]
        assert merged.input_layers == [l1, None]
        assert merged.name == "m"
        assert merged.params == {}

    def test_abstract_methods(self):
        merged = MergeLayer([(None, 3), (None, 3)])
        with pytest.raises(NotImplementedError):
            merged.output_shape
        with pytest.raises(NotImplementedError):
            merged.get_output_for([T.matrix(), T.matrix()])

    def test_subclass_output(self, mode):
        class Mul(MergeLayer):
            def get_output_shape_for(self, input_shapes):
                return input_shapes[0]

            def get_output_for(self, inputs, **kwargs):
                return inputs[0] * inputs[1]

        a, b = T.matrices("a", "b")
        out = Mul([(None, 2), (None, 2)]).get_output_for([a, b])
        f = pytensor.function([a, b], out, mode=mode)
        x = np.array([[1.0, 2.0]], "float32")
        np.testing.assert_allclose(f(x, 3 * x), 3 * x**2)


def _exported_layer_classes():
    import sknet.layers

    return sorted(
        (
            obj
            for name, obj in vars(sknet.layers).items()
            if isinstance(obj, type) and issubclass(obj, Layer) and obj.__name__ == name
        ),
        key=lambda cls: cls.__name__,
    )


@pytest.mark.parametrize("cls", _exported_layer_classes(), ids=lambda cls: cls.__name__)
def test_every_layer_is_documented_and_implemented(cls):
    """Invariants over every public layer class: an Examples section, a real get_output_for."""
    doc = cls.__doc__ or ""
    assert "Examples" in doc and ">>>" in doc, f"{cls.__name__} needs an Examples section"
    if cls not in (Layer, MergeLayer, InputLayer):
        assert cls.get_output_for is not Layer.get_output_for
        assert cls.get_output_for is not MergeLayer.get_output_for
