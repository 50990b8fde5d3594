"""Convolution layers (bc01 layout): Conv1DLayer, Conv2DLayer, TransposedConv2DLayer."""

import functools
import inspect

import pytensor.tensor as T
from pytensor.graph.basic import Variable

from .. import init, nonlinearities
from ..ops.corr import CorrMM
from ..utils import as_tuple
from .base import Layer, _add_channel_bias, _plus_channel_bias

__all__ = [
    "conv_output_length",
    "conv_input_length",
    "BaseConvLayer",
    "Conv1DLayer",
    "Conv2DLayer",
    "TransposedConv2DLayer",
    "Deconv2DLayer",
]


def _pad_amount(pad, filter_size):
    """Zeros added on each side for a pad spec along one axis."""
    if pad == "valid":
        return 0
    if pad == "full":
        return filter_size - 1
    if pad == "same":
        return filter_size // 2
    if isinstance(pad, str):
        raise ValueError(f"Invalid pad: {pad!r}")
    return int(pad)


def conv_output_length(input_length, filter_size, stride, pad=0):
    """Output length of a convolution along one axis.

    Parameters
    ----------
    input_length : int or None
    filter_size : int
    stride : int
    pad : int, 'valid', 'full' or 'same'

    Returns
    -------
    int or None
        None when ``input_length`` is None.

    Examples
    --------
    >>> from sknet.layers.conv import conv_output_length
    >>> conv_output_length(28, 5, 1, 'valid'), conv_output_length(28, 5, 2, 'same')
    (24, 14)
    """
    if input_length is None:
        return None
    if pad == "same":
        output_length = input_length
    else:
        output_length = input_length + 2 * _pad_amount(pad, filter_size) - filter_size + 1
    return (output_length + stride - 1) // stride


def conv_input_length(output_length, filter_size, stride, pad=0):
    """Smallest input length a convolution maps to ``output_length``.

    This is the output length of the matching transposed convolution.

    Parameters
    ----------
    output_length : int or None
        None gives None.
    filter_size, stride, pad
        Those of the convolution, as in :func:`conv_output_length`.

    Returns
    -------
    int or None

    Examples
    --------
    >>> from sknet.layers.conv import conv_input_length, conv_output_length
    >>> conv_input_length(24, 5, 1, 'valid'), conv_input_length(14, 5, 2, 'same')
    (28, 27)
    >>> conv_output_length(27, 5, 2, 'same')
    14
    """
    if output_length is None:
        return None
    return (output_length - 1) * stride - 2 * _pad_amount(pad, filter_size) + filter_size


