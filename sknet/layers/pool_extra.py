"""Pooling beyond windows of fixed size: 1-D upscaling, pooling across features, pyramids."""

import pytensor.tensor as T

from ..ops.pool import Pool2D
from ..utils import as_tuple, int_types
from .base import Layer

__all__ = [
    "Upscale1DLayer",
    "FeaturePoolLayer",
    "FeatureWTALayer",
    "SpatialPyramidPoolingLayer",
    "pool_2d_nxn_regions",
]


class _UpscaleLayer(Layer):
    """Common base of the upscaling layers: repeat or dilate the trailing spatial axes by integer factors.

    Takes the parameters of :class:`~sknet.layers.Upscale2DLayer`, with
    ``n`` entries (a class attribute: the number of axes) for ``scale_factor``;
    checks them and computes the output shape and the output.

    Examples
    --------
    >>> from sknet.layers import InputLayer, Upscale2DLayer
    >>> l = Upscale2DLayer(InputLayer((None, 1, 3, None)), (2, 3), mode='dilate')
    >>> l.output_shape, l.scale_factor
    ((None, 1, 6, None), (2, 3))
    """

    n = None

    def __init__(self, incoming, scale_factor, mode="repeat", **kwargs):
        super().__init__(incoming, **kwargs)
        self.scale_factor = tuple(int(f) for f in as_tuple(scale_factor, self.n, int_types))
        if min(self.scale_factor) < 1:
            raise ValueError(f"Scale factor must be >= 1, not {self.scale_factor}")
        if mode not in ("repeat", "dilate"):
            raise ValueError(f"Mode must be either 'repeat' or 'dilate', not {mode!r}")
        self.mode = mode

    def get_output_shape_for(self, input_shape):
        spatial = tuple(None if s is None else s * f for s, f in zip(input_shape[2:], self.scale_factor))
        return tuple(input_shape[:2]) + spatial

    def get_output_for(self, input, **kwargs):
        factors = self.scale_factor
        if self.mode == "repeat":
            out = input
            for axis in reversed(range(2, 2 + self.n)):
                if factors[axis - 2] > 1:
                    out = T.repeat(out, factors[axis - 2], axis=axis)
            return out
        if max(factors) == 1:
            return input
        shape = [input.shape[0], input.shape[1]] + [input.shape[2 + i] * f for i, f in enumerate(factors)]
        every = (slice(None), slice(None)) + tuple(slice(None, None, f) for f in factors)
        return T.set_subtensor(T.zeros(shape, dtype=input.dtype)[every], input)


class Upscale1DLayer(_UpscaleLayer):
    """Upscale the last axis of 3-D input by an integer factor.

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, channels, length)``.
    scale_factor : int or iterable of one int
        At least 1.
    mode : {'repeat', 'dilate'}
        'repeat' repeats every value ``scale_factor`` times; 'dilate' puts
        each value at the start of its block and zeros in the rest.

    Examples
    --------
    >>> from sknet.layers import InputLayer, Upscale1DLayer, get_output
    >>> x = np.array([[[1., 2.]]], dtype='float32')
    >>> l = Upscale1DLayer(InputLayer((None, 1, 2)), 2)
    >>> l.output_shape, get_output(l, x).eval().tolist()
    ((None, 1, 4), [[[1.0, 1.0, 2.0, 2.0]]])
    >>> get_output(Upscale1DLayer(InputLayer((None, 1, 2)), 2, mode='dilate'), x).eval().tolist()
    [[[1.0, 0.0, 2.0, 0.0]]]
    """

    n = 1


class _FeatureGroups(Layer):
    """Plumbing of the layers acting on groups of ``pool_size`` features along ``axis``."""

    _group_name = "pool size"

    def __init__(self, incoming, pool_size, axis=1, **kwargs):
        super().__init__(incoming, **kwargs)
        if not isinstance(pool_size, int_types) or pool_size < 1:
            raise ValueError(f"pool_size must be a positive int, got {pool_size!r}")
        self.pool_size = int(pool_size)
        self.axis = int(axis) % len(self.input_shape)
        size = self.input_shape[self.axis]
        if size is not None and size % self.pool_size:
            raise ValueError(
                f"Number of input feature maps ({size}) is not a multiple of the "
                f"{self._group_name} (pool_size={self.pool_size})"
            )


