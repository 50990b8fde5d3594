"""Gradient-descent update rules with Lasagne's names and formulas.

Every rule takes a loss (or a list of gradients) and a list of shared
parameters and returns an ``OrderedDict`` mapping each shared variable (the
parameters and any state the rule keeps) to its new value, ready for
``pytensor.function(..., updates=updates)``. Rules compose: ``momentum`` is
:func:`apply_momentum` on top of :func:`sgd`.

Hyper-parameters (``learning_rate``, ``momentum``, ``beta1``, ...) may be
Python numbers or PyTensor scalars such as shared variables; with a shared
variable the value can be changed between calls without recompiling. Every
new value keeps the dtype of the variable it updates (float32).

Each rule's step of a float32/float64 parameter is one
:class:`~sknet.ops.update_step.UpdateStep` op (one vectorised loop, in place)
when its ``rho``, ``beta1``, ``beta2`` and ``epsilon`` are numbers; the
learning rate and momentum may be numbers or scalar expressions. Otherwise,
and in sknet's NUMBA and JAX modes, the step is the same arithmetic as
PyTensor expressions. ``apply_momentum`` and ``apply_nesterov_momentum`` on
the updates of another rule stay expressions.
"""

import math
import numbers
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as T

from .backend import FLOATX
from .ops.adam import AdamStep
from .ops.update_step import RULES, UpdateStep, as_type_of, plain_step
from .utils import _norm_axes

__all__ = [
    "get_or_compute_grads",
    "sgd",
    "apply_momentum",
    "momentum",
    "apply_nesterov_momentum",
    "nesterov_momentum",
    "adagrad",
    "rmsprop",
    "adadelta",
    "adam",
    "adamax",
    "amsgrad",
    "norm_constraint",
    "total_norm_constraint",
]


def get_or_compute_grads(loss_or_grads, params):
    """Return the gradients of a loss, or pass a list of gradients through.

    Parameters
    ----------
    loss_or_grads : scalar PyTensor expression or list of expressions
    params : list of shared variables

    Returns
    -------
    list of expressions, one per parameter

    Examples
    --------
    >>> w = pytensor.shared(np.float32([1.0, 2.0]), name='w')
    >>> g, = get_or_compute_grads(T.sum(w ** 2), [w])
    >>> g.eval().tolist()
    [2.0, 4.0]
    """
    params = list(params)
    if any(not isinstance(p, pytensor.compile.SharedVariable) for p in params):
        raise ValueError(
            "params must contain shared variables only; for parameters that are "
            "expressions, sknet.utils.collect_shared_vars() finds the shared "
            "variables they are built from"
        )
    if isinstance(loss_or_grads, list):
        if len(loss_or_grads) != len(params):
            raise ValueError(f"got {len(loss_or_grads)} gradient expressions for {len(params)} parameters")
        return loss_or_grads
    return pytensor.grad(loss_or_grads, params)


# Python floats become float64 constants when the caller's floatX is float64,
# and a hyper-parameter may be a float64 shared variable; either would
# silently upcast a float32 update, which PyTensor then refuses.
_like = as_type_of


def _zeros_like(param, suffix):
    value = param.get_value(borrow=True)
    name = f"{param.name}.{suffix}" if param.name else suffix
    return pytensor.shared(np.zeros(value.shape, dtype=value.dtype), shape=param.type.shape, name=name)


def _step_counter():
    return pytensor.shared(np.asarray(0.0, dtype=FLOATX), name="t")


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _step(rule, param, states, grad, scalars, constants=()):
    """New values of ``param`` and its ``states`` after one step of ``rule``.

    One :class:`~sknet.ops.update_step.UpdateStep` (:class:`~sknet.ops.adam.AdamStep`
    for adam) where it applies: a float32/float64 parameter, numbers for the
    static ``constants`` and scalars (numbers or expressions, e.g. shared
    variables) for the changeable ``scalars``. Otherwise the same arithmetic as
    PyTensor expressions.
    """
    fusable = (
        param.dtype in ("float32", "float64")
        and all(_is_number(c) for c in constants)
        and all(_is_number(s) or getattr(s, "ndim", None) == 0 for s in scalars)
    )
    if not fusable:
        return plain_step(rule, param, states, grad, scalars, constants)
    op = AdamStep(*constants) if rule == "adam" else UpdateStep(rule, constants)
    targets = [param, *states]
    return tuple(as_type_of(var, new) for var, new in zip(targets, op.make_node(*targets, grad, *scalars).outputs))


