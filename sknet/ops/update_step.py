"""One step of an update rule for one parameter as a single op: one loop over it.

Every rule of :mod:`sknet.updates` written as PyTensor expressions fuses into
one elementwise loop per parameter that reads the parameter, its state (a
velocity, moments, accumulators), the gradient and one or two broadcast
scalars. The compiler does not vectorise such a fused loop. :class:`UpdateStep`
is the same arithmetic as one plain C loop per rule (``update_step_support.c``)
that g++ vectorises, and it works in place on the parameter and its state
after the rewrite :func:`local_update_step_inplace`. On the tutorial MLP's
parameters a step is 4-10x faster than PyTensor's loop for every rule but sgd,
whose two-array loop PyTensor already vectorises (``bench/bench_update_steps.py``,
``bench/results.md``).

Each rule's arithmetic is written once in Python (:data:`RULES`), for numpy
(the op's ``perform``) and for PyTensor: :func:`plain_step` is the graph
:mod:`sknet.updates` builds where the op does not apply, and sknet's NUMBA and
JAX modes replace the op by that graph (:func:`local_update_step_expand`),
which their compilers fuse and vectorise themselves.

Examples
--------
>>> from sknet.ops.update_step import UpdateStep
>>> p, v, g = np.float32([1.0, 2.0]), np.zeros(2, 'float32'), np.float32([0.5, -1.0])
>>> new_p, new_v = UpdateStep('momentum')(p, v, g, 0.1, 0.9)
>>> new_p.eval()
array([0.95, 2.1 ], dtype=float32)
"""

import copy
import numbers
from typing import NamedTuple

import numpy as np
import pytensor.tensor as T
from pytensor.graph.basic import Apply
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.link.c.op import COp

from . import _csource

__all__ = ["RULES", "UpdateStep", "plain_step", "as_type_of", "local_update_step_inplace", "local_update_step_expand"]


# Each formula takes ``xp`` (numpy or pytensor.tensor, for sqrt and maximum),
# then the parameter, its states, the gradient, the changeable scalars and
# the static constants; it returns the new parameter and states.
# update_step_support.c has the same arithmetic.


def _sgd(xp, p, g, lr):
    return (p - lr * g,)


def _momentum(xp, p, vel, g, lr, mu):
    vel = mu * vel - lr * g
    return p + vel, vel


def _nesterov(xp, p, vel, g, lr, mu):
    vel = mu * vel - lr * g
    return p + mu * vel - lr * g, vel


def _adagrad(xp, p, acc, g, lr, eps):
    acc = acc + g * g
    return p - lr * g / xp.sqrt(acc + eps), acc


def _rmsprop(xp, p, acc, g, lr, rho, eps):
    acc = rho * acc + (1 - rho) * (g * g)
    return p - lr * g / xp.sqrt(acc + eps), acc


def _adadelta(xp, p, acc, delta, g, lr, rho, eps):
    acc = rho * acc + (1 - rho) * (g * g)
    step = g * xp.sqrt(delta + eps) / xp.sqrt(acc + eps)
    return p - lr * step, acc, rho * delta + (1 - rho) * (step * step)


def _adam(xp, p, m, v, g, a, b1, b2, eps):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * (g * g)
    return p - a * m / (xp.sqrt(v) + eps), m, v


def _adamax(xp, p, m, u, g, a, b1, b2, eps):
    m = b1 * m + (1 - b1) * g
    u = xp.maximum(b2 * u, abs(g))
    return p - a * m / (u + eps), m, u


def _amsgrad(xp, p, m, v, v_hat, g, a, b1, b2, eps):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * (g * g)
    v_hat = xp.maximum(v_hat, v)
    return p - a * m / (xp.sqrt(v_hat) + eps), m, v, v_hat


class Rule(NamedTuple):
    """An update rule's step: its formula and the names of what it reads."""

    formula: object
    states: tuple
    scalars: tuple
    constants: tuple


