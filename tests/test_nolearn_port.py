"""examples/nolearn_port.py: a nolearn-era script that runs on sknet with its imports changed."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from sknet.persistence import read_weights

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPT = EXAMPLES / "nolearn_port.py"


@pytest.fixture(scope="module")
def port():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import nolearn_port

        yield nolearn_port
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture(scope="module")
def result(port, tmp_path_factory):
    # 800 digits (or MNIST images); patience 2 stops the MLP well before 60 epochs
    return port.main(
        num_epochs=60,
        train_size=800,
        test_size=400,
        out_dir=str(tmp_path_factory.mktemp("port")),
        verbose=0,
        patience=2,
    )


def test_stop_iteration_hook_ends_training_with_the_best_weights(result):
    history = result["mlp"].train_history_
    losses = [r["valid_loss"] for r in history]
    best = int(np.argmin(losses))
    assert len(history) < 60 and len(history) - 1 - best == 2  # stopped two epochs after the best
    # SaveWeights(only_best=True) wrote the best epoch last; the hook loaded the same weights back
    saved = read_weights(result["best_weights"])
    for name, values in result["mlp"].get_all_params_values().items():
        for a, b in zip(values, saved.get(name, [])):
            np.testing.assert_array_equal(a, b)
    assert all(0 < r["valid_f1"] <= 1 for r in history)


def test_the_nets_learn(result):
    from sklearn.base import is_classifier

    from sknet import NeuralNet

    # nolearn's spelling: NeuralNet(regression=False) is the classifier, custom_scores its f1 column
    assert type(result["mlp"]) is NeuralNet and is_classifier(result["mlp"])
    assert result["accuracy"] > 0.85  # 10 classes
    assert result["regression_r2"] > 0.4
    assert result["two_output_r2"] > 0.3


def test_only_imports_and_marked_lines_differ_from_nolearn():
    code = SCRIPT.read_text()
    imports = [line for line in code.splitlines() if line.startswith(("from sknet", "import sknet"))]
    # each sknet import follows the nolearn/lasagne line it replaces (or names the nolearn feature it stands for)
    for line in imports:
        previous = code.splitlines()[code.splitlines().index(line) - 1]
        assert previous.startswith("# from ") or "# nolearn:" in line, line
    # sknet-only names appear only on lines saying which nolearn spelling they replace
    for line in code.splitlines():
        if re.search(r"\b(NeuralNetClassifier|NeuralNetRegressor|EpochScoring|ConcatLayer)\(", line):
            assert "# nolearn:" in line, line
