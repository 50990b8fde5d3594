"""Normalization layers: batch norm, standardization (instance and layer norm), LRN."""

import pytensor.tensor as T

from .. import init, nonlinearities
from ..utils import int_types, set_default_update
from .base import Layer

__all__ = [
    "LocalResponseNormalization2DLayer",
    "BatchNormLayer",
    "batch_norm",
    "StandardizationLayer",
    "instance_norm",
    "layer_norm",
]


class LocalResponseNormalization2DLayer(Layer):
    r"""Local response normalization across channels of bc01 input (Krizhevsky et al.).

    Each value is divided by a power of the sum of squares of the values at
    the same position in the ``n`` channels around its own (channels past
    the edges count as zeros):

    .. math::
        y_c = \frac{x_c}{\left(k + \alpha \sum_{|j - c| \le n // 2} x_j^2\right)^\beta}

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, channels, rows, cols)``.
    alpha, k, beta : float
        As in the formula.
    n : int
        Number of channels in the window; must be odd.

    Examples
    --------
    >>> from sknet.layers import InputLayer, LocalResponseNormalization2DLayer, get_output
    >>> l = LocalResponseNormalization2DLayer(InputLayer((None, 3, 1, 1)), alpha=1, k=0,
    ...                                       beta=0.5, n=3)
    >>> x = np.array([3., 4., 0.], 'float32').reshape(1, 3, 1, 1)
    >>> get_output(l, x).eval().ravel()
    array([0.6, 0.8, 0. ], dtype=float32)
    """

    def __init__(self, incoming, alpha=1e-4, k=2, beta=0.75, n=5, **kwargs):
        super().__init__(incoming, **kwargs)
        if len(self.input_shape) != 4:
            raise ValueError(f"LocalResponseNormalization2DLayer needs 4-d (bc01) input, got shape {self.input_shape}")
        self.alpha = alpha
        self.k = k
        self.beta = beta
        self.n = n
        if n % 2 == 0:
            # NotImplementedError, as Lasagne raises for an even window
            raise NotImplementedError(f"Only works with odd n, got n={n}")

    def get_output_for(self, input, **kwargs):
        half = self.n // 2
        channels = input.shape[1]
        sqr = T.sqr(input)
        padded = T.zeros((input.shape[0], channels + 2 * half, input.shape[2], input.shape[3]), dtype=input.dtype)
        padded = T.set_subtensor(padded[:, half : half + channels], sqr)
        window = padded[:, 0:channels]
        for i in range(1, self.n):
            window = window + padded[:, i : i + channels]
        return input / (self.k + self.alpha * window) ** self.beta


