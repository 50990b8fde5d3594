"""Small helpers shared by the layer library: dtype casts, params, tuples."""

import inspect
import numbers

import numpy as np
import pytensor
import pytensor.tensor as T
from pytensor.graph.basic import Variable

__all__ = [
    "int_types",
    "float_dtype",
    "floatX",
    "shared_empty",
    "as_tensor_expression",
    "as_theano_expression",
    "collect_shared_vars",
    "one_hot",
    "unique",
    "as_tuple",
    "compute_norms",
    "create_param",
    "unroll_scan",
    "set_default_update",
    "inspect_kwargs",
]

#: The types that count as an integer size or index: Python ints and numpy's
#: integer scalars (``np.int64(3)``, what ``np.prod`` of a shape returns).
int_types = (numbers.Integral, np.integer)


def float_dtype():
    """The float dtype the layer library builds parameters and variables in.

    It is PyTensor's ``floatX``, which sknet sets to float32 on import unless
    the user chose another (``PYTENSOR_FLAGS=floatX=float64`` or
    ``pytensor.config.floatX = 'float64'``); as in Lasagne, it is read when a
    parameter or variable is made, so a change takes effect for later layers.
    The estimators build their networks under float32 whatever it says.

    Examples
    --------
    >>> float_dtype()
    'float32'
    >>> with pytensor.config.change_flags(floatX='float64'):
    ...     float_dtype()
    'float64'
    """
    return pytensor.config.floatX


def floatX(arr):
    """Cast an array-like to the float dtype of :func:`float_dtype` (float32).

    Parameters
    ----------
    arr : array_like

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> floatX([1, 2]).dtype
    dtype('float32')
    """
    return np.asarray(arr, dtype=float_dtype())


def shared_empty(dim=2, dtype=None):
    """Return a shared variable of ``dim`` dimensions holding one zero.

    As in Lasagne, the placeholder array has size 1 on every axis (the
    variable's type does not fix that size, so any array fits later).

    Examples
    --------
    >>> shared_empty(3).get_value().shape
    (1, 1, 1)
    """
    dtype = float_dtype() if dtype is None else dtype
    return pytensor.shared(np.zeros((1,) * dim, dtype=dtype))


def as_tensor_expression(input):
    """Wrap numbers and arrays as PyTensor constants; pass variables through.

    Examples
    --------
    >>> as_tensor_expression(1.5).eval()
    array(1.5, dtype=float32)
    """
    if isinstance(input, Variable):
        return input
    arr = np.asarray(input)
    if arr.dtype.kind == "f":
        arr = arr.astype(float_dtype())
    try:
        return T.constant(arr)
    except Exception as exc:  # pragma: no cover - unusual inputs only
        raise TypeError(f"Input of type {type(input)} is not a PyTensor expression") from exc


#: Lasagne's name for :func:`as_tensor_expression`.
as_theano_expression = as_tensor_expression


def collect_shared_vars(expressions):
    """Return the shared variables an expression (or list of them) depends on.

    The order is Lasagne's: a depth-first search from the first expression,
    visiting each operation's inputs left to right, so ``[x, y, z]`` of
    shared variables comes back as ``[x, y, z]`` and the parameters of
    ``W1 + W2`` as ``[W1, W2]``.

    Examples
    --------
    >>> w = pytensor.shared(np.ones(2, dtype='float32'), name='w')
    >>> b = pytensor.shared(np.ones(2, dtype='float32'), name='b')
    >>> [v.name for v in collect_shared_vars([2 * w + b, b])]
    ['w', 'b']
    """
    if isinstance(expressions, Variable):
        expressions = [expressions]
    # PyTensor's own graph_inputs walks right-first; this stack walk puts the
    # leftmost input on top, so it is visited first
    stack = list(expressions)[::-1]
    seen = set()
    found = []
    while stack:
        var = stack.pop()
        if var in seen:
            continue
        seen.add(var)
        if var.owner is not None:
            stack.extend(var.owner.inputs[::-1])
        elif isinstance(var, pytensor.compile.SharedVariable):
            found.append(var)
    return found


def one_hot(x, m=None):
    """One-hot encode an integer vector as a float matrix of ``m`` columns.

    Built from a comparison rather than advanced indexing so that it works in
    every PyTensor backend.

    Examples
    --------
    >>> one_hot(np.array([0, 2]), 3).eval()
    array([[1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    """
    x = as_tensor_expression(x)
    if m is None:
        m = T.cast(T.max(x) + 1, "int64")
    return T.cast(T.eq(x[:, None], T.arange(m)[None, :]), float_dtype())


