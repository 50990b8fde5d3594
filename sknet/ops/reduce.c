/* BlockSum's code block (sknet/ops/reduce.py). The op defines around it:
   SKNET_X, SKNET_Z   the input and output arrays (PyArrayObject*)
   SKNET_FAIL         PyTensor's failure statement
   SKNET_START, SKNET_STOP, SKNET_NDIM   the kept axes [start, stop) and the input's rank
   SKNET_T, SKNET_A   the element type and the accumulator type (float or double)
   SKNET_NPY          the output's NumPy type number */
{
    const int start = SKNET_START, stop = SKNET_STOP, nd = SKNET_NDIM;
    PyArrayObject* X = PyArray_GETCONTIGUOUS(SKNET_X);
    npy_intp* d = PyArray_DIMS(X);
    npy_intp outer = 1, mid = 1, inner = 1;
    for (int i = 0; i < nd; ++i) {
        if (i < start) outer *= d[i];
        else if (i < stop) mid *= d[i];
        else inner *= d[i];
    }
    if (!SKNET_Z || PyArray_NDIM(SKNET_Z) != stop - start || !PyArray_IS_C_CONTIGUOUS(SKNET_Z)
        || !PyArray_CompareLists(PyArray_DIMS(SKNET_Z), d + start, stop - start)) {
        Py_XDECREF(SKNET_Z);
        SKNET_Z = (PyArrayObject*)PyArray_EMPTY(stop - start, d + start, SKNET_NPY, 0);
        if (!SKNET_Z) { Py_XDECREF(X); SKNET_FAIL }
    }
    {
        const SKNET_T* x = (const SKNET_T*)PyArray_DATA(X);
        SKNET_T* z = (SKNET_T*)PyArray_DATA(SKNET_Z);
        SKNET_A* acc = (SKNET_A*)calloc(mid > 0 ? mid : 1, sizeof(SKNET_A));
        if (!acc) { Py_XDECREF(X); PyErr_NoMemory(); SKNET_FAIL }
        for (npy_intp o = 0; o < outer; ++o)
            for (npy_intp m = 0; m < mid; ++m) {
                /* eight independent lanes: the loop vectorises without
                   reordering any single lane's additions */
                const SKNET_T* p = x + (o * mid + m) * inner;
                SKNET_A lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                npy_intp i = 0;
                for (; i + 8 <= inner; i += 8)
                    for (int k = 0; k < 8; ++k) lane[k] += p[i + k];
                SKNET_A s = 0;
                for (; i < inner; ++i) s += p[i];
                for (int k = 0; k < 8; ++k) s += lane[k];
                acc[m] += s;
            }
        for (npy_intp m = 0; m < mid; ++m) z[m] = (SKNET_T)acc[m];
        free(acc);
    }
    Py_XDECREF(X);
}
