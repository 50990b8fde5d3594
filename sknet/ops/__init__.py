"""Custom PyTensor ops for CNNs: im2col + GEMM correlation, 2-D pooling, a
sum over batch and spatial axes, and the rectifier; and the step of an update
rule (:class:`~sknet.ops.update_step.UpdateStep`, :class:`~sknet.ops.adam.AdamStep`
for adam, used by :mod:`sknet.updates`).

The correlation, pooling and sum ops have C code (PyTensor's C backend, held
in the ``.c`` files beside these modules), numba (NUMBA mode) and JAX
implementations and a numpy ``perform``; :data:`sknet.ops.relu.relu` is an
elementwise op whose gradient reads its output. The C ops share one pool of
threads with OpenBLAS (:mod:`~sknet.ops._threads`).

Importing this package changes nothing in PyTensor. sknet's graph rewrites
(:mod:`~sknet.ops.registry`) are registered, under sknet's own tags, the
first time a mode of :func:`sknet.backend.get_mode` compiles a function. For
sknet's C mode: :class:`BlockSum` in place of PyTensor's sums over batch and
spatial axes (:mod:`~sknet.ops.reduce`), a rectifier's gradient fused into the
pooling gradient (:func:`~sknet.ops.pool.local_pool_grad_relu`), a
convolution's bias and rectifier fused into the correlation
(:func:`~sknet.ops.corr.local_corr_bias_relu`), and PyTensor's softmax ops
inlined (:mod:`~sknet.ops.inline`). For sknet's NUMBA and JAX modes: ``relu``
computed as ``maximum(x, 0)`` and an update step as elementwise expressions.
For all of them: an update step in place.
"""

from .adam import AdamStep
from .corr import CorrMM, corr2d, corr2d_grad_inputs, corr2d_grad_weights
from .pool import Pool2D, Pool2DGrad, pool_2d
from .reduce import BlockSum, block_sum
from .relu import relu
from .update_step import UpdateStep

__all__ = [
    "AdamStep",
    "CorrMM",
    "corr2d",
    "corr2d_grad_inputs",
    "corr2d_grad_weights",
    "Pool2D",
    "Pool2DGrad",
    "pool_2d",
    "BlockSum",
    "block_sum",
    "relu",
    "UpdateStep",
]
