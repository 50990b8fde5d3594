"""C backend: put PyTensor's symbolic ops (``Softmax``, ``LogSoftmax``) inline.

PyTensor 3 defines softmax and log-softmax as ``SymbolicOp``\\ s: ops that carry
an inner graph, which backends without their own implementation run as a
separately compiled inner function. The C backend has none, so every call of a
classifier's train function ran the log-softmax of the loss through a Python
op calling an inner function compiled in PyTensor's default mode (NUMBA):
~13 ms of a ~45 ms tutorial-CNN train step, for a 128 x 10 array. The rewrite
below replaces each such op by its inner graph, which PyTensor's C elementwise
and reduction code then runs (and fuses with its neighbours). It runs after
the stabilization that turns ``log(softmax(x))`` into ``LogSoftmax(x)``, so
that numerical safeguard is kept.

Examples
--------
>>> import pytensor, pytensor.tensor as T
>>> from pytensor.tensor.special import log_softmax
>>> import sknet
>>> x = T.matrix()
>>> f = pytensor.function([x], log_softmax(x, axis=1), mode=sknet.backend.get_mode())
>>> any('Softmax' in str(n.op) for n in f.maker.fgraph.apply_nodes)
False
"""

from pytensor.compile.builders import SymbolicOp
from pytensor.graph.rewriting.basic import copy_stack_trace, node_rewriter

__all__ = ["local_inline_symbolic_op"]


@node_rewriter([SymbolicOp])
def local_inline_symbolic_op(fgraph, node):
    """Replace a ``SymbolicOp`` node by the graph its op builds from the inputs."""
    outputs = node.op.build_inner_graph(*node.inputs)
    if len(outputs) != len(node.outputs) or any(new.type != old.type for new, old in zip(outputs, node.outputs)):
        return None
    copy_stack_trace(node.outputs, outputs)
    return outputs
