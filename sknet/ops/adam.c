/* AdamStep's code block (sknet/ops/adam.py). The op defines around it:
   SKNET_P, SKNET_M, SKNET_V, SKNET_G, SKNET_A   parameter, moments, gradient, step size (inputs)
   SKNET_ZP, SKNET_ZM, SKNET_ZV                   the new parameter and moments (outputs)
   SKNET_FAIL                                     PyTensor's failure statement
   SKNET_INPLACE                                  1 when the outputs may overwrite the inputs
   SKNET_B1, SKNET_B2, SKNET_EPS                  beta1, beta2, epsilon
   SKNET_T, SKNET_NPY                             the element type and its NumPy type number */
{
    PyArrayObject* gc = NULL;
    npy_intp n = PyArray_SIZE(SKNET_P);
    if (PyArray_SIZE(SKNET_M) != n || PyArray_SIZE(SKNET_V) != n || PyArray_SIZE(SKNET_G) != n
        || !PyArray_SAMESHAPE(SKNET_P, SKNET_G) || !PyArray_SAMESHAPE(SKNET_P, SKNET_M)
        || !PyArray_SAMESHAPE(SKNET_P, SKNET_V)) {
        PyErr_SetString(PyExc_ValueError, "AdamStep: the parameter, moments and gradient differ in shape");
        SKNET_FAIL
    }
    gc = PyArray_GETCONTIGUOUS(SKNET_G);
    if (!gc) SKNET_FAIL
    if (sknet_adam_output(SKNET_P, &SKNET_ZP, SKNET_INPLACE, SKNET_NPY) != 0
        || sknet_adam_output(SKNET_M, &SKNET_ZM, SKNET_INPLACE, SKNET_NPY) != 0
        || sknet_adam_output(SKNET_V, &SKNET_ZV, SKNET_INPLACE, SKNET_NPY) != 0) {
        Py_XDECREF(gc);
        SKNET_FAIL
    }
    {
        /* in double, as PyTensor's fused expression computed it (its
           constants are double): float32 sqrt(v) + 1e-8 loses the
           epsilon where v is tiny */
        const double b1 = SKNET_B1, b2 = SKNET_B2, eps = SKNET_EPS;
        const double step = (double)((SKNET_T*)PyArray_DATA(SKNET_A))[0];
        const SKNET_T* __restrict__ gr = (const SKNET_T*)PyArray_DATA(gc);
        SKNET_T* __restrict__ P = (SKNET_T*)PyArray_DATA(SKNET_ZP);
        SKNET_T* __restrict__ M = (SKNET_T*)PyArray_DATA(SKNET_ZM);
        SKNET_T* __restrict__ V = (SKNET_T*)PyArray_DATA(SKNET_ZV);
        for (npy_intp i = 0; i < n; ++i) {
            double gi = gr[i];
            SKNET_T mi = (SKNET_T)(b1 * M[i] + (1 - b1) * gi);
            SKNET_T vi = (SKNET_T)(b2 * V[i] + (1 - b2) * (gi * gi));
            M[i] = mi;
            V[i] = vi;
            P[i] = (SKNET_T)(P[i] - step * mi / (std::sqrt((double)vi) + eps));
        }
    }
    Py_DECREF(gc);
}
