"""Theano's names, as old scripts use them, mapped to PyTensor and sknet's ops.

Theano-era code (the deeplearning.net tutorials, Lasagne-era blogs) ports by
changing its imports::

    import theano                          ->  from sknet import theano_compat as theano
    import theano.tensor as T              ->  from sknet.theano_compat import tensor as T
    from theano.tensor.nnet import conv2d  ->  from sknet.theano_compat import conv2d
    from theano.tensor.signal import pool  ->  from sknet.theano_compat import pool
    from theano.tensor.nnet import conv    ->  from sknet.theano_compat import conv

``theano.function``, ``theano.shared``, ``theano.config``, ``theano.pp``,
``T.nnet.sigmoid``, ``T.nnet.conv2d``, ``T.tensor4``... then resolve to their
PyTensor counterparts. PyTensor names that kept Theano's spelling are passed
through unchanged (``tensor`` falls back to ``pytensor.tensor``); the names
PyTensor renamed or dropped are defined here. ``docs/theano-porting.md`` lists
every rename. New code should import ``pytensor`` directly.
"""

import types

import numpy as np
import pytensor
import pytensor.gradient
import pytensor.printing
import pytensor.tensor as T
import pytensor.tensor.random as ptr
from pytensor.graph.replace import clone_replace

from . import objectives
from .nonlinearities import rectify
from .ops.corr import CorrMM
from .ops.pool import pool_2d as _sknet_pool_2d
from .utils import set_default_update

__all__ = [
    "function",
    "shared",
    "config",
    "scan",
    "grad",
    "printing",
    "pp",
    "In",
    "Out",
    "clone",
    "gradient",
    "tensor",
    "nnet",
    "conv2d",
    "conv",
    "pool",
    "downsample",
    "pool_2d",
    "max_pool_2d",
    "RandomStreams",
    "MRG_RandomStreams",
    "sandbox",
]

# theano.* names PyTensor keeps under the same spelling.
function = pytensor.function
shared = pytensor.shared
config = pytensor.config
scan = pytensor.scan
grad = pytensor.grad
printing = pytensor.printing
gradient = pytensor.gradient
In = pytensor.In
Out = pytensor.Out
# and those it moved: theano.pp is pytensor.printing.pp, theano.clone is clone_replace.
pp = pytensor.printing.pp
clone = clone_replace


class _Namespace(types.ModuleType):
    """A module-like namespace: its own names first, then those of ``fallback``."""

    def __init__(self, name, doc, fallback=None, **names):
        super().__init__(name, doc)
        self._fallback = fallback
        self.__dict__.update(names)

    def __getattr__(self, attr):
        fallback = self.__dict__.get("_fallback")
        if fallback is not None and not attr.startswith("__"):
            try:
                return getattr(fallback, attr)
            except AttributeError:
                pass
        raise AttributeError(
            f"{self.__name__} has no {attr!r}: PyTensor has no such name and sknet.theano_compat "
            "maps none (see docs/theano-porting.md)"
        )

    def __dir__(self):
        own = [k for k in self.__dict__ if not k.startswith("_")]
        return sorted(set(own) | set(dir(self._fallback) if self._fallback is not None else ()))


# -- T.nnet ---------------------------------------------------------------------


def relu(x, alpha=0):
    """Theano's ``T.nnet.relu``: ``x`` where positive, ``alpha * x`` elsewhere.

    Examples
    --------
    >>> relu(T.constant([-2.0, 3.0]), alpha=0.1).eval()
    array([-0.2,  3. ])
    """
    if isinstance(alpha, (int, float)) and alpha == 0:
        return rectify(x)
    return T.switch(x > 0, x, alpha * x)


def elu(x, alpha=1):
    """Theano's ``T.nnet.elu``: ``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere.

    Examples
    --------
    >>> print(np.round(elu(T.constant([-1.0, 2.0])).eval(), 4))
    [-0.6321  2.    ]
    """
    return T.switch(x > 0, x, alpha * T.expm1(x))


def hard_sigmoid(x):
    """Theano's ``T.nnet.hard_sigmoid``: ``clip(0.2 * x + 0.5, 0, 1)``.

    Examples
    --------
    >>> hard_sigmoid(T.constant([-5.0, 0.0, 1.0])).eval()
    array([0. , 0.5, 0.7])
    """
    return T.clip(0.2 * x + 0.5, 0, 1)


def softsign(x):
    """Theano's ``T.nnet.softsign``: ``x / (1 + |x|)``.

    Examples
    --------
    >>> softsign(T.constant([-3.0, 1.0])).eval()
    array([-0.75,  0.5 ])
    """
    return x / (1 + abs(x))


