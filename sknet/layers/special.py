"""Small general-purpose layers: nonlinearity, bias, scale, expressions, inverses, rectifiers."""

import numpy as np
import pytensor
import pytensor.tensor as T

from .. import init, nonlinearities, random
from ..utils import float_dtype, int_types
from .base import Layer, MergeLayer

__all__ = [
    "NonlinearityLayer",
    "BiasLayer",
    "ScaleLayer",
    "standardize",
    "ExpressionLayer",
    "InverseLayer",
    "ParametricRectifierLayer",
    "prelu",
    "RandomizedRectifierLayer",
    "rrelu",
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
    if isinstance(shared_axes, int_types):
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
                f"{type(self).__name__} needs specified input sizes on every axis its "
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
        out = self.function(T.tensor(dtype=float_dtype(), shape=input_shape))
        if all(s is not None for s in out.type.shape):
            return tuple(int(s) for s in out.type.shape)
        # Otherwise evaluate the function's output shape for two different
        # stand-in sizes of the unknown dimensions: what changes is unknown.
        shapes = []
        for fill in (2, 3):
            concrete = tuple(fill if s is None else s for s in input_shape)
            out = self.function(T.zeros(concrete, dtype=float_dtype()))
            shapes.append(out.shape)
        fn = pytensor.function([], shapes, mode=pytensor.compile.mode.Mode(linker="py", optimizer="fast_run"))
        first, second = (np.asarray(s) for s in fn())
        return tuple(int(a) if a == b else None for a, b in zip(first, second))

    def get_output_for(self, input, **kwargs):
        return self.function(input)


class InverseLayer(MergeLayer):
    """Apply the transpose of a layer's Jacobian: backpropagate through ``layer``.

    The output is the gradient of ``sum(incoming * layer_output)`` with
    respect to ``layer``'s input: the transposed product for a
    :class:`DenseLayer`, a transposed convolution for a convolution layer,
    unpooling for max pooling. The derivative of the layer's nonlinearity and
    bias is included. Useful for autoencoders with tied weights.

    Parameters
    ----------
    incoming : Layer or tuple
        Shaped as ``layer``'s output.
    layer : Layer
        The layer to invert; the output is shaped as its input.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer, InverseLayer, get_output
    >>> l_in = InputLayer((None, 3))
    >>> l_dense = DenseLayer(l_in, 2, W=np.arange(6.).reshape(3, 2), nonlinearity=None)
    >>> l_inv = InverseLayer(l_dense, l_dense)
    >>> l_inv.output_shape
    (None, 3)
    >>> get_output(l_inv, np.ones((1, 3), 'float32')).eval()  # (x @ W) @ W.T
    array([[ 9., 39., 69.]], dtype=float32)
    """

    def __init__(self, incoming, layer, **kwargs):
        if not hasattr(layer, "input_layer") or layer.input_layer is None:
            raise ValueError(f"InverseLayer inverts a layer with one incoming layer; got {type(layer).__name__}")
        super().__init__([incoming, layer, layer.input_layer], **kwargs)

    def get_output_shape_for(self, input_shapes):
        return input_shapes[2]

    def get_output_for(self, inputs, **kwargs):
        input, layer_out, layer_in = inputs
        return pytensor.grad(None, wrt=layer_in, known_grads={layer_out: input})


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


class RandomizedRectifierLayer(Layer):
    """A leaky rectifier whose negative slope is random in training (Xu et al., 2015).

    In training, ``max(x, a * x)`` with slopes ``a`` drawn uniformly from
    ``[lower, upper)`` at every call (shared over ``shared_axes``); with
    ``deterministic=True``, the fixed slope ``(lower + upper) / 2``.

    Parameters
    ----------
    incoming : Layer or tuple
    lower, upper : float or scalar expression
        Bounds of the slopes; ``lower <= upper``.
    shared_axes : 'auto', 'all', int or tuple of int
        Axes one slope is shared over: 'auto' all but the second (one slope
        per channel, as for :class:`ParametricRectifierLayer`), 'all' a
        single slope.

    Examples
    --------
    >>> from sknet.layers import InputLayer, RandomizedRectifierLayer, get_output
    >>> l = RandomizedRectifierLayer(InputLayer((None, 2)), lower=0.2, upper=0.4)
    >>> get_output(l, np.array([[-1., 3.]], 'float32'), deterministic=True).eval()
    array([[-0.3,  3. ]], dtype=float32)
    >>> a = -get_output(l, np.array([[-1., -1.]], 'float32')).eval()
    >>> bool(((a >= 0.2) & (a < 0.4)).all())
    True
    """

    def __init__(self, incoming, lower=0.3, upper=0.8, shared_axes="auto", **kwargs):
        super().__init__(incoming, **kwargs)
        self.lower = lower
        self.upper = upper
        symbolic = isinstance(lower, pytensor.graph.basic.Variable) or isinstance(upper, pytensor.graph.basic.Variable)
        if not symbolic and lower > upper:
            raise ValueError(
                "Upper bound for RandomizedRectifierLayer needs to be higher than lower "
                f"bound, got lower={lower}, upper={upper}."
            )
        ndim = len(self.input_shape)
        if isinstance(shared_axes, str) and shared_axes == "all":
            self.shared_axes = tuple(range(ndim))
        else:
            self.shared_axes = _resolve_shared_axes(shared_axes, ndim)

    def get_output_for(self, input, deterministic=False, **kwargs):
        if (
            deterministic
            or self.upper is self.lower
            or (
                not isinstance(self.upper, pytensor.graph.basic.Variable)
                and not isinstance(self.lower, pytensor.graph.basic.Variable)
                and self.upper == self.lower
            )
        ):
            slope = T.cast((self.upper + self.lower) / 2.0, input.dtype)
            return T.switch(input > 0, input, slope * input)
        shape = tuple(1 if axis in self.shared_axes else input.shape[axis] for axis in range(input.ndim))
        low = T.cast(self.lower, input.dtype)
        high = T.cast(self.upper, input.dtype)
        slope = random.uniform(shape, low=low, high=high, dtype=input.dtype)
        if self.shared_axes:
            slope = T.specify_broadcastable(slope, *self.shared_axes)
        return T.switch(input > 0, input, slope * input)


def rrelu(layer, **kwargs):
    """Replace a layer's nonlinearity by a randomized leaky rectifier.

    The layer's own nonlinearity becomes the identity and a
    :class:`RandomizedRectifierLayer` (given ``**kwargs``) is stacked on top.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> l = rrelu(DenseLayer(InputLayer((None, 3)), num_units=2))
    >>> type(l).__name__, l.input_layer.nonlinearity.__name__
    ('RandomizedRectifierLayer', 'linear')
    """
    nonlinearity = getattr(layer, "nonlinearity", None)
    if nonlinearity is not None:
        layer.nonlinearity = nonlinearities.identity
    return RandomizedRectifierLayer(layer, **kwargs)
