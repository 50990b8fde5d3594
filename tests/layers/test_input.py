"""Tests of InputLayer."""

import numpy as np
import pytensor.tensor as T
import pytest

from sknet.layers import InputLayer, get_output


class TestInputLayer:
    def test_default_variable(self):
        l = InputLayer((None, 3, 5))
        assert l.output_shape == (None, 3, 5)
        assert l.shape == (None, 3, 5)
        assert l.input_var.ndim == 3
        assert l.input_var.dtype == "float32"
        assert l.input_var.name == "input"
        assert l.params == {} and l.get_params() == []
        assert get_output(l) is l.input_var

    def test_named_variable(self):
        assert InputLayer((None, 2), name="pixels").input_var.name == "pixels.input"

    def test_given_variable(self):
        var = T.imatrix("ids")
        l = InputLayer([None, 4], input_var=var)
        assert l.input_var is var
        assert l.shape == (None, 4)
        data = np.array([[1, 2, 3, 4]], dtype="int32")
        np.testing.assert_array_equal(get_output(l, data).eval(), data)

    def test_variable_of_wrong_rank_raises(self):
        with pytest.raises(ValueError, match="dimensions"):
            InputLayer((None, 4), input_var=T.tensor3())

    def test_non_positive_shape_raises(self):
        with pytest.raises(ValueError, match="non-positive"):
            InputLayer((None, 0))
        with pytest.raises(ValueError, match="non-positive"):
            InputLayer((-2, 3))
