"""Custom PyTensor ops for CNNs: im2col + GEMM correlation, 2-D pooling, and a
fast sum over batch and spatial axes.

Each op has C code (PyTensor's default backend) and a numpy ``perform``; the
correlation and pooling also have numba implementations (NUMBA mode).
Importing this package registers :func:`sknet.ops.reduce.local_block_sum`, a
C-backend rewrite.
"""

from .corr import CorrMM, corr2d, corr2d_grad_inputs, corr2d_grad_weights
from .pool import Pool2D, Pool2DGrad, pool_2d
from .reduce import BlockSum, block_sum

try:  # NUMBA mode: register the numba implementations with PyTensor
    from . import _numba  # noqa: F401
except ImportError:  # pragma: no cover - numba ships with pytensor
    pass