def _grouped(input, axis, pool_size):
    """``input`` with ``axis`` split into (groups, pool_size)."""
    shape = [input.shape[k] for k in range(input.ndim)]
    grouped = shape[:axis] + [shape[axis] // pool_size, pool_size] + shape[axis + 1 :]
    return input.reshape(grouped, ndim=input.ndim + 1)


class FeaturePoolLayer(_FeatureGroups):
    """Pool groups of ``pool_size`` consecutive features along one axis (maxout).

    Parameters
    ----------
    incoming : Layer or tuple
    pool_size : int
        Features per group; the size of ``axis`` must be a multiple of it.
    axis : int
        The feature axis (1: the units of a dense layer, the channels of a
        convolution).
    pool_function : callable
        Called as ``pool_function(x, axis=k)``; :func:`pytensor.tensor.max`
        (maxout) by default.

    Examples
    --------
    >>> from sknet.layers import InputLayer, FeaturePoolLayer, get_output
    >>> l = FeaturePoolLayer(InputLayer((None, 4)), pool_size=2)
    >>> l.output_shape
    (None, 2)
    >>> get_output(l, np.array([[1., 5., 3., 2.]], 'float32')).eval()
    array([[5., 3.]], dtype=float32)
    """

    def __init__(self, incoming, pool_size, axis=1, pool_function=T.max, **kwargs):
        super().__init__(incoming, pool_size, axis, **kwargs)
        self.pool_function = pool_function

    def get_output_shape_for(self, input_shape):
        shape = list(input_shape)
        if shape[self.axis] is not None:
            shape[self.axis] //= self.pool_size
        return tuple(shape)

    def get_output_for(self, input, **kwargs):
        return self.pool_function(_grouped(input, self.axis, self.pool_size), axis=self.axis + 1)


class FeatureWTALayer(_FeatureGroups):
    """'Winner take all' across groups of features: keep each group's maximum, zero the rest.

    Parameters
    ----------
    incoming, pool_size, axis
        As in :class:`FeaturePoolLayer`.

    Notes
    -----
    A tie keeps the first of the equal maxima, as Lasagne's argmax does.

    Examples
    --------
    >>> from sknet.layers import InputLayer, FeatureWTALayer, get_output
    >>> l = FeatureWTALayer(InputLayer((None, 4)), pool_size=2)
    >>> get_output(l, np.array([[1., 5., 3., 2.]], 'float32')).eval()
    array([[0., 5., 3., 0.]], dtype=float32)
    """

    _group_name = "region size"

    def get_output_for(self, input, **kwargs):
        grouped = _grouped(input, self.axis, self.pool_size)
        winner = T.argmax(grouped, axis=self.axis + 1, keepdims=True)
        position = T.arange(self.pool_size).reshape(
            (1,) * (self.axis + 1) + (self.pool_size,) + (1,) * (input.ndim - self.axis - 1)
        )
        mask = T.eq(winner, position).reshape(input.shape, ndim=input.ndim)
        return input * T.cast(mask, input.dtype)


def _region_reduce(mode):
    if mode == "max":
        return T.max
    if mode in ("average_inc_pad", "average_exc_pad"):
        return T.mean
    raise ValueError(f"Mode must be either 'max', 'average_inc_pad' or 'average_exc_pad'. Got {mode!r}")


def pool_2d_nxn_regions(inputs, output_size, mode="max"):
    """Pool a 4-D input into ``output_size`` x ``output_size`` bins of any input size.

    Bin ``(r, c)`` covers rows ``floor(r h / n)`` to ``ceil((r + 1) h / n)``
    and the same for columns (He et al., 2015, appendix A), so bins may
    overlap by one and the input size need not divide.

    Parameters
    ----------
    inputs : 4-D tensor (batch, channels, rows, cols)
    output_size : int
    mode : {'max', 'average_inc_pad', 'average_exc_pad'}
        The two averages are the same here (there is no padding).

    Returns
    -------
    list of tensors
        ``output_size ** 2`` tensors of shape ``(batch, channels, 1)``, row
        by row.

    Examples
    --------
    >>> x = T.constant(np.arange(9, dtype='float32').reshape(1, 1, 3, 3))
    >>> [float(b.eval()[0, 0, 0]) for b in pool_2d_nxn_regions(x, 2)]
    [4.0, 5.0, 7.0, 8.0]
    """
    reduce = _region_reduce(mode)
    h, w = inputs.shape[2], inputs.shape[3]
    n = float(output_size)
    bins = []
    for row in range(output_size):
        for col in range(output_size):
            r0 = T.cast(T.floor(row / n * h), "int64")
            r1 = T.cast(T.ceil((row + 1) / n * h), "int64")
            c0 = T.cast(T.floor(col / n * w), "int64")
            c1 = T.cast(T.ceil((col + 1) / n * w), "int64")
            region = inputs[:, :, r0:r1, c0:c1]
            bins.append(reduce(region, axis=(2, 3)).dimshuffle(0, 1, "x"))
    return bins


class SpatialPyramidPoolingLayer(Layer):
    """Pool 2-D maps of any size into a fixed number of bins per level (He et al., 2015).

    Level ``i`` pools the maps into ``n_i x n_i`` bins, so the output has
    ``sum(n_i ** 2)`` values per channel whatever the input size: a dense
    layer can follow convolutions of input images of unknown size.

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, channels, rows, cols)``.
    pool_dims : list of int
        The ``n_i`` of each level.
    mode : {'max', 'average_inc_pad', 'average_exc_pad'}
    implementation : {'fast', 'kaiming'}
        'fast' pools with windows of ``ceil(size / n)`` and strides of
        ``floor(size / n)``, which gives ``n`` bins only for some sizes (an
        input size for which it does not is an error); 'kaiming' uses the
        bins of :func:`pool_2d_nxn_regions`, which fit any size.

    Examples
    --------
    >>> from sknet.layers import InputLayer, SpatialPyramidPoolingLayer, get_output
    >>> l = SpatialPyramidPoolingLayer(InputLayer((None, 3, None, None)), [2, 1])
    >>> l.output_shape
    (None, 3, 5)
    >>> get_output(l, np.ones((2, 3, 9, 7), 'float32')).eval().shape
    (2, 3, 5)
    """

    def __init__(self, incoming, pool_dims=(4, 2, 1), mode="max", implementation="fast", **kwargs):
        super().__init__(incoming, **kwargs)
        if len(self.input_shape) != 4:
            raise ValueError(
                f"Tried to create a SPP layer with input shape {self.input_shape}. Expected 4 "
                "input dimensions (batchsize, channels, 2 spatial dimensions)."
            )
        if implementation not in ("fast", "kaiming"):
            raise ValueError(f"implementation must be 'fast' or 'kaiming', got {implementation!r}")
        _region_reduce(mode)  # checks the mode
        self.mode = mode
        self.implementation = implementation
        self.pool_dims = list(pool_dims)
        if implementation == "fast":
            for n in self.pool_dims:
                for size in self.input_shape[2:]:
                    if size is not None:
                        _fast_window(size, n)

    def get_output_shape_for(self, input_shape):
        return (input_shape[0], input_shape[1], sum(n * n for n in self.pool_dims))

    def get_output_for(self, input, **kwargs):
        levels = []
        for n in self.pool_dims:
            if self.implementation == "kaiming":
                levels += pool_2d_nxn_regions(input, n, mode=self.mode)
            elif all(s is not None for s in self.input_shape[2:]):
                ws, stride = zip(*(_fast_window(s, n) for s in self.input_shape[2:]))
                pooled = Pool2D(ws, stride, (0, 0), True, self.mode)(input)
                levels.append(pooled.flatten(3))
            else:
                levels.append(_fast_regions(input, n, self.mode))
        return T.concatenate(levels, axis=2)


def _fast_window(size, n):
    """Window and stride of 'fast' SPP for one axis; an error when they miss ``n`` bins."""
    ws, stride = (size + n - 1) // n, size // n
    if stride < 1 or (size - ws) // stride + 1 != n:
        raise ValueError(
            f"SpatialPyramidPoolingLayer(implementation='fast') cannot pool an axis of size "
            f"{size} into {n} bins; use implementation='kaiming'"
        )
    return ws, stride


def _fast_regions(input, n, mode):
    """'fast' SPP bins for sizes known only at run time, as ``(batch, channels, n * n)``."""
    from pytensor.raise_op import Assert

    reduce = _region_reduce(mode)
    h, w = input.shape[2], input.shape[3]
    (ws_h, ws_w), (st_h, st_w) = ((h + n - 1) // n, (w + n - 1) // n), (h // n, w // n)
    fits = T.and_(T.eq((h - ws_h) // T.maximum(st_h, 1) + 1, n), T.eq((w - ws_w) // T.maximum(st_w, 1) + 1, n))
    fits = T.and_(fits, T.and_(T.ge(st_h, 1), T.ge(st_w, 1)))
    input = Assert(
        f"SpatialPyramidPoolingLayer(implementation='fast') cannot pool this input size into "
        f"{n} x {n} bins; use implementation='kaiming'"
    )(input, fits)
    bins = []
    for row in range(n):
        for col in range(n):
            region = input[:, :, row * st_h : row * st_h + ws_h, col * st_w : col * st_w + ws_w]
            bins.append(reduce(region, axis=(2, 3)))
    return T.stack(bins, axis=2)
