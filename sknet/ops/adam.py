"""Adam's step of one parameter as one op: :class:`~sknet.ops.update_step.UpdateStep` for adam.

:func:`sknet.updates.adam` builds :class:`AdamStep`, whose name shows in a
compiled function's graph; every other rule builds
:class:`~sknet.ops.update_step.UpdateStep` (the same op, the rule a
property). :mod:`sknet.ops.update_step` says why the step is one op.

Examples
--------
>>> from sknet.ops.adam import AdamStep
>>> p, m, v, g = (np.array([1.0, 2.0], 'float32'), np.zeros(2, 'float32'),
...               np.zeros(2, 'float32'), np.array([0.5, -1.0], 'float32'))
>>> new_p, new_m, new_v = AdamStep(0.9, 0.999, 1e-8)(p, m, v, g, np.float32(0.1))
>>> new_m.eval()
array([ 0.05, -0.1 ], dtype=float32)
"""

from .update_step import UpdateStep

__all__ = ["AdamStep"]


class AdamStep(UpdateStep):
    """``(param, m, v, grad, a) -> (param', m', v')`` with::

        m'     = beta1 * m + (1 - beta1) * grad
        v'     = beta2 * v + (1 - beta2) * grad ** 2
        param' = param - a * m' / (sqrt(v') + epsilon)

    ``a`` is the step size with adam's bias correction folded in (a scalar);
    the others are arrays of one shape and float dtype. With ``inplace=True``
    the outputs overwrite ``param``, ``m`` and ``v``.

    Parameters
    ----------
    beta1, beta2, epsilon : float
    inplace : bool

    Examples
    --------
    >>> from sknet.ops.adam import AdamStep
    >>> op = AdamStep(0.9, 0.999, 1e-8)
    >>> op.inplace, op.rule, op.constants
    (False, 'adam', (0.9, 0.999, 1e-08))
    """

    def __init__(self, beta1, beta2, epsilon, inplace=False):
        super().__init__("adam", (beta1, beta2, epsilon), inplace)
