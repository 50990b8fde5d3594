"""From a layer spec to compiled functions: pure functions, no estimator state.

``build_layers`` turns any of the four spec forms into an ordered dict of
layers; ``build_loss`` and ``compile_*`` turn layers into PyTensor functions.
"""

import copy
import inspect
from contextlib import contextmanager

import numpy as np
import pytensor

from . import function_cache
from . import random as sknet_random
from .backend import FLOATX
from .function_cache import cache_info, compile_count
from .layer_spec import Layers, grad_scale, resolve_layer_class, resolve_references
from .layers import (
    DenseLayer,
    InputLayer,
    Layer,
    MergeLayer,
    get_all_layers,
    get_all_params,
    get_output,
)

__all__ = [
    "Layers",
    "grad_scale",
    "resolve_layer_class",
    "default_layer_name",
    "spec_form",
    "spec_layer_names",
    "build_layers",
    "input_layers",
    "seeded",
    "build_loss",
    "compile_train",
    "compile_valid",
    "compile_predict",
    "names_output_nonlinearity",
    "spec_input_names",
    "input_shapes_of",
    "layer_name",
    "compile_count",
    "cache_info",
]


def default_layer_name(factory, index):
    """The default name of the ``index``-th layer made by ``factory``.

    Examples
    --------
    >>> default_layer_name(DenseLayer, 1)
    'dense1'
    """
    base = getattr(factory, "__name__", type(factory).__name__).lower()
    return base.replace("layer", "") + str(index)


def spec_form(spec):
    """Which of the four ``layers`` forms ``spec`` is.

    Returns
    -------
    str
        ``'class_kwargs'``, ``'name_class'``, ``'layer'`` or ``'callable'``.

    Examples
    --------
    >>> spec_form([('input', InputLayer), ('out', DenseLayer)])
    'name_class'
    >>> spec_form([(InputLayer, {'shape': (None, 2)})])
    'class_kwargs'
    """
    if isinstance(spec, Layer):
        return "layer"
    if isinstance(spec, (list, tuple)) and spec:
        first = spec[0]
        if isinstance(first, (list, tuple)) and len(first) == 2:
            if (callable(first[0]) or isinstance(first[0], str)) and isinstance(first[1], dict):
                return "class_kwargs"
            if isinstance(first[0], str):
                return "name_class"
    elif callable(spec):
        return "callable"
    raise ValueError(
        "layers must be a list of (LayerClass, kwargs), a list of (name, LayerClass), "
        f"an output Layer or a callable returning one; got {spec!r}"
    )


def _named_layers(output_layer):
    names = Layers()
    for i, layer in enumerate(get_all_layers(output_layer)):
        name = layer.name or default_layer_name(type(layer), i)
        if name in names:
            name = f"{name}_{i}"
        names[name] = layer
    return names


def spec_layer_names(spec):
    """Layer names a spec defines, without building anything (None if unknown).

    Examples
    --------
    >>> spec_layer_names([(InputLayer, {}), (DenseLayer, {'name': 'out'})])
    ['input0', 'out']
    """
    form = spec_form(spec)
    if form == "class_kwargs":
        return [kw.get("name", default_layer_name(resolve_layer_class(f), i)) for i, (f, kw) in enumerate(spec)]
    if form == "name_class":
        return [name for name, _ in spec]
    if form == "layer":
        return list(_named_layers(spec))
    return None


def _is_input(factory):
    factory = resolve_layer_class(factory)
    return isinstance(factory, type) and issubclass(factory, InputLayer)


def _is_merge(factory):
    """A layer class taking a list of ``incomings`` (not a chained ``incoming``).

    Recurrent layers are MergeLayers (masks and initial states are extra
    incomings) but take one ``incoming`` first, so they chain like any layer.
    """
    if not (isinstance(factory, type) and issubclass(factory, MergeLayer)):
        return False
    params = list(inspect.signature(factory.__init__).parameters)
    return len(params) > 1 and params[1] == "incomings"


