"""Network diagrams through the ``graphviz`` package: draw_to_file and draw_to_notebook, as nolearn's.

Needs the optional extra ``graphviz`` (``pip install sknet[graphviz]``);
rendering to an image also needs Graphviz's ``dot`` program
(``apt-get install graphviz``). Without ``dot``, ``.dot``/``.gv`` files are
still written.
"""

import os

from .layers.conv import BaseConvLayer
from .layers.pool import Pool1DLayer, Pool2DLayer
from .persistence import atomic_write
from .printing import _built_layers
from .summary import _incomings, _named

__all__ = ["make_graph", "draw_to_file", "draw_to_notebook"]

# Fill colours by layer family, as nolearn's diagrams (blue conv, orange pool, purple recurrent, green others).
_COLORS = {"conv": "#4A88B3", "pool": "#FFBB60", "recurrent": "#C54AAA", "other": "#75DF54", "input": "#DDDDDD"}
_ATTRIBUTES = ("num_filters", "num_units", "filter_size", "pool_size", "stride", "pad", "p")
_SOURCE_FORMATS = ("dot", "gv")


def _graphviz():
    try:
        import graphviz
    except ImportError:
        raise ImportError(
            "Drawing a network needs the graphviz package: pip install graphviz "
            "(sknet's extra: pip install 'sknet[graphviz]')"
        ) from None
    return graphviz


def _family(layer):
    from .layers import InputLayer
    from .layers.recurrent import _RecurrentBase

    if isinstance(layer, InputLayer):
        return "input"
    if isinstance(layer, BaseConvLayer):
        return "conv"
    if isinstance(layer, (Pool1DLayer, Pool2DLayer)) or "Pool" in type(layer).__name__:
        return "pool"
    if isinstance(layer, _RecurrentBase):
        return "recurrent"
    return "other"


def _layers(net):
    """``{name: layer}`` of a net (fitted), an output layer, a list or a dict of layers."""
    if hasattr(net, "get_all_layers"):
        layers = _built_layers(net)
        if layers is None:
            raise ValueError("draw the net after fit (or initialize()): its layers are not built yet")
        return _named(layers)
    return _named(net)


def make_graph(net, output_shape=True, verbose=False):
    """The network as a ``graphviz.Digraph``: one box per layer, an arrow per connection.

    Parameters
    ----------
    net : NeuralNet, Layer, list or dict of Layer
        A fitted (or initialized) net, an output layer, or the layers.
    output_shape : bool
        Show each layer's output shape.
    verbose : bool
        Also show the layer's sizes (units, filters, stride ...) and nonlinearity.

    Returns
    -------
    graphviz.Digraph

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> graph = make_graph(DenseLayer(InputLayer((None, 3), name='in'), 2, name='out'))
    >>> print([line.strip() for line in graph.body][-1])
    0 -> 1
    """
    graphviz = _graphviz()
    named = _layers(net)
    ids = {id(layer): str(i) for i, layer in enumerate(named.values())}
    graph = graphviz.Digraph("Network", node_attr={"shape": "record", "style": "filled"})
    for name, layer in named.items():
        lines = [f"{name} ({type(layer).__name__})" if name != type(layer).__name__ else name]
        if verbose:
            lines += [f"{attr}: {getattr(layer, attr)}" for attr in _ATTRIBUTES if hasattr(layer, attr)]
            if getattr(layer, "nonlinearity", None) is not None:
                nl = layer.nonlinearity
                lines.append(f"nonlinearity: {getattr(nl, '__name__', type(nl).__name__)}")
        if output_shape:
            lines.append(f"output shape: {tuple(layer.output_shape)}")
        # Record labels treat these characters as structure; escape them.
        label = "\\n".join(line.translate(str.maketrans({c: "\\" + c for c in "{}|<>"})) for line in lines)
        graph.node(ids[id(layer)], label=label, fillcolor=_COLORS[_family(layer)])
    for layer in named.values():
        for incoming in _incomings(layer):
            if incoming is not None and id(incoming) in ids:
                graph.edge(ids[id(incoming)], ids[id(layer)])
    return graph


def draw_to_file(net, path, output_shape=True, verbose=False):
    """Draw the network to ``path``; its suffix picks the format (``.png``, ``.pdf``, ``.svg``, ``.dot`` ...).

    ``.dot`` and ``.gv`` files get the Graphviz source and need no ``dot``
    program; other formats are rendered by it (a RuntimeError says how to
    install it when missing). The file is written atomically.

    Examples
    --------
    >>> import os, tempfile
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> path = os.path.join(tempfile.mkdtemp(), 'net.dot')
    >>> draw_to_file(DenseLayer(InputLayer((None, 3)), 2), path)
    >>> open(path).read().startswith('digraph Network')
    True
    """
    graphviz = _graphviz()
    graph = make_graph(net, output_shape=output_shape, verbose=verbose)
    fmt = os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
    if not fmt:
        raise ValueError(
            f"draw_to_file: give the path a suffix naming the format (.png, .svg, .pdf, .dot), got {path!r}"
        )
    if fmt in _SOURCE_FORMATS:
        data = graph.source.encode()
    else:
        try:
            data = graph.pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            raise RuntimeError(
                f"Rendering a .{fmt} file needs Graphviz's dot program (apt-get install graphviz, "
                "brew install graphviz or conda install graphviz); a .dot path needs none"
            ) from None
        except (ValueError, graphviz.CalledProcessError) as exc:
            raise ValueError(f"draw_to_file: Graphviz cannot write the format {fmt!r}: {exc}") from None
    atomic_write(path, lambda f: f.write(data))


def draw_to_notebook(net, output_shape=True, verbose=False):
    """The network diagram as a PNG image that a notebook displays (``IPython.display.Image``).

    Needs IPython and Graphviz's ``dot`` program.

    Examples
    --------
    >>> import shutil
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> net = DenseLayer(InputLayer((None, 3)), 2)
    >>> shutil.which('dot') is None or draw_to_notebook(net).data[1:4] == b'PNG'
    True
    """
    graphviz = _graphviz()
    from IPython.display import Image

    try:
        return Image(make_graph(net, output_shape=output_shape, verbose=verbose).pipe(format="png"))
    except graphviz.ExecutableNotFound:
        raise RuntimeError(
            "draw_to_notebook needs Graphviz's dot program (apt-get install graphviz, brew install "
            "graphviz or conda install graphviz)"
        ) from None
