"""2-D correlation (im2col + BLAS GEMM on cache-sized chunks) and its two gradients.

``CorrMM(direction, stride, pad)`` is one op class with three directions that
are each other's gradients:

- ``'forward'``: ``corr(img, kern)``, ``(B, C, H, W) x (F, C, kh, kw) -> (B, F, oh, ow)``;
- ``'weights'``: ``(img, topgrad, (kh, kw)) -> (F, C, kh, kw)``, the gradient
  of ``sum(topgrad * corr(img, kern))`` with respect to ``kern``;
- ``'inputs'``: ``(kern, topgrad, (H, W)) -> (B, C, H, W)``, the gradient with
  respect to ``img``.

The op computes a cross-correlation (no filter flip); a convolution is a
correlation with ``kern[:, :, ::-1, ::-1]``. Implementations: C (the default
backend, BLAS ``?gemm_`` through PyTensor's BLAS flags), numba (NUMBA mode) and
numpy (``perform``).
"""

import numpy as np
import pytensor.scalar as ps
import pytensor.tensor as T
from numpy.lib.stride_tricks import sliding_window_view
from pytensor.graph.basic import Apply
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.link.c.op import COp
from pytensor.tensor.blas import blas_header_text
from pytensor.tensor.elemwise import DimShuffle, Elemwise

from . import _csource, _threads
from .relu import relu

__all__ = [
    "CorrMM",
    "CorrMMBiasRelu",
    "corr2d",
    "corr2d_grad_weights",
    "corr2d_grad_inputs",
    "conv_out_size",
    "local_corr_bias_relu",
]

_DIRECTIONS = ("forward", "weights", "inputs")

# Scratch elements (columns + transposed top gradient) per GEMM chunk: 1 MB in
# float32, a core's L2 cache here, so each chunk's columns are still cached
# when its GEMM reads them. One chunk of the whole batch (64 MB) made the
# tutorial CNN's second convolution 2.5x slower forward and 5x slower in the
# input gradient; 256 K to 1 M elements measured alike.
_BUFFER_ELEMENTS = 256 * 1024


def conv_out_size(size, k, stride, pad):
    """Output length of a strided, zero-padded correlation along one axis.

    Examples
    --------
    >>> from sknet.ops.corr import conv_out_size
    >>> conv_out_size(28, 5, 1, 0), conv_out_size(7, 3, 2, 1)
    (24, 4)
    """
    return (size + 2 * pad - k) // stride + 1


