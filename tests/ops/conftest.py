"""Loop references for correlation and pooling, as fixtures for the op tests."""

import numpy as np
import pytest


def corr2d_ref(x, w, stride=(1, 1), pad=(0, 0)):
    """Cross-correlation of x (B, C, H, W) with w (F, C, kh, kw), loop by loop."""
    (sh, sw), (ph, pw) = stride, pad
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    kh, kw = w.shape[2:]
    oh = (xp.shape[2] - kh) // sh + 1
    ow = (xp.shape[3] - kw) // sw + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
            out[:, :, i, j] = np.einsum("bcuv,fcuv->bf", patch, w)
    return out


def pool2d_ref(x, ws, stride, pad, ignore_border, mode):
    """Pooling of the last two axes with Lasagne's window and divisor rules."""
    H, W = x.shape[2:]

    def windows(n, k, s, p):
        if ignore_border:
            count = (n + 2 * p - k) // s + 1
        elif s >= k:
            count = (n + s - 1) // s
        else:
            count = max(0, (n - k + s - 1) // s) + 1
        out = []
        for i in range(count):
            start, end = i * s - p, min(i * s - p + k, n + p)
            out.append((start, end, max(start, 0), min(end, n)))
        return out

    rows, cols = windows(H, ws[0], stride[0], pad[0]), windows(W, ws[1], stride[1], pad[1])
    out = np.zeros(x.shape[:2] + (len(rows), len(cols)))
    for i, (rs, re, rvs, rve) in enumerate(rows):
        for j, (cs, ce, cvs, cve) in enumerate(cols):
            win = x[:, :, rvs:rve, cvs:cve]
            if mode == "max":
                out[:, :, i, j] = win.max(axis=(2, 3))
            elif mode == "average_inc_pad":
                out[:, :, i, j] = win.sum(axis=(2, 3)) / ((re - rs) * (ce - cs))
            else:
                out[:, :, i, j] = win.mean(axis=(2, 3))
    return out


@pytest.fixture(scope="session")
def corr_ref():
    """The loop reference of the correlation op."""
    return corr2d_ref


@pytest.fixture(scope="session")
def pool_ref():
    """The loop reference of the pooling op."""
    return pool2d_ref
