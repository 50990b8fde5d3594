"""Plots for looking inside a trained net: loss curves, kernels, feature maps, occlusion, saliency.

matplotlib is an optional extra (``pip install sknet[plot]``) imported only
when a plot is drawn, so ``import sknet`` never loads it.

Every ``plot_*`` function creates its figure through pyplot, so in a script
``plt.show()`` shows it and ``plt.savefig('name.png')`` saves it like any
pyplot figure, and it returns the :class:`matplotlib.figure.Figure`
(``fig.savefig`` works too). Under Jupyter's inline backend pyplot shows the
figure at the end of the cell; end the line with ``;`` so that it is not shown
a second time as the cell's value. Close figures you no longer need
(``plt.close(fig)``) in long loops. Given ``ax=``, a plot draws into that
axes (a multi-panel plot into the area it covers) of an existing figure
instead of creating one.
"""

import math

import numpy as np
import pytensor
import pytensor.tensor as T

from . import backend
from .layers import InputLayer, get_all_layers, get_output

__all__ = [
    "plot_loss",
    "plot_conv_weights",
    "plot_conv_activity",
    "occlusion_heatmap",
    "plot_occlusion",
    "saliency_map",
    "plot_saliency",
]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("sknet.visualize needs matplotlib; install it with: pip install sknet[plot]") from exc
    return plt


def _new_figure(figsize):
    """A new pyplot figure, so plt.show() and plt.savefig() find it."""
    return _pyplot().figure(figsize=figsize)