def _windows(img, kshp, stride, pad, out_hw):
    """Strided view ``(B, C, oh, ow, kh, kw)`` of the zero-padded images."""
    (ph, pw), (sh, sw), (oh, ow) = pad, stride, out_hw
    padded = np.pad(img, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = sliding_window_view(padded, kshp, axis=(2, 3))
    return win[:, :, ::sh, ::sw][:, :, :oh, :ow]


class CorrMM(_threads.ThreadedCOp, COp):
    """Strided, zero-padded 2-D cross-correlation op (see the module docstring).

    Parameters
    ----------
    direction : {'forward', 'weights', 'inputs'}
    stride : tuple of 2 ints
    pad : tuple of 2 ints
        Zeros added on both sides of each spatial axis.

    Examples
    --------
    >>> from sknet.ops.corr import CorrMM
    >>> x, w = T.tensor4('x'), T.tensor4('w')
    >>> CorrMM('forward', (1, 1), (0, 0))(x, w).ndim
    4
    """

    __props__ = ("direction", "stride", "pad")

    def __init__(self, direction="forward", stride=(1, 1), pad=(0, 0)):
        if direction not in _DIRECTIONS:
            raise ValueError(f"direction must be one of {_DIRECTIONS}, got {direction!r}")
        self.direction = direction
        self.stride = tuple(int(s) for s in stride)
        self.pad = tuple(int(p) for p in pad)
        if len(self.stride) != 2 or min(self.stride) < 1:
            raise ValueError(f"stride must be two positive ints, got {stride!r}")
        if len(self.pad) != 2 or min(self.pad) < 0:
            raise ValueError(f"pad must be two non-negative ints, got {pad!r}")

    # -- graph ----------------------------------------------------------------

    def make_node(self, a, b, shape=None):
        a, b = T.as_tensor_variable(a), T.as_tensor_variable(b)
        dtype = "float64" if "float64" in (a.dtype, b.dtype) else "float32"
        a, b = T.cast(a, dtype), T.cast(b, dtype)
        if a.ndim != 4 or b.ndim != 4:
            raise TypeError("CorrMM takes two 4-D tensors")
        inputs = [a, b]
        if self.direction == "forward":
            if shape is not None:
                raise TypeError("the forward correlation takes no shape input")
            static = (a.type.shape[0], b.type.shape[0], None, None)
        else:
            if shape is None:
                raise TypeError(f"direction {self.direction!r} needs the spatial shape")
            shape = T.cast(T.as_tensor_variable(shape), "int64")
            if shape.ndim != 1:
                raise TypeError("shape must be a vector of 2 ints")
            inputs.append(shape)
            if self.direction == "weights":  # (img, topgrad)
                static = (b.type.shape[1], a.type.shape[1], None, None)
            else:  # (kern, topgrad)
                static = (b.type.shape[0], a.type.shape[1], None, None)
        out = T.tensor(dtype=dtype, shape=static)
        return Apply(self, inputs, [out])

    def infer_shape(self, fgraph, node, shapes):
        a, b = shapes[0], shapes[1]
        (sh, sw), (ph, pw) = self.stride, self.pad
        if self.direction == "forward":
            return [(a[0], b[0], (a[2] + 2 * ph - b[2]) // sh + 1, (a[3] + 2 * pw - b[3]) // sw + 1)]
        shp = node.inputs[2]
        if self.direction == "weights":
            return [(b[1], a[1], shp[0], shp[1])]
        return [(b[0], a[1], shp[0], shp[1])]

    def pullback(self, inputs, outputs, output_grads):
        (g,) = output_grads
        a, b = inputs[0], inputs[1]
        fwd = CorrMM("forward", self.stride, self.pad)
        wgt = CorrMM("weights", self.stride, self.pad)
        inp = CorrMM("inputs", self.stride, self.pad)
        if self.direction == "forward":  # a=img, b=kern
            return [inp(b, g, a.shape[2:]), wgt(a, g, b.shape[2:])]
        from pytensor.gradient import DisconnectedType

        discon = DisconnectedType()()
        if self.direction == "weights":  # a=img, b=topgrad
            return [inp(g, b, a.shape[2:]), fwd(a, g), discon]
        # a=kern, b=topgrad
        return [wgt(g, b, a.shape[2:]), fwd(g, a), discon]

    def connection_pattern(self, node):
        if self.direction == "forward":
            return [[True], [True]]
        return [[True], [True], [False]]

    # -- numpy ------------------------------------------------------------------

    def perform(self, node, inputs, output_storage):
        a, b = inputs[0], inputs[1]
        dtype = node.outputs[0].dtype
        if self.direction == "forward":
            oh = conv_out_size(a.shape[2], b.shape[2], self.stride[0], self.pad[0])
            ow = conv_out_size(a.shape[3], b.shape[3], self.stride[1], self.pad[1])
            if oh <= 0 or ow <= 0 or a.shape[1] != b.shape[1]:
                raise ValueError(f"CorrMM: bad shapes {a.shape} and {b.shape}")
            win = _windows(a, b.shape[2:], self.stride, self.pad, (oh, ow))
            out = np.tensordot(win, b, axes=([1, 4, 5], [1, 2, 3]))  # (B, oh, ow, F)
            out = out.transpose(0, 3, 1, 2)
        elif self.direction == "weights":
            kshp = tuple(int(s) for s in inputs[2])
            win = _windows(a, kshp, self.stride, self.pad, b.shape[2:])
            out = np.tensordot(b, win, axes=([0, 2, 3], [0, 2, 3]))  # (F, C, kh, kw)
        else:
            kern, top = a, b
            H, W = (int(s) for s in inputs[2])
            (sh, sw), (ph, pw) = self.stride, self.pad
            kh, kw = kern.shape[2:]
            oh, ow = top.shape[2:]
            cols = np.tensordot(top, kern, axes=([1], [0]))  # (B, oh, ow, C, kh, kw)
            padded = np.zeros(
                (top.shape[0], kern.shape[1], max(H + 2 * ph, (oh - 1) * sh + kh), max(W + 2 * pw, (ow - 1) * sw + kw)),
                dtype,
            )
            for u in range(kh):
                for v in range(kw):
                    padded[:, :, u : u + sh * oh : sh, v : v + sw * ow : sw] += cols[..., u, v].transpose(0, 3, 1, 2)
            out = padded[:, :, ph : ph + H, pw : pw + W]
        output_storage[0][0] = np.ascontiguousarray(out, dtype=dtype)

    # -- C ------------------------------------------------------------------------

    def c_support_code(self, **kwargs):
        return blas_header_text() + _threads.C_SUPPORT + _csource.read("corr_support.c")

    def c_code_cache_version(self):
        return (8, _csource.checksum("corr_support.c", "corr.c"), _BUFFER_ELEMENTS) + _threads.cache_version()

    def c_code(self, node, name, inp, out, sub):
        dtype = node.outputs[0].dtype
        ctype = "float" if dtype == "float32" else "double"
        return _csource.block(
            "corr.c",
            a=inp[0],
            b=inp[1],
            z=out[0],
            fail=sub["fail"],
            T=ctype,
            gemm="sgemm_" if dtype == "float32" else "dgemm_",
            npy="NPY_FLOAT32" if dtype == "float32" else "NPY_FLOAT64",
            sh=self.stride[0],
            sw=self.stride[1],
            ph=self.pad[0],
            pw=self.pad[1],
            shp=inp[2] if self.direction != "forward" else "NULL",
            direction=_DIRECTIONS.index(self.direction),
            budget=_BUFFER_ELEMENTS,
            has_bias=int(self.direction == "forward" and len(inp) > 2),
            bias=inp[2] if self.direction == "forward" and len(inp) > 2 else "NULL",
        )


def corr2d(img, kern, stride=(1, 1), pad=(0, 0)):
    """Cross-correlate a batch of images with a bank of filters.

    Parameters
    ----------
    img : 4-D tensor ``(batch, channels, rows, cols)``
    kern : 4-D tensor ``(filters, channels, kh, kw)``
    stride, pad : tuples of 2 ints

    Returns
    -------
    4-D tensor ``(batch, filters, out_rows, out_cols)``

    Examples
    --------
    >>> from sknet.ops import corr2d
    >>> x = np.arange(16, dtype='float32').reshape(1, 1, 4, 4)
    >>> corr2d(x, np.ones((1, 1, 2, 2), 'float32'), stride=(2, 2)).eval()[0, 0]
    array([[10., 18.],
           [42., 50.]], dtype=float32)
    """
    return CorrMM("forward", stride, pad)(img, kern)


def corr2d_grad_weights(img, topgrad, kshp, stride=(1, 1), pad=(0, 0)):
    """Gradient of ``sum(topgrad * corr2d(img, kern))`` with respect to ``kern``.

    ``kshp`` is the filters' spatial shape ``(kh, kw)``.

    Examples
    --------
    >>> from sknet.ops import corr2d_grad_weights
    >>> x = np.ones((1, 1, 3, 3), 'float32'); g = np.ones((1, 2, 2, 2), 'float32')
    >>> corr2d_grad_weights(x, g, (2, 2)).eval().shape
    (2, 1, 2, 2)
    """
    return CorrMM("weights", stride, pad)(img, topgrad, kshp)


def corr2d_grad_inputs(kern, topgrad, ishp, stride=(1, 1), pad=(0, 0)):
    """Gradient of ``sum(topgrad * corr2d(img, kern))`` with respect to ``img``.

    ``ishp`` is the images' spatial shape ``(rows, cols)``. This is also the
    transposed convolution (the "deconvolution") of ``topgrad`` by ``kern``.

    Examples
    --------
    >>> from sknet.ops import corr2d_grad_inputs
    >>> w = np.ones((1, 1, 2, 2), 'float32'); g = np.ones((1, 1, 2, 2), 'float32')
    >>> corr2d_grad_inputs(w, g, (3, 3)).eval()[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]], dtype=float32)
    """
    return CorrMM("inputs", stride, pad)(kern, topgrad, ishp)


class CorrMMBiasRelu(CorrMM):
    """Forward correlation with a per-filter bias and the rectifier applied as
    the output is written: ``relu(corr2d(img, kern) + bias[None, :, None, None])``.

    The C-only rewrite :func:`local_corr_bias_relu` puts it in place of a
    convolution layer's ``rectify(conved + b)``, saving a pass over the
    layer's output (the tutorial CNN's train step: 17.0 ms against 18.2,
    A/B in one process). Graphs meet it after their gradients are built, so
    it has none of its own.

    Examples
    --------
    >>> from sknet.ops.corr import CorrMMBiasRelu
    >>> x = np.arange(9, dtype='float32').reshape(1, 1, 3, 3)
    >>> w = np.ones((2, 1, 2, 2), 'float32'); b = np.array([-10, -30], 'float32')
    >>> CorrMMBiasRelu()(x, w, b).eval()[0]
    array([[[ 0.,  2.],
            [10., 14.]],
    <BLANKLINE>
           [[ 0.,  0.],
            [ 0.,  0.]]], dtype=float32)
    """

    __props__ = ("stride", "pad")

    def __init__(self, stride=(1, 1), pad=(0, 0)):
        super().__init__("forward", stride, pad)

    def make_node(self, img, kern, bias):
        node = super().make_node(img, kern)
        bias = T.cast(T.as_tensor_variable(bias), node.outputs[0].dtype)
        if bias.ndim != 1:
            raise TypeError("CorrMMBiasRelu's bias is a vector, one entry per filter")
        return Apply(self, [*node.inputs, bias], [node.outputs[0].type()])

    def infer_shape(self, fgraph, node, shapes):
        return super().infer_shape(fgraph, node, shapes[:2])

    def connection_pattern(self, node):
        return [[True], [True], [True]]

    def pullback(self, inputs, outputs, output_grads):
        raise NotImplementedError("CorrMMBiasRelu is made by a rewrite after differentiation")

    def perform(self, node, inputs, output_storage):
        super().perform(node, inputs[:2], output_storage)
        out = output_storage[0][0] + inputs[2][None, :, None, None]
        output_storage[0][0] = np.where(out <= 0, 0, out).astype(node.outputs[0].dtype)


@node_rewriter([relu])
def local_corr_bias_relu(fgraph, node):
    """``relu(CorrMM_forward(x, w) + b.dimshuffle('x', 0, 'x', 'x'))`` -> ``CorrMMBiasRelu(x, w, b)``.

    Only where the correlation and the sum feed nothing else (the
    rectifier's gradient reads the rectifier's output, which the fused op
    produces).
    """
    (total,) = node.inputs
    add = total.owner
    if add is None or not isinstance(add.op, Elemwise) or not isinstance(add.op.scalar_op, ps.Add):
        return None
    if len(add.inputs) != 2 or len(fgraph.clients[total]) != 1:
        return None
    for conv, bias in (add.inputs, add.inputs[::-1]):
        op = conv.owner.op if conv.owner is not None else None
        if type(op) is not CorrMM or op.direction != "forward" or len(fgraph.clients[conv]) != 1:
            continue
        if bias.owner is None or not isinstance(bias.owner.op, DimShuffle):
            continue
        if tuple(bias.owner.op.new_order) != ("x", 0, "x", "x"):
            continue
        out = CorrMMBiasRelu(op.stride, op.pad)(*conv.owner.inputs, bias.owner.inputs[0])
        if out.type != node.outputs[0].type:
            return None
        return [out]
    return None