class BaseConvLayer(Layer):
    """Common base of the n-dimensional convolution layers.

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, channels, *spatial)``.
    num_filters : int
    filter_size : int or tuple of n ints
    stride : int or tuple of n ints
    pad : 'valid', 'full', 'same', int or tuple of n ints
        'same' keeps the size (odd filter sizes only), 'full' pads by
        ``filter_size - 1``, an int pads that many zeros on both sides.
    untie_biases : bool
        One bias per filter and output position instead of one per filter.
    W : initializer, array or shared variable
        Shape ``(num_filters, num_input_channels // num_groups, *filter_size)``.
    b : initializer, array, shared variable or None
    nonlinearity : callable or None
    flip_filters : bool
        True (default) computes a true convolution, flipping ``W``; False a
        cross-correlation.
    num_groups : int
        Split input channels and filters into this many independent groups.
    n : int or None
        Number of spatial dimensions (inferred from the input when None).

    Examples
    --------
    >>> from sknet.layers import InputLayer, Conv2DLayer
    >>> Conv2DLayer(InputLayer((None, 3, 9, 9)), 4, 3, pad='same').output_shape
    (None, 4, 9, 9)
    """

    def __init__(
        self,
        incoming,
        num_filters,
        filter_size,
        stride=1,
        pad=0,
        untie_biases=False,
        W=init.GlorotUniform(),
        b=init.Constant(0.0),
        nonlinearity=nonlinearities.rectify,
        flip_filters=True,
        n=None,
        num_groups=1,
        **kwargs,
    ):
        super().__init__(incoming, **kwargs)
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity
        if n is None:
            n = len(self.input_shape) - 2
        elif n != len(self.input_shape) - 2:
            raise ValueError(
                f"Tried to create a {n}D convolution layer with input shape "
                f"{self.input_shape}. Expected {n + 2} input dimensions "
                f"(batchsize, channels, {n} spatial dimensions)."
            )
        self.n = n
        self.num_filters = num_filters
        self.filter_size = as_tuple(filter_size, n, int)
        self.flip_filters = flip_filters
        self.stride = as_tuple(stride, n, int)
        self.untie_biases = untie_biases

        if pad == "same" and any(s % 2 == 0 for s in self.filter_size):
            raise NotImplementedError("`same` padding requires odd filter size.")
        if pad == "valid":
            self.pad = (0,) * n
        elif pad in ("full", "same"):
            self.pad = pad
        else:
            self.pad = as_tuple(pad, n, int)

        num_input_channels = self.input_shape[1]
        if num_input_channels is None:
            raise ValueError("A convolution layer needs a fixed number of input channels.")
        if num_groups <= 0 or num_input_channels % num_groups or num_filters % num_groups:
            raise ValueError(
                f"num_groups={num_groups} must be positive and divide both the "
                f"{num_input_channels} input channels and the {num_filters} filters"
            )
        self.num_groups = num_groups

        self.W = self.add_param(W, self.get_W_shape(), name="W")
        self.b = _add_channel_bias(self, b, untie_biases)

    def get_W_shape(self):
        """Shape of the weight tensor ``W``."""
        num_input_channels = self.input_shape[1]
        return (self.num_filters, num_input_channels // self.num_groups) + self.filter_size

    def _pad_amounts(self):
        if isinstance(self.pad, str):
            return tuple(_pad_amount(self.pad, f) for f in self.filter_size)
        return self.pad

    def get_output_shape_for(self, input_shape):
        pad = self.pad if isinstance(self.pad, tuple) else (self.pad,) * self.n
        batchsize = input_shape[0]
        return (batchsize, self.num_filters) + tuple(
            conv_output_length(i, f, s, p) for i, f, s, p in zip(input_shape[2:], self.filter_size, self.stride, pad)
        )

    def get_output_for(self, input, **kwargs):
        return self.nonlinearity(_plus_channel_bias(self.convolve(input, **kwargs), self.b, self.untie_biases))

    def convolve(self, input, **kwargs):
        """The linear convolution of ``input`` with ``W`` (no bias, no nonlinearity)."""
        raise NotImplementedError

    def _corr2d(self, input, W, stride, pad):
        # One correlation per group; W is flipped here for a true convolution.
        if self.flip_filters:
            W = W[:, :, ::-1, ::-1]
        op = CorrMM("forward", stride, pad)
        g = self.num_groups
        if g == 1:
            return op(input, W)
        cin = self.input_shape[1] // g
        fout = self.num_filters // g
        parts = [op(input[:, i * cin : (i + 1) * cin], W[i * fout : (i + 1) * fout]) for i in range(g)]
        return T.concatenate(parts, axis=1)


def _conv_parameters(renamed=None, **defaults):
    """Give a convolution layer's ``__init__`` the parameter list of :class:`BaseConvLayer`.

    Every convolution layer takes Lasagne's ``incoming, num_filters,
    filter_size, stride, pad, untie_biases, W, b, nonlinearity,
    flip_filters`` in that positional order; each changes a few defaults,
    may rename one of them, and adds its own parameters after them. This
    declares that list once: the decorated function is called with every
    argument by name (the ones it does not list arrive in ``**kwargs``, to
    pass on), and ``inspect.signature`` shows the layer's full list.

    Parameters
    ----------
    renamed : dict, optional
        ``{shared_name: new_name}``, e.g. ``{'pad': 'crop'}``.
    **defaults
        New defaults of shared parameters (under their new names), then the
        layer's own parameters with their defaults, in positional order.

    Returns
    -------
    callable
        A decorator for ``__init__(self, incoming, num_filters, filter_size, ..., **kwargs)``.

    Examples
    --------
    >>> import inspect
    >>> from sknet.layers.conv import _conv_parameters
    >>> class Layer3D:
    ...     @_conv_parameters(stride=(1, 1, 1), convolution=None)
    ...     def __init__(self, incoming, num_filters, filter_size, stride, **kwargs):
    ...         self.stride = stride
    >>> list(inspect.signature(Layer3D).parameters)[3:]
    ['stride', 'pad', 'untie_biases', 'W', 'b', 'nonlinearity', 'flip_filters', 'convolution', 'kwargs']
    >>> Layer3D((None, 1, 4, 4, 4), 2, 3, 2).stride
    2
    """
    renamed = renamed or {}
    shared = list(inspect.signature(BaseConvLayer.__init__).parameters.values())
    shared = shared[: [p.name for p in shared].index("flip_filters") + 1]
    params = []
    for p in shared:
        name = renamed.get(p.name, p.name)
        params.append(p.replace(name=name, default=defaults.pop(name, p.default)))
    params += [
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=d) for name, d in defaults.items()
    ]
    signature = inspect.Signature([*params, inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)])

    def decorate(body):
        @functools.wraps(body)
        def __init__(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            named = dict(bound.arguments)
            self, extra = named.pop("self"), named.pop("kwargs")
            body(self, **named, **extra)

        __init__.__signature__ = signature
        return __init__

    return decorate


def _check_convolution(layer, convolution):
    # Lasagne's `convolution` argument named a Theano function; sknet has one
    # implementation, so only None is meaningful.
    if convolution is not None:
        raise ValueError(f"sknet's {type(layer).__name__} has a single convolution implementation")


class Conv2DLayer(BaseConvLayer):
    """2-D convolution layer on bc01 input ``(batch, channels, rows, cols)``.

    Parameters are those of :class:`BaseConvLayer` with ``n=2``; ``W`` has
    shape ``(num_filters, num_input_channels // num_groups, rows, cols)``.
    ``convolution`` (Lasagne's hook for a Theano function) must be None:
    sknet has one implementation.

    Examples
    --------
    >>> from sknet.layers import InputLayer, Conv2DLayer
    >>> l = Conv2DLayer(InputLayer((None, 1, 28, 28)), num_filters=32, filter_size=(5, 5))
    >>> l.output_shape, l.W.get_value().shape
    ((None, 32, 24, 24), (32, 1, 5, 5))
    """

    @_conv_parameters(stride=(1, 1), convolution=None, num_groups=1)
    def __init__(self, incoming, num_filters, filter_size, convolution, **kwargs):
        super().__init__(incoming, num_filters, filter_size, n=2, **kwargs)
        _check_convolution(self, convolution)

    def convolve(self, input, **kwargs):
        return self._corr2d(input, self.W, self.stride, self._pad_amounts())


class Conv1DLayer(BaseConvLayer):
    """1-D convolution layer on input ``(batch, channels, length)``.

    Computed as a 2-D convolution over a dummy row axis; parameters are
    those of :class:`Conv2DLayer` for one spatial axis.

    Examples
    --------
    >>> from sknet.layers import InputLayer, Conv1DLayer, get_output
    >>> x = np.ones((1, 1, 5), 'float32')
    >>> l = Conv1DLayer(InputLayer((None, 1, 5)), 1, 3, W=np.ones((1, 1, 3), 'float32'),
    ...                 nonlinearity=None, pad='same')
    >>> l.output_shape
    (None, 1, 5)
    >>> get_output(l, x).eval()
    array([[[2., 3., 3., 3., 2.]]], dtype=float32)
    """

    @_conv_parameters(convolution=None, num_groups=1)
    def __init__(self, incoming, num_filters, filter_size, convolution, **kwargs):
        super().__init__(incoming, num_filters, filter_size, n=1, **kwargs)
        _check_convolution(self, convolution)

    def convolve(self, input, **kwargs):
        x4 = input.dimshuffle(0, 1, "x", 2)
        W4 = self.W.dimshuffle(0, 1, "x", 2)
        out = self._corr2d(x4, W4, (1,) + self.stride, (0,) + self._pad_amounts())
        return out[:, :, 0, :]


class _TransposedConvLayer(BaseConvLayer):
    """Common base of the n-dimensional transposed convolutions.

    A transposed convolution is the gradient of a convolution with respect
    to its input: ``crop`` is that convolution's ``pad`` (kept as ``pad``
    too), ``W`` has its first two axes swapped against a
    :class:`BaseConvLayer`'s, and ``output_size`` picks the output size when
    the stride leaves it ambiguous (a symbolic one gives unknown sizes in
    ``output_shape``).

    Parameters
    ----------
    incoming, num_filters, filter_size, stride
        As in :class:`BaseConvLayer`; ``num_filters`` counts output channels.
    crop : 'valid', 'full', 'same', int or tuple of n ints
    output_size : int, tuple of n ints, symbolic int vector or None
    n : int
        Number of spatial dimensions.
    **kwargs
        ``untie_biases``, ``W``, ``b``, ``nonlinearity``, ``flip_filters``
        and ``name``, as in :class:`BaseConvLayer`.

    Examples
    --------
    >>> from sknet.layers import InputLayer, TransposedConv2DLayer
    >>> l = TransposedConv2DLayer(InputLayer((None, 8, 5, 5)), 3, 3, stride=2, output_size=12)
    >>> l.output_shape, l.W.get_value().shape
    ((None, 3, 12, 12), (8, 3, 3, 3))
    """

    def __init__(self, incoming, num_filters, filter_size, stride, crop, output_size, n, **kwargs):
        # a symbolic output_size (e.g. a shared int vector) is kept as it is
        if output_size is not None and not isinstance(output_size, Variable):
            output_size = as_tuple(output_size, n, int)
        self.output_size = output_size
        super().__init__(incoming, num_filters, filter_size, stride, crop, n=n, **kwargs)
        self.crop = self.pad  # 'pad' of the convolution this layer transposes
        if self.num_groups != 1:
            raise ValueError(f"{type(self).__name__} has no grouped version (num_groups={self.num_groups})")
        if self.output_size is not None and not isinstance(self.output_size, Variable):
            self._check_output_size()

    def _check_output_size(self):
        crop = self._pad_amounts()
        for i, size in enumerate(self.output_size):
            n = self.input_shape[2 + i]
            reached = conv_output_length(size, self.filter_size[i], self.stride[i], crop[i])
            if n is not None and reached != n:
                raise ValueError(
                    f"output_size {self.output_size} cannot come from an input of spatial "
                    f"shape {self.input_shape[2:]} (axis {i}: a convolution of size "
                    f"{size} gives {reached}, not {n})"
                )

    def get_W_shape(self):
        return (self.input_shape[1], self.num_filters) + self.filter_size

    def get_output_shape_for(self, input_shape):
        if isinstance(self.output_size, Variable):
            return (input_shape[0], self.num_filters) + (None,) * self.n
        if self.output_size is not None:
            return (input_shape[0], self.num_filters) + self.output_size
        crop = self.pad if isinstance(self.pad, tuple) else (self.pad,) * self.n
        return (input_shape[0], self.num_filters) + tuple(
            conv_input_length(i, f, s, p) for i, f, s, p in zip(input_shape[2:], self.filter_size, self.stride, crop)
        )

    def _spatial_output_size(self, input):
        """``output_size``, or the largest output the input's symbolic shape allows."""
        if self.output_size is not None:
            return self.output_size
        crop = self._pad_amounts()
        return [(input.shape[2 + i] - 1) * self.stride[i] - 2 * crop[i] + self.filter_size[i] for i in range(self.n)]


class TransposedConv2DLayer(_TransposedConvLayer):
    """2-D transposed convolution ("deconvolution"): the gradient of a
    :class:`Conv2DLayer` with respect to its input, used as a layer.

    Parameters
    ----------
    incoming : Layer or tuple
    num_filters : int
        Number of output channels.
    filter_size, stride : int or tuple of 2 ints
    crop : 'valid', 'full', 'same', int or tuple of 2 ints
        The padding of the convolution this layer transposes; removed from
        the output. 0 ('valid') gives the largest output.
    untie_biases, b, nonlinearity
        As in :class:`Conv2DLayer`.
    W : initializer, array or shared variable
        Shape ``(num_input_channels, num_filters, rows, cols)``, as the ``W``
        of the convolution this layer transposes.
    flip_filters : bool
        False (default) makes this layer the exact transpose of a
        ``Conv2DLayer`` with ``flip_filters=True`` and the same ``W``.
    output_size : int, tuple of 2 ints, symbolic int vector or None
        Output size when the stride leaves it ambiguous; a symbolic one (a
        shared variable, say) gives unknown sizes in ``output_shape``.

    Examples
    --------
    >>> from sknet.layers import InputLayer, TransposedConv2DLayer
    >>> TransposedConv2DLayer(InputLayer((None, 8, 5, 5)), 3, 4, stride=2).output_shape
    (None, 3, 12, 12)
    """

    @_conv_parameters(renamed={"pad": "crop"}, stride=(1, 1), flip_filters=False, output_size=None)
    def __init__(self, incoming, num_filters, filter_size, **kwargs):
        super().__init__(incoming, num_filters, filter_size, n=2, **kwargs)

    def convolve(self, input, **kwargs):
        W = self.W if self.flip_filters else self.W[:, :, ::-1, ::-1]
        out_hw = self._spatial_output_size(input)
        out_hw = out_hw if isinstance(out_hw, Variable) else T.stack(out_hw)
        return CorrMM("inputs", self.stride, self._pad_amounts())(W, input, out_hw)


Deconv2DLayer = TransposedConv2DLayer