def unique(l):
    """Return the items of ``l`` without repeats, keeping their first order.

    Examples
    --------
    >>> unique([3, 1, 3, 2, 1])
    [3, 1, 2]
    """
    seen = set()
    out = []
    for item in l:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def as_tuple(x, N, t=None):
    """Return ``x`` as a tuple of length ``N`` (repeating a scalar).

    Parameters
    ----------
    x : value or iterable
    N : int
    t : type or tuple of types, optional
        If given, every element must be of this type. ``int`` also admits
        numpy integers (``np.int64(3)``, what numpy shapes hold), which are
        returned as Python ints.

    Examples
    --------
    >>> as_tuple(3, 2)
    (3, 3)
    >>> as_tuple((1, 2), 2)
    (1, 2)
    >>> as_tuple(np.int64(3), 2, int)
    (3, 3)
    """
    try:
        X = tuple(x)
    except TypeError:
        X = (x,) * N
    if t is not None:
        types = t if isinstance(t, tuple) else (t,)
        lenient = int in types
        if lenient:
            types = types + (np.integer,)
        if not all(isinstance(v, types) for v in X):
            if t == int_types:
                type_str = "int"
            else:
                type_str = t.__name__ if isinstance(t, type) else " or ".join(tt.__name__ for tt in t)
            raise TypeError(f"expected a single value or an iterable of {type_str}, got {x!r} instead")
        if lenient:
            X = tuple(int(v) if isinstance(v, np.integer) else v for v in X)
    if len(X) != N:
        raise ValueError(f"expected a single value or an iterable with length {N}, got {x!r} instead")
    return X


def compute_norms(array, norm_axes=None):
    """Compute the L2 norms of an array (numpy or symbolic) over ``norm_axes``.

    By default the axes are chosen as Lasagne does: axis 0 for a vector or a
    dense weight matrix (one norm per unit), all but axis 0 for conv filters.

    Examples
    --------
    >>> compute_norms(np.array([[3.0, 0.0], [4.0, 1.0]]))
    array([5., 1.])
    """
    if not isinstance(array, (Variable, np.ndarray)):
        # RuntimeError, as Lasagne raises here
        raise RuntimeError(
            f"Unsupported type {type(array).__name__}: compute_norms supports numpy arrays and PyTensor variables"
        )
    sum_over = () if array.ndim == 1 and norm_axes is None else _norm_axes(array.ndim, norm_axes)
    if isinstance(array, np.ndarray):
        return np.sqrt(np.sum(array**2, axis=sum_over))
    return T.sqrt(T.sum(T.sqr(array), axis=sum_over))


def _norm_axes(ndim, norm_axes=None):
    """The axes a norm sums over: ``norm_axes``, else Lasagne's choice for ``ndim``.

    Axis 0 of a dense weight matrix (one norm per unit), all but axis 0 of
    conv filters (one norm per filter); other ranks must give ``norm_axes``.
    """
    if norm_axes is not None:
        return tuple(norm_axes)
    if ndim == 2:
        return (0,)
    if ndim in (3, 4, 5):
        return tuple(range(1, ndim))
    raise ValueError(f"Unsupported tensor dimensionality {ndim}. Must specify `norm_axes`")


def _param_shape(shape, name):
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"the shape of parameter {name!r} must be a tuple of ints, got {shape!r}") from None
    if any(not isinstance(d, int_types) or d <= 0 for d in shape):
        raise ValueError(f"Cannot create param {name!r} with a non-positive or unknown shape {shape}")
    return tuple(int(d) for d in shape)


