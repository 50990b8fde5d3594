"""3-D convolution layers (bc012 layout): Conv3DLayer, TransposedConv3DLayer.

The volumetric correlation is built from sknet's 2-D correlation op: the
kernel's depth taps are unfolded into the channel axis and the output depth
into the batch axis, so one :class:`~sknet.ops.corr.CorrMM` call computes the
whole convolution and its gradients come from that op's own.
"""

import pytensor.tensor as T

from ..ops.corr import CorrMM
from .conv import BaseConvLayer, _check_convolution, _conv_parameters, _TransposedConvLayer

__all__ = [
    "corr3d",
    "corr3d_transpose",
    "Conv3DLayer",
    "TransposedConv3DLayer",
    "Deconv3DLayer",
]


def _check_3d(stride, pad, kd):
    stride, pad = tuple(int(s) for s in stride), tuple(int(p) for p in pad)
    if len(stride) != 3 or len(pad) != 3:
        raise ValueError(f"stride and pad need 3 entries each, got {stride!r} and {pad!r}")
    if min(stride) < 1 or min(pad) < 0 or int(kd) < 1:
        raise ValueError(f"stride must be positive and pad non-negative, got {stride!r}, {pad!r}")
    return stride, pad, int(kd)


def _group_slices(total, num_groups):
    size = total // num_groups
    return [slice(i * size, (i + 1) * size) for i in range(num_groups)]


def corr3d(img, kern, kd, stride=(1, 1, 1), pad=(0, 0, 0), num_groups=1):
    """Cross-correlate a batch of volumes with a bank of 3-D filters.

    Parameters
    ----------
    img : 5-D tensor ``(batch, channels, depth, rows, cols)``
    kern : 5-D tensor ``(filters, channels // num_groups, kd, kh, kw)``
    kd : int
        The filters' depth (a Python int: the graph is unrolled over it).
    stride, pad : tuples of 3 ints
        Step and zeros added on both sides of each spatial axis.
    num_groups : int
        Independent groups of input channels and filters.

    Returns
    -------
    5-D tensor ``(batch, filters, out_depth, out_rows, out_cols)``

    Examples
    --------
    >>> from sknet.layers.conv3d import corr3d
    >>> x = np.arange(27, dtype='float32').reshape(1, 1, 3, 3, 3)
    >>> corr3d(x, np.ones((1, 1, 2, 2, 2), 'float32'), 2).eval()[0, 0, 0]
    array([[52., 60.],
           [76., 84.]], dtype=float32)
    """
    (sd, sh, sw), (pd, ph, pw), kd = _check_3d(stride, pad, kd)
    img, kern = T.as_tensor_variable(img), T.as_tensor_variable(kern)
    if img.ndim != 5 or kern.ndim != 5:
        raise TypeError("corr3d takes two 5-D tensors (bc012 layout)")
    B, C, D, H, W = img.shape
    F, kc = kern.shape[0], kern.shape[1]
    # depth-major view (B, D, C, H, W): slices along depth then stack on a
    # new axis after C, so the reshape below is free and the channel order
    # (c, dz) matches kern.reshape((F, C * kd, kh, kw)).
    vol = img.dimshuffle(0, 2, 1, 3, 4)
    if pd:
        vol = T.concatenate([T.zeros((B, pd, C, H, W), img.dtype), vol, T.zeros((B, pd, C, H, W), img.dtype)], axis=1)
    od = (D + 2 * pd - kd) // sd + 1
    taps = [vol[:, dz : dz + sd * (od - 1) + 1 : sd] for dz in range(kd)]
    cols = taps[0] if kd == 1 else T.stack(taps, axis=3)
    cols = cols.reshape((B * od, C * kd, H, W))
    flat = kern.reshape((F, kc * kd, kern.shape[3], kern.shape[4]))
    op = CorrMM("forward", (sh, sw), (ph, pw))
    if num_groups == 1:
        out = op(cols, flat)
    else:
        parts = zip(_group_slices(C * kd, num_groups), _group_slices(F, num_groups))
        out = T.concatenate([op(cols[:, ci], flat[fi]) for ci, fi in parts], axis=1)
    out = out.reshape((B, od, F, out.shape[2], out.shape[3]))
    return out.dimshuffle(0, 2, 1, 3, 4)


