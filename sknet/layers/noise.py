"""Noise layers for regularization: dropout and additive Gaussian noise."""

import numbers

import pytensor.tensor as T

from .. import random, utils
from .base import Layer

__all__ = [
    "DropoutLayer",
    "dropout",
    "dropout_channels",
    "spatial_dropout",
    "dropout_locations",
    "GaussianNoiseLayer",
]


def _is_zero(value):
    return isinstance(value, numbers.Number) and value == 0


class DropoutLayer(Layer):
    """Randomly set input values to zero during training.

    Each value is kept with probability ``1 - p`` and dropped otherwise; with
    ``rescale`` the kept values are multiplied by ``1 / (1 - p)`` so that the
    expected output equals the input. With ``deterministic=True`` (or
    ``p=0``) the layer passes its input through unchanged.

    Parameters
    ----------
    incoming : Layer or tuple
    p : float or scalar tensor
        The probability of dropping a value.
    rescale : bool
        Scale the kept values by ``1 / (1 - p)`` during training.
    shared_axes : tuple of int
        Axes along which one mask value is shared (broadcast), e.g. ``(2, 3)``
        to drop whole feature maps of bc01 input.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DropoutLayer, get_output
    >>> l = DropoutLayer(InputLayer((None, 100)), p=0.5)
    >>> x = np.ones((2, 100), dtype='float32')
    >>> sorted(np.unique(get_output(l, x).eval()).tolist())
    [0.0, 2.0]
    """

    def __init__(self, incoming, p=0.5, rescale=True, shared_axes=(), **kwargs):
        super().__init__(incoming, **kwargs)
        self.p = p
        self.rescale = rescale
        self.shared_axes = tuple(shared_axes)

    def get_output_for(self, input, deterministic=False, **kwargs):
        if deterministic or _is_zero(self.p):
            return input
        # p and the mask are drawn in a float dtype even for integer input
        # (Lasagne's DropoutLayer(rescale=False) keeps an int input's dtype)
        float_dtype = input.dtype if input.dtype.startswith("float") else utils.float_dtype()
        p = T.cast(T.as_tensor_variable(self.p), float_dtype)
        retain_prob = 1 - p
        if self.rescale:
            input = input / retain_prob
        shared_axes = tuple(a % input.ndim for a in self.shared_axes)
        # The symbolic shape keeps this working with an unknown batch size.
        mask_shape = tuple(1 if axis in shared_axes else input.shape[axis] for axis in range(input.ndim))
        mask = random.uniform(mask_shape, dtype=float_dtype) >= p
        if shared_axes:
            mask = T.specify_broadcastable(mask, *shared_axes)
        return input * T.cast(mask, input.dtype)


#: Lasagne's shortcut name for :class:`DropoutLayer`.
dropout = DropoutLayer


def dropout_channels(incoming, *args, **kwargs):
    """Dropout of whole channels: one mask value per example and channel.

    Shares the mask over all axes after the second (the spatial axes).

    Examples
    --------
    >>> from sknet.layers import InputLayer
    >>> dropout_channels(InputLayer((None, 3, 8, 8)), p=0.2).shared_axes
    (2, 3)
    """
    ndim = len(getattr(incoming, "output_shape", incoming))
    kwargs["shared_axes"] = tuple(range(2, ndim))
    return DropoutLayer(incoming, *args, **kwargs)


#: Another name for :func:`dropout_channels` (spatial dropout).
spatial_dropout = dropout_channels


def dropout_locations(incoming, *args, **kwargs):
    """Dropout of whole locations: one mask value shared over the channels.

    Examples
    --------
    >>> from sknet.layers import InputLayer
    >>> dropout_locations(InputLayer((None, 3, 8, 8)), p=0.2).shared_axes
    (1,)
    """
    kwargs["shared_axes"] = (1,)
    return DropoutLayer(incoming, *args, **kwargs)


class GaussianNoiseLayer(Layer):
    """Add zero-mean Gaussian noise of standard deviation ``sigma`` during training.

    With ``deterministic=True`` (or ``sigma=0``) the input passes through.

    Parameters
    ----------
    incoming : Layer or tuple
    sigma : float or scalar tensor

    Examples
    --------
    >>> from sknet.layers import InputLayer, GaussianNoiseLayer, get_output
    >>> l = GaussianNoiseLayer(InputLayer((None, 3)), sigma=0.1)
    >>> x = np.zeros((1, 3), dtype='float32')
    >>> get_output(l, x, deterministic=True).eval()
    array([[0., 0., 0.]], dtype=float32)
    """

    def __init__(self, incoming, sigma=0.1, **kwargs):
        super().__init__(incoming, **kwargs)
        self.sigma = sigma

    def get_output_for(self, input, deterministic=False, **kwargs):
        if deterministic or _is_zero(self.sigma):
            return input
        return input + random.normal(input.shape, scale=self.sigma, dtype=input.dtype)
