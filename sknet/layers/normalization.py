"""Batch normalization: BatchNormLayer and the batch_norm wrapper."""

import pytensor.tensor as T

from .. import init, nonlinearities
from ..utils import set_default_update
from .base import Layer

__all__ = ["BatchNormLayer", "batch_norm"]


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
        Running averages (not trainable).

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
        elif isinstance(axes, int):
            axes = (axes,)
        self.axes = tuple(axes)
        self.epsilon = epsilon
        self.alpha = alpha

        shape = [size for axis, size in enumerate(self.input_shape) if axis not in self.axes]
        if any(size is None for size in shape):
            raise ValueError("BatchNormLayer needs specified input sizes for all axes not "
                             "normalized over.")
        shape = tuple(shape)
        if beta is None:
            self.beta = None
        else:
            self.beta = self.add_param(beta, shape, "beta", trainable=True, regularizable=False)
        if gamma is None:
            self.gamma = None
        else:
            self.gamma = self.add_param(gamma, shape, "gamma", trainable=True,
                                        regularizable=True)
        self.mean = self.add_param(mean, shape, "mean", trainable=False, regularizable=False)
        self.inv_std = self.add_param(inv_std, shape, "inv_std", trainable=False,
                                      regularizable=False)

    def get_output_for(self, input, deterministic=False, batch_norm_use_averages=None,
                       batch_norm_update_averages=None, **kwargs):
        input_mean = input.mean(self.axes)
        input_inv_std = T.reciprocal(T.sqrt(input.var(self.axes) + self.epsilon))

        use_averages = deterministic if batch_norm_use_averages is None else batch_norm_use_averages
        if use_averages:
            mean, inv_std = self.mean, self.inv_std
        else:
            mean, inv_std = input_mean, input_inv_std

        update_averages = (not deterministic if batch_norm_update_averages is None
                           else batch_norm_update_averages)
        if update_averages:
            # The updates hang on clones sharing the parameters' storage, so
            # only graphs built here (not every graph using self.mean) update
            # them; the 0 * clone terms put the clones into the graph.
            running_mean = _running_clone(self.mean, input_mean)
            running_inv_std = _running_clone(self.inv_std, input_inv_std)
            alpha = T.constant(self.alpha, dtype=running_mean.dtype)
            set_default_update(running_mean, (1 - alpha) * running_mean + alpha * input_mean)
            set_default_update(running_inv_std,
                               (1 - alpha) * running_inv_std + alpha * input_inv_std)
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


def _running_clone(param, batch_stat):
    """A view of the shared ``param`` typed like ``batch_stat``.

    A default update must have exactly its variable's type, and the batch
    statistics may know static sizes the parameter's type does not.
    """
    vtype = T.TensorType(param.dtype, shape=batch_stat.type.shape)
    return type(param)(type=vtype, value=None, strict=None, container=param.container,
                       name=param.name)


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

    nonlinearity = getattr(layer, "nonlinearity", None)
    if nonlinearity is not None:
        layer.nonlinearity = nonlinearities.identity
    if getattr(layer, "b", None) is not None:
        del layer.params[layer.b]
        layer.b = None
    bn_name = kwargs.pop("name", None) or (getattr(layer, "name", None) and layer.name + "_bn")
    layer = BatchNormLayer(layer, name=bn_name, **kwargs)
    if nonlinearity is not None:
        nonlin_name = bn_name and bn_name + "_nonlin"
        layer = NonlinearityLayer(layer, nonlinearity, name=nonlin_name)
    return layer
