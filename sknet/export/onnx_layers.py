"""ONNX nodes for each step of a lowered program (see :mod:`sknet.export.lowering`).

Every ``_emit_<op>`` writes the ONNX nodes computing one numpy step through
a :class:`GraphBuilder`, which either collects nodes for a standalone model or
forwards them to a ``skl2onnx`` container. Supported opsets: 13 and later.
"""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from .lowering import ExportError

__all__ = ["GraphBuilder", "emit_program", "emit_outputs", "MIN_OPSET"]

MIN_OPSET = 13
_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min


class GraphBuilder:
    """Collects ONNX nodes and initializers under unique names.

    Parameters
    ----------
    opset : int
        The default-domain opset the nodes must work under.
    prefix : str
        Prefix of every generated name.

    Examples
    --------
    >>> import numpy as np
    >>> g = GraphBuilder(17)
    >>> y = g.node('Relu', [g.const(np.ones(2, 'float32'))])
    >>> [n.op_type for n in g.nodes], len(g.initializers)
    (['Relu'], 1)
    """

    def __init__(self, opset, prefix="sknet_"):
        self.opset = opset
        self.prefix = prefix
        self.nodes = []
        self.initializers = []
        self._count = 0

    def name(self, hint):
        """A fresh name."""
        self._count += 1
        return f"{self.prefix}{hint}_{self._count}"

    def const(self, array, hint="const"):
        """An initializer holding ``array``; returns its name."""
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def ints(self, values):
        """A 1-D int64 initializer."""
        return self.const(np.asarray(values, dtype=np.int64), "ints")

    def node(self, op_type, inputs, n_out=1, domain="", outputs=None, **attrs):
        """Add a node; return its output name (or list of names when ``n_out > 1``)."""
        outputs = outputs or [self.name(op_type.lower()) for _ in range(n_out)]
        self._add(op_type, list(inputs), list(outputs), domain, attrs)
        return outputs[0] if n_out == 1 else outputs

    def _add(self, op_type, inputs, outputs, domain, attrs):
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=self.name(op_type), domain=domain, **attrs))


def _reduce(g, op, x, axes, keepdims=0):
    # ReduceSum takes axes as an input from opset 13, the others from 18
    if op == "ReduceSum" or g.opset >= 18:
        return g.node(op, [x, g.ints(axes)], keepdims=keepdims)
    return g.node(op, [x], axes=list(axes), keepdims=keepdims)


def _scalar(value):
    return np.asarray(value, dtype=np.float32)


def _emit_act(g, x, shapes, kind, args):
    if kind == "identity":
        return x
    simple = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "softplus": "Softplus"}
    if kind in simple:
        return g.node(simple[kind], [x])
    if kind == "softmax":
        return g.node("Softmax", [x], axis=-1)
    if kind == "scaled_tanh":
        scale_in, scale_out = args
        t = g.node("Tanh", [g.node("Mul", [x, g.const(_scalar(scale_in))])])
        return g.node("Mul", [t, g.const(_scalar(scale_out))])
    if kind == "leaky":
        return g.node("LeakyRelu", [x], alpha=float(args[0]))
    if kind == "elu":
        return g.node("Elu", [x], alpha=1.0)
    if kind == "selu":
        scale, scale_neg = args
        return g.node("Selu", [x], alpha=float(scale_neg), gamma=float(scale))
    raise ExportError(f"unknown activation {kind!r}")


def _emit_identity(g, x, shapes):
    return x


def _emit_dense(g, x, shapes, W, b, lead):
    if len(shapes[0]) != lead + 1:
        x = g.node("Reshape", [x, g.ints([0] * lead + [-1])])
    out = g.node("MatMul", [x, g.const(W, "W")])
    return out if b is None else g.node("Add", [out, g.const(b, "b")])


def _emit_const(g, x, shapes, binop, value):
    op = {"add": "Add", "sub": "Sub", "mul": "Mul"}[binop]
    return g.node(op, [x, g.const(value, binop)])


def _emit_prelu(g, x, shapes, alpha):
    return g.node("PRelu", [x, g.const(alpha, "alpha")])


def _add_bias(g, out, b, conv_inputs):
    """Tied biases go into the Conv node, untied ones into an Add."""
    if b is None:
        return conv_inputs, None
    if all(s == 1 for s in b.shape[2:]):
        return conv_inputs + [g.const(b.reshape(-1), "b")], None
    return conv_inputs, b


def _filter_node(g, op, x, W, b, stride, **attrs):
    """A ``Conv`` or ``ConvTranspose`` node over the filters ``W``, with the bias tied inside or added after."""
    inputs, untied = _add_bias(g, None, b, [x, g.const(W, "W")])
    out = g.node(op, inputs, kernel_shape=list(W.shape[2:]), strides=list(stride), **attrs)
    return out if untied is None else g.node("Add", [out, g.const(untied, "b")])


