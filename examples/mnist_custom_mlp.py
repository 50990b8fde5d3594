"""The Lasagne tutorial's ``build_custom_mlp`` as a ``layers=`` callable, tuned by GridSearchCV.

The builder takes the tutorial's arguments (``depth``, ``width``,
``drop_input``, ``drop_hidden``); the estimator calls it with its
``layers__*`` parameters, so a grid search can vary the architecture::

    NeuralNetClassifier(layers=build_custom_mlp, layers__depth=2, layers__width=800)

Run::

    SKNET_DATA=../shared/data python examples/mnist_custom_mlp.py --epochs 5 --train-size 10000

Falls back to scikit-learn's ``load_digits`` with a notice when MNIST is not
found (see ``examples/_data.py``).
"""

import argparse
import time

from _data import epochs, load_images
from sklearn.model_selection import GridSearchCV

from sknet import NeuralNetClassifier, updates
from sknet.layers import DenseLayer, InputLayer, dropout
from sknet.nonlinearities import rectify, softmax

DEFAULT_GRID = {"layers__depth": [1, 2], "layers__drop_hidden": [0.2, 0.5]}


def build_custom_mlp(input_var=None, depth=2, width=800, drop_input=0.2, drop_hidden=0.5):
    """An MLP of ``depth`` hidden ReLU layers of ``width`` units, with optional dropout.

    Parameters
    ----------
    input_var : TensorVariable, optional
        The input of the InputLayer (as in the tutorial; the estimator leaves
        it None).
    depth, width : int
        Number and size of the hidden layers.
    drop_input, drop_hidden : float
        Dropout before the first layer and after each hidden layer (0 for none).

    Returns
    -------
    DenseLayer
        The 10-unit softmax output layer.
    """
    network = InputLayer(shape=(None, 1, 28, 28), input_var=input_var)
    if drop_input:
        network = dropout(network, p=drop_input)
    for _ in range(depth):
        network = DenseLayer(network, width, nonlinearity=rectify)
        if drop_hidden:
            network = dropout(network, p=drop_hidden)
    return DenseLayer(network, 10, nonlinearity=softmax)


def build_net(num_epochs=5, width=800, verbose=0, random_state=0):
    """A NeuralNetClassifier over :func:`build_custom_mlp` (nesterov momentum 0.01/0.9)."""
    return NeuralNetClassifier(
        layers=build_custom_mlp,
        layers__depth=2,
        layers__width=width,
        layers__drop_input=0.2,
        layers__drop_hidden=0.5,
        update=updates.nesterov_momentum,
        update__learning_rate=0.01,
        update__momentum=0.9,
        batch_iterator_train__batch_size=128,
        train_split=False,  # GridSearchCV holds out its own folds
        max_epochs=num_epochs,
        verbose=verbose,
        random_state=random_state,
    )


def main(num_epochs=5, train_size=10000, test_size=None, width=800, param_grid=None, cv=2, n_jobs=1):
    """Grid-search the builder's arguments; returns the CV results and the test accuracy."""
    data = load_images(train_size, test_size)
    param_grid = DEFAULT_GRID if param_grid is None else param_grid
    search = GridSearchCV(build_net(num_epochs, width), param_grid, cv=cv, n_jobs=n_jobs, refit=True)
    start = time.perf_counter()
    search.fit(data["X_train"], data["y_train"])
    search_time = time.perf_counter() - start
    accuracy = search.score(data["X_test"], data["y_test"])
    for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
        print(f"  {params}: mean CV accuracy {100 * score:.2f} %")
    print(
        f"best {search.best_params_} (CV {100 * search.best_score_:.2f} %); {data['name']} test "
        f"accuracy of the refit {100 * accuracy:.2f} % after "
        f"{epochs(len(search.best_estimator_.history_))}; "
        f"search {search_time:.1f} s"
    )
    return {
        "best_params": search.best_params_,
        "best_score": search.best_score_,
        "test_accuracy": accuracy,
        "search_time": search_time,
        "cv_scores": list(search.cv_results_["mean_test_score"]),
        "source": data["source"],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--width", type=int, default=800)
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args()
    main(args.epochs, args.train_size, width=args.width, n_jobs=args.n_jobs)
