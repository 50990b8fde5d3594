"""2-D max and average pooling over the last two axes, and their gradient op.

``Pool2D(ws, stride, pad, ignore_border, mode)`` pools a 4-D tensor;
``Pool2DGrad`` (same props) maps ``(x, gz)`` to the gradient with respect to
``x``. Modes follow Lasagne: ``'max'`` ignores padding, ``'average_inc_pad'``
divides by the window size counting padded cells, ``'average_exc_pad'`` by the
number of real cells in the window. With ``ignore_border=False`` the last
window may be partial (and then ``pad`` must be 0).

Importing the module registers :func:`local_pool_grad_relu`, a C-backend
rewrite that fuses a rectifier's gradient into the pooling gradient.

Examples
--------
>>> import pytensor, sknet
>>> a = T.tensor4('a')
>>> g = pytensor.grad(pool_2d(sknet.nonlinearities.rectify(a), (2, 2)).sum(), a)
>>> f = pytensor.function([a], g, mode=sknet.backend.get_mode())
>>> [n.op.positive_mask for n in f.maker.fgraph.apply_nodes if isinstance(n.op, Pool2DGrad)]
[True]
"""

import zlib

import numpy as np
import pytensor.scalar as ps
import pytensor.tensor as T
from pytensor.graph.basic import Apply, Constant
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.link.c.op import COp
from pytensor.tensor.elemwise import Elemwise
from pytensor.tensor.math import gt, mul

from . import _threads
from ._kernels import jit, pool_kernel, pool_grad_kernel

__all__ = ["Pool2D", "Pool2DGrad", "pool_2d", "pool_out_size", "POOL_MODES", "local_pool_grad_relu"]

POOL_MODES = ("max", "average_inc_pad", "average_exc_pad")


