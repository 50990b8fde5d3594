"""A fitted network as a small numpy program: predict without PyTensor, a compiler or sklearn.

This module imports numpy and nothing else, and a pickled
:class:`NumpyPredictor` carries this module's source with it (pickle by
value), so unpickling needs numpy only: not sknet, not PyTensor. Build one
with :func:`sknet.export.to_numpy_predictor`.

A program is a list of steps ``(op, inputs, output, attrs)``: ``op`` names a
function of ``_OPS``, ``inputs`` and ``output`` are integer value ids (0 is the
network input) and ``attrs`` a dict of numbers, tuples, strings and numpy
arrays. ``sknet.export.lowering`` writes programs from sknet layers; the ONNX
exporter reads the same programs, so both exporters share one meaning.

Examples
--------
>>> import numpy as np
>>> W = np.eye(3, dtype='float32')[:, :2]
>>> program = [('dense', [0], 1, {'W': W, 'b': None, 'lead': 1}),
...            ('act', [1], 2, {'kind': 'softmax', 'args': ()})]
>>> p = NumpyPredictor(program, (None, 3), 2, 'proba', classes=np.array(['a', 'b']))
>>> p.predict(np.array([[0., 1., 5.]], dtype='float32')).tolist()
['b']
"""

import builtins
import pickle

import numpy as np

__all__ = ["NumpyPredictor"]

# Filled in when this source is executed by an unpickler (see _Loader).
globals().setdefault("_SOURCE", None)


def _sigmoid(x):
    # the tanh form never overflows in float32
    return (0.5 * np.tanh(0.5 * x) + 0.5).astype(x.dtype)


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _act(x, kind, args=()):
    if kind == "identity":
        return x
    if kind == "sigmoid":
        return _sigmoid(x)
    if kind == "softmax":
        return _softmax(x)
    if kind == "tanh":
        return np.tanh(x)
    if kind == "scaled_tanh":
        scale_in, scale_out = args
        return (scale_out * np.tanh(scale_in * x)).astype(x.dtype)
    if kind == "relu":
        return np.maximum(x, 0)
    if kind == "leaky":
        return np.where(x > 0, x, x * np.float32(args[0]))
    if kind == "elu":
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    if kind == "selu":
        scale, scale_neg = args
        neg = np.float32(scale_neg) * np.expm1(np.minimum(x, 0))
        return np.float32(scale) * np.where(x > 0, x, neg)
    if kind == "softplus":
        return np.logaddexp(np.float32(0), x)
    raise ValueError(f"unknown activation {kind!r}")


def _op_act(x, kind, args):
    return _act(x, kind, args)


def _op_identity(x):
    return x


def _op_dense(x, W, b, lead):
    x = x.reshape(x.shape[:lead] + (-1,))
    out = x @ W
    return out if b is None else out + b


def _op_const(x, binop, value):
    if binop == "add":
        return x + value
    if binop == "sub":
        return x - value
    return x * value


def _op_prelu(x, alpha):
    return np.maximum(x, 0) + alpha * np.minimum(x, 0)


def _shifted(x, offset, stride, out_size):
    """The view ``x[..., o + s*i]`` (i < out) of the trailing axes, for one window offset."""
    index = tuple(slice(o, o + s * (n - 1) + 1, s) for o, s, n in zip(offset, stride, out_size))
    return x[(Ellipsis,) + index]


