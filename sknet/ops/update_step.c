/* UpdateStep's code block (sknet/ops/update_step.py). The op defines around it:
   SKNET_ARRAYS, SKNET_NARRAYS       the parameter and its states (inputs), each followed by a comma; their count
   SKNET_OUTPUTS                     the addresses of their new values (outputs), each followed by a comma
   SKNET_G                           the gradient
   SKNET_SCALARS, SKNET_NSCALARS     the changeable hyper-parameters (0-d arrays), each followed by a comma; their count
   SKNET_CONSTANTS                   the static ones (numbers), each followed by a comma
   SKNET_KERNEL                      the rule's loop (update_step_support.c)
   SKNET_FAIL                        PyTensor's failure statement
   SKNET_INPLACE                     1 when the outputs may overwrite the inputs
   SKNET_T, SKNET_NPY                the element type and its NumPy type number */
{
    PyArrayObject* sknet_in[] = {SKNET_ARRAYS NULL};
    PyArrayObject** sknet_out[] = {SKNET_OUTPUTS NULL};
    PyArrayObject* sknet_sc[] = {SKNET_SCALARS NULL};
    const double sknet_c[] = {SKNET_CONSTANTS 0.0};
    double sknet_h[SKNET_NSCALARS + 1] = {0.0};
    SKNET_T* sknet_ptr[4] = {NULL, NULL, NULL, NULL};
    PyArrayObject* sknet_gc = NULL;
    npy_intp sknet_n = PyArray_SIZE(SKNET_G);
    for (int k = 0; k < SKNET_NARRAYS; ++k) {
        if (!PyArray_SAMESHAPE(sknet_in[k], SKNET_G)) {
            PyErr_SetString(PyExc_ValueError, "UpdateStep: the parameter, its states and the gradient differ in shape");
            SKNET_FAIL
        }
    }
    for (int k = 0; k < SKNET_NSCALARS; ++k) {
        if (PyArray_SIZE(sknet_sc[k]) != 1) {
            PyErr_SetString(PyExc_ValueError, "UpdateStep: a hyper-parameter is not a scalar");
            SKNET_FAIL
        }
        sknet_h[k] = (double)((SKNET_T*)PyArray_DATA(sknet_sc[k]))[0];
    }
    /* a non-contiguous gradient (a transposed view) is copied: the loops read contiguous arrays */
    sknet_gc = PyArray_GETCONTIGUOUS(SKNET_G);
    if (!sknet_gc) SKNET_FAIL
    for (int k = 0; k < SKNET_NARRAYS; ++k) {
        if (sknet_step_output(sknet_in[k], sknet_out[k], SKNET_INPLACE, SKNET_NPY) != 0) {
            Py_DECREF(sknet_gc);
            SKNET_FAIL
        }
        sknet_ptr[k] = (SKNET_T*)PyArray_DATA(*sknet_out[k]);
    }
    SKNET_KERNEL(sknet_n, sknet_ptr[0], sknet_ptr[1], sknet_ptr[2], sknet_ptr[3],
                 (const SKNET_T*)PyArray_DATA(sknet_gc), sknet_h, sknet_c);
    Py_DECREF(sknet_gc);
}