def pool_out_size(size, ws, stride, pad, ignore_border):
    """Number of pooling windows along one axis (Lasagne's rule).

    Examples
    --------
    >>> from sknet.ops.pool import pool_out_size
    >>> pool_out_size(5, 2, 2, 0, True), pool_out_size(5, 2, 2, 0, False)
    (2, 3)
    """
    if size is None:
        return None
    if ignore_border:
        return (size + 2 * pad - ws) // stride + 1
    if stride >= ws:
        return (size + stride - 1) // stride
    return max(0, (size - ws + stride - 1) // stride) + 1


class _PoolBase(_threads.ThreadedCOp, COp):
    __props__ = ("ws", "stride", "pad", "ignore_border", "mode")

    def __init__(self, ws, stride=None, pad=(0, 0), ignore_border=True, mode="max"):
        self.ws = tuple(int(w) for w in ws)
        self.stride = self.ws if stride is None else tuple(int(s) for s in stride)
        self.pad = tuple(int(p) for p in pad)
        self.ignore_border = bool(ignore_border)
        self.mode = mode
        if mode not in POOL_MODES:
            raise ValueError(f"mode must be one of {POOL_MODES}, got {mode!r}")
        if len(self.ws) != 2 or len(self.stride) != 2 or len(self.pad) != 2:
            raise ValueError("ws, stride and pad must each have 2 entries")
        if min(self.ws) < 1 or min(self.stride) < 1 or min(self.pad) < 0:
            raise ValueError("ws and stride must be positive, pad non-negative")
        if any(p >= w for p, w in zip(self.pad, self.ws)):
            raise ValueError(f"pad {self.pad} must be smaller than the pool size {self.ws}")
        if not self.ignore_border and any(self.pad):
            raise ValueError("padding needs ignore_border=True")

    def out_shape(self, h, w):
        return (
            pool_out_size(h, self.ws[0], self.stride[0], self.pad[0], self.ignore_border),
            pool_out_size(w, self.ws[1], self.stride[1], self.pad[1], self.ignore_border),
        )

    def _params(self):
        return (*self.ws, *self.stride, *self.pad, POOL_MODES.index(self.mode))

    def c_code_cache_version(self):
        return (4, zlib.crc32((_C_SUPPORT + _C_CODE).encode())) + _threads.cache_version()

    def c_support_code(self, **kwargs):
        return _threads.C_SUPPORT + _C_SUPPORT

    def c_code(self, node, name, inp, out, sub):
        dtype = node.inputs[0].dtype
        wh, ww, sh, sw, ph, pw, mode = self._params()
        d = dict(
            x=inp[0], z=out[0], fail=sub["fail"], wh=wh, ww=ww, sh=sh, sw=sw, ph=ph, pw=pw,
            mode=mode, ib=int(self.ignore_border), T="float" if dtype == "float32" else "double",
            npy="NPY_FLOAT32" if dtype == "float32" else "NPY_FLOAT64",
            gz=inp[1] if len(inp) > 1 else "NULL", grad=int(len(inp) > 1),
            mask=int(getattr(self, "positive_mask", False)),
        )
        return _C_CODE % d


class Pool2D(_PoolBase):
    """Pool windows of the last two axes of a 4-D tensor.

    Parameters
    ----------
    ws : tuple of 2 ints
        Window size.
    stride : tuple of 2 ints or None
        None means ``ws`` (non-overlapping windows).
    pad : tuple of 2 ints
    ignore_border : bool
    mode : {'max', 'average_inc_pad', 'average_exc_pad'}

    Examples
    --------
    >>> from sknet.ops.pool import Pool2D
    >>> x = np.arange(16, dtype='float32').reshape(1, 1, 4, 4)
    >>> Pool2D((2, 2))(x).eval()[0, 0]
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
    """

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        if x.ndim != 4:
            raise TypeError("Pool2D takes a 4-D tensor")
        if x.dtype not in ("float32", "float64"):
            x = T.cast(x, "float32")
        out = T.tensor(dtype=x.dtype, shape=x.type.shape[:2] + self.out_shape(*x.type.shape[2:]))
        return Apply(self, [x], [out])

    def infer_shape(self, fgraph, node, shapes):
        (b, c, h, w) = shapes[0]
        if self.ignore_border:
            oh, ow = self.out_shape(h, w)
        else:
            oh, ow = (_symbolic_out_size(n, k, s) for n, k, s in zip((h, w), self.ws, self.stride))
        return [(b, c, oh, ow)]

    def pullback(self, inputs, outputs, output_grads):
        (x,), (gz,) = inputs, output_grads
        return [Pool2DGrad(self.ws, self.stride, self.pad, self.ignore_border, self.mode)(x, gz)]

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        oh, ow = self.out_shape(*x.shape[2:])
        out = np.empty(x.shape[:2] + (oh, ow), x.dtype)
        jit(pool_kernel)(np.ascontiguousarray(x).reshape(-1, *x.shape[2:]),
                         out.reshape(-1, oh, ow), *self._params())
        output_storage[0][0] = out


class Pool2DGrad(_PoolBase):
    """Gradient of :class:`Pool2D`: ``(x, gz) -> d(sum(gz * pool(x)))/dx``.

    For ``'max'`` the gradient goes to the first maximum of each window.
    With ``positive_mask=True`` the result is multiplied by ``x > 0``: the
    gradient through a rectifier whose output ``x`` is, fused into this op
    (:func:`local_pool_grad_relu` puts it in graphs, C backend).

    Examples
    --------
    >>> from sknet.ops.pool import Pool2DGrad
    >>> x = np.arange(4, dtype='float32').reshape(1, 1, 2, 2)
    >>> Pool2DGrad((2, 2))(x, np.ones((1, 1, 1, 1), 'float32')).eval()[0, 0]
    array([[0., 0.],
           [0., 1.]], dtype=float32)
    """

    __props__ = _PoolBase.__props__ + ("positive_mask",)

    def __init__(self, ws, stride=None, pad=(0, 0), ignore_border=True, mode="max",
                 positive_mask=False):
        super().__init__(ws, stride, pad, ignore_border, mode)
        self.positive_mask = bool(positive_mask)

    def make_node(self, x, gz):
        x = T.as_tensor_variable(x)
        gz = T.cast(T.as_tensor_variable(gz), x.dtype)
        if x.ndim != 4 or gz.ndim != 4:
            raise TypeError("Pool2DGrad takes two 4-D tensors")
        return Apply(self, [x, gz], [x.type()])

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def perform(self, node, inputs, output_storage):
        x, gz = inputs
        gx = np.zeros_like(x)
        jit(pool_grad_kernel)(np.ascontiguousarray(x).reshape(-1, *x.shape[2:]),
                              np.ascontiguousarray(gz).reshape(-1, *gz.shape[2:]),
                              gx.reshape(-1, *x.shape[2:]), *self._params())
        if self.positive_mask:
            gx *= x > 0
        output_storage[0][0] = gx


def _symbolic_out_size(n, ws, stride):
    if stride >= ws:
        return (n + stride - 1) // stride
    return T.maximum(0, (n - ws + stride - 1) // stride) + 1


def pool_2d(x, ws, stride=None, pad=(0, 0), ignore_border=True, mode="max"):
    """Pool the last two axes of a 4-D tensor (see :class:`Pool2D`).

    Examples
    --------
    >>> from sknet.ops import pool_2d
    >>> x = np.arange(9, dtype='float32').reshape(1, 1, 3, 3)
    >>> pool_2d(x, (2, 2), ignore_border=False, mode='average_exc_pad').eval()[0, 0]
    array([[2. , 3.5],
           [6.5, 8. ]], dtype=float32)
    """
    return Pool2D(ws, stride, pad, ignore_border, mode)(x)


@node_rewriter([mul])
def local_pool_grad_relu(fgraph, node):
    """``Pool2DGrad(x, gz) * cast(x > 0)`` -> ``Pool2DGrad(positive_mask=True)(x, gz)``.

    That product is the gradient through ``x = rectify(a)`` into a pooling
    layer (conv -> rectify -> pool); fused, the gradient is written once
    instead of written, read again and multiplied (0.7 ms of a 24 ms tutorial
    CNN train step, measured A/B in one process).
    """
    if len(node.inputs) != 2:
        return None
    for grad, mask in (node.inputs, node.inputs[::-1]):
        op = grad.owner.op if grad.owner is not None else None
        if not isinstance(op, Pool2DGrad) or op.positive_mask or len(fgraph.clients[grad]) != 1:
            continue
        x = grad.owner.inputs[0]
        if mask.owner is None or not isinstance(mask.owner.op, Elemwise):
            continue
        if isinstance(mask.owner.op.scalar_op, ps.Cast):
            mask = mask.owner.inputs[0]
        if mask.owner is None or mask.owner.op != gt or mask.owner.inputs[0] is not x:
            continue
        zero = mask.owner.inputs[1]
        if not isinstance(zero, Constant) or np.any(zero.data != 0):
            continue
        if mask.type.broadcastable != x.type.broadcastable:
            continue
        masked = Pool2DGrad(op.ws, op.stride, op.pad, op.ignore_border, op.mode, positive_mask=True)
        out = masked(*grad.owner.inputs)
        return [T.cast(out, node.outputs[0].dtype)] if out.dtype != node.outputs[0].dtype else [out]
    return None


_C_SUPPORT = r"""
/* The windows j0 <= j < j1 of one output row, all wholly inside the image;
   row points at the window row's first input row (column 0 minus the
   padding), drow likewise into the gradient, out at the row's outputs (or,
   for the gradient, its incoming gradients). Each window is copied into a
   small array, worked on there and stored back: with the window shape as
   template constants the array lives in registers and the loops unroll.
   (Written with strided loads and stores instead, the compiler turns them
   into vector gathers and scatters, ten times slower.) TILES: the windows
   tile the image, so each gradient cell is assigned once instead of
   accumulated. MASK: a cell's gradient is kept only where its input is > 0
   (a rectifier's gradient, fused in). */
template <typename T, int wh, int ww, int sw, int mode, int grad, int tiles, int mask>
static void sknet_pool_interior(const T* __restrict__ row, T* __restrict__ drow,
                                T* __restrict__ out, const T* __restrict__ gout,
                                npy_intp W, int j0, int j1) {
    for (int j = j0; j < j1; ++j) {
        const T* q = row + (npy_intp)j * sw;
        T v[wh * ww];
        for (int r = 0; r < wh; ++r)
            for (int c = 0; c < ww; ++c) v[r * ww + c] = q[r * W + c];
        if (mode == 0) {
            T m = v[0];
            for (int k = 1; k < wh * ww; ++k) m = v[k] > m ? v[k] : m;
            if (!grad) { out[j] = m; continue; }
            /* The first maximum takes the gradient, chosen with arithmetic
               rather than branches: data-dependent branches mispredict, and
               v == m would compile to two (it must also test for NaN). */
            int done = 0;
            /* only the maximum's cell gets gradient: its input is m */
            T g = mask ? gout[j] * (T)(m > 0) : gout[j];
            for (int k = 0; k < wh * ww; ++k) {
                int hit = !done & (v[k] >= m);
                v[k] = g * (T)hit;
                done |= hit;
            }
        } else if (grad) {
            T g = gout[j] / (wh * ww);
            for (int k = 0; k < wh * ww; ++k) v[k] = mask ? g * (T)(v[k] > 0) : g;
        } else {
            T s = 0;
            for (int k = 0; k < wh * ww; ++k) s += v[k];
            out[j] = s / (wh * ww);
            continue;
        }
        T* d = drow + (npy_intp)j * sw;
        for (int r = 0; r < wh; ++r)
            for (int c = 0; c < ww; ++c) {
                if (tiles) d[r * W + c] = v[r * ww + c];
                else d[r * W + c] += v[r * ww + c];
            }
    }
}

/* Window [s, e) along one axis in padded coordinates, and its part [vs, ve)
   inside the image. */
static inline void sknet_window(int i, int st, int ws, int pad, int n, int* s, int* e,
                                int* vs, int* ve) {
    *s = i * st - pad;
    *e = *s + ws;
    if (*e > n + pad) *e = n + pad;
    *vs = *s < 0 ? 0 : *s;
    *ve = *e > n ? n : *e;
}
"""

_C_CODE = r"""
{
    const int wh = %(wh)s, ww = %(ww)s, sh = %(sh)s, sw = %(sw)s, ph = %(ph)s, pw = %(pw)s;
    const int mode = %(mode)s, ignore_border = %(ib)s, grad = %(grad)s, mask = %(mask)s;
    PyArrayObject* X = PyArray_GETCONTIGUOUS(%(x)s);
    PyArrayObject* G = grad ? PyArray_GETCONTIGUOUS((PyArrayObject*)%(gz)s) : NULL;
    npy_intp* xd = PyArray_DIMS(X);
    int H = (int)xd[2], W = (int)xd[3], oh, ow;
    npy_intp planes = xd[0] * xd[1];
    npy_intp zd[4];
    if (ignore_border) {
        oh = (H + 2 * ph - wh) / sh + 1; ow = (W + 2 * pw - ww) / sw + 1;
    } else {
        oh = sh >= wh ? (H + sh - 1) / sh : ((H - wh + sh - 1) / sh > 0 ? (H - wh + sh - 1) / sh : 0) + 1;
        ow = sw >= ww ? (W + sw - 1) / sw : ((W - ww + sw - 1) / sw > 0 ? (W - ww + sw - 1) / sw : 0) + 1;
    }
    if (oh < 0) oh = 0;
    if (ow < 0) ow = 0;
    if (grad) {
        npy_intp* gd = PyArray_DIMS(G);
        if (gd[0] != xd[0] || gd[1] != xd[1] || gd[2] != oh || gd[3] != ow) {
            Py_XDECREF(X); Py_XDECREF(G);
            PyErr_SetString(PyExc_ValueError, "Pool2DGrad: gz has the wrong shape");
            %(fail)s
        }
        zd[0] = xd[0]; zd[1] = xd[1]; zd[2] = H; zd[3] = W;
    } else {
        zd[0] = xd[0]; zd[1] = xd[1]; zd[2] = oh; zd[3] = ow;
    }
    if (!%(z)s || !PyArray_IS_C_CONTIGUOUS(%(z)s)
        || PyArray_DIMS(%(z)s)[0] != zd[0] || PyArray_DIMS(%(z)s)[1] != zd[1]
        || PyArray_DIMS(%(z)s)[2] != zd[2] || PyArray_DIMS(%(z)s)[3] != zd[3]) {
        Py_XDECREF(%(z)s);
        %(z)s = (PyArrayObject*)PyArray_EMPTY(4, zd, %(npy)s, 0);
        if (!%(z)s) { Py_XDECREF(X); Py_XDECREF(G); %(fail)s }
    }
    {
        const %(T)s* x = (const %(T)s*)PyArray_DATA(X);
        const %(T)s* g = grad ? (const %(T)s*)PyArray_DATA(G) : NULL;
        %(T)s* z = (%(T)s*)PyArray_DATA(%(z)s);
        /* Windows [j0, j1) along the columns lie wholly inside the image and
           go to sknet_pool_interior; the others, at the borders, clip their
           ranges here. */
        int j0 = pw > 0 ? (pw + sw - 1) / sw : 0, j1 = 0;
        while (j1 < ow && j1 * sw - pw + ww <= W) ++j1;
        if (j0 > j1) j0 = j1;
        /* Non-overlapping windows that cover the image assign every gradient
           cell once; otherwise the gradient accumulates into zeros. */
        const int tiles = sh == wh && sw == ww && ph == 0 && pw == 0 && oh * sh == H && ow * sw == W;
        if (grad && !tiles) memset(z, 0, sizeof(%(T)s) * PyArray_SIZE(%(z)s));
        /* planes (image, channel) are independent: shared among the threads */
        sknet_parallel_for(planes, sknet_threads_for(planes), [&](npy_intp p, int) {
            const %(T)s* __restrict__ xp = x + p * H * W;
            %(T)s* __restrict__ zp = z + (grad ? p * H * W : p * oh * ow);
            const %(T)s* __restrict__ gp = grad ? g + p * oh * ow : NULL;
            for (int i = 0; i < oh; ++i) {
                int rs, re, rvs, rve;
                sknet_window(i, sh, wh, ph, H, &rs, &re, &rvs, &rve);
                int full_rows = rvs == rs && rve == rs + wh;
                for (int j = 0; j < ow; ++j) {
                    int cs, ce, cvs, cve;
                    if (full_rows && j == j0 && j1 > j0) {
                        const %(T)s* row = xp + (npy_intp)rs * W - pw;
                        %(T)s* drow = grad ? zp + (npy_intp)rs * W - pw : NULL;
                        %(T)s* out = grad ? NULL : zp + (npy_intp)i * ow;
                        const %(T)s* gout = grad ? gp + (npy_intp)i * ow : NULL;
                        if (tiles)
                            sknet_pool_interior<%(T)s, %(wh)s, %(ww)s, %(sw)s, %(mode)s, %(grad)s, 1, %(mask)s>(
                                row, drow, out, gout, W, j0, j1);
                        else
                            sknet_pool_interior<%(T)s, %(wh)s, %(ww)s, %(sw)s, %(mode)s, %(grad)s, 0, %(mask)s>(
                                row, drow, out, gout, W, j0, j1);
                        j = j1;
                        if (j >= ow) break;
                    }
                    sknet_window(j, sw, ww, pw, W, &cs, &ce, &cvs, &cve);
                    npy_intp o = (npy_intp)i * ow + j;
                    if (mode == 0) {
                        int best = -1;
                        %(T)s m = 0;
                        for (int r = rvs; r < rve; ++r)
                            for (int c = cvs; c < cve; ++c)
                                if (best < 0 || xp[r * W + c] > m) { m = xp[r * W + c]; best = r * W + c; }
                        if (grad) { if (best >= 0 && (!mask || xp[best] > 0)) zp[best] += gp[o]; }
                        else zp[o] = m;
                    } else {
                        int count = mode == 1 ? (re - rs) * (ce - cs) : (rve - rvs) * (cve - cvs);
                        if (grad) {
                            %(T)s v = count > 0 ? gp[o] / count : 0;
                            for (int r = rvs; r < rve; ++r)
                                for (int c = cvs; c < cve; ++c)
                                    if (!mask || xp[r * W + c] > 0) zp[r * W + c] += v;
                        } else {
                            %(T)s s = 0;
                            for (int r = rvs; r < rve; ++r)
                                for (int c = cvs; c < cve; ++c) s += xp[r * W + c];
                            zp[o] = count > 0 ? s / count : 0;
                        }
                    }
                }
            }
        });
    }
    Py_XDECREF(X); Py_XDECREF(G);
}
"""
