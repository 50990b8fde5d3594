"""A nolearn-era script ported to sknet by changing its imports (see docs/migrating-from-nolearn.md).

Three nets written the nolearn way: an MNIST MLP stopped early by an
``on_epoch_finished`` hook raising ``StopIteration`` and saving its best
weights with ``SaveWeights(only_best=True)``; a regression net on the
diabetes data (``regression=True``); a net with two output layers
(``layers=[head_a, head_b]``, y a tuple of one array per output, ``predict``
a tuple). The MLP records a ``custom_scores`` entry in its history. The
import block below shows each nolearn line it replaces; nothing else differs
from nolearn.

Run::

    SKNET_DATA=../shared/data python examples/nolearn_port.py --epochs 20
"""

import argparse
import os
import tempfile

import numpy as np
from _data import load_images  # MNIST, or scikit-learn's digits when MNIST is not on disk
from sklearn.datasets import load_diabetes
from sklearn.metrics import f1_score
from sklearn.preprocessing import StandardScaler

# from nolearn.lasagne import NeuralNet, BatchIterator, TrainSplit
from sknet import BatchIterator, NeuralNet, TrainSplit

# from nolearn.lasagne.handlers import SaveWeights
from sknet.handlers import SaveWeights

# from lasagne.layers import InputLayer, DenseLayer, DropoutLayer
from sknet.layers import DenseLayer, DropoutLayer, InputLayer

# from lasagne.nonlinearities import rectify, softmax
from sknet.nonlinearities import rectify, softmax

# from lasagne.updates import nesterov_momentum
from sknet.updates import nesterov_momentum

# nolearn's classic settings: Nesterov momentum (its default rule), as in its tutorials.
NESTEROV = dict(update=nesterov_momentum, update_learning_rate=0.01, update_momentum=0.9)


def macro_f1(y, proba):
    """A ``custom_scores`` function: nolearn passes the labels and predict_proba's output."""
    return f1_score(y, proba.argmax(axis=1), average="macro")


class StopWhenNoBetter:
    """nolearn-style early stopping: a plain callable raising StopIteration.

    Keeps the weights of the best epoch and puts them back before stopping.
    """

    def __init__(self, patience=5):
        self.patience = patience
        self.best_loss = np.inf
        self.best_epoch = 0
        self.best_weights = None

    def __call__(self, nn, train_history):
        loss, epoch = train_history[-1]["valid_loss"], train_history[-1]["epoch"]
        if loss < self.best_loss:
            self.best_loss, self.best_epoch = loss, epoch
            self.best_weights = nn.get_all_params_values()
        elif epoch - self.best_epoch >= self.patience:
            print(f"No improvement since epoch {self.best_epoch}; stopping.")
            nn.load_params_from(self.best_weights)
            raise StopIteration()


def mnist_mlp(X, y, num_epochs, out_dir, verbose=1, patience=5):
    """The MLP, nolearn's (name, class) spec with name_param routing."""
    stopper = StopWhenNoBetter(patience=patience)
    net = NeuralNet(
        layers=[
            ("input", InputLayer),
            ("hidden", DenseLayer),
            ("dropout", DropoutLayer),
            ("output", DenseLayer),
        ],
        input_shape=(None, X.shape[1]),
        hidden_num_units=256,
        hidden_nonlinearity=rectify,
        dropout_p=0.5,
        output_num_units=10,
        output_nonlinearity=softmax,
        **NESTEROV,
        batch_iterator_train=BatchIterator(batch_size=128, shuffle=True, seed=42),
        train_split=TrainSplit(eval_size=0.2),
        on_epoch_finished=[
            stopper,
            SaveWeights(os.path.join(out_dir, "mlp-best.npz"), only_best=True, verbose=verbose),
        ],
        custom_scores=[("valid_f1", macro_f1)],
        regression=False,
        max_epochs=num_epochs,
        random_state=0,
        verbose=verbose,
    )
    return net.fit(X, y)


def diabetes_regression(num_epochs, verbose=1):
    """A small regression net on scikit-learn's diabetes data (y standardized, a column as nolearn wants)."""
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    y = ((y - y.mean()) / y.std()).astype(np.float32).reshape(-1, 1)
    net = NeuralNet(
        layers=[
            ("input", InputLayer),
            ("hidden", DenseLayer),
            ("output", DenseLayer),
        ],
        input_shape=(None, X.shape[1]),
        hidden_num_units=32,
        output_num_units=1,
        output_nonlinearity=None,
        regression=True,
        **NESTEROV,
        max_epochs=num_epochs,
        random_state=0,
        verbose=verbose,
    )
    return net.fit(X, y), X, y


def two_outputs(num_epochs, verbose=1):
    """One trunk, two regression heads (the diabetes target and the patient's blood pressure).

    y is a tuple, one array per output layer; the loss is the sum of the
    heads' squared errors, ``predict`` returns a tuple and ``score`` the
    mean of the heads' R².
    """
    data = load_diabetes()
    X = StandardScaler().fit_transform(np.delete(data.data, 3, axis=1)).astype(np.float32)
    Y = StandardScaler().fit_transform(np.c_[data.target, data.data[:, 3]]).astype(np.float32)
    l_in = InputLayer((None, X.shape[1]), name="input")
    trunk = DenseLayer(l_in, 32, name="trunk")
    head_a = DenseLayer(trunk, 1, nonlinearity=None, name="progression")
    head_b = DenseLayer(trunk, 1, nonlinearity=None, name="pressure")
    net = NeuralNet(
        layers=[head_a, head_b],
        regression=True,
        **NESTEROV,
        max_epochs=num_epochs,
        random_state=0,
        verbose=verbose,
    )
    Y = (Y[:, :1], Y[:, 1:])
    return net.fit(X, Y), X, Y


def main(num_epochs=20, train_size=None, test_size=None, out_dir=None, verbose=1, patience=5):
    """Train the three nets; returns their test accuracy, R^2 scores and the best-weights file."""
    out_dir = out_dir or tempfile.mkdtemp(prefix="nolearn_port_")
    data = load_images(train_size, test_size, flat=True)
    mlp = mnist_mlp(data["X_train"], data["y_train"], num_epochs, out_dir, verbose, patience)
    accuracy = mlp.score(data["X_test"], data["y_test"])
    print(f"MLP: {len(mlp.train_history_)} epochs, test accuracy {accuracy:.4f}")
    reg, X, y = diabetes_regression(num_epochs, verbose)
    multi, X2, Y2 = two_outputs(num_epochs, verbose)
    result = {
        "mlp": mlp,
        "accuracy": accuracy,
        "regression_r2": reg.score(X, y),
        "two_output_r2": multi.score(X2, Y2),
        "best_weights": os.path.join(out_dir, "mlp-best.npz"),
    }
    print(f"Diabetes R^2 (training data) {result['regression_r2']:.3f}; two outputs {result['two_output_r2']:.3f}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    main(num_epochs=parser.parse_args().epochs)
