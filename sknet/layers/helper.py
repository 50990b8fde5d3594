"""Functions over whole networks: walk the graph, build outputs, manage params."""

from collections import deque
from warnings import warn

import numpy as np

from .. import utils
from .base import Layer
from .input import InputLayer

__all__ = [
    "get_all_layers",
    "get_output",
    "get_output_shape",
    "get_all_params",
    "count_params",
    "get_all_param_values",
    "set_all_param_values",
]


def _incoming_layers(layer):
    # by attribute, as Lasagne does: an InputLayer has neither, and a None
    # (an incoming given as a shape) is skipped by the walk
    if hasattr(layer, "input_layers"):
        return list(layer.input_layers)
    if hasattr(layer, "input_layer"):
        return [layer.input_layer]
    return []


def get_all_layers(layer, treat_as_input=None):
    """Return every layer below ``layer`` (itself included) in topological order.

    The walk is iterative, so arbitrarily deep networks do not hit Python's
    recursion limit. Each layer comes after all the layers it depends on.

    Parameters
    ----------
    layer : Layer or list of Layer
        The output layer(s).
    treat_as_input : list of Layer, optional
        Layers whose inputs are not followed.

    Returns
    -------
    list of Layer

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> l_in = InputLayer((None, 10))
    >>> l1 = DenseLayer(l_in, num_units=5)
    >>> get_all_layers(l1) == [l_in, l1]
    True
    """
    try:
        queue = deque(layer)
    except TypeError:
        queue = deque([layer])
    seen = set()
    done = set()
    result = []
    if treat_as_input is not None:
        seen.update(treat_as_input)
    while queue:
        layer = queue[0]
        if layer is None:
            queue.popleft()
        elif layer not in seen:
            if layer not in done:
                # first visit: push the incoming layers in front, keep this one
                children = _incoming_layers(layer)
                queue.extendleft(reversed(children))
            seen.add(layer)
        else:
            queue.popleft()
            if layer not in done:
                result.append(layer)
                done.add(layer)
    return result


def _layer_inputs(layer, all_outputs):
    # an incoming given as a shape is None: its expression is inputs[None]
    if hasattr(layer, "input_layers"):
        return [all_outputs[l] for l in layer.input_layers]
    return all_outputs[layer.input_layer]


def get_output(layer_or_layers, inputs=None, **kwargs):
    """Return the symbolic output expression(s) of a network.

    Parameters
    ----------
    layer_or_layers : Layer or list of Layer
    inputs : None, expression, array or dict, optional
        None uses each InputLayer's ``input_var``. A single expression (or
        array) feeds the network's only InputLayer. A dict maps layers
        (InputLayers or any other, to cut the graph there) to expressions;
        the key None stands for the incomings given as shapes.
    **kwargs
        Passed to every layer's ``get_output_for``; ``deterministic=True``
        switches dropout and noise off and batch norm to its running averages.

    Returns
    -------
    expression or list of expressions

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer, DropoutLayer
    >>> l_in = InputLayer((None, 4))
    >>> l_out = DenseLayer(DropoutLayer(l_in, p=0.5), num_units=2)
    >>> y = get_output(l_out, deterministic=True)
    >>> y.ndim
    2
    """
    from .input import InputLayer as _InputLayer

    if isinstance(inputs, dict):
        for key in inputs:
            if key is not None and not isinstance(key, Layer):
                raise TypeError(
                    f"The inputs dictionary keys must be layers (or None for incomings "
                    f"given as shapes), not {type(key).__name__}"
                )
    accepted_kwargs = {"deterministic"}
    treat_as_input = inputs.keys() if isinstance(inputs, dict) else []
    all_layers = get_all_layers(layer_or_layers, treat_as_input)
    all_outputs = {
        layer: layer.input_var for layer in all_layers if isinstance(layer, _InputLayer) and layer not in treat_as_input
    }
    if isinstance(inputs, dict):
        all_outputs.update((layer, utils.as_tensor_expression(expr)) for layer, expr in inputs.items())
    elif inputs is not None:
        if len(all_outputs) > 1:
            raise ValueError(
                "get_output() was called with a single input expression on a network "
                "with multiple input layers. Please call it with a dictionary of input "
                "expressions instead."
            )
        for input_layer in all_outputs:
            all_outputs[input_layer] = utils.as_tensor_expression(inputs)

    for layer in all_layers:
        if layer in all_outputs:
            continue
        try:
            layer_inputs = _layer_inputs(layer, all_outputs)
        except KeyError as exc:
            raise ValueError(
                f"get_output() was called without giving an input expression for the "
                f"free-floating layer {layer!r}. Please call it with a dictionary "
                "mapping this layer to an input expression."
            ) from exc
        all_outputs[layer] = layer.get_output_for(layer_inputs, **kwargs)
        try:
            accepted_kwargs |= set(utils.inspect_kwargs(layer.get_output_for))
        except (TypeError, ValueError):
            pass  # not introspectable
        try:
            accepted_kwargs |= set(layer.get_output_kwargs)
        except TypeError:
            pass

    unused = set(kwargs) - accepted_kwargs
    if unused:
        suggestions = []
        for kwarg in unused:
            import difflib

            close = difflib.get_close_matches(kwarg, accepted_kwargs, n=1)
            if close:
                suggestions.append(f"{kwarg} (perhaps you meant {close[0]})")
            else:
                suggestions.append(kwarg)
        warn("get_output() was called with unused kwargs:\n\t" + "\n\t".join(suggestions), stacklevel=2)

    try:
        return [all_outputs[layer] for layer in layer_or_layers]
    except TypeError:
        return all_outputs[layer_or_layers]


