"""The two base classes every layer derives from: Layer and MergeLayer."""

from collections import OrderedDict

import pytensor
import pytensor.tensor as T

from .. import utils

__all__ = ["Layer", "MergeLayer"]


def _checked_shape(layer, shape):
    """``shape``, from ``layer.get_output_shape_for``, or an error if any entry is symbolic."""
    if any(isinstance(s, pytensor.graph.basic.Variable) for s in shape):
        raise ValueError(
            f"{type(layer).__name__} returned a symbolic output shape from its "
            f"get_output_shape_for() method: {shape}. This is not allowed; shapes "
            "must be tuples of integers for fixed-size dimensions and Nones for "
            "variable dimensions."
        )
    return shape


def _add_channel_bias(layer, b, untie_biases):
    """Register the bias of a layer whose output channels are on axis 1 (None when ``b`` is None).

    One bias per channel, or with ``untie_biases`` one per channel and
    position: shaped as ``layer.output_shape[1:]``.
    """
    if b is None:
        return None
    shape = layer.output_shape[1:] if untie_biases else layer.output_shape[1:2]
    return layer.add_param(b, shape, name="b", regularizable=False)


def _plus_channel_bias(x, b, untie_biases):
    """``x`` plus a bias from :func:`_add_channel_bias`, broadcast over the batch (and the positions when tied)."""
    if b is None:
        return x
    if untie_biases:
        return x + T.shape_padleft(b, 1)
    return x + b.dimshuffle(("x", 0) + ("x",) * (x.ndim - 2))


class Layer:
    """Base class of layers with a single incoming layer.

    A layer stores where its input comes from and its parameters; subclasses
    override :meth:`get_output_shape_for` and :meth:`get_output_for`.

    Parameters
    ----------
    incoming : Layer or tuple
        The layer feeding this one, or the expected input shape (``None`` for
        unknown dimensions).
    name : str, optional
        A name for the layer, also used to name its parameters.

    Examples
    --------
    >>> from sknet.layers import InputLayer, Layer
    >>> class Double(Layer):
    ...     def get_output_for(self, input, **kwargs):
    ...         return 2 * input
    >>> Double(InputLayer((None, 3))).output_shape
    (None, 3)
    """

    def __init__(self, incoming, name=None):
        if isinstance(incoming, tuple):
            self.input_shape = incoming
            self.input_layer = None
        else:
            self.input_shape = incoming.output_shape
            self.input_layer = incoming
        self.name = name
        self.params = OrderedDict()
        self.get_output_kwargs = []
        if any(d is not None and d <= 0 for d in self.input_shape):
            raise ValueError(
                f"Cannot create Layer {name!r} with a non-positive input_shape dimension: "
                f"input_shape={self.input_shape}"
            )

    @property
    def output_shape(self):
        return _checked_shape(self, self.get_output_shape_for(self.input_shape))

    def get_params(self, unwrap_shared=True, **tags):
        """Return this layer's parameters, filtered by tags.

        Parameters
        ----------
        unwrap_shared : bool
            If a parameter is an expression, return the shared variables it
            is built from instead (in Lasagne's order: see
            :func:`sknet.utils.collect_shared_vars`).
        **tags
            ``trainable=True`` keeps only parameters with that tag,
            ``regularizable=False`` only those without it, and so on.

        Returns
        -------
        list
            The parameters in the order they were added (or the shared
            variables behind them, with ``unwrap_shared``).

        Examples
        --------
        >>> from sknet.layers import InputLayer, DenseLayer
        >>> l = DenseLayer(InputLayer((None, 3)), num_units=2)
        >>> [p.name for p in l.get_params(regularizable=True)]
        ['W']
        """
        result = list(self.params.keys())
        only = {tag for tag, value in tags.items() if value}
        if only:
            result = [param for param in result if not (only - self.params[param])]
        exclude = {tag for tag, value in tags.items() if not value}
        if exclude:
            result = [param for param in result if not (self.params[param] & exclude)]
        if unwrap_shared:
            return utils.collect_shared_vars(result)
        return result

    def get_output_shape_for(self, input_shape):
        """Compute the output shape for a given input shape (default: unchanged).

        Examples
        --------
        >>> from sknet.layers import Layer
        >>> Layer((None, 2)).get_output_shape_for((5, 2))
        (5, 2)
        """
        return input_shape

    def get_output_for(self, input, **kwargs):
        """Compute this layer's symbolic output from its symbolic input.

        Subclasses must override this.
        """
        raise NotImplementedError

    def add_param(self, spec, shape, name=None, **tags):
        """Register and return a new parameter of this layer.

        Parameters
        ----------
        spec : numpy array, shared variable, expression or callable
            See :func:`sknet.utils.create_param`.
        shape : tuple of int
        name : str, optional
            Prefixed with the layer's name when it has one.
        **tags
            Tags such as ``trainable`` and ``regularizable`` (both default to
            True).

        Returns
        -------
        The parameter variable.

        Examples
        --------
        >>> from sknet.layers import Layer
        >>> from sknet.init import Constant
        >>> l = Layer((None, 3), name='l')
        >>> l.add_param(Constant(1.0), (3,), name='s', regularizable=False).name
        'l.s'
        """
        if name is not None and self.name is not None:
            name = f"{self.name}.{name}"
        param = utils.create_param(spec, shape, name)
        tags["trainable"] = tags.get("trainable", True)
        tags["regularizable"] = tags.get("regularizable", True)
        self.params[param] = {tag for tag, value in tags.items() if value}
        return param

    def __repr__(self):
        name = f" {self.name!r}" if self.name else ""
        return f"<{type(self).__name__}{name} output_shape={self.output_shape}>"


class MergeLayer(Layer):
    """Base class of layers with several incoming layers.

    Parameters
    ----------
    incomings : list of Layer or tuple
    name : str, optional

    Examples
    --------
    >>> from sknet.layers import InputLayer, MergeLayer
    >>> class Add(MergeLayer):
    ...     def get_output_shape_for(self, input_shapes):
    ...         return input_shapes[0]
    ...     def get_output_for(self, inputs, **kwargs):
    ...         return inputs[0] + inputs[1]
    >>> Add([InputLayer((None, 2)), InputLayer((None, 2))]).output_shape
    (None, 2)
    """

    def __init__(self, incomings, name=None):
        self.input_shapes = [
            incoming if isinstance(incoming, tuple) else incoming.output_shape for incoming in incomings
        ]
        self.input_layers = [None if isinstance(incoming, tuple) else incoming for incoming in incomings]
        self.name = name
        self.params = OrderedDict()
        self.get_output_kwargs = []

    @Layer.output_shape.getter
    def output_shape(self):
        return _checked_shape(self, self.get_output_shape_for(self.input_shapes))

    def get_output_shape_for(self, input_shapes):
        """Compute the output shape from the list of input shapes."""
        raise NotImplementedError

    def get_output_for(self, inputs, **kwargs):
        """Compute the symbolic output from the list of symbolic inputs."""
        raise NotImplementedError