def create_param(spec, shape, name=None):
    """Create a parameter from an array, shared variable, expression or callable.

    Parameters
    ----------
    spec : numpy.ndarray, number, SharedVariable, PyTensor expression or callable
        A numpy array (or number) is copied into a new shared variable: a
        float array in the float dtype of :func:`float_dtype` (float32 by
        default), an integer or boolean array in its own dtype. Its axes of
        size 1 are broadcastable, as in Lasagne (the parameter's shape is
        fixed once made), so ``x + param`` broadcasts a ``(1, n)`` parameter
        over a batch. A shared variable or expression is used as it is (its
        dimensionality must match, and a shared variable's shape). A callable
        (an initializer) is called with ``shape`` and its result treated as
        above.
    shape : tuple of int
        Sizes (Python or numpy integers).
    name : str, optional

    Returns
    -------
    SharedVariable or PyTensor expression

    Raises
    ------
    ValueError
        On a non-positive size or a shape or dimensionality mismatch.
    TypeError
        When ``spec`` (or what the callable returned) is none of the above.

    Examples
    --------
    >>> from sknet.init import Constant
    >>> p = create_param(Constant(1.0), (2, 3), name='W')
    >>> p.get_value().shape, p.dtype
    ((2, 3), 'float32')
    >>> b = create_param(np.zeros((1, 3)), (1, 3))
    >>> b.broadcastable, (T.matrix() + b).broadcastable
    ((True, False), (False, False))
    >>> create_param(np.arange(3), (3,)).dtype
    'int64'
    """
    shape = _param_shape(shape, name)
    err_prefix = f"cannot initialize parameter {name}: " if name else "cannot initialize parameter: "
    from_callable = callable(spec) and not isinstance(spec, Variable)
    if from_callable:
        spec = spec(shape)
        what = "the value returned by the initializer"
    else:
        what = "spec"

    if isinstance(spec, (numbers.Number, np.generic)):
        spec = np.asarray(spec)
    if isinstance(spec, np.ndarray):
        if spec.dtype.kind not in "fiub":
            raise TypeError(f"{err_prefix}{what} is an array of dtype {spec.dtype}, not of numbers")
        if spec.shape != shape:
            kind = "initializer returned an array of" if from_callable else "array has"
            raise ValueError(f"{err_prefix}{kind} shape {spec.shape}, should be {shape}")
        value = floatX(spec) if spec.dtype.kind == "f" else spec
        static = tuple(1 if s == 1 else None for s in shape)
        return pytensor.shared(value, name=name, shape=static)

    if isinstance(spec, Variable):
        if spec.ndim != len(shape):
            raise ValueError(f"{err_prefix}parameter variable has {spec.ndim} dimensions, should be {len(shape)}")
        if isinstance(spec, pytensor.compile.SharedVariable):
            value = spec.get_value(borrow=True)
            if np.shape(value) != shape:
                raise ValueError(f"{err_prefix}parameter has shape {np.shape(value)}, should be {shape}")
        if name is not None and spec.name is None:
            spec.name = name
        return spec

    raise TypeError(
        f"{err_prefix}{what} must be a numpy array, a PyTensor expression or a callable "
        f"returning one, got {type(spec).__name__}"
    )


def set_default_update(shared_var, update):
    """Make every compiled function apply ``update`` to ``shared_var``.

    This is how random generators advance and batch-norm running averages
    follow training without the caller listing those updates, as in Lasagne.
    PyTensor marks the attribute deprecated; it is set here, in one place.

    Examples
    --------
    >>> counter = pytensor.shared(np.float32(0))
    >>> set_default_update(counter, counter + 1)
    >>> f = pytensor.function([], counter)
    >>> _ = f(); float(counter.get_value())
    1.0
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Setting default_update", DeprecationWarning)
        shared_var.default_update = update


def unroll_scan(fn, sequences, outputs_info, non_sequences, n_steps, go_backwards=False):
    """Unroll a scan-like recurrence into a plain graph of ``n_steps`` steps.

    Parameters
    ----------
    fn : callable
        Step function, called as ``fn(*seq_slices, *previous_outputs, *non_sequences)``.
    sequences : expression or list of expressions
        Iterated over their first axis.
    outputs_info, non_sequences : lists of expressions
    n_steps : int
    go_backwards : bool

    Returns
    -------
    list of expressions, one per output, each with time on axis 0

    Examples
    --------
    >>> import pytensor.tensor as T
    >>> x = T.vector('x')
    >>> out, = unroll_scan(lambda xt, acc: [acc + xt], [x], [T.constant(0.0)], [], 3)
    >>> out.eval({x: np.array([1., 2., 3.], dtype=x.dtype)}).tolist()
    [1.0, 3.0, 6.0]
    """
    if isinstance(sequences, Variable) or not isinstance(sequences, (list, tuple)):
        sequences = [sequences]
    counter = range(n_steps)
    if go_backwards:
        counter = counter[::-1]
    output = []
    prev_vals = outputs_info
    for i in counter:
        step_input = [s[i] for s in sequences] + list(prev_vals) + list(non_sequences)
        out_ = fn(*step_input)
        if isinstance(out_, Variable):
            out_ = [out_]
        if isinstance(out_, tuple):
            out_ = list(out_)
        output.append(out_)
        prev_vals = output[-1]
    output_scan = []
    for i in range(len(output[0])):
        l = [o[i] for o in output]
        output_scan.append(T.stack(l))
    return output_scan


def inspect_kwargs(func):
    """Return the names of the arguments of ``func`` that have a default value.

    Parameters
    ----------
    func : callable

    Returns
    -------
    list of str
        In the order of the signature.

    Examples
    --------
    >>> def f(a, b=1, *args, c=2, **kwargs):
    ...     pass
    >>> inspect_kwargs(f)
    ['b', 'c']
    """
    params = inspect.signature(func).parameters.values()
    return [p.name for p in params if p.default is not p.empty]
