"""examples/quickstart.ipynb: committed without outputs, and runs top to bottom in a fresh kernel."""

from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "quickstart.ipynb"


def test_committed_notebook_is_valid_and_has_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code, "the notebook has no code cells"
    for cell in code:
        assert cell.outputs == [], f"outputs not stripped in cell:\n{cell.source[:80]}"
        assert cell.execution_count is None
    assert "widgets" not in nb.metadata


@pytest.mark.slow
def test_quickstart_runs_top_to_bottom():
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    # 'python3' is ipykernel's spec; jupyter_client launches it with this
    # interpreter (the venv's), which has sknet installed.
    KernelSpecManager().get_kernel_spec("python3")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()

    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    text = "".join(out.get("text", "") + out.get("data", {}).get("text/plain", "") for out in outputs)
    assert "total params:" in text and "receptive field" in text
    assert "valid_loss" in text and "test accuracy" in text and "best:" in text
    accuracy = float(text.split("test accuracy: ")[1].split()[0])
    assert accuracy > 80  # percent
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) == 2  # plot_loss and plot_conv_weights
