"""Networks with several output layers: ``layers=[out_a, out_b]``, as nolearn takes them.

The estimator sees one output layer: :class:`MultiOutputLayer` joins the
heads (each flattened to one row per sample) side by side, so the compiled
functions, the batch iterators and the training loop are those of any net.
What differs lives here:

- y is a tuple (or list) of arrays, one per output, checked by
  :func:`check_X_y` before anything compiles; inside the net it travels as one
  structured array (:func:`pack`), so the train / validation split takes the
  same rows of every y (and a classifier's split is stratified on the
  combination of labels);
- :class:`MultiTargets` gives every output the estimator's own target
  handling (a classifier: each output its own labels and softmax;
  a regressor: float targets), encodes the ys into one float32 matrix and
  splits predictions back into a tuple;
- :class:`SummedLoss` is the training loss: the sum over the outputs of each
  one's mean loss (cross-entropy for a classifier's output, squared error
  otherwise, or ``objective_loss_function`` for every output).
"""

import numpy as np
import pytensor.tensor as T
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.multiclass import check_classification_targets

from . import validation
from .backend import FLOATX
from .batch_iterators import num_samples
from .layers import Layer, MergeLayer
from .targets import ClassifierTargets

__all__ = [
    "MultiOutputLayer",
    "MultiTargets",
    "SummedLoss",
    "is_multi",
    "as_spec",
    "pack",
    "unpack",
    "check_y",
    "check_X_y",
    "check_validation_data",
    "as_y",
    "mean_score",
]


def is_multi(spec):
    """True for a ``layers`` argument that is a list (or tuple) of two or more output Layers.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> l_in = InputLayer((None, 2))
    >>> is_multi([DenseLayer(l_in, 1), DenseLayer(l_in, 3)]), is_multi([(InputLayer, {})])
    (True, False)
    """
    return isinstance(spec, (list, tuple)) and len(spec) > 1 and all(isinstance(layer, Layer) for layer in spec)


def as_spec(spec):
    """The spec the estimator builds: a list of output Layers becomes one :class:`MultiOutputLayer`.

    A list of one Layer is that Layer; any other spec is returned unchanged.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> l_in = InputLayer((None, 2))
    >>> type(as_spec([DenseLayer(l_in, 1), DenseLayer(l_in, 3)])).__name__
    'MultiOutputLayer'
    """
    if is_multi(spec):
        return MultiOutputLayer(spec)
    if isinstance(spec, (list, tuple)) and len(spec) == 1 and isinstance(spec[0], Layer):
        return spec[0]
    return spec


class MultiOutputLayer(MergeLayer):
    """The outputs of several layers side by side, each flattened to one row per sample.

    Parameters
    ----------
    incomings : list of Layer
        The output layers (each of fixed shape after the batch axis).

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> l_in = InputLayer((None, 2))
    >>> layer = MultiOutputLayer([DenseLayer(l_in, 3), DenseLayer(l_in, 1)])
    >>> layer.output_shape, layer.widths
    ((None, 4), [3, 1])
    """

    def __init__(self, incomings, name=None):
        super().__init__(list(incomings), name=name)
        for incoming, shape in zip(self.input_layers, self.input_shapes):
            if len(shape) < 2 or any(size is None for size in shape[1:]):
                raise ValueError(
                    f"The output layer {getattr(incoming, 'name', None) or type(incoming).__name__!r} has output "
                    f"shape {shape}; every output of a multi-output net needs a fixed size after the batch axis"
                )

    @property
    def widths(self):
        """The number of columns each output takes."""
        return [int(np.prod(shape[1:])) for shape in self.input_shapes]

    def get_output_shape_for(self, input_shapes):
        return (input_shapes[0][0], sum(int(np.prod(shape[1:])) for shape in input_shapes))

    def get_output_for(self, inputs, **kwargs):
        return T.concatenate([x.flatten(2) for x in inputs], axis=1)


def pack(ys):
    """One structured array (a field ``y<i>`` per output) from a tuple of arrays of equal length.

    Examples
    --------
    >>> y = pack((np.array(['a', 'b']), np.array([[1.0, 2.0], [3.0, 4.0]])))
    >>> len(y), [part.tolist() for part in unpack(y[::-1])]
    (2, [['b', 'a'], [[3.0, 4.0], [1.0, 2.0]]])
    """
    ys = [np.asarray(part) for part in ys]
    packed = np.empty(len(ys[0]), dtype=[(f"y{i}", part.dtype, part.shape[1:]) for i, part in enumerate(ys)])
    for i, part in enumerate(ys):
        packed[f"y{i}"] = part
    return packed


def unpack(y):
    """The tuple of arrays a packed (or already unpacked) y holds."""
    if isinstance(y, np.ndarray) and y.dtype.names:
        return tuple(y[name] for name in y.dtype.names)
    return tuple(np.asarray(part) for part in y)


def _output_names(spec):
    return [layer.name or f"output {i}" for i, layer in enumerate(spec)]


