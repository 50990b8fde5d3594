"""MNIST for the examples, with scikit-learn's digits as an offline fallback.

Every example calls :func:`load_images`. It reads MNIST through
``sknet.datasets.load_mnist`` (``data_home``, then ``$SKNET_DATA`` — a relative
path is looked up from the current directory and from the repository root —
then ``~/sknet_data``); when the files are found nowhere it prints a notice and
returns scikit-learn's bundled 8x8 ``load_digits`` images, scaled up to the
MNIST frame (each pixel repeated 3x3, padded to 28x28), so the same networks
run unchanged on either. It prints one line naming the dataset it loaded, and
the examples name it again in their closing line (:func:`epochs`,
:data:`DATASET_NAMES`).
"""

import numpy as np

from sknet.datasets import load_mnist

__all__ = ["load_images", "digits_as_mnist", "epochs", "DATASET_NAMES"]

#: How the closing lines name each ``source``.
DATASET_NAMES = {"mnist": "MNIST", "digits": "digits (scikit-learn's 8x8 digits at 28x28)"}


def epochs(n):
    """'1 epoch', '2 epochs': the count for a closing line.

    Examples
    --------
    >>> epochs(1), epochs(10)
    ('1 epoch', '10 epochs')
    """
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def digits_as_mnist():
    """scikit-learn's digits as MNIST-shaped float32 images.

    Returns
    -------
    X_train, y_train, X_test, y_test
        Images of shape (n, 1, 28, 28) in [0, 1] and int32 labels; the first
        1,347 digits train and the last 450 test (a fixed 75/25 split).

    Examples
    --------
    >>> X_train, y_train, X_test, y_test = digits_as_mnist()
    >>> X_train.shape, X_test.shape, float(X_train.max())
    ((1347, 1, 28, 28), (450, 1, 28, 28), 1.0)
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / np.float32(16.0)).astype(np.float32)
    images = np.kron(images, np.ones((3, 3), dtype=np.float32))  # 8x8 -> 24x24
    images = np.pad(images, ((0, 0), (2, 2), (2, 2)))[:, None]
    y = digits.target.astype(np.int32)
    split = len(images) - 450
    return images[:split], y[:split], images[split:], y[split:]


def load_images(train_size=None, test_size=None, data_home=None, flat=False):
    """MNIST (its first 50,000 training images, as in the Lasagne tutorial) or digits.

    Parameters
    ----------
    train_size, test_size : int, optional
        Keep only the first ``train_size`` training and ``test_size`` test
        images (all when None), to run an example quickly.
    data_home : str, optional
        Passed to ``load_mnist``.
    flat : bool
        Return rows of 784 pixels instead of (1, 28, 28) images.

    Returns
    -------
    dict
        ``X_train``, ``y_train``, ``X_test``, ``y_test``, ``source``
        ('mnist' or 'digits') and ``name`` (from :data:`DATASET_NAMES`).
    """
    try:
        data = load_mnist(data_home)
        X_train, y_train = data.X_train[:50000], data.y_train[:50000]
        X_test, y_test, source, where = data.X_test, data.y_test, "mnist", f" from {data.path}"
    except FileNotFoundError as exc:
        print(f"MNIST not found ({exc}); using scikit-learn's load_digits (8x8 digits scaled to 28x28) instead.")
        X_train, y_train, X_test, y_test = digits_as_mnist()
        source, where = "digits", ""
    X_train, y_train = X_train[:train_size], y_train[:train_size]
    X_test, y_test = X_test[:test_size], y_test[:test_size]
    print(
        f"dataset: {DATASET_NAMES[source]}, {len(X_train):,} training and {len(X_test):,} test images{where}",
        flush=True,
    )
    if flat:
        X_train, X_test = X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1)
    return {
        "X_train": X_train,
        "y_train": y_train,
        "X_test": X_test,
        "y_test": y_test,
        "source": source,
        "name": DATASET_NAMES[source],
    }
