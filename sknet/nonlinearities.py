"""Activation functions with Lasagne's names, as PyTensor expressions."""

import numpy as np
import pytensor.tensor as T
from pytensor.graph.basic import Variable

from .ops.relu import relu

__all__ = [
    "sigmoid",
    "softmax",
    "tanh",
    "ScaledTanH",
    "ScaledTanh",
    "rectify",
    "LeakyRectify",
    "leaky_rectify",
    "very_leaky_rectify",
    "elu",
    "SELU",
    "selu",
    "softplus",
    "linear",
    "identity",
]


def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``.

    Its values lie in (0, 1), which makes it the output nonlinearity of a
    one-unit binary classifier.

    Examples
    --------
    >>> sigmoid(T.constant([-np.inf, 0.0])).eval().tolist()
    [0.0, 0.5]
    """
    return T.sigmoid(x)


def softmax(x):
    """Row-wise softmax ``exp(x_i) / sum_j exp(x_j)`` of a matrix.

    Examples
    --------
    >>> import numpy as np
    >>> softmax(T.constant(np.zeros((1, 4), dtype='float32'))).eval().tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """
    return T.special.softmax(x, axis=-1)


def tanh(x):
    """Hyperbolic tangent, the zero-centred sigmoid: ``tanh(x) = 2 * sigmoid(2 * x) - 1``.

    Examples
    --------
    >>> x = T.constant(0.75)
    >>> bool(np.isclose(tanh(x).eval(), (2 * sigmoid(2 * x) - 1).eval()))
    True
    """
    return T.tanh(x)


class ScaledTanH:
    """Scaled tanh ``scale_out * tanh(scale_in * x)``.

    LeCun's recommended values are ``scale_in=2/3``, ``scale_out=1.7159``.

    Examples
    --------
    >>> f = ScaledTanH(scale_in=0.5, scale_out=2.0)
    >>> round(float(f(T.constant(2.0)).eval()), 4)
    1.5232
    """

    def __init__(self, scale_in=1, scale_out=1):
        self.scale_in = scale_in
        self.scale_out = scale_out

    def __call__(self, x):
        return self.scale_out * T.tanh(self.scale_in * x)


ScaledTanh = ScaledTanH


def rectify(x):
    """Rectified linear unit ``max(0, x)``.

    As in Lasagne, a numpy array (or number) gives a numpy result, computed
    at once; a PyTensor expression gives an expression.

    Examples
    --------
    >>> float(rectify(T.constant(-1.0)).eval())
    0.0
    >>> rectify(np.array([-1.5, 2.0]))
    array([0., 2.])
    """
    if not isinstance(x, Variable):
        return np.maximum(np.asarray(x), 0)
    return relu(x)


class LeakyRectify:
    """Leaky rectifier ``max(leakiness * x, x)``.

    Examples
    --------
    >>> round(float(LeakyRectify(0.1)(T.constant(-2.0)).eval()), 4)
    -0.2
    """

    def __init__(self, leakiness=0.01):
        self.leakiness = leakiness

    def __call__(self, x):
        return T.switch(x > 0, x, self.leakiness * x)


leaky_rectify = LeakyRectify(0.01)
very_leaky_rectify = LeakyRectify(1.0 / 3)


def elu(x):
    """Exponential linear unit: ``x`` for ``x > 0``, ``exp(x) - 1`` otherwise.

    Examples
    --------
    >>> round(float(elu(T.constant(-1.0)).eval()), 4)
    -0.6321
    """
    return T.switch(x > 0, x, T.expm1(x))


class SELU:
    """Scaled exponential linear unit ``scale * (x if x > 0 else scale_neg * (exp(x) - 1))``.

    Large negative inputs saturate at ``-scale * scale_neg``. The instance
    ``selu`` has the self-normalizing constants of Klambauer et al. (2017).

    Examples
    --------
    >>> selu(T.constant([-50.0, 1.0])).eval().round(4).tolist()
    [-1.7581, 1.0507]
    """

    def __init__(self, scale=1, scale_neg=1):
        self.scale = scale
        self.scale_neg = scale_neg

    def __call__(self, x):
        return self.scale * T.switch(x > 0, x, self.scale_neg * T.expm1(x))


selu = SELU(scale=1.0507009873554804934193349852946, scale_neg=1.6732632423543772848170429916717)


def softplus(x):
    """Softplus ``log(1 + exp(x))``.

    Examples
    --------
    >>> round(float(softplus(T.constant(0.0)).eval()), 4)
    0.6931
    """
    return T.softplus(x)


def linear(x):
    """The identity: returns ``x`` unchanged.

    Examples
    --------
    >>> x = T.vector()
    >>> linear(x) is x
    True
    """
    return x


identity = linear
