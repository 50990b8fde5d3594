"""Dropout and batch normalization on a small CNN, compared on MNIST.

The Schlüter/Dieleman tutorial's tricks: the same small CNN (conv 16 3x3 ->
pool -> conv 32 3x3 -> pool -> dense 128 -> dense 10) trained plain, with
dropout, with batch normalization after every conv/dense layer, and with
both. The builder is a ``layers=`` callable whose switches are routed as
``layers__dropout`` / ``layers__batch_norm``. Run::

    SKNET_DATA=../shared/data python examples/tricks.py --epochs 5 --plot tricks.png

Falls back to scikit-learn's ``load_digits`` with a notice when MNIST is not
found (see ``examples/_data.py``).
"""

import argparse
import time

from _data import epochs, load_images
from lenet import plot_curves

from sknet import NeuralNetClassifier, updates
from sknet.layers import Conv2DLayer, DenseLayer, InputLayer, MaxPool2DLayer
from sknet.layers import batch_norm as add_batch_norm
from sknet.layers import dropout as add_dropout
from sknet.nonlinearities import rectify, softmax

#: name -> (dropout, batch_norm)
VARIANTS = {
    "plain": (False, False),
    "dropout": (True, False),
    "batch_norm": (False, True),
    "dropout+batch_norm": (True, True),
}


def build_small_cnn(dropout=False, batch_norm=False):
    """The small CNN, optionally with dropout (.1 on conv maps, .5 before dense layers) and batch norm."""
    bn = add_batch_norm if batch_norm else (lambda layer: layer)
    net = InputLayer((None, 1, 28, 28))
    for i, num_filters in enumerate((16, 32)):
        net = bn(Conv2DLayer(net, num_filters, (3, 3), nonlinearity=rectify))
        net = MaxPool2DLayer(net, (2, 2))
        if dropout:
            net = add_dropout(net, p=0.1 * (i + 1))
    if dropout:
        net = add_dropout(net, p=0.5)
    net = bn(DenseLayer(net, 128, nonlinearity=rectify))
    if dropout:
        net = add_dropout(net, p=0.5)
    return DenseLayer(net, 10, nonlinearity=softmax)


def build_net(variant="plain", num_epochs=5, verbose=0, random_state=0):
    """NeuralNetClassifier over :func:`build_small_cnn` (adam 1e-3, batch 128)."""
    use_dropout, use_batch_norm = VARIANTS[variant]
    return NeuralNetClassifier(
        layers=build_small_cnn,
        layers__dropout=use_dropout,
        layers__batch_norm=use_batch_norm,
        update=updates.adam,
        update__learning_rate=1e-3,
        batch_iterator_train__batch_size=128,
        train_split__eval_size=0.1,
        max_epochs=num_epochs,
        verbose=verbose,
        random_state=random_state,
    )


def main(num_epochs=5, train_size=None, test_size=None, variants=tuple(VARIANTS), plot_path=None, verbose=0):
    """Train each variant; returns test accuracies, fit times and the final losses."""
    data = load_images(train_size, test_size)
    figures = {"test_accuracy": {}, "fit_time": {}, "train_loss": {}, "valid_loss": {}, "source": data["source"]}
    histories = {}
    for name in variants:
        net = build_net(name, num_epochs, verbose=verbose)
        start = time.perf_counter()
        net.fit(data["X_train"], data["y_train"])
        figures["fit_time"][name] = time.perf_counter() - start
        figures["test_accuracy"][name] = net.score(data["X_test"], data["y_test"])
        figures["train_loss"][name] = net.history_[-1]["train_loss"]
        figures["valid_loss"][name] = net.history_[-1]["valid_loss"]
        histories[name] = list(net.history_)
        print(
            f"{name:20s} {data['name']} test accuracy {100 * figures['test_accuracy'][name]:6.2f} % "
            f"after {epochs(len(histories[name]))}  "
            f"train loss {figures['train_loss'][name]:.4f}  "
            f"valid loss {figures['valid_loss'][name]:.4f}  fit {figures['fit_time'][name]:.1f} s"
        )
    if plot_path:
        plot_curves(histories, plot_path)
        figures["plot"] = str(plot_path)
        print(f"training curves saved to {plot_path}")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--plot", default=None, help="PNG path for the curves")
    args = parser.parse_args()
    main(args.epochs, args.train_size, plot_path=args.plot, verbose=1)
