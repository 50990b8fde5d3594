"""Lower a fitted net's layers to a numpy program, the form both exporters read.

This is the only module of :mod:`sknet.export` that reads layer attributes.
Every layer becomes a few primitive steps (see
:mod:`sknet.export.numpy_predictor` for their meaning) with its parameter
values copied out as float32 arrays. A layer the exporters cannot express
raises :class:`ExportError` naming the layer and its class, before any step is
used. Layers are matched by their exact class: a subclass may compute
something else, so it is refused rather than guessed.
"""

import numbers
from dataclasses import dataclass, field

import numpy as np
import pytensor.tensor as T
from sklearn.base import is_classifier, is_regressor
from sklearn.exceptions import NotFittedError

from ..layers import (
    BatchNormLayer,
    BiasLayer,
    ConcatLayer,
    Conv1DLayer,
    Conv2DLayer,
    CustomRecurrentLayer,
    DenseLayer,
    DimshuffleLayer,
    DropoutLayer,
    ElemwiseMergeLayer,
    ElemwiseSumLayer,
    EmbeddingLayer,
    FlattenLayer,
    GaussianNoiseLayer,
    GlobalPoolLayer,
    GRULayer,
    InputLayer,
    LSTMLayer,
    MaxPool1DLayer,
    MaxPool2DLayer,
    NINLayer,
    NonlinearityLayer,
    PadLayer,
    ParametricRectifierLayer,
    Pool1DLayer,
    Pool2DLayer,
    RecurrentLayer,
    ReshapeLayer,
    ScaleLayer,
    SliceLayer,
    TransposedConv2DLayer,
    Upscale2DLayer,
    get_all_layers,
)
from ..ops.pool import pool_out_size
from .common import ExportError, _params, _where, activation_of
from .recurrent import _check_recurrent, _lower_gru, _lower_lstm, _lower_rnn

__all__ = ["ExportError", "Lowered", "lower_net", "activation_of"]


@dataclass
class Lowered:
    """A net as a numpy program plus what turns its output into predictions.

    Attributes mirror :class:`~sknet.export.numpy_predictor.NumpyPredictor`'s
    arguments; ``shapes`` maps value ids to static shapes (None: unknown).
    """

    program: list
    input_shape: tuple
    output: int
    kind: str
    classes: object = None
    transform_output: int = None
    shapes: dict = field(default_factory=dict)
    where: dict = field(default_factory=dict)
    input_name: str = "input"


def _broadcast(param, ndim, shared_axes):
    """Reshape a param stored without ``shared_axes`` to broadcast against an ndim input."""
    shape = []
    sizes = iter(param.shape)
    for axis in range(ndim):
        shape.append(1 if axis in shared_axes else next(sizes))
    return param.reshape(shape)