def check_y(spec, y, n_samples, classifier):
    """The ys of a multi-output net as one packed array; a y that does not fit its outputs raises ValueError.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> l_in = InputLayer((None, 2))
    >>> spec = [DenseLayer(l_in, 2, name='a'), DenseLayer(l_in, 1, name='b')]
    >>> check_y(spec, np.zeros(4), 4, classifier=False)
    Traceback (most recent call last):
    ...
    ValueError: This net has 2 output layers ['a', 'b'], so y must be a tuple of 2 arrays, one per output; got ndarray
    >>> check_y(spec, (np.zeros(4), np.zeros(3)), 4, classifier=False)
    Traceback (most recent call last):
    ...
    ValueError: y[1] (for the output layer 'b') has 3 samples, but X has 4
    """
    names = _output_names(spec)
    if isinstance(y, np.ndarray) and y.dtype.names:
        y = unpack(y)
    if not isinstance(y, (tuple, list)):
        raise ValueError(
            f"This net has {len(spec)} output layers {names}, so y must be a tuple of {len(spec)} arrays, "
            f"one per output; got {type(y).__name__}"
        )
    if len(y) != len(spec):
        raise ValueError(f"y has {len(y)} arrays, but this net has {len(spec)} output layers {names}")
    parts = []
    for i, (part, name) in enumerate(zip(y, names)):
        part = np.asarray(part)
        what = f"y[{i}] (for the output layer {name!r})"
        if part.ndim not in (1, 2):
            raise ValueError(f"{what} has shape {part.shape}; each y must be 1-D or 2-D")
        if len(part) != n_samples:
            raise ValueError(f"{what} has {len(part)} samples, but X has {n_samples}")
        if classifier:
            check_classification_targets(part)
        else:
            validation.check_numeric(part, what)
            if not np.all(np.isfinite(part.astype(np.float64))):
                raise ValueError(f"{what} contains NaN or infinity")
        parts.append(part)
    return pack(parts)


def check_X_y(estimator, X, y, reset, classifier, input_names=None):
    """:func:`sknet.validation.check_X_y`, and for a multi-output net the ys checked by :func:`check_y`."""
    if not is_multi(estimator.layers):
        return validation.check_X_y(estimator, X, y, reset, classifier, input_names)
    if y is None:
        raise ValueError(f"{type(estimator).__name__} requires y to be passed, but the target y is None.")
    if getattr(estimator, "class_weight", None) is not None:
        raise ValueError("class_weight is not supported for a net with several output layers; give sample_weight")
    X = validation.check_X(estimator, X, reset, input_names)
    return X, check_y(estimator.layers, y, num_samples(X), classifier)


def check_validation_data(estimator, X_val, y_val, sample_weight_val, input_names=None, classes=None):
    """:func:`sknet.validation.check_validation_data`; for a multi-output net y_val is a tuple like y.

    ``classes`` is then the packed training y (or a tuple of each output's
    classes): labels of a y_val output not in that output's raise ValueError.
    """
    if not is_multi(estimator.layers) or X_val is None or y_val is None:
        return validation.check_validation_data(estimator, X_val, y_val, sample_weight_val, input_names, classes)
    X_val = validation.check_X(estimator, X_val, reset=False, input_names=input_names)
    y_val = check_y(estimator.layers, y_val, num_samples(X_val), classes is not None)
    if classes is not None:
        for i, (part, seen) in enumerate(zip(unpack(y_val), unpack(classes))):
            unseen = np.setdiff1d(np.unique(part), np.unique(seen))
            if len(unseen):
                raise ValueError(f"y_val[{i}] has labels that are not in y[{i}]: {unseen[:10].tolist()}")
    return X_val, y_val, validation.check_sample_weight(y_val, sample_weight_val)


def as_y(estimator, y):
    """y as ``fit(check_input=False)`` passes it on: packed for a multi-output net, else an array."""
    return pack(y) if is_multi(estimator.layers) and isinstance(y, (tuple, list)) else np.asarray(y)


class SummedLoss:
    """The loss of a multi-output net: per sample, the sum over the outputs of each output's loss.

    Each output's elementwise loss is averaged over its axes after the first,
    so the mean over samples is the sum of the outputs' mean losses.

    Parameters
    ----------
    targets : MultiTargets
        Bound to the net's :class:`MultiOutputLayer` (gives the columns of each output and target).
    losses : list of callable
        The elementwise loss of each output.
    """

    def __init__(self, targets, losses):
        self.targets, self.losses = targets, list(losses)
        self.__name__ = "sum of " + ", ".join(getattr(f, "__name__", type(f).__name__) for f in self.losses)

    def __call__(self, predictions, target, **kwargs):
        total = 0
        for i, loss in enumerate(self.losses):
            prediction = self.targets.output_part(predictions, i)
            part = loss(prediction, self.targets.target_part(target, i), **kwargs)
            total = total + (part.flatten(2).mean(axis=1) if part.ndim > 1 else part)
        return total


