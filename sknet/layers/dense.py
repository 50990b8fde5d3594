"""Fully connected layers: DenseLayer and the network-in-network NINLayer."""

import numpy as np
import pytensor.tensor as T

from .. import init, nonlinearities
from .base import Layer, _add_channel_bias, _plus_channel_bias

__all__ = ["DenseLayer", "NINLayer"]


class DenseLayer(Layer):
    """A fully connected layer: ``nonlinearity(dot(input, W) + b)``.

    Parameters
    ----------
    incoming : Layer or tuple
    num_units : int
        Number of output units.
    W : initializer, array or shared variable
        Weights of shape ``(num_inputs, num_units)``, where ``num_inputs`` is
        the product of the trailing (non-leading) input dimensions.
    b : initializer, array, shared variable or None
        Biases of shape ``(num_units,)``; None for no bias.
    nonlinearity : callable or None
        None means linear.
    num_leading_axes : int
        How many leading axes to keep (1: one output vector per example); a
        negative number counts from the end instead.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> l = DenseLayer(InputLayer((None, 3, 4)), num_units=5)
    >>> l.output_shape, l.W.get_value().shape
    ((None, 5), (12, 5))
    >>> DenseLayer(InputLayer((None, 3, 4)), num_units=5, num_leading_axes=2).output_shape
    (None, 3, 5)
    """

    def __init__(
        self,
        incoming,
        num_units,
        W=init.GlorotUniform(),
        b=init.Constant(0.0),
        nonlinearity=nonlinearities.rectify,
        num_leading_axes=1,
        **kwargs,
    ):
        super().__init__(incoming, **kwargs)
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity
        self.num_units = num_units

        if num_leading_axes >= len(self.input_shape):
            raise ValueError(
                f"Got num_leading_axes={num_leading_axes} for a {len(self.input_shape)}-"
                "dimensional input, leaving no trailing axes for the dot product."
            )
        if num_leading_axes < -len(self.input_shape):
            raise ValueError(
                f"Got num_leading_axes={num_leading_axes} for a {len(self.input_shape)}-"
                "dimensional input, requesting more trailing axes than there are input "
                "dimensions."
            )
        self.num_leading_axes = num_leading_axes

        trailing = self.input_shape[num_leading_axes:]
        if any(s is None for s in trailing):
            raise ValueError(
                f"A DenseLayer requires a fixed input shape (except for the leading "
                f"axes). Got {self.input_shape} for num_leading_axes={num_leading_axes}."
            )
        num_inputs = int(np.prod(trailing))

        self.W = self.add_param(W, (num_inputs, num_units), name="W")
        if b is None:
            self.b = None
        else:
            self.b = self.add_param(b, (num_units,), name="b", regularizable=False)

    def get_output_shape_for(self, input_shape):
        return input_shape[: self.num_leading_axes] + (self.num_units,)

    def get_output_for(self, input, **kwargs):
        num_leading_axes = self.num_leading_axes
        if num_leading_axes < 0:
            num_leading_axes += input.ndim
        if input.ndim > num_leading_axes + 1:
            # flatten the trailing axes into one
            input = input.flatten(num_leading_axes + 1)
        activation = T.dot(input, self.W)
        if self.b is not None:
            activation = activation + self.b
        return self.nonlinearity(activation)


class NINLayer(Layer):
    """Network-in-network layer: a dense layer applied along axis 1 at every position.

    For bc01 input this is a 1x1 convolution.

    Parameters
    ----------
    incoming : Layer or tuple
    num_units : int
    untie_biases : bool
        One bias per unit and position instead of one per unit.
    W, b, nonlinearity
        As in :class:`DenseLayer`; W has shape ``(num_input_channels, num_units)``.

    Examples
    --------
    >>> from sknet.layers import InputLayer, NINLayer
    >>> NINLayer(InputLayer((None, 3, 8, 8)), num_units=6).output_shape
    (None, 6, 8, 8)
    """

    def __init__(
        self,
        incoming,
        num_units,
        untie_biases=False,
        W=init.GlorotUniform(),
        b=init.Constant(0.0),
        nonlinearity=nonlinearities.rectify,
        **kwargs,
    ):
        super().__init__(incoming, **kwargs)
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity
        self.num_units = num_units
        self.untie_biases = untie_biases

        num_input_channels = self.input_shape[1]
        if num_input_channels is None:
            raise ValueError("NINLayer needs a fixed number of input channels (axis 1).")
        self.W = self.add_param(W, (num_input_channels, num_units), name="W")
        self.b = _add_channel_bias(self, b, untie_biases)

    def get_output_shape_for(self, input_shape):
        return (input_shape[0], self.num_units) + input_shape[2:]

    def get_output_for(self, input, **kwargs):
        # move the channel axis last, dot, and move it back
        out_r = T.tensordot(self.W, input, axes=[[0], [1]])
        remaining_dims = range(2, input.ndim)
        out = out_r.dimshuffle(1, 0, *remaining_dims)
        return self.nonlinearity(_plus_channel_bias(out, self.b, self.untie_biases))
