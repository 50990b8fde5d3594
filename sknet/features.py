"""A fitted net's outputs: its forward pass, any layer's activations, ``transform`` and logits.

:class:`OutputsMixin` runs the compiled predict functions batch by batch
(``get_output`` for any layer) and lets an epoch's own outputs stand in for a
forward pass (``cached_output``, what :class:`~sknet.callbacks.EpochScoring`
scores).

:class:`FeaturesMixin` gives every net scikit-learn's transformer face:
``transform(X)`` returns the activations of ``transform_layer`` as a float32
matrix, ``get_feature_names_out`` names its columns, and ``set_output``
(from :class:`~sklearn.base.TransformerMixin`) makes them a DataFrame.
:class:`LogitsMixin` gives the classifier ``decision_function``: the output
layer's values before its nonlinearity, shaped as scikit-learn expects.
"""

from contextlib import contextmanager

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_is_fitted

from . import compile as build
from .layers import Layer, MergeLayer, get_all_layers
from .multi_output import as_spec
from .nonlinearities import identity
from .training import input_arrays
from .validation import check_input_shapes, check_X

__all__ = ["OutputsMixin", "FeaturesMixin", "LogitsMixin", "transform_layer_name"]


def transform_layer_name(net):
    """The name of the layer ``net.transform_layer`` stands for in ``net.layers_``.

    None means the output layer's incoming layer; a name must be one of
    ``layers_``; a Layer may be one of ``layers_`` or, for a prebuilt
    network, a layer of ``net.layers`` (the net works on a copy of it).

    Examples
    --------
    >>> from sknet import NeuralNetRegressor
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> net = NeuralNetRegressor([(InputLayer, {'shape': (None, 3)}), (DenseLayer, {'num_units': 4}),
    ...                           (DenseLayer, {'num_units': 1})]).initialize()
    >>> transform_layer_name(net)
    'dense1'
    >>> transform_layer_name(net.set_params(transform_layer='dense3'))
    Traceback (most recent call last):
    ...
    ValueError: transform_layer: No layer named 'dense3'; did you mean 'dense2'?
    """
    layers, wanted = net.layers_, net.transform_layer
    if wanted is None:
        out = next(reversed(layers.values()))
        if isinstance(out, MergeLayer) or not hasattr(out, "input_layer"):
            raise ValueError(
                f"The output layer {type(out).__name__} has several incoming layers; "
                "name the one transform returns with transform_layer="
            )
        wanted = out.input_layer
    if isinstance(wanted, Layer) and all(layer is not wanted for layer in layers.values()):
        spec = as_spec(net.layers)
        if isinstance(spec, Layer):
            originals = get_all_layers(spec)
            names = build.spec_layer_names(spec)
            matches = [name for name, layer in zip(names, originals) if layer is wanted]
            wanted = matches[0] if matches else wanted
    try:
        return build.layer_name(layers, wanted)
    except ValueError as exc:
        raise ValueError(f"transform_layer: {exc}") from None


class OutputsMixin:
    """The forward pass of a fitted net, batch by batch, in deterministic mode.

    Examples
    --------
    >>> from sknet import NeuralNet
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> net = NeuralNet([(InputLayer, {'shape': (None, 3)}), (DenseLayer, {'num_units': 2})]).initialize()
    >>> net.predict(np.zeros((4, 3))).shape
    (4, 2)
    """

    @contextmanager
    def cached_output(self, X, output):
        """Within the block, predictions for the object ``X`` come from ``output`` (no forward pass).

        Scorers call ``predict``/``predict_proba``; :class:`~sknet.callbacks.EpochScoring`
        uses this to score the outputs an epoch already computed.

        Examples
        --------
        >>> from sknet import NeuralNet
        >>> from sknet.layers import InputLayer, DenseLayer
        >>> net = NeuralNet([(InputLayer, {'shape': (None, 1)}), (DenseLayer, {'num_units': 1})]).initialize()
        >>> X = np.zeros((2, 1))
        >>> with net.cached_output(X, np.array([[5.0], [6.0]])):
        ...     net.predict(X).ravel().tolist()
        [5.0, 6.0]
        """
        self._cache = (X, output)
        try:
            yield self
        finally:
            self._cache = None

    def _forward(self, X, kind="predict"):
        cache = getattr(self, "_cache", None)
        if kind == "predict" and cache is not None and cache[0] is X:
            return cache[1]
        check_is_fitted(self)
        X = check_X(self, X, reset=False, input_names=[n for n, _ in self._inputs])
        check_input_shapes(self._inputs, X)
        fn = self._fns().get(kind)
        return np.concatenate([fn(*input_arrays(self._inputs, Xb)) for Xb, _ in self.batch_iterator_test_(X)])

    def get_output(self, layer, X):
        """Activations of ``layer`` (a name or the Layer itself) for X, as numpy.

        Examples
        --------
        >>> from sknet import NeuralNet
        >>> from sknet.layers import InputLayer, DenseLayer
        >>> net = NeuralNet([(InputLayer, {'shape': (None, 3)}), (DenseLayer, {'num_units': 2})]).initialize()
        >>> net.get_output('dense1', np.zeros((4, 3))).shape
        (4, 2)
        """
        check_is_fitted(self)
        return self._forward(X, kind=("output", build.layer_name(self.layers_, layer)))