def corr3d_transpose(kern, top, kd, out_shape, stride=(1, 1, 1), pad=(0, 0, 0)):
    """Transposed 3-D correlation: the gradient of :func:`corr3d` with respect to its input.

    Parameters
    ----------
    kern : 5-D tensor ``(filters, channels, kd, kh, kw)``
        The weights of the correlation being transposed.
    top : 5-D tensor ``(batch, filters, depth, rows, cols)``
    kd : int
        The filters' depth.
    out_shape : sequence of 3 ints or scalars
        Spatial shape of the result (the correlation's input).
    stride, pad : tuples of 3 ints
        Those of the correlation being transposed.

    Returns
    -------
    5-D tensor ``(batch, channels, *out_shape)``

    Examples
    --------
    >>> from sknet.layers.conv3d import corr3d_transpose
    >>> g = np.ones((1, 1, 2, 1, 1), 'float32')
    >>> corr3d_transpose(np.ones((1, 1, 2, 1, 1), 'float32'), g, 2, (3, 1, 1)).eval().ravel()
    array([1., 2., 1.], dtype=float32)
    """
    (sd, sh, sw), (pd, ph, pw), kd = _check_3d(stride, pad, kd)
    kern, top = T.as_tensor_variable(kern), T.as_tensor_variable(top)
    if kern.ndim != 5 or top.ndim != 5:
        raise TypeError("corr3d_transpose takes two 5-D tensors (bc012 layout)")
    B, F, od = top.shape[0], top.shape[1], top.shape[2]
    C = kern.shape[1]
    D, H, W = out_shape[0], out_shape[1], out_shape[2]
    flat = kern.reshape((F, C * kd, kern.shape[3], kern.shape[4]))
    rows = top.dimshuffle(0, 2, 1, 3, 4).reshape((B * od, F, top.shape[3], top.shape[4]))
    cols = CorrMM("inputs", (sh, sw), (ph, pw))(flat, rows, T.stack([H, W]))
    cols = cols.reshape((B, od, C, kd, H, W))
    # scatter-add each depth tap back; the buffer is long enough for every
    # tap even when out_shape asks for less than the strides reach
    depth = T.maximum(D + 2 * pd, (od - 1) * sd + kd)
    vol = T.zeros((B, depth, C, H, W), top.dtype)
    for dz in range(kd):
        vol = T.inc_subtensor(vol[:, dz : dz + sd * (od - 1) + 1 : sd], cols[:, :, :, dz])
    return vol[:, pd : pd + D].dimshuffle(0, 2, 1, 3, 4)


class Conv3DLayer(BaseConvLayer):
    """3-D convolution layer on bc012 input ``(batch, channels, depth, rows, cols)``.

    Parameters
    ----------
    incoming : Layer or tuple
    num_filters : int
    filter_size : int or tuple of 3 ints
    stride : int or tuple of 3 ints
    pad : 'valid', 'full', 'same', int or tuple of 3 ints
        As in :class:`~sknet.layers.Conv2DLayer`, per spatial axis.
    untie_biases : bool
        One bias per filter and output voxel instead of one per filter.
    W : initializer, array or shared variable
        Shape ``(num_filters, num_input_channels // num_groups, depth, rows, cols)``.
    b : initializer, array, shared variable or None
    nonlinearity : callable or None
    flip_filters : bool
        True (default) flips ``W`` on its three spatial axes (a convolution);
        False computes a cross-correlation.
    convolution : None
        Lasagne's hook for a Theano function; sknet has one implementation.
    num_groups : int
        Split input channels and filters into this many independent groups.

    Examples
    --------
    >>> from sknet.layers import InputLayer, Conv3DLayer
    >>> l = Conv3DLayer(InputLayer((None, 1, 8, 9, 9)), 4, 3, pad='same')
    >>> l.output_shape, l.W.get_value().shape
    ((None, 4, 8, 9, 9), (4, 1, 3, 3, 3))
    """

    @_conv_parameters(stride=(1, 1, 1), convolution=None, num_groups=1)
    def __init__(self, incoming, num_filters, filter_size, convolution, **kwargs):
        super().__init__(incoming, num_filters, filter_size, n=3, **kwargs)
        _check_convolution(self, convolution)

    def convolve(self, input, **kwargs):
        W = self.W[:, :, ::-1, ::-1, ::-1] if self.flip_filters else self.W
        return corr3d(input, W, self.filter_size[0], self.stride, self._pad_amounts(), self.num_groups)


class TransposedConv3DLayer(_TransposedConvLayer):
    """3-D transposed convolution: the gradient of a :class:`Conv3DLayer`
    with respect to its input, used as a layer.

    Parameters are those of :class:`~sknet.layers.TransposedConv2DLayer` for
    three spatial axes: ``filter_size``, ``stride``, ``crop`` and
    ``output_size`` take 3 entries, and ``W`` has shape
    ``(num_input_channels, num_filters, depth, rows, cols)``, as the ``W`` of
    the :class:`Conv3DLayer` this layer transposes.

    Examples
    --------
    >>> from sknet.layers import InputLayer, TransposedConv3DLayer
    >>> TransposedConv3DLayer(InputLayer((None, 8, 4, 5, 5)), 3, 4, stride=2).output_shape
    (None, 3, 10, 12, 12)
    """

    @_conv_parameters(renamed={"pad": "crop"}, stride=(1, 1, 1), flip_filters=False, output_size=None)
    def __init__(self, incoming, num_filters, filter_size, **kwargs):
        super().__init__(incoming, num_filters, filter_size, n=3, **kwargs)

    def convolve(self, input, **kwargs):
        input = T.as_tensor_variable(input)
        W = self.W if self.flip_filters else self.W[:, :, ::-1, ::-1, ::-1]
        size = self._spatial_output_size(input)
        return corr3d_transpose(W, input, self.filter_size[0], size, self.stride, self._pad_amounts())


Deconv3DLayer = TransposedConv3DLayer
