/* Support code of AdamStep (sknet/ops/adam.py), compiled as C++. */
#include <cmath>

/* Points *dst at the array an output is written to: src itself when the op
   works in place and src is contiguous, else a fresh contiguous copy of src.
   Returns -1 (with a Python error set) when the copy fails. */
static int sknet_adam_output(PyArrayObject* src, PyArrayObject** dst, int inplace, int typenum) {
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