def get_output_shape(layer_or_layers, input_shapes=None):
    """Return the output shape(s) of a network, optionally for other input shapes.

    Parameters
    ----------
    layer_or_layers : Layer or list of Layer
    input_shapes : None, tuple or dict, optional
        As ``inputs`` in :func:`get_output`, but shapes.

    Returns
    -------
    tuple or list of tuples

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> l = DenseLayer(InputLayer((None, 4)), num_units=3)
    >>> get_output_shape(l, (7, 4))
    (7, 3)
    """
    if input_shapes is None or input_shapes == {}:
        try:
            return [layer.output_shape for layer in layer_or_layers]
        except TypeError:
            return layer_or_layers.output_shape

    treat_as_input = input_shapes.keys() if isinstance(input_shapes, dict) else []
    all_layers = get_all_layers(layer_or_layers, treat_as_input)
    all_shapes = {
        layer: layer.shape for layer in all_layers if isinstance(layer, InputLayer) and layer not in treat_as_input
    }
    if isinstance(input_shapes, dict):
        all_shapes.update(input_shapes)
    else:
        if len(all_shapes) > 1:
            raise ValueError(
                "get_output_shape() was called with a single input shape on a network "
                "with multiple input layers. Please call it with a dictionary of input "
                "shapes instead."
            )
        for input_layer in all_shapes:
            all_shapes[input_layer] = input_shapes

    for layer in all_layers:
        if layer not in all_shapes:
            if hasattr(layer, "input_layers"):
                input_shapes_ = [all_shapes[l] for l in layer.input_layers]
            else:
                input_shapes_ = all_shapes[layer.input_layer]
            all_shapes[layer] = layer.get_output_shape_for(input_shapes_)
    try:
        return [all_shapes[layer] for layer in layer_or_layers]
    except TypeError:
        return all_shapes[layer_or_layers]


def get_all_params(layer, unwrap_shared=True, **tags):
    """Return the parameters of every layer of a network, filtered by tags.

    Parameters
    ----------
    layer : Layer or list of Layer
    unwrap_shared : bool
    **tags
        e.g. ``trainable=True``, ``regularizable=True``.

    Returns
    -------
    list of shared variables, without duplicates, in layer order

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> l = DenseLayer(InputLayer((None, 4)), num_units=3)
    >>> [p.name for p in get_all_params(l, trainable=True)]
    ['W', 'b']
    """
    layers = get_all_layers(layer)
    params = [p for l in layers for p in l.get_params(unwrap_shared=unwrap_shared, **tags)]
    return utils.unique(params)


def count_params(layer, **tags):
    """Count the scalar parameters of a network (optionally filtered by tags).

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> count_params(DenseLayer(InputLayer((None, 4)), num_units=3))
    15
    """
    params = get_all_params(layer, **tags)
    return int(sum(np.prod(p.get_value(borrow=True).shape) for p in params))


def get_all_param_values(layer, **tags):
    """Return the values of every parameter of a network, as numpy arrays.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> vals = get_all_param_values(DenseLayer(InputLayer((None, 4)), num_units=3))
    >>> [v.shape for v in vals]
    [(4, 3), (3,)]
    """
    return [p.get_value() for p in get_all_params(layer, **tags)]


def set_all_param_values(layer, values, **tags):
    """Set every parameter of a network from a list of arrays.

    The list must match :func:`get_all_param_values` in length and shapes; it
    is checked completely before anything is set.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> l = DenseLayer(InputLayer((None, 4)), num_units=3)
    >>> set_all_param_values(l, [np.zeros((4, 3)), np.ones(3)])
    >>> get_all_param_values(l)[1].tolist()
    [1.0, 1.0, 1.0]
    """
    params = get_all_params(layer, **tags)
    if len(params) != len(values):
        raise ValueError(f"mismatch: got {len(values)} values to set {len(params)} parameters")
    for p, v in zip(params, values):
        shape = p.get_value(borrow=True).shape
        if shape != np.shape(v):
            raise ValueError(
                f"mismatch: parameter {p.name!r} has shape {shape} but value to set has shape {np.shape(v)}"
            )
    for p, v in zip(params, values):
        p.set_value(np.asarray(v, dtype=p.dtype))
