/* Support code of UpdateStep (sknet/ops/update_step.py), compiled as C++.

   One loop per rule, the arithmetic of the rule's formula in update_step.py:
   p the parameter, s0..s2 its states (in the order of RULES), g the
   gradient, h the changeable hyper-parameters, c the static ones, n the
   element count. The arithmetic is in T, the parameter's type, as
   PyTensor's expressions compute it: in double, the conversions halve the
   vector width and double sqrt and division are 2-3x slower. Restrict pointers to contiguous arrays and
   no calls but sqrt (-fno-math-errno), fabs and max, so that g++ vectorises
   every loop. */
#include <algorithm>
#include <cmath>

/* not inlined: inlined into PyTensor's run() the loops lose their restrict
   pointers and g++ leaves them scalar (adam on a 784 x 800 weight: 1.4 ms
   instead of 0.2 ms) */
#define SKNET_STEP_KERNEL __attribute__((noinline)) static void
#define SKNET_STEP_ARGS                                                                          \
    npy_intp n, T* __restrict__ p, T* __restrict__ s0, T* __restrict__ s1, T* __restrict__ s2, \
        const T* __restrict__ g, const double* h, const double* c

template <typename T>
SKNET_STEP_KERNEL sknet_step_sgd(SKNET_STEP_ARGS) {
    const T lr = (T)h[0];
    for (npy_intp i = 0; i < n; ++i) p[i] = p[i] - lr * g[i];
}

/* momentum and (nesterov) Nesterov momentum */
template <typename T, bool nesterov>
SKNET_STEP_KERNEL sknet_step_velocity(npy_intp n, T* __restrict__ p, T* __restrict__ s0, const T* __restrict__ g, T lr,
                                      T mu) {
    for (npy_intp i = 0; i < n; ++i) {
        const T v = mu * s0[i] - lr * g[i];
        s0[i] = v;
        p[i] = nesterov ? p[i] + mu * v - lr * g[i] : p[i] + v;
    }
}

template <typename T>
SKNET_STEP_KERNEL sknet_step_momentum(SKNET_STEP_ARGS) {
    sknet_step_velocity<T, false>(n, p, s0, g, (T)h[0], (T)h[1]);
}

template <typename T>
SKNET_STEP_KERNEL sknet_step_nesterov_momentum(SKNET_STEP_ARGS) {
    sknet_step_velocity<T, true>(n, p, s0, g, (T)h[0], (T)h[1]);
}

/* adagrad (rho = rho1 = 1) and rmsprop (rho1 = 1 - rho) */
template <typename T>
SKNET_STEP_KERNEL sknet_step_scaled(npy_intp n, T* __restrict__ p, T* __restrict__ s0, const T* __restrict__ g, T lr,
                                    T rho, T rho1, T eps) {
    for (npy_intp i = 0; i < n; ++i) {
        const T gi = g[i], a = rho * s0[i] + rho1 * (gi * gi);
        s0[i] = a;
        p[i] = p[i] - lr * gi / std::sqrt(a + eps);
    }
}

template <typename T>
SKNET_STEP_KERNEL sknet_step_adagrad(SKNET_STEP_ARGS) {
    sknet_step_scaled<T>(n, p, s0, g, (T)h[0], 1, 1, (T)c[0]);
}

template <typename T>
SKNET_STEP_KERNEL sknet_step_rmsprop(SKNET_STEP_ARGS) {
    sknet_step_scaled<T>(n, p, s0, g, (T)h[0], (T)c[0], (T)(1 - c[0]), (T)c[1]);
}

template <typename T>
SKNET_STEP_KERNEL sknet_step_adadelta(SKNET_STEP_ARGS) {
    const T lr = (T)h[0], rho = (T)c[0], rho1 = (T)(1 - c[0]), eps = (T)c[1];
    for (npy_intp i = 0; i < n; ++i) {
        const T gi = g[i], d = s1[i], a = rho * s0[i] + rho1 * (gi * gi);
        const T step = gi * std::sqrt(d + eps) / std::sqrt(a + eps);
        s0[i] = a;
        p[i] = p[i] - lr * step;
        s1[i] = rho * d + rho1 * (step * step);
    }
}

template <typename T>
SKNET_STEP_KERNEL sknet_step_adam(SKNET_STEP_ARGS) {
    const T a = (T)h[0], b1 = (T)c[0], b1c = (T)(1 - c[0]), b2 = (T)c[1], b2c = (T)(1 - c[1]), eps = (T)c[2];
    for (npy_intp i = 0; i < n; ++i) {
        const T gi = g[i], m = b1 * s0[i] + b1c * gi, v = b2 * s1[i] + b2c * (gi * gi);
        s0[i] = m;
        s1[i] = v;
        p[i] = p[i] - a * m / (std::sqrt(v) + eps);
    }
}

template <typename T>
SKNET_STEP_KERNEL sknet_step_adamax(SKNET_STEP_ARGS) {
    const T a = (T)h[0], b1 = (T)c[0], b1c = (T)(1 - c[0]), b2 = (T)c[1], eps = (T)c[2];
    for (npy_intp i = 0; i < n; ++i) {
        const T gi = g[i], m = b1 * s0[i] + b1c * gi, u = std::max(b2 * s1[i], std::fabs(gi));
        s0[i] = m;
        s1[i] = u;
        p[i] = p[i] - a * m / (u + eps);
    }
}

template <typename T>
SKNET_STEP_KERNEL sknet_step_amsgrad(SKNET_STEP_ARGS) {
    const T a = (T)h[0], b1 = (T)c[0], b1c = (T)(1 - c[0]), b2 = (T)c[1], b2c = (T)(1 - c[1]), eps = (T)c[2];
    for (npy_intp i = 0; i < n; ++i) {
        const T gi = g[i], m = b1 * s0[i] + b1c * gi, v = b2 * s1[i] + b2c * (gi * gi);
        const T vh = std::max(s2[i], v);
        s0[i] = m;
        s1[i] = v;
        s2[i] = vh;
        p[i] = p[i] - a * m / (std::sqrt(vh) + eps);
    }
}

/* Points *dst at the array an output is written to: src itself when the op
   works in place and src is contiguous, else a fresh contiguous copy of src.
   Returns -1 (with a Python error set) when the copy fails. */
static int sknet_step_output(PyArrayObject* src, PyArrayObject** dst, int inplace, int typenum) {
    if (inplace && PyArray_IS_C_CONTIGUOUS(src)) {
        if (*dst != src) {
            Py_XDECREF(*dst);
            *dst = src;
            Py_INCREF(*dst);
        }
        return 0;
    }
    Py_XDECREF(*dst);
    *dst = (PyArrayObject*)PyArray_EMPTY(PyArray_NDIM(src), PyArray_DIMS(src), typenum, 0);
    if (!*dst || PyArray_CopyInto(*dst, src) != 0) return -1;
    return 0;
}
