"""nolearn's layer spec conveniences: dotted class names, references by layer name, layer_wrapper,
grad_scale, fixed batch sizes, and the ``layers_`` accessors."""

import numpy as np
import pytensor.tensor as T
import pytest

from sknet import NeuralNet, NeuralNetClassifier
from sknet.compile import Layers, build_layers, compile_predict, compile_train, grad_scale
from sknet.layers import DenseLayer, InputLayer, NonlinearityLayer, RecurrentLayer
from sknet.objectives import squared_error
from sknet.updates import sgd
from sknet.validation import check_input_shapes


def test_layer_classes_as_dotted_strings():
    net = NeuralNet(
        [("lasagne.layers.InputLayer", {"shape": (None, 3)}), ("sknet.layers.DenseLayer", {"num_units": 2})]
    ).initialize()
    assert [type(layer) for layer in net.layers_.values()] == [InputLayer, DenseLayer]
    assert list(net.layers_) == ["input0", "dense1"]
    # nolearn's legacy (name, class) form with prefix_param routing
    legacy = NeuralNet(
        [("input", "lasagne.layers.InputLayer"), ("output", "lasagne.layers.DenseLayer")],
        input_shape=(None, 3),
        output_num_units=4,
    ).initialize()
    assert legacy.layers_["output"].output_shape == (None, 4)
    with pytest.raises(ValueError, match="Could not find the layer class 'lasagne.layers.DensLayer'"):
        NeuralNet([("lasagne.layers.InputLayer", {"shape": (None, 3)}), ("lasagne.layers.DensLayer", {})]).initialize()


def test_w_by_layer_name_shares_the_parameter(digits):
    X, y = digits
    spec = [
        (InputLayer, {}),
        (DenseLayer, {"name": "h1", "num_units": 64}),
        (DenseLayer, {"name": "h2", "num_units": 64, "W": "h1"}),
        (DenseLayer, {"name": "out"}),
    ]
    with pytest.raises(ValueError, match="has no parameter"):
        build_layers(
            [
                (InputLayer, {"shape": (None, 64)}),
                (NonlinearityLayer, {"name": "n"}),
                (DenseLayer, {"num_units": 2, "W": "n"}),
            ]
        )
    net = NeuralNetClassifier(spec, max_epochs=3, random_state=0, update__learning_rate=0.01)
    before = None
    net.initialize(X, y)
    before = net.layers_["h1"].W.get_value()
    net.set_params(warm_start=True).fit(X, y)
    assert net.layers_["h2"].W is net.layers_["h1"].W
    assert not np.allclose(net.layers_["h1"].W.get_value(), before)  # trained, once per step
    assert [p.name for p in net.get_all_params()].count("h1.W") == 1  # counted once
    assert net.summary().endswith(f"total params: {64 * 64 + 64 + 64 + 64 * 10 + 10}")


def test_mask_input_by_layer_name():
    spec = [
        (InputLayer, {"name": "seq", "shape": (None, 5, 3)}),
        (InputLayer, {"name": "mask", "shape": (None, 5)}),
        (
            RecurrentLayer,
            {"name": "rnn", "incoming": "seq", "num_units": 4, "mask_input": "mask", "only_return_final": True},
        ),
    ]
    layers = build_layers(spec)
    assert layers["rnn"].input_layers[1] is layers["mask"]
    predict = compile_predict(layers)
    x = np.random.RandomState(0).randn(2, 5, 3).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "float32")
    short = build_layers(
        [
            (InputLayer, {"name": "seq", "shape": (None, 3, 3)}),
            (
                RecurrentLayer,
                {
                    "name": "rnn",
                    "num_units": 4,
                    "only_return_final": True,
                    "W_in_to_hid": layers["rnn"].W_in_to_hid,
                    "W_hid_to_hid": layers["rnn"].W_hid_to_hid,
                    "b": layers["rnn"].b,
                },
            ),
        ]
    )
    # the masked steps change nothing: the state is the one after the first three steps
    np.testing.assert_allclose(predict(x, mask)[0], compile_predict(short)(x[:1, :3])[0], rtol=1e-5, atol=1e-6)