def _panels(ax, figsize, rows, cols):
    """(figure, add) where add(k) makes the k-th (1-based) panel of a rows x cols grid.

    Without ``ax`` the grid fills a new figure; with ``ax`` it fills the area
    that subplot covered, and ``ax`` itself is removed.
    """
    if ax is None:
        fig = _new_figure(figsize)
        return fig, lambda k: fig.add_subplot(rows, cols, k)
    spec = ax.get_subplotspec() if hasattr(ax, "get_subplotspec") else None
    if spec is None:
        raise ValueError(
            "ax must be a subplot (made by add_subplot or plt.subplots) for a multi-panel plot to divide its area"
        )
    fig = ax.figure
    grid = spec.subgridspec(rows, cols)
    ax.remove()
    return fig, lambda k: fig.add_subplot(grid[(k - 1) // cols, (k - 1) % cols])


def _grid(n):
    """(rows, cols) of the most square grid holding n panels."""
    cols = max(1, math.ceil(math.sqrt(n)))
    return math.ceil(n / cols), cols


def _image(x):
    """A (C, H, W) array as something imshow draws: RGB when C == 3, else the channel mean."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] == 3:
        lo, hi = x.min(), x.max()
        return np.transpose((x - lo) / (hi - lo if hi > lo else 1.0), (1, 2, 0))
    return x.mean(axis=0)


def _no_ticks(ax):
    ax.set_xticks([])
    ax.set_yticks([])


def _as_batch(X, name="X"):
    X = np.asarray(X, dtype=backend.FLOATX)
    if X.ndim == 3:
        X = X[None]
    if X.ndim != 4:
        raise ValueError(f"{name} must have shape (n, channels, height, width); got {X.shape}")
    return X


def _loss_column(history, key):
    values = []
    for row in history:
        v = row.get(key)
        values.append(np.nan if v is None else float(v))
    return np.array(values, dtype=np.float64)


def plot_loss(net, figsize=(6, 4), ax=None):
    """Train and validation loss per epoch, with the best validation epoch marked.

    Parameters
    ----------
    net : NeuralNet or list of dict
        A fitted net (its ``history_`` is read) or a history itself: one dict
        per epoch with ``train_loss`` and optionally ``epoch`` and
        ``valid_loss`` (missing, None or NaN when there was no validation).
    figsize : tuple of float
        Figure size in inches (unused with ``ax``).
    ax : matplotlib.axes.Axes, optional
        Draw into this axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the axes: a 'train' line, a 'valid' line when any
        epoch has a validation loss, and a marker at the epoch with the
        lowest one.

    Examples
    --------
    >>> from sknet.visualize import plot_loss
    >>> history = [{'epoch': 1, 'train_loss': 1.0, 'valid_loss': 1.2},
    ...            {'epoch': 2, 'train_loss': 0.6, 'valid_loss': 0.9},
    ...            {'epoch': 3, 'train_loss': 0.4, 'valid_loss': 1.0}]
    >>> fig = plot_loss(history)
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['train', 'valid', 'best valid (epoch 2)']
    """
    history = getattr(net, "history_", net)
    if ax is None:
        ax = _new_figure(figsize).add_subplot(1, 1, 1)
    epochs = np.array([row.get("epoch", i + 1) for i, row in enumerate(history)])
    train = _loss_column(history, "train_loss")
    valid = _loss_column(history, "valid_loss")
    ax.plot(epochs, train, label="train")
    finite = np.isfinite(valid)
    if finite.any():
        ax.plot(epochs, valid, label="valid")
        best = int(np.nanargmin(np.where(finite, valid, np.inf)))
        ax.plot(
            [epochs[best]],
            [valid[best]],
            "o",
            color="red",
            markersize=8,
            label=f"best valid (epoch {epochs[best]})",
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(loc="best")
    ax.grid(True, alpha=0.3)
    return ax.figure


def plot_conv_weights(layer, figsize=(6, 6), channel="mean", ax=None):
    """The kernels of a 2-D convolution layer, one grayscale panel per filter.

    nolearn drew one figure per input channel; here one figure shows, for
    every filter, the average of its kernel over the input channels (or one
    chosen channel). For a first layer on grayscale images both are the same.
    Each panel has its own color scale.

    Parameters
    ----------
    layer : Conv2DLayer or any object with a 4-D ``W``
        ``W`` (shared variable or array) of shape
        (num_filters, channels, height, width).
    figsize : tuple of float
        Figure size in inches.
    channel : 'mean' or int
        Average over the input channels, or show this input channel.
    ax : matplotlib.axes.Axes, optional
        A subplot whose area the panels fill (it is replaced by them; the
        figure's title is left alone), instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        ``num_filters`` axes, each titled with its filter index.

    Examples
    --------
    >>> from sknet.layers import InputLayer, Conv2DLayer
    >>> from sknet.visualize import plot_conv_weights
    >>> layer = Conv2DLayer(InputLayer((None, 1, 8, 8)), num_filters=6, filter_size=3)
    >>> len(plot_conv_weights(layer).axes)
    6
    """
    W = layer.W.get_value() if hasattr(layer.W, "get_value") else np.asarray(layer.W)
    if W.ndim != 4:
        raise ValueError(f"plot_conv_weights needs a 4-D W (filters, channels, h, w); got shape {W.shape}")
    kernels = W.mean(axis=1) if channel == "mean" else W[:, channel]
    own_figure = ax is None
    fig, add = _panels(ax, figsize, *_grid(len(kernels)))
    for i, kernel in enumerate(kernels):
        panel = add(i + 1)
        panel.imshow(kernel, cmap="gray", interpolation="nearest")
        panel.set_title(str(i), fontsize=8)
        _no_ticks(panel)
    if own_figure:
        fig.suptitle("kernels" + (" (mean over channels)" if channel == "mean" else f" (channel {channel})"))
    return fig


def plot_conv_activity(layer, x, figsize=(6, 8), ax=None):
    """The feature maps a layer computes for one input image.

    Parameters
    ----------
    layer : Layer
        A layer with a 4-D output (e.g. a Conv2DLayer or a pooling layer)
        in a network with a single InputLayer.
    x : array of shape (1, channels, height, width)
        The input image.
    figsize : tuple of float
        Figure size in inches (unused with ``ax``).
    ax : matplotlib.axes.Axes, optional
        A subplot whose area the panels fill (it is replaced by them).

    Returns
    -------
    matplotlib.figure.Figure
        One axes for the input (titled 'input') and one per feature map, in
        channel order; the activations are computed deterministically.

    Examples
    --------
    >>> from sknet.layers import InputLayer, Conv2DLayer
    >>> from sknet.visualize import plot_conv_activity
    >>> layer = Conv2DLayer(InputLayer((None, 1, 6, 6)), num_filters=3, filter_size=3)
    >>> x = np.random.RandomState(0).rand(1, 1, 6, 6)
    >>> [ax.get_title() for ax in plot_conv_activity(layer, x).axes]
    ['input', '0', '1', '2']
    """
    x = _as_batch(x, "x")
    if x.shape[0] != 1:
        raise ValueError(f"x must hold exactly one image, shape (1, C, H, W); got {x.shape}")
    x_var = T.tensor4("x", dtype=backend.FLOATX)
    out = get_output(layer, x_var, deterministic=True)
    if out.ndim != 4:
        raise ValueError(f"plot_conv_activity needs a layer with a 4-D output; {layer!r} gives {out.ndim}-D")
    maps = pytensor.function([x_var], out, mode=backend.get_mode())(x)[0]
    fig, add = _panels(ax, figsize, *_grid(len(maps) + 1))
    for i, (title, image) in enumerate([("input", _image(x[0]))] + [(str(k), fmap) for k, fmap in enumerate(maps)]):
        panel = add(i + 1)
        panel.imshow(image, cmap="gray", interpolation="nearest")
        panel.set_title(title, fontsize=8)
        _no_ticks(panel)
    return fig


def _target_column(net, target):
    """Column of ``predict_proba`` for a class label (or an index when the net has no classes_)."""
    classes = getattr(net, "classes_", None)
    if classes is None:
        return int(target)
    hits = np.flatnonzero(np.asarray(classes) == target)
    if not len(hits):
        raise ValueError(f"target {target!r} is not one of net.classes_ {list(classes)}")
    return int(hits[0])


def occlusion_heatmap(net, x, target, square_length=7, fill_value=None):
    """Probability of the target class as a square hides each part of an image.

    For every pixel (i, j) the image is copied with the ``square_length`` x
    ``square_length`` square centred on (i, j) (clipped at the borders)
    painted with ``fill_value``, and ``net.predict_proba`` gives the
    probability of ``target``. Low values mark the parts the prediction
    relies on. The H copies of each row go through the net in one batch.

    Parameters
    ----------
    net : classifier
        Anything with ``predict_proba(X)`` taking (n, C, H, W) arrays.
    x : array of shape (1, C, H, W) or (C, H, W)
        One image.
    target : label or int
        A class label (an entry of ``net.classes_``), or a column of
        ``predict_proba`` when the net has no ``classes_``.
    square_length : int
        Side of the occluding square, in pixels.
    fill_value : None, float or array of shape (C,)
        Paint of the square; None uses the image's per-channel mean (a gray).

    Returns
    -------
    ndarray of shape (H, W)
        ``heat[i, j]`` is the target's probability with the square at (i, j).

    Examples
    --------
    >>> from sknet.visualize import occlusion_heatmap
    >>> class Bright:  # "probability" of class 1 = brightness of pixel (0, 0)
    ...     def predict_proba(self, X):
    ...         p = X[:, 0, 0, 0]
    ...         return np.stack([1 - p, p], axis=1)
    >>> occlusion_heatmap(Bright(), np.ones((1, 1, 3, 3)), 1, square_length=1, fill_value=0.0)
    array([[0., 1., 1.],
           [1., 1., 1.],
           [1., 1., 1.]])
    """
    x = _as_batch(x, "x")
    if x.shape[0] != 1:
        raise ValueError(f"x must hold exactly one image, shape (1, C, H, W); got {x.shape}")
    img = x[0]
    channels, height, width = img.shape
    if square_length < 1:
        raise ValueError(f"square_length must be at least 1; got {square_length}")
    if fill_value is None:
        fill_value = img.mean(axis=(1, 2))
    fill = np.broadcast_to(np.asarray(fill_value, dtype=img.dtype), (channels,))[:, None, None]
    column = _target_column(net, target)
    half = square_length // 2
    heat = np.zeros((height, width))
    for i in range(height):
        top, bottom = max(0, i - half), max(0, i - half + square_length)
        batch = np.repeat(img[None], width, axis=0)
        for j in range(width):
            left, right = max(0, j - half), max(0, j - half + square_length)
            batch[j, :, top:bottom, left:right] = fill
        heat[i] = np.asarray(net.predict_proba(batch))[:, column]
    return heat


def _heat_figure(X, heats, figsize, heat_title, cmap, vmin=None, vmax=None, ax=None):
    """Rows of (image, heat map, heat map over the image)."""
    n = len(X)
    width = figsize[0]
    height = figsize[1] if figsize[1] is not None else width * n / 3
    fig, add = _panels(ax, (width, height), n, 3)
    for k in range(n):
        img = _image(X[k])
        panels = [("image", True, False), (heat_title, False, True), ("overlay", True, True)]
        for c, (title, show_img, show_heat) in enumerate(panels):
            panel = add(3 * k + c + 1)
            if show_img:
                panel.imshow(img, cmap="gray", interpolation="nearest")
            if show_heat:
                panel.imshow(
                    heats[k], cmap=cmap, interpolation="nearest", vmin=vmin, vmax=vmax, alpha=0.6 if show_img else 1.0
                )
            panel.set_title(title, fontsize=8)
            _no_ticks(panel)
    return fig


def plot_occlusion(net, X, target, square_length=7, figsize=(9, None), ax=None):
    """Occlusion heat maps (see :func:`occlusion_heatmap`) beside their images.

    Parameters
    ----------
    net : classifier
        Anything with ``predict_proba(X)``.
    X : array of shape (n, C, H, W)
        The images, one figure row each.
    target : sequence of length n
        The class (label) to follow for each image.
    square_length : int
        Side of the occluding square, in pixels.
    figsize : tuple
        Width and height in inches; a None height gives each row a third of
        the width (unused with ``ax``).
    ax : matplotlib.axes.Axes, optional
        A subplot whose area the panels fill (it is replaced by them).

    Returns
    -------
    matplotlib.figure.Figure
        3 axes per image: the image, the heat map of p(target) on a fixed
        [0, 1] reversed-red scale (dark red = the square hid something the
        prediction needs, white = the prediction survives the occlusion),
        and the heat map over the image.

    Examples
    --------
    >>> from sknet.visualize import plot_occlusion
    >>> class Bright:
    ...     def predict_proba(self, X):
    ...         p = X[:, 0, 0, 0]
    ...         return np.stack([1 - p, p], axis=1)
    >>> fig = plot_occlusion(Bright(), np.ones((2, 1, 4, 4)), [1, 1], square_length=1)
    >>> len(fig.axes)
    6
    """
    X = _as_batch(X)
    target = np.asarray(target).reshape(-1)
    if len(target) != len(X):
        raise ValueError(f"need one target per image: {len(X)} images, {len(target)} targets")
    heats = [occlusion_heatmap(net, X[k : k + 1], target[k], square_length) for k in range(len(X))]
    return _heat_figure(X, heats, figsize, "p(target) occluded", "Reds_r", vmin=0.0, vmax=1.0, ax=ax)


def _input_and_output(net):
    layers = list(net.layers_.values())
    inputs = [layer for layer in get_all_layers(layers[-1]) if isinstance(layer, InputLayer)]
    if len(inputs) != 1:
        raise ValueError(f"saliency needs a net with one InputLayer; this one has {len(inputs)}")
    return inputs[0], layers[-1]


def saliency_map(net, X):
    """Gradient of each image's top class score with respect to its pixels.

    The score is the output layer's deterministic output for the class it
    ranks highest (a probability for a softmax classifier). The gradient is
    taken through the layer graph of ``net.layers_``; one function is
    compiled per call and runs on the whole batch (each image's score
    depends only on that image, so the gradient of their sum separates).

    Parameters
    ----------
    net : NeuralNet
        A fitted net: ``net.layers_`` maps names to layers, the last being
        the output layer, and the network has one InputLayer.
    X : array of shape (n, C, H, W)

    Returns
    -------
    ndarray of shape (n, C, H, W), float32
        The signed gradient; :func:`plot_saliency` shows its absolute value,
        maximised over channels.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from sknet.layers import InputLayer, DenseLayer, FlattenLayer
    >>> from sknet.visualize import saliency_map
    >>> l_in = InputLayer((None, 1, 2, 2))
    >>> W = np.array([[2.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    >>> l_out = DenseLayer(FlattenLayer(l_in), 2, W=W, b=np.zeros(2), nonlinearity=None)
    >>> net = SimpleNamespace(layers_={'input': l_in, 'output': l_out})
    >>> saliency_map(net, np.ones((1, 1, 2, 2)))[0, 0]  # class 0 wins (score 2 > 1)
    array([[2., 0.],
           [0., 0.]], dtype=float32)
    """
    X = _as_batch(X)
    l_in, l_out = _input_and_output(net)
    x_var = T.tensor(dtype=backend.FLOATX, shape=(None,) * X.ndim, name="x")
    out = get_output(l_out, {l_in: x_var}, deterministic=True)
    score = out.max(axis=1).sum()
    grad = pytensor.function([x_var], T.grad(score, x_var), mode=backend.get_mode())
    return np.asarray(grad(X))


def plot_saliency(net, X, figsize=(9, None), ax=None):
    """Saliency maps (see :func:`saliency_map`) beside their images.

    Parameters
    ----------
    net : NeuralNet
        A fitted net with one InputLayer, as :func:`saliency_map` needs.
    X : array of shape (n, C, H, W)
        The images to explain; each gets a row of three panels.
    figsize : (width, height) in inches
        A None height makes each image's row a third of the width high.
        Ignored when drawing into ``ax``.
    ax : matplotlib.axes.Axes, optional
        Divide this subplot's area into the panels instead of making a new
        figure; the subplot itself is removed.

    Returns
    -------
    matplotlib.figure.Figure
        3 axes per image: the image, the saliency ``max_c |d score / d x|``
        (bright = pixels whose change moves the top score most), and the
        saliency over the image.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from sknet.layers import InputLayer, DenseLayer
    >>> from sknet.visualize import plot_saliency
    >>> l_in = InputLayer((None, 1, 3, 3))
    >>> net = SimpleNamespace(layers_={'input': l_in, 'output': DenseLayer(l_in, 2)})
    >>> len(plot_saliency(net, np.ones((1, 1, 3, 3))).axes)
    3
    """
    X = _as_batch(X)
    heats = np.abs(saliency_map(net, X)).max(axis=1)
    return _heat_figure(X, heats, figsize, "saliency", "hot", ax=ax)