def _out_size(size, window, stride):
    return tuple((n - w) // s + 1 for n, w, s in zip(size, window, stride))


def _op_conv(x, W, b, stride, pads, groups):
    # im2col as one strided copy per kernel offset (fast, unlike a gather of
    # small windows), then one GEMM per group
    x = np.pad(x, [(0, 0), (0, 0)] + list(pads))
    k = W.shape[2:]
    out_size = _out_size(x.shape[2:], k, stride)
    B, C = x.shape[:2]
    cols = np.empty((C,) + k + (B,) + out_size, dtype=x.dtype)
    xt = x.swapaxes(0, 1)
    for offset in np.ndindex(*k):
        cols[(slice(None),) + offset] = _shifted(xt, offset, stride, out_size)
    _cin, fout = C // groups, W.shape[0] // groups
    cols = cols.reshape(groups, -1, B * int(np.prod(out_size)))
    Wg = W.reshape(groups, fout, -1)
    out = np.concatenate([Wg[g] @ cols[g] for g in range(groups)]) if groups > 1 else Wg[0] @ cols[0]
    out = out.reshape((W.shape[0], B) + out_size).swapaxes(0, 1)
    return out if b is None else out + b


def _op_deconv(x, W, b, stride, crop, extra):
    # scatter every input position through the kernel: y[i*s + k] += x[i] W[k]
    B, _, *size = x.shape
    k = W.shape[2:]
    full = [(i - 1) * s + kk + e for i, s, kk, e in zip(size, stride, k, extra)]
    y = np.zeros((B, W.shape[1], *full), dtype=x.dtype)
    for offset in np.ndindex(*k):
        contrib = np.tensordot(x, W[(slice(None), slice(None)) + offset], axes=([1], [0]))
        contrib = np.moveaxis(contrib, -1, 1)
        index = tuple(slice(o, o + (i - 1) * s + 1, s) for o, i, s in zip(offset, size, stride))
        y[(slice(None), slice(None)) + index] += contrib
    index = tuple(slice(c, f - c) for c, f in zip(crop, full))
    out = y[(slice(None), slice(None)) + index]
    return out if b is None else out + b


def _pool_counts(n, ws, stride, pad, out, inc):
    start = np.arange(out) * stride - pad
    end = np.minimum(start + ws, n + pad)
    if inc:
        return end - start
    return np.minimum(end, n) - np.maximum(start, 0)


def _op_pool(x, mode, ws, stride, pad, extra):
    spatial = x.shape[2:]
    widths = [(0, 0), (0, 0)] + [(p, p + e) for p, e in zip(pad, extra)]
    xp = np.pad(x, widths, constant_values=-np.inf if mode == "max" else 0)
    out_size = _out_size(xp.shape[2:], ws, stride)
    acc = None
    for offset in np.ndindex(*ws):
        v = _shifted(xp, offset, stride, out_size)
        if acc is None:
            acc = v.copy()
        elif mode == "max":
            np.maximum(acc, v, out=acc)
        else:
            acc += v
    if mode == "max":
        return acc
    count = np.ones((), dtype=x.dtype)
    for n, w, s, p, o in zip(spatial, ws, stride, pad, out_size):
        count = count[..., None] * _pool_counts(n, w, s, p, o, mode == "inc").astype(x.dtype)
    return acc / count


def _op_global(x, kind):
    flat = x.reshape(x.shape[:2] + (-1,))
    return getattr(flat, kind)(axis=2)


def _op_reshape(x, shape):
    return x.reshape(tuple(x.shape[s[1]] if isinstance(s, tuple) else s for s in shape))


def _op_dimshuffle(x, pattern):
    kept = [p for p in pattern if p != "x"]
    remaining = [a for a in range(x.ndim) if a in kept]
    x = x.reshape(tuple(x.shape[a] for a in remaining))  # drops the size-1 axes left out
    x = x.transpose([remaining.index(p) for p in kept])
    shape = iter(x.shape)
    return x.reshape(tuple(1 if p == "x" else next(shape) for p in pattern))


def _op_pad(x, widths, value):
    return np.pad(x, widths, constant_values=value)


def _op_slice(x, axis, index):
    key = index if isinstance(index, int) else slice(*index)
    return x[(slice(None),) * axis + (key,)]


def _op_concat(*xs, axis):
    return np.concatenate(xs, axis=axis)


def _op_merge(*xs, op, coeffs):
    func = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum, "sub": np.subtract}[op]
    terms = [x if c == 1 else x * np.float32(c) for x, c in zip(xs, coeffs)]
    out = terms[0]
    for t in terms[1:]:
        out = func(out, t)
    return out


def _op_crop(x, index):
    return x[tuple(slice(*s) for s in index)]


def _op_embed(x, W):
    return W[np.round(x).astype(np.int64)]


def _op_nin(x, W, b):
    out = np.moveaxis(np.tensordot(x, W, axes=([1], [0])), -1, 1)
    return out if b is None else out + b


def _op_upscale(x, factor, mode):
    a, b = factor
    if mode == "repeat":
        return np.repeat(np.repeat(x, a, axis=2), b, axis=3)
    out = np.zeros(x.shape[:2] + (x.shape[2] * a, x.shape[3] * b), dtype=x.dtype)
    out[:, :, ::a, ::b] = x
    return out


