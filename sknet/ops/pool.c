/* The code block of Pool2D and Pool2DGrad (sknet/ops/pool.py). The op defines around it:
   SKNET_X, SKNET_GZ, SKNET_Z   the input, the incoming gradient (NULL for Pool2D) and the output
   SKNET_FAIL                   PyTensor's failure statement
   SKNET_WH, SKNET_WW, SKNET_SH, SKNET_SW, SKNET_PH, SKNET_PW   window, stride and padding
   SKNET_MODE                   0 max, 1 average_inc_pad, 2 average_exc_pad
   SKNET_IB, SKNET_GRAD, SKNET_MASK   ignore_border, gradient op, fused rectifier mask (0 or 1)
   SKNET_T, SKNET_NPY           the element type and its NumPy type number */
{
    const int wh = SKNET_WH, ww = SKNET_WW, sh = SKNET_SH, sw = SKNET_SW, ph = SKNET_PH, pw = SKNET_PW;
    const int mode = SKNET_MODE, ignore_border = SKNET_IB, grad = SKNET_GRAD, mask = SKNET_MASK;
    PyArrayObject* X = PyArray_GETCONTIGUOUS(SKNET_X);
    PyArrayObject* G = grad ? PyArray_GETCONTIGUOUS((PyArrayObject*)SKNET_GZ) : NULL;
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
            SKNET_FAIL
        }
        zd[0] = xd[0]; zd[1] = xd[1]; zd[2] = H; zd[3] = W;
    } else {
        zd[0] = xd[0]; zd[1] = xd[1]; zd[2] = oh; zd[3] = ow;
    }
    if (!SKNET_Z || !PyArray_IS_C_CONTIGUOUS(SKNET_Z)
        || PyArray_DIMS(SKNET_Z)[0] != zd[0] || PyArray_DIMS(SKNET_Z)[1] != zd[1]
        || PyArray_DIMS(SKNET_Z)[2] != zd[2] || PyArray_DIMS(SKNET_Z)[3] != zd[3]) {
        Py_XDECREF(SKNET_Z);
        SKNET_Z = (PyArrayObject*)PyArray_EMPTY(4, zd, SKNET_NPY, 0);
        if (!SKNET_Z) { Py_XDECREF(X); Py_XDECREF(G); SKNET_FAIL }
    }
    {
        const SKNET_T* x = (const SKNET_T*)PyArray_DATA(X);
        const SKNET_T* g = grad ? (const SKNET_T*)PyArray_DATA(G) : NULL;
        SKNET_T* z = (SKNET_T*)PyArray_DATA(SKNET_Z);
        /* Windows [j0, j1) along the columns lie wholly inside the image and
           go to sknet_pool_interior; the others, at the borders, clip their
           ranges here. */
        int j0 = pw > 0 ? (pw + sw - 1) / sw : 0, j1 = 0;
        while (j1 < ow && j1 * sw - pw + ww <= W) ++j1;
        if (j0 > j1) j0 = j1;
        /* Non-overlapping windows that cover the image assign every gradient
           cell once; otherwise the gradient accumulates into zeros. */
        const int tiles = sh == wh && sw == ww && ph == 0 && pw == 0 && oh * sh == H && ow * sw == W;
        if (grad && !tiles) memset(z, 0, sizeof(SKNET_T) * PyArray_SIZE(SKNET_Z));
        /* planes (image, channel) are independent: shared among the threads */
        sknet_parallel_for(planes, sknet_threads_for(planes), [&](npy_intp p, int) {
            const SKNET_T* __restrict__ xp = x + p * H * W;
            SKNET_T* __restrict__ zp = z + (grad ? p * H * W : p * oh * ow);
            const SKNET_T* __restrict__ gp = grad ? g + p * oh * ow : NULL;
            for (int i = 0; i < oh; ++i) {
                int rs, re, rvs, rve;
                sknet_window(i, sh, wh, ph, H, &rs, &re, &rvs, &rve);
                int full_rows = rvs == rs && rve == rs + wh;
                for (int j = 0; j < ow; ++j) {
                    int cs, ce, cvs, cve;
                    if (full_rows && j == j0 && j1 > j0) {
                        const SKNET_T* row = xp + (npy_intp)rs * W - pw;
                        SKNET_T* drow = grad ? zp + (npy_intp)rs * W - pw : NULL;
                        SKNET_T* out = grad ? NULL : zp + (npy_intp)i * ow;
                        const SKNET_T* gout = grad ? gp + (npy_intp)i * ow : NULL;
                        if (tiles)
                            sknet_pool_interior<SKNET_T, SKNET_WH, SKNET_WW, SKNET_SW, SKNET_MODE, SKNET_GRAD, 1, SKNET_MASK>(
                                row, drow, out, gout, W, j0, j1);
                        else
                            sknet_pool_interior<SKNET_T, SKNET_WH, SKNET_WW, SKNET_SW, SKNET_MODE, SKNET_GRAD, 0, SKNET_MASK>(
                                row, drow, out, gout, W, j0, j1);
                        j = j1;
                        if (j >= ow) break;
                    }
                    sknet_window(j, sw, ww, pw, W, &cs, &ce, &cvs, &cve);
                    npy_intp o = (npy_intp)i * ow + j;
                    if (mode == 0) {
                        int best = -1;
                        SKNET_T m = 0;
                        for (int r = rvs; r < rve; ++r)
                            for (int c = cvs; c < cve; ++c)
                                if (best < 0 || xp[r * W + c] > m) { m = xp[r * W + c]; best = r * W + c; }
                        if (grad) { if (best >= 0 && (!mask || xp[best] > 0)) zp[best] += gp[o]; }
                        else zp[o] = m;
                    } else {
                        int count = mode == 1 ? (re - rs) * (ce - cs) : (rve - rvs) * (cve - cvs);
                        if (grad) {
                            SKNET_T v = count > 0 ? gp[o] / count : 0;
                            for (int r = rvs; r < rve; ++r)
                                for (int c = cvs; c < cve; ++c)
                                    if (!mask || xp[r * W + c] > 0) zp[r * W + c] += v;
                        } else {
                            SKNET_T s = 0;
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