class FeaturesMixin(TransformerMixin):
    """``transform``, ``get_feature_names_out`` and ``set_output`` for a net.

    ``transform(X)`` is deterministic (dropout off) and returns float32 of
    shape ``(n_samples, n_features)``: the activations of ``transform_layer``
    with every axis after the first flattened (a conv layer's
    ``(channels, rows, cols)`` maps become ``channels * rows * cols``
    columns, channel first). ``fit_transform(X, y)`` fits, then transforms X.

    Examples
    --------
    >>> from sknet import NeuralNetClassifier
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> X = np.random.RandomState(0).rand(40, 3); y = (X[:, 0] > 0.5).astype(int)
    >>> net = NeuralNetClassifier([(InputLayer, {}), (DenseLayer, {'num_units': 4}), (DenseLayer, {})],
    ...                           max_epochs=2, train_split=False, random_state=0).fit(X, y)
    >>> net.transform(X).shape, net.transform(X).dtype.name
    ((40, 4), 'float32')
    >>> net.get_feature_names_out().tolist()
    ['dense1_0', 'dense1_1', 'dense1_2', 'dense1_3']
    """

    def transform(self, X):
        """Activations of ``transform_layer`` for X: float32, one row per sample, flattened.

        Parameters
        ----------
        X : array, DataFrame or dict of arrays

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        out = self.get_output(transform_layer_name(self), X)
        return np.asarray(out, dtype=np.float32).reshape(len(out), -1)

    def get_feature_names_out(self, input_features=None):
        """Column names of :meth:`transform`: ``<layer name>_<index>``.

        ``input_features`` is accepted for scikit-learn's protocol; the names
        do not depend on it, but a list of the wrong length raises.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        n_in = getattr(self, "n_features_in_", None)
        if input_features is not None and n_in is not None and len(input_features) != n_in:
            raise ValueError(
                f"input_features has {len(input_features)} names, but the net was fitted on {n_in} features"
            )
        name = transform_layer_name(self)
        shape = self.layers_[name].output_shape[1:]
        if any(size is None for size in shape):
            raise ValueError(
                f"The layer {name!r} has output shape {self.layers_[name].output_shape}: "
                "its number of features is not fixed, so the columns cannot be named"
            )
        size = int(np.prod(shape, dtype=np.int64))
        return np.asarray([f"{name}_{i}" for i in range(size)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


@contextmanager
def _without_nonlinearity(layer):
    """Build graphs with ``layer``'s nonlinearity replaced by the identity, then put it back."""
    saved = layer.nonlinearity
    layer.nonlinearity = identity
    try:
        yield saved
    finally:
        layer.nonlinearity = saved


class LogitsMixin:
    """``decision_function`` for a classifier: the output layer's values before its nonlinearity.

    For a softmax output over three or more classes the result has one
    column per entry of ``classes_``; for a binary problem it is 1-D, the
    score of ``classes_[1]``: the logit of a 1-unit sigmoid output, or the
    difference of the two logits of a 2-unit softmax (both give
    ``predict_proba[:, 1] == sigmoid(decision_function)``). Positive values
    predict ``classes_[1]``. Works on any output layer with a
    ``nonlinearity`` attribute (DenseLayer, conv layers, NonlinearityLayer ...).

    Examples
    --------
    >>> from sknet import NeuralNetClassifier
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> X = np.random.RandomState(0).rand(40, 3); y = np.where(X[:, 0] > 0.5, 'yes', 'no')
    >>> net = NeuralNetClassifier([(InputLayer, {}), (DenseLayer, {})], max_epochs=2,
    ...                           train_split=False, random_state=0).fit(X, y)
    >>> scores = net.decision_function(X)
    >>> scores.shape, bool(np.all((scores > 0) == (net.predict(X) == 'yes')))
    ((40,), True)
    """

    def decision_function(self, X):
        """Logits for X (float32): ``(n_samples,)`` for two classes, else ``(n_samples, n_classes)``.

        X is what :meth:`predict` takes: an array, a DataFrame or a dict of
        arrays (one per input layer).
        """
        check_is_fitted(self)
        out = next(reversed(self.layers_.values()))
        if not hasattr(out, "nonlinearity"):
            raise ValueError(
                f"decision_function needs an output layer with a nonlinearity; {type(out).__name__} has none"
            )
        X = check_X(self, X, reset=False, input_names=[n for n, _ in self._inputs])
        check_input_shapes(self._inputs, X)
        fns = self._fns()
        key = ("logits", False)
        if key not in fns:
            with _without_nonlinearity(out):
                fns.functions[key] = build.compile_predict(self.layers_, mode=self.mode)
        fn = fns.functions[key]
        logits = np.concatenate([fn(*input_arrays(self._inputs, Xb)) for Xb, _ in self.batch_iterator_test_(X)])
        logits = logits.reshape(len(logits), -1)
        if logits.shape[1] == 1:
            return logits[:, 0]
        if logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits
