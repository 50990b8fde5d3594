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

import zlib

import numpy as np
import pytensor.scalar as ps
import pytensor.tensor as T
from numpy.lib.stride_tricks import sliding_window_view
from pytensor.graph.basic import Apply
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.link.c.op import COp
from pytensor.tensor.blas import blas_header_text
from pytensor.tensor.elemwise import DimShuffle, Elemwise

from . import _threads
from .relu import relu

__all__ = ["CorrMM", "CorrMMBiasRelu", "corr2d", "corr2d_grad_weights", "corr2d_grad_inputs",
           "conv_out_size", "local_corr_bias_relu"]

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
                (top.shape[0], kern.shape[1], max(H + 2 * ph, (oh - 1) * sh + kh),
                 max(W + 2 * pw, (ow - 1) * sw + kw)), dtype)
            for u in range(kh):
                for v in range(kw):
                    padded[:, :, u:u + sh * oh:sh, v:v + sw * ow:sw] += cols[..., u, v].transpose(0, 3, 1, 2)
            out = padded[:, :, ph:ph + H, pw:pw + W]
        output_storage[0][0] = np.ascontiguousarray(out, dtype=dtype)

    # -- C ------------------------------------------------------------------------

    def c_support_code(self, **kwargs):
        return blas_header_text() + _threads.C_SUPPORT + _C_SUPPORT

    def c_code_cache_version(self):
        # the code's checksum: an edit rebuilds the module even if the version is not bumped
        return (7, zlib.crc32((_C_SUPPORT + _C_CODE).encode()), _BUFFER_ELEMENTS) + _threads.cache_version()

    def c_code(self, node, name, inp, out, sub):
        dtype = node.outputs[0].dtype
        ctype = "float" if dtype == "float32" else "double"
        d = dict(
            a=inp[0], b=inp[1], z=out[0], fail=sub["fail"], T=ctype,
            gemm="sgemm_" if dtype == "float32" else "dgemm_",
            npy="NPY_FLOAT32" if dtype == "float32" else "NPY_FLOAT64",
            sh=self.stride[0], sw=self.stride[1], ph=self.pad[0], pw=self.pad[1],
            shp=inp[2] if self.direction != "forward" else "NULL",
            direction=_DIRECTIONS.index(self.direction),
            budget=_BUFFER_ELEMENTS,
            has_bias=int(self.direction == "forward" and len(inp) > 2),
            bias=inp[2] if self.direction == "forward" and len(inp) > 2 else "NULL",
        )
        return _C_CODE % d


