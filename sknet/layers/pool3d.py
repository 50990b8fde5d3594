"""3-D pooling and upscaling layers (bc012 layout): Pool3DLayer, MaxPool3DLayer, Upscale3DLayer.

Every pooling mode is separable over a box window (the max of maxima, and an
average of averages whose divisors multiply to the window's cell count, with
or without padded cells), so a 3-D pool is sknet's 2-D pooling op over rows
and columns followed by the same op over depth, and its gradient is that
op's own.
"""

import pytensor.tensor as T

from ..ops.pool import Pool2D
from ..utils import as_tuple
from .pool import _PoolLayer
from .pool_extra import _UpscaleLayer

__all__ = ["pool_3d", "Pool3DLayer", "MaxPool3DLayer", "Upscale3DLayer"]


def _pool_ops(ws, stride, pad, ignore_border, mode):
    ws, pad = as_tuple(ws, 3, int), as_tuple(pad, 3, int)
    stride = ws if stride is None else as_tuple(stride, 3, int)
    plane = Pool2D(ws[1:], stride[1:], pad[1:], ignore_border, mode)
    depth = Pool2D((ws[0], 1), (stride[0], 1), (pad[0], 0), ignore_border, mode)
    return plane, depth


def _apply_pool(x, plane, depth):
    B, C, D, H, W = x.shape
    out = plane(x.reshape((B, C * D, H, W)))
    oh, ow = out.shape[2], out.shape[3]
    out = depth(out.reshape((B * C, 1, D, oh * ow)))
    return out.reshape((B, C, out.shape[2], oh, ow))


def pool_3d(x, ws, stride=None, pad=(0, 0, 0), ignore_border=True, mode="max"):
    """Pool windows of the last three axes of a 5-D tensor.

    Parameters
    ----------
    x : 5-D tensor ``(batch, channels, depth, rows, cols)``
    ws : int or tuple of 3 ints
        Window size.
    stride : int, tuple of 3 ints or None
        None means ``ws``.
    pad : int or tuple of 3 ints
        Each smaller than the window size; needs ``ignore_border=True``.
    ignore_border : bool
    mode : {'max', 'average_inc_pad', 'average_exc_pad'}

    Examples
    --------
    >>> from sknet.layers.pool3d import pool_3d
    >>> x = np.arange(8, dtype='float32').reshape(1, 1, 2, 2, 2)
    >>> pool_3d(x, 2).eval().ravel(), pool_3d(x, 2, mode='average_inc_pad').eval().ravel()
    (array([7.], dtype=float32), array([3.5], dtype=float32))
    """
    x = T.as_tensor_variable(x)
    if x.ndim != 5:
        raise TypeError(f"pool_3d takes a 5-D tensor, got {x.ndim} dimensions")
    return _apply_pool(x, *_pool_ops(ws, stride, pad, ignore_border, mode))


class Pool3DLayer(_PoolLayer):
    """3-D pooling over the last three axes of bc012 input.

    Parameters are those of :class:`~sknet.layers.Pool2DLayer` with 3
    entries for ``pool_size``, ``stride`` and ``pad``; a 3-D pool is a 2-D
    pool over rows and columns followed by one over depth.

    Examples
    --------
    >>> from sknet.layers import InputLayer, Pool3DLayer, get_output
    >>> l = Pool3DLayer(InputLayer((None, 1, 2, 4, 4)), 2, mode='average_inc_pad')
    >>> l.output_shape
    (None, 1, 1, 2, 2)
    >>> get_output(l, np.arange(32, dtype='float32').reshape(1, 1, 2, 4, 4)).eval()[0, 0, 0]
    array([[10.5, 12.5],
           [18.5, 20.5]], dtype=float32)
    """

    def __init__(self, incoming, pool_size, stride=None, pad=(0, 0, 0), ignore_border=True, mode="max", **kwargs):
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode, n=3, **kwargs)
        self._ops = _pool_ops(self.pool_size, self.stride, self.pad, ignore_border, mode)

    def get_output_for(self, input, **kwargs):
        return _apply_pool(T.as_tensor_variable(input), *self._ops)


class MaxPool3DLayer(Pool3DLayer):
    """3-D max pooling: :class:`Pool3DLayer` with ``mode='max'``.

    Examples
    --------
    >>> from sknet.layers import InputLayer, MaxPool3DLayer
    >>> MaxPool3DLayer(InputLayer((None, 8, 9, 16, 16)), (3, 2, 2)).output_shape
    (None, 8, 3, 8, 8)
    """

    def __init__(self, incoming, pool_size, stride=None, pad=(0, 0, 0), ignore_border=True, **kwargs):
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode="max", **kwargs)


class Upscale3DLayer(_UpscaleLayer):
    """Upscale the last three axes of bc012 input by integer factors.

    Parameters are those of :class:`~sknet.layers.Upscale2DLayer`, with 3
    entries for ``scale_factor``: in 'dilate' mode each value lands in its
    block's first corner.

    Examples
    --------
    >>> from sknet.layers import InputLayer, Upscale3DLayer, get_output
    >>> l = Upscale3DLayer(InputLayer((None, 1, 1, 1, 2)), (2, 1, 2))
    >>> l.output_shape
    (None, 1, 2, 1, 4)
    >>> get_output(l, np.array([1, 2], 'float32').reshape(1, 1, 1, 1, 2)).eval().ravel()
    array([1., 1., 2., 2., 1., 1., 2., 2.], dtype=float32)
    """

    n = 3