def _emit_conv(g, x, shapes, W, b, stride, pads, groups):
    begins_then_ends = [p[0] for p in pads] + [p[1] for p in pads]
    return _filter_node(g, "Conv", x, W, b, stride, pads=begins_then_ends, group=groups, dilations=[1] * (W.ndim - 2))


def _emit_deconv(g, x, shapes, W, b, stride, crop, extra):
    return _filter_node(g, "ConvTranspose", x, W, b, stride, pads=list(crop) * 2, output_padding=list(extra))


def _emit_pool(g, x, shapes, mode, ws, stride, pad, extra):
    pads = list(pad) + [p + e for p, e in zip(pad, extra)]
    if mode == "max":
        return g.node("MaxPool", [x], kernel_shape=list(ws), strides=list(stride), pads=pads)
    # Lasagne's inc-pad average counts padded cells but never cells past the
    # padding: with a partial last window (extra > 0) that is the real count
    include = int(mode == "inc" and not any(extra))
    return g.node("AveragePool", [x], kernel_shape=list(ws), strides=list(stride), pads=pads, count_include_pad=include)


def _emit_global(g, x, shapes, kind):
    flat = g.node("Reshape", [x, g.ints([0, 0, -1])])
    op = {"mean": "ReduceMean", "max": "ReduceMax", "sum": "ReduceSum", "min": "ReduceMin"}[kind]
    return _reduce(g, op, flat, [2])


def _emit_reshape(g, x, shapes, shape):
    if all(not isinstance(s, tuple) or s[1] == k for k, s in enumerate(shape)):
        return g.node("Reshape", [x, g.ints([0 if isinstance(s, tuple) else s for s in shape])])
    # an input size copied to another position: read it at run time
    in_shape = g.node("Shape", [x])
    parts = [
        g.node("Gather", [in_shape, g.ints([s[1]])], axis=0) if isinstance(s, tuple) else g.ints([s]) for s in shape
    ]
    return g.node("Reshape", [x, g.node("Concat", parts, axis=0)])


def _emit_dimshuffle(g, x, shapes, pattern):
    ndim = len(shapes[0])
    kept = [p for p in pattern if p != "x"]
    dropped = [a for a in range(ndim) if a not in kept]
    if dropped:
        x = g.node("Squeeze", [x, g.ints(dropped)])
    remaining = [a for a in range(ndim) if a in kept]
    perm = [remaining.index(p) for p in kept]
    if perm != sorted(perm):
        x = g.node("Transpose", [x], perm=perm)
    inserted = [k for k, p in enumerate(pattern) if p == "x"]
    if inserted:
        x = g.node("Unsqueeze", [x, g.ints(inserted)])
    return x


def _emit_pad(g, x, shapes, widths, value):
    pads = [w[0] for w in widths] + [w[1] for w in widths]
    return g.node("Pad", [x, g.ints(pads), g.const(_scalar(value), "val")], mode="constant")


def _emit_slice(g, x, shapes, axis, index):
    if isinstance(index, int):
        return g.node("Gather", [x, g.const(np.asarray(index, np.int64), "index")], axis=axis)
    start, stop, step = index
    step = 1 if step is None else step
    if start is None:
        start = 0 if step > 0 else _INT64_MAX
    if stop is None:
        stop = _INT64_MAX if step > 0 else _INT64_MIN
    return g.node("Slice", [x, g.ints([start]), g.ints([stop]), g.ints([axis]), g.ints([step])])


def _emit_crop(g, x, shapes, index):
    axes = [a for a, s in enumerate(index) if s != (None, None)]
    starts = [index[a][0] for a in axes]
    stops = [index[a][1] for a in axes]
    return g.node("Slice", [x, g.ints(starts), g.ints(stops), g.ints(axes)])


def _emit_concat(g, xs, shapes, axis):
    return g.node("Concat", xs, axis=axis)


def _emit_merge(g, xs, shapes, op, coeffs):
    onnx_op = {"add": "Add", "mul": "Mul", "max": "Max", "min": "Min", "sub": "Sub"}[op]
    terms = [x if c == 1 else g.node("Mul", [x, g.const(_scalar(c), "coeff")]) for x, c in zip(xs, coeffs)]
    out = terms[0]
    for t in terms[1:]:
        out = g.node(onnx_op, [out, t])
    return out


def _emit_embed(g, x, shapes, W):
    idx = g.node("Cast", [g.node("Round", [x])], to=TensorProto.INT64)
    return g.node("Gather", [g.const(W, "W"), idx], axis=0)