class BatchNormLayer(Layer):
    """Normalize the input over ``axes``, then scale by ``gamma`` and shift by ``beta``.

    ``y = (x - mean) * gamma * inv_std + beta`` where in training ``mean`` and
    ``inv_std = 1 / sqrt(var + epsilon)`` are those of the mini-batch, and with
    ``deterministic=True`` the running averages. During training, every
    compiled function whose output depends on this layer updates the running
    averages: ``avg <- (1 - alpha) * avg + alpha * batch_value``.

    Parameters
    ----------
    incoming : Layer or tuple
    axes : 'auto', int or tuple of ints
        Axes to normalize over; 'auto' means all but the second (the batch
        axis and the spatial axes of bc01 input: one statistic per channel).
    epsilon : float
        Added to the variance for numerical stability.
    alpha : float
        Weight of the new batch in the running averages.
    beta, gamma : initializer, array, shared variable or None
        Shift and scale (trainable); None leaves them out.
    mean, inv_std : initializer, array or shared variable
        Running averages (not trainable, tagged ``batch_norm_stat``).

    Notes
    -----
    ``get_output`` accepts ``batch_norm_use_averages`` (default:
    ``deterministic``) and ``batch_norm_update_averages`` (default: not
    ``deterministic``) to override either behaviour.

    Examples
    --------
    >>> from sknet.layers import InputLayer, BatchNormLayer, get_output
    >>> l = BatchNormLayer(InputLayer((None, 2)))
    >>> x = np.array([[0., 10.], [2., 30.]], dtype='float32')
    >>> np.round(get_output(l, x).eval(), 3)
    array([[-1., -1.],
           [ 1.,  1.]], dtype=float32)
    """

    def __init__(
        self,
        incoming,
        axes="auto",
        epsilon=1e-4,
        alpha=0.1,
        beta=init.Constant(0),
        gamma=init.Constant(1),
        mean=init.Constant(0),
        inv_std=init.Constant(1),
        **kwargs,
    ):
        super().__init__(incoming, **kwargs)
        self.get_output_kwargs = ["batch_norm_use_averages", "batch_norm_update_averages"]
        if axes == "auto":
            axes = (0,) + tuple(range(2, len(self.input_shape)))
        elif isinstance(axes, int_types):
            axes = (axes,)
        self.axes = tuple(axes)
        self.epsilon = epsilon
        self.alpha = alpha

        shape = [size for axis, size in enumerate(self.input_shape) if axis not in self.axes]
        if any(size is None for size in shape):
            raise ValueError("BatchNormLayer needs specified input sizes for all axes not normalized over.")
        shape = tuple(shape)
        if beta is None:
            self.beta = None
        else:
            self.beta = self.add_param(beta, shape, "beta", trainable=True, regularizable=False)
        if gamma is None:
            self.gamma = None
        else:
            self.gamma = self.add_param(gamma, shape, "gamma", trainable=True, regularizable=True)
        # batch_norm_stat marks the running averages, as in Lasagne, so that
        # get_all_params(net, batch_norm_stat=True) finds them
        self.mean = self.add_param(mean, shape, "mean", trainable=False, regularizable=False, batch_norm_stat=True)
        self.inv_std = self.add_param(
            inv_std, shape, "inv_std", trainable=False, regularizable=False, batch_norm_stat=True
        )

    def get_output_for(
        self, input, deterministic=False, batch_norm_use_averages=None, batch_norm_update_averages=None, **kwargs
    ):
        input_mean = input.mean(self.axes)
        input_inv_std = T.reciprocal(T.sqrt(input.var(self.axes) + self.epsilon))

        use_averages = deterministic if batch_norm_use_averages is None else batch_norm_use_averages
        if use_averages:
            mean, inv_std = self.mean, self.inv_std
        else:
            mean, inv_std = input_mean, input_inv_std

        update_averages = not deterministic if batch_norm_update_averages is None else batch_norm_update_averages
        if update_averages:
            # The updates hang on clones sharing the parameters' storage, so
            # only graphs built here (not every graph using self.mean) update
            # them; the 0 * clone terms put the clones into the graph.
            running_mean = _running_clone(self.mean, input_mean)
            running_inv_std = _running_clone(self.inv_std, input_inv_std)
            alpha = T.constant(self.alpha, dtype=running_mean.dtype)
            set_default_update(running_mean, (1 - alpha) * running_mean + alpha * input_mean)
            set_default_update(running_inv_std, (1 - alpha) * running_inv_std + alpha * input_inv_std)
            if use_averages:
                # read the averages through the updated variables, so PyTensor
                # sees one variable read and updated (the clones alias storage)
                mean, inv_std = running_mean, running_inv_std
            else:
                mean = mean + 0 * running_mean
                inv_std = inv_std + 0 * running_inv_std

        param_axes = iter(range(input.ndim - len(self.axes)))
        pattern = ["x" if i in self.axes else next(param_axes) for i in range(input.ndim)]
        beta = 0 if self.beta is None else self.beta.dimshuffle(pattern)
        gamma = 1 if self.gamma is None else self.gamma.dimshuffle(pattern)
        mean = mean.dimshuffle(pattern)
        inv_std = inv_std.dimshuffle(pattern)
        return (input - mean) * (gamma * inv_std) + beta


