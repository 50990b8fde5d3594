"""nolearn's layer-spec conveniences: the Layers dict, dotted class names, layer references, grad_scale."""

import importlib
from collections import OrderedDict

import numpy as np

__all__ = ["Layers", "resolve_layer_class", "grad_scale", "resolve_references"]


class Layers(OrderedDict):
    """The ordered ``{name: layer}`` dict of a built net; also indexable by position and slice (as nolearn's).

    Examples
    --------
    >>> from sknet.compile import build_layers
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> ls = build_layers([(InputLayer, {'shape': (None, 2)}), (DenseLayer, {'num_units': 1})])
    >>> ls['dense1'] is ls[1] is ls[-1], list(ls[:1])
    (True, ['input0'])
    """

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            return list(self.values())[key]
        if isinstance(key, slice):
            return Layers(list(self.items())[key])
        return super().__getitem__(key)


def resolve_layer_class(factory):
    """A layer class given as a dotted string (``'sknet.layers.DenseLayer'``); others pass through.

    ``'lasagne.*'`` names resolve to sknet's modules of the same name, so
    nolearn specs written with Lasagne's paths build sknet layers.

    Examples
    --------
    >>> from sknet.layers import DenseLayer
    >>> resolve_layer_class('lasagne.layers.DenseLayer') is DenseLayer
    True
    """
    if not isinstance(factory, str):
        return factory
    path = "sknet" + factory[len("lasagne") :] if factory.split(".")[0] == "lasagne" else factory
    module, _, attr = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError):
        raise ValueError(f"Could not find the layer class {factory!r} (looked for {attr!r} in {module!r})") from None


def grad_scale(layer, scale):
    """Multiply the gradients of ``layer``'s trainable parameters by ``scale`` in training; returns the layer.

    Tags the parameters (``param.tag.grad_scale``, as nolearn does); the
    train function multiplies each tagged gradient before the update rule
    sees it. Use it as ``layer_wrapper`` or on a built layer.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> layer = grad_scale(DenseLayer(InputLayer((None, 2)), 1), 0.5)
    >>> float(layer.W.tag.grad_scale)
    0.5
    """
    for param in layer.get_params(trainable=True):
        param.tag.grad_scale = np.float32(scale)
    return layer


# Keyword arguments that may name an earlier layer of the spec (nolearn's mask_input and more).
_LAYER_REFERENCES = ("mask_input", "hid_init", "cell_init")


def resolve_references(kwargs, layers):
    """Replace layer names by layers in a layer's ``kwargs`` (in place), given the layers built so far.

    ``mask_input='mask'`` (also ``hid_init``, ``cell_init``) becomes that
    layer; ``W='dense1'`` (or ``b=``) becomes that layer's parameter, shared.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> built = {'hidden': DenseLayer(InputLayer((None, 4)), 4)}
    >>> kwargs = {'num_units': 4, 'W': 'hidden'}
    >>> resolve_references(kwargs, built)
    >>> kwargs['W'] is built['hidden'].W
    True
    """
    for key in _LAYER_REFERENCES:
        if isinstance(kwargs.get(key), str):
            kwargs[key] = layers[kwargs[key]]
    for key in ("W", "b"):
        if isinstance(kwargs.get(key), str):
            source = layers[kwargs[key]]
            if getattr(source, key, None) is None:
                raise ValueError(f"{key}={kwargs[key]!r}: layer {kwargs[key]!r} has no parameter {key} to share")
            kwargs[key] = getattr(source, key)