#: ``{name: Rule}``: each rule's states (in input order), its changeable scalar
#: inputs (``step`` is adam's learning rate with the bias correction folded
#: in) and its static constants.
RULES = {
    "sgd": Rule(_sgd, (), ("learning_rate",), ()),
    "momentum": Rule(_momentum, ("velocity",), ("learning_rate", "momentum"), ()),
    "nesterov_momentum": Rule(_nesterov, ("velocity",), ("learning_rate", "momentum"), ()),
    "adagrad": Rule(_adagrad, ("accu",), ("learning_rate",), ("epsilon",)),
    "rmsprop": Rule(_rmsprop, ("accu",), ("learning_rate",), ("rho", "epsilon")),
    "adadelta": Rule(_adadelta, ("accu", "delta_accu"), ("learning_rate",), ("rho", "epsilon")),
    "adam": Rule(_adam, ("m", "v"), ("step",), ("beta1", "beta2", "epsilon")),
    "adamax": Rule(_adamax, ("m", "u"), ("step",), ("beta1", "beta2", "epsilon")),
    "amsgrad": Rule(_amsgrad, ("m", "v", "v_hat"), ("step",), ("beta1", "beta2", "epsilon")),
}


def _check_rule(rule, constants):
    if rule not in RULES:
        raise ValueError(f"unknown update rule {rule!r}; have {sorted(RULES)}")
    names = RULES[rule].constants
    if len(constants) != len(names) or not all(
        isinstance(c, numbers.Real) and not isinstance(c, bool) for c in constants
    ):
        raise ValueError(f"{rule} takes {len(names)} numbers as constants {names}, got {tuple(constants)!r}")


def plain_step(rule, param, states, grad, scalars, constants):
    """One step of ``rule`` as PyTensor expressions: ``(new param, *new states)``.

    Each new value has the type of the variable it replaces. This is the graph
    :mod:`sknet.updates` builds where :class:`UpdateStep` does not apply (a
    parameter of another dtype, a symbolic constant), and the one sknet's
    NUMBA and JAX modes compile in place of the op.

    Parameters
    ----------
    rule : str
        A key of :data:`RULES`.
    param, states, grad : PyTensor variables
    scalars, constants : sequences of numbers or scalar expressions
        In the order :data:`RULES` gives.

    Examples
    --------
    >>> w = pytensor.shared(np.float32([1.0, 2.0]))
    >>> plain_step('sgd', w, [], T.constant(np.float32([1.0, 1.0])), [0.5], [])[0].eval()
    array([0.5, 1.5], dtype=float32)
    """
    targets = [param, *states]
    new = RULES[rule].formula(T, param, *states, grad, *scalars, *constants)
    return tuple(as_type_of(var, expr) for var, expr in zip(targets, new))


def as_type_of(var, expr):
    """``expr`` with the type of ``var`` (cast to its dtype, its broadcastable pattern).

    Examples
    --------
    >>> w = pytensor.shared(np.float32([1.0]), shape=(1,))
    >>> as_type_of(w, T.vector(dtype='float64')).type == w.type
    True
    """
    if expr.dtype != var.dtype:
        expr = T.cast(expr, var.dtype)
    return var.type.filter_variable(expr, allow_convert=True)


