"""Epoch-path search: learning rate x epochs on an MNIST MLP, against GridSearchCV over the same grid.

Run::

    SKNET_DATA=../shared/data python examples/epoch_search.py --train-size 3000

EpochSearchCV trains each (learning rate, fold) once, up to the largest epoch
count, and scores the held-out fold at each listed epoch; GridSearchCV trains
every (learning rate, epochs, fold) from scratch. Their scores are equal; the
script prints both tables' best rows, the wall times and the compilations.
Falls back to scikit-learn's digits when MNIST is not found.
"""

import argparse
import time

import numpy as np
from _data import load_images
from sklearn.model_selection import GridSearchCV

from sknet import NeuralNetClassifier
from sknet.function_cache import compile_count
from sknet.layers import DenseLayer, InputLayer
from sknet.model_selection import EpochSearchCV


def build_net():
    """A one-hidden-layer MLP (256 relu units), no internal validation split, fixed seed."""
    return NeuralNetClassifier(
        [(InputLayer, {}), (DenseLayer, {"num_units": 256}), (DenseLayer, {})],
        batch_iterator_train__batch_size=128,
        train_split=False,
        random_state=0,
    )


def main(epochs=(1, 2, 4, 6), rates=(1e-3, 3e-3), train_size=3000, cv=3, compare=True, n_jobs=None):
    """Run EpochSearchCV (and GridSearchCV when ``compare``); returns a dict of figures."""
    data = load_images(train_size, 10, flat=True)
    X, y = data["X_train"], data["y_train"]
    net, grid = build_net(), {"update__learning_rate": list(rates)}
    net.set_params(max_epochs=1).fit(X[:256], y[:256]).predict(X[:1])  # compile once, outside both timings
    figures = {"source": data["source"], "n_samples": len(X)}
    runs = [("EpochSearchCV", EpochSearchCV(net, grid, epochs=list(epochs), cv=cv, n_jobs=n_jobs))]
    if compare:
        runs.append(("GridSearchCV", GridSearchCV(net, {**grid, "max_epochs": list(epochs)}, cv=cv, n_jobs=n_jobs)))
    for name, search in runs:
        compiled, start = compile_count(), time.perf_counter()
        search.fit(X, y)
        seconds = time.perf_counter() - start
        figures[name] = {
            "seconds": seconds,
            "compilations": compile_count() - compiled,
            "mean_test_score": search.cv_results_["mean_test_score"],
            "best_params": search.best_params_,
            "best_score": search.best_score_,
        }
        print(
            f"{name:>13}: {seconds:6.1f} s, {compile_count() - compiled} compilations; best {search.best_params_} "
            f"accuracy {100 * search.best_score_:.2f} %"
        )
    results = runs[0][1].cv_results_
    print(" rate     epochs  mean accuracy (cv)")
    for params, score in zip(results["params"], results["mean_test_score"]):
        print(f" {params['update__learning_rate']:<8g} {params['max_epochs']:>6}  {100 * score:.2f} %")
    if compare:
        same = np.array_equal(figures["EpochSearchCV"]["mean_test_score"], figures["GridSearchCV"]["mean_test_score"])
        ratio = figures["EpochSearchCV"]["seconds"] / figures["GridSearchCV"]["seconds"]
        print(
            f"scores equal to GridSearchCV's: {same}; time ratio EpochSearchCV / GridSearchCV {ratio:.2f} "
            f"(epochs trained: {max(epochs)} vs {sum(epochs)} per rate and fold)"
        )
        figures.update(equal=same, ratio=ratio)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=3000)
    parser.add_argument("--epochs", type=int, nargs="+", default=[1, 2, 4, 6])
    parser.add_argument("--no-compare", action="store_true")
    args = parser.parse_args()
    main(tuple(args.epochs), train_size=args.train_size, compare=not args.no_compare)