def build_layers(spec, layer_params=None, callable_params=None, input_shapes=None, output_units=None):
    """Build the layers of a spec.

    Parameters
    ----------
    spec : list, Layer or callable
        One of the four forms of the estimator's ``layers`` argument.
    layer_params : dict, optional
        ``{layer_name: {param: value}}`` from ``name__param`` routing.
    callable_params : dict, optional
        Keyword arguments for a callable spec (``layers__*`` routing).
    input_shapes : dict, optional
        ``{input_layer_name: shape}`` for InputLayers given without ``shape``
        (the key None stands for any input layer).
    output_units : int, optional
        For a last DenseLayer given without ``num_units``.

    Returns
    -------
    OrderedDict
        ``{name: layer}`` in topological order; the last is the output layer.

    Examples
    --------
    >>> layers = build_layers([(InputLayer, {}), (DenseLayer, {})],
    ...                       input_shapes={'input0': (None, 3)}, output_units=2)
    >>> {name: l.output_shape for name, l in layers.items()}
    {'input0': (None, 3), 'dense1': (None, 2)}
    """
    layer_params = layer_params or {}
    input_shapes = input_shapes or {}
    form = spec_form(spec)
    if form == "layer":
        # A copy, so every fit starts from the network as the user gave it.
        return _named_layers(copy.deepcopy(spec))
    if form == "callable":
        out = spec(**(callable_params or {}))
        if not isinstance(out, Layer):
            raise ValueError(f"The layers callable returned {type(out).__name__}, not a Layer")
        return _named_layers(out)

    unknown = set(layer_params) - set(spec_layer_names(spec))
    if unknown:
        raise ValueError(f"Parameters routed to unknown layers: {sorted(unknown)}")
    layers = Layers()
    last = None
    for index, item in enumerate(spec):
        if form == "class_kwargs":
            factory, kwargs = resolve_layer_class(item[0]), dict(item[1])
            name = kwargs.pop("name", default_layer_name(factory, index))
        else:
            name, factory = item[0], resolve_layer_class(item[1])
            kwargs = {}
        if name in layers:
            raise ValueError(f"Two layers are named {name!r}; layer names must be unique")
        kwargs.update(layer_params.get(name, {}))
        wrapper = kwargs.pop("layer_wrapper", None)
        if index == len(spec) - 1 and isinstance(factory, type) and issubclass(factory, DenseLayer):
            if "num_units" not in kwargs and output_units is not None:
                kwargs["num_units"] = output_units
        try:
            resolve_references(kwargs, layers)
            if _is_input(factory):
                if "shape" not in kwargs:
                    if name not in input_shapes and None in input_shapes:
                        input_shapes = {**input_shapes, name: input_shapes[None]}
                    if name not in input_shapes:
                        raise ValueError(
                            f"Input layer {name!r} has no shape and none can be inferred "
                            "from the data; give it a shape or fit with data"
                        )
                    kwargs["shape"] = input_shapes[name]
                layer = factory(name=name, **kwargs)
            else:
                if "incomings" in kwargs:
                    incoming = [layers[n] if isinstance(n, str) else n for n in kwargs.pop("incomings")]
                elif "incoming" in kwargs:
                    incoming = kwargs.pop("incoming")
                    incoming = layers[incoming] if isinstance(incoming, str) else incoming
                elif _is_merge(factory):
                    raise ValueError(f"Merge layer {name!r} needs 'incomings' (layer names)")
                else:
                    if last is None:
                        raise ValueError(f"Layer {name!r} has no incoming layer; start with an InputLayer")
                    incoming = last
                layer = factory(incoming, name=name, **kwargs)
        except KeyError as exc:
            raise ValueError(f"Layer {name!r} refers to unknown layer {exc.args[0]!r}") from None
        except TypeError as exc:
            raise ValueError(
                f"Could not build layer {name!r} ({getattr(factory, '__name__', factory)}): {exc}"
            ) from exc
        layers[name] = layer
        if wrapper is not None:
            # nolearn's convention: the wrapped layer is kept as LW_<name> and feeds the next layer.
            layer = wrapper(layer)
            if layer is not layers[name]:
                layers[f"LW_{name}"] = layer
        last = layer
    return layers


def names_output_nonlinearity(spec, layer_params=None):
    """Whether a list spec names its output layer's nonlinearity (None for a prebuilt or callable spec).

    Examples
    --------
    >>> names_output_nonlinearity([(InputLayer, {}), (DenseLayer, {'num_units': 3})])
    False
    >>> names_output_nonlinearity([('in', InputLayer), ('out', DenseLayer)], {'out': {'nonlinearity': None}})
    True
    """
    form = spec_form(spec)
    if form not in ("class_kwargs", "name_class"):
        return None
    name = spec_layer_names(spec)[-1]
    given = dict(spec[-1][1]) if form == "class_kwargs" else {}
    given.update((layer_params or {}).get(name, {}))
    return "nonlinearity" in given


def spec_input_names(spec):
    """Names of the input layers of a list spec (None for a prebuilt or callable spec).

    Examples
    --------
    >>> spec_input_names([(InputLayer, {'name': 'pixels'}), (DenseLayer, {})])
    ['pixels']
    """
    try:
        form = spec_form(spec)
    except ValueError:
        return None
    if form not in ("class_kwargs", "name_class"):
        return None
    factories = [item[0] if form == "class_kwargs" else item[1] for item in spec]
    return [name for name, factory in zip(spec_layer_names(spec), factories) if _is_input(factory)]


