"""The rectifier ``max(x, 0)`` as one elementwise op whose gradient reads its output.

``T.maximum(x, 0)`` has the gradient ``g * eq(maximum(x, 0), x)``, which needs
the pre-activation ``x`` as well as the output. Under a bias (``conv + b``)
PyTensor then fuses a two-output loop (output and pre-activation) and a
comparison that branches on the data; on the tutorial CNN's first layer the
two took ~9 ms of a ~60 ms train step. :data:`relu` computes the same values
and defines the gradient as ``g * (relu(x) > 0)``, from the output alone, so
the forward loop has one output and both loops vectorise.

The C backend runs the op itself and the Python linker its ``impl``; in
sknet's NUMBA and JAX modes a rewrite turns it back into ``maximum(x, 0)``
(the gradient graph is built by then and stays as it is). PyTensor's own
NUMBA mode, which has no such rewrite, gets a compiled version of the op too
(registered when PyTensor loads its numba backend), instead of running
``impl`` in numba's slow object mode with a warning.
"""

import importlib.abc
import importlib.util
import sys

import numpy as np
import pytensor.scalar as ps
import pytensor.tensor as T
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.tensor.elemwise import Elemwise

__all__ = ["ScalarRelu", "relu"]


class ScalarRelu(ps.UnaryScalarOp):
    """Scalar ``max(x, 0)``; NaN stays NaN.

    Examples
    --------
    >>> from sknet.ops.relu import relu
    >>> relu(np.array([-1.5, 0.0, 2.0], 'float32')).eval()
    array([0., 0., 2.], dtype=float32)
    """

    def impl(self, x):
        return x if not x <= 0 else type(x)(0)

    def pullback(self, inputs, outputs, output_grads):
        (y,), (gz,) = outputs, output_grads
        return [gz * ps.cast(ps.gt(y, 0), gz.type.dtype)]

    def c_code(self, node, name, inputs, outputs, sub):
        (x,), (z,) = inputs, outputs
        # !(x <= 0) holds for x > 0 and for NaN: one unordered compare and a blend
        return f"{z} = !({x} <= 0) ? {x} : 0;"

    def c_code_cache_version(self):
        return (1,)


relu = Elemwise(ScalarRelu(ps.upgrade_to_float, name="relu"), name="relu")
"""Elementwise rectifier (see :class:`ScalarRelu`)."""


def _register_numba(dispatch):
    """Register a compiled :class:`ScalarRelu` with PyTensor's numba dispatch module."""

    @dispatch.register_funcify_and_cache_key(ScalarRelu)
    def numba_relu(op, node, **kwargs):
        dtype = node.outputs[0].dtype
        zero = np.dtype(dtype).type(0)

        @dispatch.numba_njit
        def scalar_relu(x):
            return x if not x <= 0 else zero  # NaN stays NaN, as in impl

        return scalar_relu, f"sknet.ops.relu.ScalarRelu-{dtype}-v1"


_NUMBA_DISPATCH = "pytensor.link.numba.dispatch.basic"


class _RegisterWithNumba(importlib.abc.MetaPathFinder):
    """Registers the compiled rectifier right after PyTensor loads its numba dispatch.

    That module imports numba (a third of a second), which PyTensor does only
    when a NUMBA-mode function is first compiled; importing it here would
    make every ``import sknet`` pay for it, and would register PyTensor's
    numba rewrites at sknet's import. The finder looks up nothing itself
    and removes itself once used.
    """

    def find_spec(self, name, path, target=None):
        if name != _NUMBA_DISPATCH:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_register(module):
            exec_module(module)
            _register_numba(module)

        spec.loader.exec_module = exec_and_register  # this module's own loader
        return spec


if _NUMBA_DISPATCH in sys.modules:
    _register_numba(sys.modules[_NUMBA_DISPATCH])
elif not any(isinstance(finder, _RegisterWithNumba) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWithNumba())


@node_rewriter([Elemwise])
def local_relu_to_maximum(fgraph, node):
    """In NUMBA and JAX mode, compute :data:`relu` as ``maximum(x, 0)``."""
    if not isinstance(node.op.scalar_op, ScalarRelu):
        return None
    (x,) = node.inputs
    out = T.maximum(x, np.asarray(0, dtype=node.outputs[0].dtype))
    return [T.cast(out, node.outputs[0].dtype)]