def softmax(c):
    """Theano's ``T.nnet.softmax``: a softmax over the last axis (each row of a matrix).

    Examples
    --------
    >>> print(np.round(softmax(T.constant([[0.0, np.log(3.0)]])).eval(), 4))
    [[0.25 0.75]]
    """
    return T.special.softmax(c, axis=-1)


def logsoftmax(c):
    """Theano's ``T.nnet.logsoftmax``: ``log(softmax(c))`` over the last axis, computed stably.

    Examples
    --------
    >>> print(np.round(logsoftmax(T.constant([[0.0, 0.0]])).eval(), 4))
    [[-0.6931 -0.6931]]
    """
    return T.special.log_softmax(c, axis=-1)


def binary_crossentropy(output, target):
    """Theano's ``T.nnet.binary_crossentropy``: ``-(t log(o) + (1 - t) log(1 - o))``, elementwise.

    Examples
    --------
    >>> print(np.round(binary_crossentropy(T.constant([0.8]), T.constant([1.0])).eval(), 4))
    [0.2231]
    """
    return -(target * T.log(output) + (1.0 - target) * T.log(1.0 - output))


def categorical_crossentropy(coding_dist, true_dist):
    """Theano's ``T.nnet.categorical_crossentropy``: one loss per row.

    ``true_dist`` is a matrix of target distributions or a vector of class
    indices, as in Theano (and :func:`sknet.objectives.categorical_crossentropy`).

    Examples
    --------
    >>> p = T.constant([[0.5, 0.25, 0.25]])
    >>> print(np.round(categorical_crossentropy(p, T.constant([1])).eval(), 4))
    [1.3863]
    """
    return objectives.categorical_crossentropy(coding_dist, true_dist)


def _pair(value, name):
    if isinstance(value, int):
        return (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) and v >= 0 for v in value):
        raise ValueError(f"{name} must be an int or a pair of non-negative ints; got {value!r}")
    return value


def _kernel_size(filters, filter_shape):
    """The (rows, cols) of the filters: from filter_shape, the static type or a shared value."""
    if filter_shape is not None and None not in tuple(filter_shape)[2:]:
        return tuple(int(k) for k in tuple(filter_shape)[2:])
    static = filters.type.shape[2:]
    if None not in static:
        return tuple(int(k) for k in static)
    if hasattr(filters, "get_value"):
        return tuple(filters.get_value(borrow=True).shape[2:])
    return None


