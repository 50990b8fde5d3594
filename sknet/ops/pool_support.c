/* Support code of the pooling ops (sknet/ops/pool.py), compiled as C++. */

/* The gradient of max pooling over 2x2 windows with stride 2, for the
   windows [0, n) of one row of windows: r0 and r1 are its two input rows,
   d0 and d1 the gradient's, g the windows' incoming gradients. The first
   maximum in row order takes a window's gradient (a NaN first cell: none
   does, as in sknet_pool_interior); the other cells get 0. Returns how many
   windows it did (a multiple of 8, the rest left to the caller): only float
   with AVX2 has a version, eight windows per step, the even and odd columns
   separated with shuffles. Scalar code spent most of its time on the
   per-window selection of the first maximum. */
template <typename T>
static inline int sknet_max2x2_grad(const T*, const T*, T*, T*, const T*, int, int) { return 0; }

#if defined(__AVX2__)
#include <immintrin.h>

/* The even (0x88) or odd (0xDD) columns of 16 floats, in column order. */
static inline __m256 sknet_columns(__m256 lo, __m256 hi, int odd) {
    __m256 s = odd ? _mm256_shuffle_ps(lo, hi, 0xDD) : _mm256_shuffle_ps(lo, hi, 0x88);
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xD8));
}

/* Stores e and o as the even and odd columns of 16 floats at d. */
static inline void sknet_store_columns(float* d, __m256 e, __m256 o) {
    __m256 lo = _mm256_unpacklo_ps(e, o), hi = _mm256_unpackhi_ps(e, o);
    _mm256_storeu_ps(d, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(d + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}

template <>
inline int sknet_max2x2_grad<float>(const float* r0, const float* r1, float* d0, float* d1,
                                    const float* g, int n, int mask) {
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256 x0 = _mm256_loadu_ps(r0 + 2 * j), x1 = _mm256_loadu_ps(r0 + 2 * j + 8);
        const __m256 y0 = _mm256_loadu_ps(r1 + 2 * j), y1 = _mm256_loadu_ps(r1 + 2 * j + 8);
        const __m256 a = sknet_columns(x0, x1, 0), b = sknet_columns(x0, x1, 1);
        const __m256 c = sknet_columns(y0, y1, 0), e = sknet_columns(y0, y1, 1);
        /* max(u, m) is u > m ? u : m, as the scalar code's maximum */
        __m256 m = _mm256_max_ps(b, a);
        m = _mm256_max_ps(c, m);
        m = _mm256_max_ps(e, m);
        __m256 gj = _mm256_loadu_ps(g + j);
        if (mask) gj = _mm256_and_ps(gj, _mm256_cmp_ps(m, _mm256_setzero_ps(), _CMP_GT_OQ));
        const __m256 ha = _mm256_cmp_ps(a, m, _CMP_GE_OQ);
        const __m256 hb = _mm256_andnot_ps(ha, _mm256_cmp_ps(b, m, _CMP_GE_OQ));
        __m256 taken = _mm256_or_ps(ha, hb);
        const __m256 hc = _mm256_andnot_ps(taken, _mm256_cmp_ps(c, m, _CMP_GE_OQ));
        taken = _mm256_or_ps(taken, hc);
        const __m256 he = _mm256_andnot_ps(taken, _mm256_cmp_ps(e, m, _CMP_GE_OQ));
        sknet_store_columns(d0 + 2 * j, _mm256_and_ps(ha, gj), _mm256_and_ps(hb, gj));
        sknet_store_columns(d1 + 2 * j, _mm256_and_ps(hc, gj), _mm256_and_ps(he, gj));
    }
    return j;
}
#endif
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
    if (mode == 0 && grad && tiles && wh == 2 && ww == 2 && sw == 2)
        j0 += sknet_max2x2_grad<T>(row + 2 * j0, row + W + 2 * j0, drow + 2 * j0, drow + W + 2 * j0,
                                   gout + j0, j1 - j0, mask);
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
