"""What a CNN learns: first-layer kernels and feature maps saved as PNG.

Trains the Lasagne tutorial's CNN (``examples/mnist_cnn.py``), then draws the
32 kernels of its first convolution (``sknet.visualize.plot_conv_weights``)
and the feature maps of both convolutions for one test image
(``plot_conv_activity``). Run::

    SKNET_DATA=../shared/data python examples/kernels.py --epochs 2 --out-dir figures

Falls back to scikit-learn's ``load_digits`` with a notice when MNIST is not
found (see ``examples/_data.py``).
"""

import argparse
import time
from pathlib import Path

from _data import epochs, load_images
from mnist_cnn import build_net

from sknet.layers import Conv2DLayer
from sknet.visualize import plot_conv_activity, plot_conv_weights


def main(num_epochs=2, train_size=None, test_size=None, out_dir=".", image_index=0, verbose=1):
    """Train, then save ``kernels.png``, ``feature_maps_conv1.png`` and ``feature_maps_conv2.png``.

    Returns the test accuracy and the paths written.
    """
    data = load_images(train_size, test_size)
    net = build_net(num_epochs, verbose=verbose)
    start = time.perf_counter()
    net.fit(data["X_train"], data["y_train"])
    fit_time = time.perf_counter() - start
    accuracy = net.score(data["X_test"], data["y_test"])
    convs = [layer for layer in net.layers_.values() if isinstance(layer, Conv2DLayer)]
    x = data["X_test"][image_index : image_index + 1]

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"kernels": out_dir / "kernels.png"}
    plot_conv_weights(convs[0], figsize=(6, 6)).savefig(paths["kernels"], dpi=80)
    for i, conv in enumerate(convs, start=1):
        paths[f"feature_maps_conv{i}"] = out_dir / f"feature_maps_conv{i}.png"
        fig = plot_conv_activity(conv, x, figsize=(7, 7))
        fig.suptitle(f"conv{i} feature maps, test image {image_index} (label {data['y_test'][image_index]})")
        fig.savefig(paths[f"feature_maps_conv{i}"], dpi=80)
    for name, path in paths.items():
        print(f"{name}: {path}")
    print(
        f"{data['name']} test accuracy {100 * accuracy:.2f} % after {epochs(len(net.history_))}, fit {fit_time:.1f} s"
    )
    return {
        "test_accuracy": accuracy,
        "fit_time": fit_time,
        "source": data["source"],
        "num_kernels": int(convs[0].W.get_value().shape[0]),
        "paths": {name: str(path) for name, path in paths.items()},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--out-dir", default=".")
    args = parser.parse_args()
    main(args.epochs, args.train_size, out_dir=args.out_dir)
