"""Constant padding of a tensor's trailing axes: pad."""

import numbers

import pytensor.tensor as T

__all__ = ["pad"]


def pad(x, width, val=0, batch_ndim=1):
    """Pad the axes after the first ``batch_ndim`` with a constant.

    Parameters
    ----------
    x : tensor
    width : int, iterable of int, or iterable of pairs of ints
        An int pads every padded axis by that much on both sides; a sequence
        gives one entry per axis, either one int for both sides or a
        ``(before, after)`` pair. Axes past the sequence are left alone.
    val : float
        The padding value.
    batch_ndim : int
        Leading axes that are not padded.

    Returns
    -------
    tensor
        Same dtype as ``x``.

    Examples
    --------
    >>> from sknet.theano_extensions.padding import pad
    >>> pad(np.ones((1, 1, 2), 'float32'), [(1, 0)], val=5, batch_ndim=2).eval()
    array([[[5., 1., 1.]]], dtype=float32)
    """
    x = T.as_tensor_variable(x)
    if isinstance(width, numbers.Integral):
        widths = [int(width)] * (x.ndim - batch_ndim)
    else:
        widths = list(width)
    if len(widths) > x.ndim - batch_ndim:
        raise ValueError(f"{len(widths)} padding widths for a {x.ndim}-D tensor with {batch_ndim} batch dimensions")
    shape = list(x.shape)
    index = [slice(None)] * x.ndim
    for k, w in enumerate(widths):
        before, after = (w, w) if isinstance(w, numbers.Integral) else w
        axis = k + batch_ndim
        shape[axis] = shape[axis] + before + after
        index[axis] = slice(before, before + x.shape[axis])
    out = T.zeros(shape, dtype=x.dtype) if not val else T.full(shape, val, dtype=x.dtype)
    return T.set_subtensor(out[tuple(index)], x)
