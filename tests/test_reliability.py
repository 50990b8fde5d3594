"""Reliability: bad input fails clearly before compiling, divergence and Ctrl-C keep
the last good weights, weight files are written atomically and read safely, and two
processes can compile the same graph on a cold cache.

Every test uses the same tiny net (4 features -> 5 -> 2 classes, adam), so the
graphs compiled here are compiled once and then come from PyTensor's cache.
``BAD_INPUTS`` is also the source of ``docs/bad_input.md``
(``python docs/make_bad_input_table.py`` writes it; a test checks it is current).
"""

import importlib.util
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytensor
import pytest
from sklearn.exceptions import NotFittedError

from sknet import NeuralNetClassifier, NeuralNetRegressor
from sknet.batch_iterators import BatchIterator, TrainSplit
from sknet.callbacks import Callback, Checkpoint
from sknet.layers import ConcatLayer, DenseLayer, InputLayer
from sknet.training import DivergenceError

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [(InputLayer, {}), (DenseLayer, {"num_units": 5}), (DenseLayer, {})]
N, F = 32, 4


def make_data():
    rng = np.random.RandomState(0)
    X = rng.randn(N, F).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X, y


def make_net(**kwargs):
    params = dict(max_epochs=3, train_split=False, random_state=0, batch_iterator_train__batch_size=8)
    params.update(kwargs)
    return NeuralNetClassifier(LAYERS, **params)


def fitted_net():
    X, y = make_data()
    return make_net().fit(X, y)


def other_net():
    """A net like ``fitted_net()`` with other weights (a 1-epoch fit from another seed)."""
    X, y = make_data()
    return make_net(max_epochs=1, random_state=1).fit(X, y)


class CompiledError(Exception):
    """Raised by the patched compiler: something tried to compile."""


