"""Weight penalties (L1, L2) over tensors, layers and whole networks, as in Lasagne.

A penalty is added to the training loss, for example weight decay on every
regularizable parameter (the weights, not the biases):

>>> from sknet.layers import InputLayer, DenseLayer
>>> net = DenseLayer(InputLayer((None, 3)), num_units=2)
>>> penalty = 1e-4 * regularize_network_params(net, l2)
>>> penalty.ndim
0
"""

from types import MappingProxyType

import pytensor.tensor as T
from pytensor.graph.basic import Variable

from .layers import Layer, get_all_params

__all__ = [
    "l1",
    "l2",
    "apply_penalty",
    "regularize_layer_params",
    "regularize_layer_params_weighted",
    "regularize_network_params",
]

# Lasagne's default ``tags={'regularizable': True}``, read-only so that the
# shared default can never be changed by a caller.
_REGULARIZABLE = MappingProxyType({"regularizable": True})


def l1(x):
    """The L1 penalty: the sum of absolute values of ``x``.

    Examples
    --------
    >>> float(l1(T.constant(np.float32([1.0, -2.0]))).eval())
    3.0
    """
    return T.sum(abs(x))


def l2(x):
    """The squared L2 penalty: the sum of squares of ``x`` (no factor 1/2).

    Examples
    --------
    >>> float(l2(T.constant(np.float32([1.0, -2.0]))).eval())
    5.0
    """
    return T.sum(T.sqr(x))


def apply_penalty(tensor_or_tensors, penalty, **kwargs):
    """Apply ``penalty`` to a tensor, or sum it over a list of tensors.

    Parameters
    ----------
    tensor_or_tensors : PyTensor expression or iterable of them
    penalty : callable
        Such as :func:`l1` or :func:`l2`; ``**kwargs`` are passed to it.

    Returns
    -------
    scalar PyTensor expression (or 0 for an empty list)

    Examples
    --------
    >>> a = T.constant(np.float32([1.0])); b = T.constant(np.float32([2.0, 2.0]))
    >>> float(apply_penalty([a, b], l2).eval())
    9.0
    """
    if isinstance(tensor_or_tensors, Variable):
        return penalty(tensor_or_tensors, **kwargs)
    return sum(penalty(x, **kwargs) for x in tensor_or_tensors)


def regularize_layer_params(layer, penalty, tags=_REGULARIZABLE, **kwargs):
    """Sum a penalty over the parameters of one layer or a list of layers.

    Parameters
    ----------
    layer : Layer or list of Layer
        Only these layers' own parameters count, not those below them.
    penalty : callable
        Called on each selected parameter as ``penalty(param, **kwargs)``.
    tags : mapping
        Tag filters for ``Layer.get_params``; by default the regularizable
        parameters (``{'regularizable': True}``).
    **kwargs
        Extra arguments of ``penalty``.

    Returns
    -------
    scalar PyTensor expression
        The sum of the penalties of the selected parameters.

    Examples
    --------
    A bias is not regularizable, so only the three unit weights count:

    >>> from sknet.layers import DenseLayer, InputLayer
    >>> from sknet.init import Constant
    >>> l = DenseLayer(InputLayer((None, 2)), num_units=3, W=Constant(1.0), b=Constant(5.0))
    >>> float(regularize_layer_params(l, l1).eval())
    6.0
    """
    layers = [layer] if isinstance(layer, Layer) else layer
    params = []
    for each in layers:
        params += each.get_params(**tags)
    return apply_penalty(params, penalty, **kwargs)


def regularize_layer_params_weighted(layers, penalty, tags=_REGULARIZABLE, **kwargs):
    """Sum a penalty over several layers' parameters with one coefficient per layer.

    Parameters
    ----------
    layers : dict
        Maps each layer to the coefficient of its own parameters' penalty
        (the parameters of the layers below it do not count).
    penalty : callable
        Applied to every parameter, with ``**kwargs`` as extra arguments.
    tags : mapping
        Tag filters, by default ``{'regularizable': True}``.

    Returns
    -------
    scalar PyTensor expression
        ``sum(coefficient * penalty of the layer's parameters)`` over the layers.

    Examples
    --------
    Four weights of 1 at 0.5, plus two weights of 2 (4 each in L2) at 0.25:

    >>> from sknet import init, layers
    >>> hidden = layers.DenseLayer((None, 2), num_units=2, W=init.Constant(1.0))
    >>> top = layers.DenseLayer(hidden, num_units=1, W=init.Constant(2.0))
    >>> float(regularize_layer_params_weighted({hidden: 0.5, top: 0.25}, l2).eval())
    4.0
    """
    return sum(coeff * apply_penalty(layer.get_params(**tags), penalty, **kwargs) for layer, coeff in layers.items())


def regularize_network_params(layer, penalty, tags=_REGULARIZABLE, **kwargs):
    """Sum a penalty over the parameters of every layer of a network.

    Parameters
    ----------
    layer : Layer or list of Layer
        The output layer(s); all layers below them are included.
    penalty : callable
        The penalty of one parameter; ``**kwargs`` are handed on to it.
    tags : mapping
        Tag filters for ``get_all_params``, by default
        ``{'regularizable': True}``.

    Returns
    -------
    scalar PyTensor expression
        What :func:`apply_penalty` gives for the network's selected parameters.

    Examples
    --------
    Four weights of 1 in the hidden layer and two in the output layer:

    >>> from sknet.layers import DenseLayer, InputLayer
    >>> from sknet.init import Constant
    >>> hidden = DenseLayer(InputLayer((None, 2)), num_units=2, W=Constant(1.0))
    >>> out = DenseLayer(hidden, num_units=1, W=Constant(1.0))
    >>> float(regularize_network_params(out, l1).eval())
    6.0
    """
    return apply_penalty(get_all_params(layer, **tags), penalty, **kwargs)
