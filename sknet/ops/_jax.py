"""JAX-mode implementations of sknet's ops (registered when JAX mode first compiles).

Imported by :func:`sknet.ops.registry.register` only when a mode of
:func:`sknet.backend.get_mode` with PyTensor's JAX linker compiles a function,
so sknet never imports jax otherwise.
Correlation uses ``jax.lax.conv_general_dilated``, BlockSum ``jnp.sum``, pooling
``jax.lax.reduce_window``; the gradient ops are the vector-Jacobian products
of the forward computations.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from pytensor.link.jax.dispatch import jax_funcify

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

    if op.direction == "weights":

        def corr_weights(img, topgrad, shp):
            kh, kw = _static_shape(shp, op)
            kern = jnp.zeros((topgrad.shape[1], img.shape[1], kh, kw), img.dtype)
            _, pullback = jax.vjp(lambda k: forward(img, k), kern)
            return pullback(topgrad)[0]

        return corr_weights

    def corr_inputs(kern, topgrad, shp):
        h, w = _static_shape(shp, op)
        img = jnp.zeros((topgrad.shape[0], kern.shape[1], h, w), kern.dtype)
        _, pullback = jax.vjp(lambda i: forward(i, kern), img)
        return pullback(topgrad)[0]

    return corr_inputs


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