def _time_major(x):
    x = x.reshape(x.shape[:2] + (-1,))
    return np.ascontiguousarray(x.transpose(1, 0, 2))


def _run_recurrence(x, step, states, backwards, only_final):
    """Run ``step`` over time; return Lasagne's (batch, time, units) or final output."""
    steps = range(x.shape[0] - 1, -1, -1) if backwards else range(x.shape[0])
    hids = [None] * x.shape[0]
    for t in steps:
        states = step(x[t], states)
        hids[t] = states[-1]
    if only_final:
        return states[-1]
    return np.stack(hids, axis=1)


def _initial(h0, batch):
    return np.repeat(h0, batch, axis=0)


def _op_rnn(x, W, b, R, act, h0, backwards, only_final):
    xw = _time_major(x) @ W + b

    def step(xt, states):
        return (_act(xt + states[0] @ R, *act),)

    return _run_recurrence(xw, step, (_initial(h0, x.shape[0]),), backwards, only_final)


def _op_lstm(x, W, b, R, peep, acts, h0, c0, backwards, only_final):
    n = R.shape[0]
    xw = _time_major(x) @ W + b

    def step(xt, states):
        c, h = states
        g = xt + h @ R
        i, f, ci, o = (g[:, k * n : (k + 1) * n] for k in range(4))
        if peep is not None:
            i = i + c * peep[0]
            f = f + c * peep[1]
        i, f, ci = _act(i, *acts[0]), _act(f, *acts[1]), _act(ci, *acts[2])
        c = f * c + i * ci
        if peep is not None:
            o = o + c * peep[2]
        return c, _act(o, *acts[3]) * _act(c, *acts[4])

    init = (_initial(c0, x.shape[0]), _initial(h0, x.shape[0]))
    return _run_recurrence(xw, step, init, backwards, only_final)


def _op_gru(x, W, b, R, acts, h0, backwards, only_final):
    n = R.shape[0]
    xw = _time_major(x) @ W + b

    def step(xt, states):
        (h,) = states
        hr = h @ R
        r = _act(hr[:, :n] + xt[:, :n], *acts[0])
        u = _act(hr[:, n : 2 * n] + xt[:, n : 2 * n], *acts[1])
        c = _act(xt[:, 2 * n :] + r * hr[:, 2 * n :], *acts[2])
        return ((1 - u) * h + u * c,)

    return _run_recurrence(xw, step, (_initial(h0, x.shape[0]),), backwards, only_final)


_OPS = {name[4:]: fn for name, fn in list(globals().items()) if name.startswith("_op_")}