def input_shapes_of(X):
    """``{input name: shape}`` that InputLayers without ``shape`` take from data X (the key None: any).

    Examples
    --------
    >>> input_shapes_of(np.zeros((5, 3))), input_shapes_of({'a': np.zeros((5, 2, 2))}), input_shapes_of(None)
    ({None: (None, 3)}, {'a': (None, 2, 2)}, {})
    """
    if X is None:
        return {}
    if isinstance(X, dict):
        return {k: (None,) + np.shape(v)[1:] for k, v in X.items()}
    return {None: (None,) + np.shape(X)[1:]}


def layer_name(layers, layer):
    """The name of ``layer`` (a name or a Layer) in an ordered layer dict; unknown ones raise ValueError.

    Examples
    --------
    >>> ls = build_layers([(InputLayer, {'shape': (None, 2)}), (DenseLayer, {'num_units': 1})])
    >>> layer_name(ls, ls['dense1']), layer_name(ls, 'dense1')
    ('dense1', 'dense1')
    >>> layer_name(ls, 'dens1')
    Traceback (most recent call last):
    ...
    ValueError: No layer named 'dens1'; did you mean 'dense1'?
    """
    if not isinstance(layer, str):
        names = [n for n, candidate in layers.items() if candidate is layer]
        if not names:
            raise ValueError(f"{layer!r} is not a layer of this net")
        return names[0]
    if layer not in layers:
        import difflib

        hint = difflib.get_close_matches(layer, list(layers), n=1)
        raise ValueError(f"No layer named {layer!r}" + (f"; did you mean {hint[0]!r}?" if hint else ""))
    return layer


def input_layers(layers):
    """The ``(name, InputLayer)`` pairs of an ordered layer dict.

    Examples
    --------
    >>> ls = build_layers([(InputLayer, {'shape': (None, 2)}), (DenseLayer, {'num_units': 1})])
    >>> [name for name, _ in input_layers(ls)]
    ['input0']
    """
    return [(name, layer) for name, layer in layers.items() if isinstance(layer, InputLayer)]


@contextmanager
def seeded(seed):
    """Build graphs with sknet's generator seeded by ``seed``, then restore it.

    Examples
    --------
    >>> from sknet.random import get_rng
    >>> with seeded(0):
    ...     a = get_rng().randint(100)
    >>> with seeded(0):
    ...     b = get_rng().randint(100)
    >>> a == b
    True
    """
    old = sknet_random.get_rng()
    sknet_random.set_rng(np.random.RandomState(seed))
    try:
        with pytensor.config.change_flags(floatX=FLOATX):
            yield
    finally:
        sknet_random.set_rng(old)


def _broadcast_weights(weights, loss):
    if weights is None or loss.ndim <= 1:
        return weights
    return weights.dimshuffle([0] + ["x"] * (loss.ndim - 1))


def build_loss(
    output_layer, target, loss_function, weights=None, deterministic=False, l1=None, l2=None, loss_kwargs=None
):
    """The scalar training or validation loss of a network, and its predictions.

    Parameters
    ----------
    output_layer : Layer
    target : PyTensor variable
    loss_function : callable
        ``loss_function(predictions, target, **loss_kwargs)``, elementwise.
    weights : PyTensor vector, optional
        Per-sample weights; the loss is then ``sum(w * l) / sum(w)``.
    deterministic : bool
    l1, l2 : scalar expressions, optional
        Penalty weights on the regularizable parameters.

    Returns
    -------
    (loss, predictions)

    Examples
    --------
    >>> from sknet.objectives import squared_error
    >>> ls = build_layers([(InputLayer, {'shape': (None, 2)}), (DenseLayer, {'num_units': 1})])
    >>> loss, pred = build_loss(ls['dense1'], T.matrix('y'), squared_error)
    >>> loss.ndim, pred.ndim
    (0, 2)
    """
    from .objectives import aggregate
    from .regularization import l1 as l1_penalty
    from .regularization import l2 as l2_penalty
    from .regularization import regularize_network_params

    if hasattr(loss_function, "build_loss"):  # a whole objective (sknet.nolearn_options.Objective)
        return loss_function.build_loss(output_layer, target, weights, deterministic, l1, l2, loss_kwargs)
    predictions = get_output(output_layer, deterministic=deterministic)
    elementwise = loss_function(predictions, target, **(loss_kwargs or {}))
    if weights is None:
        loss = aggregate(elementwise, mode="mean")
    else:
        loss = aggregate(elementwise, _broadcast_weights(weights, elementwise), mode="normalized_sum")
    if l1 is not None:
        loss = loss + l1 * regularize_network_params(output_layer, l1_penalty)
    if l2 is not None:
        loss = loss + l2 * regularize_network_params(output_layer, l2_penalty)
    return loss, predictions


