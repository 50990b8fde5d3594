"""BatchIterator, TrainSplit and FixedSplit."""

import numpy as np
import pandas as pd
import pytest

from sknet.batch_iterators import BatchIterator, FixedSplit, TrainSplit


@pytest.mark.parametrize("n, bs", [(1, 3), (10, 3), (9, 3), (5, 100)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_every_sample_once(n, bs, shuffle):
    X = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n)
    batches = list(BatchIterator(bs, shuffle=shuffle, random_state=0)(X, y))
    assert len(batches) == -(-n // bs)
    assert all(len(xb) <= bs for xb, _ in batches)
    ys = np.concatenate([yb for _, yb in batches])
    np.testing.assert_array_equal(np.sort(ys), y)
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], 2 * yb)
        assert xb.dtype == np.float32


def test_shuffle_reproducible_and_changes_per_epoch():
    y = np.arange(50)
    it = BatchIterator(10, shuffle=True, random_state=3)
    e1 = np.concatenate([b for _, b in it(y, y)])
    e2 = np.concatenate([b for _, b in it(y, y)])
    assert not np.array_equal(e1, e2)
    again = BatchIterator(10, shuffle=True, random_state=3)
    np.testing.assert_array_equal(e1, np.concatenate([b for _, b in again(y, y)]))


def test_no_shuffle_slices_are_views_and_y_none():
    X = np.zeros((10, 3), np.float32)
    (xb, yb), *_ = BatchIterator(4)(X)
    assert yb is None and np.shares_memory(xb, X)


def test_dict_and_dataframe():
    X = {"a": np.arange(6), "b": np.arange(6) * 10}
    batches = list(BatchIterator(4)(X, np.arange(6)))
    np.testing.assert_array_equal(batches[1][0]["b"], [40, 50])
    df = pd.DataFrame({"u": np.arange(5)})
    assert list(BatchIterator(2)(df))[2][0]["u"].tolist() == [4]


def test_transform_hook_and_sample_weight():
    class Negate(BatchIterator):
        def transform(self, Xb, yb):
            return -Xb, yb

    xb, yb, wb = next(iter(Negate(3)(np.arange(5), np.arange(5), sample_weight=np.arange(5) * 2.0)))
    assert xb.tolist() == [0, -1, -2] and wb.tolist() == [0, 2, 4]


def test_trainsplit_stratified_and_sizes():
    y = np.array([0] * 40 + [1] * 10)
    X = np.arange(50)
    X_tr, X_va, y_tr, y_va = TrainSplit(eval_size=0.2, stratify=True, random_state=0)(X, y)
    assert len(X_va) == 10 and np.sum(y_va == 1) == 2
    assert sorted(np.concatenate([X_tr, X_va]).tolist()) == list(range(50))
    np.testing.assert_array_equal(y[X_va], y_va)
    assert len(TrainSplit(eval_size=None)(X, y)[1]) == 0  # empty, not None: nolearn's (issue #18)
    assert len(TrainSplit(eval_size=0)(X, y)[1]) == 0
    assert len(TrainSplit(eval_size=0.2)(X[:1], y[:1])[1]) == 0  # nothing to hold out
    with pytest.raises(ValueError, match="eval_size"):
        TrainSplit(eval_size=1.5)(X, y)


def test_trainsplit_dict_consistent_and_tiny_classes_fall_back():
    X = {"a": np.arange(10), "b": np.arange(10) + 100}
    y = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 8])
    X_tr, X_va, y_tr, y_va = TrainSplit(eval_size=0.3, stratify=True, random_state=0)(X, y)
    np.testing.assert_array_equal(X_va["b"] - 100, X_va["a"])
    np.testing.assert_array_equal(y[X_va["a"]], y_va)


def test_fixed_split_used_by_net(digits):
    from sknet import NeuralNetClassifier
    from sknet.layers import DenseLayer, InputLayer

    X, y = digits
    net = NeuralNetClassifier(
        [(InputLayer, {}), (DenseLayer, {})],
        max_epochs=1,
        random_state=0,
        train_split=FixedSplit(X[:50].astype(np.float64), y[:50]),
    )
    net.fit(X[50:], y[50:])
    assert net.history_[0]["valid_accuracy"] == pytest.approx(np.mean(net.predict(X[:50]) == y[:50]))
