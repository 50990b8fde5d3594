"""Small general-purpose layers: nonlinearity, bias, scale, arbitrary expressions."""

import numbers

import numpy as np
import pytensor
import pytensor.tensor as T

from .. import init, nonlinearities
from ..backend import FLOATX
from .base import Layer

__all__ = [
    "NonlinearityLayer",
    "BiasLayer",
    "ScaleLayer",
    "standardize",
    "ExpressionLayer",
    "ParametricRectifierLayer",
    "prelu",
]


class NonlinearityLayer(Layer):
    """Apply an elementwise nonlinearity to its input.

    Parameters
    ----------
    incoming : Layer or tuple
    nonlinearity : callable or None
        None means linear (the identity).

    Examples
    --------
    >>> from sknet.layers import InputLayer, NonlinearityLayer
    >>> l = NonlinearityLayer(InputLayer((None, 3)))
    >>> l.get_output_for(T.constant(np.array([[-1., 0., 2.]], 'float32'))).eval()
    array([[0., 0., 2.]], dtype=float32)
    """

    def __init__(self, incoming, nonlinearity=nonlinearities.rectify, **kwargs):
        super().__init__(incoming, **kwargs)
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity

    def get_output_for(self, input, **kwargs):
        return self.nonlinearity(input)


def _resolve_shared_axes(shared_axes, ndim):
    if shared_axes == "auto":
        # one value per channel (axis 1), shared over the batch and spatial axes
        return (0,) + tuple(range(2, ndim))
    if isinstance(shared_axes, numbers.Integral):
        shared_axes = (shared_axes,)
    return tuple(int(a) % ndim for a in shared_axes)


class _BroadcastParamLayer(Layer):
    """Common machinery of layers holding one parameter broadcast over some axes."""

    _param_name = None

    def _init_param(self, spec, shared_axes):
        ndim = len(self.input_shape)
        self.shared_axes = _resolve_shared_axes(shared_axes, ndim)
        if spec is None:
            return None
        shape = [size for axis, size in enumerate(self.input_shape) if axis not in self.shared_axes]
        if any(size is None for size in shape):
            raise ValueError(
                f"{type(self).__name__} needs known input sizes on every axis its "
                f"{self._param_name} are not shared over; got input shape "
                f"{self.input_shape} with shared_axes={self.shared_axes}."
            )
        return self.add_param(spec, tuple(shape), self._param_name, regularizable=False)

    def _broadcast(self, param, ndim):
        param_axes = iter(range(param.ndim))
        pattern = ["x" if axis in self.shared_axes else next(param_axes) for axis in range(ndim)]
        return param.dimshuffle(*pattern)


class BiasLayer(_BroadcastParamLayer):
    """Add a learned bias to its input, shared over some axes.

    Parameters
    ----------
    incoming : Layer or tuple
    b : initializer, array, shared variable or None
        The biases; None gives a layer that passes its input through.
    shared_axes : 'auto', int or tuple of int
        Axes the bias is shared over (broadcast along). 'auto' shares over
        every axis but the second, giving one bias per channel (or per unit
        for 2-d input).

    Examples
    --------
    >>> from sknet.layers import InputLayer, BiasLayer
    >>> l = BiasLayer(InputLayer((None, 3, 5, 5)))
    >>> l.b.get_value().shape, l.output_shape
    ((3,), (None, 3, 5, 5))
    """

    _param_name = "b"

    def __init__(self, incoming, b=init.Constant(0), shared_axes="auto", **kwargs):
        super().__init__(incoming, **kwargs)
        self.b = self._init_param(b, shared_axes)

    def get_output_for(self, input, **kwargs):
        if self.b is None:
            return input
        return input + self._broadcast(self.b, input.ndim)


class ScaleLayer(_BroadcastParamLayer):
    """Multiply its input by learned scales, shared over some axes.

    Parameters
    ----------
    incoming : Layer or tuple
    scales : initializer, array or shared variable
    shared_axes : 'auto', int or tuple of int
        As in :class:`BiasLayer`.

    Examples
    --------
    >>> from sknet.layers import InputLayer, ScaleLayer
    >>> l = ScaleLayer(InputLayer((None, 4)), shared_axes=(0, 1))
    >>> l.scales.get_value().shape
    ()
    """

    _param_name = "scales"

    def __init__(self, incoming, scales=init.Constant(1), shared_axes="auto", **kwargs):
        super().__init__(incoming, **kwargs)
        if scales is None:
            raise ValueError("ScaleLayer needs scales; use a plain Layer for no scaling")
        self.scales = self._init_param(scales, shared_axes)

    def get_output_for(self, input, **kwargs):
        return input * self._broadcast(self.scales, input.ndim)


def standardize(layer, offset, scale, shared_axes="auto"):
    """Standardize a layer's output: ``(x - offset) / scale`` with fixed params.

    Adds a :class:`BiasLayer` (bias ``-offset``) and a :class:`ScaleLayer`
    (scales ``1 / scale``), both with their parameters marked not trainable.

    Parameters
    ----------
    layer : Layer
    offset, scale : array or shared variable
        Shaped as the parameters of :class:`BiasLayer` for ``shared_axes``.
    shared_axes : 'auto', int or tuple of int

    Returns
    -------
    ScaleLayer

    Examples
    --------
    >>> from sknet.layers import InputLayer, get_all_params
    >>> l = standardize(InputLayer((None, 2)), np.array([1., 2.]), np.array([2., 4.]))
    >>> get_all_params(l, trainable=True)
    []
    """
    layer = BiasLayer(layer, -offset, shared_axes)
    layer.params[layer.b].discard("trainable")
    layer = ScaleLayer(layer, 1 / scale, shared_axes)
    layer.params[layer.scales].discard("trainable")
    return layer


