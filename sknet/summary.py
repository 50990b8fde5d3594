"""The layer table: name, type, output shape, parameter count and receptive field of each layer."""

from collections import OrderedDict

import numpy as np

from .compile import build_layers, default_layer_name, seeded
from .layers import Layer, get_all_layers
from .layers.conv import BaseConvLayer, TransposedConv2DLayer
from .layers.pool import Pool1DLayer, Pool2DLayer
from .layers.shape import PadLayer

__all__ = ["receptive_fields", "layer_table", "capacity_coverage", "summary", "spec_summary"]

# nolearn's warning thresholds: a filter that sees under 1/6 of its receptive field, a field wider than the image.
MIN_CAPACITY = 100.0 / 6
MAX_COVERAGE = 100.0


def _named(layers):
    """``{name: layer}`` from a dict, a list of layers or an output layer."""
    if isinstance(layers, dict):
        return OrderedDict(layers)
    if isinstance(layers, Layer):
        layers = get_all_layers(layers)
    named = OrderedDict()
    for i, layer in enumerate(layers):
        named[layer.name or default_layer_name(type(layer), i)] = layer
    return named


def _incomings(layer):
    if hasattr(layer, "input_layers"):
        return list(layer.input_layers)
    return [getattr(layer, "input_layer", None)]


def _window(layer):
    """(window size, stride, dilation) per spatial axis of a conv or pool layer, else None."""
    if isinstance(layer, BaseConvLayer) and not isinstance(layer, TransposedConv2DLayer):
        n = len(layer.filter_size)
        dilation = getattr(layer, "filter_dilation", None) or getattr(layer, "dilation", None) or (1,) * n
        return layer.filter_size, layer.stride, tuple(dilation)
    if isinstance(layer, (Pool1DLayer, Pool2DLayer)):
        return layer.pool_size, layer.stride, (1,) * len(layer.pool_size)
    return None


def receptive_fields(layers):
    """The receptive field of every layer that keeps spatial axes.

    Walking from the inputs, a unit of a conv or pool layer with window ``k``,
    stride ``s`` and dilation ``d`` sees ``r + (k - 1) * d * j`` input pixels
    per axis, where ``r`` is the receptive field of its incoming layer and
    ``j`` the distance, in input pixels, between neighbouring units there (the
    product of the strides so far, which this layer multiplies by ``s``).
    Padding moves the window but does not change its size. Layers that keep
    the spatial shape (dropout, nonlinearity, batch norm, elementwise merges)
    pass their input's values on; merges take the largest.

    Parameters
    ----------
    layers : Layer, list of Layer or dict of Layer
        An output layer (all layers below it are walked) or the layers
        themselves, in topological order.

    Returns
    -------
    dict
        ``{layer: (receptive field, jump)}``, each a tuple with one int per
        spatial axis, or ``{layer: None}`` where it is not defined (inputs
        without spatial axes, dense, flatten, transposed convolutions ...).

    Examples
    --------
    >>> from sknet.layers import InputLayer, Conv2DLayer, MaxPool2DLayer
    >>> l = MaxPool2DLayer(Conv2DLayer(InputLayer((None, 1, 8, 8)), 2, 3), 2)
    >>> receptive_fields(l)[l]
    ((4, 4), (2, 2))
    """
    fields = {}
    for layer in _named(layers).values():
        shape = layer.output_shape
        incoming = [l for l in _incomings(layer) if l is not None]
        if not incoming:
            spatial = len(shape) - 2
            fields[layer] = ((1,) * spatial, (1,) * spatial) if spatial >= 1 else None
            continue
        inputs = [fields.get(l) for l in incoming]
        if any(f is None for f in inputs):
            fields[layer] = None
            continue
        window = _window(layer)
        if window is not None:
            ((rf, jump),) = inputs
            size, stride, dilation = window
            fields[layer] = (
                tuple(r + (k - 1) * d * j for r, k, d, j in zip(rf, size, dilation, jump)),
                tuple(j * s for j, s in zip(jump, stride)),
            )
            continue
        same_axes = all(
            len(l.output_shape) == len(shape)
            and (isinstance(layer, PadLayer) or tuple(l.output_shape[2:]) == tuple(shape[2:]))
            for l in incoming
        )
        if same_axes and all(len(f[0]) == len(shape) - 2 for f in inputs):
            fields[layer] = tuple(tuple(int(v) for v in np.max([f[i] for f in inputs], axis=0)) for i in (0, 1))
        else:
            fields[layer] = None
    return fields


