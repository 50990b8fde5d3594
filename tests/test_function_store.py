"""The disk store of rewritten graphs: a later process links instead of rewriting, with identical results."""

import json
import os
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytensor.tensor as T
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from sknet import NeuralNetClassifier, function_cache, function_store, updates
from sknet.layers import DenseLayer, DropoutLayer, InputLayer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X[:300]).astype(np.float32)
    return X, y[:300] + 3  # labels 3..12: not starting at 0


@contextmanager
def store_off():
    previous = function_store.set_enabled(False)
    try:
        yield
    finally:
        function_store.set_enabled(previous)


@pytest.fixture
def store(tmp_path):
    """The store on, in an empty folder, the in-process cache empty (as in a new process)."""
    previous_dir = function_store.set_directory(tmp_path / "sknet_functions")
    previous = function_store.set_enabled(True)
    function_cache.clear()
    with function_cache.enabled(True):
        yield tmp_path / "sknet_functions"
    function_cache.clear()
    function_store.set_enabled(previous)
    function_store.set_directory(previous_dir)


def make_net(units=16):
    return NeuralNetClassifier(
        layers=[(InputLayer, {}), (DenseLayer, {"num_units": units}), (DropoutLayer, {"p": 0.2}), (DenseLayer, {})],
        update=updates.adam,
        update__learning_rate=1e-2,
        max_epochs=10,
        random_state=0,
    )


def weights(net):
    return [v for values in net.get_all_params_values().values() for v in values]


def test_same_structure_other_sizes_loads_and_matches_a_compiled_net(digits, store):
    X, y = digits
    make_net(units=16).fit(X, y).predict(X)  # stores the train, valid and predict graphs
    stored = sorted(p.name for p in store.iterdir())
    assert len(stored) == 3 and not [p for p in stored if not p.endswith(".pkl")]

    function_cache.clear()
    compiled, loaded = function_cache.compile_count(), function_cache.load_count()
    net = make_net(units=24).fit(X, y)
    proba = net.predict_proba(X)
    assert function_cache.compile_count() == compiled
    assert function_cache.load_count() - loaded == 3

    function_cache.clear()
    with store_off():
        reference = make_net(units=24).fit(X, y)
    for a, b in zip(weights(net), weights(reference)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(proba, reference.predict_proba(X))
    assert set(net.predict(X)) <= set(y)
    assert net.score(X, y) > 0.9


def test_a_file_that_does_not_load_is_replaced(digits, store):
    X, y = digits
    make_net().fit(X, y)
    for path in store.iterdir():
        path.write_bytes(b"not a pickle")
    function_cache.clear()
    compiled = function_cache.compile_count()
    net = make_net().fit(X, y)
    assert function_cache.compile_count() - compiled == 2  # train and valid, compiled again
    assert net.score(X, y) > 0.9
    function_cache.clear()
    loaded = function_cache.load_count()
    make_net().fit(X, y)
    assert function_cache.load_count() - loaded == 2


def test_digest_follows_structure_mode_and_flags(store):
    import pytensor

    x = T.vector("x")
    key = function_cache.graph_key([x], [x * 2])[0]
    assert function_store.digest(key, None) == function_store.digest(function_cache.graph_key([x], [x * 2])[0], None)
    assert function_store.digest(key, None) != function_store.digest(function_cache.graph_key([x], [x * 3])[0], None)
    # Only sknet's C mode is stored.
    assert function_store.digest(function_cache.graph_key([x], [x * 2], mode="NUMBA")[0], "NUMBA") is None
    with pytensor.config.change_flags(cast_policy="numpy+floatX"):
        assert function_store.digest(key, None) != function_store.digest(
            function_cache.graph_key([x], [x * 2])[0], None
        )


def test_off_writes_nothing(digits, store):
    X, y = digits
    with store_off():
        make_net().fit(X, y)
    assert not store.exists() or not list(store.iterdir())


def test_a_later_process_loads_the_stored_graphs(digits, tmp_path):
    """The point of the store: a new process fits a net of known structure without rewriting."""
    script = textwrap.dedent(
        f"""
        import json, sys
        import numpy as np
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from sknet import function_cache, function_store
        from test_function_store import make_net
        function_store.set_directory({str(tmp_path / "store")!r})
        X, y = np.load({str(tmp_path / "X.npy")!r}), np.load({str(tmp_path / "y.npy")!r})
        proba = make_net(units=int(sys.argv[1])).fit(X, y).predict_proba(X[:20])
        from sknet.ops import _threads
        print(json.dumps({{"compiled": function_cache.compile_count(), "loaded": function_cache.load_count(),
                          "proba": proba.tolist(), "threads": _threads.describe().split(":")[0]}}))
        """
    )
    X, y = digits
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    env = dict(os.environ, SKNET_FUNCTION_STORE="1")

    def run(units):
        out = subprocess.run([sys.executable, "-c", script, str(units)], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    first, second = run(16), run(24)
    assert (first["compiled"], first["loaded"]) == (3, 0)
    assert (second["compiled"], second["loaded"]) == (0, 3)
    # Loading starts the thread policy as compiling does (adaptive unless the environment fixes the count).
    assert second["threads"] == first["threads"]
    with store_off(), function_cache.enabled(False):
        reference = make_net(units=24).fit(X, y)
    # Another process may run on another thread count: equal up to float32 rounding.
    np.testing.assert_allclose(second["proba"], reference.predict_proba(X[:20]), rtol=1e-4, atol=1e-6)
