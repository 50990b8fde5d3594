"""The layer table: exact text, parameter counts and receptive fields worked out by hand."""

import numpy as np
import pytest

from sknet import NeuralNet, NeuralNetClassifier, callbacks, nonlinearities
from sknet.layers import (
    Conv1DLayer,
    Conv2DLayer,
    DenseLayer,
    DropoutLayer,
    ElemwiseSumLayer,
    FlattenLayer,
    InputLayer,
    MaxPool1DLayer,
    MaxPool2DLayer,
    NonlinearityLayer,
    ReshapeLayer,
)
from sknet.summary import layer_table, receptive_fields, summary

TUTORIAL_CNN = [
    (InputLayer, {"shape": (None, 1, 28, 28)}),
    (Conv2DLayer, {"num_filters": 32, "filter_size": (5, 5)}),
    (MaxPool2DLayer, {"pool_size": (2, 2)}),
    (Conv2DLayer, {"num_filters": 32, "filter_size": (5, 5)}),
    (MaxPool2DLayer, {"pool_size": (2, 2)}),
    (DropoutLayer, {"p": 0.5}),
    (DenseLayer, {"num_units": 256}),
    (DropoutLayer, {"p": 0.5}),
    (DenseLayer, {"num_units": 10, "nonlinearity": nonlinearities.softmax}),
]

# Receptive fields by hand: conv 5 -> 5 (jump 1); pool 2 -> 5 + 1*1 = 6 (jump 2);
# conv 5 -> 6 + 4*2 = 14 (jump 2); pool 2 -> 14 + 1*2 = 16 (jump 4).
# Params: 32*1*25+32 = 832; 32*32*25+32 = 25632; 32*4*4*256+256 = 131328; 256*10+10 = 2570.
TUTORIAL_TEXT = """\
#  name        type            output shape        params  receptive field
-  ----------  --------------  ------------------  ------  ---------------
0  input0      InputLayer      (None, 1, 28, 28)        0
1  conv2d1     Conv2DLayer     (None, 32, 24, 24)     832  5x5
2  maxpool2d2  MaxPool2DLayer  (None, 32, 12, 12)       0  6x6
3  conv2d3     Conv2DLayer     (None, 32, 8, 8)     25632  14x14
4  maxpool2d4  MaxPool2DLayer  (None, 32, 4, 4)         0  16x16
5  dropout5    DropoutLayer    (None, 32, 4, 4)         0
6  dense6      DenseLayer      (None, 256)         131328
7  dropout7    DropoutLayer    (None, 256)              0
8  dense8      DenseLayer      (None, 10)            2570
total params: 160362"""


def test_tutorial_cnn_exact_text_before_fit():
    net = NeuralNetClassifier(TUTORIAL_CNN)
    assert net.summary() == TUTORIAL_TEXT
    # Only a preview: the net is still unfitted, nothing was stored.
    assert not hasattr(net, "layers_")


def test_dense_net_has_no_receptive_field_column():
    l_out = DenseLayer(DenseLayer(InputLayer((None, 4), name="in"), 3, name="hidden"), 2, name="out")
    assert summary(l_out) == (
        "#  name    type        output shape  params\n"
        "-  ------  ----------  ------------  ------\n"
        "0  in      InputLayer  (None, 4)          0\n"
        "1  hidden  DenseLayer  (None, 3)         15\n"
        "2  out     DenseLayer  (None, 2)          8\n"
        "total params: 23"
    )


class TestReceptiveFields:
    def test_conv_pool_conv(self):
        # conv 3 -> 3 (jump 1); pool 2 -> 3 + 1*1 = 4 (jump 2); conv 3 -> 4 + 2*2 = 8 (jump 2)
        l_in = InputLayer((None, 1, 12, 12))
        c1 = Conv2DLayer(l_in, 2, 3)
        p1 = MaxPool2DLayer(c1, 2)
        c2 = Conv2DLayer(p1, 2, 3)
        fields = receptive_fields(c2)
        assert fields[l_in] == ((1, 1), (1, 1))
        assert fields[c1] == ((3, 3), (1, 1))
        assert fields[p1] == ((4, 4), (2, 2))
        assert fields[c2] == ((8, 8), (2, 2))

    def test_strides_rectangles_and_overlapping_pools(self):
        # conv (3, 5) stride 2 -> (3, 5), jump 2; conv 3 -> (3+2*2, 5+2*2) = (7, 9);
        # pool 3 stride 1 -> (7+2*2, 9+2*2) = (11, 13), jump stays 2.
        l = Conv2DLayer(InputLayer((None, 1, 32, 32)), 2, (3, 5), stride=2)
        l = Conv2DLayer(l, 2, 3, pad="same")
        l = MaxPool2DLayer(l, 3, stride=1)
        assert receptive_fields(l)[l] == ((11, 13), (2, 2))
        assert layer_table(l)[-1]["receptive_field"] == (11, 13)

    def test_dilation(self):
        class Dilated(Conv2DLayer):
            def __init__(self, incoming, dilation, **kwargs):
                super().__init__(incoming, 1, 3, pad="same", **kwargs)
                self.filter_dilation = (dilation, dilation)

        # 3x3 dilated by 2 spans 5 pixels; then by 4 on top: 5 + 2*4 = 13.
        l = Dilated(Dilated(InputLayer((None, 1, 16, 16)), 2), 4)
        assert receptive_fields(l)[l] == ((13, 13), (1, 1))

    def test_one_dimensional(self):
        # conv 4 -> 4; pool 3 -> 4 + 2 = 6 (jump 3); conv 2 -> 6 + 1*3 = 9
        l = Conv1DLayer(MaxPool1DLayer(Conv1DLayer(InputLayer((None, 2, 40)), 3, 4), 3), 3, 2)
        assert receptive_fields(l)[l] == ((9,), (3,))
        assert "9  " not in summary(l) and summary(l).splitlines()[-2].endswith("  9")

    def test_shape_keeping_layers_and_merges_pass_fields_on(self):
        l_in = InputLayer((None, 1, 16, 16))
        small = Conv2DLayer(l_in, 2, 3, pad="same")
        large = Conv2DLayer(l_in, 2, 5, pad="same")
        merged = NonlinearityLayer(ElemwiseSumLayer([small, large]))
        dropped = DropoutLayer(merged)
        top = Conv2DLayer(dropped, 2, 3)  # 5 + 2 = 7
        fields = receptive_fields(top)
        assert fields[merged] == ((5, 5), (1, 1))
        assert fields[dropped] == ((5, 5), (1, 1))
        assert fields[top] == ((7, 7), (1, 1))

    def test_unknown_after_reshape_or_dense(self):
        l = FlattenLayer(Conv2DLayer(InputLayer((None, 1, 6, 6)), 1, 3))
        assert receptive_fields(l)[l] is None
        conv = Conv2DLayer(ReshapeLayer(DenseLayer(l, 36), ([0], 1, 6, 6)), 1, 3)
        assert receptive_fields(conv)[conv] is None
        assert summary(conv).splitlines()[-2].endswith("?")

    def test_dense_input_has_none(self):
        l_in = InputLayer((None, 5))
        assert receptive_fields(DenseLayer(l_in, 2))[l_in] is None


