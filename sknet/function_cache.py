"""A per-process cache of compiled PyTensor functions, keyed by graph structure.

Grid searches clone a net many times; the clones build graphs that differ
only in the values of their shared variables (weights, learning rate, l2,
optimizer state, random generators). :func:`function` compiles such a graph
once: the compiled function keeps private shared variables of its own, and
each caller gets a :class:`CachedFunction` that swaps its own values into
them for the duration of a call (pointer swaps, no copies), so nets sharing a
compilation stay independent.

The key is the graph itself, not the layer spec: every apply node's Op (with
its properties), the types of inputs and shared variables, constants by
value, the updates and the mode. Whatever would change the compiled code
changes the key; values held in shared variables do not. Ops that define no
``__props__`` compare by identity, so graphs holding them simply miss.

In sknet's C mode a graph compiled here is also kept on disk, and a graph
met for the first time in this process is looked for there before it is
compiled (:mod:`sknet.function_store`; :func:`load_count` counts those loads).

``SKNET_FUNCTION_CACHE=0`` in the environment (read at import) or
:func:`set_enabled` turns the cache off (and the store with it);
:func:`compile_count` counts actual compilations either way.
"""

import threading
from collections import OrderedDict, namedtuple
from contextlib import contextmanager

import pytensor
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant
from pytensor.graph.replace import clone_replace

from . import config, function_store
from .backend import get_mode

__all__ = [
    "CachedFunction",
    "CacheInfo",
    "function",
    "graph_key",
    "compile_count",
    "load_count",
    "cache_info",
    "clear",
    "set_enabled",
    "enabled",
    "MAXSIZE",
]

#: Most compiled functions kept (least recently used ones are dropped first).
MAXSIZE = 64

CacheInfo = namedtuple("CacheInfo", ["enabled", "hits", "misses", "uncached", "compiles", "size"])
CacheInfo.__doc__ = """The counters :func:`cache_info` returns.

Examples
--------
>>> CacheInfo(True, 3, 1, 0, 1, 1).hits
3
"""

_lock = threading.RLock()
_entries = OrderedDict()
_stats = {"hits": 0, "misses": 0, "uncached": 0, "compiles": 0, "loads": 0}
_enabled = config.function_cache_enabled()


def compile_count():
    """How many PyTensor functions sknet compiled in this process.

    Examples
    --------
    >>> before = compile_count()
    >>> isinstance(before, int)
    True
    """
    return _stats["compiles"]


def load_count():
    """How many functions this process took from the disk store instead of compiling (:mod:`sknet.function_store`).

    Examples
    --------
    >>> load_count() >= 0
    True
    """
    return _stats["loads"]


def cache_info():
    """Counters of the cache: hits, misses, uncached compilations, compiles, size.

    Examples
    --------
    >>> cache_info().enabled in (True, False)
    True
    """
    with _lock:
        return CacheInfo(
            _enabled, _stats["hits"], _stats["misses"], _stats["uncached"], _stats["compiles"], len(_entries)
        )


def clear():
    """Drop every cached function (the counters keep counting).

    Examples
    --------
    >>> clear(); cache_info().size
    0
    """
    with _lock:
        _entries.clear()


def set_enabled(flag):
    """Turn the cache on or off for this process; returns the previous setting.

    Examples
    --------
    >>> previous = set_enabled(False)
    >>> cache_info().enabled
    False
    >>> _ = set_enabled(previous)
    """
    global _enabled
    with _lock:
        previous, _enabled = _enabled, bool(flag)
    return previous


@contextmanager
def enabled(flag):
    """Run a block with the cache on (True) or off (False).

    Examples
    --------
    >>> with enabled(False):
    ...     cache_info().enabled
    False
    """
    previous = set_enabled(flag)
    try:
        yield
    finally:
        set_enabled(previous)


def _mode_key(mode):
    mode = get_mode(mode)
    return mode, type(mode.linker).__name__


def _constant_key(const):
    try:
        signature = const.signature()
        hash(signature)
        return ("c", const.type, signature)
    except TypeError:
        return ("c", id(const))


def _default_updates(shared_vars, explicit):
    """``(var, expression)`` for shared variables carrying a default update."""
    return [
        (var, var.default_update)
        for var in shared_vars
        if var not in explicit and getattr(var, "default_update", None) is not None
    ]


