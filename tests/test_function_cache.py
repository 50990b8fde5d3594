"""The compiled-function cache: structural keys, independence of nets sharing a compilation."""

import pickle

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.compile.executor import Function
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from sknet import NeuralNetClassifier, function_cache, updates
from sknet.compile import compile_count
from sknet.layers import DenseLayer, DropoutLayer, InputLayer
from sknet.utils import set_default_update


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X[:300]).astype(np.float32)
    return X, y[:300]


@pytest.fixture
def cache_on():
    with function_cache.enabled(True):
        yield


def make_net(**kwargs):
    params = dict(
        layers=[(InputLayer, {}), (DenseLayer, {"num_units": 16}), (DropoutLayer, {"p": 0.2}), (DenseLayer, {})],
        update=updates.nesterov_momentum,
        update__learning_rate=0.05,
        update__momentum=0.9,
        objective__l2=1e-4,
        max_epochs=2,
        train_split=False,
        random_state=0,
    )
    params.update(kwargs)
    return NeuralNetClassifier(**params)


def weights(net):
    return [v for values in net.get_all_params_values().values() for v in values]


class TestGraphKey:
    x = T.vector("x")

    def shared(self, value):
        return pytensor.shared(np.asarray(value, dtype="float32"))

    def key(self, outputs, updates=(), mode=None):
        return function_cache.graph_key([self.x], outputs, updates, mode)[0]

    def test_shared_values_do_not_matter(self):
        a, b = self.shared([1.0, 2.0]), self.shared([5.0, 6.0, 7.0])
        assert self.key([self.x * a]) == self.key([self.x * b])

    def test_structure_constants_and_mode_matter(self):
        a = self.shared([1.0, 2.0])
        base = self.key([self.x * a])
        assert base != self.key([self.x + a])
        assert self.key([self.x * a + 1]) != self.key([self.x * a + 2])
        assert base != self.key([self.x * a], mode="NUMBA")
        # Which shared variable feeds which input is part of the structure.
        b = self.shared([3.0, 4.0])
        assert self.key([self.x * a + b, a]) != self.key([self.x * a + b, b])

    def test_shared_order_and_default_updates(self):
        a, b = self.shared(1.0), self.shared(2.0)
        set_default_update(a, a + 1)
        key, shared, upd = function_cache.graph_key([self.x], [self.x * a + b], [(b, b * 2)])
        assert shared == [a, b]
        assert [t for t, _ in upd] == [b, a]
        c = self.shared(3.0)
        assert key != self.key([self.x * a + c], [(c, c * 3)])


class TestFunction:
    def test_one_compilation_independent_state(self, cache_on):
        function_cache.clear()
        x = T.scalar("x")
        counters = [pytensor.shared(np.float32(v)) for v in (0.0, 10.0)]
        before = compile_count()
        fns = [function_cache.function([x], c, updates={c: c + x}) for c in counters]
        assert compile_count() - before == 1
        assert fns[0].function is fns[1].function
        fns[0](np.float32(1.0))
        fns[0](np.float32(2.0))
        assert float(fns[1](np.float32(5.0))) == 10.0
        assert float(counters[0].get_value()) == 3.0
        assert float(counters[1].get_value()) == 15.0

    def test_disabled_compiles_every_time(self):
        x = T.scalar("x")
        w = pytensor.shared(np.float32(2.0))
        with function_cache.enabled(False):
            before = compile_count()
            f = function_cache.function([x], x * w)
            g = function_cache.function([x], x * w)
            assert compile_count() - before == 2
        assert isinstance(f, Function)
        assert float(g(np.float32(3.0))) == 6.0

    def test_not_picklable(self, cache_on):
        x = T.scalar("x")
        f = function_cache.function([x], x * pytensor.shared(np.float32(2.0)))
        with pytest.raises(TypeError, match="not pickled"):
            pickle.dumps(f)


class TestEstimators:
    def test_clone_reuses_compilation_and_matches_uncached(self, digits, cache_on):
        X, y = digits
        with function_cache.enabled(False):
            reference = make_net().fit(X, y)
        first = make_net(update__learning_rate=0.1).fit(X, y)
        before = compile_count()
        second = clone(first).set_params(update__learning_rate=0.05).fit(X, y)
        assert compile_count() == before
        # Same seed, cached or not: identical weights and predictions.
        for a, b in zip(weights(second), weights(reference)):
            np.testing.assert_array_equal(a, b)
        assert not all(np.array_equal(a, b) for a, b in zip(weights(first), weights(second)))

    def test_alternate_partial_fit_equals_separate(self, digits, cache_on):
        X, y = digits
        nets = [make_net(random_state=s, update__learning_rate=lr) for s, lr in ((0, 0.05), (1, 0.1))]
        for _ in range(2):
            for net in nets:
                net.partial_fit(X, y)
        with function_cache.enabled(False):
            for net, (s, lr) in zip(nets, ((0, 0.05), (1, 0.1))):
                alone = make_net(random_state=s, update__learning_rate=lr)
                alone.partial_fit(X, y)
                alone.partial_fit(X, y)
                for a, b in zip(weights(net), weights(alone)):
                    np.testing.assert_array_equal(a, b)
                np.testing.assert_array_equal(net.predict_proba(X), alone.predict_proba(X))

    def test_pickle_after_shared_compilation(self, digits, cache_on):
        X, y = digits
        net = make_net(max_epochs=1).fit(X, y)
        restored = pickle.loads(pickle.dumps(net))
        np.testing.assert_array_equal(restored.predict_proba(X), net.predict_proba(X))
        restored.partial_fit(X, y)
        assert not np.array_equal(restored.predict_proba(X), net.predict_proba(X))

    def test_grid_search_compiles_once_per_graph(self, digits, cache_on):
        X, y = digits
        function_cache.clear()
        info = function_cache.cache_info()
        net = make_net(max_epochs=2, layers=[(InputLayer, {}), (DenseLayer, {"num_units": 8}), (DenseLayer, {})])
        grid = {"update__learning_rate": [0.01, 0.03, 0.1], "objective__l2": [0.0, 1e-4, 1e-3, 1e-2]}
        before = compile_count()
        search = GridSearchCV(net, grid, cv=3, n_jobs=1).fit(X, y)
        after = function_cache.cache_info()
        # Two distinct graphs: the training step and the prediction.
        assert compile_count() - before == 2
        assert after.hits - info.hits == 36 + 36 + 1 - 2
        assert search.best_score_ > 0.3
