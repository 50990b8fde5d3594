"""Weights on disk and in memory: one atomic writer, ``.npz`` files that never run code.

A weights file holds one array per parameter, keyed ``"<layer name>:<index>"``.
"""

import os
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "atomic_write",
    "save_weights",
    "read_weights",
    "param_values",
    "load_weights",
    "matching_weights",
    "PersistenceMixin",
]


def atomic_write(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path``.

    A crash or Ctrl-C mid-write leaves any earlier ``path`` intact and no
    temporary file behind.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), 'note.txt')
    >>> atomic_write(path, lambda f: f.write(b'hello'))
    >>> open(path).read()
    'hello'
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def param_values(layers):
    """``{layer name: [param values]}`` (copies) of an ordered layer dict.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> l_in = InputLayer((None, 2), name='in'); l_out = DenseLayer(l_in, 3, name='out')
    >>> {k: [v.shape for v in vs] for k, vs in param_values({'in': l_in, 'out': l_out}).items()}
    {'in': [], 'out': [(2, 3), (3,)]}
    """
    return OrderedDict((name, [p.get_value() for p in layer.get_params()]) for name, layer in layers.items())


def save_weights(path, values):
    """Write ``{layer name: [arrays]}`` to an ``.npz`` file, atomically.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), 'w.npz')
    >>> save_weights(path, {'out': [np.ones(2)]})
    >>> read_weights(path)['out'][0].tolist()
    [1.0, 1.0]
    """
    arrays = {f"{name}:{i}": value for name, vals in values.items() for i, value in enumerate(vals)}
    atomic_write(path, lambda f: np.savez(f, **arrays))