def capacity_coverage(layers):
    """nolearn's capacity and coverage of each conv and pool layer, in percent per spatial axis.

    *Coverage* is the receptive field as a share of the input image
    (over 100: the units see past the image, padding only). *Capacity*, for
    a conv layer, is the span of its own filter in input pixels (filter size
    times the stride product below it) as a share of its receptive field: low
    capacity (under 1/6) means the layer learns little of what its units see
    directly. Pool layers have a coverage but no capacity (None). Unlike
    nolearn's, the receptive field here counts pooling windows, strides and
    dilation (see :func:`receptive_fields`).

    Returns
    -------
    dict
        ``{layer: (capacity or None, coverage)}`` for conv and pool layers
        whose field reaches an input, each a tuple of floats per axis.

    Examples
    --------
    >>> from sknet.layers import InputLayer, Conv2DLayer, MaxPool2DLayer
    >>> c = Conv2DLayer(MaxPool2DLayer(Conv2DLayer(InputLayer((None, 1, 16, 16)), 2, 3), 2), 2, 3)
    >>> capacity_coverage(c)[c]
    ((75.0, 75.0), (50.0, 50.0))
    """
    named = _named(layers)
    fields = receptive_fields(named)
    image = next(
        (
            l.output_shape[2:]
            for l in named.values()
            if not [i for i in _incomings(l) if i is not None] and len(l.output_shape) > 2
        ),
        None,
    )
    result = {}
    for layer in named.values():
        window, field = _window(layer), fields.get(layer)
        if window is None or field is None or image is None:
            continue
        (rf, _), (_inner_field, jump_in) = field, fields[_incomings(layer)[0]]
        coverage = tuple(100.0 * r / s if s else float("nan") for r, s in zip(rf, image))
        capacity = None
        if isinstance(layer, BaseConvLayer):
            capacity = tuple(100.0 * k * j / r for k, j, r in zip(window[0], jump_in, rf))
        result[layer] = (capacity, coverage)
    return result


def layer_table(layers):
    """One row per layer: name, type, output shape, parameter count, receptive field.

    Parameters
    ----------
    layers : Layer, list of Layer or dict of Layer
        As for :func:`receptive_fields`; a dict's keys are the names.

    Returns
    -------
    list of dict
        Keys ``name``, ``type``, ``output_shape``, ``params`` (the number of
        scalars in the layer's own parameters) and ``receptive_field`` (a
        tuple for conv and pool layers, else None).

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> rows = layer_table(DenseLayer(InputLayer((None, 3)), 2))
    >>> [(r['name'], r['params']) for r in rows]
    [('input0', 0), ('dense1', 8)]
    """
    named = _named(layers)
    fields = receptive_fields(named)
    rows = []
    for name, layer in named.items():
        field = fields.get(layer) if _window(layer) is not None else None
        rows.append(
            {
                "name": name,
                "type": type(layer).__name__,
                "output_shape": tuple(layer.output_shape),
                "params": int(sum(p.get_value(borrow=True).size for p in layer.get_params())),
                "receptive_field": None if field is None else field[0],
            }
        )
    return rows


