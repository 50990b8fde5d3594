"""Layers combining several inputs: concatenation and elementwise merges."""

from functools import reduce

import pytensor.tensor as T

from .base import MergeLayer

__all__ = [
    "autocrop",
    "autocrop_array_shapes",
    "ConcatLayer",
    "concat",
    "ElemwiseMergeLayer",
    "ElemwiseSumLayer",
]

_CROP_MODES = ("lower", "center", "upper")


def _full_cropping(cropping, ndim):
    cropping = list(cropping)
    if len(cropping) > ndim:
        raise ValueError(f"cropping {cropping} has more entries than the inputs have dimensions")
    for mode in cropping:
        if mode is not None and mode not in _CROP_MODES:
            raise ValueError(f"Unknown crop mode {mode!r}; use None, 'lower', 'center' or 'upper'")
    return cropping + [None] * (ndim - len(cropping))


def autocrop(inputs, cropping):
    """Crop symbolic inputs to the smallest size along the axes given by ``cropping``.

    Parameters
    ----------
    inputs : list of tensors
        All of the same dimensionality.
    cropping : None or list of None / 'lower' / 'center' / 'upper'
        One entry per leading axis (missing trailing entries mean None): None
        leaves an axis alone, 'lower' keeps the first elements, 'upper' the
        last ones and 'center' the middle ones (rounding the offset down).

    Returns
    -------
    list of tensors

    Examples
    --------
    >>> a, b = T.constant(np.arange(5.)), T.constant(np.arange(3.))
    >>> autocrop([a, b], ['center'])[0].eval()
    array([1., 2., 3.])
    """
    if cropping is None:
        return list(inputs)
    ndim = inputs[0].ndim
    if any(x.ndim != ndim for x in inputs):
        raise ValueError(f"Not all inputs have the same dimensionality: {[x.ndim for x in inputs]}")
    cropping = _full_cropping(cropping, ndim)
    shapes = [x.shape for x in inputs]
    indices = [[] for _ in inputs]
    for axis, mode in enumerate(cropping):
        if mode is None:
            for idx in indices:
                idx.append(slice(None))
            continue
        size = reduce(T.minimum, [shape[axis] for shape in shapes])
        for shape, idx in zip(shapes, indices):
            if mode == "lower":
                idx.append(slice(None, size))
            elif mode == "upper":
                idx.append(slice(shape[axis] - size, None))
            else:
                offset = (shape[axis] - size) // 2
                idx.append(slice(offset, offset + size))
    return [x[tuple(idx)] for x, idx in zip(inputs, indices)]


def autocrop_array_shapes(input_shapes, cropping):
    """Return the shapes :func:`autocrop` would give for inputs of these shapes.

    Examples
    --------
    >>> autocrop_array_shapes([(1, 5, 7), (None, 3, 9)], [None, 'lower', 'upper'])
    [(1, 3, 7), (None, 3, 7)]
    """
    if cropping is None:
        return list(input_shapes)
    ndim = len(input_shapes[0])
    if any(len(shape) != ndim for shape in input_shapes):
        raise ValueError(f"Not all inputs have the same dimensionality: {[len(s) for s in input_shapes]}")
    cropping = _full_cropping(cropping, ndim)
    columns = []
    for sizes, mode in zip(zip(*input_shapes), cropping):
        if mode is None:
            columns.append(sizes)
        else:
            smallest = None if any(s is None for s in sizes) else min(sizes)
            columns.append((smallest,) * len(sizes))
    return [tuple(shape) for shape in zip(*columns)]


def _merged_shape(input_shapes, skip_axis=None):
    """First known size per axis; raise if known sizes disagree (except ``skip_axis``)."""
    ndim = len(input_shapes[0])
    if any(len(shape) != ndim for shape in input_shapes):
        return None
    out = []
    for axis, sizes in enumerate(zip(*input_shapes)):
        known = {s for s in sizes if s is not None}
        if axis != skip_axis and len(known) > 1:
            return None
        out.append(next((s for s in sizes if s is not None), None))
    return out