def read_weights(path):
    """``{layer name: [arrays]}`` from an ``.npz`` file (read with ``allow_pickle=False``)."""
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise ValueError(f"Could not read weights from {path!r}: {exc}") from exc
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"Could not read weights from {path!r}: not an .npz archive (got a single array)")
    try:
        with data:
            raw = {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise ValueError(f"Could not read weights from {path!r}: {exc}") from exc
    source = {}
    for key, value in raw.items():
        name, _, index = key.rpartition(":")
        if not name or not index.isdigit():
            raise ValueError(f"Unexpected entry {key!r} in weights file {path!r}")
        source.setdefault(name, {})[int(index)] = value
    return {name: [d[i] for i in sorted(d)] for name, d in source.items()}


def _checked(name, param, value):
    value = np.asarray(value)
    current = param.get_value(borrow=True).shape
    if value.shape != current:
        raise ValueError(f"Layer {name!r}: parameter {param.name} has shape {current}, the weights give {value.shape}")
    if value.dtype.kind not in "biuf":
        raise ValueError(
            f"Layer {name!r}: parameter {param.name} must be numeric, the weights give dtype {value.dtype}"
        )
    if not np.all(np.isfinite(value)):
        raise ValueError(f"Layer {name!r}: parameter {param.name} has NaN or infinite weights")
    return value.astype(param.dtype)


def load_weights(layers, source):
    """Set the parameters of ``layers`` from ``{layer name: [arrays]}``, all or nothing.

    Names, counts, shapes and finiteness are checked for every layer before
    anything is set, so a mismatch loads nothing and says which layer differs.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> out = DenseLayer(InputLayer((None, 2)), 1, name='out')
    >>> load_weights({'out': out}, {'out': [np.ones((2, 1)), np.zeros(1)]})
    >>> out.W.get_value().ravel().tolist()
    [1.0, 1.0]
    >>> load_weights({'out': out}, {'out': [np.ones((3, 1)), np.zeros(1)]})
    Traceback (most recent call last):
    ...
    ValueError: Layer 'out': parameter out.W has shape (2, 1), the weights give (3, 1)
    """
    targets = []
    for name, layer in layers.items():
        params = layer.get_params()
        if not params:
            continue
        if name not in source:
            raise ValueError(f"The weights have nothing for layer {name!r} (have {sorted(source)})")
        values = source[name]
        if len(values) != len(params):
            raise ValueError(f"Layer {name!r} has {len(params)} parameters, the weights give {len(values)}")
        targets += [(param, _checked(name, param, value)) for param, value in zip(params, values)]
    extra = {n for n, v in source.items() if len(v)} - {n for n, layer in layers.items() if layer.get_params()}
    if extra:
        raise ValueError(f"The weights name layers this net does not have: {sorted(extra)}")
    previous = [param.get_value() for param, _ in targets]
    try:
        for param, value in targets:
            param.set_value(value)
    except BaseException:
        for (param, _), value in zip(targets, previous):
            param.set_value(value)
        raise


def matching_weights(layers, source):
    """Split ``{layer name: [arrays]}`` into what fits ``layers`` and what does not (for transfer learning).

    A layer fits when the net has a layer of that name with as many
    parameters, each of the same shape.

    Returns
    -------
    (dict, dict)
        The fitting part of ``source``, and ``{layer name: reason}`` for every
        other layer named on either side that has parameters.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> out = DenseLayer(InputLayer((None, 2)), 1, name='out')
    >>> fit, skipped = matching_weights({'out': out}, {'out': [np.ones((3, 1)), np.zeros(1)], 'old': [np.ones(1)]})
    >>> list(fit), skipped['out']
    ([], 'shapes differ: this net has [(2, 1), (1,)], the weights give [(3, 1), (1,)]')
    """
    fitting, skipped = OrderedDict(), OrderedDict()
    for name, values in source.items():
        layer = layers.get(name)
        if layer is None:
            if len(values):
                skipped[name] = "not a layer of this net"
            continue
        params = layer.get_params()
        shapes = [tuple(p.get_value(borrow=True).shape) for p in params]
        given = [tuple(np.shape(v)) for v in values]
        if shapes == given:
            if params:
                fitting[name] = values
        else:
            skipped[name] = f"shapes differ: this net has {shapes}, the weights give {given}"
    for name, layer in layers.items():
        if layer.get_params() and name not in source:
            skipped[name] = "the weights have nothing for it (left as it was)"
    return fitting, skipped


class PersistenceMixin:
    """Weights in and out of a fitted net, and pickling that keeps data, not graphs.

    A pickled net holds its parameters, its spec and the values of its
    injected hyper-parameters; the layers are rebuilt from the spec and the
    compiled functions on first use, in whatever compile mode the
    unpickling process has.

    Examples
    --------
    >>> import pickle
    >>> from sknet import NeuralNet
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> net = NeuralNet([(InputLayer, {'shape': (None, 2)}), (DenseLayer, {'num_units': 1})]).initialize()
    >>> copy = pickle.loads(pickle.dumps(net))
    >>> np.array_equal(copy.get_all_params_values()['dense1'][0], net.get_all_params_values()['dense1'][0])
    True
    """

    _TRANSIENT = ("_functions", "hyperparameters_", "_cache", "layers_", "_inputs")

    def get_all_params_values(self):
        """``{layer name: [param values]}`` (copies)."""
        check_is_fitted(self)
        return param_values(self.layers_)

    def get_all_layers(self):
        """The built layers, in topological order (a list, as nolearn's).

        Examples
        --------
        >>> from sknet import NeuralNet
        >>> from sknet.layers import InputLayer, DenseLayer
        >>> net = NeuralNet([(InputLayer, {'shape': (None, 2)}), (DenseLayer, {'num_units': 1})]).initialize()
        >>> [type(layer).__name__ for layer in net.get_all_layers()]
        ['InputLayer', 'DenseLayer']
        """
        check_is_fitted(self)
        return list(self.layers_.values())

    def get_all_params(self, **tags):
        """The parameters (shared variables) of every layer, each once; ``tags`` filter (``trainable=True``).

        Examples
        --------
        >>> from sknet import NeuralNet
        >>> from sknet.layers import InputLayer, DenseLayer
        >>> net = NeuralNet([(InputLayer, {'shape': (None, 2)}), (DenseLayer, {'num_units': 1})]).initialize()
        >>> [p.name for p in net.get_all_params(regularizable=True)]
        ['dense1.W']
        """
        check_is_fitted(self)
        seen = OrderedDict()
        for layer in self.layers_.values():
            for param in layer.get_params(**tags):
                seen.setdefault(id(param), param)
        return list(seen.values())

    def save_params_to(self, path):
        """Write the weights to an ``.npz`` file (atomically: temp file + rename)."""
        save_weights(path, self.get_all_params_values())

    save_params = save_params_to

    def load_params_from(self, source, strict=True):
        """Load weights from an ``.npz`` path, a dict ``{layer: [arrays]}`` or another net; returns self.

        An unfitted net builds its layers first (:meth:`initialize` without
        data), which needs the InputLayer's ``shape`` and the output size in
        the spec. Files are read with ``allow_pickle=False``.

        Parameters
        ----------
        source : str, path, dict or NeuralNet
        strict : bool
            True (default): names, counts and shapes are checked for every
            layer before anything is set, so a mismatch loads nothing and
            raises ValueError. False (nolearn's behaviour, for transfer
            learning): load every layer whose name and shapes match, skip
            the others (each named in a message at ``verbose >= 1``); it
            still raises if no layer matches at all.
        """
        if not self.__sklearn_is_fitted__():
            try:
                self.initialize()
            except ValueError as exc:
                raise ValueError(
                    f"load_params_from on an unfitted net builds its layers from the spec first, "
                    f"which failed: {exc}. Give the InputLayer a shape and the output layer its "
                    "size, or call it after fit / initialize(X, y)"
                ) from exc
        if isinstance(source, PersistenceMixin):
            source = source.get_all_params_values()
        if not isinstance(source, dict):
            source = read_weights(source)
        if not strict:
            source, skipped = matching_weights(self.layers_, source)
            if not source:
                raise ValueError(f"No layer of the weights matches this net by name and shapes: {dict(skipped)}")
            if getattr(self, "verbose", 0) >= 1:
                for name, reason in skipped.items():
                    print(f"load_params_from: skipped layer {name!r} ({reason})")
                print(f"load_params_from: loaded layers {list(source)}")
            layers = OrderedDict((name, self.layers_[name]) for name in source)
            load_weights(layers, source)
            return self
        load_weights(self.layers_, source)
        return self

    load_params = load_params_from

    def to_numpy_predictor(self, X_sample=None):
        """A picklable predictor of this fitted net that needs only numpy (see :mod:`sknet.export`).

        Examples
        --------
        >>> from sknet import NeuralNetRegressor
        >>> from sknet.layers import InputLayer, DenseLayer
        >>> X = np.linspace(-1, 1, 32)[:, None]
        >>> net = NeuralNetRegressor([(InputLayer, {}), (DenseLayer, {})], max_epochs=2, random_state=0).fit(X, X[:, 0])
        >>> predictor = net.to_numpy_predictor(X_sample=X)
        >>> bool(np.allclose(predictor.predict(X), net.predict(X), atol=1e-5))
        True
        """
        from .export import to_numpy_predictor

        return to_numpy_predictor(self, X_sample)

    def __getstate__(self):
        state = {k: v for k, v in self.__dict__.items() if k not in self._TRANSIENT}
        if self.__sklearn_is_fitted__():
            state["_param_values"] = self.get_all_params_values()
            state["_hyper_values"] = self._hyperparameters().values()
        return state

    def __setstate__(self, state):
        values = state.pop("_param_values", None)
        hyper_values = state.pop("_hyper_values", None)
        self.__dict__.update(state)
        self._invalidate()
        if values is not None:
            self.initialize_layers()
            self.load_params_from(values)
            for key, value in (hyper_values or {}).items():
                self._hyperparameters().set(key, value)
