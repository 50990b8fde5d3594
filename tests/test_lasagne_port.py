"""Lasagne-era scripts run with only their imports changed.

Two scripts written the way Lasagne's own ones are, calling the same API in
the same order, with ``import sknet as lasagne`` and ``import pytensor as
theano`` in place of the original imports:

* Lasagne's MNIST example (``examples/mnist.py``): ``build_mlp``,
  ``build_custom_mlp``, ``build_cnn``, ``iterate_minibatches`` and the
  training ``main`` with ``nesterov_momentum``, on a subset of MNIST (or
  scikit-learn's digits scaled to 28x28 where MNIST is not found); each
  model must learn it.
* A Lasagne Recipes model-zoo network, ResNet-50 (``modelzoo/resnet50.py``:
  ``build_simple_block``, ``build_residual_block``, ``build_model``), built
  at its 224x224 input and trained for one step.
"""

import time

import numpy as np

# --- the only lines that differ from a Lasagne script ---------------------
import pytensor as theano
import pytensor.tensor as T
import pytest

import sknet as lasagne
from sknet.layers import (
    BatchNormLayer,
    DenseLayer,
    ElemwiseSumLayer,
    InputLayer,
    NonlinearityLayer,
)
from sknet.layers import Conv2DLayer as ConvLayer
from sknet.layers import Pool2DLayer as PoolLayer
from sknet.nonlinearities import rectify, softmax

# ---------------------------------------------------------------------------
# The MNIST example
# ---------------------------------------------------------------------------


def load_dataset():
    """Train, validation and test splits of 1x28x28 images in [0, 1].

    MNIST when ``sknet.datasets.load_mnist`` finds it (``$SKNET_DATA``), a
    subset so the test stays short; otherwise scikit-learn's 8x8 digits,
    each pixel repeated 3x3 and padded to 28x28 (nothing is downloaded).
    """
    from sknet.datasets import load_mnist

    try:
        mnist = load_mnist()
        images = np.concatenate([mnist.X_train[:2000], mnist.X_test[:1000]])
        labels = np.concatenate([mnist.y_train[:2000], mnist.y_test[:1000]])
    except FileNotFoundError:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = np.kron(digits.images / 16.0, np.ones((3, 3)))
        images = np.pad(images, ((0, 0), (2, 2), (2, 2)))[:, None]
        labels = digits.target
        order = np.random.RandomState(0).permutation(len(labels))
        images, labels = images[order], labels[order]
    images = images.astype(theano.config.floatX)
    labels = labels.astype("int32")
    n = len(labels)
    train, val = int(0.6 * n), int(0.8 * n)
    return (images[:train], labels[:train], images[train:val], labels[train:val], images[val:], labels[val:])


def build_mlp(input_var=None):
    l_in = lasagne.layers.InputLayer(shape=(None, 1, 28, 28), input_var=input_var)
    l_in_drop = lasagne.layers.DropoutLayer(l_in, p=0.2)
    l_hid1 = lasagne.layers.DenseLayer(
        l_in_drop, num_units=800, nonlinearity=lasagne.nonlinearities.rectify, W=lasagne.init.GlorotUniform()
    )
    l_hid1_drop = lasagne.layers.DropoutLayer(l_hid1, p=0.5)
    l_hid2 = lasagne.layers.DenseLayer(l_hid1_drop, num_units=800, nonlinearity=lasagne.nonlinearities.rectify)
    l_hid2_drop = lasagne.layers.DropoutLayer(l_hid2, p=0.5)
    l_out = lasagne.layers.DenseLayer(l_hid2_drop, num_units=10, nonlinearity=lasagne.nonlinearities.softmax)
    return l_out


def build_custom_mlp(input_var=None, depth=2, width=800, drop_input=0.2, drop_hidden=0.5):
    network = lasagne.layers.InputLayer(shape=(None, 1, 28, 28), input_var=input_var)
    if drop_input:
        network = lasagne.layers.dropout(network, p=drop_input)
    nonlin = lasagne.nonlinearities.rectify
    for _ in range(depth):
        network = lasagne.layers.DenseLayer(network, width, nonlinearity=nonlin)
        if drop_hidden:
            network = lasagne.layers.dropout(network, p=drop_hidden)
    softmax_ = lasagne.nonlinearities.softmax
    network = lasagne.layers.DenseLayer(network, 10, nonlinearity=softmax_)
    return network


