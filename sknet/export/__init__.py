"""Deploy a fitted net without a compiler: ONNX models and pure-numpy predictors.

- :func:`to_onnx` gives an ``onnx.ModelProto`` (needs the ``onnx`` package;
  ``onnxruntime`` for the numerical check) following skl2onnx's conventions.
- :func:`register_skl2onnx` (called on import when skl2onnx is installed)
  lets ``skl2onnx.to_onnx`` convert Pipelines that hold a net.
- :func:`to_numpy_predictor` gives a picklable object whose unpickling and use
  import numpy only.

Both exporters read the same lowered program (:mod:`sknet.export.lowering`);
a layer they cannot express is an :class:`ExportError` naming it.
"""

import warnings

import numpy as np

from .lowering import SUPPORTED_LAYERS, ExportError, lower_net
from .numpy_predictor import NumpyPredictor

__all__ = ["to_onnx", "to_numpy_predictor", "register_skl2onnx", "ExportError", "NumpyPredictor", "SUPPORTED_LAYERS"]


def _reference(net, X, kind):
    """The compiled net's numbers to compare with: probabilities or outputs."""
    if kind.startswith("proba"):
        return net.predict_proba(X)
    return net.predict(X)


def _max_abs_diff(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a.reshape(b.shape) - b))) if a.size else 0.0


def _warn_if_far(diff, what):
    if diff > 1e-4:
        warnings.warn(f"{what} differs from the compiled net by up to {diff:.3g}", RuntimeWarning, stacklevel=3)


def to_numpy_predictor(net, X_sample=None, batch_size=256):
    """A picklable predictor of ``net`` that needs numpy only.

    Parameters
    ----------
    net : NeuralNet
        A fitted net (``NeuralNetClassifier``, ``NeuralNetRegressor`` or
        ``NeuralNet``), evaluated as in deterministic mode (dropout and noise
        off, batch norm on its running averages).
    X_sample : array, optional
        Inputs to check the predictor on: the max abs difference from the
        compiled net's ``predict_proba`` (classifiers) or ``predict`` is
        stored as ``max_abs_diff_`` on the predictor (a warning above 1e-4).
    batch_size : int
        Examples the predictor evaluates at once.

    Returns
    -------
    NumpyPredictor
        With ``predict``, ``predict_proba`` (classifiers) and ``transform``.
        Pickles by value: unpickling imports numpy, not sknet or PyTensor.

    Raises
    ------
    ExportError
        Naming a layer (and its class) the predictor cannot express.

    Examples
    --------
    >>> import numpy as np, pickle
    >>> from sknet import NeuralNetClassifier
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> X = np.random.RandomState(0).rand(40, 3).astype('float32'); y = np.where(X[:, 0] > .5, 'hi', 'lo')
    >>> net = NeuralNetClassifier([(InputLayer, {}), (DenseLayer, {})], max_epochs=2,
    ...                           train_split=False, random_state=0).fit(X, y)
    >>> p = pickle.loads(pickle.dumps(to_numpy_predictor(net, X_sample=X)))
    >>> bool((p.predict(X) == net.predict(X)).all()), p.max_abs_diff_ < 1e-5
    (True, True)
    """
    lowered = lower_net(net)
    predictor = NumpyPredictor(
        lowered.program,
        lowered.input_shape,
        lowered.output,
        lowered.kind,
        classes=lowered.classes,
        transform_output=lowered.transform_output,
        batch_size=batch_size,
    )
    if X_sample is not None:
        X_sample = np.asarray(X_sample, dtype=np.float32)
        if lowered.kind.startswith("proba"):
            mine = predictor.predict_proba(X_sample)
        else:
            mine = predictor.predict(X_sample)
        predictor.max_abs_diff_ = _max_abs_diff(mine, _reference(net, X_sample, lowered.kind))
        _warn_if_far(predictor.max_abs_diff_, "the numpy predictor")
    return predictor