def _remove_nonlinearity_and_bias(layer):
    """Make ``layer`` linear and bias-free, for a normalization to go between; return its nonlinearity (or None)."""
    nonlinearity = getattr(layer, "nonlinearity", None)
    if nonlinearity is not None:
        layer.nonlinearity = nonlinearities.identity
    if getattr(layer, "b", None) is not None:
        del layer.params[layer.b]
        layer.b = None
    return nonlinearity


def _running_clone(param, batch_stat):
    """A view of the shared ``param`` typed like ``batch_stat``.

    A default update must have exactly its variable's type, and the batch
    statistics may know static sizes the parameter's type does not.
    """
    vtype = T.TensorType(param.dtype, shape=batch_stat.type.shape)
    return type(param)(type=vtype, value=None, strict=None, container=param.container, name=param.name)


def batch_norm(layer, **kwargs):
    """Insert batch normalization after ``layer``, before its nonlinearity.

    The layer loses its bias (``beta`` takes its role) and its nonlinearity,
    which moves to a :class:`NonlinearityLayer` on top of the new
    :class:`BatchNormLayer`.

    Parameters
    ----------
    layer : Layer
    **kwargs
        Passed to :class:`BatchNormLayer`.

    Returns
    -------
    Layer
        The BatchNormLayer, or the NonlinearityLayer on top of it.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer, batch_norm, get_all_layers
    >>> l = batch_norm(DenseLayer(InputLayer((None, 4)), 3, name='d'))
    >>> [type(x).__name__ for x in get_all_layers(l)]
    ['InputLayer', 'DenseLayer', 'BatchNormLayer', 'NonlinearityLayer']
    >>> l.name, get_all_layers(l)[1].b is None
    ('d_bn_nonlin', True)
    """
    from .special import NonlinearityLayer

    nonlinearity = _remove_nonlinearity_and_bias(layer)
    bn_name = kwargs.pop("name", None) or (getattr(layer, "name", None) and layer.name + "_bn")
    layer = BatchNormLayer(layer, name=bn_name, **kwargs)
    if nonlinearity is not None:
        nonlin_name = bn_name and bn_name + "_nonlin"
        layer = NonlinearityLayer(layer, nonlinearity, name=nonlin_name)
    return layer


def _standardization_axes(axes, ndim):
    if isinstance(axes, str):
        if axes == "auto":
            return (1,) if ndim == 2 else tuple(range(2, ndim))
        if axes == "spatial":
            return tuple(range(2, ndim))
        if axes == "features":
            return tuple(range(1, ndim))
        raise ValueError(f"axes must be 'auto', 'spatial', 'features' or ints, got {axes!r}")
    if isinstance(axes, int_types):
        return (int(axes),)
    return tuple(int(a) for a in axes)


class StandardizationLayer(Layer):
    r"""Standardize each example to zero mean and unit variance over ``axes``.

    :math:`y = (x - \mu) / \sqrt{\sigma^2 + \epsilon}`, with mean and
    variance over ``axes`` computed per example (the batch axis is usually
    not among them), in training and in testing alike: no running averages.
    It realizes instance normalization (:func:`instance_norm`) and layer
    normalization (:func:`layer_norm`).

    Parameters
    ----------
    incoming : Layer or tuple
    axes : 'auto', 'spatial', 'features', int or tuple of int
        'auto': the last axis of 2-d input, otherwise all but the first two
        (the spatial axes); 'spatial': all but the first two; 'features':
        all but the first.
    epsilon : float
        Added to the variance.

    Examples
    --------
    >>> from sknet.layers import InputLayer, StandardizationLayer, get_output
    >>> l = StandardizationLayer(InputLayer((None, 4)), epsilon=0)
    >>> get_output(l, np.array([[1., 2., 3., 4.]], 'float32')).eval().round(3)
    array([[-1.342, -0.447,  0.447,  1.342]], dtype=float32)
    """

    def __init__(self, incoming, axes="auto", epsilon=1e-4, **kwargs):
        super().__init__(incoming, **kwargs)
        self.axes = _standardization_axes(axes, len(self.input_shape))
        self.epsilon = epsilon

    def get_output_for(self, input, **kwargs):
        mean = input.mean(self.axes, keepdims=True)
        std = T.sqrt(input.var(self.axes, keepdims=True) + self.epsilon)
        return (input - mean) / std