def _function(inputs, outputs, mode, updates=None, layers=None):
    # Identical graphs (clones differing only in shared values) compile once.
    shapes = [layer.shape for _, layer in input_layers(layers)] if layers is not None else None
    return function_cache.function(inputs, outputs, mode=mode, updates=updates, input_shapes=shapes)


def compile_train(
    layers,
    target,
    loss_function,
    update,
    update_params,
    weights=None,
    l1=None,
    l2=None,
    loss_kwargs=None,
    mode=None,
    return_output=False,
):
    """Compile ``train(*inputs, y[, w]) -> loss`` that also applies the updates.

    With ``return_output`` it returns ``[loss, output]``: the network's
    training-mode output on the batch (what the loss saw), so scorers of the
    training batches need no second forward pass.

    Returns
    -------
    (function, updates)
        ``updates`` is the ordered dict the update rule returned (its keys are
        every shared variable the function changes: parameters and optimizer
        state).

    Examples
    --------
    >>> from sknet.objectives import squared_error
    >>> from sknet.updates import sgd
    >>> layers = build_layers([(InputLayer, {'shape': (None, 2)}),
    ...                        (DenseLayer, {'num_units': 1, 'nonlinearity': None})])
    >>> train, updates = compile_train(layers, T.matrix('y'), squared_error, sgd,
    ...                                {'learning_rate': 0.1})
    >>> x = np.ones((4, 2), 'float32'); y = np.zeros((4, 1), 'float32')
    >>> bool(train(x, y) >= train(x, y))  # the loss falls step by step
    True
    """
    output_layer = next(reversed(layers.values()))
    loss, predictions = build_loss(output_layer, target, loss_function, weights, False, l1, l2, loss_kwargs)
    params = get_all_params(output_layer, trainable=True)
    scales = [getattr(p.tag, "grad_scale", 1) for p in params]
    if any(scale != 1 for scale in scales):
        grads = [g * s if s != 1 else g for g, s in zip(pytensor.grad(loss, params), scales)]
        updates = update(grads, params, **update_params)
    else:
        updates = update(loss, params, **update_params)
    inputs = [layer.input_var for _, layer in input_layers(layers)] + [target]
    if weights is not None:
        inputs.append(weights)
    outputs = [loss, predictions] if return_output else loss
    return _function(inputs, outputs, mode, updates=updates, layers=layers), updates


def compile_valid(layers, target, loss_function, l1=None, l2=None, loss_kwargs=None, mode=None, weights=None):
    """Compile ``valid(*inputs, y[, w]) -> (loss, predictions)``, deterministic.

    With ``weights`` (a PyTensor vector) the loss is ``sum(w * l) / sum(w)``.

    Examples
    --------
    >>> from sknet.objectives import squared_error
    >>> layers = build_layers([(InputLayer, {'shape': (None, 2)}),
    ...                        (DenseLayer, {'num_units': 1, 'nonlinearity': None,
    ...                                      'W': np.ones((2, 1), 'float32')})])
    >>> valid = compile_valid(layers, T.matrix('y'), squared_error)
    >>> loss, pred = valid(np.ones((3, 2), 'float32'), np.zeros((3, 1), 'float32'))
    >>> float(loss), pred.ravel().tolist()
    (4.0, [2.0, 2.0, 2.0])
    """
    output_layer = next(reversed(layers.values()))
    loss, predictions = build_loss(output_layer, target, loss_function, weights, True, l1, l2, loss_kwargs)
    inputs = [layer.input_var for _, layer in input_layers(layers)] + [target]
    if weights is not None:
        inputs.append(weights)
    return _function(inputs, [loss, predictions], mode, layers=layers)


def compile_predict(layers, layer=None, mode=None):
    """Compile ``predict(*inputs) -> output of layer`` (default: the output layer), deterministic.

    Examples
    --------
    >>> layers = build_layers([(InputLayer, {'shape': (None, 2)}),
    ...                        (DenseLayer, {'num_units': 1, 'nonlinearity': None,
    ...                                      'W': np.ones((2, 1), 'float32')})])
    >>> compile_predict(layers)(np.array([[1, 2]], 'float32')).tolist()
    [[3.0]]
    """
    if layer is None:
        layer = next(reversed(layers.values()))
    output = get_output(layer, deterministic=True)
    inputs = [l.input_var for _, l in input_layers(layers)]
    return _function(inputs, output, mode, layers=layers)
