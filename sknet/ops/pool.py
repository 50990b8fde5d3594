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

import numpy as np
import pytensor.scalar as ps
import pytensor.tensor as T
from pytensor.graph.basic import Apply, Constant
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.link.c.op import COp
from pytensor.tensor.elemwise import Elemwise
from pytensor.tensor.math import gt, mul

from . import _csource, _threads
from ._kernels import jit, pool_grad_kernel, pool_kernel

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
        return (5, _csource.checksum("pool_support.c", "pool.c")) + _threads.cache_version()

    def c_support_code(self, **kwargs):
        return _threads.C_SUPPORT + _csource.read("pool_support.c")

    def c_code(self, node, name, inp, out, sub):
        dtype = node.inputs[0].dtype
        wh, ww, sh, sw, ph, pw, mode = self._params()
        return _csource.block(
            "pool.c",
            x=inp[0],
            z=out[0],
            fail=sub["fail"],
            wh=wh,
            ww=ww,
            sh=sh,
            sw=sw,
            ph=ph,
            pw=pw,
            mode=mode,
            ib=int(self.ignore_border),
            T="float" if dtype == "float32" else "double",
            npy="NPY_FLOAT32" if dtype == "float32" else "NPY_FLOAT64",
            gz=inp[1] if len(inp) > 1 else "NULL",
            grad=int(len(inp) > 1),
            mask=int(getattr(self, "positive_mask", False)),
        )


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
        jit(pool_kernel)(np.ascontiguousarray(x).reshape(-1, *x.shape[2:]), out.reshape(-1, oh, ow), *self._params())
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

    def __init__(self, ws, stride=None, pad=(0, 0), ignore_border=True, mode="max", positive_mask=False):
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
        jit(pool_grad_kernel)(
            np.ascontiguousarray(x).reshape(-1, *x.shape[2:]),
            np.ascontiguousarray(gz).reshape(-1, *gz.shape[2:]),
            gx.reshape(-1, *x.shape[2:]),
            *self._params(),
        )
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