class TestLayerTable:
    def test_rows(self):
        l = DenseLayer(Conv2DLayer(InputLayer((None, 3, 5, 5)), 4, 3, b=None), 2)
        rows = layer_table(l)
        assert [r["name"] for r in rows] == ["input0", "conv2d1", "dense2"]
        assert [r["type"] for r in rows] == ["InputLayer", "Conv2DLayer", "DenseLayer"]
        assert [r["output_shape"] for r in rows] == [(None, 3, 5, 5), (None, 4, 3, 3), (None, 2)]
        assert [r["params"] for r in rows] == [0, 4 * 3 * 9, 36 * 2 + 2]
        assert [r["receptive_field"] for r in rows] == [None, (3, 3), None]

    def test_dict_keys_are_names(self):
        l_in = InputLayer((None, 2))
        rows = layer_table({"x": l_in, "y": DenseLayer(l_in, 1)})
        assert [r["name"] for r in rows] == ["x", "y"]

    def test_shared_params_count_once_in_total(self):
        l_in = InputLayer((None, 3))
        first = DenseLayer(l_in, 3, b=None)
        second = DenseLayer(first, 3, W=first.W, b=None)
        text = summary(second)
        assert [r["params"] for r in layer_table(second)] == [0, 9, 9]
        assert text.endswith("total params: 9")


class TestEstimatorSummary:
    def test_fitted_net_uses_its_layers(self):
        X = np.random.RandomState(0).rand(32, 1, 6, 6).astype("float32")
        y = np.arange(32) % 2
        net = NeuralNetClassifier(
            [(InputLayer, {}), (Conv2DLayer, {"num_filters": 2, "filter_size": 3}), (DenseLayer, {})],
            max_epochs=1,
            train_split=False,
            random_state=0,
        )
        net.fit(X, y)
        text = net.summary()
        assert text == summary(net.layers_)
        assert "conv2d1  Conv2DLayer  (None, 2, 4, 4)      20  3x3" in text
        assert "dense2   DenseLayer   (None, 2)            66" in text

    def test_unbuildable_spec_says_what_is_missing(self):
        net = NeuralNetClassifier([(InputLayer, {}), (DenseLayer, {})])
        with pytest.raises(ValueError, match="summary\\(\\) could not build the layers.*shape"):
            net.summary()

    def test_routed_layer_params_are_used(self):
        net = NeuralNet([("input", InputLayer), ("hidden", DenseLayer)], input__shape=(None, 3), hidden__num_units=7)
        assert "hidden  DenseLayer  (None, 7)         28" in net.summary()


class TestPrintLayerInfo:
    def test_prints_once_per_initialization(self):
        lines = []
        cb = callbacks.PrintLayerInfo(sink=lines.append)
        net = NeuralNetClassifier(TUTORIAL_CNN)
        cb.on_train_begin(net)
        cb.on_train_begin(net)
        assert lines == [TUTORIAL_TEXT]

    def test_verbose_two_adds_it_once(self):
        net = NeuralNet([(InputLayer, {"shape": (None, 3)}), (DenseLayer, {"num_units": 2})], verbose=2)
        net.initialize()
        assert sum(isinstance(cb, callbacks.PrintLayerInfo) for cb in net.callbacks_.values()) == 1
        explicit = net.set_params(callbacks=[callbacks.PrintLayerInfo()]).initialize()
        assert sum(isinstance(cb, callbacks.PrintLayerInfo) for cb in explicit.callbacks_.values()) == 1
        quiet = NeuralNet(net.layers, verbose=0).initialize()
        assert not any(isinstance(cb, callbacks.PrintLayerInfo) for cb in quiet.callbacks_.values())

    def test_given_callback_prints_to_the_given_sink_at_any_verbosity(self):
        lines = []
        net = NeuralNet(
            [(InputLayer, {"shape": (None, 3)}), (DenseLayer, {"num_units": 2})],
            callbacks=[callbacks.PrintLayerInfo(sink=lines.append)],
            verbose=0,
        ).initialize()
        net.callbacks_["printlayerinfo"].on_train_begin(net)
        assert lines == [net.summary()]