def _one_minus_power(beta, t, name):
    """``1 - beta ** t`` in floatX without its cancellation: ``-expm1(t * log(beta))``.

    Written directly in float32, ``1 - 0.999 ** t`` keeps few of its digits
    in the first steps; computing it in float64 makes JAX mode warn (it has
    no float64 without x64) and truncate.
    """
    if _is_number(beta):
        if not 0 <= beta < 1:
            raise ValueError(f"{name} must be in [0, 1), got {beta!r}")
        log_beta = T.constant(math.log(beta) if beta > 0 else -np.inf, dtype=FLOATX)
    else:
        log_beta = T.log(beta)
    return -T.expm1(t * log_beta)


def _bias_corrected_step(learning_rate, t, beta1, beta2=None):
    """``learning_rate [* sqrt(1 - beta2 ** t)] / (1 - beta1 ** t)`` in floatX."""
    if _is_number(learning_rate):
        learning_rate = T.constant(learning_rate, dtype=FLOATX)
    correction = _one_minus_power(beta1, t, "beta1")
    if beta2 is not None:
        correction = correction / T.sqrt(_one_minus_power(beta2, t, "beta2"))
    return learning_rate / correction


def _rule_updates(rule, loss_or_grads, params, scalars, constants=(), param_at=None):
    """One step of ``rule`` for each parameter: ``{state or parameter: new value}``.

    A parameter's entry stands at ``param_at`` among its states' entries
    (after them by default), in Lasagne's order.
    """
    params = list(params)
    grads = get_or_compute_grads(loss_or_grads, params)
    updates = OrderedDict()
    for param, grad in zip(params, grads):
        states = [_zeros_like(param, name) for name in RULES[rule].states]
        new_param, *new_states = _step(rule, param, states, grad, scalars, constants)
        entries = list(zip(states, new_states))
        entries.insert(len(states) if param_at is None else param_at, (param, new_param))
        updates.update(entries)
    return updates


def _with_step_counter(rule, loss_or_grads, params, learning_rate, beta1, beta2, epsilon):
    """The updates of adam, adamax or amsgrad: their moments per parameter and one step counter."""
    t_prev = _step_counter()
    t = t_prev + 1
    # adamax's step size has no second moment's correction
    step = _bias_corrected_step(learning_rate, t, beta1, None if rule == "adamax" else beta2)
    updates = _rule_updates(rule, loss_or_grads, params, [step], (beta1, beta2, epsilon))
    updates[t_prev] = _like(t_prev, t)
    return updates


def sgd(loss_or_grads, params, learning_rate):
    """Stochastic gradient descent: ``param <- param - learning_rate * grad``.

    Parameters
    ----------
    loss_or_grads : scalar expression or list of expressions
    params : list of shared variables
    learning_rate : float or scalar expression

    Returns
    -------
    OrderedDict
        ``{param: new value}``.

    Examples
    --------
    >>> w = pytensor.shared(np.float32([1.0, 2.0]), name='w')
    >>> updates = sgd(T.sum(w ** 2), [w], learning_rate=0.25)
    >>> updates[w].eval().tolist()
    [0.5, 1.0]
    """
    return _rule_updates("sgd", loss_or_grads, params, [learning_rate])


def _add_velocity(updates, params, momentum, nesterov):
    """:func:`apply_momentum` (or, with ``nesterov``, :func:`apply_nesterov_momentum`)."""
    if params is None:
        params = list(updates.keys())
    updates = OrderedDict(updates)
    for param in params:
        velocity = _zeros_like(param, "velocity")
        step = updates[param] - param
        new_velocity = momentum * velocity + step
        updates[velocity] = _like(velocity, new_velocity)
        updates[param] = _like(param, param + (momentum * new_velocity + step if nesterov else new_velocity))
    return updates


def apply_momentum(updates, params=None, momentum=0.9):
    """Add classical momentum to existing updates.

    With ``step = updates[param] - param`` (e.g. ``-learning_rate * grad``)
    and a velocity ``v`` starting at 0::

        v     <- momentum * v + step
        param <- param + v

    Parameters
    ----------
    updates : dict
        Updates to modify (not changed in place).
    params : list of shared variables, optional
        The variables to add momentum to; all keys of ``updates`` by default.
    momentum : float or scalar expression

    Returns
    -------
    OrderedDict
        The updates, plus one velocity variable per parameter.

    Examples
    --------
    >>> w = pytensor.shared(np.float32([1.0]), name='w')
    >>> updates = apply_momentum(sgd(T.sum(w ** 2), [w], 0.1), momentum=0.5)
    >>> [v.name for v in updates]
    ['w', 'w.velocity']
    """
    return _add_velocity(updates, params, momentum, nesterov=False)


def momentum(loss_or_grads, params, learning_rate, momentum=0.9):
    """SGD with classical momentum: the step of :func:`apply_momentum` on :func:`sgd`.

    ``v <- momentum * v - learning_rate * grad``; ``param <- param + v``.

    Examples
    --------
    >>> w = pytensor.shared(np.float32([1.0, 2.0]), name='w')
    >>> len(momentum(T.sum(w ** 2), [w], learning_rate=0.1))
    2
    """
    return _rule_updates("momentum", loss_or_grads, params, [learning_rate, momentum], param_at=0)


