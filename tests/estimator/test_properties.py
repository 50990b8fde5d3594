"""Property tests (hypothesis) for BatchIterator and TrainSplit: any sizes, any batch sizes
(batch > n and n = 1 included), arrays of any rank and dtype, dict X and pandas input.

Samples carry their own index in column 0, so where a sample went can be read off
the batches. ``EXAMPLES`` sets the example count of every test (kept so the file
runs in well under 30 s).
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sknet.batch_iterators import BatchIterator, TrainSplit

EXAMPLES = 600
DTYPES = [np.float32, np.float64, np.int32, np.int64, np.uint8]

sizes = st.integers(min_value=1, max_value=70)
batch_sizes = st.one_of(st.integers(min_value=1, max_value=8), st.integers(min_value=1, max_value=100))
seeds = st.integers(min_value=0, max_value=2**31 - 1)


def ids_array(n, trailing, dtype):
    """An (n, *trailing) array whose sample i is filled with i (n <= 70 fits every dtype)."""
    return (np.arange(n).reshape((n,) + (1,) * len(trailing)) * np.ones(trailing, dtype=np.int64)).astype(dtype)


def sample_ids(batch):
    """The index carried by each sample of a batch (array, dict or DataFrame)."""
    if isinstance(batch, dict):
        return sample_ids(batch["a"])
    if isinstance(batch, pd.DataFrame):
        return batch["id"].to_numpy()
    return np.asarray(batch).reshape(len(batch), -1)[:, 0]


def collect(iterator, X, y=None, **kwargs):
    batches = list(iterator(X, y, **kwargs))
    return batches, np.concatenate([sample_ids(b[0]) for b in batches])


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    n=sizes,
    batch_size=batch_sizes,
    shuffle=st.booleans(),
    seed=seeds,
    trailing=st.lists(st.integers(min_value=1, max_value=3), min_size=0, max_size=3).map(tuple),
    dtype=st.sampled_from(DTYPES),
)
@example(n=1, batch_size=1, shuffle=True, seed=0, trailing=(), dtype=np.float32)
@example(n=1, batch_size=64, shuffle=False, seed=0, trailing=(2,), dtype=np.int64)
@example(n=5, batch_size=64, shuffle=True, seed=1, trailing=(1, 2), dtype=np.float64)
def test_batch_iterator_array_every_sample_once(n, batch_size, shuffle, seed, trailing, dtype):
    X = ids_array(n, trailing, dtype)
    y = np.arange(n) * 10
    w = np.arange(n, dtype=np.float32) / 2
    it = BatchIterator(batch_size=batch_size, shuffle=shuffle, random_state=seed)
    batches, seen = collect(it, X, y, sample_weight=w)
    assert sorted(seen.tolist()) == list(range(n))  # every sample exactly once
    assert len(batches) == it.n_batches(X) == -(-n // batch_size)
    assert [len(b[0]) for b in batches[:-1]] == [batch_size] * (len(batches) - 1)
    assert 1 <= len(batches[-1][0]) <= batch_size
    for Xb, yb, wb in batches:
        assert Xb.dtype == X.dtype and Xb.shape[1:] == X.shape[1:]
        ids = sample_ids(Xb).astype(np.int64)
        np.testing.assert_array_equal(yb, ids * 10)  # X, y and weights stay aligned
        np.testing.assert_array_equal(wb, ids.astype(np.float32) / 2)
    if not shuffle:
        np.testing.assert_array_equal(seen, np.arange(n))


@settings(max_examples=EXAMPLES // 2, deadline=None)
@given(n=sizes, batch_size=batch_sizes, seed=seeds, epochs=st.integers(min_value=2, max_value=4))
def test_batch_iterator_each_epoch_is_a_permutation(n, batch_size, seed, epochs):
    it = BatchIterator(batch_size=batch_size, shuffle=True, random_state=seed)
    X = np.arange(n)
    orders = [collect(it, X)[1] for _ in range(epochs)]
    for order in orders:
        assert sorted(order.tolist()) == list(range(n))
    # the same seed gives the same sequence of epochs
    again = BatchIterator(batch_size=batch_size, shuffle=True, random_state=seed)
    for order in orders:
        np.testing.assert_array_equal(collect(again, X)[1], order)


@settings(max_examples=EXAMPLES // 2, deadline=None)
@given(n=sizes, batch_size=batch_sizes, shuffle=st.booleans(), seed=seeds, dtype=st.sampled_from(DTYPES))
def test_batch_iterator_dict_input(n, batch_size, shuffle, seed, dtype):
    X = {"a": ids_array(n, (2,), dtype), "b": ids_array(n, (3, 2), np.float32) * 2}
    y = np.arange(n)
    batches, seen = collect(BatchIterator(batch_size, shuffle, seed), X, y)
    assert sorted(seen.tolist()) == list(range(n))
    for Xb, yb in batches:
        assert set(Xb) == {"a", "b"}
        assert Xb["a"].dtype == np.dtype(dtype) and Xb["b"].dtype == np.float32
        assert Xb["a"].shape[1:] == (2,) and Xb["b"].shape[1:] == (3, 2)
        np.testing.assert_array_equal(Xb["b"][:, 0, 0], 2 * sample_ids(Xb))
        np.testing.assert_array_equal(yb, sample_ids(Xb))


@settings(max_examples=EXAMPLES // 3, deadline=None)
@given(n=sizes, batch_size=batch_sizes, shuffle=st.booleans(), seed=seeds)
def test_batch_iterator_pandas_input(n, batch_size, shuffle, seed):
    X = pd.DataFrame({"id": np.arange(n), "x": np.linspace(0, 1, n).astype(np.float32), "c": ["s"] * n})
    y = pd.Series(np.arange(n) * 3)
    batches, seen = collect(BatchIterator(batch_size, shuffle, seed), X, y)
    assert sorted(seen.tolist()) == list(range(n))
    for Xb, yb in batches:
        assert isinstance(Xb, pd.DataFrame) and list(Xb.dtypes) == list(X.dtypes)
        np.testing.assert_array_equal(yb.to_numpy(), Xb["id"].to_numpy() * 3)


def expected_n_valid(eval_size, n):
    if eval_size is None or eval_size == 0:
        return 0
    k = int(np.ceil(eval_size * n)) if isinstance(eval_size, float) else int(eval_size)
    return k if 0 < k < n else 0


eval_sizes = st.one_of(
    st.none(),
    st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    st.integers(min_value=0, max_value=80),
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    n=sizes,
    eval_size=eval_sizes,
    shuffle=st.booleans(),
    stratify=st.booleans(),
    n_classes=st.integers(min_value=1, max_value=4),
    seed=seeds,
    dtype=st.sampled_from(DTYPES),
)
@example(n=1, eval_size=0.5, shuffle=True, stratify=True, n_classes=1, seed=0, dtype=np.float32)
@example(n=2, eval_size=1, shuffle=True, stratify=True, n_classes=2, seed=0, dtype=np.int32)
def test_train_split_partitions_every_sample_once(n, eval_size, shuffle, stratify, n_classes, seed, dtype):
    y = np.arange(n) % n_classes
    split = TrainSplit(eval_size=eval_size, stratify=stratify, shuffle=shuffle, random_state=seed)
    train, valid = split.split_indices(n, y)
    assert len(valid) == expected_n_valid(eval_size, n)
    assert sorted(np.concatenate([train, valid]).tolist()) == list(range(n))  # disjoint and complete
    assert np.all(np.diff(train) > 0) and np.all(np.diff(valid) > 0)
    X = ids_array(n, (3,), dtype)
    X_tr, X_va, y_tr, y_va = split(X, y)
    np.testing.assert_array_equal(sample_ids(X_tr), train)
    assert X_tr.dtype == X.dtype and X_tr.shape == (len(train), 3)
    np.testing.assert_array_equal(y_tr, y[train])
    if len(valid):
        np.testing.assert_array_equal(sample_ids(X_va), valid)
        assert X_va.dtype == X.dtype and X_va.shape == (len(valid), 3)
        np.testing.assert_array_equal(y_va, y[valid])
    else:  # nolearn's convention: empty validation arrays, not None
        assert X_va.shape == (0, 3) and X_va.dtype == X.dtype and len(y_va) == 0


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    counts=st.lists(st.integers(min_value=2, max_value=25), min_size=2, max_size=4),
    fraction=st.floats(min_value=0.05, max_value=0.95),
    seed=seeds,
)
def test_train_split_stratification_keeps_class_proportions(counts, fraction, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    np.random.RandomState(seed).shuffle(y)
    n = len(y)
    n_valid = expected_n_valid(fraction, n)
    if not len(counts) <= min(n_valid, n - n_valid):
        n_valid = 0  # documented fall-back below; checked there
    train, valid = TrainSplit(eval_size=fraction, stratify=True, random_state=seed).split_indices(n, y)
    if n_valid == 0:
        assert len(valid) == expected_n_valid(fraction, n)
        return
    assert len(valid) == n_valid
    for c, count in enumerate(counts):
        # each class gets its share of the validation set, rounded up or down (so does training)
        assert abs(np.sum(y[valid] == c) - n_valid * count / n) < 1
        assert abs(np.sum(y[train] == c) - (n - n_valid) * count / n) < 1


@settings(max_examples=EXAMPLES // 3, deadline=None)
@given(n=sizes, eval_size=eval_sizes, seed=seeds)
def test_train_split_dict_and_pandas(n, eval_size, seed):
    y = np.arange(n) % 2
    split = TrainSplit(eval_size=eval_size, random_state=seed)
    train, valid = split.split_indices(n, y)
    X = {"a": ids_array(n, (2,), np.float32), "b": ids_array(n, (), np.int64)}
    X_tr, X_va, _, _ = split(X, y)
    np.testing.assert_array_equal(X_tr["b"], train)
    assert X_tr["a"].dtype == np.float32 and X_tr["b"].dtype == np.int64
    frame = pd.DataFrame({"id": np.arange(n), "x": np.ones(n, np.float32)})
    F_tr, F_va, s_tr, s_va = split(frame, pd.Series(y))
    np.testing.assert_array_equal(F_tr["id"].to_numpy(), train)
    assert list(F_tr.dtypes) == list(frame.dtypes)
    np.testing.assert_array_equal(s_tr.to_numpy(), y[train])
    if len(valid):
        np.testing.assert_array_equal(X_va["b"], valid)
        np.testing.assert_array_equal(F_va["id"].to_numpy(), valid)
    else:  # empty validation parts of the same containers
        assert len(X_va["b"]) == 0 and X_va["a"].shape == (0, 2) and len(F_va) == 0


@pytest.mark.parametrize("size", [1.0, 1.5, -0.1, -1, "half", True])
def test_train_split_rejects_bad_eval_size(size):
    with pytest.raises(ValueError, match="eval_size"):
        TrainSplit(eval_size=size).split_indices(10, None)


@pytest.mark.parametrize("size", [0, -3, 2.5, "8", None])
def test_batch_iterator_rejects_bad_batch_size(size):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        BatchIterator(batch_size=size)(np.arange(4))
