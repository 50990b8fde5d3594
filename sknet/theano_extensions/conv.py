"""Alternative 1-D convolutions, with the signatures of Lasagne's ``theano_extensions.conv``.

Each maps ``(batch, channels, length)`` input and ``(filters, channels,
filter_length)`` filters to ``(batch, filters, out_length)``, flipping the
filters (a true convolution) unless ``filter_flip=False``. They differ in how
they compute it:

- :func:`conv1d_sc`: one 2-D correlation over a single input channel, the
  channels as rows (valid only);
- :func:`conv1d_mc0` / :func:`conv1d_mc1`: a 2-D correlation with a dummy
  row / column axis (any border mode, grouped channels);
- :func:`conv1d_unstrided`: a strided convolution as an unstrided one, the
  stride folded into the channels (valid only);
- :func:`conv1d_sd`: a single tensor dot over an unfolded input;
- :func:`conv1d_md`: one tensor dot per filter tap, summed.

``image_shape`` and ``filter_shape`` are hints where Lasagne's are (the
first three accept None); the others need them, as Lasagne's do.
"""

import numbers

import pytensor.tensor as T

from ..ops.corr import CorrMM

__all__ = ["conv1d_sc", "conv1d_mc0", "conv1d_mc1", "conv1d_unstrided", "conv1d_sd", "conv1d_md"]


def _require_valid(name, border_mode):
    if isinstance(border_mode, tuple) and len(border_mode) == 1:
        (border_mode,) = border_mode
    if not (
        border_mode == "valid"
        if isinstance(border_mode, str)
        else isinstance(border_mode, numbers.Integral) and border_mode == 0
    ):
        raise RuntimeError(f"Unsupported border_mode for {name}: {border_mode!r}")