def graph_key(inputs, outputs, updates=(), mode=None):
    """The structural key of a function and its shared variables, in key order.

    Default updates of the shared variables reached are made explicit.

    Returns
    -------
    (key, shared, updates)
        ``key`` is hashable; ``shared`` lists the SharedVariables in the order
        the key numbers them; ``updates`` is the full list of ``(shared var,
        expression)`` pairs, default updates included.

    Examples
    --------
    >>> x = T.vector('x')
    >>> a, b = pytensor.shared(np.ones(2, 'float32')), pytensor.shared(np.zeros(2, 'float32'))
    >>> graph_key([x], [x * a])[0] == graph_key([x], [x * b])[0]
    True
    >>> graph_key([x], [x * a])[0] == graph_key([x], [x + a])[0]
    False
    """
    ids = {var: ("in", i, var.type) for i, var in enumerate(inputs)}
    shared, nodes, apply_ids = [], [], {}

    def var_id(var):
        if var in ids:
            return ids[var]
        if isinstance(var, SharedVariable):
            ids[var] = ("sh", len(shared), var.type)
            shared.append(var)
        elif isinstance(var, Constant):
            ids[var] = _constant_key(var)
        elif var.owner is None:
            # A free variable that is not an input: pytensor.function rejects
            # it anyway; never let two such graphs match.
            ids[var] = ("free", id(var))
        else:
            ids[var] = ("o", apply_ids[var.owner], var.owner.outputs.index(var))
        return ids[var]

    def walk(root):
        # Iterative post-order walk: deterministic for identical structures.
        stack = [(root, False)]
        while stack:
            var, expanded = stack.pop()
            if var in ids:
                continue
            node = var.owner
            if node is None or isinstance(var, (SharedVariable, Constant)):
                var_id(var)
            elif node in apply_ids:
                var_id(var)
            elif expanded:
                apply_ids[node] = len(nodes)
                nodes.append((node.op, tuple(var_id(i) for i in node.inputs), tuple(o.type for o in node.outputs)))
                var_id(var)
            else:
                stack.append((var, True))
                for inp in reversed(node.inputs):
                    if inp not in ids:
                        stack.append((inp, False))

    updates = list(updates.items() if isinstance(updates, dict) else updates)
    out_ids = []
    for out in outputs:
        walk(out)
        out_ids.append(ids[out])
    update_ids, done = [], 0
    while True:
        for target, expr in updates[done:]:
            var_id(target)
            walk(expr)
            update_ids.append((ids[target], ids[expr]))
        done = len(updates)
        extra = _default_updates(shared, {t for t, _ in updates})
        if not extra:
            break
        updates.extend(extra)
    key = (_mode_key(mode), tuple(ids[i] for i in inputs), tuple(nodes), tuple(out_ids), tuple(update_ids))
    return key, shared, updates


def _private_copy(var):
    return type(var)(type=var.type, value=var.get_value(borrow=False), strict=False, name=var.name)


class _Entry:
    """A compiled function with the private shared variables it reads and updates."""

    def __init__(self, fn, containers):
        self.fn = fn
        self.containers = containers
        self.lock = threading.Lock()


class CachedFunction:
    """A compiled function bound to one caller's shared variables.

    Calling it puts the caller's values into the function's own shared
    variables, runs it, and hands the (updated) values back, so the caller's
    shared variables behave as if the function had been compiled for them.
    Calls on one compiled function are serialized by a lock.

    Attributes
    ----------
    function : pytensor.compile.executor.Function
        The compiled function (shared with other callers of the same graph).

    Examples
    --------
    Two nets of the same structure share one compilation but keep their own
    weights:

    >>> from sknet.compile import build_layers, compile_predict
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> def net(w):
    ...     return build_layers([(InputLayer, {'shape': (None, 1)}),
    ...                          (DenseLayer, {'num_units': 1, 'nonlinearity': None,
    ...                                        'W': np.full((1, 1), w, 'float32')})])
    >>> f1, f2 = compile_predict(net(2.0)), compile_predict(net(3.0))
    >>> x = np.ones((1, 1), 'float32')
    >>> f1(x).item(), f2(x).item()
    (2.0, 3.0)
    """

    def __init__(self, entry, shared):
        self._entry = entry
        self._pairs = [(var.container, private) for var, private in zip(shared, entry.containers)]

    @property
    def function(self):
        return self._entry.fn

    @property
    def maker(self):
        return self._entry.fn.maker

    def __call__(self, *args, **kwargs):
        entry = self._entry
        with entry.lock:
            for own, private in self._pairs:
                private.storage[0] = own.storage[0]
            try:
                return entry.fn(*args, **kwargs)
            finally:
                for own, private in self._pairs:
                    own.storage[0] = private.storage[0]
                    # Hold no caller's arrays between calls.
                    private.storage[0] = None

    def __reduce__(self):
        raise TypeError("Compiled functions are not pickled; sknet rebuilds them on first use")


def _compile(inputs, outputs, mode, updates):
    try:
        fn = pytensor.function(inputs, outputs, updates=updates, mode=get_mode(mode), on_unused_input="ignore")
    except NotImplementedError as exc:
        linker = _mode_key(mode)[1]
        raise NotImplementedError(
            f"The compile mode {mode!r} ({linker}) cannot run this network: {exc}. "
            "Use mode=None (the C backend) or 'NUMBA', which run every sknet op."
        ) from exc
    with _lock:
        _stats["compiles"] += 1
    return fn


def _cacheable(key, shared, mode):
    from pytensor.tensor.random.type import RandomType

    try:
        hash(key)
    except TypeError:  # an op with unhashable properties: compile per caller
        return False

    # The JAX linker swaps random generators for private copies at compile
    # time, so it would ignore the caller's generators: compile per caller.
    if _mode_key(mode)[1] == "JAXLinker":
        return not any(isinstance(var.type, RandomType) for var in shared)
    return True


