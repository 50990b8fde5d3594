"""Routed keyword arguments: ``prefix__param`` names matched to what they configure."""

import copy
import difflib
import inspect

from sklearn.base import clone

__all__ = ["ROUTING_PREFIXES", "Router", "clone_sharing", "signature_with"]

#: Prefixes of routed keyword arguments (``prefix__param``), besides layer names.
ROUTING_PREFIXES = (
    "update",
    "objective",
    "batch_iterator_train",
    "batch_iterator_test",
    "train_split",
    "callbacks",
    "layers",
)


class Router:
    """Split routed names into ``(prefix, param)``, one set look-up per name.

    A name is ``prefix__param`` or, as nolearn spelled it, ``prefix_param``.
    The double-underscore form is a single look-up of the part before the
    first ``__``; the single-underscore form tries each ``_`` from the right,
    so the longest known prefix wins (``dense1_num_units`` is ``dense1``'s
    ``num_units``). Either way the cost grows with the length of the name,
    not with the number of prefixes.

    Parameters
    ----------
    prefixes : iterable of str
        Every prefix a name may start with (the routing prefixes and the
        layer names).
    param_names : iterable of str
        The estimator's own parameter names, offered in "did you mean" hints.
    owner : str, optional
        Named in error messages ("for NeuralNetClassifier").

    Examples
    --------
    >>> router = Router(ROUTING_PREFIXES + ('dense1',))
    >>> router.route('update__learning_rate'), router.route('dense1_num_units')
    (('update', 'learning_rate'), ('dense1', 'num_units'))
    >>> router.group({'update__learning_rate': 0.1, 'update_momentum': 0.9})
    {'update': {'momentum': 0.9, 'learning_rate': 0.1}}
    >>> router.route('dense_1__num_units')
    Traceback (most recent call last):
    ...
    ValueError: Invalid parameter 'dense_1__num_units'. Did you mean 'dense1__num_units'? ...
    """

    def __init__(self, prefixes, param_names=(), owner=None):
        self.prefixes = frozenset(prefixes)
        self.param_names = tuple(param_names)
        self.owner = owner

    def route(self, key):
        """Return ``(prefix, param)`` for a routed name; raise ValueError with a hint otherwise."""
        head, sep, rest = key.partition("__")
        if sep and rest and head in self.prefixes:
            return head, rest
        end = len(key)
        while (end := key.rfind("_", 0, end)) > 0:
            if key[:end] in self.prefixes and end + 1 < len(key) and key[end + 1] != "_":
                return key[:end], key[end + 1 :]
        raise ValueError(self._message(key))

    def group(self, routed):
        """``{prefix: {param: value}}``; ``__`` spellings override nolearn's ``_`` ones."""
        groups = {}
        for key in sorted(routed, key=lambda k: "__" in k):
            prefix, rest = self.route(key)
            groups.setdefault(prefix, {})[rest] = routed[key]
        return groups

    def _message(self, key):
        head, _, tail = key.partition("__")
        candidates = sorted(self.prefixes) + list(self.param_names)
        guess = difflib.get_close_matches(head, candidates, n=1)
        if guess and tail:
            hint = f" Did you mean {guess[0] + '__' + tail!r}?"
        elif guess:
            hint = f" Did you mean {guess[0]!r}?"
        else:
            hint = ""
        owner = f" for {self.owner}" if self.owner else ""
        return (
            f"Invalid parameter {key!r}{owner}.{hint} Routed parameters start with one of "
            f"{sorted(self.prefixes, key=lambda p: (-len(p), p))} followed by '__'."
        )


def signature_with(init, **extra):
    """``init``'s signature with keyword-only parameters ``extra`` (name: default) before its ``**kwargs``.

    A subclass that adds a parameter declares it this way instead of repeating
    its parent's whole parameter list; scikit-learn reads parameter names from
    the signature. A name ``init`` already has keeps its place and takes the
    new default (a subclass with another default).

    Examples
    --------
    >>> def f(self, a, *, b=1, **kwargs): pass
    >>> str(signature_with(f, c=None, b=2))
    '(self, a, *, b=2, c=None, **kwargs)'
    """
    params = list(inspect.signature(init).parameters.values())
    params = [p.replace(default=extra.pop(p.name)) if p.name in extra else p for p in params]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=v) for name, v in extra.items()]
    return inspect.Signature(params[:-1] + added + params[-1:])


def _shared(value, shared_types):
    # A list of output layers (a multi-output net) is shared whole, so its heads keep their common trunk.
    if isinstance(value, (list, tuple)) and value:
        return all(isinstance(item, shared_types) for item in value)
    return isinstance(value, shared_types)


def clone_sharing(estimator, shared_types):
    """scikit-learn's clone of ``estimator``, but parameters of ``shared_types`` are shared, not cloned.

    A net given a prebuilt network keeps that same Layer object: Lasagne's
    ``Layer.get_params`` is not scikit-learn's, and every fit deep-copies the
    network anyway. Metadata requests and ``set_output``'s configuration are
    kept, as scikit-learn's clone keeps them.

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sknet import NeuralNet
    >>> from sknet.layers import InputLayer, DenseLayer, Layer
    >>> out = DenseLayer(InputLayer((None, 2)), 1)
    >>> net = NeuralNet(out, batch_iterator_train=None)
    >>> clone_sharing(net, Layer).layers is out
    True
    """
    params = {k: v if _shared(v, shared_types) else clone(v, safe=False) for k, v in estimator.get_params().items()}
    new = type(estimator)(**params)
    for attr in ("_metadata_request", "_sklearn_output_config"):
        if attr in estimator.__dict__:
            setattr(new, attr, copy.deepcopy(estimator.__dict__[attr]))
    return new