class ExpressionLayer(Layer):
    """Apply any function of one tensor to the incoming layer's output.

    Parameters
    ----------
    incoming : Layer or tuple
    function : callable
        Maps the symbolic input to the symbolic output.
    output_shape : None, tuple, 'auto' or callable
        None: same as the input shape. A tuple: that shape. A callable: called
        with the input shape. 'auto': inferred by applying ``function`` to
        stand-in inputs (a dimension is None when it follows an unknown input
        size).

    Examples
    --------
    >>> from sknet.layers import InputLayer, ExpressionLayer
    >>> l = ExpressionLayer(InputLayer((None, 3, 4)), lambda x: x.mean(axis=-1),
    ...                     output_shape='auto')
    >>> l.output_shape
    (None, 3)
    """

    def __init__(self, incoming, function, output_shape=None, **kwargs):
        super().__init__(incoming, **kwargs)
        self.function = function
        if output_shape is None or (isinstance(output_shape, str) and output_shape == "auto"):
            self._output_shape = output_shape
        elif callable(output_shape):
            self._output_shape = output_shape
        else:
            self._output_shape = tuple(output_shape)
        self._auto_shapes = {}

    def get_output_shape_for(self, input_shape):
        spec = self._output_shape
        if spec is None:
            return input_shape
        if isinstance(spec, str):
            input_shape = tuple(input_shape)
            if input_shape not in self._auto_shapes:
                self._auto_shapes[input_shape] = self._infer_shape(input_shape)
            return self._auto_shapes[input_shape]
        if callable(spec):
            return tuple(spec(input_shape))
        return spec

    def _infer_shape(self, input_shape):
        # Static shape inference first: no compilation at all when it suffices.
        out = self.function(T.tensor(dtype=FLOATX, shape=input_shape))
        if all(s is not None for s in out.type.shape):
            return tuple(int(s) for s in out.type.shape)
        # Otherwise evaluate the function's output shape for two different
        # stand-in sizes of the unknown dimensions: what changes is unknown.
        shapes = []
        for fill in (2, 3):
            concrete = tuple(fill if s is None else s for s in input_shape)
            out = self.function(T.zeros(concrete, dtype=FLOATX))
            shapes.append(out.shape)
        fn = pytensor.function(
            [], shapes, mode=pytensor.compile.mode.Mode(linker="py", optimizer="fast_run")
        )
        first, second = (np.asarray(s) for s in fn())
        return tuple(int(a) if a == b else None for a, b in zip(first, second))

    def get_output_for(self, input, **kwargs):
        return self.function(input)


class ParametricRectifierLayer(Layer):
    """A rectifier with learned leakiness: ``max(x, 0) + alpha * min(x, 0)``.

    Parameters
    ----------
    incoming : Layer or tuple
    alpha : initializer, array or shared variable
        The slopes for negative inputs.
    shared_axes : 'auto', 'all', int or tuple of int
        Axes the slopes are shared over; 'auto' gives one slope per channel,
        'all' a single slope.

    Examples
    --------
    >>> from sknet.layers import InputLayer, ParametricRectifierLayer
    >>> l = ParametricRectifierLayer(InputLayer((None, 3)))
    >>> l.alpha.get_value()
    array([0.25, 0.25, 0.25], dtype=float32)
    """

    def __init__(self, incoming, alpha=init.Constant(0.25), shared_axes="auto", **kwargs):
        super().__init__(incoming, **kwargs)
        ndim = len(self.input_shape)
        if isinstance(shared_axes, str) and shared_axes == "all":
            self.shared_axes = tuple(range(ndim))
        else:
            self.shared_axes = _resolve_shared_axes(shared_axes, ndim)
        shape = [size for axis, size in enumerate(self.input_shape) if axis not in self.shared_axes]
        if any(size is None for size in shape):
            raise ValueError(
                "ParametricRectifierLayer needs known input sizes on every axis the "
                f"slopes are not shared over; got input shape {self.input_shape}."
            )
        self.alpha = self.add_param(alpha, tuple(shape), name="alpha", regularizable=False)

    def get_output_for(self, input, **kwargs):
        axes = iter(range(self.alpha.ndim))
        pattern = ["x" if a in self.shared_axes else next(axes) for a in range(input.ndim)]
        alpha = self.alpha.dimshuffle(*pattern)
        return T.maximum(input, 0) + alpha * T.minimum(input, 0)


def prelu(layer, **kwargs):
    """Replace a layer's nonlinearity by a learned parametric rectifier.

    The layer's own nonlinearity becomes the identity and a
    :class:`ParametricRectifierLayer` is stacked on top.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> l = prelu(DenseLayer(InputLayer((None, 3)), num_units=2))
    >>> type(l).__name__, l.alpha.get_value().shape
    ('ParametricRectifierLayer', (2,))
    """
    nonlinearity = getattr(layer, "nonlinearity", None)
    if nonlinearity is not None:
        layer.nonlinearity = nonlinearities.identity
    return ParametricRectifierLayer(layer, **kwargs)