def build_cnn(input_var=None):
    network = lasagne.layers.InputLayer(shape=(None, 1, 28, 28), input_var=input_var)
    network = lasagne.layers.Conv2DLayer(
        network,
        num_filters=32,
        filter_size=(5, 5),
        nonlinearity=lasagne.nonlinearities.rectify,
        W=lasagne.init.GlorotUniform(),
    )
    network = lasagne.layers.MaxPool2DLayer(network, pool_size=(2, 2))
    network = lasagne.layers.Conv2DLayer(
        network, num_filters=32, filter_size=(5, 5), nonlinearity=lasagne.nonlinearities.rectify
    )
    network = lasagne.layers.MaxPool2DLayer(network, pool_size=(2, 2))
    network = lasagne.layers.DenseLayer(
        lasagne.layers.dropout(network, p=0.5), num_units=256, nonlinearity=lasagne.nonlinearities.rectify
    )
    network = lasagne.layers.DenseLayer(
        lasagne.layers.dropout(network, p=0.5), num_units=10, nonlinearity=lasagne.nonlinearities.softmax
    )
    return network


def iterate_minibatches(inputs, targets, batchsize, shuffle=False):
    assert len(inputs) == len(targets)
    if shuffle:
        indices = np.arange(len(inputs))
        np.random.shuffle(indices)
    for start_idx in range(0, len(inputs) - batchsize + 1, batchsize):
        if shuffle:
            excerpt = indices[start_idx : start_idx + batchsize]
        else:
            excerpt = slice(start_idx, start_idx + batchsize)
        yield inputs[excerpt], targets[excerpt]


def main(model="mlp", num_epochs=500, batchsize=100):
    """The example's main(); returns the per-epoch (train loss, val accuracy)
    and the final test accuracy instead of printing them."""
    X_train, y_train, X_val, y_val, X_test, y_test = load_dataset()
    input_var = T.tensor4("inputs")
    target_var = T.ivector("targets")
    if model == "mlp":
        network = build_mlp(input_var)
    elif model.startswith("custom_mlp:"):
        depth, width, drop_in, drop_hid = model.split(":", 1)[1].split(",")
        network = build_custom_mlp(input_var, int(depth), int(width), float(drop_in), float(drop_hid))
    elif model == "cnn":
        network = build_cnn(input_var)
    else:
        raise ValueError(model)

    prediction = lasagne.layers.get_output(network)
    loss = lasagne.objectives.categorical_crossentropy(prediction, target_var)
    loss = loss.mean()
    params = lasagne.layers.get_all_params(network, trainable=True)
    updates = lasagne.updates.nesterov_momentum(loss, params, learning_rate=0.01, momentum=0.9)
    test_prediction = lasagne.layers.get_output(network, deterministic=True)
    test_loss = lasagne.objectives.categorical_crossentropy(test_prediction, target_var)
    test_loss = test_loss.mean()
    test_acc = T.mean(T.eq(T.argmax(test_prediction, axis=1), target_var), dtype=theano.config.floatX)
    train_fn = theano.function([input_var, target_var], loss, updates=updates)
    val_fn = theano.function([input_var, target_var], [test_loss, test_acc])

    history = []
    for epoch in range(num_epochs):
        train_err, train_batches = 0, 0
        for inputs, targets in iterate_minibatches(X_train, y_train, batchsize, shuffle=True):
            train_err += train_fn(inputs, targets)
            train_batches += 1
        val_acc, val_batches = 0, 0
        for inputs, targets in iterate_minibatches(X_val, y_val, batchsize, shuffle=False):
            err, acc = val_fn(inputs, targets)
            val_acc += acc
            val_batches += 1
        history.append((train_err / train_batches, val_acc / val_batches))
    test_acc_total, test_batches = 0, 0
    for inputs, targets in iterate_minibatches(X_test, y_test, batchsize, shuffle=False):
        err, acc = val_fn(inputs, targets)
        test_acc_total += acc
        test_batches += 1
    # the example's own way to save a model, and to load it back
    values = lasagne.layers.get_all_param_values(network)
    lasagne.layers.set_all_param_values(network, values)
    return history, test_acc_total / test_batches, network


