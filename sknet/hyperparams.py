"""Hyper-parameters of the update rule and the loss: which are injected, which are static.

As with optax's ``inject_hyperparams(static_args=...)``, each numeric
hyper-parameter is one of two kinds:

- *injected*: held in a shared variable that the compiled functions read, so
  ``set_params`` or an :class:`~sknet.callbacks.LRScheduler` changes it
  without recompiling. :data:`INJECTED` lists them (learning rate, momentum
  and the loss's ``l1``/``l2``).
- *static*: compiled in as a constant (adam's ``beta1``, ``beta2``,
  ``epsilon``, rmsprop's ``rho`` ...), so fused update ops such as
  :class:`~sknet.ops.adam.AdamStep` apply. Changing one recompiles.

A shared variable given by the user (``update__beta1=pytensor.shared(...)``)
is used as it is: that is how to make any other hyper-parameter changeable.
"""

import difflib
import inspect
import numbers
from collections import OrderedDict

import numpy as np
import pytensor

from .backend import FLOATX
from .updates import adam, nesterov_momentum

__all__ = ["INJECTED", "ESTIMATOR_DEFAULTS", "HyperParameters", "split_update_kwargs"]

#: Hyper-parameters held in shared variables (changed without recompiling).
INJECTED = frozenset({"update__learning_rate", "update__momentum", "objective__l1", "objective__l2"})

#: The estimators' defaults where they differ from the update rule's own (Lasagne's).
#: adam's 1e-3 needs hundreds of steps; an estimator's default net, given a small
#: table (a few hundred rows: two batches an epoch), must learn it in tens of epochs.
#: nesterov_momentum is nolearn's default rule, with nolearn's learning rate.
ESTIMATOR_DEFAULTS = {adam: {"learning_rate": 3e-3}, nesterov_momentum: {"learning_rate": 0.01}}


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def split_update_kwargs(update, routed):
    """Check routed ``update__*`` names against the rule's signature; fill in its defaults.

    Returns
    -------
    dict
        Every keyword argument of the rule after ``loss_or_grads, params``,
        routed values first, then the rule's own defaults.

    Examples
    --------
    >>> from sknet.updates import adam
    >>> kwargs = split_update_kwargs(adam, {'learning_rate': 0.01})
    >>> kwargs['learning_rate'], kwargs['beta2']
    (0.01, 0.999)
    >>> split_update_kwargs(adam, {'learning_rte': 0.01})
    Traceback (most recent call last):
    ...
    ValueError: update__learning_rte: adam has no parameter 'learning_rte'; did you mean update__learning_rate?
    """
    signature = inspect.signature(update)
    params = list(signature.parameters.values())[2:]
    accepts_any = any(p.kind == p.VAR_KEYWORD for p in params)
    names = [p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    rule = getattr(update, "__name__", repr(update))
    for key in routed:
        if key not in names and not accepts_any:
            hint = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean update__{hint[0]}?" if hint else f"; it accepts {names}"
            raise ValueError(f"update__{key}: {rule} has no parameter {key!r}{hint}")
    kwargs = {}
    for name in names:
        value = routed.get(name, signature.parameters[name].default)
        if value is inspect.Parameter.empty:
            raise ValueError(f"{rule} needs update__{name}")
        kwargs[name] = value
    kwargs.update((k, v) for k, v in routed.items() if k not in names)
    return kwargs


class HyperParameters:
    """The update rule's and the loss's hyper-parameters for one compiled net.

    Parameters
    ----------
    update : callable
        The update rule (:mod:`sknet.updates`).
    update_kwargs : dict
        Routed ``update__*`` values (names without the prefix).
    objective_kwargs : dict
        Routed ``objective__*`` values; ``l1`` and ``l2`` are penalty weights,
        the others go to the loss function.
    defaults : dict, optional
        Values used where ``update_kwargs`` gives none, before the rule's own
        defaults (the estimators pass :data:`ESTIMATOR_DEFAULTS` for their rule).

    Attributes
    ----------
    shared : OrderedDict
        ``{'update__learning_rate': shared variable, ...}``: the injected ones.

    Examples
    --------
    >>> from sknet.updates import adam
    >>> hp = HyperParameters(adam, {'learning_rate': 0.01}, {'l2': 1e-4})
    >>> sorted(hp.shared)
    ['objective__l2', 'update__learning_rate']
    >>> type(hp.update_kwargs()['beta1']).__name__  # static: a number, so AdamStep fuses
    'float'
    >>> hp.set('update__learning_rate', 0.5), hp.get('update__learning_rate')
    (True, 0.5)
    >>> hp.set('update__beta1', 0.8)  # static: the caller recompiles
    False
    """

    def __init__(self, update, update_kwargs, objective_kwargs, defaults=None):
        self.update = update
        self._update = split_update_kwargs(update, {**(defaults or {}), **update_kwargs})
        self._objective = dict(objective_kwargs)
        self.shared = OrderedDict()
        for prefix, values in (("update", self._update), ("objective", self._objective)):
            for name, value in values.items():
                key = f"{prefix}__{name}"
                if key in INJECTED and _is_number(value):
                    self.shared[key] = pytensor.shared(np.asarray(value, dtype=FLOATX), name=key)
        for key in ("l1", "l2"):
            value = self._objective.get(key)
            if value is not None and not _is_number(value) and not hasattr(value, "type"):
                raise ValueError(f"objective__{key} must be a number, got {value!r}")

    def update_kwargs(self):
        """Keyword arguments for the update rule: shared variables for the injected ones."""
        return {k: self.shared.get(f"update__{k}", v) for k, v in self._update.items()}

    def penalties(self):
        """``(l1, l2)`` weights for the loss (shared variables, or None when not given)."""
        return tuple(self.shared.get(f"objective__{k}", self._objective.get(k)) for k in ("l1", "l2"))

    def loss_kwargs(self):
        """The ``objective__*`` values other than ``l1``/``l2``, for the loss function."""
        return {k: v for k, v in self._objective.items() if k not in ("l1", "l2")}

    def set(self, key, value, strict=False):
        """Set ``key`` in place when it is injected (True); False when it is static.

        With ``strict`` a key that is not injected raises ValueError naming the ones that are.
        """
        if key in self.shared and _is_number(value):
            self.shared[key].set_value(np.asarray(value, dtype=FLOATX))
            return True
        if strict:
            self.get(key)
            raise ValueError(f"{key} must be a number, got {value!r}")
        return False

    def get(self, key):
        """The current value of an injected hyper-parameter."""
        if key not in self.shared:
            raise ValueError(f"{key!r} is not a shared hyper-parameter of this net; have {sorted(self.shared)}")
        return float(self.shared[key].get_value())

    def values(self):
        """``{key: float}`` of the injected ones (what pickling keeps)."""
        return {k: float(v.get_value()) for k, v in self.shared.items()}
