"""sknet's graph rewrites and backend implementations, registered on first use.

Importing :mod:`sknet.ops` (or any module of it) changes nothing in PyTensor.
The modes :func:`sknet.backend.get_mode` builds call :func:`register` the
first time they compile a function: it adds sknet's rewrites to PyTensor's
rewrite database under sknet's own tags, which no PyTensor mode includes,
and, for a NUMBA or JAX linker, the numba or JAX versions of sknet's ops.

Tags (a rewrite is applied only by a mode whose query includes its tag):

- :data:`TAG` (``'sknet'``), every sknet mode: an update rule's step in place
  (:func:`~sknet.ops.update_step.local_update_step_inplace`);
- :data:`C_TAG` (``'sknet_c'``), sknet's C mode: :class:`~sknet.ops.reduce.BlockSum`
  for sums over batch and spatial axes, the rectifier's gradient fused into the
  pooling gradient, a convolution's bias and rectifier fused into the
  correlation, PyTensor's softmax ops inlined;
- :data:`JIT_TAG` (``'sknet_jit'``), sknet's NUMBA and JAX modes: the rectifier
  computed as ``maximum(x, 0)``, an update rule's step as elementwise
  expressions (:func:`~sknet.ops.update_step.local_update_step_expand`), which
  those compilers fuse and vectorise themselves;
- :data:`JAX_TAG` (``'sknet_jax'``), sknet's JAX mode: a reshape size computed
  from others left to JAX (:func:`~sknet.ops._jax.local_reshape_free_size`),
  runtime assertions dropped as JAX would drop them
  (:func:`~sknet.ops._jax.local_drop_runtime_check`), float32 sums and shape
  vectors where JAX runs without 64-bit types; registered with the
  JAX versions of sknet's ops.

Examples
--------
>>> from sknet.ops import registry
>>> registry.register()
>>> from pytensor.compile import optdb
>>> specialize = optdb["specialize"].__db__  # tag -> rewrites
>>> sorted(r.__name__ for r in specialize[registry.C_TAG])[:2]
['local_block_sum', 'local_corr_bias_relu']
>>> any(getattr(r, "__name__", "") == "local_block_sum" for r in specialize["fast_run"])
False
"""

import threading

__all__ = ["TAG", "C_TAG", "JIT_TAG", "JAX_TAG", "register", "rewrite_names"]

TAG = "sknet"
C_TAG = "sknet_c"
JIT_TAG = "sknet_jit"
JAX_TAG = "sknet_jax"

_lock = threading.Lock()
_done = set()


def rewrite_names():
    """The names sknet's rewrites are registered under in PyTensor's database.

    Examples
    --------
    >>> from sknet.ops.registry import rewrite_names
    >>> 'local_corr_bias_relu' in rewrite_names()
    True
    """
    return (
        "local_block_sum",
        "local_inline_symbolic_op",
        "local_pool_grad_relu",
        "local_corr_bias_relu",
        "sknet_relu_to_maximum",
        "sknet_update_step_expand",
        "sknet_update_step_inplace",
        "sknet_jax_reshape_free_size",
        "sknet_jax_drop_runtime_check",
        "sknet_jax_32_bits",
    )


def _register_rewrites():
    from pytensor.compile import optdb
    from pytensor.graph.rewriting.basic import dfs_rewriter

    from .corr import local_corr_bias_relu
    from .inline import local_inline_symbolic_op
    from .pool import local_pool_grad_relu
    from .reduce import local_block_sum
    from .relu import local_relu_to_maximum
    from .update_step import local_update_step_expand, local_update_step_inplace

    specialize = optdb["specialize"]
    for rewriter in (local_block_sum, local_inline_symbolic_op, local_pool_grad_relu, local_corr_bias_relu):
        specialize.register(rewriter.__name__, rewriter, C_TAG)
    # before canonicalization (position 1), so the rest of the graph sees maximum
    optdb.register("sknet_relu_to_maximum", dfs_rewriter(local_relu_to_maximum), JIT_TAG, position=0.9)
    optdb.register("sknet_update_step_expand", dfs_rewriter(local_update_step_expand), JIT_TAG, position=0.91)
    # after PyTensor's own inplace rewrites (position 50.x)
    optdb.register(
        "sknet_update_step_inplace", dfs_rewriter(local_update_step_inplace, ignore_newtrees=True), TAG, position=50.9
    )


def _register_backend(linker):
    kind = type(linker).__name__
    if kind == "NumbaLinker":
        from . import _numba  # noqa: F401 - registers the numba versions of sknet's ops
    elif kind == "JAXLinker":
        from pytensor.compile import optdb
        from pytensor.graph.rewriting.basic import dfs_rewriter

        from . import _jax  # registers the JAX versions of sknet's ops

        # after PyTensor's rewrites have folded the shapes, before its JAX
        # rewrites turn the reshapes' shapes into tuples (position 100)
        rewriter = dfs_rewriter(_jax.local_reshape_free_size)
        optdb.register("sknet_jax_reshape_free_size", rewriter, JAX_TAG, position=99.5)
        rewriter = dfs_rewriter(_jax.local_drop_runtime_check)
        optdb.register("sknet_jax_drop_runtime_check", rewriter, JAX_TAG, position=99.4)
        rewriter = dfs_rewriter(_jax.local_sum_in_32_bits, _jax.local_cast_into_make_vector)
        optdb.register("sknet_jax_32_bits", rewriter, JAX_TAG, position=99.6)


def register(linker=None):
    """Register sknet's rewrites (once), and the versions of its ops ``linker`` runs.

    Parameters
    ----------
    linker : pytensor.link.basic.Linker, optional
        A NUMBA linker also registers sknet's numba implementations, a JAX
        linker its JAX ones; other linkers nothing more.

    Examples
    --------
    >>> from sknet.ops.registry import register
    >>> register()
    """
    with _lock:
        if "rewrites" not in _done:
            _register_rewrites()
            _done.add("rewrites")
        kind = type(linker).__name__
        if linker is not None and kind not in _done:
            _register_backend(linker)
            _done.add(kind)