def _standardized_stack(layer, axes, suffix, kwargs, scale=True, bias=True):
    """Put a StandardizationLayer over ``axes``, a ScaleLayer and a BiasLayer between ``layer`` and its nonlinearity.

    ``layer`` loses its nonlinearity (moved to a NonlinearityLayer on top) and
    its bias (the BiasLayer replaces it). The new layers are named after
    ``kwargs['name']``, or else ``layer.name + suffix``, when either is given.
    """
    from .special import BiasLayer, NonlinearityLayer, ScaleLayer

    nonlinearity = _remove_nonlinearity_and_bias(layer)
    name = kwargs.pop("name", None) or (getattr(layer, "name", None) and layer.name + suffix)
    layer = StandardizationLayer(layer, axes=axes, name=name, **kwargs)
    if scale:
        layer = ScaleLayer(layer, shared_axes="auto", name=name and name + "_scale")
    if bias:
        layer = BiasLayer(layer, shared_axes="auto", name=name and name + "_bias")
    if nonlinearity is not None:
        layer = NonlinearityLayer(layer, nonlinearity, name=name and name + "_nonlin")
    return layer


def instance_norm(layer, learn_scale=True, learn_bias=True, **kwargs):
    """Insert instance normalization after ``layer``, before its nonlinearity.

    Each feature map of each example is standardized over its spatial axes
    (:class:`StandardizationLayer` with ``axes='spatial'``), then optionally
    scaled and shifted per channel (:class:`ScaleLayer`, :class:`BiasLayer`);
    the layer's nonlinearity moves on top and its bias is removed.

    Parameters
    ----------
    layer : Layer
        Modified in place (nonlinearity and bias).
    learn_scale, learn_bias : bool
        Whether to add the ScaleLayer and the BiasLayer.
    **kwargs
        Passed to :class:`StandardizationLayer`.

    Returns
    -------
    Layer
        The top of the new stack.

    Examples
    --------
    >>> from sknet.layers import InputLayer, Conv2DLayer, instance_norm, get_all_layers
    >>> l = instance_norm(Conv2DLayer(InputLayer((None, 3, 8, 8)), 4, 3))
    >>> [type(x).__name__ for x in get_all_layers(l)][1:]
    ['Conv2DLayer', 'StandardizationLayer', 'ScaleLayer', 'BiasLayer', 'NonlinearityLayer']
    """
    return _standardized_stack(layer, "spatial", "_in", kwargs, learn_scale, learn_bias)


def layer_norm(layer, **kwargs):
    """Insert layer normalization after ``layer``, before its nonlinearity.

    Each example is standardized over its features and spatial axes
    (:class:`StandardizationLayer` with ``axes='features'``), then scaled and
    shifted per feature; the layer's nonlinearity moves on top and its bias
    is removed.

    Parameters
    ----------
    layer, **kwargs
        As in :func:`instance_norm`.

    Returns
    -------
    Layer
        The NonlinearityLayer on top, or the BiasLayer when ``layer`` had no
        nonlinearity.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer, layer_norm, get_all_layers
    >>> l = layer_norm(DenseLayer(InputLayer((None, 10)), 5, name='d'))
    >>> [x.name for x in get_all_layers(l)][1:]
    ['d', 'd_ln', 'd_ln_scale', 'd_ln_bias', 'd_ln_nonlin']
    """
    return _standardized_stack(layer, "features", "_ln", kwargs)