def _conv_pads(border_mode, kshp):
    """Zero padding (rows, cols) of a 2-D convolution for Theano's border modes."""
    if isinstance(border_mode, str):
        if None in kshp and border_mode != "valid":
            raise ValueError(f"border_mode={border_mode!r} needs the filter shape")
        table = {"valid": (0, 0), "full": tuple(k - 1 for k in kshp if k), "half": tuple(k // 2 for k in kshp if k)}
        if border_mode not in table:
            raise ValueError(f"Unsupported border_mode {border_mode!r}")
        return table[border_mode]
    if isinstance(border_mode, numbers.Integral):
        return (int(border_mode),) * 2
    if (
        isinstance(border_mode, tuple)
        and len(border_mode) == 2
        and all(isinstance(p, numbers.Integral) for p in border_mode)
    ):
        return tuple(int(p) for p in border_mode)
    raise ValueError(f"Unsupported border_mode {border_mode!r}")


def _conv2d(input, filters, filter_shape, border_mode, subsample, filter_flip, num_groups):
    """A Theano-style ``conv2d`` on sknet's correlation op."""
    kshp = tuple(filters.type.shape[2:])
    if filter_shape is not None:
        kshp = tuple(filter_shape[2:])
    pads = _conv_pads(border_mode, kshp)
    if filter_flip:
        filters = filters[:, :, ::-1, ::-1]
    op = CorrMM("forward", subsample, pads)
    if num_groups == 1:
        return op(input, filters)
    cin, fout = input.shape[1] // num_groups, filters.shape[0] // num_groups
    return T.concatenate(
        [op(input[:, i * cin : (i + 1) * cin], filters[i * fout : (i + 1) * fout]) for i in range(num_groups)], axis=1
    )


def _stride(subsample):
    (stride,) = subsample
    return int(stride)


def conv1d_sc(
    input, filters, image_shape=None, filter_shape=None, border_mode="valid", subsample=(1,), filter_flip=True
):
    """1-D convolution as a 2-D one over a single input channel (channels as rows).

    Parameters
    ----------
    input : 3-D tensor ``(batch, channels, length)``
    filters : 3-D tensor ``(filters, channels, filter_length)``
    image_shape, filter_shape : tuples of 3 ints or None
        Shape hints (unused).
    border_mode : 'valid' or 0
    subsample : tuple of 1 int
        The stride.
    filter_flip : bool
        True flips the filters along their length (a convolution).

    Returns
    -------
    3-D tensor ``(batch, filters, out_length)``

    Examples
    --------
    >>> from sknet.theano_extensions.conv import conv1d_sc
    >>> x = np.arange(5, dtype='float32').reshape(1, 1, 5)
    >>> conv1d_sc(x, np.array([[[1, 0, 0]]], 'float32')).eval()
    array([[[2., 3., 4.]]], dtype=float32)
    """
    _require_valid("conv1d_sc", border_mode)
    input, filters = T.as_tensor_variable(input), T.as_tensor_variable(filters)
    kern = filters[:, :, ::-1] if filter_flip else filters
    out = CorrMM("forward", (1, _stride(subsample)), (0, 0))(
        input.dimshuffle(0, "x", 1, 2), kern.dimshuffle(0, "x", 1, 2)
    )
    return out[:, :, 0, :]


def _conv1d_dummy(input, filters, filter_shape, border_mode, subsample, filter_flip, num_groups, axis):
    input, filters = T.as_tensor_variable(input), T.as_tensor_variable(filters)
    if isinstance(border_mode, tuple) and len(border_mode) == 1:
        (border_mode,) = border_mode
    if isinstance(border_mode, numbers.Integral):
        border_mode = (0, int(border_mode)) if axis == 2 else (int(border_mode), 0)
    order = (0, 1, "x", 2) if axis == 2 else (0, 1, 2, "x")
    if filter_shape is not None:
        k = filter_shape[2]
        filter_shape = tuple(filter_shape[:2]) + ((1, k) if axis == 2 else (k, 1))
    stride = (1, _stride(subsample)) if axis == 2 else (_stride(subsample), 1)
    out = _conv2d(
        input.dimshuffle(*order), filters.dimshuffle(*order), filter_shape, border_mode, stride, filter_flip, num_groups
    )
    return out[:, :, 0, :] if axis == 2 else out[:, :, :, 0]


def _dummy_axis_conv1d(name, axis, doc):
    """Make ``name``: a 1-D convolution run as a 2-D one with a dummy ``axis`` (2: rows, 3: columns)."""

    def conv1d(
        input,
        filters,
        image_shape=None,
        filter_shape=None,
        border_mode="valid",
        subsample=(1,),
        filter_flip=True,
        num_groups=1,
    ):
        return _conv1d_dummy(input, filters, filter_shape, border_mode, subsample, filter_flip, num_groups, axis)

    conv1d.__name__ = conv1d.__qualname__ = name
    conv1d.__doc__ = doc
    return conv1d


conv1d_mc0 = _dummy_axis_conv1d(
    "conv1d_mc0",
    2,
    """1-D convolution as a 2-D one over inputs of height 1.

    Parameters are those of :func:`conv1d_sc`, except:

    border_mode : 'valid', 'full', 'half', int or tuple of 1 int
        Zeros added at both ends ('half': ``filter_length // 2``).
    num_groups : int
        Independent groups of input channels and filters.

    Examples
    --------
    >>> from sknet.theano_extensions.conv import conv1d_mc0
    >>> x = np.ones((1, 1, 3), 'float32')
    >>> conv1d_mc0(x, np.ones((1, 1, 2), 'float32'), border_mode='full').eval()
    array([[[1., 2., 2., 1.]]], dtype=float32)
    """,
)

conv1d_mc1 = _dummy_axis_conv1d(
    "conv1d_mc1",
    3,
    """1-D convolution as a 2-D one over inputs of width 1.

    Parameters are those of :func:`conv1d_mc0`.

    Examples
    --------
    >>> from sknet.theano_extensions.conv import conv1d_mc1
    >>> x = np.ones((1, 1, 3), 'float32')
    >>> conv1d_mc1(x, np.ones((1, 1, 2), 'float32'), border_mode=1).eval()
    array([[[1., 2., 2., 1.]]], dtype=float32)
    """,
)


def _check_steps(name, image_shape, filter_shape, border_mode, subsample):
    _require_valid(name, border_mode)
    if image_shape is None or filter_shape is None:
        raise ValueError(f"{name} needs image_shape and filter_shape")
    stride, length = _stride(subsample), int(filter_shape[2])
    if length % stride:
        raise RuntimeError(f"Filter length ({length}) is not a multiple of the stride ({stride})")
    return stride, length


def conv1d_unstrided(
    input,
    filters,
    image_shape,
    filter_shape,
    border_mode="valid",
    subsample=(1,),
    filter_flip=True,
    implementation=conv1d_sc,
):
    """Strided 1-D convolution computed as an unstrided one.

    Position ``t * stride + r`` of the input becomes position ``t`` of channel
    ``(c, r)``, and the filters are folded the same way, so ``implementation``
    runs with stride 1. The filter length must be a multiple of the stride;
    input past the last multiple of the stride is dropped (it reaches no
    output).

    Parameters
    ----------
    input, filters, border_mode, subsample, filter_flip
        As in :func:`conv1d_sc` (valid only).
    image_shape, filter_shape : tuples of 3 ints
        Needed.
    implementation : callable
        One of this module's unstrided convolutions (default :func:`conv1d_sc`).

    Examples
    --------
    >>> from sknet.theano_extensions.conv import conv1d_unstrided
    >>> x = np.arange(6, dtype='float32').reshape(1, 1, 6)
    >>> conv1d_unstrided(x, np.ones((1, 1, 2), 'float32'), (1, 1, 6), (1, 1, 2),
    ...                  subsample=(2,)).eval()
    array([[[1., 5., 9.]]], dtype=float32)
    """
    stride, length = _check_steps("conv1d_unstrided", image_shape, filter_shape, border_mode, subsample)
    input, filters = T.as_tensor_variable(input), T.as_tensor_variable(filters)
    B, C, L = input.shape
    F = filters.shape[0]
    steps = length // stride
    kern = filters[:, :, ::-1] if filter_flip else filters  # correlation taps
    n = L // stride
    folded_in = input[:, :, : n * stride].reshape((B, C, n, stride)).dimshuffle(0, 1, 3, 2)
    folded_in = folded_in.reshape((B, C * stride, n))
    folded_k = kern.reshape((F, C, steps, stride)).dimshuffle(0, 1, 3, 2)
    folded_k = folded_k.reshape((F, C * stride, steps))
    if filter_flip:
        folded_k = folded_k[:, :, ::-1]
    return implementation(folded_in, folded_k, None, None, border_mode, subsample=(1,), filter_flip=filter_flip)


def _taps(name, input, filters, image_shape, filter_shape, border_mode, subsample, filter_flip):
    """The input's strided views, one per filter tap, and the correlation filters."""
    stride, length = _check_steps(name, image_shape, filter_shape, border_mode, subsample)
    input, filters = T.as_tensor_variable(input), T.as_tensor_variable(filters)
    out_len = (input.shape[2] - length) // stride + 1
    kern = filters[:, :, ::-1] if filter_flip else filters
    return [input[:, :, k : k + stride * (out_len - 1) + 1 : stride] for k in range(length)], kern


def conv1d_sd(input, filters, image_shape, filter_shape, border_mode="valid", subsample=(1,), filter_flip=True):
    """1-D convolution as a single tensor dot over an unfolded input.

    Parameters are those of :func:`conv1d_unstrided`, without ``implementation``.

    Examples
    --------
    >>> from sknet.theano_extensions.conv import conv1d_sd
    >>> x = np.arange(5, dtype='float32').reshape(1, 1, 5)
    >>> conv1d_sd(x, np.array([[[1, 2]]], 'float32'), (1, 1, 5), (1, 1, 2)).eval()
    array([[[ 1.,  4.,  7., 10.]]], dtype=float32)
    """
    taps, kern = _taps("conv1d_sd", input, filters, image_shape, filter_shape, border_mode, subsample, filter_flip)
    cols = T.stack(taps, axis=2)  # (b, c, k, t)
    out = T.tensordot(cols, kern, axes=[[1, 2], [1, 2]])  # (b, t, f)
    return out.dimshuffle(0, 2, 1)


def conv1d_md(input, filters, image_shape, filter_shape, border_mode="valid", subsample=(1,), filter_flip=True):
    """1-D convolution as one tensor dot per filter tap, summed.

    Parameters are those of :func:`conv1d_sd`; it gives the same result
    without building the unfolded input (less memory, more products).

    Examples
    --------
    >>> from sknet.theano_extensions.conv import conv1d_md, conv1d_sd
    >>> x, w = np.random.rand(2, 3, 9).astype('float32'), np.random.rand(4, 3, 4).astype('float32')
    >>> shapes = dict(image_shape=x.shape, filter_shape=w.shape, subsample=(2,))
    >>> np.allclose(conv1d_md(x, w, **shapes).eval(), conv1d_sd(x, w, **shapes).eval(), atol=1e-6)
    True
    """
    taps, kern = _taps("conv1d_md", input, filters, image_shape, filter_shape, border_mode, subsample, filter_flip)
    parts = [
        T.tensordot(tap, kern[:, :, k], axes=[[1], [1]])  # (b, t, f)
        for k, tap in enumerate(taps)
    ]
    return T.add(*parts).dimshuffle(0, 2, 1) if len(parts) > 1 else parts[0].dimshuffle(0, 2, 1)
