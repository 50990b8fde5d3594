"""Spatial transformers: TransformerLayer (affine) and TPSTransformerLayer (thin plate spline).

Both sample the input at transformed positions of a regular output grid in
normalised coordinates (``[-1, 1]`` across rows and columns) with bilinear
interpolation, as in Jaderberg et al. (2015), "Spatial Transformer Networks".
"""

import numpy as np
import pytensor.tensor as T

from ..utils import as_tuple
from .base import MergeLayer

__all__ = ["TransformerLayer", "TPSTransformerLayer"]

BORDER_MODES = ("nearest", "mirror", "wrap")


def _out_size(size, factor):
    return None if size is None else int(size // factor)


def _check_inputs(layer, loc_units, what, border_mode):
    input_shp, loc_shp = layer.input_shapes
    if len(loc_shp) != 2 or loc_shp[-1] != loc_units:
        raise ValueError(f"The localization network must have output shape (batch_size, {what}), got {loc_shp}")
    if len(input_shp) != 4:
        raise ValueError(
            "The input network must have a 4-dimensional output shape "
            f"(batch_size, num_input_channels, input_rows, input_columns), "
            f"got {input_shp}"
        )
    if border_mode not in BORDER_MODES:
        raise ValueError(f"border_mode must be one of {BORDER_MODES}, got {border_mode!r}")


def _symbolic_out_hw(input, factors):
    """Output rows and columns, from the input's own shape.

    Always symbolic, so a layer built for a fixed input size computes the
    same graph, and the same float32 numbers, as one built for any size.
    """
    return [T.cast(input.shape[2 + i] // f, "int64") for i, f in enumerate(factors)]


def _grid(out_h, out_w, dtype):
    """Normalised output positions ``(2, out_h * out_w)``: x (columns) then y, row-major."""

    def line(n):
        n = T.as_tensor_variable(n)
        step = 2.0 / T.maximum(n - 1, 1).astype(dtype)
        return T.arange(n, dtype=dtype) * step - 1

    xs = T.tile(line(out_w), (out_h,))
    ys = T.repeat(line(out_h), out_w)
    return T.stack([xs, ys])


def _bilinear(input, xs, ys, out_h, out_w, border_mode):
    """Sample ``input`` (b, c, h, w) at normalised points ``xs, ys`` (b, out_h * out_w).

    Every batch size here is read off an array, never computed (no
    ``-1``, no product), so JAX, which needs every shape concrete while it
    traces, compiles the layer and its gradient too.
    """
    dtype = input.dtype
    B, C, H, W = input.shape
    h, w = H.astype(dtype), W.astype(dtype)
    x = (xs + 1) / 2 * (w - 1)
    y = (ys + 1) / 2 * (h - 1)
    x0f, y0f = T.floor(x), T.floor(y)
    x1f, y1f = x0f + 1, y0f + 1

    def index(v, n):
        if border_mode == "nearest":
            v = T.clip(v, 0, n - 1)
        elif border_mode == "mirror":
            period = 2 * (n - 1)
            v = T.minimum(v % period, -v % period)
        else:  # wrap
            v = v % n
        return v.astype("int32")  # int32: JAX (without x64) has no int64

    x0, x1, y0, y1 = (index(v, n).flatten() for v, n in ((x0f, w), (x1f, w), (y0f, h), (y1f, h)))
    image = (T.arange(B, dtype="int32")[:, None] + 0 * index(x0f, w)).flatten()  # each point's image
    nhwc = input.dimshuffle(0, 2, 3, 1)

    def weight(a, b):  # (b * n, 1)
        return (a * b).flatten()[:, None]

    out = (
        weight(x1f - x, y1f - y) * nhwc[image, y0, x0]
        + weight(x1f - x, y - y0f) * nhwc[image, y1, x0]
        + weight(x - x0f, y1f - y) * nhwc[image, y0, x1]
        + weight(x - x0f, y - y0f) * nhwc[image, y1, x1]
    )
    return out.reshape((B, out_h, out_w, C)).dimshuffle(0, 3, 1, 2)


def _batched_dot(a, b):
    """``(k, m, n) x (n, p) -> (k, m, p)`` as one matrix product."""
    flat = T.dot(a.reshape((-1, a.shape[2])), b)
    return flat.reshape((a.shape[0], a.shape[1], b.shape[1]))


class TransformerLayer(MergeLayer):
    """Affine spatial transformer: resample the input on an affinely moved grid.

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, channels, rows, cols)``.
    localization_network : Layer
        Output ``(batch, 6)``: the rows of a 2x3 matrix ``A`` mapping output
        positions ``(x_t, y_t, 1)`` to input positions ``(x_s, y_s)``, both in
        ``[-1, 1]`` coordinates (``[1, 0, 0, 0, 1, 0]`` is the identity).
    downsample_factor : float or tuple of 2 floats
        Output size is the input size divided by this (rounded down); below
        1 upsamples.
    border_mode : {'nearest', 'mirror', 'wrap'}
        How positions outside the input are read: clipped to the edge,
        mirrored across it, or wrapped around.

    Examples
    --------
    >>> from sknet.layers import InputLayer, TransformerLayer, get_output
    >>> l_in, l_loc = InputLayer((None, 1, 2, 3)), InputLayer((None, 6))
    >>> l = TransformerLayer(l_in, l_loc)
    >>> x = np.arange(6, dtype='float32').reshape(1, 1, 2, 3)
    >>> flip = np.array([[-1, 0, 0, 0, 1, 0]], 'float32')  # mirror left-right
    >>> get_output(l, {l_in: x, l_loc: flip}).eval()[0, 0]
    array([[2., 1., 0.],
           [5., 4., 3.]], dtype=float32)
    """

    def __init__(self, incoming, localization_network, downsample_factor=1, border_mode="nearest", **kwargs):
        super().__init__([incoming, localization_network], **kwargs)
        self.downsample_factor = as_tuple(downsample_factor, 2)
        self.border_mode = border_mode
        _check_inputs(self, 6, "6", border_mode)

    def get_output_shape_for(self, input_shapes):
        shape = input_shapes[0]
        return tuple(shape[:2]) + tuple(_out_size(s, f) for s, f in zip(shape[2:], self.downsample_factor))

    def get_output_for(self, inputs, **kwargs):
        input, theta = (T.as_tensor_variable(v) for v in inputs)
        out_h, out_w = _symbolic_out_hw(input, self.downsample_factor)
        theta = T.cast(theta, input.dtype).reshape((theta.shape[0], 2, 3))
        grid = _grid(out_h, out_w, input.dtype)
        points = _batched_dot(theta[:, :, :2], grid) + theta[:, :, 2:]  # (b, 2, n)
        return _bilinear(input, points[:, 0], points[:, 1], out_h, out_w, self.border_mode)


def _tps_kernel(r2):
    """Bookstein's U function of squared distances: ``r^2 log r^2``, 0 at 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r2 > 0, r2 * np.log(np.where(r2 > 0, r2, 1)), 0)


def _tps_system(num_points):
    """Source control points ``(2, n)`` on a square grid and the inverse of
    the thin plate spline system matrix ``(n + 3, n + 3)``."""
    side = int(round(np.sqrt(num_points)))
    xs, ys = np.meshgrid(np.linspace(-1, 1, side), np.linspace(-1, 1, side))
    source = np.vstack([xs.ravel(), ys.ravel()])
    n = num_points
    L = np.zeros((n + 3, n + 3))
    L[0, 3:] = L[3:, 0] = 1
    L[1:3, 3:] = source
    L[3:, 1:3] = source.T
    L[3:, 3:] = _tps_kernel(((source[:, :, None] - source[:, None, :]) ** 2).sum(0))
    return source, np.linalg.inv(L)


def _tps_basis(points, source, xp):
    """Rows ``[1, x, y, U(|p - s_k|^2) for k]`` for points ``(2, m)``: ``(n + 3, m)``."""
    if xp is np:
        r2 = ((points[:, None, :] - source[:, :, None]) ** 2).sum(0)
        return np.concatenate([np.ones((1, points.shape[1])), points, _tps_kernel(r2)])
    r2 = ((points.dimshuffle(0, "x", 1) - source[:, :, None]) ** 2).sum(axis=0)
    safe = T.switch(r2 > 0, r2, 1)
    kernel = T.switch(r2 > 0, r2 * T.log(safe), 0)
    return T.concatenate([T.ones_like(points[:1]), points, kernel], axis=0)


class TPSTransformerLayer(MergeLayer):
    """Thin plate spline spatial transformer.

    The localization network moves ``control_points`` points, laid out on a
    square grid over the input, and the spline through those moves maps each
    output position to the input position it samples.

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, channels, rows, cols)``.
    localization_network : Layer
        Output ``(batch, 2 * control_points)``: the x offsets of all control
        points, then their y offsets (all zeros is the identity).
    downsample_factor : float or tuple of 2 floats
        As in :class:`TransformerLayer`.
    control_points : int
        A perfect square (16 by default).
    precompute_grid : 'auto' or bool
        True computes the spline basis of the output grid once, with numpy,
        when the layer is built (needs known rows and columns); False in the
        graph, per call. 'auto' precomputes when it can.
    border_mode : {'nearest', 'mirror', 'wrap'}
        As in :class:`TransformerLayer`.

    Notes
    -----
    Lasagne's graph-side basis (``precompute_grid=False``) drops the spline's
    radial terms (a ``switch`` with swapped branches), leaving an affine fit;
    sknet computes the same spline on both paths.

    Examples
    --------
    >>> from sknet.layers import InputLayer, TPSTransformerLayer, get_output
    >>> l_in, l_loc = InputLayer((None, 1, 4, 4)), InputLayer((None, 8))
    >>> l = TPSTransformerLayer(l_in, l_loc, control_points=4)
    >>> x = np.arange(16, dtype='float32').reshape(1, 1, 4, 4)
    >>> out = get_output(l, {l_in: x, l_loc: np.zeros((1, 8), 'float32')}).eval()
    >>> np.allclose(out, x, atol=1e-4)  # zero offsets: the identity
    True
    """

    def __init__(
        self,
        incoming,
        localization_network,
        downsample_factor=1,
        control_points=16,
        precompute_grid="auto",
        border_mode="nearest",
        **kwargs,
    ):
        super().__init__([incoming, localization_network], **kwargs)
        self.border_mode = border_mode
        self.downsample_factor = as_tuple(downsample_factor, 2)
        self.control_points = control_points
        _check_inputs(self, 2 * control_points, "2*control_points", border_mode)
        if control_points < 1 or round(np.sqrt(control_points)) ** 2 != control_points:
            raise ValueError(f"The number of control points must be a perfect square, got {control_points}")
        input_shp = self.input_shapes[0]
        can_precompute = all(s is not None for s in input_shp[2:])
        if precompute_grid == "auto":
            precompute_grid = can_precompute
        elif precompute_grid and not can_precompute:
            raise ValueError("Grid can only be precomputed if the input height and width are pre-specified.")
        self.precompute_grid = bool(precompute_grid)
        self.source_points, self.L_inv = _tps_system(control_points)
        self.right_mat = None
        if self.precompute_grid:
            out_h, out_w = self.output_shape[2:]
            xs, ys = np.meshgrid(np.linspace(-1, 1, out_w), np.linspace(-1, 1, out_h))
            self.right_mat = _tps_basis(np.vstack([xs.ravel(), ys.ravel()]), self.source_points, np)

    def get_output_shape_for(self, input_shapes):
        shape = input_shapes[0]
        return tuple(shape[:2]) + tuple(_out_size(s, f) for s, f in zip(shape[2:], self.downsample_factor))

    def get_output_for(self, inputs, **kwargs):
        input, offsets = (T.as_tensor_variable(v) for v in inputs)
        dtype = input.dtype
        if self.precompute_grid:  # the basis fixes the output size
            out_h, out_w = self.output_shape[2:]
        else:
            out_h, out_w = _symbolic_out_hw(input, self.downsample_factor)
        source = T.constant(self.source_points.astype(dtype))
        dest = source + T.cast(offsets, dtype).reshape((offsets.shape[0], 2, self.control_points))
        # spline coefficients (b, 2, n + 3): L^-1 applied to [0, 0, 0, dest]
        coefficients = _batched_dot(dest, T.constant(self.L_inv[:, 3:].T.astype(dtype)))
        if self.precompute_grid:
            basis = T.constant(self.right_mat.astype(dtype))
        else:
            basis = _tps_basis(_grid(out_h, out_w, dtype), source, T)
        points = _batched_dot(coefficients, basis)  # (b, 2, out_h * out_w)
        return _bilinear(input, points[:, 0], points[:, 1], out_h, out_w, self.border_mode)