def test_layer_wrapper_and_grad_scale(digits):
    X, y = digits
    # a wrapper returning the layer itself (grad_scale 0 freezes it) and one returning a new layer
    spec = [
        (InputLayer, {}),
        (DenseLayer, {"name": "frozen", "num_units": 16, "layer_wrapper": lambda l: grad_scale(l, 0)}),
        (
            DenseLayer,
            {
                "name": "hidden",
                "num_units": 16,
                "nonlinearity": None,
                "layer_wrapper": lambda l: NonlinearityLayer(l, name="relu"),
            },
        ),
        (DenseLayer, {"name": "out"}),
    ]
    net = NeuralNetClassifier(spec, max_epochs=2, random_state=0, update__learning_rate=0.01).initialize(X, y)
    assert list(net.layers_) == ["input0", "frozen", "hidden", "LW_hidden", "out"]
    assert net.layers_["out"].input_layer is net.layers_["LW_hidden"]
    frozen, hidden = net.layers_["frozen"].W.get_value(), net.layers_["hidden"].W.get_value()
    net.set_params(warm_start=True).fit(X, y)
    np.testing.assert_array_equal(net.layers_["frozen"].W.get_value(), frozen)
    assert not np.allclose(net.layers_["hidden"].W.get_value(), hidden)


def test_grad_scale_multiplies_the_step():
    def step(scale):
        layers = build_layers(
            [
                (InputLayer, {"shape": (None, 2)}),
                (DenseLayer, {"num_units": 1, "nonlinearity": None, "W": np.ones((2, 1), "float32")}),
            ]
        )
        if scale is not None:
            grad_scale(layers["dense1"], scale)
        train, _ = compile_train(layers, T.matrix("y"), squared_error, sgd, {"learning_rate": 0.1})
        train(np.array([[1.0, 2.0]], "float32"), np.array([[0.0]], "float32"))
        return layers["dense1"].W.get_value() - 1

    full = step(None)
    np.testing.assert_allclose(full, [[-0.6], [-1.2]], rtol=1e-6)  # -0.1 * 2 * 3 * x
    np.testing.assert_allclose(step(0.25), 0.25 * full, rtol=1e-6)


def test_fixed_batch_size_input_accepts_any_number_of_samples(digits):
    X, y = digits
    spec = [(InputLayer, {"shape": (32, 64)}), (DenseLayer, {"num_units": 16}), (DenseLayer, {})]
    net = NeuralNetClassifier(spec, max_epochs=2, random_state=0).fit(X, y)
    assert net.predict(X[:7]).shape == (7,)
    check_input_shapes(net._inputs, X[:5])  # axis 0 is free; the other axes are still checked
    with pytest.raises(ValueError, match=r"expects data of shape \(32, 64\)"):
        check_input_shapes(net._inputs, X[:7, :10])


def test_layers_indexable_by_name_position_and_slice():
    net = NeuralNet(
        [
            (InputLayer, {"shape": (None, 3)}),
            (DenseLayer, {"num_units": 4}),
            (DenseLayer, {"name": "out", "num_units": 2}),
        ]
    ).initialize()
    layers = net.layers_
    assert isinstance(layers, Layers) and isinstance(layers, dict)
    assert layers[0] is layers["input0"] and layers[-1] is layers["out"] and layers[1] is layers["dense1"]
    assert list(layers[1:]) == ["dense1", "out"] and isinstance(layers[1:], Layers)
    assert "out" in layers and list(layers.keys()) == ["input0", "dense1", "out"]
    assert net.get_all_layers() == [layers["input0"], layers["dense1"], layers["out"]]
    assert [p.name for p in net.get_all_params(trainable=True)] == ["dense1.W", "dense1.b", "out.W", "out.b"]
    with pytest.raises(IndexError):
        layers[3]
    # a prebuilt network's layers too
    out = DenseLayer(InputLayer((None, 3), name="in"), 2, name="out")
    assert NeuralNet(out).initialize().layers_[-1].name == "out"


def test_shared_learning_rate_changed_by_a_hook():
    # nolearn tutorials' AdjustVariable: the learning rate is a shared variable that a hook sets
    import pytensor

    lr = pytensor.shared(np.float32(0.1))
    seen = []

    def adjust(net, history):
        seen.append(net.layers_["dense1"].W.get_value())
        lr.set_value(np.float32(0.0))

    net = NeuralNet(
        [(InputLayer, {"shape": (None, 2)}), (DenseLayer, {"num_units": 1, "nonlinearity": None})],
        update_learning_rate=lr,
        update_momentum=0.0,  # nesterov's velocity would carry on moving the weights after the rate is 0
        max_epochs=3,
        train_split=False,
        on_epoch_finished=[adjust],
    )
    net.fit(np.ones((10, 2), "float32"), np.zeros((10, 1), "float32"))
    assert not np.array_equal(seen[0], np.zeros_like(seen[0])) and len(seen) == 3
    np.testing.assert_array_equal(seen[1], seen[0])  # the rate set to 0 by the hook stopped the updates
    np.testing.assert_array_equal(seen[2], seen[0])
