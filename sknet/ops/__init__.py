"""Custom PyTensor ops for CNNs: im2col + GEMM correlation and 2-D pooling.

Each op has C code (PyTensor's default backend), a numba implementation
(NUMBA mode) and a numpy ``perform``.
"""

from .corr import CorrMM, corr2d, corr2d_grad_inputs, corr2d_grad_weights
from .pool import Pool2D, Pool2DGrad, pool_2d

try:  # NUMBA mode: register the numba implementations with PyTensor
    from . import _numba  # noqa: F401
except ImportError:  # pragma: no cover - numba ships with pytensor
    pass
