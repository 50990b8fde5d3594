"""Parameter initializers with Lasagne's names: ``W=init.GlorotUniform()``."""

import numpy as np

from .random import get_rng
from .utils import floatX

__all__ = [
    "Initializer",
    "Normal",
    "Uniform",
    "Glorot",
    "GlorotNormal",
    "GlorotUniform",
    "He",
    "HeNormal",
    "HeUniform",
    "Constant",
    "Sparse",
    "Orthogonal",
]


class Initializer:
    """Base class: calling an initializer with a shape returns a float32 array.

    Subclasses implement :meth:`sample`.

    Examples
    --------
    >>> Constant(2.0)((2,)).tolist()
    [2.0, 2.0]
    """

    def __call__(self, shape):
        return self.sample(shape)

    def sample(self, shape):
        raise NotImplementedError()

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Normal(Initializer):
    """Samples from a normal distribution with ``mean`` and ``std``.

    Examples
    --------
    >>> round(float(Normal(std=0.1)((1000,)).std()), 1)
    0.1
    """

    def __init__(self, std=0.01, mean=0.0):
        self.std = std
        self.mean = mean

    def sample(self, shape):
        return floatX(get_rng().normal(self.mean, self.std, size=shape))


class Uniform(Initializer):
    """Samples uniformly from ``range`` (a half-width or a ``(low, high)`` pair).

    With ``std`` given, the interval is centred on ``mean`` with that standard
    deviation instead.

    Examples
    --------
    >>> w = Uniform(range=(0, 1))((100,))
    >>> bool(w.min() >= 0 and w.max() < 1)
    True
    """

    def __init__(self, range=0.01, std=None, mean=0.0):
        if std is not None:
            a = mean - np.sqrt(3) * std
            b = mean + np.sqrt(3) * std
        else:
            try:
                a, b = range
            except TypeError:
                a, b = -range, range
        self.range = (a, b)

    def sample(self, shape):
        return floatX(get_rng().uniform(low=self.range[0], high=self.range[1], size=shape))


def _glorot_fans(shape, c01b):
    if c01b:
        if len(shape) != 4:
            raise RuntimeError("If c01b is True, only shapes of length 4 are accepted")
        n1, n2 = shape[0], shape[3]
        receptive_field_size = shape[1] * shape[2]
    else:
        if len(shape) < 2:
            raise RuntimeError("This initializer only works with shapes of length >= 2")
        n1, n2 = shape[:2]
        receptive_field_size = int(np.prod(shape[2:]))
    return n1, n2, receptive_field_size


def _resolve_gain(gain):
    if gain == "relu":
        return np.sqrt(2)
    return gain


class _FanScaled(Initializer):
    """Glorot and He: ``initializer(std=gain * unit_std)``, the unit std set by the shape's fans."""

    def __init__(self, initializer, gain=1.0, c01b=False):
        self.initializer = initializer
        self.gain = _resolve_gain(gain)
        self.c01b = c01b

    def sample(self, shape):
        return self.initializer(std=self.gain * self._unit_std(shape)).sample(shape)


class Glorot(_FanScaled):
    """Glorot/Xavier initialization: ``std = gain * sqrt(2 / ((n_in + n_out) * field))``.

    Parameters
    ----------
    initializer : class
        ``Normal`` or ``Uniform``, called with the computed ``std``.
    gain : float or 'relu'
    c01b : bool
        Whether conv weights are in c01b layout.

    Examples
    --------
    >>> Glorot(Normal)((100, 200)).shape
    (100, 200)
    """

    def _unit_std(self, shape):
        n1, n2, field = _glorot_fans(shape, self.c01b)
        return np.sqrt(2.0 / ((n1 + n2) * field))


class GlorotNormal(Glorot):
    """Glorot initialization with normal samples of that std.

    Examples
    --------
    >>> round(float(GlorotNormal()((500, 500)).std()), 3)
    0.045
    """

    def __init__(self, gain=1.0, c01b=False):
        super().__init__(Normal, gain, c01b)


