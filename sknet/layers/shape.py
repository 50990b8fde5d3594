"""Layers that only rearrange values: flatten, reshape, dimshuffle, pad, slice."""

import numbers

import numpy as np
import pytensor.tensor as T
from pytensor.graph.basic import Variable

from ..utils import int_types
from .base import Layer

__all__ = [
    "FlattenLayer",
    "flatten",
    "ReshapeLayer",
    "reshape",
    "DimshuffleLayer",
    "dimshuffle",
    "PadLayer",
    "pad",
    "SliceLayer",
]


class FlattenLayer(Layer):
    """Flatten the trailing dimensions so that the output has ``outdim`` dimensions.

    Parameters
    ----------
    incoming : Layer or tuple
    outdim : int
        Number of output dimensions; the last one collects all remaining
        input dimensions.

    Examples
    --------
    >>> from sknet.layers import InputLayer, FlattenLayer
    >>> FlattenLayer(InputLayer((None, 3, 4, 5))).output_shape
    (None, 60)
    """

    def __init__(self, incoming, outdim=2, **kwargs):
        super().__init__(incoming, **kwargs)
        self.outdim = outdim
        if outdim < 1:
            raise ValueError(f"outdim must be >= 1, got {outdim}")

    def get_output_shape_for(self, input_shape):
        kept = tuple(input_shape[: self.outdim - 1])
        rest = input_shape[self.outdim - 1 :]
        flat = None if any(s is None for s in rest) else int(np.prod(rest))
        return kept + (flat,)

    def get_output_for(self, input, **kwargs):
        return input.flatten(self.outdim)


#: Lasagne's shortcut name for :class:`FlattenLayer`.
flatten = FlattenLayer


class ReshapeLayer(Layer):
    """Reshape the input to a given shape.

    Parameters
    ----------
    incoming : Layer or tuple
    shape : tuple
        Each entry is a positive int (that size), ``[i]`` (the size of input
        dimension ``i``, whatever it is at run time), a symbolic scalar, or
        ``-1`` (at most once: whatever size makes the total match).

    Examples
    --------
    >>> from sknet.layers import InputLayer, ReshapeLayer
    >>> ReshapeLayer(InputLayer((None, 6, 4)), ([0], 3, -1)).output_shape
    (None, 3, 8)
    """

    def __init__(self, incoming, shape, **kwargs):
        super().__init__(incoming, **kwargs)
        shape = tuple(shape)
        for s in shape:
            if isinstance(s, numbers.Integral):
                if s == 0 or s < -1:
                    raise ValueError(f"shape integers must be positive or -1, got {shape}")
            elif isinstance(s, list):
                if len(s) != 1 or not isinstance(s[0], numbers.Integral) or s[0] < 0:
                    raise ValueError(
                        f"shape references to input dimensions must be single-element lists of an int >= 0, got {s!r}"
                    )
            elif isinstance(s, Variable):
                if s.ndim != 0:
                    raise ValueError(f"symbolic shape entries must be scalars, got {s.ndim}-d")
            else:
                raise ValueError(f"shape must be a tuple of int, [int] or scalar tensors, got {shape}")
        if sum(isinstance(s, numbers.Integral) and s == -1 for s in shape) > 1:
            raise ValueError(f"shape may contain -1 at most once, got {shape}")
        self.shape = shape
        # computing the output shape now reports a size mismatch at build time
        self.get_output_shape_for(self.input_shape)

    def get_output_shape_for(self, input_shape):
        # a symbolic input size (given by get_output_shape) is an unknown one
        input_shape = tuple(None if isinstance(s, Variable) else s for s in input_shape)
        out = []
        # Sizes that only appear as an unknown input dimension copied by [i]
        # cancel out of the -1 computation: mark both sides as "known, 1".
        in_for_count = list(input_shape)
        out_for_count = []
        for s in self.shape:
            if isinstance(s, list):
                i = s[0]
                if i >= len(input_shape):
                    raise ValueError(
                        f"shape {self.shape} refers to [{i}] but the input has only {len(input_shape)} dimensions"
                    )
                size = input_shape[i]
                out.append(size)
                if size is None and in_for_count[i] is None:
                    in_for_count[i] = 1
                    out_for_count.append(1)
                else:
                    out_for_count.append(size)
            elif isinstance(s, Variable):
                out.append(None)
                out_for_count.append(None)
            else:
                out.append(int(s))
                out_for_count.append(int(s))

        def total(sizes):
            return None if any(x is None for x in sizes) else int(np.prod(sizes, dtype=np.int64))

        in_total = total(in_for_count)
        known_out = [x for x in out_for_count if x != -1]
        out_total = total(known_out)
        if -1 in out:
            idx = out.index(-1)
            if in_total is None or out_total is None:
                out[idx] = None
                out_total = None
            else:
                if out_total == 0 or in_total % out_total:
                    raise ValueError(
                        f"{input_shape} cannot be reshaped to {self.shape}: the total "
                        "size mismatches (it does not divide)"
                    )
                out[idx] = in_total // out_total
                out_total = in_total
        if in_total is not None and out_total is not None and in_total != out_total:
            raise ValueError(f"{input_shape} cannot be reshaped to {self.shape}: the total size mismatches")
        return tuple(out)

    def get_output_for(self, input, **kwargs):
        shape = tuple(input.shape[s[0]] if isinstance(s, list) else s for s in self.shape)
        return input.reshape(shape)


#: Lasagne's shortcut name for :class:`ReshapeLayer`.
reshape = ReshapeLayer


