"""EpochSearchCV against GridSearchCV on digits: equal scores, wall time and compilations.

The issue's acceptance grid: the conftest's tiny classifier (64-16-10,
batch 32, adam) on the 600 scaled digits, learning rate in {0.003, 0.03} x
epochs {2, 4, 6, 8}, cv=3, fixed random_state, no early stopping. One
warm-up fit compiles the train, valid and predict functions first, so
neither search pays for compiling; the two searches then alternate for
``--repeats`` rounds and the medians are printed with their ratio.
GridSearchCV trains 2 + 4 + 6 + 8 = 20 epochs per (rate, fold), EpochSearchCV
8, so the ideal ratio is 0.4 (plus the scoring both do at every row).
Run::

    SKNET_BLAS_THREADS=1 python bench/bench_epoch_search.py --repeats 3
"""

import argparse
import statistics
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from sknet import NeuralNetClassifier
from sknet.function_cache import compile_count
from sknet.layers import DenseLayer, InputLayer
from sknet.model_selection import EpochSearchCV

GRID = {"update__learning_rate": [0.003, 0.03]}
EPOCHS = [2, 4, 6, 8]


def main(repeats=3):
    """Run both searches ``repeats`` times; returns a dict of figures."""
    X, y = load_digits(return_X_y=True)
    X, y = StandardScaler().fit_transform(X[:600]).astype(np.float32), y[:600]
    net = NeuralNetClassifier(
        [(InputLayer, {}), (DenseLayer, {"num_units": 16}), (DenseLayer, {})],
        update__learning_rate=0.01,
        batch_iterator_train__batch_size=32,
        max_epochs=1,
        random_state=0,
    )
    before = compile_count()
    net.fit(X, y).predict(X[:1])
    warmup = compile_count() - before
    seconds = {"GridSearchCV": [], "EpochSearchCV": []}
    compiles, scores = {}, {}
    for _ in range(repeats):
        for name, search in [
            ("GridSearchCV", GridSearchCV(net, {**GRID, "max_epochs": EPOCHS}, cv=3)),
            ("EpochSearchCV", EpochSearchCV(net, GRID, epochs=EPOCHS, cv=3)),
        ]:
            before, start = compile_count(), time.perf_counter()
            search.fit(X, y)
            seconds[name].append(time.perf_counter() - start)
            compiles[name] = compile_count() - before
            scores[name] = search.cv_results_["mean_test_score"]
    equal = bool(np.array_equal(scores["GridSearchCV"], scores["EpochSearchCV"]))
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    ratio = medians["EpochSearchCV"] / medians["GridSearchCV"]
    print(f"warm-up fit: {warmup} compilations")
    for name in seconds:
        print(
            f"{name:>13}: median {medians[name]:.2f} s over {repeats} runs "
            f"({', '.join(f'{s:.2f}' for s in seconds[name])}); compilations in the last run: {compiles[name]}"
        )
    print(f"mean_test_score equal in every row: {equal}; ratio EpochSearchCV / GridSearchCV {ratio:.2f}")
    return {"equal": equal, "ratio": ratio, "seconds": medians, "compilations": compiles, "warmup": warmup}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    main(parser.parse_args().repeats)