@pytest.mark.slow
@pytest.mark.parametrize(
    "model, epochs, min_acc",
    [
        # 1,800 MNIST training images (or 1,078 digits); chance is 0.1
        ("mlp", 12, 0.8),
        ("custom_mlp:2,200,0.1,0.2", 12, 0.8),
        ("cnn", 8, 0.85),
    ],
)
def test_mnist_example_trains(model, epochs, min_acc):
    np.random.seed(0)
    lasagne.random.seed(0)
    history, test_acc, network = main(model, num_epochs=epochs)
    losses = [loss for loss, _ in history]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert history[-1][1] >= min_acc, history
    assert test_acc >= min_acc, test_acc
    assert lasagne.layers.get_output_shape(network) == (None, 10)


# ---------------------------------------------------------------------------
# Lasagne Recipes model zoo: ResNet-50
# ---------------------------------------------------------------------------


def build_simple_block(incoming_layer, names, num_filters, filter_size, stride, pad, use_bias=False, nonlin=rectify):
    net = []
    net.append(
        (
            names[0],
            ConvLayer(incoming_layer, num_filters, filter_size, stride, pad, flip_filters=False, nonlinearity=None)
            if use_bias
            else ConvLayer(
                incoming_layer, num_filters, filter_size, stride, pad, b=None, flip_filters=False, nonlinearity=None
            ),
        )
    )
    net.append((names[1], BatchNormLayer(net[-1][1])))
    if nonlin is not None:
        net.append((names[2], NonlinearityLayer(net[-1][1], nonlinearity=nonlin)))
    return dict(net), net[-1][0]


def build_residual_block(
    incoming_layer, ratio_n_filter=1.0, ratio_size=1.0, has_left_branch=False, upscale_factor=4, ix=""
):
    simple_block_name_pattern = ["res%s_branch%i%s", "bn%s_branch%i%s", "res%s_branch%i%s_relu"]
    net = {}
    # right branch: 1x1 (maybe strided), 3x3, 1x1 up to upscale_factor times the filters
    net_tmp, last_layer_name = build_simple_block(
        incoming_layer,
        [s % (ix, 2, "a") for s in simple_block_name_pattern],
        int(lasagne.layers.get_output_shape(incoming_layer)[1] * ratio_n_filter),
        1,
        int(1.0 / ratio_size),
        0,
    )
    net.update(net_tmp)
    net_tmp, last_layer_name = build_simple_block(
        net[last_layer_name],
        [s % (ix, 2, "b") for s in simple_block_name_pattern],
        lasagne.layers.get_output_shape(net[last_layer_name])[1],
        3,
        1,
        1,
    )
    net.update(net_tmp)
    net_tmp, last_layer_name = build_simple_block(
        net[last_layer_name],
        [s % (ix, 2, "c") for s in simple_block_name_pattern],
        lasagne.layers.get_output_shape(net[last_layer_name])[1] * upscale_factor,
        1,
        1,
        0,
        nonlin=None,
    )
    net.update(net_tmp)
    right_tail = net[last_layer_name]
    left_tail = incoming_layer
    # left branch: the projection shortcut
    if has_left_branch:
        net_tmp, last_layer_name = build_simple_block(
            incoming_layer,
            [s % (ix, 1, "") for s in simple_block_name_pattern],
            int(lasagne.layers.get_output_shape(incoming_layer)[1] * 4 * ratio_n_filter),
            1,
            int(1.0 / ratio_size),
            0,
            nonlin=None,
        )
        net.update(net_tmp)
        left_tail = net[last_layer_name]
    net["res%s" % ix] = ElemwiseSumLayer([left_tail, right_tail], coeffs=1)
    net["res%s_relu" % ix] = NonlinearityLayer(net["res%s" % ix], nonlinearity=rectify)
    return net, "res%s_relu" % ix


