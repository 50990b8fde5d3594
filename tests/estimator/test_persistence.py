"""Pickle (also in a fresh process), save_params / load_params."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from sknet import NeuralNetClassifier
from sknet.layers import DenseLayer, DropoutLayer, InputLayer

TINY = [(InputLayer, {}), (DropoutLayer, {"p": 0.1}), (DenseLayer, {"num_units": 16}), (DenseLayer, {})]


@pytest.fixture(scope="module")
def net(digits):
    return NeuralNetClassifier(TINY, max_epochs=2, random_state=0).fit(*digits)


def test_pickle_drops_functions_and_round_trips(net, digits):
    X = digits[0]
    expected = net.predict_proba(X)
    state = net.__getstate__()
    assert "_functions" not in state and "layers_" not in state
    copy = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(copy.predict_proba(X), expected)
    copy.partial_fit(*digits)  # training continues after unpickling
    assert len(copy.history_) == 3


def test_pickle_unfitted():
    net = NeuralNetClassifier(TINY, dense2__num_units=10)
    assert pickle.loads(pickle.dumps(net)).get_params()["dense2__num_units"] == 10


def test_pickle_in_fresh_process(net, digits, tmp_path):
    X = digits[0][:20]
    (tmp_path / "net.pkl").write_bytes(pickle.dumps(net))
    np.save(tmp_path / "X.npy", X)
    code = (
        "import pickle, numpy as np, sys; net = pickle.load(open(sys.argv[1] + '/net.pkl', 'rb'));"
        "np.save(sys.argv[1] + '/p.npy', net.predict_proba(np.load(sys.argv[1] + '/X.npy')))"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=300)
    # another process may sum in another order (BLAS threads): float32 tolerance
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), net.predict_proba(X), rtol=1e-5, atol=1e-7)


def test_save_load_params(net, digits, tmp_path):
    path = tmp_path / "w.npz"
    net.save_params_to(str(path))
    other = NeuralNetClassifier(TINY, max_epochs=1, random_state=1).fit(*digits)
    other.load_params(str(path))
    np.testing.assert_array_equal(other.predict_proba(digits[0]), net.predict_proba(digits[0]))


def test_load_checks_shapes_all_or_nothing(net, digits, tmp_path):
    path = tmp_path / "w.npz"
    net.save_params_to(str(path))
    wider = NeuralNetClassifier(TINY, max_epochs=1, dense2__num_units=32, random_state=0).fit(*digits)
    before = [v.copy() for vs in wider.get_all_params_values().values() for v in vs]
    with pytest.raises(ValueError, match="Layer 'dense2'.*shape"):
        wider.load_params_from(str(path))
    after = [v for vs in wider.get_all_params_values().values() for v in vs]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def test_load_refuses_pickles_and_truncated_files(net, tmp_path):
    bad = tmp_path / "obj.npz"
    np.savez(bad, **{"dense2:0": np.array([object()], dtype=object)})
    with pytest.raises(ValueError, match="allow_pickle"):
        net.load_params_from(str(bad))
    good = tmp_path / "w.npz"
    net.save_params_to(str(good))
    truncated = tmp_path / "t.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="Could not read"):
        net.load_params_from(str(truncated))


def test_save_is_atomic(net, tmp_path, monkeypatch):
    path = tmp_path / "w.npz"
    net.save_params_to(str(path))
    original = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        net.save_params_to(str(path))
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["w.npz"]
