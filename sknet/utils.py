"""Small helpers shared by the layer library: dtype casts, params, tuples."""

import numpy as np
import pytensor
import pytensor.tensor as T
from pytensor.graph.basic import Variable
from pytensor.graph.traversal import graph_inputs

from .backend import FLOATX

__all__ = [
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
]


def floatX(arr):
    """Cast an array-like to sknet's float dtype (float32).

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
    return np.asarray(arr, dtype=FLOATX)


def shared_empty(dim=2, dtype=None):
    """Return a shared variable holding an empty array of ``dim`` dimensions.

    Examples
    --------
    >>> shared_empty(3).get_value().shape
    (0, 0, 0)
    """
    dtype = FLOATX if dtype is None else dtype
    return pytensor.shared(np.zeros((0,) * dim, dtype=dtype))


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
        arr = arr.astype(FLOATX)
    try:
        return T.constant(arr)
    except Exception as exc:  # pragma: no cover - unusual inputs only
        raise TypeError(f"Input of type {type(input)} is not a PyTensor expression") from exc


#: Lasagne's name for :func:`as_tensor_expression`.
as_theano_expression = as_tensor_expression


def collect_shared_vars(expressions):
    """Return the shared variables an expression (or list of them) depends on.

    Examples
    --------
    >>> w = pytensor.shared(np.ones(2, dtype='float32'), name='w')
    >>> [v.name for v in collect_shared_vars(2 * w)]
    ['w']
    """
    if isinstance(expressions, Variable):
        expressions = [expressions]
    return [
        v
        for v in graph_inputs(list(expressions))
        if isinstance(v, pytensor.compile.SharedVariable)
    ]


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
    return T.cast(T.eq(x[:, None], T.arange(m)[None, :]), FLOATX)


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
        If given, every element must be of this type.

    Examples
    --------
    >>> as_tuple(3, 2)
    (3, 3)
    >>> as_tuple((1, 2), 2)
    (1, 2)
    """
    try:
        X = tuple(x)
    except TypeError:
        X = (x,) * N
    if (t is not None) and not all(isinstance(v, t) for v in X):
        type_str = t.__name__ if isinstance(t, type) else " or ".join(tt.__name__ for tt in t)
        raise TypeError(f"expected a single value or an iterable of {type_str}, got {x!r} instead")
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
    ndim = array.ndim
    if norm_axes is not None:
        sum_over = tuple(norm_axes)
    elif ndim == 1:
        sum_over = ()
    elif ndim == 2:
        sum_over = (0,)
    elif ndim in (3, 4, 5):
        sum_over = tuple(range(1, ndim))
    else:
        raise ValueError(f"Unsupported tensor dimensionality {ndim}. Must specify `norm_axes`")
    if isinstance(array, np.ndarray):
        return np.sqrt(np.sum(array**2, axis=sum_over))
    return T.sqrt(T.sum(T.sqr(array), axis=sum_over))


def create_param(spec, shape, name=None):
    """Create a parameter from an array, shared variable, expression or callable.

    Parameters
    ----------
    spec : numpy.ndarray, SharedVariable, PyTensor expression or callable
        A numpy array is copied into a new float32 shared variable; a shared
        variable or expression is used as it is (its dimensionality must
        match); a callable (an initializer) is called with ``shape``.
    shape : tuple of int
    name : str, optional

    Returns
    -------
    SharedVariable or PyTensor expression

    Examples
    --------
    >>> from sknet.init import Constant
    >>> p = create_param(Constant(1.0), (2, 3), name='W')
    >>> p.get_value().shape, p.dtype
    ((2, 3), 'float32')
    """
    import numbers

    shape = tuple(shape)
    if any(not isinstance(d, numbers.Integral) or d <= 0 for d in shape):
        raise ValueError(
            f"Cannot create param {name!r} with a non-positive or unknown shape {shape}"
        )
    err_prefix = f"cannot initialize parameter {name}: " if name else "cannot initialize parameter: "

    if isinstance(spec, Variable):
        if spec.ndim != len(shape):
            raise ValueError(
                f"{err_prefix}parameter variable has {spec.ndim} dimensions, should be {len(shape)}"
            )
        if isinstance(spec, pytensor.compile.SharedVariable):
            value = spec.get_value(borrow=True)
            if value.shape != shape:
                raise ValueError(
                    f"{err_prefix}parameter has shape {value.shape}, should be {shape}"
                )
            if name is not None and spec.name is None:
                spec.name = name
        return spec

    if callable(spec):
        arr = spec(shape)
        if isinstance(arr, Variable):
            return create_param(arr, shape, name)
        arr = np.asarray(arr)
        if arr.shape != shape:
            raise ValueError(f"{err_prefix}initializer returned an array of shape {arr.shape}, should be {shape}")
        return pytensor.shared(floatX(arr), name=name)

    arr = np.asarray(spec)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{err_prefix}spec must be a numpy array, a PyTensor expression or a callable")
    if arr.shape != shape:
        raise ValueError(f"{err_prefix}array has shape {arr.shape}, should be {shape}")
    return pytensor.shared(floatX(arr), name=name)


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
    sequences, outputs_info, non_sequences : lists of expressions
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
