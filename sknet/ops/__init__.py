"""Custom PyTensor ops for CNNs: im2col + GEMM correlation, 2-D pooling, and a
fast sum over batch and spatial axes.

Each op has C code (PyTensor's default backend) and a numpy ``perform``; the
correlation and pooling also have numba implementations (NUMBA mode).
:data:`sknet.ops.relu.relu` is the rectifier with a gradient that reads its
output. Importing this package registers two rewrites: a C-backend one that
puts :class:`BlockSum` in place of PyTensor's sums over batch and spatial
axes, and one for the other backends that computes ``relu`` as ``maximum``.
"""

from . import inline  # noqa: F401 - registers the C-backend inlining of softmax ops
from .corr import CorrMM, corr2d, corr2d_grad_inputs, corr2d_grad_weights
from .pool import Pool2D, Pool2DGrad, pool_2d
from .reduce import BlockSum, block_sum
from .relu import relu

try:  # NUMBA mode: register the numba implementations with PyTensor
    from . import _numba  # noqa: F401
except ImportError:  # pragma: no cover - numba ships with pytensor
    pass