def apply_nesterov_momentum(updates, params=None, momentum=0.9):
    """Add Nesterov momentum to existing updates.

    With ``step = updates[param] - param`` and a velocity ``v`` starting at 0::

        v     <- momentum * v + step
        param <- param + momentum * v + step

    This is the reformulation of Nesterov's method (Sutskever et al., 2013)
    that evaluates gradients at the current parameters.

    Parameters
    ----------
    updates : dict
    params : list of shared variables, optional
    momentum : float or scalar expression

    Returns
    -------
    OrderedDict

    Examples
    --------
    >>> w = pytensor.shared(np.float32([1.0]), name='w')
    >>> updates = apply_nesterov_momentum(sgd(T.sum(w ** 2), [w], 0.1))
    >>> [v.name for v in updates]
    ['w', 'w.velocity']
    """
    return _add_velocity(updates, params, momentum, nesterov=True)


def nesterov_momentum(loss_or_grads, params, learning_rate, momentum=0.9):
    """SGD with Nesterov momentum: the step of :func:`apply_nesterov_momentum` on :func:`sgd`.

    ``v <- momentum * v - learning_rate * grad``;
    ``param <- param + momentum * v - learning_rate * grad``.

    Examples
    --------
    >>> w = pytensor.shared(np.float32([1.0, 2.0]), name='w')
    >>> len(nesterov_momentum(T.sum(w ** 2), [w], learning_rate=0.1, momentum=0.9))
    2
    """
    return _rule_updates("nesterov_momentum", loss_or_grads, params, [learning_rate, momentum], param_at=0)


def adagrad(loss_or_grads, params, learning_rate=1.0, epsilon=1e-6):
    """Adagrad: steps scaled by the root of the summed squared gradients.

    ::

        a     <- a + grad ** 2
        param <- param - learning_rate * grad / sqrt(a + epsilon)

    Examples
    --------
    >>> w = pytensor.shared(np.float32([3.0]), name='w')
    >>> updates = adagrad(T.sum(w ** 2), [w], learning_rate=0.5)
    >>> [v.name for v in updates]
    ['w.accu', 'w']
    """
    return _rule_updates("adagrad", loss_or_grads, params, [learning_rate], [epsilon])


def rmsprop(loss_or_grads, params, learning_rate=1.0, rho=0.9, epsilon=1e-6):
    """RMSProp: steps scaled by a running average of squared gradients.

    ::

        a     <- rho * a + (1 - rho) * grad ** 2
        param <- param - learning_rate * grad / sqrt(a + epsilon)

    Examples
    --------
    >>> w = pytensor.shared(np.float32([3.0]), name='w')
    >>> len(rmsprop(T.sum(w ** 2), [w], learning_rate=0.01))
    2
    """
    return _rule_updates("rmsprop", loss_or_grads, params, [learning_rate], [rho, epsilon])


def adadelta(loss_or_grads, params, learning_rate=1.0, rho=0.95, epsilon=1e-6):
    """Adadelta: steps scaled by running averages of squared gradients and steps.

    ::

        a     <- rho * a + (1 - rho) * grad ** 2
        step   = grad * sqrt(d + epsilon) / sqrt(a + epsilon)
        param <- param - learning_rate * step
        d     <- rho * d + (1 - rho) * step ** 2

    Examples
    --------
    >>> w = pytensor.shared(np.float32([3.0]), name='w')
    >>> [v.name for v in adadelta(T.sum(w ** 2), [w])]
    ['w.accu', 'w', 'w.delta_accu']
    """
    return _rule_updates("adadelta", loss_or_grads, params, [learning_rate], [rho, epsilon], param_at=1)