def _emit_nin(g, x, shapes, W, b):
    ndim = len(shapes[0])
    if ndim == 2:
        out = g.node("MatMul", [x, g.const(W, "W")])
    else:
        last = g.node("Transpose", [x], perm=[0] + list(range(2, ndim)) + [1])
        out = g.node("MatMul", [last, g.const(W, "W")])
        out = g.node("Transpose", [out], perm=[0, ndim - 1] + list(range(1, ndim - 1)))
    return out if b is None else g.node("Add", [out, g.const(b, "b")])


def _emit_upscale(g, x, shapes, factor, mode):
    # a grouped transposed convolution with stride = factor copies each value
    # into its block (all-ones kernel) or its block's corner (one-hot kernel)
    channels = shapes[0][1]
    if channels is None:
        raise ExportError("Upscale2DLayer needs a known number of channels")
    kernel = np.zeros((channels, 1) + tuple(factor), np.float32)
    if mode == "repeat":
        kernel[:] = 1
    else:
        kernel[:, :, 0, 0] = 1
    return g.node(
        "ConvTranspose",
        [x, g.const(kernel, "upscale")],
        strides=list(factor),
        kernel_shape=list(factor),
        group=channels,
    )


_RNN_ACTS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "softplus": "Softplus"}


def _rnn_activation(act):
    """ONNX recurrent activation name and its alpha/beta (or None)."""
    kind, args = act
    if kind in _RNN_ACTS:
        return _RNN_ACTS[kind], None, None
    if kind == "scaled_tanh":
        return "ScaledTanh", args[1], args[0]
    if kind == "leaky":
        return "LeakyRelu", args[0], None
    if kind == "elu":
        return "Elu", 1.0, None
    raise ExportError(f"nonlinearity {kind!r} has no ONNX recurrent activation")


def _activation_attrs(acts):
    names, alphas, betas = zip(*(_rnn_activation(a) for a in acts))
    attrs = {"activations": list(names)}
    if any(a is not None for a in alphas):
        attrs["activation_alpha"] = [float(a or 0.0) for a in alphas]
    if any(b is not None for b in betas):
        attrs["activation_beta"] = [float(b or 0.0) for b in betas]
    return attrs


def _recurrent(g, x, shapes, op, W, R, B, states, backwards, only_final, **attrs):
    n = R.shape[1]
    if len(shapes[0]) > 3:
        x = g.node("Reshape", [x, g.ints([0, 0, -1])])
    batch = g.node("Gather", [g.node("Shape", [x]), g.ints([0])], axis=0)
    time_major = g.node("Transpose", [x], perm=[1, 0, 2])
    init = []
    for s in states:
        shape = g.node("Concat", [g.ints([1]), batch, g.ints([n])], axis=0)
        init.append(g.node("Expand", [g.const(s.reshape(1, 1, n), "init"), shape]))
    inputs = [time_major, g.const(W[None], "W"), g.const(R[None], "R"), g.const(B[None], "B"), ""] + init
    direction = "reverse" if backwards else "forward"
    outs = g.node(op, inputs, n_out=2 + (op == "LSTM"), hidden_size=n, direction=direction, **attrs)
    if only_final:
        return g.node("Squeeze", [outs[1], g.ints([0])])
    y = g.node("Squeeze", [outs[0], g.ints([1])])
    return g.node("Transpose", [y], perm=[1, 0, 2])


def _emit_rnn(g, x, shapes, W, b, R, act, h0, backwards, only_final):
    B = np.concatenate([b, np.zeros_like(b)])
    return _recurrent(g, x, shapes, "RNN", W.T, R.T, B, [h0], backwards, only_final, **_activation_attrs([act]))


def _emit_lstm(g, x, shapes, W, b, R, peep, acts, h0, c0, backwards, only_final):
    n = R.shape[0]
    if not acts[0] == acts[1] == acts[3]:
        raise ExportError(
            "ONNX's LSTM applies one nonlinearity to the input, forget and output gates; this layer's differ"
        )
    order = [0, 3, 1, 2]  # Lasagne stacks i, f, c, o; ONNX wants i, o, f, c

    def reorder(a, axis):
        parts = np.split(a, 4, axis=axis)
        return np.concatenate([parts[k] for k in order], axis=axis)

    B = np.concatenate([reorder(b, 0), np.zeros(4 * n, np.float32)])
    inputs_attrs = _activation_attrs([acts[0], acts[2], acts[4]])
    out = _recurrent(
        g, x, shapes, "LSTM", reorder(W, 1).T, reorder(R, 1).T, B, [h0, c0], backwards, only_final, **inputs_attrs
    )
    if peep is not None:
        # P is the LSTM node's 8th input (after sequence_lens, initial_h, initial_c)
        lstm = next(node for node in reversed(g.nodes) if node.op_type == "LSTM")
        lstm.input.append(g.const(peep[[0, 2, 1]].reshape(1, -1), "P"))
    return out


