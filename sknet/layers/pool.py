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
    _UpscaleLayer,
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


class _PoolLayer(Layer):
    """Common base of the pooling layers over ``n`` trailing spatial axes.

    Takes the parameters of :class:`Pool2DLayer`, each spatial one with
    ``n`` entries, and ``n``; holds them and computes the output shape.

    Examples
    --------
    >>> from sknet.layers import InputLayer, Pool2DLayer
    >>> l = Pool2DLayer(InputLayer((None, 3, 7, None)), 3, stride=2, pad=1)
    >>> l.output_shape, l.stride, l.pad
    ((None, 3, 4, None), (2, 2), (1, 1))
    """

    def __init__(self, incoming, pool_size, stride, pad, ignore_border, mode, n, **kwargs):
        super().__init__(incoming, **kwargs)
        if len(self.input_shape) != n + 2:
            raise ValueError(
                f"Tried to create a {n}D pooling layer with input shape {self.input_shape}. "
                f"Expected {n + 2} input dimensions (batch, channels, {n} spatial dimensions)."
            )
        if mode not in POOL_MODES:
            raise ValueError(f"mode must be one of {POOL_MODES}, got {mode!r}")
        self.pool_size = as_tuple(pool_size, n)
        self.stride = self.pool_size if stride is None else as_tuple(stride, n)
        self.pad = as_tuple(pad, n)
        self.ignore_border = ignore_border
        self.mode = mode

    def get_output_shape_for(self, input_shape):
        windows = zip(input_shape[2:], self.pool_size, self.stride, self.pad)
        return tuple(input_shape[:2]) + tuple(
            pool_output_length(size, ws, st, pad, self.ignore_border) for size, ws, st, pad in windows
        )


class Pool2DLayer(_PoolLayer):
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
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode, n=2, **kwargs)
        self._op = Pool2D(self.pool_size, self.stride, self.pad, ignore_border, mode)

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


class Pool1DLayer(_PoolLayer):
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
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode, n=1, **kwargs)
        self._op = Pool2D((1,) + self.pool_size, (1,) + self.stride, (0,) + self.pad, ignore_border, mode)

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


class Upscale2DLayer(_UpscaleLayer):
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

    n = 2