# im2col / col2im for one image (C, H, W) <-> (C*kh*kw, oh*ow), as templates on
# the element type. Each (channel, kernel offset) row is copied image row by
# image row: the columns that fall in the padding are found once per row, so
# the inner loops are branch-free copies (memcpy at stride 1). col2im adds
# rows in fixed 32-byte blocks, one vector instruction each: rows are short (8
# columns in the tutorial CNN's second layer) and the compiler's loop for a
# variable length spent more on its set-up than on the adds (that layer's
# input gradient 3.7-4.3 -> 2.8-2.9 ms).
_C_SUPPORT = r"""
static inline int sknet_ceildiv(int a, int b) { return a <= 0 ? -((-a) / b) : (a + b - 1) / b; }

/* Output columns j in [*j0, *j1) read input column j*sw - pw + v inside [0, W). */
static inline void sknet_valid_cols(int W, int pw, int sw, int v, int ow, int* j0, int* j1) {
    int a = sknet_ceildiv(pw - v, sw), b = sknet_ceildiv(W + pw - v, sw);
    *j0 = a < 0 ? 0 : (a > ow ? ow : a);
    *j1 = b > ow ? ow : b;
    if (*j1 < *j0) *j1 = *j0;
}

#define SKNET_IM2COL(T)                                                        \
static inline void sknet_rowadd_##T(T* __restrict__ d, const T* __restrict__ s, int n) { \
    const int V = 32 / sizeof(T);                                            \
    int j = 0;                                                               \
    for (; j + V <= n; j += V)                                               \
        for (int k = 0; k < V; ++k) d[j + k] += s[j + k];                    \
    for (; j < n; ++j) d[j] += s[j];                                         \
}                                                                            \
static void sknet_im2col_##T(const T* im, int C, int H, int W, int kh, int kw, \
        int ph, int pw, int sh, int sw, int oh, int ow, T* col, npy_intp ld) { \
    for (int v = 0; v < kw; ++v) {                                           \
        int j0, j1;                                                          \
        sknet_valid_cols(W, pw, sw, v, ow, &j0, &j1);                        \
        int x0 = j0 * sw - pw + v, n = j1 - j0;                              \
        for (int c = 0; c < C; ++c) for (int u = 0; u < kh; ++u) {          \
            T* dst = col + (((npy_intp)c * kh + u) * kw + v) * ld;           \
            const T* src = im + (npy_intp)c * H * W + x0;                    \
            for (int i = 0; i < oh; ++i) {                                   \
                int y = i * sh - ph + u;                                     \
                T* d = dst + (npy_intp)i * ow;                               \
                if (y < 0 || y >= H) { memset(d, 0, sizeof(T) * ow); continue; } \
                if (j0 > 0) memset(d, 0, sizeof(T) * j0);                    \
                if (j1 < ow) memset(d + j1, 0, sizeof(T) * (ow - j1));       \
                const T* s = src + (npy_intp)y * W;                          \
                if (sw == 1) memcpy(d + j0, s, sizeof(T) * n);               \
                else for (int j = 0; j < n; ++j) d[j0 + j] = s[j * sw];      \
            }                                                                \
        }                                                                    \
    }                                                                        \
}                                                                            \
static void sknet_col2im_##T(const T* col, int C, int H, int W, int kh, int kw, \
        int ph, int pw, int sh, int sw, int oh, int ow, T* im, npy_intp ld) { \
    for (int c = 0; c < C; ++c) for (int u = 0; u < kh; ++u)                 \
    for (int v = 0; v < kw; ++v) {                                           \
        int j0, j1;                                                          \
        sknet_valid_cols(W, pw, sw, v, ow, &j0, &j1);                        \
        int x0 = j0 * sw - pw + v, n = j1 - j0;                              \
        const T* src = col + (((npy_intp)c * kh + u) * kw + v) * ld + j0;    \
        T* dst = im + (npy_intp)c * H * W + x0;                              \
        for (int i = 0; i < oh; ++i) {                                       \
            int y = i * sh - ph + u;                                         \
            if (y < 0 || y >= H) continue;                                   \
            T* __restrict__ r = dst + (npy_intp)y * W;                       \
            const T* __restrict__ s = src + (npy_intp)i * ow;                \
            if (sw == 1) sknet_rowadd_##T(r, s, n);                          \
            else for (int j = 0; j < n; ++j) r[j * sw] += s[j];              \
        }                                                                    \
    }                                                                        \
}
SKNET_IM2COL(float)
SKNET_IM2COL(double)
"""