class ConcatLayer(MergeLayer):
    """Concatenate the inputs along one axis.

    Parameters
    ----------
    incomings : list of Layer or tuple
    axis : int
        The axis to join along; all other sizes must match (after cropping).
    cropping : None or list
        See :func:`autocrop`; the concatenation axis itself is never cropped.

    Examples
    --------
    >>> from sknet.layers import InputLayer, ConcatLayer
    >>> ConcatLayer([InputLayer((None, 3)), InputLayer((None, 5))]).output_shape
    (None, 8)
    """

    def __init__(self, incomings, axis=1, cropping=None, **kwargs):
        super().__init__(incomings, **kwargs)
        self.axis = axis
        if cropping is not None:
            # inputs differ in size along the concatenation axis by design:
            # never crop there
            cropping = list(cropping)
            if -len(cropping) <= axis < len(cropping):
                cropping[axis] = None
        self.cropping = cropping
        # As in Lasagne, shapes are checked when the output shape or output
        # is computed, so a network may be built before its sizes are known.

    def _cropping(self, ndim):
        if self.cropping is None:
            return None
        cropping = _full_cropping(self.cropping, ndim)
        cropping[self.axis % ndim] = None
        return cropping

    def get_output_shape_for(self, input_shapes):
        input_shapes = autocrop_array_shapes(input_shapes, self._cropping(len(input_shapes[0])))
        axis = self.axis % len(input_shapes[0])
        out = _merged_shape(input_shapes, skip_axis=axis)
        if out is None:
            raise ValueError(
                f"Mismatch: input shapes {input_shapes} must be the same except in the concatenation axis {self.axis}"
            )
        sizes = [shape[axis] for shape in input_shapes]
        out[axis] = None if any(s is None for s in sizes) else sum(sizes)
        return tuple(out)

    def get_output_for(self, inputs, **kwargs):
        inputs = autocrop(inputs, self._cropping(inputs[0].ndim))
        return T.concatenate(inputs, axis=self.axis)


#: Lasagne's shortcut name for :class:`ConcatLayer`.
concat = ConcatLayer


class ElemwiseMergeLayer(MergeLayer):
    """Combine same-shaped inputs elementwise with a binary function.

    Parameters
    ----------
    incomings : list of Layer or tuple
    merge_function : callable
        A binary elementwise function such as ``T.mul`` or ``T.maximum``,
        applied left to right over the inputs.
    cropping : None or list
        See :func:`autocrop`.

    Examples
    --------
    >>> from sknet.layers import InputLayer, ElemwiseMergeLayer
    >>> l = ElemwiseMergeLayer([InputLayer((None, 3)), InputLayer((2, 3))], T.maximum)
    >>> l.output_shape
    (2, 3)
    """

    def __init__(self, incomings, merge_function, cropping=None, **kwargs):
        super().__init__(incomings, **kwargs)
        self.merge_function = merge_function
        self.cropping = cropping

    def get_output_shape_for(self, input_shapes):
        input_shapes = autocrop_array_shapes(input_shapes, self.cropping)
        out = _merged_shape(input_shapes)
        if out is None:
            raise ValueError(f"Mismatch: not all input shapes are the same: {input_shapes}")
        return tuple(out)

    def get_output_for(self, inputs, **kwargs):
        inputs = autocrop(inputs, self.cropping)
        return reduce(self.merge_function, inputs)


class ElemwiseSumLayer(ElemwiseMergeLayer):
    """Sum same-shaped inputs elementwise, each times a coefficient.

    Parameters
    ----------
    incomings : list of Layer or tuple
    coeffs : number or list of numbers
        One coefficient for all inputs, or one per input.
    cropping : None or list
        See :func:`autocrop`.

    Examples
    --------
    >>> from sknet.layers import InputLayer, ElemwiseSumLayer, get_output
    >>> a, b = InputLayer((None, 2)), InputLayer((None, 2))
    >>> l = ElemwiseSumLayer([a, b], coeffs=[1, -1])
    >>> x = np.array([[3., 4.]], 'float32')
    >>> get_output(l, {a: x, b: 2 * x}).eval()
    array([[-3., -4.]], dtype=float32)
    """

    def __init__(self, incomings, coeffs=1, cropping=None, **kwargs):
        super().__init__(incomings, T.add, cropping=cropping, **kwargs)
        if isinstance(coeffs, (list, tuple)):
            if len(coeffs) != len(incomings):
                raise ValueError(f"got {len(coeffs)} coefficients for {len(incomings)} incomings")
            self.coeffs = list(coeffs)
        else:
            self.coeffs = [coeffs] * len(incomings)

    def get_output_for(self, inputs, **kwargs):
        inputs = [x if c == 1 else c * x for x, c in zip(inputs, self.coeffs)]
        return super().get_output_for(inputs, **kwargs)