class GlorotUniform(Glorot):
    """Glorot initialization with uniform samples (Lasagne's default for ``W``).

    For a dense ``(n_in, n_out)`` matrix the samples lie within
    ``gain * sqrt(6 / (n_in + n_out))`` of 0, the interval with Glorot's std.

    Examples
    --------
    >>> w = GlorotUniform()((100, 100))
    >>> bool(abs(w).max() <= np.sqrt(6 / 200))
    True
    """

    def __init__(self, gain=1.0, c01b=False):
        super().__init__(Uniform, gain, c01b)


class He(_FanScaled):
    """He initialization: ``std = gain * sqrt(1 / fan_in)``.

    ``fan_in`` is ``shape[0]`` for a dense weight matrix and the product of all
    but the first dimension for conv filters. ``gain='relu'`` gives sqrt(2).

    Examples
    --------
    >>> He(Normal, gain='relu')((10, 5)).shape
    (10, 5)
    """

    def _unit_std(self, shape):
        if self.c01b:
            if len(shape) != 4:
                raise RuntimeError("If c01b is True, only shapes of length 4 are accepted")
            fan_in = int(np.prod(shape[:3]))
        elif len(shape) == 2:
            fan_in = shape[0]
        elif len(shape) > 2:
            fan_in = int(np.prod(shape[1:]))
        else:
            raise RuntimeError("This initializer only works with shapes of length >= 2")
        return np.sqrt(1.0 / fan_in)


class HeNormal(He):
    """He initialization with normal samples, for rectifier layers with ``gain='relu'``.

    Examples
    --------
    A ReLU layer with 1000 inputs gets ``std = sqrt(2 / 1000)``:

    >>> round(float(HeNormal(gain='relu')((1000, 400)).std()), 3)
    0.045
    """

    def __init__(self, gain=1.0, c01b=False):
        super().__init__(Normal, gain, c01b)


class HeUniform(He):
    """He initialization with uniform samples, within ``gain * sqrt(3 / fan_in)`` of 0.

    Examples
    --------
    >>> bool(abs(HeUniform()((100, 50))).max() <= np.sqrt(3 / 100))
    True
    """

    def __init__(self, gain=1.0, c01b=False):
        super().__init__(Uniform, gain, c01b)


class Constant(Initializer):
    """Fills the array with one value (Lasagne's default for biases: 0).

    Examples
    --------
    >>> Constant(0.5)((2, 2)).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """

    def __init__(self, val=0.0):
        self.val = val

    def sample(self, shape):
        return floatX(np.ones(shape) * self.val)


class Sparse(Initializer):
    """Sets ``sparsity`` of each column's entries to normal samples, the rest to 0.

    Examples
    --------
    >>> w = Sparse(sparsity=0.5)((10, 3))
    >>> (w != 0).sum(axis=0).tolist()
    [5, 5, 5]
    """

    def __init__(self, sparsity=0.1, std=0.01):
        self.sparsity = sparsity
        self.std = std

    def sample(self, shape):
        if len(shape) != 2:
            raise RuntimeError("sparse initializer only works with shapes of length 2")
        w = floatX(np.zeros(shape))
        n_inputs, n_outputs = shape
        size = int(self.sparsity * n_inputs)
        rng = get_rng()
        for k in range(n_outputs):
            indices = np.arange(n_inputs)
            rng.shuffle(indices)
            indices = indices[:size]
            w[indices, k] = rng.normal(0.0, self.std, size=size)
        return w


class Orthogonal(Initializer):
    """Orthogonal matrix (flattened over trailing axes) times ``gain``.

    Examples
    --------
    >>> w = Orthogonal()((4, 4))
    >>> np.allclose(w @ w.T, np.eye(4), atol=1e-5)
    True
    """

    def __init__(self, gain=1.0):
        self.gain = _resolve_gain(gain)

    def sample(self, shape):
        if len(shape) < 2:
            raise RuntimeError("Only shapes of length 2 or more are supported.")
        flat_shape = (shape[0], int(np.prod(shape[1:])))
        a = get_rng().normal(0.0, 1.0, flat_shape)
        u, _, v = np.linalg.svd(a, full_matrices=False)
        q = u if u.shape == flat_shape else v
        q = q.reshape(shape)
        return floatX(self.gain * q)
