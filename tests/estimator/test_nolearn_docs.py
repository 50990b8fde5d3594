"""docs/migrating-from-nolearn.md names every public nolearn.lasagne name, and its workarounds run."""

from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, make_scorer

from sknet.callbacks import EpochScoring

PAGE = Path(__file__).resolve().parents[2] / "docs" / "migrating-from-nolearn.md"

# From nolearn's source (nolearn/lasagne/base.py, handlers.py, visualize.py, __init__.py).
NOLEARN_NAMES = {
    "NeuralNet parameters": [
        "layers",
        "update",
        "loss",
        "objective",
        "objective_loss_function",
        "batch_iterator_train",
        "batch_iterator_test",
        "regression",
        "max_epochs",
        "train_split",
        "custom_scores",
        "scores_train",
        "scores_valid",
        "X_tensor_type",
        "y_tensor_type",
        "use_label_encoder",
        "on_batch_finished",
        "on_epoch_finished",
        "on_training_started",
        "on_training_finished",
        "more_params",
        "check_input",
        "verbose",
    ],
    "NeuralNet methods and attributes": [
        "fit",
        "partial_fit",
        "predict",
        "predict_proba",
        "score",
        "get_output",
        "initialize",
        "initialize_layers",
        "train_loop",
        "apply_batch_func",
        "layers_",
        "get_all_layers",
        "get_all_params",
        "get_all_params_values",
        "load_params_from",
        "save_params_to",
        "load_weights_from",
        "save_weights_to",
        "train_history_",
    ],
    "handlers and helpers": [
        "PrintLog",
        "PrintLayerInfo",
        "SaveWeights",
        "RememberBestWeights",
        "RestoreBestWeights",
        "WeightLog",
        "BatchIterator",
        "TrainSplit",
        "grad_scale",
        "objective",
        "mask_input",
        "layer_wrapper",
    ],
    "visualize": [
        "plot_loss",
        "plot_conv_weights",
        "plot_conv_activity",
        "occlusion_heatmap",
        "plot_occlusion",
        "saliency_map",
        "saliency_map_net",
        "plot_saliency",
        "make_pydot_graph",
        "draw_to_file",
        "draw_to_notebook",
    ],
}


def test_every_nolearn_name_is_in_the_page():
    text = PAGE.read_text()
    missing = [
        name
        for names in NOLEARN_NAMES.values()
        for name in names
        if f"`{name}" not in text and f" {name}(" not in text and f"`{name}=" not in text
    ]
    assert missing == []


def test_custom_scores_workaround_runs(digits, make_classifier):
    X, y = digits
    scorer = make_scorer(
        lambda y, proba: f1_score(y, proba.argmax(1), average="macro"), response_method="predict_proba"
    )
    net = make_classifier(callbacks=[EpochScoring(scorer, name="valid_f1")], max_epochs=2).fit(X, y)
    X_valid, y_valid = net.train_split_(X, y, net)[1::2]
    expected = f1_score(y_valid, net.predict_proba(X_valid).argmax(1), average="macro")
    np.testing.assert_allclose(net.history_[-1]["valid_f1"], expected, rtol=1e-6)
