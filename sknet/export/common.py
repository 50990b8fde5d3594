"""What every lowering shares: the export error, parameter values, activations by name."""

import numpy as np
import pytensor.tensor as T

from .. import nonlinearities as nl

__all__ = ["ExportError", "activation_of"]


class ExportError(ValueError):
    """A network (or one of its layers) that an exporter cannot express.

    Examples
    --------
    >>> str(ExportError("layer 'e' (ExpressionLayer): arbitrary expressions"))
    "layer 'e' (ExpressionLayer): arbitrary expressions"
    """


def _value(param):
    return np.asarray(param.get_value(), dtype=np.float32)


def _params(layer, name, *params):
    """numpy values of shared-variable params; an expression param is an ExportError."""
    out = []
    for p in params:
        if p is None:
            out.append(None)
        elif not hasattr(p, "get_value"):
            raise ExportError(
                f"layer {name!r} ({type(layer).__name__}): a parameter is an "
                "expression, not a shared variable; exporters copy values"
            )
        else:
            out.append(_value(p))
    return out


_SIMPLE_ACTIVATIONS = {
    nl.sigmoid: "sigmoid",
    T.sigmoid: "sigmoid",
    nl.softmax: "softmax",
    nl.tanh: "tanh",
    T.tanh: "tanh",
    nl.rectify: "relu",
    nl.elu: "elu",
    nl.softplus: "softplus",
    T.softplus: "softplus",
    nl.linear: "identity",
}


def activation_of(fn, where="this layer"):
    """The ``(kind, args)`` of a nonlinearity from :mod:`sknet.nonlinearities`.

    Raises
    ------
    ExportError
        For any other callable, naming ``where``.

    Examples
    --------
    >>> from sknet import nonlinearities
    >>> activation_of(nonlinearities.LeakyRectify(0.2))
    ('leaky', (0.2,))
    """
    if fn is None:
        return "identity", ()
    try:
        kind = _SIMPLE_ACTIVATIONS.get(fn)
    except TypeError:  # unhashable callables
        kind = None
    if kind is not None:
        return kind, ()
    if type(fn) is nl.ScaledTanH:
        return "scaled_tanh", (float(fn.scale_in), float(fn.scale_out))
    if type(fn) is nl.LeakyRectify:
        return "leaky", (float(fn.leakiness),)
    if type(fn) is nl.SELU:
        return "selu", (float(fn.scale), float(fn.scale_neg))
    raise ExportError(
        f"{where}: nonlinearity {getattr(fn, '__name__', fn)!r} is not one of "
        "sknet.nonlinearities; exporters cannot express it"
    )


def _where(layer, name):
    return f"layer {name!r} ({type(layer).__name__})"
