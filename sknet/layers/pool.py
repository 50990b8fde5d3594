"""Pooling layers: max/average pooling in 1-D and 2-D, global pooling, upscaling."""

import pytensor.tensor as T

from ..ops.pool import POOL_MODES, Pool2D
from ..ops.pool import pool_out_size as _pool_out_size
from ..utils import as_tuple
from .base import Layer

# Lasagne defines these in lasagne.layers.pool; importable from here as there
from .pool_extra import (  # noqa: F401
    FeaturePoolLayer,
    FeatureWTALayer,
    SpatialPyramidPoolingLayer,
    Upscale1DLayer,
)

__all__ = [
    "pool_output_length",
    "Pool1DLayer",
    "Pool2DLayer",
    "MaxPool1DLayer",
    "MaxPool2DLayer",
    "GlobalPoolLayer",
    "Upscale2DLayer",
]


def pool_output_length(input_length, pool_size, stride, pad, ignore_border):
    """Number of pooling windows along one axis.

    Parameters
    ----------
    input_length : int or None
    pool_size, stride, pad : int
    ignore_border : bool
        False keeps a last, partial window (``pad`` must then be 0).

    Examples
    --------
    >>> from sknet.layers.pool import pool_output_length
    >>> pool_output_length(7, 2, 2, 0, True), pool_output_length(7, 2, 2, 0, False)
    (3, 4)
    """
    if input_length is None or pool_size is None:
        return None
    if not ignore_border and pad:
        raise NotImplementedError("padding needs ignore_border=True")
    return _pool_out_size(input_length, pool_size, stride, pad, ignore_border)


class Pool2DLayer(Layer):
    """2-D pooling over the last two axes.

    Parameters
    ----------
    incoming : Layer or tuple
    pool_size : int or tuple of 2 ints
    stride : int, tuple of 2 ints or None
        None means ``pool_size`` (non-overlapping windows).
    pad : int or tuple of 2 ints
        Must be smaller than ``pool_size``.
    ignore_border : bool
        False keeps partial windows at the lower and right borders.
    mode : {'max', 'average_inc_pad', 'average_exc_pad'}
        'average_inc_pad' counts padded cells in the average,
        'average_exc_pad' does not.

    Examples
    --------
    >>> from sknet.layers import InputLayer, Pool2DLayer, get_output
    >>> x = np.arange(16, dtype='float32').reshape(1, 1, 4, 4)
    >>> l = Pool2DLayer(InputLayer((None, 1, 4, 4)), 2, mode='average_inc_pad')
    >>> l.output_shape
    (None, 1, 2, 2)
    >>> get_output(l, x).eval()[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    """

    def __init__(self, incoming, pool_size, stride=None, pad=(0, 0), ignore_border=True, mode="max", **kwargs):
        super().__init__(incoming, **kwargs)
        if len(self.input_shape) != 4:
            raise ValueError(
                f"Tried to create a 2D pooling layer with input shape {self.input_shape}; expected 4 dimensions (bc01)."
            )
        if mode not in POOL_MODES:
            raise ValueError(f"mode must be one of {POOL_MODES}, got {mode!r}")
        self.pool_size = as_tuple(pool_size, 2)
        self.stride = self.pool_size if stride is None else as_tuple(stride, 2)
        self.pad = as_tuple(pad, 2)
        self.ignore_border = ignore_border
        self.mode = mode
        self._op = Pool2D(self.pool_size, self.stride, self.pad, ignore_border, mode)

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape[:2]) + tuple(
            pool_output_length(input_shape[2 + i], self.pool_size[i], self.stride[i], self.pad[i], self.ignore_border)
            for i in range(2)
        )

    def get_output_for(self, input, **kwargs):
        return self._op(input)


class MaxPool2DLayer(Pool2DLayer):
    """2-D max pooling: :class:`Pool2DLayer` with ``mode='max'``.

    Examples
    --------
    >>> from sknet.layers import InputLayer, MaxPool2DLayer
    >>> MaxPool2DLayer(InputLayer((None, 32, 24, 24)), pool_size=(2, 2)).output_shape
    (None, 32, 12, 12)
    """

    def __init__(self, incoming, pool_size, stride=None, pad=(0, 0), ignore_border=True, **kwargs):
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode="max", **kwargs)


