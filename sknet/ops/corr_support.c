/* Support code of the correlation ops (sknet/ops/corr.py), compiled as C++.

   im2col / col2im for one image (C, H, W) <-> (C*kh*kw, oh*ow), as templates on
   the element type. Each (channel, kernel offset) row is copied image row by
   image row: the columns that fall in the padding are found once per row, so
   the inner loops are branch-free copies (memcpy at stride 1). col2im adds
   rows in fixed 32-byte blocks, one vector instruction each: rows are short (8
   columns in the tutorial CNN's second layer) and the compiler's loop for a
   variable length spent more on its set-up than on the adds (that layer's
   input gradient 3.7-4.3 -> 2.8-2.9 ms). */
static inline int sknet_ceildiv(int a, int b) { return a <= 0 ? -((-a) / b) : (a + b - 1) / b; }

/* Output columns j in [*j0, *j1) read input column j*sw - pw + v inside [0, W). */
static inline void sknet_valid_cols(int W, int pw, int sw, int v, int ow, int* j0, int* j1) {
    int a = sknet_ceildiv(pw - v, sw), b = sknet_ceildiv(W + pw - v, sw);
    *j0 = a < 0 ? 0 : (a > ow ? ow : a);
    *j1 = b > ow ? ow : b;
    if (*j1 < *j0) *j1 = *j0;
}

template <typename T>
static inline void sknet_rowadd(T* __restrict__ d, const T* __restrict__ s, int n) {
    const int V = 32 / sizeof(T);
    int j = 0;
    for (; j + V <= n; j += V)
        for (int k = 0; k < V; ++k) d[j + k] += s[j + k];
    for (; j < n; ++j) d[j] += s[j];
}

template <typename T>
static void sknet_im2col(const T* im, int C, int H, int W, int kh, int kw,
        int ph, int pw, int sh, int sw, int oh, int ow, T* col, npy_intp ld) {
    for (int v = 0; v < kw; ++v) {
        int j0, j1;
        sknet_valid_cols(W, pw, sw, v, ow, &j0, &j1);
        int x0 = j0 * sw - pw + v, n = j1 - j0;
        for (int c = 0; c < C; ++c) for (int u = 0; u < kh; ++u) {
            T* dst = col + (((npy_intp)c * kh + u) * kw + v) * ld;
            const T* src = im + (npy_intp)c * H * W + x0;
            for (int i = 0; i < oh; ++i) {
                int y = i * sh - ph + u;
                T* d = dst + (npy_intp)i * ow;
                if (y < 0 || y >= H) { memset(d, 0, sizeof(T) * ow); continue; }
                if (j0 > 0) memset(d, 0, sizeof(T) * j0);
                if (j1 < ow) memset(d + j1, 0, sizeof(T) * (ow - j1));
                const T* s = src + (npy_intp)y * W;
                if (sw == 1) memcpy(d + j0, s, sizeof(T) * n);
                else for (int j = 0; j < n; ++j) d[j0 + j] = s[j * sw];
            }
        }
    }
}

template <typename T>
static void sknet_col2im(const T* col, int C, int H, int W, int kh, int kw,
        int ph, int pw, int sh, int sw, int oh, int ow, T* im, npy_intp ld) {
    for (int c = 0; c < C; ++c) for (int u = 0; u < kh; ++u)
    for (int v = 0; v < kw; ++v) {
        int j0, j1;
        sknet_valid_cols(W, pw, sw, v, ow, &j0, &j1);
        int x0 = j0 * sw - pw + v, n = j1 - j0;
        const T* src = col + (((npy_intp)c * kh + u) * kw + v) * ld + j0;
        T* dst = im + (npy_intp)c * H * W + x0;
        for (int i = 0; i < oh; ++i) {
            int y = i * sh - ph + u;
            if (y < 0 || y >= H) continue;
            T* __restrict__ r = dst + (npy_intp)y * W;
            const T* __restrict__ s = src + (npy_intp)i * ow;
            if (sw == 1) sknet_rowadd(r, s, n);
            else for (int j = 0; j < n; ++j) r[j * sw] += s[j];
        }
    }
}