def to_onnx(net, X_sample=None, opset=None):
    """An ONNX model of a fitted net, in deterministic mode.

    Parameters
    ----------
    net : NeuralNet
        A fitted net with one input layer.
    X_sample : array, optional
        Inputs to check the model on with onnxruntime: the max abs
        difference from the compiled net's ``predict_proba`` (classifiers)
        or ``predict`` is stored in the model's metadata under
        ``'sknet_max_abs_diff'`` (and warned about above 1e-4).
    opset : int, optional
        Default-domain opset (13 or later); default 17.

    Returns
    -------
    onnx.ModelProto
        Input ``'X'`` (float32, batch axis free). Classifiers output
        ``'label'`` (int64 or string) and ``'probabilities'`` (float32, one
        column per class), as skl2onnx does with ``zipmap=False``;
        regressors and plain nets ``'variable'``.

    Raises
    ------
    ExportError
        Naming a layer (and its class) ONNX cannot express, before any model
        is made.

    Examples
    --------
    >>> import numpy as np, onnxruntime as ort
    >>> from sknet import NeuralNetClassifier
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> X = np.random.RandomState(0).rand(40, 3).astype('float32'); y = np.where(X[:, 0] > .5, 'hi', 'lo')
    >>> net = NeuralNetClassifier([(InputLayer, {}), (DenseLayer, {})], max_epochs=2,
    ...                           train_split=False, random_state=0).fit(X, y)
    >>> model = to_onnx(net, X_sample=X)
    >>> float({p.key: p.value for p in model.metadata_props}['sknet_max_abs_diff']) < 1e-5
    True
    >>> session = ort.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])
    >>> labels, proba = session.run(None, {'X': X})
    >>> bool((labels == net.predict(X)).all())
    True
    """
    import onnx
    from onnx import TensorProto, helper

    from .onnx_layers import MIN_OPSET, GraphBuilder, emit_outputs, emit_program

    opset = 17 if opset is None else int(opset)
    if opset < MIN_OPSET:
        raise ValueError(f"opset must be >= {MIN_OPSET}, got {opset}")
    lowered = lower_net(net)
    g = GraphBuilder(opset)
    names = emit_program(g, lowered, "X")
    classifier = lowered.kind.startswith("proba")
    out_names = ["label", "probabilities"] if classifier else ["variable"]
    emit_outputs(
        g, lowered, names[lowered.output], label_name=out_names[0], proba_name=out_names[1] if classifier else None
    )

    in_shape = ["N"] + [d if d is not None else f"d{k}" for k, d in enumerate(lowered.input_shape[1:], 1)]
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, in_shape)]
    if classifier:
        label_type = TensorProto.STRING if lowered.classes.dtype.kind in "OU" else TensorProto.INT64
        outputs = [
            helper.make_tensor_value_info("label", label_type, ["N"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", len(lowered.classes)]),
        ]
    else:
        shape = lowered.shapes[lowered.output]
        dims = ["N"] + [d if d is not None else f"o{k}" for k, d in enumerate(shape[1:], 1)]
        if lowered.kind == "regress_1d":
            dims = ["N"]
        outputs = [helper.make_tensor_value_info("variable", TensorProto.FLOAT, dims)]
    graph = helper.make_graph(g.nodes, "sknet", inputs, outputs, initializer=g.initializers)
    opsets = [helper.make_opsetid("", opset), helper.make_opsetid("ai.onnx.ml", 1)]
    model = helper.make_model(graph, producer_name="sknet", opset_imports=opsets)
    # the oldest IR that holds these opsets: runtimes lag behind onnx's newest
    model.ir_version = helper.find_min_ir_version_for(opsets)
    onnx.checker.check_model(model)
    if X_sample is not None:
        diff = _check_onnx(net, model, X_sample, lowered.kind)
        helper.set_model_props(model, {"sknet_max_abs_diff": repr(diff)})
        _warn_if_far(diff, "the ONNX model")
    return model


def _check_onnx(net, model, X_sample, kind):
    import onnxruntime as ort

    X_sample = np.asarray(X_sample, dtype=np.float32)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"X": X_sample})
    return _max_abs_diff(outputs[-1], _reference(net, X_sample, kind))


def register_skl2onnx():
    """Register sknet's estimators with skl2onnx (see :mod:`sknet.export.skl2onnx_converter`).

    Returns
    -------
    list of type

    Examples
    --------
    >>> from sknet import NeuralNetRegressor
    >>> NeuralNetRegressor in register_skl2onnx()
    True
    """
    from .skl2onnx_converter import register_skl2onnx as register

    return register()


try:  # converting Pipelines should need nothing but importing sknet.export
    import skl2onnx  # noqa: F401
except ImportError:  # pragma: no cover - skl2onnx is optional
    pass
else:
    register_skl2onnx()
