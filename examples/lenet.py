"""LeNet-5 on MNIST with L2 weight decay: sgd vs nesterov momentum vs rmsprop vs adam.

conv 6 5x5 (same) -> max-pool 2 -> conv 16 5x5 -> max-pool 2 -> dense 120 ->
dense 84 -> dense 10 softmax, ReLU units, weight decay ``objective__l2``.
The same net is trained once per update rule from the same initial weights,
and the validation curves are saved to one PNG. Run::

    SKNET_DATA=../shared/data python examples/lenet.py --epochs 2 --plot lenet.png

Falls back to scikit-learn's ``load_digits`` with a notice when MNIST is not
found (see ``examples/_data.py``).
"""

import argparse
import time

from _data import epochs, load_images

from sknet import NeuralNetClassifier, updates
from sknet.layers import Conv2DLayer, DenseLayer, InputLayer, MaxPool2DLayer
from sknet.nonlinearities import rectify, softmax

#: update rule and its parameters, as commonly used for LeNet
OPTIMIZERS = {
    "sgd": (updates.sgd, {"learning_rate": 0.01}),
    "nesterov_momentum": (updates.nesterov_momentum, {"learning_rate": 0.01, "momentum": 0.9}),
    "rmsprop": (updates.rmsprop, {"learning_rate": 1e-3}),
    "adam": (updates.adam, {"learning_rate": 1e-3}),
}


def lenet_layers():
    """LeNet-5 as a layer spec (ReLU instead of the original scaled tanh)."""
    return [
        (InputLayer, {}),
        (Conv2DLayer, {"num_filters": 6, "filter_size": (5, 5), "pad": "same", "nonlinearity": rectify}),
        (MaxPool2DLayer, {"pool_size": (2, 2)}),
        (Conv2DLayer, {"num_filters": 16, "filter_size": (5, 5), "nonlinearity": rectify}),
        (MaxPool2DLayer, {"pool_size": (2, 2)}),
        (DenseLayer, {"num_units": 120, "nonlinearity": rectify}),
        (DenseLayer, {"num_units": 84, "nonlinearity": rectify}),
        (DenseLayer, {"num_units": 10, "nonlinearity": softmax}),
    ]


def build_net(optimizer="adam", num_epochs=2, l2=1e-4, batch_size=128, verbose=0, random_state=0, eval_size=0.1):
    """LeNet-5 NeuralNetClassifier trained with one of :data:`OPTIMIZERS`."""
    update, params = OPTIMIZERS[optimizer]
    return NeuralNetClassifier(
        layers=lenet_layers(),
        update=update,
        objective__l2=l2,
        batch_iterator_train__batch_size=batch_size,
        train_split__eval_size=eval_size,
        max_epochs=num_epochs,
        verbose=verbose,
        random_state=random_state,
        **{f"update__{k}": v for k, v in params.items()},
    )


def plot_curves(histories, path):
    """Train/valid loss and valid accuracy per epoch, one line per run; saved to ``path``.

    ``histories`` maps a run's name to its net's ``history_``.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    ax_loss, ax_acc = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for i, (name, history) in enumerate(histories.items()):
        epochs = [row["epoch"] for row in history]
        color = f"C{i}"
        ax_loss.plot(epochs, [row["train_loss"] for row in history], "o--", color=color, label=f"{name} (train)")
        ax_loss.plot(epochs, [row["valid_loss"] for row in history], "o-", color=color, label=f"{name} (valid)")
        ax_acc.plot(epochs, [row["valid_accuracy"] for row in history], "o-", color=color, label=name)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="validation accuracy")
    ax_loss.legend(fontsize=7)
    ax_acc.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    return fig


def main(
    num_epochs=2,
    train_size=None,
    test_size=None,
    plot_path="lenet_optimizers.png",
    optimizers=tuple(OPTIMIZERS),
    l2=1e-4,
    verbose=0,
):
    """Train LeNet once per optimizer; returns test accuracies and the plot path."""
    data = load_images(train_size, test_size)
    figures = {
        "test_accuracy": {},
        "valid_accuracy": {},
        "fit_time": {},
        "source": data["source"],
        "plot": str(plot_path),
    }
    histories = {}
    for name in optimizers:
        net = build_net(name, num_epochs, l2=l2, verbose=verbose)
        start = time.perf_counter()
        net.fit(data["X_train"], data["y_train"])
        figures["fit_time"][name] = time.perf_counter() - start
        figures["test_accuracy"][name] = net.score(data["X_test"], data["y_test"])
        figures["valid_accuracy"][name] = net.history_[-1]["valid_accuracy"]
        histories[name] = list(net.history_)
        print(
            f"{name:18s} {data['name']} test accuracy {100 * figures['test_accuracy'][name]:6.2f} % "
            f"after {epochs(len(net.history_))}, fit {figures['fit_time'][name]:.1f} s"
        )
    if plot_path:
        plot_curves(histories, plot_path)
        print(f"training curves saved to {plot_path}")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--plot", default="lenet_optimizers.png", help="PNG path for the curves")
    args = parser.parse_args()
    main(args.epochs, args.train_size, plot_path=args.plot, l2=args.l2, verbose=1)
