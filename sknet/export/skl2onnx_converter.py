"""skl2onnx converters for sknet's estimators, so Pipelines holding a net convert.

:func:`register_skl2onnx` registers them (``sknet.export`` calls it on import
when skl2onnx is installed); then ``skl2onnx.to_onnx(pipeline, X[:1])``
converts a ``Pipeline([..., ('net', NeuralNetClassifier(...))])`` whole.
"""

import numpy as np
from onnx import TensorProto, numpy_helper

from .lowering import lower_net
from .onnx_layers import MIN_OPSET, GraphBuilder, emit_outputs, emit_program

__all__ = ["register_skl2onnx"]


class _ContainerBuilder(GraphBuilder):
    """A :class:`GraphBuilder` writing into a skl2onnx scope and container."""

    def __init__(self, scope, container):
        super().__init__(container.target_opset or MIN_OPSET)
        self.scope = scope
        self.container = container

    def name(self, hint):
        return self.scope.get_unique_variable_name(f"sknet_{hint}")

    def const(self, array, hint="const"):
        name = self.name(hint)
        array = np.asarray(array)
        if array.dtype.kind in "OU":
            self.container.add_initializer(name, TensorProto.STRING, list(array.shape), [str(v) for v in array.ravel()])
        else:
            tensor = numpy_helper.from_array(array, name)
            self.container.add_initializer(name, tensor.data_type, list(array.shape), tensor)
        return name

    def _add(self, op_type, inputs, outputs, domain, attrs):
        version = 1 if domain == "ai.onnx.ml" else self.opset
        self.container.add_node(
            op_type,
            inputs,
            outputs,
            op_domain=domain,
            op_version=version,
            name=self.scope.get_unique_operator_name(f"sknet_{op_type}"),
            **attrs,
        )


def _convert(scope, operator, container):
    net = operator.raw_operator
    lowered = lower_net(net)
    g = _ContainerBuilder(scope, container)
    if g.opset < MIN_OPSET:
        raise RuntimeError(f"sknet's ONNX converter needs opset >= {MIN_OPSET}, got {g.opset}")
    x = operator.inputs[0].full_name
    if operator.inputs[0].type.to_onnx_type().tensor_type.elem_type != TensorProto.FLOAT:
        x = g.node("Cast", [x], to=TensorProto.FLOAT)
    names = emit_program(g, lowered, x)
    outputs = [o.full_name for o in operator.outputs]
    emit_outputs(
        g, lowered, names[lowered.output], label_name=outputs[0], proba_name=outputs[1] if len(outputs) > 1 else None
    )


def _regressor_shapes(operator):
    from skl2onnx.common.data_types import FloatTensorType

    lowered_kind = "regress_1d" if getattr(operator.raw_operator, "y_ndim_", 2) == 1 else ""
    n = operator.inputs[0].get_first_dimension()
    out_layer = list(operator.raw_operator.layers_.values())[-1]
    shape = [n] if lowered_kind else [n, out_layer.output_shape[-1]]
    operator.outputs[0].type = FloatTensorType(shape)


def register_skl2onnx():
    """Register sknet's estimators with skl2onnx (idempotent).

    Returns
    -------
    list of type
        The estimator classes registered.

    Examples
    --------
    >>> from sknet import NeuralNetClassifier
    >>> NeuralNetClassifier in register_skl2onnx()
    True
    """
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    from ..estimator import NeuralNet, NeuralNetClassifier, NeuralNetRegressor

    update_registered_converter(
        NeuralNetClassifier,
        "SknetNeuralNetClassifier",
        calculate_linear_classifier_output_shapes,
        _convert,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
    )
    update_registered_converter(NeuralNetRegressor, "SknetNeuralNetRegressor", _regressor_shapes, _convert)
    update_registered_converter(NeuralNet, "SknetNeuralNet", _regressor_shapes, _convert)
    return [NeuralNetClassifier, NeuralNetRegressor, NeuralNet]