class UpdateStep(COp):
    """``(param, *states, grad, *scalars) -> (param', *states')``: one step of ``rule``.

    The arrays (parameter, states, gradient) have one shape and a float dtype
    (the parameter's); the scalars are the rule's changeable hyper-parameters
    (:data:`RULES`, e.g. a shared learning rate), the constants its static
    ones, compiled in. The arithmetic is in the parameter's dtype, as
    :func:`plain_step`'s. With ``inplace=True`` the outputs overwrite the
    parameter and its states.

    Parameters
    ----------
    rule : str
        A key of :data:`RULES`: ``'sgd'``, ``'momentum'``, ``'nesterov_momentum'``,
        ``'adagrad'``, ``'rmsprop'``, ``'adadelta'``, ``'adam'``, ``'adamax'``,
        ``'amsgrad'``.
    constants : tuple of float
        The rule's static hyper-parameters, in the order of ``RULES[rule].constants``.
    inplace : bool

    Examples
    --------
    >>> op = UpdateStep('rmsprop', (0.9, 1e-6))
    >>> op.inplace, RULES['rmsprop'].states
    (False, ('accu',))
    """

    __props__ = ("rule", "constants", "inplace")

    def __init__(self, rule, constants=(), inplace=False):
        _check_rule(rule, constants)
        self.rule = rule
        self.constants = tuple(float(c) for c in constants)
        self.inplace = bool(inplace)
        if self.inplace:
            self.destroy_map = {k: [k] for k in range(1 + len(RULES[rule].states))}

    def __str__(self):
        return f"{type(self).__name__}{{{self.rule}{', inplace' if self.inplace else ''}}}"

    def inplace_version(self):
        """The same op working in place.

        Examples
        --------
        >>> UpdateStep('sgd').inplace_version().destroy_map
        {0: [0]}
        """
        op = copy.copy(self)
        op.inplace = True
        op.destroy_map = {k: [k] for k in range(1 + len(RULES[self.rule].states))}
        return op

    def make_node(self, param, *rest):
        rule = RULES[self.rule]
        n_arrays, n_scalars = 1 + len(rule.states), len(rule.scalars)
        name = type(self).__name__
        if len(rest) != n_arrays + n_scalars:
            raise TypeError(
                f"{name}({self.rule}) takes the parameter, {len(rule.states)} states, the gradient "
                f"and {n_scalars} scalars {rule.scalars}: {1 + n_arrays + n_scalars} inputs, got {1 + len(rest)}"
            )
        param = T.as_tensor_variable(param)
        if param.dtype not in ("float32", "float64"):
            raise TypeError(f"{name} takes float32 or float64 parameters, got {param.dtype}")
        arrays = [param] + [T.cast(T.as_tensor_variable(x), param.dtype) for x in rest[:n_arrays]]
        if any(x.ndim != param.ndim for x in arrays):
            raise TypeError(f"{name}'s parameter, states and gradient must have one shape")
        scalars = [T.cast(T.as_tensor_variable(x), param.dtype) for x in rest[n_arrays:]]
        if any(x.ndim != 0 for x in scalars):
            raise TypeError(f"{name}'s hyper-parameters {rule.scalars} must be scalars")
        return Apply(self, arrays + scalars, [x.type() for x in arrays[:-1]])

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]] * len(node.outputs)

    def perform(self, node, inputs, output_storage):
        dtype = np.dtype(node.outputs[0].dtype)
        n_arrays = len(node.outputs) + 1
        arrays = [np.asarray(x, dtype=dtype) for x in inputs[:n_arrays]]
        scalars = [dtype.type(x) for x in inputs[n_arrays:]]
        # constants as Python floats: ``1 - rho`` in double, as the C code has it
        new = RULES[self.rule].formula(np, *arrays, *scalars, *self.constants)
        for storage, value in zip(output_storage, new):
            storage[0] = np.asarray(value, dtype=dtype)

    def c_support_code(self, **kwargs):
        return _csource.read("update_step_support.c")

    def c_code_cache_version(self):
        return (1, _csource.checksum("update_step_support.c", "update_step.c"))

    def c_code(self, node, name, inp, out, sub):
        dtype = node.outputs[0].dtype
        n_arrays = len(out)
        arrays, grad, scalars = inp[:n_arrays], inp[n_arrays], inp[n_arrays + 1 :]
        ctype = "float" if dtype == "float32" else "double"
        return _csource.block(
            "update_step.c",
            arrays="".join(f"{a}, " for a in arrays),
            outputs="".join(f"&{z}, " for z in out),
            narrays=n_arrays,
            g=grad,
            scalars="".join(f"{s}, " for s in scalars),
            nscalars=len(scalars),
            constants="".join(f"{c!r}, " for c in self.constants),
            kernel=f"sknet_step_{self.rule}<{ctype}>",
            fail=sub["fail"],
            inplace=int(self.inplace),
            T=ctype,
            npy="NPY_FLOAT32" if dtype == "float32" else "NPY_FLOAT64",
        )


@node_rewriter([UpdateStep], inplace=True)
def local_update_step_inplace(fgraph, node):
    """:class:`UpdateStep` -> its in-place version (where the graph allows it)."""
    if node.op.inplace:
        return False
    return node.op.inplace_version().make_node(*node.inputs).outputs


@node_rewriter([UpdateStep])
def local_update_step_expand(fgraph, node):
    """:class:`UpdateStep` -> :func:`plain_step`'s graph (sknet's NUMBA and JAX modes)."""
    op, n_arrays = node.op, len(node.outputs)
    arrays, grad, scalars = node.inputs[:n_arrays], node.inputs[n_arrays], node.inputs[n_arrays + 1 :]
    # the constants as numbers of the parameter's dtype: a float64 constant
    # would make JAX (without x64) warn and truncate
    constants = [T.constant(c, dtype=arrays[0].dtype) for c in op.constants]
    return list(plain_step(op.rule, arrays[0], arrays[1:], grad, scalars, constants))
