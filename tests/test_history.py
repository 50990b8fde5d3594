"""History: column access, DataFrame view, pickling, and its use as ``net.history_``."""

import pickle
import sys

import numpy as np
import pytest

from sknet.history import History

RECORDS = [
    {"epoch": 1, "train_loss": 0.9, "valid_loss": 1.0, "dur": 0.5},
    {"epoch": 2, "train_loss": 0.5, "valid_loss": 0.75, "dur": 0.25, "checkpoint": True},
    {"epoch": 3, "train_loss": 0.25, "valid_loss": 0.8, "dur": 0.25},
]


@pytest.fixture
def history():
    return History([dict(r) for r in RECORDS])


class TestColumns:
    def test_column_over_all_epochs(self, history):
        assert history[:, "train_loss"] == [0.9, 0.5, 0.25]

    def test_one_value(self, history):
        assert history[-1, "valid_loss"] == 0.8
        assert history[0, "epoch"] == 1

    def test_tuple_of_keys(self, history):
        assert history[:, ("train_loss", "valid_loss")] == [(0.9, 1.0), (0.5, 0.75), (0.25, 0.8)]
        assert history[-1, ("epoch", "valid_loss")] == (3, 0.8)

    def test_slice_and_list_of_rows(self, history):
        assert history[1:, "epoch"] == [2, 3]
        assert history[::2, "dur"] == [0.5, 0.25]
        assert history[[0, 2], "train_loss"] == [0.9, 0.25]

    def test_key_missing_in_some_records_gives_none(self, history):
        assert history[:, "checkpoint"] == [None, True, None]

    def test_unknown_key_raises_with_known_keys(self, history):
        with pytest.raises(KeyError, match="valid_los.*keys are"):
            history[:, "valid_los"]
        with pytest.raises(KeyError, match="nope"):
            history[:, ("train_loss", "nope")]

    def test_row_out_of_range(self, history):
        with pytest.raises(IndexError):
            history[5, "epoch"]

    def test_plain_list_behaviour(self, history):
        assert history[-1] is history[2]
        assert isinstance(history[:2], History)
        assert history[:2][:, "epoch"] == [1, 2]
        assert len(history) == 3 and history == RECORDS

    def test_wrong_number_of_indices(self, history):
        with pytest.raises(IndexError, match="rows, key"):
            history[0, "epoch", "dur"]

    def test_keys_in_order_of_appearance(self, history):
        assert history.keys() == ["epoch", "train_loss", "valid_loss", "dur", "checkpoint"]

    def test_empty(self):
        assert History()[:, "train_loss"] == []
        assert History().keys() == []


class TestDataFrame:
    def test_values_and_index(self, history):
        df = history.to_dataframe()
        assert df.index.name == "epoch"
        assert df.index.tolist() == [1, 2, 3]
        assert list(df.columns) == ["train_loss", "valid_loss", "dur", "checkpoint"]
        np.testing.assert_allclose(df["valid_loss"], [1.0, 0.75, 0.8])
        assert df["checkpoint"].isna().tolist() == [True, False, True]

    def test_none_becomes_nan(self):
        df = History([{"epoch": 1, "train_loss": 0.5, "valid_loss": None}]).to_dataframe()
        assert np.isnan(df["valid_loss"].astype(float).iloc[0])

    def test_without_epoch_keeps_default_index(self):
        df = History([{"loss": 1.0}, {"loss": 0.5}]).to_dataframe()
        assert df.index.tolist() == [0, 1]

    def test_clear_error_without_pandas(self, history, monkeypatch):
        monkeypatch.setitem(sys.modules, "pandas", None)
        with pytest.raises(ImportError, match="pip install pandas"):
            history.to_dataframe()


def test_pickle_round_trip(history):
    again = pickle.loads(pickle.dumps(history))
    assert type(again) is History
    assert again == history
    assert again[:, ("epoch", "train_loss")] == history[:, ("epoch", "train_loss")]


def test_estimator_history_is_a_history():
    from sknet import estimator

    assert estimator.History is History


def test_fitted_net_history(tiny_fitted_net):
    net = tiny_fitted_net
    h = net.history_
    assert isinstance(h, History)
    assert h[:, "epoch"] == [1, 2, 3]
    train, valid = zip(*h[:, ("train_loss", "valid_loss")])
    assert list(train) == h[:, "train_loss"] and list(valid) == h[:, "valid_loss"]
    assert h[-1, "valid_loss"] == h[-1]["valid_loss"]
    df = h.to_dataframe()
    assert {"train_loss", "valid_loss", "valid_accuracy", "dur"} <= set(df.columns)
    np.testing.assert_allclose(df["train_loss"], h[:, "train_loss"])
    again = pickle.loads(pickle.dumps(net))
    assert type(again.history_) is History
    assert again.history_[:, "valid_loss"] == h[:, "valid_loss"]


@pytest.fixture(scope="module")
def tiny_fitted_net():
    from sklearn.datasets import load_iris

    from sknet import NeuralNetClassifier
    from sknet.layers import DenseLayer, InputLayer

    X, y = load_iris(return_X_y=True)
    return NeuralNetClassifier([(InputLayer, {}), (DenseLayer, {})], max_epochs=3, random_state=0).fit(X, y)