def build_model():
    net = {}
    net["input"] = InputLayer((None, 3, 224, 224))
    sub_net, parent_layer_name = build_simple_block(
        net["input"], ["conv1", "bn_conv1", "conv1_relu"], 64, 7, 2, 3, use_bias=True
    )
    net.update(sub_net)
    net["pool1"] = PoolLayer(net[parent_layer_name], pool_size=3, stride=2, pad=0, mode="max", ignore_border=False)
    block_size = list("abc")
    parent_layer_name = "pool1"
    for c in block_size:
        if c == "a":
            sub_net, parent_layer_name = build_residual_block(net[parent_layer_name], 1, 1, True, 4, ix="2%s" % c)
        else:
            sub_net, parent_layer_name = build_residual_block(
                net[parent_layer_name], 1.0 / 4, 1, False, 4, ix="2%s" % c
            )
        net.update(sub_net)
    block_size = list("abcd")
    for c in block_size:
        if c == "a":
            sub_net, parent_layer_name = build_residual_block(
                net[parent_layer_name], 1.0 / 2, 1.0 / 2, True, 4, ix="3%s" % c
            )
        else:
            sub_net, parent_layer_name = build_residual_block(
                net[parent_layer_name], 1.0 / 4, 1, False, 4, ix="3%s" % c
            )
        net.update(sub_net)
    block_size = list("abcdef")
    for c in block_size:
        if c == "a":
            sub_net, parent_layer_name = build_residual_block(
                net[parent_layer_name], 1.0 / 2, 1.0 / 2, True, 4, ix="4%s" % c
            )
        else:
            sub_net, parent_layer_name = build_residual_block(
                net[parent_layer_name], 1.0 / 4, 1, False, 4, ix="4%s" % c
            )
        net.update(sub_net)
    block_size = list("abc")
    for c in block_size:
        if c == "a":
            sub_net, parent_layer_name = build_residual_block(
                net[parent_layer_name], 1.0 / 2, 1.0 / 2, True, 4, ix="5%s" % c
            )
        else:
            sub_net, parent_layer_name = build_residual_block(
                net[parent_layer_name], 1.0 / 4, 1, False, 4, ix="5%s" % c
            )
        net.update(sub_net)
    net["pool5"] = PoolLayer(
        net[parent_layer_name], pool_size=7, stride=1, pad=0, mode="average_exc_pad", ignore_border=False
    )
    net["fc1000"] = DenseLayer(net["pool5"], num_units=1000, nonlinearity=None)
    net["prob"] = NonlinearityLayer(net["fc1000"], nonlinearity=softmax)
    return net


def test_resnet50_builds_with_the_model_zoo_shapes():
    net = build_model()
    assert lasagne.layers.get_output_shape(net["pool1"]) == (None, 64, 56, 56)
    assert lasagne.layers.get_output_shape(net["res2c_relu"]) == (None, 256, 56, 56)
    assert lasagne.layers.get_output_shape(net["res3d_relu"]) == (None, 512, 28, 28)
    assert lasagne.layers.get_output_shape(net["res4f_relu"]) == (None, 1024, 14, 14)
    assert lasagne.layers.get_output_shape(net["res5c_relu"]) == (None, 2048, 7, 7)
    assert lasagne.layers.get_output_shape(net["prob"]) == (None, 1000)
    # ResNet-50's published size: 25.6 M parameters, plus the BN statistics
    n_params = lasagne.layers.count_params(net["prob"], trainable=True)
    assert 25.5e6 < n_params < 25.7e6, n_params
    stats = lasagne.layers.get_all_params(net["prob"], batch_norm_stat=True)
    assert len(stats) == 2 * 53


@pytest.mark.slow
def test_resnet50_trains_one_step():
    np.random.seed(0)
    lasagne.random.seed(0)
    net = build_model()
    input_var = net["input"].input_var
    target_var = T.ivector("targets")
    prediction = lasagne.layers.get_output(net["prob"])
    loss = lasagne.objectives.categorical_crossentropy(prediction, target_var).mean()
    params = lasagne.layers.get_all_params(net["prob"], trainable=True)
    updates = lasagne.updates.nesterov_momentum(loss, params, learning_rate=0.01, momentum=0.9)
    start = time.perf_counter()
    train_fn = theano.function([input_var, target_var], loss, updates=updates)
    compile_s = time.perf_counter() - start
    X = np.random.RandomState(0).rand(2, 3, 224, 224).astype(theano.config.floatX)
    y = np.array([3, 997], dtype="int32")
    W_before = net["fc1000"].W.get_value().copy()
    mean_before = net["bn_conv1"].mean.get_value().copy()
    start = time.perf_counter()
    loss_value = float(train_fn(X, y))
    step_s = time.perf_counter() - start
    # an untrained 1000-way softmax starts near log(1000)
    assert np.isfinite(loss_value) and 3.0 < loss_value < 12.0, loss_value
    assert not np.allclose(net["fc1000"].W.get_value(), W_before)
    assert not np.allclose(net["bn_conv1"].mean.get_value(), mean_before)
    print(f"ResNet-50: compile {compile_s:.0f} s, one step (batch 2) {step_s:.1f} s")