def _emit_gru(g, x, shapes, W, b, R, acts, h0, backwards, only_final):
    n = R.shape[0]
    if acts[0][0] != "sigmoid" or acts[1][0] != "sigmoid":
        raise ExportError("ONNX's GRU matches Lasagne's only with sigmoid reset and update gates")
    # Lasagne stacks r, u, c and mixes h = (1 - u) h_prev + u c; ONNX stacks
    # z, r, h with h = z h_prev + (1 - z) c, so z = sigmoid(-pre_u) = 1 - u
    sign = np.ones(3 * n, np.float32)
    sign[n : 2 * n] = -1
    order = [1, 0, 2]

    def reorder(a, axis):
        parts = np.split(a * (sign if axis == 0 else sign[None]), 3, axis=axis)
        return np.concatenate([parts[k] for k in order], axis=axis)

    B = np.concatenate([reorder(b, 0), np.zeros(3 * n, np.float32)])
    return _recurrent(
        g,
        x,
        shapes,
        "GRU",
        reorder(W, 1).T,
        reorder(R, 1).T,
        B,
        [h0],
        backwards,
        only_final,
        linear_before_reset=1,
        **_activation_attrs([acts[0], acts[2]]),
    )


_EMIT = {name[6:]: fn for name, fn in list(globals().items()) if name.startswith("_emit_")}
_MULTI_INPUT = {"concat", "merge"}


def emit_program(g, lowered, x):
    """Emit every step of ``lowered`` on the input named ``x``; return {value id: name}.

    Examples
    --------
    >>> import numpy as np
    >>> from sknet.export.lowering import Lowered
    >>> lowered = Lowered([('act', [0], 1, {'kind': 'relu', 'args': ()})], (None, 2), 1, 'raw',
    ...                   shapes={0: (None, 2), 1: (None, 2)})
    >>> g = GraphBuilder(17)
    >>> names = emit_program(g, lowered, 'X')
    >>> g.nodes[0].op_type, g.nodes[0].input[0]
    ('Relu', 'X')
    """
    names = {0: x}
    for op, inputs, out, attrs in lowered.program:
        shapes = [lowered.shapes.get(i) for i in inputs]
        args = [names[i] for i in inputs]
        try:
            if op in _MULTI_INPUT:
                names[out] = _EMIT[op](g, args, shapes, **attrs)
            else:
                names[out] = _EMIT[op](g, args[0], shapes, **attrs)
        except ExportError as e:
            raise ExportError(f"{lowered.where.get(out)}: {e}") from None
    return names


def classes_tensor(classes):
    """The classes as an ONNX-friendly array (int64 or str) for label lookup.

    Examples
    --------
    >>> import numpy as np
    >>> classes_tensor(np.array([3, 5])).dtype, classes_tensor(np.array(['a'])).dtype.kind
    (dtype('int64'), 'O')
    """
    classes = np.asarray(classes)
    if classes.dtype.kind in "iub":
        return classes.astype(np.int64)
    if classes.dtype.kind == "f" and np.all(classes == np.round(classes)):
        return classes.astype(np.int64)
    if classes.dtype.kind in "UO" and all(isinstance(c, str) for c in classes):
        return classes.astype(object)
    raise ExportError(f"class labels of dtype {classes.dtype} cannot be ONNX labels; use integers or strings")


def emit_outputs(g, lowered, out, label_name=None, proba_name=None):
    """Turn the network output into skl2onnx's outputs; return their names.

    A classifier gives ``(label, probabilities)``, anything else
    ``(variable,)``.
    """
    if lowered.kind in ("proba", "proba_binary"):
        if lowered.kind == "proba_binary":
            index = g.node("Cast", [g.node("Greater", [out, g.const(_scalar(0.5), "half")])], to=TensorProto.INT64)
            one_minus = g.node("Sub", [g.const(_scalar(1.0), "one"), out])
            proba = g.node("Concat", [one_minus, out], axis=1, outputs=[proba_name] if proba_name else None)
        else:
            index = g.node("ArgMax", [out], axis=1, keepdims=1)
            proba = g.node("Identity", [out], outputs=[proba_name] if proba_name else None)
        classes = classes_tensor(lowered.classes)
        picked = g.node("ArrayFeatureExtractor", [g.const(classes, "classes"), index], domain="ai.onnx.ml")
        label = g.node("Reshape", [picked, g.ints([-1])], outputs=[label_name] if label_name else None)
        return label, proba
    if lowered.kind == "regress_1d":
        return (g.node("Reshape", [out, g.ints([-1])], outputs=[label_name] if label_name else None),)
    return (g.node("Identity", [out], outputs=[label_name] if label_name else None),)
