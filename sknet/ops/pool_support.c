/* Support code of the pooling ops (sknet/ops/pool.py), compiled as C++. */
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
