"""Hyper-parameter search on a local dask.distributed cluster (2 worker processes, loopback)."""

import importlib.util
from pathlib import Path

import distributed
import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from sknet.function_cache import cache_info

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dask_search.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("dask_search", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_grid_search_on_dask_matches_local(example, client):
    X, y = example.load_data(240)
    search = example.make_search(num_epochs=2)
    search.set_params(param_grid={"update__learning_rate": [0.03, 0.1], "objective__l2": [0.0, 1e-3]})
    with joblib.parallel_backend("dask"):
        search.fit(X, y)
    local = GridSearchCV(search.estimator, search.param_grid, cv=3, n_jobs=1).fit(X, y)
    # The same seeds on the workers as here: the same scores.
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])
    assert search.best_params_ == local.best_params_
    # Each worker compiles each graph (train, predict) at most once: 12 fits
    # and 12 scorings need 24 functions, so at least 20 come from the caches.
    infos = client.run(cache_info)
    assert len(infos) == 2
    assert all(info.compiles <= 2 for info in infos.values())
    assert sum(info.hits for info in infos.values()) >= 20
    assert search.best_estimator_.predict(X[:5]).shape == (5,)