def adam(loss_or_grads, params, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """Adam (Kingma and Ba, 2014) with bias correction folded into the step size.

    With a step counter ``t`` (starting at 1) and moments ``m``, ``v`` at 0::

        m     <- beta1 * m + (1 - beta1) * grad
        v     <- beta2 * v + (1 - beta2) * grad ** 2
        a_t    = learning_rate * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
        param <- param - a_t * m / (sqrt(v) + epsilon)

    With numbers for ``beta1``, ``beta2`` and ``epsilon``, each parameter's
    step is one :class:`sknet.ops.adam.AdamStep` op (the same arithmetic in one
    loop, in place); with symbolic ones, PyTensor expressions. The step size
    ``a_t`` is computed in float32 as ``-expm1(t * log(beta))`` for
    ``1 - beta ** t``, which keeps its digits.

    Examples
    --------
    >>> w = pytensor.shared(np.float32([1.0, 2.0]), name='w')
    >>> updates = adam(T.sum(w ** 2), [w], learning_rate=0.1)
    >>> len(updates)  # w, its two moments and the step counter
    4
    """
    return _with_step_counter("adam", loss_or_grads, params, learning_rate, beta1, beta2, epsilon)


def adamax(loss_or_grads, params, learning_rate=0.002, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """Adamax: Adam with the infinity norm in place of the second moment.

    ::

        m     <- beta1 * m + (1 - beta1) * grad
        u     <- max(beta2 * u, |grad|)
        param <- param - learning_rate / (1 - beta1 ** t) * m / (u + epsilon)

    Examples
    --------
    >>> w = pytensor.shared(np.float32([1.0, 2.0]), name='w')
    >>> [v.name for v in adamax(T.sum(w ** 2), [w])]
    ['w.m', 'w.u', 'w', 't']
    """
    return _with_step_counter("adamax", loss_or_grads, params, learning_rate, beta1, beta2, epsilon)


def amsgrad(loss_or_grads, params, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """AMSGrad (Reddi et al., 2018): Adam dividing by the largest second moment so far.

    With a step counter ``t`` (starting at 1) and ``m``, ``v``, ``v_hat`` at 0::

        m     <- beta1 * m + (1 - beta1) * grad
        v     <- beta2 * v + (1 - beta2) * grad ** 2
        v_hat <- max(v_hat, v)
        a_t    = learning_rate * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
        param <- param - a_t * m / (sqrt(v_hat) + epsilon)

    Examples
    --------
    >>> w = pytensor.shared(np.float32([1.0, 2.0]), name='w')
    >>> [v.name for v in amsgrad(T.sum(w ** 2), [w])]
    ['w.m', 'w.v', 'w.v_hat', 'w', 't']
    """
    return _with_step_counter("amsgrad", loss_or_grads, params, learning_rate, beta1, beta2, epsilon)


def norm_constraint(tensor_var, max_norm, norm_axes=None, epsilon=1e-7):
    """Rescale slices of a tensor whose L2 norm exceeds ``max_norm``.

    Each slice's norm is computed over ``norm_axes``; slices with a norm
    above ``max_norm`` are scaled down to it (up to ``epsilon``), the others
    are kept (times ``norm / (norm + epsilon)``). Typically applied to an
    update: ``updates[W] = norm_constraint(updates[W], 3.0)``.

    Parameters
    ----------
    tensor_var : PyTensor expression
    max_norm : float
    norm_axes : sequence of int, optional
        By default axis 0 for a dense weight matrix (a norm per output unit)
        and all axes but 0 for 3-5 dimensional conv filters (a norm per
        filter); other ranks must give it.
    epsilon : float

    Returns
    -------
    PyTensor expression, same shape and dtype as ``tensor_var``

    Examples
    --------
    >>> W = T.constant(np.array([[3.0, 0.1], [4.0, 0.0]], dtype='float32'))
    >>> print(np.round(norm_constraint(W, 1.0).eval(), 3))
    [[0.6 0.1]
     [0.8 0. ]]
    """
    sum_over = _norm_axes(tensor_var.ndim, norm_axes)
    dtype = tensor_var.dtype
    norms = T.sqrt(T.sum(T.sqr(tensor_var), axis=sum_over, keepdims=True))
    target = T.clip(norms, 0, np.asarray(max_norm, dtype=dtype))
    scale = target / (np.asarray(epsilon, dtype=dtype) + norms)
    return T.cast(tensor_var * scale, dtype)


def total_norm_constraint(tensor_vars, max_norm, epsilon=1e-7, return_norm=False):
    """Rescale a list of tensors so that their joint L2 norm is at most ``max_norm``.

    Typically applied to gradients before an update rule (gradient clipping
    by global norm); every tensor is multiplied by the same
    ``min(norm, max_norm) / (norm + epsilon)``.

    Parameters
    ----------
    tensor_vars : list of PyTensor expressions
    max_norm : float
    epsilon : float
    return_norm : bool
        Also return the joint norm before rescaling.

    Returns
    -------
    list of expressions, or (list, norm) with ``return_norm``

    Examples
    --------
    >>> a = T.constant(np.float32([3.0])); b = T.constant(np.float32([4.0]))
    >>> (ca, cb), norm = total_norm_constraint([a, b], 1.0, return_norm=True)
    >>> round(float(norm.eval()), 3)
    5.0
    """
    tensor_vars = list(tensor_vars)
    norm = T.sqrt(sum(T.sum(T.sqr(t)) for t in tensor_vars))
    dtype = norm.dtype
    target = T.clip(norm, 0, np.asarray(max_norm, dtype=dtype))
    multiplier = target / (np.asarray(epsilon, dtype=dtype) + norm)
    scaled = [T.cast(t * multiplier, t.dtype) for t in tensor_vars]
    if return_norm:
        return scaled, norm
    return scaled
