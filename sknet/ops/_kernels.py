"""Loop kernels shared by the numba implementations and the ``perform`` methods.

Written in the subset of Python numba compiles; :func:`jit` compiles them once
(with numba's on-disk cache) or returns them unchanged when numba is missing.
"""

import functools

import numpy as np

_NAMES = ("_window", "_pool_windows", "_patches", "im2col", "col2im", "pool_kernel", "pool_grad_kernel", "corr_kernel")


@functools.cache
def _compile_all():
    # Rebind the module's kernels to numba dispatchers, helpers first, so the
    # kernels find compiled helpers when numba resolves their globals.
    try:
        import numba
    except ImportError:  # pragma: no cover - numba ships with pytensor
        return
    for name in _NAMES:
        globals()[name] = numba.njit(cache=True, nogil=True)(globals()[name])


def jit(fn):
    """Return the numba-compiled version of the kernel ``fn`` (or ``fn`` without numba)."""
    _compile_all()
    return globals()[fn.__name__]


def _window(i, st, ws, pad, n):
    s = i * st - pad
    e = min(s + ws, n + pad)
    return s, e, max(s, 0), min(e, n)


def _pool_windows(x, y, gx, wh, ww, sh, sw, ph, pw, mode, backward):
    """Visit each pooling window of the planes ``x (P, H, W)``; ``y`` is ``(P, oh, ow)``.

    Forward, write each window's max (mode 0) or mean (1: the count includes
    the padding, 2: it excludes it) into ``y``. With ``backward``, ``y`` holds
    the output gradient, and each window hands it on into ``gx (P, H, W)``:
    all of it to the first maximum, or an equal share to every input.
    """
    P, H, W = x.shape
    oh, ow = y.shape[1], y.shape[2]
    for p in range(P):
        for i in range(oh):
            rs, re, rvs, rve = _window(i, sh, wh, ph, H)
            for j in range(ow):
                cs, ce, cvs, cve = _window(j, sw, ww, pw, W)
                if mode == 0:
                    m, br, bc = x[p, rvs, cvs], rvs, cvs
                    for r in range(rvs, rve):
                        for c in range(cvs, cve):
                            if x[p, r, c] > m:
                                m, br, bc = x[p, r, c], r, c
                    if backward:
                        gx[p, br, bc] += y[p, i, j]
                    else:
                        y[p, i, j] = m
                    continue
                count = (re - rs) * (ce - cs) if mode == 1 else (rve - rvs) * (cve - cvs)
                if backward:
                    share = y[p, i, j] / count if count > 0 else 0.0
                    for r in range(rvs, rve):
                        for c in range(cvs, cve):
                            gx[p, r, c] += share
                else:
                    s = 0.0
                    for r in range(rvs, rve):
                        for c in range(cvs, cve):
                            s += x[p, r, c]
                    y[p, i, j] = s / count if count > 0 else 0.0


def pool_kernel(x, z, wh, ww, sh, sw, ph, pw, mode):
    """Pool planes ``x (P, H, W)`` into ``z (P, oh, ow)``; mode 0 max, 1 inc-pad, 2 exc-pad."""
    _pool_windows(x, z, x, wh, ww, sh, sw, ph, pw, mode, False)


def pool_grad_kernel(x, gz, gx, wh, ww, sh, sw, ph, pw, mode):
    """Accumulate the pooling gradient ``gz (P, oh, ow)`` into the zeroed ``gx (P, H, W)``."""
    _pool_windows(x, gz, gx, wh, ww, sh, sw, ph, pw, mode, True)


def _patches(im, col, kh, kw, sh, sw, ph, pw, oh, ow, fold):
    """The im2col loop over ``im (C, H, W)`` and ``col (C*kh*kw, oh*ow)``.

    Copy each patch of the image into its column (zeros for the padding),
    or with ``fold`` add each column back onto the image.
    """
    C, H, W = im.shape
    for c in range(C):
        for u in range(kh):
            for v in range(kw):
                row = (c * kh + u) * kw + v
                for i in range(oh):
                    y = i * sh - ph + u
                    for j in range(ow):
                        x = j * sw - pw + v
                        inside = 0 <= y < H and 0 <= x < W
                        if fold:
                            if inside:
                                im[c, y, x] += col[row, i * ow + j]
                        else:
                            col[row, i * ow + j] = im[c, y, x] if inside else 0.0


def im2col(im, kh, kw, sh, sw, ph, pw, oh, ow, col):
    """Unfold one image ``im (C, H, W)`` into ``col (C*kh*kw, oh*ow)``."""
    _patches(im, col, kh, kw, sh, sw, ph, pw, oh, ow, False)


def col2im(col, kh, kw, sh, sw, ph, pw, oh, ow, im):
    """Add ``col (C*kh*kw, oh*ow)`` back into the image ``im (C, H, W)``."""
    _patches(im, col, kh, kw, sh, sw, ph, pw, oh, ow, True)


def corr_kernel(direction, a, b, shp, sh, sw, ph, pw):
    """Numba body of :class:`sknet.ops.corr.CorrMM` (direction 0, 1 or 2)."""
    if direction == 0:
        B, C, H, W = a.shape
        F, kh, kw = b.shape[0], b.shape[2], b.shape[3]
        oh, ow = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
        out = np.empty((B, F, oh, ow), a.dtype)
        kmat = np.ascontiguousarray(b).reshape(F, C * kh * kw)
        col = np.empty((C * kh * kw, oh * ow), a.dtype)
        for n in range(B):
            im2col(a[n], kh, kw, sh, sw, ph, pw, oh, ow, col)
            out[n] = np.dot(kmat, col).reshape(F, oh, ow)
        return out
    if direction == 1:
        B, C, H, W = a.shape
        F, oh, ow = b.shape[1], b.shape[2], b.shape[3]
        kh, kw = shp[0], shp[1]
        acc = np.zeros((F, C * kh * kw), a.dtype)
        col = np.empty((C * kh * kw, oh * ow), a.dtype)
        for n in range(B):
            im2col(a[n], kh, kw, sh, sw, ph, pw, oh, ow, col)
            acc += np.dot(np.ascontiguousarray(b[n]).reshape(F, oh * ow), col.T)
        return acc.reshape(F, C, kh, kw)
    F, C, kh, kw = a.shape
    B, oh, ow = b.shape[0], b.shape[2], b.shape[3]
    H, W = shp[0], shp[1]
    out = np.zeros((B, C, H, W), a.dtype)
    kT = np.ascontiguousarray(np.ascontiguousarray(a).reshape(F, C * kh * kw).T)
    for n in range(B):
        col = np.dot(kT, np.ascontiguousarray(b[n]).reshape(F, oh * ow))
        col2im(col, kh, kw, sh, sw, ph, pw, oh, ow, out[n])
    return out