_C_CODE = r"""
{
    const int direction = %(direction)s;
    const int sh = %(sh)s, sw = %(sw)s, ph = %(ph)s, pw = %(pw)s;
    PyArrayObject* A = PyArray_GETCONTIGUOUS(%(a)s);
    PyArrayObject* Bm = PyArray_GETCONTIGUOUS(%(b)s);
    npy_intp* ad = PyArray_DIMS(A);
    npy_intp* bd = PyArray_DIMS(Bm);
    npy_intp B, C, H, W, F, kh, kw, oh, ow;
    npy_intp zd[4];
    int ok = 1;
    if (direction == 0) {          /* img, kern */
        B = ad[0]; C = ad[1]; H = ad[2]; W = ad[3];
        F = bd[0]; kh = bd[2]; kw = bd[3];
        oh = (H + 2 * ph - kh) / sh + 1; ow = (W + 2 * pw - kw) / sw + 1;
        ok = (bd[1] == C) && (H + 2 * ph >= kh) && (W + 2 * pw >= kw);
        zd[0] = B; zd[1] = F; zd[2] = oh; zd[3] = ow;
    } else {
        npy_int64* shp = (npy_int64*)PyArray_DATA(%(shp)s);
        ok = PyArray_DIMS(%(shp)s)[0] == 2;
        if (direction == 1) {      /* img, topgrad -> kern */
            B = ad[0]; C = ad[1]; H = ad[2]; W = ad[3];
            F = bd[1]; oh = bd[2]; ow = bd[3]; kh = shp[0]; kw = shp[1];
            zd[0] = F; zd[1] = C; zd[2] = kh; zd[3] = kw;
            ok = ok && bd[0] == B;
        } else {                   /* kern, topgrad -> img */
            F = ad[0]; C = ad[1]; kh = ad[2]; kw = ad[3];
            B = bd[0]; oh = bd[2]; ow = bd[3]; H = shp[0]; W = shp[1];
            zd[0] = B; zd[1] = C; zd[2] = H; zd[3] = W;
            ok = ok && bd[1] == F;
        }
        ok = ok && oh == (H + 2 * ph - kh) / sh + 1 && ow == (W + 2 * pw - kw) / sw + 1
             && H + 2 * ph >= kh && W + 2 * pw >= kw;
    }
    PyArrayObject* Bias = %(has_bias)s ? PyArray_GETCONTIGUOUS((PyArrayObject*)%(bias)s) : NULL;
    ok = ok && (!Bias || (PyArray_NDIM(Bias) == 1 && PyArray_DIMS(Bias)[0] == F));
    if (!ok) {
        Py_XDECREF(A); Py_XDECREF(Bm); Py_XDECREF(Bias);
        PyErr_Format(PyExc_ValueError, "CorrMM: incompatible shapes (direction %%d)", direction);
        %(fail)s
    }
    if (!%(z)s || PyArray_NDIM(%(z)s) != 4 || !PyArray_IS_C_CONTIGUOUS(%(z)s)
        || PyArray_DIMS(%(z)s)[0] != zd[0] || PyArray_DIMS(%(z)s)[1] != zd[1]
        || PyArray_DIMS(%(z)s)[2] != zd[2] || PyArray_DIMS(%(z)s)[3] != zd[3]) {
        Py_XDECREF(%(z)s);
        %(z)s = (PyArrayObject*)PyArray_EMPTY(4, zd, %(npy)s, 0);
        if (!%(z)s) { Py_XDECREF(A); Py_XDECREF(Bm); Py_XDECREF(Bias); %(fail)s }
    }
    {
        /* Images go through GEMM in chunks: the column matrix of a chunk is
           (K, nb * N), so each chunk costs one GEMM, and a chunk's scratch
           fits in the budget (sized to stay in cache between the im2col
           that writes it and the GEMM that reads it). The chunks are shared
           among the threads (sknet.ops._threads), each with its own scratch
           and single-threaded GEMMs; for the weight gradient each thread
           but the first sums into its own copy, added up at the end. */
        npy_intp K = C * kh * kw, N = oh * ow;
        npy_intp chunk = N > 0 && K > 0 ? (npy_intp)(%(budget)s / (K * N + F * N)) : B;
        if (chunk < 1) chunk = 1;
        if (chunk > B) chunk = B;
        npy_intp nchunks = B > 0 ? (B + chunk - 1) / chunk : 0;
        int nt = sknet_threads_for(nchunks);
        size_t colsz = (size_t)(K * N * chunk + 1), tmpsz = (size_t)(F * N * chunk + 1);
        %(T)s* col = (%(T)s*)malloc(sizeof(%(T)s) * colsz * nt);
        %(T)s* tmp = (%(T)s*)malloc(sizeof(%(T)s) * tmpsz * nt);
        %(T)s* acc = direction == 1 && nt > 1
            ? (%(T)s*)calloc((size_t)(F * K) * (nt - 1), sizeof(%(T)s)) : NULL;
        %(T)s* a = (%(T)s*)PyArray_DATA(A);
        %(T)s* b = (%(T)s*)PyArray_DATA(Bm);
        %(T)s* z = (%(T)s*)PyArray_DATA(%(z)s);
        const %(T)s* bias = Bias ? (const %(T)s*)PyArray_DATA(Bias) : NULL;
        if (!col || !tmp || (direction == 1 && nt > 1 && !acc)) {
            free(col); free(tmp); free(acc);
            Py_XDECREF(A); Py_XDECREF(Bm); Py_XDECREF(Bias);
            PyErr_NoMemory();
            %(fail)s
        }
        if (direction != 0) memset(z, 0, sizeof(%(T)s) * PyArray_SIZE(%(z)s));
        int blas_threads = sknet_blas_serial_begin(nt);
        sknet_parallel_for(nchunks, nt, [&](npy_intp ci, int t) {
            %(T)s one = 1, zero = 0;
            char nn = 'N', tt = 'T';
            %(T)s* colt = col + t * colsz;
            %(T)s* tmpt = tmp + t * tmpsz;
            npy_intp n0 = ci * chunk;
            npy_intp nb = B - n0 < chunk ? B - n0 : chunk;
            int L = (int)(nb * N), Ki = (int)K, Fi = (int)F;
            if (direction != 2)
                for (npy_intp n = 0; n < nb; ++n)
                    sknet_im2col_%(T)s(a + (n0 + n) * C * H * W, C, H, W, kh, kw, ph, pw,
                                       sh, sw, oh, ow, colt + n * N, L);
            if (direction != 0)  /* topgrad (nb, F, N) -> tmp (F, nb * N) */
                for (npy_intp n = 0; n < nb; ++n)
                    for (npy_intp f = 0; f < F; ++f)
                        memcpy(tmpt + f * L + n * N, b + ((n0 + n) * F + f) * N, sizeof(%(T)s) * N);
            if (direction == 0) {
                /* tmp (F, L) = kern (F, K) . col (K, L), then tmp -> z (nb, F, N) */
                %(gemm)s(&nn, &nn, &L, &Fi, &Ki, &one, colt, &L, b, &Ki, &zero, tmpt, &L);
                for (npy_intp n = 0; n < nb; ++n)
                    for (npy_intp f = 0; f < F; ++f) {
                        %(T)s* __restrict__ zr = z + ((n0 + n) * F + f) * N;
                        const %(T)s* __restrict__ tr = tmpt + f * L + n * N;
                        if (!bias) { memcpy(zr, tr, sizeof(%(T)s) * N); continue; }
                        /* fused bias and rectifier, as ScalarRelu: NaN stays NaN */
                        const %(T)s bf = bias[f];
                        for (npy_intp j = 0; j < N; ++j) {
                            %(T)s v = tr[j] + bf;
                            zr[j] = !(v <= 0) ? v : 0;
                        }
                    }
            } else if (direction == 1) {
                /* dkern (F, K) += tmp (F, L) . col (K, L)^T */
                %(T)s* zt = t > 0 ? acc + (npy_intp)(t - 1) * F * K : z;
                %(gemm)s(&tt, &nn, &Ki, &Fi, &L, &one, colt, &L, tmpt, &L, &one, zt, &Ki);
            } else {
                /* col (K, L) = kern (F, K)^T . tmp (F, L), then scatter into the images */
                %(gemm)s(&nn, &tt, &L, &Ki, &Fi, &one, tmpt, &L, a, &Ki, &zero, colt, &L);
                for (npy_intp n = 0; n < nb; ++n)
                    sknet_col2im_%(T)s(colt + n * N, C, H, W, kh, kw, ph, pw, sh, sw, oh, ow,
                                       z + (n0 + n) * C * H * W, L);
            }
        });
        sknet_blas_serial_end(blas_threads);
        for (int t = 1; t < nt && acc; ++t)
            for (npy_intp i = 0; i < F * K; ++i) z[i] += acc[(npy_intp)(t - 1) * F * K + i];
        free(col); free(tmp); free(acc);
    }
    Py_XDECREF(A); Py_XDECREF(Bm); Py_XDECREF(Bias);
}
"""


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