def _for_jax(inputs, output_list, updates, single, input_shapes):
    """Fix the shapes of shared tensors (and known input sizes) in the graph.

    JAX traces with static shapes anyway; fixing them in the graph lets
    PyTensor fold ``W.shape[1]`` into a constant, which ``jnp.arange`` (in
    one-hot targets) and the gradient ops of sknet's convolution need.
    """
    from pytensor.tensor import TensorType, specify_shape

    from .ops.registry import register

    register(get_mode("JAX").linker)  # the JAX versions of sknet's ops, before the shapes are fixed

    _, shared, all_updates = graph_key(inputs, output_list, updates or ())
    # Sizes of 1 stay unknown: a static 1 would make the update's type
    # broadcastable where the variable's is not.
    replace = {
        var: specify_shape(var, [None if n == 1 else n for n in var.get_value(borrow=True).shape])
        for var in shared
        if isinstance(var.type, TensorType) and var.ndim
    }
    for var, shape in zip(inputs, input_shapes or ()):
        if shape is not None and any(n not in (None, 1) for n in shape):
            replace[var] = specify_shape(var, [None if n == 1 else n for n in shape])
    exprs = [expr for _, expr in all_updates]
    cloned = clone_replace(output_list + exprs, replace=replace) if replace else output_list + exprs
    output_list = cloned[: len(output_list)]
    new_updates = [(target, expr) for (target, _), expr in zip(all_updates, cloned[len(output_list) :])]
    return (output_list[0] if single else output_list), output_list, new_updates


def _compile_private(inputs, output_list, single, mode, shared, all_updates):
    """Compile the graph over private copies of its shared variables; an entry holding no values."""
    private = [_private_copy(var) for var in shared]
    replace = dict(zip(shared, private))
    exprs = [expr for _, expr in all_updates]
    cloned = clone_replace(output_list + exprs, replace=replace) if replace else output_list + exprs
    new_outputs = cloned[0] if single else cloned[: len(output_list)]
    new_updates = [(replace[target], expr) for (target, _), expr in zip(all_updates, cloned[len(output_list) :])]
    # The private copies carry no default updates: every update is explicit.
    entry = _Entry(_compile(inputs, new_outputs, mode, new_updates), [var.container for var in private])
    for container in entry.containers:
        container.storage[0] = None
    return entry


def function(inputs, outputs, mode=None, updates=None, input_shapes=None):
    """Compile ``inputs -> outputs`` (with ``updates``), reusing an identical graph's compilation.

    Parameters
    ----------
    inputs : list of variables
    outputs : variable or list of variables
    mode : None, str or Mode
        As :func:`sknet.backend.get_mode`.
    updates : dict or list of pairs, optional
        Shared variable updates (default updates are added).
    input_shapes : list, optional
        Known shapes of the inputs (None for unknown sizes), used in JAX mode
        only, where sizes fixed in the graph become constants.

    Returns
    -------
    callable
        A :class:`CachedFunction`, or a plain PyTensor function when the cache
        is off or the graph cannot be shared.

    Examples
    --------
    >>> x = T.vector('x')
    >>> w1, w2 = pytensor.shared(np.float32(2.0)), pytensor.shared(np.float32(3.0))
    >>> f1, f2 = function([x], x * w1), function([x], x * w2)
    >>> f1(np.ones(2, 'float32')).tolist(), f2(np.ones(2, 'float32')).tolist()
    ([2.0, 2.0], [3.0, 3.0])
    >>> f1.function is f2.function
    True
    """
    single = not isinstance(outputs, (list, tuple))
    output_list = [outputs] if single else list(outputs)
    if _mode_key(mode)[1] == "JAXLinker":
        outputs, output_list, updates = _for_jax(inputs, output_list, updates, single, input_shapes)
    if not _enabled:
        with _lock:
            _stats["uncached"] += 1
        return _compile(inputs, outputs, mode, updates)
    key, shared, all_updates = graph_key(inputs, output_list, updates or (), mode)
    if not _cacheable(key, shared, mode):
        with _lock:
            _stats["uncached"] += 1
        return _compile(inputs, outputs, mode, updates)
    with _lock:
        entry = _entries.get(key)
        if entry is not None:
            _entries.move_to_end(key)
            _stats["hits"] += 1
            return CachedFunction(entry, shared)
    name = function_store.digest(key, mode)
    stored = function_store.load(name)
    if stored is not None:
        entry = _Entry(*stored)
    else:
        entry = _compile_private(inputs, output_list, single, mode, shared, all_updates)
        function_store.save(name, entry.fn, entry.containers)
    with _lock:
        _stats["misses"] += 1
        _stats["loads"] += stored is not None
        _entries[key] = entry
        while len(_entries) > MAXSIZE:
            _entries.popitem(last=False)
    return CachedFunction(entry, shared)