def summary(layers, capacity=False):
    """The layer table as text, with the total number of parameters.

    The receptive-field column (``height x width`` in input pixels, ``?``
    where it cannot be traced to the input) appears when the net has conv or
    pool layers.

    Parameters
    ----------
    layers : Layer, list of Layer or dict of Layer
    capacity : bool
        Add nolearn's ``capacity`` and ``coverage`` columns (percent per axis,
        see :func:`capacity_coverage`; ``!`` marks a capacity under 1/6 or a
        coverage over 100%) for nets with conv or pool layers.

    Returns
    -------
    str

    Examples
    --------
    >>> from sknet.layers import InputLayer, Conv2DLayer, MaxPool2DLayer
    >>> l = Conv2DLayer(MaxPool2DLayer(Conv2DLayer(InputLayer((None, 1, 12, 12)), 2, 3), 2), 2, 3)
    >>> print(summary(l))
    #  name        type            output shape       params  receptive field
    -  ----------  --------------  -----------------  ------  ---------------
    0  input0      InputLayer      (None, 1, 12, 12)       0
    1  conv2d1     Conv2DLayer     (None, 2, 10, 10)      20  3x3
    2  maxpool2d2  MaxPool2DLayer  (None, 2, 5, 5)         0  4x4
    3  conv2d3     Conv2DLayer     (None, 2, 3, 3)        38  8x8
    total params: 58
    """
    named = _named(layers)
    rows = layer_table(named)
    has_field = any(_window(layer) is not None for layer in named.values())
    header = ["#", "name", "type", "output shape", "params"] + (["receptive field"] if has_field else [])
    extra = capacity_coverage(named) if capacity and has_field else None
    if extra is not None:
        header += ["capacity", "coverage"]
    cells = [header]
    for i, row in enumerate(rows):
        line = [str(i), row["name"], row["type"], str(row["output_shape"]), str(row["params"])]
        if has_field:
            field = row["receptive_field"]
            if field is None:
                line.append("?" if _window(named[row["name"]]) is not None else "")
            else:
                line.append("x".join(str(v) for v in field))
        if extra is not None:
            cap, cov = extra.get(named[row["name"]], (None, None))
            line.append(_percent(cap, lambda v: v < MIN_CAPACITY))
            line.append(_percent(cov, lambda v: v > MAX_COVERAGE))
        cells.append(line)
    widths = [max(len(line[c]) for line in cells) for c in range(len(header))]
    cells.insert(1, ["-" * w for w in widths])
    right = header.index("params")
    lines = [
        "  ".join(
            text.rjust(w) if c == right else text.ljust(w) for c, (text, w) in enumerate(zip(line, widths))
        ).rstrip()
        for line in cells
    ]
    total = sum(p.get_value(borrow=True).size for p in _unique_params(named.values()))
    legend = (
        [
            "capacity: filter span / receptive field; coverage: receptive field / image "
            "(% per axis; ! marks capacity < 16.7% or coverage > 100%)"
        ]
        if extra is not None
        else []
    )
    return "\n".join(lines + [f"total params: {total}"] + legend)


def _percent(values, warn):
    if values is None:
        return ""
    text = "x".join(f"{v:.0f}" for v in values) + "%"
    return text + ("!" if any(warn(v) for v in values) else "")


def _unique_params(layers):
    seen = OrderedDict()
    for layer in layers:
        for p in layer.get_params():
            seen.setdefault(id(p), p)
    return list(seen.values())


def spec_summary(spec, layer_params=None, callable_params=None):
    """The layer table of a spec, built for the table only (nothing is compiled).

    The InputLayer needs a ``shape`` and the last layer its size, since no
    data says them; otherwise ValueError says so.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> print(spec_summary([(InputLayer, {'shape': (None, 3)}), (DenseLayer, {})], {'dense1': {'num_units': 2}}))
    #  name    type        output shape  params
    -  ------  ----------  ------------  ------
    0  input0  InputLayer  (None, 3)          0
    1  dense1  DenseLayer  (None, 2)          8
    total params: 8
    """
    try:
        with seeded(0):
            layers = build_layers(spec, layer_params, callable_params)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"summary() could not build the layers before fit ({exc}); give the InputLayer "
            "a shape and the last layer its size, or call it after fit"
        ) from exc
    return summary(layers)
