"""Recurrent layers inside the estimator: 3-D X (batch, time, features)."""

import numpy as np

from sknet import NeuralNetClassifier
from sknet.layers import DenseLayer, InputLayer, LSTMLayer


def test_lstm_classifier_learns_a_memory_task():
    """The label is the sign of the first step's first feature, read 6 steps later."""
    rng = np.random.RandomState(0)
    X = rng.randn(400, 6, 3).astype("float32")
    y = np.where(X[:, 0, 0] > 0, "pos", "neg")
    net = NeuralNetClassifier(
        [(InputLayer, {}), (LSTMLayer, {"num_units": 8, "only_return_final": True}), (DenseLayer, {})],
        update__learning_rate=0.02,
        max_epochs=40,
        train_split=False,
        random_state=0,
    )
    net.fit(X[:300], y[:300])
    assert net.layers_["input0"].shape == (None, 6, 3)
    assert net.score(X[300:], y[300:]) >= 0.9
