"""Every ```python block of README.md runs as written (fewer epochs), each in a fresh interpreter.

The blocks are read from the README itself, so a snippet that stops working
fails here. The only change made to them: ``max_epochs=N`` becomes
``max_epochs=3``, so the tour's grid search fits in the test's time; every
other line runs as a reader pastes it.
"""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", README.read_text(), flags=re.M | re.S)
FEWER_EPOCHS = (re.compile(r"max_epochs=\d+"), "max_epochs=3")


def first_line(block):
    return block.strip().splitlines()[0]


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_snippets_print_what_they_compute(block):
    """No bare expressions: pasted into a script, a bare expression shows nothing."""
    for node in ast.parse(block).body:
        if isinstance(node, ast.Expr):
            assert isinstance(node.value, ast.Call), (
                f"bare expression in the README block starting {first_line(block)!r}: {ast.unparse(node)!r}; print it"
            )


@pytest.mark.slow  # 30-80 s on this shared 2-core machine (compiles, a 12-fit grid search)
@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_block_runs(block, tmp_path):
    code = FEWER_EPOCHS[0].sub(FEWER_EPOCHS[1], block)
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{first_line(block)!r}:\n{done.stderr}"
    assert done.stdout.strip(), "the block prints nothing"
    assert "Warning" not in done.stderr, done.stderr


def test_notebooks_section_and_its_picture():
    from matplotlib.image import imread

    text = README.read_text()
    section = text[text.index("### Notebooks") :]
    section = section[: section.index("\n### ", 1)]
    assert "examples/quickstart.ipynb" in section and "verbose=2" in section and "Jupyter" in section
    (picture,) = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", section)
    pixels = imread(ROOT / picture)
    assert (ROOT / picture).stat().st_size < 60_000
    assert pixels.shape[0] > 150 and pixels.shape[1] > 200
    assert pixels[..., :3].std() > 0.05  # a drawn plot, not a blank canvas
    # the picture is what the notebook's own cells draw
    assert (ROOT / "examples" / "quickstart.ipynb").read_text().count("plot_loss(net)") == 1


@pytest.mark.slow
def test_notebook_grid_search_leaves_the_fitted_net_alone(monkeypatch):
    """The notebook's cells, run in order: the search works on a clone, and each plot is one figure."""
    import runpy

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    maker = runpy.run_path(str(ROOT / "docs" / "img" / "make_quickstart_png.py"))
    cells = maker["code_cells"]()
    namespace = {}
    figures = 0
    snapshot = None
    try:
        for source in cells:
            before = len(plt.get_fignums())
            if "GridSearchCV(" in source:
                net = namespace["net"]
                snapshot = (
                    net.get_params()["max_epochs"],
                    net.get_params()["verbose"],
                    net.predict_proba(namespace["X_test"]),
                )
            exec(compile(source, "quickstart.ipynb", "exec"), namespace)
            figures += len(plt.get_fignums()) - before
    finally:
        plt.close("all")
    assert figures == 2  # plot_loss and plot_conv_weights, each once
    assert snapshot is not None
    net = namespace["net"]
    assert (net.max_epochs, net.verbose) == snapshot[:2] == (10, 2)
    np.testing.assert_array_equal(net.predict_proba(namespace["X_test"]), snapshot[2])
    assert namespace["search"].best_estimator_ is not net