class DimshuffleLayer(Layer):
    """Permute the input dimensions, insert broadcastable ones or drop size-1 ones.

    Parameters
    ----------
    incoming : Layer or tuple
    pattern : tuple of int or 'x'
        Output dimension ``k`` is input dimension ``pattern[k]``; ``'x'``
        inserts a dimension of size 1. Input dimensions left out must have
        size 1 (or be unknown, in which case they must be 1 at run time).

    Examples
    --------
    >>> from sknet.layers import InputLayer, DimshuffleLayer
    >>> DimshuffleLayer(InputLayer((None, 3, 5)), (0, 'x', 2, 1)).output_shape
    (None, 1, 5, 3)
    """

    def __init__(self, incoming, pattern, **kwargs):
        super().__init__(incoming, **kwargs)
        used = set()
        for p in pattern:
            if isinstance(p, numbers.Integral):
                if p in used:
                    raise ValueError(f"pattern {pattern} uses input dimension {p} twice")
                used.add(p)
            elif p != "x":
                raise ValueError(f"pattern entries must be int or 'x', got {p!r}")
        self.pattern = tuple(pattern)
        self.get_output_shape_for(self.input_shape)

    def get_output_shape_for(self, input_shape):
        out = []
        used = set()
        for p in self.pattern:
            if p == "x":
                out.append(1)
            else:
                if p >= len(input_shape):
                    raise ValueError(f"pattern {self.pattern} refers to dimension {p} of a {len(input_shape)}-d input")
                out.append(input_shape[p])
                used.add(p)
        for axis, size in enumerate(input_shape):
            if axis not in used and size is not None and size != 1:
                raise ValueError(
                    f"pattern {self.pattern} drops dimension {axis} of size {size}; only "
                    "size-1 dimensions may be dropped"
                )
        return tuple(out)

    def get_output_for(self, input, **kwargs):
        dropped = [axis for axis in range(input.ndim) if axis not in self.pattern and input.type.shape[axis] != 1]
        if dropped:
            # PyTensor only drops dimensions it knows to be of size 1
            input = T.specify_broadcastable(input, *dropped)
        return input.dimshuffle(*self.pattern)


#: Lasagne's shortcut name for :class:`DimshuffleLayer`.
dimshuffle = DimshuffleLayer


def _pad_widths(width, n_axes):
    if isinstance(width, int_types):
        width = [width] * n_axes
    result = []
    for w in width:
        if isinstance(w, int_types):
            result.append((int(w), int(w)))
        else:
            lo, hi = w
            result.append((int(lo), int(hi)))
    if len(result) > n_axes:
        raise ValueError(f"got {len(result)} pad widths for {n_axes} paddable axes")
    return result


class PadLayer(Layer):
    """Pad the trailing dimensions of the input with a constant value.

    Parameters
    ----------
    incoming : Layer or tuple
    width : int, iterable of int, or iterable of (int, int)
        Padding per axis after the first ``batch_ndim`` axes: one int pads
        all of them symmetrically, a pair gives (before, after). A shorter
        iterable pads only the first axes.
    val : float
        The padding value.
    batch_ndim : int
        Number of leading axes left alone (2 for bc01: batch and channels).

    Examples
    --------
    >>> from sknet.layers import InputLayer, PadLayer
    >>> PadLayer(InputLayer((None, 3, 5, 5)), width=(1, (0, 2))).output_shape
    (None, 3, 7, 7)
    """

    def __init__(self, incoming, width, val=0, batch_ndim=2, **kwargs):
        super().__init__(incoming, **kwargs)
        self.width = width
        self.val = val
        self.batch_ndim = batch_ndim
        # widths are checked against the input when shapes or outputs are
        # computed, as in Lasagne

    def get_output_shape_for(self, input_shape):
        out = list(input_shape)
        for k, (lo, hi) in enumerate(_pad_widths(self.width, len(out) - self.batch_ndim)):
            axis = k + self.batch_ndim
            if out[axis] is not None:
                out[axis] += lo + hi
        return tuple(out)

    def get_output_for(self, input, **kwargs):
        shape = [input.shape[a] for a in range(input.ndim)]
        index = [slice(None)] * input.ndim
        for k, (lo, hi) in enumerate(_pad_widths(self.width, input.ndim - self.batch_ndim)):
            axis = k + self.batch_ndim
            index[axis] = slice(lo, lo + shape[axis])
            shape[axis] = shape[axis] + lo + hi
        if self.val:
            out = T.full(shape, T.cast(self.val, input.dtype), dtype=input.dtype)
        else:
            out = T.zeros(shape, dtype=input.dtype)
        return T.set_subtensor(out[tuple(index)], input)


#: Lasagne's shortcut name for :class:`PadLayer`.
pad = PadLayer


class SliceLayer(Layer):
    """Index or slice the input along one axis.

    Parameters
    ----------
    incoming : Layer or tuple
    indices : int or slice
        An int removes the axis (like ``x[..., i]``); a slice keeps it.
    axis : int

    Examples
    --------
    >>> from sknet.layers import InputLayer, SliceLayer
    >>> SliceLayer(InputLayer((None, 10)), indices=slice(2, None, 3)).output_shape
    (None, 3)
    >>> SliceLayer(InputLayer((None, 10, 4)), indices=0, axis=1).output_shape
    (None, 4)
    """

    def __init__(self, incoming, indices, axis=-1, **kwargs):
        super().__init__(incoming, **kwargs)
        self.indices = indices
        self.axis = axis

    def get_output_shape_for(self, input_shape):
        shape = list(input_shape)
        axis = self.axis % len(shape)
        if isinstance(self.indices, slice):
            if shape[axis] is not None:
                shape[axis] = len(range(*self.indices.indices(shape[axis])))
        else:
            del shape[axis]
        return tuple(shape)

    def get_output_for(self, input, **kwargs):
        axis = self.axis % input.ndim
        return input[(slice(None),) * axis + (self.indices,)]
