"""A hyper-parameter search run on a dask.distributed cluster through joblib.

scikit-learn's GridSearchCV hands its fits to joblib; joblib's ``'dask'``
backend ships them (the estimator pickled, as data, never a compiled
function) to the cluster's workers. Each worker process compiles each
distinct graph once and reuses it for every grid point it gets.

Run locally (starts a 2-worker cluster on the loopback interface)::

    python examples/dask_search.py --epochs 5

or on a running cluster (see docs/backends.md)::

    python examples/dask_search.py --scheduler tcp://scheduler-host:8786

Needs ``pip install -e ".[dask]"``.
"""

import argparse
import time

import joblib
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from sknet import NeuralNetClassifier, updates
from sknet.layers import DenseLayer, InputLayer


def make_search(num_epochs=5):
    """A 12-point grid over learning rate and l2 for a small MLP (3-fold CV)."""
    net = NeuralNetClassifier(
        [(InputLayer, {}), (DenseLayer, {"num_units": 32}), (DenseLayer, {})],
        update=updates.nesterov_momentum,
        update__learning_rate=0.01,
        update__momentum=0.9,
        objective__l2=0.0,
        max_epochs=num_epochs,
        train_split=False,
        random_state=0,
    )
    grid = {"update__learning_rate": [0.01, 0.03, 0.1], "objective__l2": [0.0, 1e-4, 1e-3, 1e-2]}
    return GridSearchCV(net, grid, cv=3, n_jobs=-1)


def load_data(n=None):
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    return (X, y) if n is None else (X[:n], y[:n])


def main(num_epochs=5, scheduler=None, n_workers=2, n_samples=None):
    """Run the search on ``scheduler`` (an address) or a fresh local cluster; return the search."""
    from distributed import Client, LocalCluster

    X, y = load_data(n_samples)
    print(f"dataset: digits (scikit-learn's 8x8 digits), {len(X):,} images, 3-fold CV", flush=True)
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
    client = Client(scheduler or cluster)
    try:
        search = make_search(num_epochs)
        t0 = time.perf_counter()
        with joblib.parallel_backend("dask"):
            search.fit(X, y)
        print(
            f"{len(search.cv_results_['params'])} grid points on "
            f"{len(client.scheduler_info()['workers'])} workers in {time.perf_counter() - t0:.1f} s"
        )
        runs = f"{num_epochs} epoch" + ("" if num_epochs == 1 else "s")
        print(f"best {search.best_params_}: digits mean CV accuracy {100 * search.best_score_:.2f} % after {runs}")
        return search
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--scheduler", default=None, help="address of a running dask scheduler")
    parser.add_argument("--workers", type=int, default=2, help="workers of the local cluster")
    args = parser.parse_args()
    main(args.epochs, args.scheduler, args.workers)
