"""Make docs/img/quickstart_loss.png, the README's picture, by running examples/quickstart.ipynb.

The notebook's code cells run in order in one namespace (IPython magics
skipped) up to the ``plot_loss`` cell; the figure it draws is saved with
``plt.savefig``, as a script would. Run from anywhere::

    python docs/img/make_quickstart_png.py
"""

import json
from pathlib import Path

import matplotlib

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"
OUT = Path(__file__).resolve().parent / "quickstart_loss.png"


def code_cells(path=NOTEBOOK):
    """The source of each code cell, IPython magics (``%...`` lines) removed."""
    cells = json.loads(Path(path).read_text())["cells"]
    return [
        "".join(line for line in cell["source"] if not line.lstrip().startswith("%"))
        for cell in cells
        if cell["cell_type"] == "code"
    ]


def run_cells(stop_after=None, namespace=None):
    """Run the code cells in ``namespace`` (a new dict by default) and return it.

    Stops after the first cell containing ``stop_after`` when given.
    """
    namespace = {} if namespace is None else namespace
    for i, source in enumerate(code_cells()):
        exec(compile(source, f"quickstart.ipynb[{i}]", "exec"), namespace)
        if stop_after is not None and stop_after in source:
            break
    return namespace


def main():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_cells(stop_after="plot_loss(net)")
    plt.savefig(OUT, dpi=72)
    print(f"written {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