class NumpyPredictor:
    """A fitted network evaluated with numpy alone; picklable, pickled with its code.

    Parameters
    ----------
    program : list of (op, inputs, output, attrs)
        The network as numpy steps (see the module docstring).
    input_shape : tuple
        Shape of the network input, None for the batch axis.
    output : int
        Value id of the network output.
    kind : {'proba', 'proba_binary', 'regress', 'regress_1d', 'raw'}
        How the output becomes predictions: class probabilities of a softmax
        (or of a one-unit sigmoid), regression targets (1-D for ``'regress_1d'``)
        or the raw output.
    classes : array-like, optional
        The class labels of a classifier, in ``classes_`` order.
    transform_output : int, optional
        Value id that :meth:`transform` returns.
    batch_size : int
        Examples evaluated at once (bounds the memory of convolutions).

    Examples
    --------
    >>> import numpy as np
    >>> program = [('dense', [0], 1, {'W': np.ones((2, 1), 'float32'), 'b': None, 'lead': 1})]
    >>> NumpyPredictor(program, (None, 2), 1, 'regress_1d').predict(np.ones((3, 2))).tolist()
    [2.0, 2.0, 2.0]
    """

    def __init__(self, program, input_shape, output, kind, classes=None, transform_output=None, batch_size=256):
        self.program = list(program)
        self.input_shape = tuple(input_shape)
        self.output = output
        self.kind = kind
        # predict indexes the labels with an array of class positions
        self.classes = None if classes is None else np.asarray(classes)
        self.transform_output = transform_output
        self.batch_size = batch_size

    def __reduce__(self):
        # By value: the class comes back from the source text, so unpickling
        # never imports sknet (whose package import pulls in PyTensor).
        return (_Loader(), (self.__dict__,))

    def _check(self, X):
        X = np.asarray(X, dtype=np.float32)
        expected = self.input_shape[1:]
        if X.ndim != len(self.input_shape) or any(e is not None and e != s for e, s in zip(expected, X.shape[1:])):
            raise ValueError(f"X has shape {X.shape}; the network takes {self.input_shape}")
        if X.shape[0] == 0:
            raise ValueError("X is empty")
        return X

    def run(self, X, outputs=None):
        """Evaluate the program on ``X`` in batches; return the values ``outputs`` (ids).

        Examples
        --------
        >>> import numpy as np
        >>> p = NumpyPredictor([('act', [0], 1, {'kind': 'relu', 'args': ()})], (None, 2), 1, 'raw')
        >>> p.run(np.array([[-1., 2.]]))[0].tolist()
        [[0.0, 2.0]]
        """
        outputs = [self.output] if outputs is None else list(outputs)
        X = self._check(X)
        parts = [[] for _ in outputs]
        for start in range(0, X.shape[0], self.batch_size):
            values = {0: X[start : start + self.batch_size]}
            for op, inputs, out, attrs in self.program:
                values[out] = _OPS[op](*(values[i] for i in inputs), **attrs)
            for part, o in zip(parts, outputs):
                part.append(np.asarray(values[o], dtype=np.float32))
        return [np.concatenate(p) for p in parts]

    def _output(self, X):
        return self.run(X)[0]

    def predict_proba(self, X):
        """Class probabilities, one column per class (classifiers).

        Examples
        --------
        >>> import numpy as np
        >>> program = [('act', [0], 1, {'kind': 'sigmoid', 'args': ()})]
        >>> p = NumpyPredictor(program, (None, 1), 1, 'proba_binary', classes=np.array([3, 7]))
        >>> p.predict_proba(np.zeros((1, 1))).tolist()
        [[0.5, 0.5]]
        """
        if self.kind not in ("proba", "proba_binary"):
            raise AttributeError("predict_proba is only available for classifiers")
        out = self._output(X)
        if self.kind == "proba_binary":
            out = np.hstack([1 - out, out])
        return out

    def predict(self, X):
        """Predicted labels (classifier), targets (regressor) or the raw output.

        Examples
        --------
        >>> import numpy as np
        >>> p = NumpyPredictor([('identity', [0], 1, {})], (None, 2), 1, 'raw')
        >>> p.predict(np.ones((1, 2))).tolist()
        [[1.0, 1.0]]
        """
        out = self._output(X)
        if self.kind == "proba_binary":
            return self.classes[(out[:, 0] > 0.5).astype(np.int64)]
        if self.kind == "proba":
            return self.classes[out.argmax(axis=1)]
        if self.kind.startswith("regress"):
            out = out.astype(np.float64)
            if self.kind == "regress_1d" and out.ndim == 2 and out.shape[1] == 1:
                out = out[:, 0]
        return out

    def transform(self, X):
        """Activations of the net's transform layer (by default the one before the output).

        Examples
        --------
        >>> import numpy as np
        >>> program = [('act', [0], 1, {'kind': 'relu', 'args': ()}), ('identity', [1], 2, {})]
        >>> p = NumpyPredictor(program, (None, 2), 2, 'raw', transform_output=1)
        >>> p.transform(np.array([[-1., 1.]])).tolist()
        [[0.0, 1.0]]
        """
        if self.transform_output is None:
            raise AttributeError("this network has no transform layer")
        return self.run(X, [self.transform_output])[0]


def _source():
    g = globals()
    if g["_SOURCE"] is None:
        with open(__file__, encoding="utf-8") as f:
            g["_SOURCE"] = f.read()
    return g["_SOURCE"]


def _rebuild(state):
    predictor = NumpyPredictor.__new__(NumpyPredictor)
    predictor.__dict__.update(state)
    return predictor


class _Loader:
    """Pickles as ``eval(expression)`` that runs this module's source and gives ``_rebuild``."""

    def __call__(self, state):
        return _rebuild(state)

    def __reduce__(self):
        expression = (
            "(lambda ns: (exec(ns['_SOURCE'], ns), ns['_rebuild'])[1])"
            f"({{'__name__': 'sknet_numpy_predictor', '_SOURCE': {_source()!r}}})"
        )
        return (builtins.eval, (expression,))


def _roundtrip(predictor):
    """Pickle and unpickle ``predictor`` (a helper for tests and docs)."""
    return pickle.loads(pickle.dumps(predictor))