class MultiTargets:
    """The targets of a multi-output net: one :class:`~sknet.targets.Targets` per output.

    Parameters
    ----------
    make : type
        The Targets class each output gets (the estimator's own).

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> from sknet.targets import RegressorTargets
    >>> l_in = InputLayer((None, 2))
    >>> out = MultiOutputLayer([DenseLayer(l_in, 2, nonlinearity=None), DenseLayer(l_in, 1, nonlinearity=None)])
    >>> t = MultiTargets(RegressorTargets).fit((np.zeros((3, 2)), np.ones(3))).bind(out, True)
    >>> t.encode((np.zeros((3, 2)), np.ones(3))).shape
    (3, 3)
    >>> [p.shape for p in t.decode(np.zeros((3, 3), 'float32'))]
    [(3, 2), (3,)]
    """

    def __init__(self, make):
        self.make = make

    def fit(self, y):
        """Fit each output's targets on its y; returns self."""
        ys = unpack(y)
        self.outputs_ = [self.make().fit(part) for part in ys]
        self.target_widths_ = [int(np.prod(np.shape(part)[1:])) for part in ys]
        return self

    def output_units(self):
        return None

    def bind(self, output_layer, default_loss, named_nonlinearity=None):
        """Bind each output's targets to its output layer (checking units and nonlinearity); returns self."""
        heads = output_layer.input_layers
        if len(heads) != len(self.outputs_):
            raise ValueError(f"y has {len(self.outputs_)} arrays, but this net has {len(heads)} output layers")
        for i, (targets, head) in enumerate(zip(self.outputs_, heads)):
            try:
                targets.bind(head, default_loss, named_nonlinearity)
            except ValueError as exc:
                raise ValueError(f"y[{i}] and the output layer {head.name or i!r}: {exc}") from None
        self.widths_, self.shapes_ = output_layer.widths, [shape[1:] for shape in output_layer.input_shapes]
        return self

    def default_loss(self):
        return self.summed_loss(None)

    def summed_loss(self, loss):
        """:class:`SummedLoss` of ``loss`` on every output (None: each output's default loss)."""
        if isinstance(loss, SummedLoss):
            return loss
        return SummedLoss(self, [t.default_loss() if loss is None else loss for t in self.outputs_])

    def target_var(self):
        return T.matrix("y", dtype=FLOATX)

    def _columns(self, widths, i):
        start = sum(widths[:i])
        return slice(start, start + widths[i])

    def output_part(self, output, i):
        """Output ``i`` (symbolic or numpy) from the joined output, in its own shape."""
        part = output[:, self._columns(self.widths_, i)]
        return part.reshape((part.shape[0], *self.shapes_[i]))

    def target_part(self, target, i):
        """Target ``i`` (symbolic) from the encoded target matrix, as output ``i``'s loss takes it."""
        want = self.outputs_[i].target_var()
        part = target[:, self._columns(self.target_widths_, i)]
        return T.cast(part[:, 0] if want.ndim == 1 else part, want.dtype)

    def encode(self, y):
        """The ys as one float32 matrix (class codes are exact in float32)."""
        encoded = [t.encode(part) for t, part in zip(self.outputs_, unpack(y))]
        return np.hstack([np.asarray(e, dtype=FLOATX).reshape(len(e), -1) for e in encoded])

    def _parts(self, output):
        return [self.output_part(np.asarray(output), i) for i in range(len(self.outputs_))]

    def decode(self, output):
        """A tuple of each output's predictions, in the user's terms."""
        return tuple(t.decode(part) for t, part in zip(self.outputs_, self._parts(output)))

    def proba(self, output):
        """A tuple of each output's probabilities (a classifier's) or values."""
        return tuple(getattr(t, "proba", np.asarray)(part) for t, part in zip(self.outputs_, self._parts(output)))

    def labels(self, encoded):
        """Encoded targets back in the user's terms, packed."""
        parts = []
        for i, t in enumerate(self.outputs_):
            part = encoded[:, self._columns(self.target_widths_, i)]
            want = t.target_var()
            parts.append(t.labels((part[:, 0] if want.ndim == 1 else part).astype(want.dtype)))
        return pack(parts)

    def check_known(self, y):
        """Raise ValueError for labels of any classifier output never seen in fit."""
        for t, part in zip(self.outputs_, unpack(y)):
            if hasattr(t, "check_known"):
                t.check_known(part)

    def score(self, y, predictions, sample_weight=None):
        """The mean over the outputs of each one's score: accuracy for labels, R² otherwise."""
        scores = []
        for t, truth, predicted in zip(self.outputs_, unpack(y), predictions):
            metric = accuracy_score if isinstance(t, ClassifierTargets) else r2_score
            scores.append(float(metric(truth, predicted, sample_weight=sample_weight)))
        return float(np.mean(scores))


def mean_score(net, X, y, sample_weight, single):
    """``net``'s score on (X, y): for a multi-output net the mean of the outputs' scores, else ``single``'s."""
    targets = getattr(net, "targets_", None)
    if not isinstance(targets, MultiTargets):
        return single(X, y, sample_weight=sample_weight)
    targets.check_known(y)
    return targets.score(y, net.predict(X), sample_weight)
