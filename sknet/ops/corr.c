/* The code block of CorrMM and CorrMMBiasRelu (sknet/ops/corr.py). The op defines around it:
   SKNET_A, SKNET_B, SKNET_Z    the two inputs and the output (PyArrayObject*)
   SKNET_SHP                    the spatial-shape input (NULL for the forward direction)
   SKNET_BIAS, SKNET_HAS_BIAS   the fused bias (NULL and 0 without one)
   SKNET_FAIL                   PyTensor's failure statement
   SKNET_DIRECTION              0 forward, 1 weights, 2 inputs
   SKNET_SH, SKNET_SW, SKNET_PH, SKNET_PW   stride and padding
   SKNET_BUDGET                 scratch elements per GEMM chunk
   SKNET_T, SKNET_NPY, SKNET_GEMM   element type, its NumPy type number, BLAS ?gemm_ */
{
    const int direction = SKNET_DIRECTION;
    const int sh = SKNET_SH, sw = SKNET_SW, ph = SKNET_PH, pw = SKNET_PW;
    PyArrayObject* A = PyArray_GETCONTIGUOUS(SKNET_A);
    PyArrayObject* Bm = PyArray_GETCONTIGUOUS(SKNET_B);
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
        npy_int64* shp = (npy_int64*)PyArray_DATA(SKNET_SHP);
        ok = PyArray_DIMS(SKNET_SHP)[0] == 2;
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
    PyArrayObject* Bias = SKNET_HAS_BIAS ? PyArray_GETCONTIGUOUS((PyArrayObject*)SKNET_BIAS) : NULL;
    ok = ok && (!Bias || (PyArray_NDIM(Bias) == 1 && PyArray_DIMS(Bias)[0] == F));
    if (!ok) {
        Py_XDECREF(A); Py_XDECREF(Bm); Py_XDECREF(Bias);
        PyErr_Format(PyExc_ValueError, "CorrMM: incompatible shapes (direction %d)", direction);
        SKNET_FAIL
    }
    if (!SKNET_Z || PyArray_NDIM(SKNET_Z) != 4 || !PyArray_IS_C_CONTIGUOUS(SKNET_Z)
        || PyArray_DIMS(SKNET_Z)[0] != zd[0] || PyArray_DIMS(SKNET_Z)[1] != zd[1]
        || PyArray_DIMS(SKNET_Z)[2] != zd[2] || PyArray_DIMS(SKNET_Z)[3] != zd[3]) {
        Py_XDECREF(SKNET_Z);
        SKNET_Z = (PyArrayObject*)PyArray_EMPTY(4, zd, SKNET_NPY, 0);
        if (!SKNET_Z) { Py_XDECREF(A); Py_XDECREF(Bm); Py_XDECREF(Bias); SKNET_FAIL }
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
        npy_intp chunk = N > 0 && K > 0 ? (npy_intp)(SKNET_BUDGET / (K * N + F * N)) : B;
        if (chunk < 1) chunk = 1;
        if (chunk > B) chunk = B;
        npy_intp nchunks = B > 0 ? (B + chunk - 1) / chunk : 0;
        int nt = sknet_threads_for(nchunks);
        size_t colsz = (size_t)(K * N * chunk + 1), tmpsz = (size_t)(F * N * chunk + 1);
        SKNET_T* col = (SKNET_T*)malloc(sizeof(SKNET_T) * colsz * nt);
        SKNET_T* tmp = (SKNET_T*)malloc(sizeof(SKNET_T) * tmpsz * nt);
        SKNET_T* acc = direction == 1 && nt > 1
            ? (SKNET_T*)calloc((size_t)(F * K) * (nt - 1), sizeof(SKNET_T)) : NULL;
        SKNET_T* a = (SKNET_T*)PyArray_DATA(A);
        SKNET_T* b = (SKNET_T*)PyArray_DATA(Bm);
        SKNET_T* z = (SKNET_T*)PyArray_DATA(SKNET_Z);
        const SKNET_T* bias = Bias ? (const SKNET_T*)PyArray_DATA(Bias) : NULL;
        if (!col || !tmp || (direction == 1 && nt > 1 && !acc)) {
            free(col); free(tmp); free(acc);
            Py_XDECREF(A); Py_XDECREF(Bm); Py_XDECREF(Bias);
            PyErr_NoMemory();
            SKNET_FAIL
        }
        if (direction != 0) memset(z, 0, sizeof(SKNET_T) * PyArray_SIZE(SKNET_Z));
        int blas_threads = sknet_blas_serial_begin(nt);
        sknet_parallel_for(nchunks, nt, [&](npy_intp ci, int t) {
            SKNET_T one = 1, zero = 0;
            char nn = 'N', tt = 'T';
            SKNET_T* colt = col + t * colsz;
            SKNET_T* tmpt = tmp + t * tmpsz;
            npy_intp n0 = ci * chunk;
            npy_intp nb = B - n0 < chunk ? B - n0 : chunk;
            int L = (int)(nb * N), Ki = (int)K, Fi = (int)F;
            if (direction != 2)
                for (npy_intp n = 0; n < nb; ++n)
                    sknet_im2col(a + (n0 + n) * C * H * W, C, H, W, kh, kw, ph, pw,
                                       sh, sw, oh, ow, colt + n * N, L);
            if (direction != 0)  /* topgrad (nb, F, N) -> tmp (F, nb * N) */
                for (npy_intp n = 0; n < nb; ++n)
                    for (npy_intp f = 0; f < F; ++f)
                        memcpy(tmpt + f * L + n * N, b + ((n0 + n) * F + f) * N, sizeof(SKNET_T) * N);
            if (direction == 0) {
                /* tmp (F, L) = kern (F, K) . col (K, L), then tmp -> z (nb, F, N) */
                SKNET_GEMM(&nn, &nn, &L, &Fi, &Ki, &one, colt, &L, b, &Ki, &zero, tmpt, &L);
                for (npy_intp n = 0; n < nb; ++n)
                    for (npy_intp f = 0; f < F; ++f) {
                        SKNET_T* __restrict__ zr = z + ((n0 + n) * F + f) * N;
                        const SKNET_T* __restrict__ tr = tmpt + f * L + n * N;
                        if (!bias) { memcpy(zr, tr, sizeof(SKNET_T) * N); continue; }
                        /* fused bias and rectifier, as ScalarRelu: NaN stays NaN */
                        const SKNET_T bf = bias[f];
                        for (npy_intp j = 0; j < N; ++j) {
                            SKNET_T v = tr[j] + bf;
                            zr[j] = !(v <= 0) ? v : 0;
                        }
                    }
            } else if (direction == 1) {
                /* dkern (F, K) += tmp (F, L) . col (K, L)^T */
                SKNET_T* zt = t > 0 ? acc + (npy_intp)(t - 1) * F * K : z;
                SKNET_GEMM(&tt, &nn, &Ki, &Fi, &L, &one, colt, &L, tmpt, &L, &one, zt, &Ki);
            } else {
                /* col (K, L) = kern (F, K)^T . tmp (F, L), then scatter into the images */
                SKNET_GEMM(&nn, &tt, &L, &Ki, &Fi, &one, tmpt, &L, a, &Ki, &zero, colt, &L);
                for (npy_intp n = 0; n < nb; ++n)
                    sknet_col2im(colt + n * N, C, H, W, kh, kw, ph, pw, sh, sw, oh, ow,
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