def _pad_amounts(pad, filter_size):
    if isinstance(pad, str):
        return tuple({"full": f - 1, "same": f // 2, "valid": 0}[pad] for f in filter_size)
    return tuple(int(p) for p in pad)


class _Builder:
    """Collects steps; one per call of :meth:`emit`, each with a fresh value id."""

    def __init__(self):
        self.program = []
        self.shapes = {}
        self.where = {}
        self.current = None
        self._next = 1

    def emit(self, step, inputs, static_shape=None, **attrs):
        out = self._next
        self._next += 1
        self.program.append((step, list(inputs), out, attrs))
        self.shapes[out] = static_shape
        self.where[out] = self.current
        return out

    def act(self, x, fn, where, shape):
        kind, args = activation_of(fn, where)
        if kind == "identity":
            return x
        return self.emit("act", [x], shape, kind=kind, args=args)


def _lower_dense(b, layer, name, ids):
    W, bias = _params(layer, name, layer.W, layer.b)
    lead = layer.num_leading_axes
    if lead < 0:
        lead += len(layer.input_shape)
    x = b.emit("dense", ids, layer.output_shape, W=W, b=bias, lead=lead)
    return b.act(x, layer.nonlinearity, _where(layer, name), layer.output_shape)


def _lower_nin(b, layer, name, ids):
    W, bias = _params(layer, name, layer.W, layer.b)
    ndim = len(layer.input_shape)
    if bias is not None:
        bias = bias[None] if layer.untie_biases else _broadcast(bias, ndim, {0} | set(range(2, ndim)))
    x = b.emit("nin", ids, layer.output_shape, W=W, b=bias)
    return b.act(x, layer.nonlinearity, _where(layer, name), layer.output_shape)


def _conv_bias(layer, bias):
    if bias is None:
        return None
    ndim = len(layer.output_shape)
    return bias[None] if layer.untie_biases else _broadcast(bias, ndim, {0} | set(range(2, ndim)))


def _emit_filtered(b, layer, name, ids, kind, W, bias, **attrs):
    """Emit a (transposed) convolution with the layer's bias and stride, then its nonlinearity."""
    x = b.emit(kind, ids, layer.output_shape, W=W, b=_conv_bias(layer, bias), stride=tuple(layer.stride), **attrs)
    return b.act(x, layer.nonlinearity, _where(layer, name), layer.output_shape)


def _lower_conv(b, layer, name, ids):
    W, bias = _params(layer, name, layer.W, layer.b)
    if layer.flip_filters:
        W = W[(slice(None), slice(None)) + (slice(None, None, -1),) * layer.n].copy()
    pads = [(p, p) for p in _pad_amounts(layer.pad, layer.filter_size)]
    return _emit_filtered(b, layer, name, ids, "conv", W, bias, pads=pads, groups=int(getattr(layer, "num_groups", 1)))


def _lower_deconv(b, layer, name, ids):
    W, bias = _params(layer, name, layer.W, layer.b)
    if not layer.flip_filters:
        W = W[:, :, ::-1, ::-1].copy()
    crop = _pad_amounts(layer.pad, layer.filter_size)
    extra = (0, 0)
    if layer.output_size is not None:
        if any(s is None for s in layer.input_shape[2:]):
            raise ExportError(f"{_where(layer, name)}: output_size needs a known input size")
        extra = tuple(
            o - ((i - 1) * s - 2 * c + k)
            for o, i, s, c, k in zip(layer.output_size, layer.input_shape[2:], layer.stride, crop, layer.filter_size)
        )
    return _emit_filtered(b, layer, name, ids, "deconv", W, bias, crop=crop, extra=extra)


_POOL_MODES = {"max": "max", "average_inc_pad": "inc", "average_exc_pad": "exc"}


def _lower_pool(b, layer, name, ids):
    extra = []
    for n, w, s, p in zip(layer.input_shape[2:], layer.pool_size, layer.stride, layer.pad):
        if layer.ignore_border:
            extra.append(0)
            continue
        if n is None:
            raise ExportError(f"{_where(layer, name)}: ignore_border=False needs a known input size")
        out = pool_out_size(n, w, s, p, False)
        extra.append(max(0, (out - 1) * s + w - n - 2 * p))
    return b.emit(
        "pool",
        ids,
        layer.output_shape,
        mode=_POOL_MODES[layer.mode],
        ws=tuple(int(w) for w in layer.pool_size),
        stride=tuple(int(s) for s in layer.stride),
        pad=tuple(int(p) for p in layer.pad),
        extra=tuple(extra),
    )


def _lower_global(b, layer, name, ids):
    kinds = {T.mean: "mean", T.max: "max", T.sum: "sum", T.min: "min"}
    kind = next((k for f, k in kinds.items() if layer.pool_function is f), None)
    if kind is None:
        raise ExportError(f"{_where(layer, name)}: pool_function must be T.mean, T.max, T.sum or T.min")
    return b.emit("global", ids, layer.output_shape, kind=kind)


def _lower_upscale(b, layer, name, ids):
    return b.emit("upscale", ids, layer.output_shape, factor=tuple(layer.scale_factor), mode=layer.mode)


def _lower_batchnorm(b, layer, name, ids):
    mean, inv_std, gamma, beta = _params(layer, name, layer.mean, layer.inv_std, layer.gamma, layer.beta)
    ndim = len(layer.input_shape)
    axes = {a % ndim for a in layer.axes}
    scale = inv_std if gamma is None else gamma * inv_std
    shape = layer.output_shape
    x = b.emit("const", ids, shape, binop="sub", value=_broadcast(mean, ndim, axes))
    x = b.emit("const", [x], shape, binop="mul", value=_broadcast(scale, ndim, axes))
    if beta is not None:
        x = b.emit("const", [x], shape, binop="add", value=_broadcast(beta, ndim, axes))
    return x


def _lower_identity(b, layer, name, ids):
    return ids[0]


def _lower_nonlinearity(b, layer, name, ids):
    return b.act(ids[0], layer.nonlinearity, _where(layer, name), layer.output_shape)


def _lower_bias(b, layer, name, ids):
    if layer.b is None:
        return ids[0]
    (bias,) = _params(layer, name, layer.b)
    value = _broadcast(bias, len(layer.input_shape), set(layer.shared_axes))
    return b.emit("const", ids, layer.output_shape, binop="add", value=value)


def _lower_scale(b, layer, name, ids):
    (scales,) = _params(layer, name, layer.scales)
    value = _broadcast(scales, len(layer.input_shape), set(layer.shared_axes))
    return b.emit("const", ids, layer.output_shape, binop="mul", value=value)


def _lower_prelu(b, layer, name, ids):
    (alpha,) = _params(layer, name, layer.alpha)
    alpha = _broadcast(alpha, len(layer.input_shape), set(layer.shared_axes))
    return b.emit("prelu", ids, layer.output_shape, alpha=alpha)


def _lower_flatten(b, layer, name, ids):
    shape = [("dim", i) for i in range(layer.outdim - 1)] + [-1]
    return b.emit("reshape", ids, layer.output_shape, shape=shape)


def _lower_reshape(b, layer, name, ids):
    shape = []
    for s in layer.shape:
        if isinstance(s, list):
            shape.append(("dim", int(s[0])))
        elif isinstance(s, numbers.Integral):
            shape.append(int(s))
        else:
            raise ExportError(f"{_where(layer, name)}: a symbolic shape entry cannot be exported")
    return b.emit("reshape", ids, layer.output_shape, shape=shape)


def _lower_dimshuffle(b, layer, name, ids):
    return b.emit("dimshuffle", ids, layer.output_shape, pattern=tuple(layer.pattern))


def _lower_pad(b, layer, name, ids):
    ndim = len(layer.input_shape)
    width = layer.width
    n_axes = ndim - layer.batch_ndim
    if isinstance(width, numbers.Integral):
        width = [width] * n_axes
    widths = [(int(w), int(w)) if isinstance(w, numbers.Integral) else tuple(int(v) for v in w) for w in width]
    widths = [(0, 0)] * layer.batch_ndim + widths
    widths += [(0, 0)] * (ndim - len(widths))
    return b.emit("pad", ids, layer.output_shape, widths=widths, value=float(layer.val))


def _lower_slice(b, layer, name, ids):
    axis = layer.axis % len(layer.input_shape)
    idx = layer.indices
    index = (idx.start, idx.stop, idx.step) if isinstance(idx, slice) else int(idx)
    return b.emit("slice", ids, layer.output_shape, axis=axis, index=index)


def _crop(b, layer, name, ids):
    """Apply a merge layer's ``cropping`` with static slices."""
    cropping = getattr(layer, "cropping", None)
    if cropping is None:
        return ids
    shapes = layer.input_shapes
    ndim = len(shapes[0])
    cropping = list(cropping) + [None] * (ndim - len(cropping))
    out = []
    for _i, (x, shape) in enumerate(zip(ids, shapes)):
        index = []
        for axis, mode in enumerate(cropping):
            sizes = [s[axis] for s in shapes]
            if mode is None or all(s == sizes[0] for s in sizes):
                index.append((None, None))
                continue
            if any(s is None for s in sizes):
                raise ExportError(f"{_where(layer, name)}: cropping along axis {axis} needs known input sizes")
            size, n = min(sizes), shape[axis]
            start = {"lower": 0, "upper": n - size, "center": (n - size) // 2}[mode]
            index.append((start, start + size))
        if all(s == (None, None) for s in index):
            out.append(x)
        else:
            out.append(b.emit("crop", [x], None, index=index))
    return out


def _lower_concat(b, layer, name, ids):
    ids = _crop(b, layer, name, ids)
    return b.emit("concat", ids, layer.output_shape, axis=layer.axis % len(layer.output_shape))


def _lower_sum(b, layer, name, ids):
    ids = _crop(b, layer, name, ids)
    return b.emit("merge", ids, layer.output_shape, op="add", coeffs=tuple(float(c) for c in layer.coeffs))


def _lower_merge(b, layer, name, ids):
    ops = {T.add: "add", T.mul: "mul", T.maximum: "max", T.minimum: "min", T.sub: "sub"}
    op = next((o for f, o in ops.items() if layer.merge_function is f), None)
    if op is None:
        raise ExportError(f"{_where(layer, name)}: merge_function must be T.add, T.mul, T.maximum, T.minimum or T.sub")
    ids = _crop(b, layer, name, ids)
    return b.emit("merge", ids, layer.output_shape, op=op, coeffs=(1.0,) * len(ids))


def _lower_embedding(b, layer, name, ids):
    (W,) = _params(layer, name, layer.W)
    return b.emit("embed", ids, layer.output_shape, W=W)


_LOWER = {
    DenseLayer: _lower_dense,
    NINLayer: _lower_nin,
    Conv1DLayer: _lower_conv,
    Conv2DLayer: _lower_conv,
    TransposedConv2DLayer: _lower_deconv,
    Pool1DLayer: _lower_pool,
    MaxPool1DLayer: _lower_pool,
    Pool2DLayer: _lower_pool,
    MaxPool2DLayer: _lower_pool,
    GlobalPoolLayer: _lower_global,
    Upscale2DLayer: _lower_upscale,
    BatchNormLayer: _lower_batchnorm,
    DropoutLayer: _lower_identity,
    GaussianNoiseLayer: _lower_identity,
    NonlinearityLayer: _lower_nonlinearity,
    BiasLayer: _lower_bias,
    ScaleLayer: _lower_scale,
    ParametricRectifierLayer: _lower_prelu,
    FlattenLayer: _lower_flatten,
    ReshapeLayer: _lower_reshape,
    DimshuffleLayer: _lower_dimshuffle,
    PadLayer: _lower_pad,
    SliceLayer: _lower_slice,
    ConcatLayer: _lower_concat,
    ElemwiseSumLayer: _lower_sum,
    ElemwiseMergeLayer: _lower_merge,
    EmbeddingLayer: _lower_embedding,
    RecurrentLayer: _lower_rnn,
    CustomRecurrentLayer: _lower_rnn,
    LSTMLayer: _lower_lstm,
    GRULayer: _lower_gru,
}

#: The layer classes the exporters express (exact classes, not subclasses).
SUPPORTED_LAYERS = tuple(_LOWER)


def _incomings(layer):
    if hasattr(layer, "input_layers"):
        return list(layer.input_layers)
    return [layer.input_layer]


def _is(test, net):
    # plain objects with layers_ (no scikit-learn tags) are neither
    return hasattr(net, "__sklearn_tags__") and test(net)


def _output_kind(net, output_layer):
    if _is(is_classifier, net):
        units = output_layer.output_shape[-1]
        return "proba_binary" if units == 1 else "proba"
    if _is(is_regressor, net):
        # y_ndim_ is the regressor's record of a 1-D y
        y_ndim = getattr(net, "y_ndim_", 2)
        return "regress_1d" if y_ndim == 1 else "regress"
    return "raw"


def _transform_layer(net, layers):
    chosen = getattr(net, "transform_layer", None)
    if isinstance(chosen, str):
        return net.layers_[chosen]
    if chosen is not None:
        return chosen
    return layers[-2] if len(layers) >= 2 else None


def lower_net(net):
    """Lower a fitted net (anything with ``layers_``) to a :class:`Lowered` program.

    Parameters
    ----------
    net : NeuralNet
        Fitted (or initialized): its ``layers_`` ordered dict ends with the
        output layer.

    Returns
    -------
    Lowered

    Raises
    ------
    ExportError
        Naming the first layer (and its class) that cannot be expressed.
    sklearn.exceptions.NotFittedError
        When the net has no ``layers_``.

    Examples
    --------
    >>> from collections import OrderedDict
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> from types import SimpleNamespace
    >>> l0 = InputLayer((None, 3)); l1 = DenseLayer(l0, 2)
    >>> lowered = lower_net(SimpleNamespace(layers_=OrderedDict(input0=l0, dense1=l1)))
    >>> [step[0] for step in lowered.program], lowered.kind
    (['dense', 'act'], 'raw')
    """
    layers_ = getattr(net, "layers_", None)
    if not layers_:
        raise NotFittedError("the net has no layers_: fit or initialize it before exporting")
    names = {id(layer): name for name, layer in layers_.items()}
    ordered = list(layers_.values())
    output_layer = ordered[-1]
    transform = _transform_layer(net, ordered)
    wanted = [output_layer] + ([transform] if transform is not None else [])
    layers = get_all_layers(wanted)
    inputs = [layer for layer in layers if isinstance(layer, InputLayer)]
    for k, layer in enumerate(layers):
        # the layers first, so an unsupported one is named before anything else fails
        name = names.get(id(layer), getattr(layer, "name", None) or f"layer{k}")
        if type(layer) is not InputLayer and type(layer) not in _LOWER:
            raise ExportError(
                f"{_where(layer, name)} cannot be exported: supported layers are "
                + ", ".join(sorted(c.__name__ for c in _LOWER))
            )
        if hasattr(layer, "mask_incoming_index"):
            _check_recurrent(layer, name)
    if len(inputs) != 1:
        raise ExportError(f"exporters take networks with one InputLayer; this one has {len(inputs)}")
    b = _Builder()
    ids = {id(inputs[0]): 0}
    b.shapes[0] = tuple(inputs[0].shape)
    for k, layer in enumerate(layers):
        if layer is inputs[0]:
            continue
        name = names.get(id(layer), getattr(layer, "name", None) or f"layer{k}")
        lower = _LOWER[type(layer)]
        incoming = [ids[id(l)] for l in _incomings(layer) if l is not None]
        b.current = _where(layer, name)
        ids[id(layer)] = lower(b, layer, name, incoming)
    classes = getattr(net, "classes_", None) if _is(is_classifier, net) else None
    return Lowered(
        program=b.program,
        input_shape=tuple(inputs[0].shape),
        output=ids[id(output_layer)],
        kind=_output_kind(net, output_layer),
        classes=None if classes is None else np.asarray(classes),
        transform_output=None if transform is None else ids[id(transform)],
        shapes=b.shapes,
        where=b.where,
        input_name=names.get(id(inputs[0]), "input"),
    )
