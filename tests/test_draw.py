"""Network diagrams: draw_to_file (Graphviz source and rendered images) and draw_to_notebook."""

import re
import shutil

import pytest

graphviz = pytest.importorskip("graphviz", reason="the optional extra sknet[graphviz] is not installed")

from sknet import NeuralNet  # noqa: E402
from sknet.draw import draw_to_file, draw_to_notebook, make_graph  # noqa: E402
from sknet.layers import ConcatLayer, Conv2DLayer, DenseLayer, InputLayer  # noqa: E402

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")


@pytest.fixture(scope="module")
def branched():
    """Two inputs, a conv branch and a dense branch merged by a ConcatLayer."""
    spec = [
        (InputLayer, {"name": "image", "shape": (None, 1, 6, 6)}),
        (Conv2DLayer, {"name": "conv", "num_filters": 2, "filter_size": 3}),
        (DenseLayer, {"name": "from_image", "num_units": 4}),
        (InputLayer, {"name": "meta", "shape": (None, 3)}),
        (ConcatLayer, {"name": "both", "incomings": ["from_image", "meta"]}),
        (DenseLayer, {"name": "out", "num_units": 2}),
    ]
    return NeuralNet(spec).initialize()


def _edges(source):
    return sorted(tuple(map(int, m)) for m in re.findall(r"^\s*(\d+) -> (\d+)", source, flags=re.M))


def test_dot_source_has_every_layer_and_connection(branched, tmp_path):
    path = tmp_path / "net.dot"
    draw_to_file(branched, str(path), verbose=True)
    source = path.read_text()
    # 0 image, 1 conv, 2 from_image, 3 meta, 4 both, 5 out
    assert _edges(source) == [(0, 1), (1, 2), (2, 4), (3, 4), (4, 5)]
    assert "conv (Conv2DLayer)" in source and "output shape: (None, 2, 4, 4)" in source
    assert "num_filters: 2" in source and "nonlinearity: rectify" in source
    assert [p.name for p in tmp_path.iterdir()] == ["net.dot"]


def test_draw_accepts_layers_and_rejects_unbuilt_nets(branched):
    from_list = make_graph(list(branched.layers_.values()), output_shape=False)
    assert "output shape" not in from_list.source and len(_edges(from_list.source)) == 5
    with pytest.raises(ValueError, match="after fit"):
        make_graph(NeuralNet([(InputLayer, {"shape": (None, 2)}), (DenseLayer, {"num_units": 1})]))
    with pytest.raises(ValueError, match="suffix"):
        draw_to_file(branched, "network")


@needs_dot
def test_png_and_notebook_images(branched, tmp_path):
    path = tmp_path / "net.png"
    draw_to_file(branched, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = draw_to_notebook(branched)
    assert image.data[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "net.svg"
    draw_to_file(branched, str(svg))
    assert svg.read_text().count('class="node"') == 6


def test_missing_dot_program_is_a_clear_error(branched, tmp_path, monkeypatch):
    def no_dot(self, *args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot"])

    monkeypatch.setattr(graphviz.Digraph, "pipe", no_dot)
    with pytest.raises(RuntimeError, match="needs Graphviz's dot program"):
        draw_to_file(branched, str(tmp_path / "net.pdf"))
    with pytest.raises(RuntimeError, match="dot program"):
        draw_to_notebook(branched)
    assert list(tmp_path.iterdir()) == []
    draw_to_file(branched, str(tmp_path / "net.gv"))  # the source needs no dot
