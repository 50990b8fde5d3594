"""NUMBA-mode implementations of sknet's ops (registered by :func:`sknet.ops.registry.register`)."""

import numpy as np
from pytensor.link.numba.dispatch import basic as numba_basic
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from . import _kernels
from .corr import _DIRECTIONS, CorrMM, CorrMMBiasRelu
from .pool import POOL_MODES, Pool2D, Pool2DGrad
from .reduce import BlockSum


@register_funcify_default_op_cache_key(CorrMM)
def _numba_corr(op, node=None, **kwargs):
    kernel = _kernels.jit(_kernels.corr_kernel)
    direction = _DIRECTIONS.index(op.direction)
    (sh, sw), (ph, pw) = op.stride, op.pad

    if isinstance(op, CorrMMBiasRelu):

        @numba_basic.numba_njit
        def corr(a, b, bias):
            out = kernel(0, a, b, np.zeros(2, np.int64), sh, sw, ph, pw)
            for n in range(out.shape[0]):
                for f in range(out.shape[1]):
                    for i in range(out.shape[2]):
                        for j in range(out.shape[3]):
                            v = out[n, f, i, j] + bias[f]
                            out[n, f, i, j] = v if not v <= 0 else 0  # NaN stays NaN, as ScalarRelu
            return out

    elif direction == 0:

        @numba_basic.numba_njit
        def corr(a, b):
            return kernel(0, a, b, np.zeros(2, np.int64), sh, sw, ph, pw)

    else:

        @numba_basic.numba_njit
        def corr(a, b, shp):
            return kernel(direction, a, b, shp, sh, sw, ph, pw)

    return corr


@register_funcify_default_op_cache_key(Pool2D)
def _numba_pool(op, node=None, **kwargs):
    kernel = _kernels.jit(_kernels.pool_kernel)
    (wh, ww), (sh, sw), (ph, pw) = op.ws, op.stride, op.pad
    mode, ignore_border = POOL_MODES.index(op.mode), op.ignore_border

    @numba_basic.numba_njit
    def out_size(n, ws, st, pad):
        if ignore_border:
            return (n + 2 * pad - ws) // st + 1
        if st >= ws:
            return (n + st - 1) // st
        return max(0, (n - ws + st - 1) // st) + 1

    @numba_basic.numba_njit
    def pool(x):
        B, C, H, W = x.shape
        oh, ow = out_size(H, wh, sh, ph), out_size(W, ww, sw, pw)
        z = np.empty((B, C, oh, ow), x.dtype)
        kernel(np.ascontiguousarray(x).reshape(B * C, H, W), z.reshape(B * C, oh, ow), wh, ww, sh, sw, ph, pw, mode)
        return z

    return pool


@register_funcify_default_op_cache_key(Pool2DGrad)
def _numba_pool_grad(op, node=None, **kwargs):
    kernel = _kernels.jit(_kernels.pool_grad_kernel)
    (wh, ww), (sh, sw), (ph, pw) = op.ws, op.stride, op.pad
    mode = POOL_MODES.index(op.mode)
    positive_mask = op.positive_mask

    @numba_basic.numba_njit
    def pool_grad(x, gz):
        B, C, H, W = x.shape
        gx = np.zeros(x.shape, x.dtype)
        kernel(
            np.ascontiguousarray(x).reshape(B * C, H, W),
            np.ascontiguousarray(gz).reshape(B * C, gz.shape[2], gz.shape[3]),
            gx.reshape(B * C, H, W),
            wh,
            ww,
            sh,
            sw,
            ph,
            pw,
            mode,
        )
        if positive_mask:
            gx *= x > 0
        return gx

    return pool_grad


@register_funcify_default_op_cache_key(BlockSum)
def _numba_block_sum(op, node=None, **kwargs):
    start, stop, ndim = op.start, op.stop, node.inputs[0].ndim
    acc_dtype = np.dtype(op.acc_dtype)
    out_dtype = np.dtype(node.outputs[0].dtype)

    @numba_basic.numba_njit
    def block_sum(x):
        outer, mid, inner = 1, 1, 1
        for i in range(ndim):
            if i < start:
                outer *= x.shape[i]
            elif i < stop:
                mid *= x.shape[i]
            else:
                inner *= x.shape[i]
        flat = np.ascontiguousarray(x).reshape((outer, mid, inner))
        acc = np.zeros(mid, acc_dtype)
        for o in range(outer):
            for m in range(mid):
                for k in range(inner):
                    acc[m] += flat[o, m, k]
        return acc.astype(out_dtype).reshape(x.shape[start:stop])

    return block_sum
