"""JAX-mode implementations of sknet's ops (registered when JAX mode first compiles).

Imported by :func:`sknet.ops.registry.register` only when a mode of
:func:`sknet.backend.get_mode` with PyTensor's JAX linker compiles a function,
so sknet never imports jax otherwise.
Correlation uses ``jax.lax.conv_general_dilated``, BlockSum ``jnp.sum``, pooling
``jax.lax.reduce_window``; the gradient ops are the vector-Jacobian products
of the forward computations. :func:`local_reshape_free_size` and
:func:`local_drop_runtime_check`, :func:`local_sum_in_32_bits` and
:func:`local_cast_into_make_vector` are rewrites of sknet's JAX mode
(registered with the rest, tagged ``sknet_jax``).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytensor.tensor as T
from jax import lax
from pytensor.graph.basic import Constant
from pytensor.graph.rewriting.basic import copy_stack_trace, node_rewriter
from pytensor.link.jax.dispatch import jax_funcify
from pytensor.raise_op import CheckAndRaise
from pytensor.scalar import Cast
from pytensor.tensor.basic import MakeVector
from pytensor.tensor.elemwise import CAReduce, Elemwise
from pytensor.tensor.shape import Reshape, Shape_i

from .corr import CorrMM, CorrMMBiasRelu
from .pool import Pool2D, Pool2DGrad, pool_out_size
from .reduce import BlockSum

_DIMS = ("NCHW", "OIHW", "NCHW")


def _static_shape(shp, op):
    try:
        return tuple(int(s) for s in np.asarray(shp))
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError, TypeError) as exc:
        raise NotImplementedError(
            f"{op} in JAX mode needs its spatial shape known when the function is traced; "
            "give the input layer a full shape"
        ) from exc


@jax_funcify.register(CorrMM)
def _jax_corr(op, node=None, **kwargs):
    stride = op.stride
    padding = [(op.pad[0], op.pad[0]), (op.pad[1], op.pad[1])]

    def forward(img, kern):
        return lax.conv_general_dilated(img, kern, stride, padding, dimension_numbers=_DIMS)

    if isinstance(op, CorrMMBiasRelu):

        def forward_bias_relu(img, kern, bias):
            out = forward(img, kern) + bias[None, :, None, None]
            return jnp.where(out <= 0, 0, out).astype(out.dtype)  # NaN stays NaN, as ScalarRelu

        return forward_bias_relu

    if op.direction == "forward":
        return forward

    weights = op.direction == "weights"

    def corr_grad(known, topgrad, shp):
        # the vector-Jacobian product of forward() in its other operand, of spatial shape shp
        h, w = _static_shape(shp, op)
        lead = topgrad.shape[1] if weights else topgrad.shape[0]
        zeros = jnp.zeros((lead, known.shape[1], h, w), known.dtype)
        unknown = (lambda k: forward(known, k)) if weights else (lambda i: forward(i, known))
        _, pullback = jax.vjp(unknown, zeros)
        return pullback(topgrad)[0]

    return corr_grad


def _pool_forward(op):
    (wh, ww), (sh, sw), (ph, pw) = op.ws, op.stride, op.pad
    window, strides = (1, 1, wh, ww), (1, 1, sh, sw)

    def pool(x):
        H, W = x.shape[2], x.shape[3]
        oh = pool_out_size(H, wh, sh, ph, op.ignore_border)
        ow = pool_out_size(W, ww, sw, pw, op.ignore_border)
        # Extra cells past the (padded) border hold the partial last windows.
        eh = max(0, (oh - 1) * sh + wh - (H + 2 * ph))
        ew = max(0, (ow - 1) * sw + ww - (W + 2 * pw))
        pads = ((0, 0), (0, 0), (ph, ph + eh), (pw, pw + ew))
        if op.mode == "max":
            out = lax.reduce_window(x, -jnp.inf, lax.max, window, strides, pads)
        else:
            total = lax.reduce_window(x, 0.0, lax.add, window, strides, pads)
            if op.mode == "average_exc_pad":
                ones = jnp.ones((1, 1, H, W), x.dtype)
                count = lax.reduce_window(ones, 0.0, lax.add, window, strides, pads)
            else:
                ones = jnp.pad(jnp.ones((1, 1, H, W), x.dtype), ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=1)
                count = lax.reduce_window(ones, 0.0, lax.add, window, strides, ((0, 0), (0, 0), (0, eh), (0, ew)))
            out = total / count
        return out[:, :, :oh, :ow].astype(x.dtype)

    return pool


@jax_funcify.register(Pool2D)
def _jax_pool(op, node=None, **kwargs):
    return _pool_forward(op)


@jax_funcify.register(Pool2DGrad)
def _jax_pool_grad(op, node=None, **kwargs):
    pool = _pool_forward(op)

    def pool_grad(x, gz):
        _, pullback = jax.vjp(pool, x)
        gx = pullback(gz)[0]
        return gx * (x > 0) if op.positive_mask else gx

    return pool_grad


@jax_funcify.register(BlockSum)
def _jax_block_sum(op, node=None, **kwargs):
    axes, out_dtype = op._axes(node.inputs[0].ndim), node.outputs[0].dtype

    def block_sum(x):
        return jnp.sum(x, axis=axes, dtype=op.acc_dtype).astype(out_dtype)

    return block_sum


@node_rewriter([Reshape])
def local_reshape_free_size(fgraph, node):
    """Let ``jnp.reshape`` infer the one size of a reshape that is computed from others.

    JAX needs every shape concrete while it traces: a size read off an
    array (``Shape_i``) or a constant is, but a product such as
    ``batch * depth`` (3-D convolution and pooling fold the depth into the
    batch) is a traced value. A reshape keeps the number of elements, so
    that one entry can be ``-1``.
    """
    x, shape = node.inputs
    if shape.owner is None or not isinstance(shape.owner.op, MakeVector):
        return None
    entries = shape.owner.inputs
    computed = [i for i, e in enumerate(entries) if e.owner is not None and not isinstance(e.owner.op, Shape_i)]
    fixed = [e for e in entries if isinstance(e, Constant)]
    if len(computed) != 1 or any(e.data in (-1, 0) for e in fixed):
        return None
    entries = list(entries)
    entries[computed[0]] = T.constant(-1, dtype=entries[computed[0]].dtype)
    out = node.op(x, T.stack(entries))
    if not node.outputs[0].type.is_super(out.type):  # the constants may fix more sizes, never fewer
        return None
    copy_stack_trace(node.outputs[0], out)
    return [out]


@node_rewriter([CheckAndRaise])
def local_drop_runtime_check(fgraph, node):
    """Drop a runtime assertion from a JAX graph, as JAX's tracing would.

    PyTensor's JAX backend skips every ``Assert`` (JAX compiles no
    data-dependent raise), with a warning per assertion about checks the
    user never wrote, such as the equal batch sizes of predictions and
    targets. An assertion already false at compile time stays, so it still
    raises when compiled.
    """
    if any(isinstance(cond, Constant) and not cond.data.all() for cond in node.inputs[1:]):
        return None
    return [node.inputs[0]]


@node_rewriter([CAReduce])
def local_sum_in_32_bits(fgraph, node):
    """Accumulate a float32 sum in float32 when JAX runs without 64-bit types.

    PyTensor sums float32 arrays in a float64 accumulator; with ``floatX``
    float32 PyTensor's JAX backend turns JAX's 64-bit types off, so JAX
    truncates the accumulator to float32 anyway, warning at each sum. Asking
    for float32 gives the same numbers without the warning.
    """
    op = node.op
    if jax.config.jax_enable_x64 or getattr(op, "acc_dtype", None) != "float64":
        return None
    if node.outputs[0].dtype != "float32":
        return None
    out = op.clone(acc_dtype="float32")(*node.inputs)
    copy_stack_trace(node.outputs[0], out)
    return [out]


@node_rewriter([Elemwise])
def local_cast_into_make_vector(fgraph, node):
    """Cast a shape vector's sizes one by one, ``float32([n, m])`` -> ``[float32(n), float32(m)]``.

    A mean divides by the number of elements, computed from an int64
    ``MakeVector`` of the sizes: without 64-bit types JAX truncates that
    vector to int32, warning each time. Casting each size first builds the
    vector directly in the target dtype.
    """
    if not isinstance(node.op.scalar_op, Cast) or jax.config.jax_enable_x64:
        return None
    vector = node.inputs[0]
    if vector.owner is None or not isinstance(vector.owner.op, MakeVector) or vector.owner.op.dtype != "int64":
        return None
    dtype = node.outputs[0].dtype
    out = MakeVector(dtype)(*[T.cast(x, dtype) for x in vector.owner.inputs])
    copy_stack_trace(node.outputs[0], out)
    return [out]