class Pool1DLayer(Layer):
    """1-D pooling over the last axis of ``(batch, channels, length)`` input.

    Parameters are those of :class:`Pool2DLayer`, with ints for one axis.

    Examples
    --------
    >>> from sknet.layers import InputLayer, Pool1DLayer, get_output
    >>> l = Pool1DLayer(InputLayer((None, 2, 5)), 2, ignore_border=False)
    >>> l.output_shape
    (None, 2, 3)
    >>> get_output(l, np.arange(5, dtype='float32').reshape(1, 1, 5)).eval()
    array([[[1., 3., 4.]]], dtype=float32)
    """

    def __init__(self, incoming, pool_size, stride=None, pad=0, ignore_border=True, mode="max", **kwargs):
        super().__init__(incoming, **kwargs)
        if len(self.input_shape) != 3:
            raise ValueError(
                f"Tried to create a 1D pooling layer with input shape {self.input_shape}; expected 3 dimensions."
            )
        self.pool_size = as_tuple(pool_size, 1)
        self.stride = self.pool_size if stride is None else as_tuple(stride, 1)
        self.pad = as_tuple(pad, 1)
        self.ignore_border = ignore_border
        self.mode = mode
        self._op = Pool2D((1,) + self.pool_size, (1,) + self.stride, (0,) + self.pad, ignore_border, mode)

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape[:2]) + (
            pool_output_length(input_shape[2], self.pool_size[0], self.stride[0], self.pad[0], self.ignore_border),
        )

    def get_output_for(self, input, **kwargs):
        return self._op(input.dimshuffle(0, 1, "x", 2))[:, :, 0, :]


class MaxPool1DLayer(Pool1DLayer):
    """1-D max pooling: :class:`Pool1DLayer` with ``mode='max'``.

    Examples
    --------
    >>> from sknet.layers import InputLayer, MaxPool1DLayer
    >>> MaxPool1DLayer(InputLayer((None, 4, 9)), 3).output_shape
    (None, 4, 3)
    """

    def __init__(self, incoming, pool_size, stride=None, pad=0, ignore_border=True, **kwargs):
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode="max", **kwargs)


class GlobalPoolLayer(Layer):
    """Pool each channel over all its trailing axes: ``(b, c, ...) -> (b, c)``.

    Parameters
    ----------
    incoming : Layer or tuple
    pool_function : callable
        Reduction applied along axis 2 of the flattened ``(b, c, -1)`` input
        (``T.mean``, ``T.max``, ...).

    Examples
    --------
    >>> from sknet.layers import InputLayer, GlobalPoolLayer, get_output
    >>> l = GlobalPoolLayer(InputLayer((None, 2, 3, 3)))
    >>> l.output_shape
    (None, 2)
    >>> get_output(l, np.ones((1, 2, 3, 3), 'float32')).eval()
    array([[1., 1.]], dtype=float32)
    """

    def __init__(self, incoming, pool_function=T.mean, **kwargs):
        super().__init__(incoming, **kwargs)
        self.pool_function = pool_function

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape[:2])

    def get_output_for(self, input, **kwargs):
        return self.pool_function(input.flatten(3), axis=2)


class Upscale2DLayer(Layer):
    """Upscale the last two axes by integer factors.

    Parameters
    ----------
    incoming : Layer or tuple
    scale_factor : int or tuple of 2 ints
    mode : {'repeat', 'dilate'}
        'repeat' copies each value into a block; 'dilate' puts it in the
        block's top-left corner and zeros elsewhere.

    Examples
    --------
    >>> from sknet.layers import InputLayer, Upscale2DLayer, get_output
    >>> l = Upscale2DLayer(InputLayer((None, 1, 1, 2)), 2)
    >>> l.output_shape
    (None, 1, 2, 4)
    >>> get_output(l, np.array([[[[1, 2]]]], 'float32')).eval()[0, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.]], dtype=float32)
    """

    def __init__(self, incoming, scale_factor, mode="repeat", **kwargs):
        super().__init__(incoming, **kwargs)
        self.scale_factor = as_tuple(scale_factor, 2)
        if min(self.scale_factor) < 1:
            raise ValueError(f"Scale factor must be >= 1, not {scale_factor}")
        if mode not in ("repeat", "dilate"):
            raise ValueError(f"Invalid upscale mode {mode!r}")
        self.mode = mode

    def get_output_shape_for(self, input_shape):
        shape = list(input_shape)
        for i in range(2):
            if shape[2 + i] is not None:
                shape[2 + i] *= self.scale_factor[i]
        return tuple(shape)

    def get_output_for(self, input, **kwargs):
        a, b = self.scale_factor
        if self.mode == "repeat":
            out = input
            if b > 1:
                out = T.repeat(out, b, axis=3)
            if a > 1:
                out = T.repeat(out, a, axis=2)
            return out
        s = input.shape
        out = T.zeros((s[0], s[1], s[2] * a, s[3] * b), dtype=input.dtype)
        return T.set_subtensor(out[:, :, ::a, ::b], input)
