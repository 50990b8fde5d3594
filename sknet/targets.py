"""Targets: what y means to a net (encoding, output layer rules, default loss, decoding).

One object per estimator kind: :class:`ClassifierTargets` (labels of any
type through ``classes_``), :class:`RegressorTargets` (float targets, 1-D
or 2-D) and :class:`Targets` (a generic :class:`~sknet.NeuralNet`: y is fed
as it is). Each is fitted on the user's y before the layers are built, and
bound to the output layer once they are.
"""

import numpy as np
import pytensor.tensor as T
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets

from . import nonlinearities, objectives
from .backend import FLOATX

__all__ = ["Targets", "ClassifierTargets", "RegressorTargets"]

# Outputs that are explicitly not probabilities (a classifier's default loss needs them to be).
_NOT_PROBABILISTIC = {
    nonlinearities.rectify,
    nonlinearities.linear,
    nonlinearities.tanh,
    nonlinearities.elu,
    nonlinearities.selu,
    nonlinearities.softplus,
    nonlinearities.leaky_rectify,
    nonlinearities.very_leaky_rectify,
    None,
}
_NOT_PROBABILISTIC_TYPES = (nonlinearities.ScaledTanH, nonlinearities.LeakyRectify, nonlinearities.SELU)
_MISSING = object()


def _name(fn):
    return getattr(fn, "__name__", type(fn).__name__)


def _explicitly_not(nonlinearity, allowed):
    """True when ``nonlinearity`` is a known function other than ``allowed``."""
    if nonlinearity is _MISSING or nonlinearity is allowed:
        return False
    if nonlinearity in (nonlinearities.softmax, nonlinearities.sigmoid):
        return True
    return nonlinearity in _NOT_PROBABILISTIC or isinstance(nonlinearity, _NOT_PROBABILISTIC_TYPES)


class Targets:
    """y as the user gives it: integers become int32, anything else float32.

    Examples
    --------
    >>> t = Targets().fit(np.array([1.5, 2.5]))
    >>> t.encode(np.array([1.5, 2.5])).dtype.name, t.target_var().ndim
    ('float32', 1)
    """

    def fit(self, y):
        """Learn what encoding needs from the training targets; returns self."""
        encoded = self.encode(y)
        self.dtype_, self.ndim_ = str(encoded.dtype), encoded.ndim
        return self

    def output_units(self):
        """Units of a last DenseLayer given without ``num_units`` (None: the spec must say)."""
        return None

    def default_nonlinearity(self, units):
        """The output nonlinearity when the spec names none (None: keep the layer's own)."""
        return None

    def default_loss(self):
        """The elementwise loss used without ``objective_loss_function``."""
        return objectives.squared_error

    def bind(self, output_layer, default_loss, named_nonlinearity=None):
        """Fit the built output layer to the targets (before compiling); returns self.

        Where the spec names no output nonlinearity (``named_nonlinearity``
        False; None means unknown: a prebuilt or callable spec), the layer
        gets :meth:`default_nonlinearity`; then its units and nonlinearity
        are checked (``default_loss``: the loss is :meth:`default_loss`'s).
        """
        if named_nonlinearity is False and hasattr(output_layer, "nonlinearity"):
            default = self.default_nonlinearity(output_layer.output_shape[-1])
            if default is not None:
                output_layer.nonlinearity = default
        return self._check(output_layer, default_loss)

    def _check(self, output_layer, default_loss):
        return self

    def target_var(self):
        """A fresh symbolic variable for encoded targets."""
        return T.tensor(dtype=self.dtype_, shape=(None,) * self.ndim_, name="y")

    def encode(self, y):
        """y as the compiled functions take it."""
        y = np.asarray(y)
        return y.astype(np.int32) if y.dtype.kind in "iub" else y.astype(FLOATX)

    def decode(self, output):
        """Predictions in the user's terms from the network's output."""
        return output

    def labels(self, encoded):
        """Encoded targets back in the user's terms."""
        return encoded