@pytest.fixture
def no_compile(monkeypatch):
    """Make any PyTensor compilation fail loudly; yields the list of attempts."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise CompiledError("pytensor.function was called")

    monkeypatch.setattr(pytensor, "function", refuse)
    return calls


# ----------------------------------------------------------------------
# Bad input: (name, call, exception, regex of the message). ``call`` gets a
# fitted net (for the predict / score cases) and must raise before compiling.

X0, Y0 = make_data()


def _with(X=None, **changes):
    X = X0.copy() if X is None else X
    for index, value in changes.items():
        X[tuple(int(i) for i in index[1:].split("_"))] = value
    return X


def _nan_y():
    y = Y0.astype(np.float64)
    y[3] = np.nan
    return y


def _inf_y():
    y = Y0.astype(np.float32)
    y[3] = np.inf
    return y


def _ragged():
    return [[1.0, 2.0, 3.0, 4.0]] * (N - 1) + [[1.0, 2.0]]


def _object_X():
    X = X0.astype(object)
    X[0, 0] = {"a": 1}
    return X


TWO_INPUTS = [
    (InputLayer, {"name": "a"}),
    (InputLayer, {"name": "b"}),
    (ConcatLayer, {"incomings": ["a", "b"]}),
    (DenseLayer, {}),
]

BAD_INPUTS = [
    # data given to fit
    ("X with NaN", lambda net: make_net().fit(_with(i0_1=np.nan), Y0), ValueError, r"Input X contains NaN"),
    ("X with inf", lambda net: make_net().fit(_with(i0_1=np.inf), Y0), ValueError, r"Input X contains infinity"),
    ("y with NaN (classifier)", lambda net: make_net().fit(X0, _nan_y()), ValueError, r"Input y contains NaN"),
    (
        "y with NaN (regressor)",
        lambda net: NeuralNetRegressor(LAYERS).fit(X0, _nan_y()),
        ValueError,
        r"Input y contains NaN",
    ),
    (
        "y with inf (regressor)",
        lambda net: NeuralNetRegressor(LAYERS).fit(X0, _inf_y()),
        ValueError,
        r"Input y contains infinity",
    ),
    ("empty X", lambda net: make_net().fit(X0[:0], Y0[:0]), ValueError, r"Found array with 0 sample\(s\)"),
    (
        "X and y of different lengths",
        lambda net: make_net().fit(X0, Y0[:-1]),
        ValueError,
        r"X and y have inconsistent numbers of samples: X has 32, y has 31",
    ),
    ("y is None", lambda net: make_net().fit(X0, None), ValueError, r"requires y to be passed"),
    (
        "X of strings",
        lambda net: make_net().fit(np.full((N, F), "a"), Y0),
        ValueError,
        r"X must hold numbers .*could not convert string to float",
    ),
    (
        "X holding objects that are not numbers",
        lambda net: make_net().fit(_object_X(), Y0),
        TypeError,
        r"X must hold numbers .*must be a string or a real number, not 'dict'",
    ),
    (
        "DataFrame X with a text column",
        lambda net: make_net().fit(pd.DataFrame({"a": ["x"] * N, "b": 1.0, "c": 2.0, "d": 3.0}), Y0),
        ValueError,
        r"X must hold numbers .*could not convert string to float: 'x'",
    ),
    (
        "ragged X (rows of different lengths)",
        lambda net: make_net().fit(_ragged(), Y0),
        ValueError,
        r"X must hold numbers .*inhomogeneous",
    ),
    ("1-d X", lambda net: make_net().fit(X0[:4, 0], Y0[:4]), ValueError, r"Expected 2D array, got 1D array"),
    (
        "X of rank 3 for a 2-d input layer",
        lambda net: make_net(input0__shape=(None, F)).fit(X0[:, :, None], Y0),
        ValueError,
        r"Input layer 'input0' expects data of shape \(None, 4\) \(2 dimensions\), got X with shape \(32, 4, 1\)",
    ),
    (
        "X with 3 features for an input layer of 4",
        lambda net: make_net(input0__shape=(None, F)).fit(X0[:, :3], Y0),
        ValueError,
        r"Input layer 'input0' expects data of shape \(None, 4\) \(2 dimensions\), got X with shape \(32, 3\)",
    ),
    (
        "y with one class",
        lambda net: make_net().fit(X0, np.zeros(N, int)),
        ValueError,
        r"y has only one class \(0\); a classifier needs at least 2 classes",
    ),
    (
        "continuous y to a classifier",
        lambda net: make_net().fit(X0, X0[:, 0]),
        ValueError,
        r"Unknown label type: continuous",
    ),
    (
        "more classes than output units",
        lambda net: make_net(dense2__num_units=3).fit(X0, Y0),
        ValueError,
        r"The output layer has 3 units but y has 2 classes",
    ),
    (
        "dict X missing an input layer's name",
        lambda net: NeuralNetClassifier(TWO_INPUTS).fit({"a": X0}, Y0),
        ValueError,
        r"X has no array for input layer 'b' \(keys: \['a'\]\)",
    ),
    (
        "dict X with arrays of different lengths",
        lambda net: NeuralNetClassifier(TWO_INPUTS).fit({"a": X0, "b": X0[:-1]}, Y0),
        ValueError,
        r"The arrays of a dict X differ in length: \[31, 32\]",
    ),
    ("empty dict X", lambda net: make_net().fit({}, Y0), ValueError, r"X is an empty dict"),
    (
        "negative sample_weight",
        lambda net: make_net().fit(X0, Y0, sample_weight=-np.ones(N)),
        ValueError,
        r"sample_weight must be finite and non-negative",
    ),
    (
        "all-zero sample_weight",
        lambda net: make_net().fit(X0, Y0, sample_weight=np.zeros(N)),
        ValueError,
        r"sample_weight has only zero weights",
    ),
    # hyper-parameters
    (
        "negative learning rate",
        lambda net: make_net(update__learning_rate=-0.1).fit(X0, Y0),
        ValueError,
        r"update__learning_rate must be positive, got -0.1",
    ),
    (
        "zero learning rate",
        lambda net: make_net(update__learning_rate=0.0).fit(X0, Y0),
        ValueError,
        r"update__learning_rate must be positive, got 0.0",
    ),
    (
        "max_epochs=0",
        lambda net: make_net(max_epochs=0).fit(X0, Y0),
        ValueError,
        r"max_epochs must be a positive integer, got 0",
    ),
    (
        "negative max_epochs",
        lambda net: make_net(max_epochs=-2).fit(X0, Y0),
        ValueError,
        r"max_epochs must be a positive integer, got -2",
    ),
    (
        "fractional max_epochs",
        lambda net: make_net(max_epochs=2.5).fit(X0, Y0),
        ValueError,
        r"max_epochs must be a positive integer, got 2.5",
    ),
    (
        "eval_size=1.0",
        lambda net: make_net(train_split=TrainSplit(eval_size=1.0)).fit(X0, Y0),
        ValueError,
        r"TrainSplit: eval_size must be a fraction in \[0, 1\) as a float, got 1.0",
    ),
    (
        "eval_size=1.5",
        lambda net: make_net(train_split=None, train_split__eval_size=1.5).fit(X0, Y0),
        ValueError,
        r"TrainSplit: eval_size must be a fraction in \[0, 1\) as a float, got 1.5",
    ),
    (
        "negative eval_size",
        lambda net: make_net(train_split=TrainSplit(eval_size=-0.2)).fit(X0, Y0),
        ValueError,
        r"TrainSplit: eval_size must be a fraction in \[0, 1\) as a float, got -0.2",
    ),
    (
        "negative eval_size count",
        lambda net: make_net(train_split=TrainSplit(eval_size=-3)).fit(X0, Y0),
        ValueError,
        r"TrainSplit: eval_size must not be negative, got -3",
    ),
    (
        "batch_size=0",
        lambda net: make_net(batch_iterator_train__batch_size=0).fit(X0, Y0),
        ValueError,
        r"BatchIterator: batch_size must be a positive integer, got 0",
    ),
    (
        "negative test batch_size",
        lambda net: make_net(batch_iterator_test=BatchIterator(-1)).fit(X0, Y0),
        ValueError,
        r"BatchIterator: batch_size must be a positive integer, got -1",
    ),
    (
        "fractional batch_size",
        lambda net: make_net(batch_iterator_train__batch_size=2.5).fit(X0, Y0),
        ValueError,
        r"BatchIterator: batch_size must be a positive integer, got 2.5",
    ),
    (
        "misspelt routed parameter",
        lambda net: make_net(updat__learning_rate=0.1).fit(X0, Y0),
        ValueError,
        r"Invalid parameter 'updat__learning_rate' for NeuralNetClassifier. Did you mean 'update__learning_rate'",
    ),
    # after fit
    (
        "predict before fit",
        lambda net: make_net().predict(X0),
        NotFittedError,
        r"This NeuralNetClassifier instance is not fitted yet",
    ),
    (
        "predict_proba before fit",
        lambda net: make_net().predict_proba(X0),
        NotFittedError,
        r"This NeuralNetClassifier instance is not fitted yet",
    ),
    (
        "score before fit",
        lambda net: make_net().score(X0, Y0),
        NotFittedError,
        r"This NeuralNetClassifier instance is not fitted yet",
    ),
    (
        "predict with 3 features after fitting on 4",
        lambda net: net.predict(X0[:, :3]),
        ValueError,
        r"X has 3 features, but NeuralNetClassifier is expecting 4 features as input",
    ),
    ("predict with NaN in X", lambda net: net.predict(_with(i2_2=np.nan)), ValueError, r"Input X contains NaN"),
    (
        "predict on a dict X missing the input layer's name",
        lambda net: net.predict({"other": X0}),
        ValueError,
        r"X has no array for input layer 'input0' \(keys: \['other'\]\)",
    ),
    (
        "score with labels unseen in fit",
        lambda net: net.score(X0, Y0 + 1),
        ValueError,
        r"y contains previously unseen labels: \[2\]",
    ),
]


@pytest.fixture(scope="module")
def net():
    return fitted_net()


@pytest.mark.parametrize("name, call, exc, match", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_fails_clearly_before_compiling(net, no_compile, name, call, exc, match):
    with pytest.raises(exc, match=match):
        call(net)
    assert no_compile == []


def test_bad_input_cases_are_distinct():
    assert len({case[0] for case in BAD_INPUTS}) == len(BAD_INPUTS) >= 40


def test_no_compile_fixture_catches_compilation(no_compile):
    # The guard above is real: a valid fit of a graph not compiled yet does compile.
    # (The odd constant makes a graph no in-process function cache can hold already.)
    with pytest.raises(CompiledError):
        make_net(max_epochs=1, dense1__nonlinearity=lambda x: x * 0.123457).fit(X0, Y0)
    assert len(no_compile) == 1


def test_bad_input_table_is_current(net):
    spec = importlib.util.spec_from_file_location("make_bad_input_table", ROOT / "docs" / "make_bad_input_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "bad_input.md").read_text() == module.render(BAD_INPUTS, net)


# ----------------------------------------------------------------------
# Divergence and interruption


class At(Callback):
    """Run ``action(net)`` at ``hook`` in epoch ``epoch`` (batch ``batch`` for on_batch_end)."""

    def __init__(self, hook, epoch, action, batch=1):
        self.hook = hook
        self.epoch = epoch
        self.action = action
        self.batch = batch

    def on_train_begin(self, net, **kwargs):
        self.epochs_seen_ = 0
        self.batches_ = 0
        self.weights_ = {0: net.get_all_params_values()}

    def on_epoch_begin(self, net, **kwargs):
        self.epochs_seen_ += 1
        self.batches_ = 0

    def on_batch_end(self, net, training=True, **kwargs):
        self.batches_ += training
        if self.hook == "batch" and training and self.epochs_seen_ == self.epoch and self.batches_ == self.batch:
            self.action(net)

    def on_epoch_end(self, net, history=None, **kwargs):
        self.weights_[len(history)] = net.get_all_params_values()
        if self.hook == "epoch" and len(history) == self.epoch:
            self.action(net)


def assert_weights_equal(a, b):
    assert list(a) == list(b)
    for name in a:
        for u, v in zip(a[name], b[name]):
            np.testing.assert_array_equal(u, v)


def blow_up(net):
    net.set_hyperparameter("update__learning_rate", 1e30)


def interrupt(net):
    raise KeyboardInterrupt


@pytest.mark.parametrize("train_split", [False, TrainSplit(eval_size=0.25, random_state=0)])
def test_divergence_stops_with_warning_and_keeps_last_good_weights(train_split):
    watch = At("epoch", 2, blow_up)
    net = make_net(max_epochs=6, callbacks=[("watch", watch)], train_split=train_split)
    with pytest.warns(
        RuntimeWarning, match=r"Training diverged: .* epoch 3\. .*weights of epoch 2 .*lower learning rate"
    ):
        net.fit(X0, Y0)
    watch = net.callbacks_["watch"]
    assert len(net.history_) == net.n_iter_ == 2
    assert_weights_equal(net.get_all_params_values(), watch.weights_[2])
    proba = net.predict_proba(X0)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    # still a working net: with a sane learning rate it trains on
    net.set_hyperparameter("update__learning_rate", 1e-3)
    net.partial_fit(X0, Y0)
    assert len(net.history_) == 3 and np.all(np.isfinite(net.predict_proba(X0)))


def test_divergence_in_first_epoch_is_an_error_and_keeps_initial_weights():
    net = make_net(max_epochs=2, update__learning_rate=1e30, callbacks=[("watch", At("epoch", 0, None))])
    with pytest.raises(
        DivergenceError, match=r"first epoch: .*learned nothing.*learning rate \(update__learning_rate=1e\+30\)"
    ):
        net.fit(X0, Y0)
    assert len(net.history_) == 0
    assert_weights_equal(net.get_all_params_values(), net.callbacks_["watch"].weights_[0])
    assert np.all(np.isfinite(net.predict_proba(X0)))


@pytest.mark.parametrize("where", ["callback", "transform"])
def test_keyboard_interrupt_mid_epoch_keeps_last_full_epoch(where, capsys):
    watch = At("batch", 3, interrupt if where == "callback" else (lambda net: None), batch=2)
    kwargs = (
        {"batch_iterator_train": InterruptingIterator(batch_size=8, after=2 * 4 + 2)} if where == "transform" else {}
    )
    net = make_net(max_epochs=6, callbacks=[("watch", watch)], **kwargs)
    net.fit(X0, Y0)
    assert "Training interrupted; keeping the weights of epoch 2." in capsys.readouterr().err
    watch = net.callbacks_["watch"]
    assert len(net.history_) == net.n_iter_ == 2
    assert [r["epoch"] for r in net.history_] == [1, 2]
    assert_weights_equal(net.get_all_params_values(), watch.weights_[2])
    pred = net.predict(X0)
    assert set(pred) <= {0, 1} and np.all(np.isfinite(net.predict_proba(X0)))
    net.partial_fit(X0, Y0)  # training can resume
    assert len(net.history_) == 3


class InterruptingIterator(BatchIterator):
    """Raise KeyboardInterrupt from transform on its ``after``-th batch (counting from 1)."""

    def __init__(self, batch_size=8, after=1):
        super().__init__(batch_size=batch_size)
        self.after = after

    def transform(self, Xb, yb):
        self.seen_ = getattr(self, "seen_", 0) + 1
        if self.seen_ == self.after:
            raise KeyboardInterrupt
        return Xb, yb


def test_keyboard_interrupt_in_epoch_end_keeps_that_epoch(capsys):
    watch = At("epoch", 2, interrupt)
    net = make_net(max_epochs=6, callbacks=[("watch", watch)]).fit(X0, Y0)
    assert "keeping the weights of epoch 2" in capsys.readouterr().err
    assert len(net.history_) == 2
    assert_weights_equal(net.get_all_params_values(), net.callbacks_["watch"].weights_[2])


def test_keyboard_interrupt_in_first_epoch_leaves_usable_net(capsys):
    net = make_net(max_epochs=3, callbacks=[At("batch", 1, interrupt, batch=1)]).fit(X0, Y0)
    assert "keeping the weights of epoch 0" in capsys.readouterr().err
    assert len(net.history_) == 0
    assert net.predict(X0).shape == (N,)


# ----------------------------------------------------------------------
# Atomic writes


def half_write_then_fail(written):
    def savez(file, **arrays):
        written.append(getattr(file, "name", file))
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full (simulated)")

    return savez


def test_save_params_crash_mid_write_keeps_previous_file(net, tmp_path, monkeypatch):
    path = tmp_path / "w.npz"
    net.save_params_to(str(path))
    before = path.read_bytes()
    written = []
    monkeypatch.setattr(np, "savez", half_write_then_fail(written))
    with pytest.raises(OSError, match="disk full"):
        net.save_params_to(str(path))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["w.npz"]  # the temporary file is gone
    assert Path(written[0]).parent == tmp_path and Path(written[0]).name != "w.npz"  # temp file in the same folder
    monkeypatch.undo()
    other = other_net()
    other.load_params(str(path))
    assert_weights_equal(other.get_all_params_values(), net.get_all_params_values())


def test_save_params_replaces_through_os_replace(net, tmp_path, monkeypatch):
    calls = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (calls.append((src, dst)), real(src, dst)))
    net.save_params_to(str(tmp_path / "w.npz"))
    ((src, dst),) = calls
    assert Path(src).parent == Path(dst).parent == tmp_path and dst.endswith("w.npz")


def test_checkpoint_crash_mid_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "best.npz"
    first = make_net(max_epochs=1, callbacks=[Checkpoint(str(path), monitor=None)]).fit(X0, Y0)
    before = path.read_bytes()
    monkeypatch.setattr(np, "savez", half_write_then_fail([]))
    with pytest.raises(OSError, match="disk full"):
        make_net(max_epochs=1, random_state=1, callbacks=[Checkpoint(str(path), monitor=None)]).fit(X0, Y0)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["best.npz"]
    monkeypatch.undo()
    other = other_net()
    other.load_params(str(path))
    assert_weights_equal(other.get_all_params_values(), first.get_all_params_values())


# ----------------------------------------------------------------------
# Safe loading, all or nothing


def _saved(net, tmp_path, change=None):
    arrays = {}
    for name, values in net.get_all_params_values().items():
        for i, value in enumerate(values):
            arrays[f"{name}:{i}"] = value
    if change:
        change(arrays)
    path = tmp_path / "w.npz"
    np.savez(path, **arrays)
    return str(path)


def _pickle_file(net, tmp_path):
    path = tmp_path / "w.pkl"
    path.write_bytes(pickle.dumps(net.get_all_params_values()))
    return str(path)


def _truncated(net, tmp_path):
    path = Path(_saved(net, tmp_path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return str(path)


def _npy(net, tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.zeros(3, np.float32))
    return str(path)


def _set(key, value):
    def change(arrays):
        arrays[key] = value

    return change


def _rename(old, new):
    def change(arrays):
        for key in [k for k in arrays if k.startswith(old + ":")]:
            arrays[new + key[len(old) :]] = arrays.pop(key)

    return change


BAD_FILES = [
    (
        "object array",
        lambda n, p: _saved(n, p, _set("dense1:1", np.array([None, 1, "x", 2, 3], dtype=object))),
        r"Object arrays cannot be loaded when allow_pickle=False",
    ),
    ("pickle", _pickle_file, r"Could not read weights from .*w.pkl.*contains pickled \(object\) data"),
    ("truncated", _truncated, r"Could not read weights from .*w.npz"),
    ("single .npy", _npy, r"not an .npz archive"),
    (
        "wrong layer name",
        lambda n, p: _saved(n, p, _rename("dense2", "output")),
        r"The weights have nothing for layer 'dense2'",
    ),
    (
        "extra layer",
        lambda n, p: _saved(n, p, _set("dense9:0", np.zeros(2, np.float32))),
        r"The weights name layers this net does not have: \['dense9'\]",
    ),
    (
        "missing parameter",
        lambda n, p: _saved(n, p, lambda a: a.pop("dense2:1")),
        r"Layer 'dense2' has 2 parameters, the weights give 1",
    ),
    (
        "mismatched shape",
        lambda n, p: _saved(n, p, _set("dense2:0", np.zeros((5, 3), np.float32))),
        r"Layer 'dense2': parameter dense2.W has shape \(5, 2\), the weights give \(5, 3\)",
    ),
    (
        "strings",
        lambda n, p: _saved(n, p, _set("dense2:1", np.array(["a", "b"]))),
        r"Layer 'dense2': parameter dense2.b must be numeric",
    ),
    (
        "NaN weights",
        lambda n, p: _saved(n, p, _set("dense2:1", np.array([np.nan, 0], np.float32))),
        r"Layer 'dense2': parameter dense2.b has NaN or infinite weights",
    ),
    ("bad entry name", lambda n, p: _saved(n, p, _set("nocolon", np.zeros(1))), r"Unexpected entry 'nocolon'"),
]


@pytest.mark.parametrize("name, make_file, match", BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_load_params_refuses_bad_files_and_loads_nothing(net, tmp_path, name, make_file, match):
    target = other_net()
    before = target.get_all_params_values()
    # every other layer of the file is valid, so a half-load would show
    path = make_file(net, tmp_path)
    with pytest.raises(ValueError, match=match):
        target.load_params(path)
    assert_weights_equal(target.get_all_params_values(), before)


def test_load_params_rolls_back_when_setting_fails(net, monkeypatch):
    target = other_net()
    before = target.get_all_params_values()
    last = target.layers_["dense2"].get_params()[-1]
    real = type(last).set_value
    seen = []

    def flaky(self, value, *args, **kwargs):
        if self is last and not seen:
            seen.append(1)
            raise MemoryError("simulated")
        return real(self, value, *args, **kwargs)

    monkeypatch.setattr(type(last), "set_value", flaky)
    with pytest.raises(MemoryError):
        target.load_params(net.get_all_params_values())
    monkeypatch.undo()
    assert_weights_equal(target.get_all_params_values(), before)


def test_load_params_from_dict_checks_every_layer_first(net):
    target = other_net()
    before = target.get_all_params_values()
    values = net.get_all_params_values()
    values["dense2"] = [np.zeros((5, 7), np.float32), values["dense2"][1]]
    with pytest.raises(
        ValueError, match=r"Layer 'dense2': parameter dense2.W has shape \(5, 2\), the weights give \(5, 7\)"
    ):
        target.load_params(values)
    assert_weights_equal(target.get_all_params_values(), before)  # dense1 (valid) was not loaded either


# ----------------------------------------------------------------------
# Two processes, one cold compile cache

FIT_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    import numpy as np
    from sknet import NeuralNetClassifier
    from sknet.layers import DenseLayer, InputLayer
    # a barrier: both processes have imported sknet before either compiles
    open(os.path.join(sys.argv[1], f"ready-{os.getpid()}"), "w").close()
    deadline = time.time() + 120
    while sum(f.startswith("ready-") for f in os.listdir(sys.argv[1])) < 2 and time.time() < deadline:
        time.sleep(0.05)
    rng = np.random.RandomState(0)
    X = rng.randn(32, 4).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    net = NeuralNetClassifier([(InputLayer, {}), (DenseLayer, {"num_units": 5}), (DenseLayer, {})],
                              max_epochs=2, train_split=False, random_state=0).fit(X, y)
    print("ok", net.score(X, y))
    """
)


@pytest.mark.slow  # two cold compiles at once: about 70 s on two shared cores
def test_two_processes_compile_same_graph_on_cold_cache(tmp_path):
    compiledir = tmp_path / "compiledir"
    compiledir.mkdir()
    env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={compiledir}")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", FIT_SCRIPT, str(tmp_path)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=600) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err[-3000:]
        assert out.startswith("ok")
    assert any(compiledir.rglob("*.so"))  # the cache really was used and filled