def conv2d(
    input,
    filters,
    input_shape=None,
    filter_shape=None,
    border_mode="valid",
    subsample=(1, 1),
    filter_flip=True,
    image_shape=None,
    filter_dilation=(1, 1),
    num_groups=1,
):
    """Theano's ``T.nnet.conv2d``, on sknet's correlation op (``sknet.ops.corr.CorrMM``).

    With ``filter_flip=True`` (Theano's default) the kernels are flipped in
    both spatial axes, so this is a true 2-D convolution, summed over the
    input channels; ``filter_flip=False`` gives a cross-correlation.

    Parameters
    ----------
    input : 4-D tensor (batch, channels, rows, cols)
    filters : 4-D tensor (num_filters, channels, rows, cols)
    input_shape, filter_shape : tuple of 4 ints or None, optional
        Hints, as in Theano. ``filter_shape`` gives the kernel size where
        ``'full'`` or ``'half'`` need it and the filters' type does not hold it.
    border_mode : 'valid', 'full', 'half', int or (int, int)
        'valid': only where the kernel fits; 'full': wherever it overlaps
        (zero padding of kernel size - 1); 'half': zero padding of kernel
        size // 2 (the input's size for odd kernels); an int or pair: that
        padding.
    subsample : (int, int)
        The stride.
    filter_flip : bool
        True: convolution (flip the kernels); False: correlation.
    image_shape : tuple, optional
        The old name of ``input_shape``.
    filter_dilation : (1, 1)
        Only (1, 1) is supported.
    num_groups : int
        Only 1 is supported.

    Returns
    -------
    4-D tensor (batch, num_filters, out_rows, out_cols)

    Examples
    --------
    >>> x = np.arange(9.0, dtype='float32').reshape(1, 1, 3, 3)
    >>> w = np.array([[[[1.0, 0.0], [0.0, 0.0]]]], dtype='float32')
    >>> conv2d(T.constant(x), T.constant(w)).eval()[0, 0]  # the flipped kernel picks the bottom right
    array([[4., 5.],
           [7., 8.]], dtype=float32)
    >>> conv2d(T.constant(x), T.constant(w), filter_flip=False).eval()[0, 0]
    array([[0., 1.],
           [3., 4.]], dtype=float32)
    """
    input, filters = T.as_tensor_variable(input), T.as_tensor_variable(filters)
    if input.ndim != 4 or filters.ndim != 4:
        raise ValueError(
            "conv2d takes a 4-D input (batch, channels, rows, cols) and 4-D filters "
            f"(num_filters, channels, rows, cols); got {input.ndim}-D input and {filters.ndim}-D filters"
        )
    if tuple(filter_dilation) != (1, 1):
        raise ValueError(f"conv2d supports filter_dilation=(1, 1) only; got {filter_dilation!r}")
    if num_groups != 1:
        raise ValueError(f"conv2d supports num_groups=1 only; got {num_groups!r}")
    stride = _pair(subsample, "subsample")
    if min(stride) < 1:
        raise ValueError(f"subsample must be positive; got {subsample!r}")
    if border_mode in ("valid", "full", "half"):
        kernel = _kernel_size(filters, filter_shape)
        if kernel is None and border_mode != "valid":
            raise ValueError(f"border_mode={border_mode!r} needs the kernel size: pass filter_shape")
        pad = {
            "valid": (0, 0),
            "full": tuple(k - 1 for k in kernel or ()),
            "half": tuple(k // 2 for k in kernel or ()),
        }[border_mode]
    elif isinstance(border_mode, str):
        raise ValueError(f"border_mode must be 'valid', 'full', 'half', an int or a pair; got {border_mode!r}")
    else:
        pad = _pair(border_mode, "border_mode")
    if filter_flip:
        filters = filters[:, :, ::-1, ::-1]
    return CorrMM("forward", stride, pad)(input, filters)


def _legacy_conv2d(
    input, filters, filter_shape=None, image_shape=None, border_mode="valid", subsample=(1, 1), **kwargs
):
    """``theano.tensor.nnet.conv.conv2d`` (before Theano 0.9): a true convolution, old argument order."""
    return conv2d(
        input,
        filters,
        input_shape=image_shape,
        filter_shape=filter_shape,
        border_mode=border_mode,
        subsample=subsample,
        filter_flip=True,
    )


nnet = _Namespace(
    "sknet.theano_compat.nnet",
    "theano.tensor.nnet",
    sigmoid=T.sigmoid,
    ultra_fast_sigmoid=T.sigmoid,
    hard_sigmoid=hard_sigmoid,
    softplus=T.softplus,
    softsign=softsign,
    relu=relu,
    elu=elu,
    softmax=softmax,
    logsoftmax=logsoftmax,
    binary_crossentropy=binary_crossentropy,
    categorical_crossentropy=categorical_crossentropy,
    conv2d=conv2d,
    conv=_Namespace("sknet.theano_compat.nnet.conv", "theano.tensor.nnet.conv", conv2d=_legacy_conv2d),
)


# -- T.signal.pool / T.signal.downsample -------------------------------------------


def pool_2d(input, ws=None, ignore_border=None, stride=None, pad=(0, 0), mode="max", ds=None, st=None, padding=None):
    """Theano's ``pool.pool_2d``: pooling over the last two axes, on sknet's pooling op.

    Parameters
    ----------
    input : tensor of 2 or more dimensions
    ws : (int, int)
        Window size (``ds`` is its old name).
    ignore_border : bool or None
        False (Theano 1.0's default for None) keeps a last partial window.
    stride : (int, int), optional
        Defaults to ``ws`` (``st`` is its old name).
    pad : (int, int)
        Zero padding (``padding`` is its old name).
    mode : 'max', 'average_inc_pad' or 'average_exc_pad'

    Returns
    -------
    tensor

    Examples
    --------
    >>> x = T.constant(np.arange(16.0, dtype='float32').reshape(1, 1, 4, 4))
    >>> pool_2d(x, ws=(2, 2), ignore_border=True).eval()[0, 0]
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
    """
    ws = ws if ws is not None else ds
    if ws is None:
        raise ValueError("pool_2d needs the window size ws (or the old ds)")
    stride = stride if stride is not None else st
    pad = padding if padding is not None else pad
    if mode == "sum":
        raise ValueError("mode='sum' is not supported; use 'average_inc_pad' times the window area")
    input = T.as_tensor_variable(input)
    if input.ndim < 2:
        raise ValueError(f"pool_2d needs at least 2 dimensions; got {input.ndim}")
    ignore_border = False if ignore_border is None else ignore_border
    if input.ndim == 4:
        return _sknet_pool_2d(input, tuple(ws), stride, tuple(pad), ignore_border, mode)
    rows, cols = input.shape[-2], input.shape[-1]
    pooled = _sknet_pool_2d(input.reshape((-1, 1, rows, cols)), tuple(ws), stride, tuple(pad), ignore_border, mode)
    return pooled.reshape(T.concatenate([input.shape[:-2], pooled.shape[-2:]]), ndim=input.ndim)


def max_pool_2d(input, ds, ignore_border=None, st=None, padding=(0, 0), mode="max"):
    """Theano's ``downsample.max_pool_2d`` (before Theano 0.9): :func:`pool_2d` under its old names.

    Examples
    --------
    >>> x = T.constant(np.arange(9.0, dtype='float32').reshape(1, 1, 3, 3))
    >>> max_pool_2d(x, (2, 2)).eval()[0, 0]  # ignore_border=None keeps the partial windows
    array([[4., 5.],
           [7., 8.]], dtype=float32)
    """
    return pool_2d(input, ws=ds, ignore_border=ignore_border, stride=st, pad=padding, mode=mode)


conv = nnet.conv
pool = _Namespace("sknet.theano_compat.pool", "theano.tensor.signal.pool", pool_2d=pool_2d)
downsample = _Namespace("sknet.theano_compat.downsample", "theano.tensor.signal.downsample", max_pool_2d=max_pool_2d)
signal = _Namespace(
    "sknet.theano_compat.signal", "theano.tensor.signal", fallback=T.signal, pool=pool, downsample=downsample
)


# -- random streams ---------------------------------------------------------------


class RandomStreams:
    """Theano's ``RandomStreams`` / ``MRG_RandomStreams``: ``size`` first, ``avg``/``std`` for normal.

    Each draw gets its own PyTensor shared generator, seeded from this
    object's seed, whose state advances on every call of a compiled function
    (as Theano's did). PyTensor's own generator methods take the
    distribution's parameters first (``uniform(low, high, size)``), so
    Theano's ``srng.uniform((2, 2))`` would silently mean ``low=(2, 2)`` there.

    Parameters
    ----------
    seed : int, optional

    Examples
    --------
    >>> srng = RandomStreams(seed=234)
    >>> f = pytensor.function([], srng.uniform((2, 2)))
    >>> a, b = f(), f()
    >>> a.shape, bool((a != b).all()), bool(((0 <= a) & (a < 1)).all())
    ((2, 2), True, True)
    """

    def __init__(self, seed=None):
        self._seeds = np.random.default_rng(seed)
        self._generators = []

    def seed(self, seed):
        """Reseed every generator made so far and those to come (``srng.seed(n)`` in Theano)."""
        self._seeds = np.random.default_rng(seed)
        for rng in self._generators:
            rng.set_value(np.random.default_rng(self._seeds.integers(2**63)))

    def _draw(self, method, *args, size):
        rng = ptr.shared_rng(np.random.default_rng(self._seeds.integers(2**63)))
        self._generators.append(rng)
        next_rng, sample = getattr(rng, method)(*args, size=size)
        set_default_update(rng, next_rng)
        return sample

    def uniform(self, size=None, low=0.0, high=1.0, ndim=None, dtype=None, **kwargs):
        """Uniform on [low, high), in ``dtype`` (default floatX)."""
        return T.cast(self._draw("uniform", low, high, size=size), dtype or config.floatX)

    def normal(self, size=None, avg=0.0, std=1.0, ndim=None, dtype=None, **kwargs):
        """Normal with mean ``avg`` and standard deviation ``std``, in ``dtype`` (default floatX)."""
        return T.cast(self._draw("normal", avg, std, size=size), dtype or config.floatX)

    def binomial(self, size=None, n=1, p=0.5, ndim=None, dtype="int64", **kwargs):
        """Binomial counts; ``n=1`` gives the 0/1 masks of dropout."""
        return T.cast(self._draw("binomial", n, p, size=size), dtype)


MRG_RandomStreams = RandomStreams


def addbroadcast(x, *axes):
    """Theano's ``T.addbroadcast``: PyTensor's ``specify_broadcastable``.

    Examples
    --------
    >>> addbroadcast(T.matrix('m'), 0).type.shape
    (1, None)
    """
    return T.specify_broadcastable(x, *axes)


tensor = _Namespace(
    "sknet.theano_compat.tensor",
    "theano.tensor",
    fallback=T,
    nnet=nnet,
    signal=signal,
    abs_=abs,
    addbroadcast=addbroadcast,
    verify_grad=pytensor.gradient.verify_grad,
    Rop=pytensor.gradient.Rop,
    Lop=pytensor.gradient.Lop,
    shared_randomstreams=_Namespace(
        "sknet.theano_compat.shared_randomstreams", "theano.tensor.shared_randomstreams", RandomStreams=RandomStreams
    ),
)
sandbox = _Namespace(
    "sknet.theano_compat.sandbox",
    "theano.sandbox",
    rng_mrg=_Namespace("sknet.theano_compat.rng_mrg", "theano.sandbox.rng_mrg", MRG_RandomStreams=MRG_RandomStreams),
)