class ClassifierTargets(Targets):
    """Class labels of any type; one softmax unit per class, or one sigmoid unit for two.

    Examples
    --------
    >>> t = ClassifierTargets().fit(np.array(['cat', 'dog', 'cat']))
    >>> t.classes_.tolist(), t.output_units(), t.encode(np.array(['dog', 'cat'])).tolist()
    (['cat', 'dog'], 2, [1, 0])
    >>> t.decode(np.array([[0.9, 0.1], [0.2, 0.8]], dtype='float32')).tolist()
    ['cat', 'dog']
    """

    binary_ = False

    def fit(self, y):
        check_classification_targets(y)
        self.encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.encoder_.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"y has only one class ({self.classes_[:1].tolist()[0]!r}); a classifier needs at least 2 classes"
            )
        return self

    def output_units(self):
        return len(self.classes_)

    def default_nonlinearity(self, units):
        return nonlinearities.sigmoid if units == 1 else nonlinearities.softmax

    def default_loss(self):
        return objectives.binary_crossentropy if self.binary_ else objectives.categorical_crossentropy

    def _check(self, output_layer, default_loss):
        units = output_layer.output_shape[-1]
        n_classes = len(self.classes_)
        if units != n_classes and not (units == 1 and n_classes == 2):
            raise ValueError(
                f"The output layer has {units} units but y has {n_classes} classes; leave the last "
                "DenseLayer's num_units out to get one unit per class"
            )
        self.binary_ = units == 1
        nonlinearity = getattr(output_layer, "nonlinearity", _MISSING)
        wanted = self.default_nonlinearity(units)
        if default_loss and _explicitly_not(nonlinearity, wanted):
            loss = _name(self.default_loss())
            raise ValueError(
                f"The output layer {output_layer.name or type(output_layer).__name__!r} has nonlinearity "
                f"{_name(nonlinearity)}, but the default loss {loss} needs probabilities ({_name(wanted)} "
                f"over {units} unit{'s' if units > 1 else ''}). Leave 'nonlinearity' out of the output "
                f"layer's spec (a classifier then uses {_name(wanted)}), set it to {_name(wanted)}, or "
                "give an objective_loss_function that takes this output."
            )
        return self

    def target_var(self):
        if self.binary_:
            return T.matrix("y", dtype=FLOATX)
        return T.ivector("y")

    def encode(self, y):
        codes = self.encoder_.transform(y).astype(np.int32)
        return codes.astype(FLOATX)[:, None] if self.binary_ else codes

    def check_known(self, y):
        """Raise ValueError for labels never seen in fit."""
        unseen = np.setdiff1d(np.unique(np.asarray(y)), self.classes_)
        if len(unseen):
            raise ValueError(f"y contains previously unseen labels: {unseen[:10].tolist()}")

    def codes(self, encoded):
        """Integer class codes of encoded targets."""
        return encoded[:, 0].astype(np.int32) if self.binary_ else encoded

    def predicted_codes(self, output):
        """Integer class codes the network's output predicts."""
        return (output[:, 0] > 0.5).astype(np.int32) if self.binary_ else output.argmax(axis=1)

    def proba(self, output):
        """Class probabilities, one column per entry of ``classes_``."""
        return np.hstack([1.0 - output, output]) if self.binary_ else output

    def decode(self, output):
        return self.classes_[self.predicted_codes(output)]

    def labels(self, encoded):
        return self.classes_[self.codes(encoded)]


class RegressorTargets(Targets):
    """Float targets of shape (n,) or (n, k); one linear unit per target.

    Examples
    --------
    >>> t = RegressorTargets().fit(np.array([0.5, 1.5]))
    >>> t.output_units(), t.encode(np.array([0.5, 1.5])).shape
    (1, (2, 1))
    >>> t.decode(np.array([[2.0]], dtype='float32'))
    array([2.])
    """

    def fit(self, y):
        if not np.all(np.isfinite(y)):
            raise ValueError("Input y contains NaN or infinity.")
        self.ndim_ = np.ndim(y)
        self.n_outputs_ = 1 if self.ndim_ == 1 else np.shape(y)[1]
        return self

    def output_units(self):
        return self.n_outputs_

    def default_nonlinearity(self, units):
        return nonlinearities.identity

    def _check(self, output_layer, default_loss):
        units = output_layer.output_shape[-1]
        if units is not None and units != self.n_outputs_:
            raise ValueError(
                f"The output layer has {units} units but y has {self.n_outputs_} target"
                f"{'s' if self.n_outputs_ > 1 else ''}; leave the last DenseLayer's num_units out "
                "to get one unit per target"
            )
        return self

    def target_var(self):
        return T.matrix("y", dtype=FLOATX)

    def encode(self, y):
        y = np.asarray(y, dtype=FLOATX)
        return y[:, None] if y.ndim == 1 else y

    def decode(self, output):
        out = np.asarray(output, dtype=np.float64)
        if self.ndim_ == 1 and out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        return out

    labels = decode
