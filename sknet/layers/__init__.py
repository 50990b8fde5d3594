"""Lasagne-compatible layers on PyTensor: ``from sknet.layers import DenseLayer``."""

from .base import Layer, MergeLayer
from .conv import (
    Conv1DLayer,
    Conv2DLayer,
    Deconv2DLayer,
    TransposedConv2DLayer,
)
from .conv3d import Conv3DLayer, Deconv3DLayer, TransposedConv3DLayer
from .dense import DenseLayer, NINLayer
from .dilated import DilatedConv2DLayer
from .embedding import EmbeddingLayer
from .helper import (
    count_params,
    get_all_layers,
    get_all_param_values,
    get_all_params,
    get_output,
    get_output_shape,
    set_all_param_values,
)
from .input import InputLayer
from .local import LocallyConnected2DLayer
from .merge import (
    ConcatLayer,
    ElemwiseMergeLayer,
    ElemwiseSumLayer,
    autocrop,
    autocrop_array_shapes,
    concat,
)
from .noise import (
    DropoutLayer,
    GaussianNoiseLayer,
    dropout,
    dropout_channels,
    dropout_locations,
    spatial_dropout,
)
from .normalization import (
    BatchNormLayer,
    LocalResponseNormalization2DLayer,
    StandardizationLayer,
    batch_norm,
    instance_norm,
    layer_norm,
)
from .pool import (
    GlobalPoolLayer,
    MaxPool1DLayer,
    MaxPool2DLayer,
    Pool1DLayer,
    Pool2DLayer,
    Upscale2DLayer,
)
from .pool3d import MaxPool3DLayer, Pool3DLayer, Upscale3DLayer
from .pool_extra import (
    FeaturePoolLayer,
    FeatureWTALayer,
    SpatialPyramidPoolingLayer,
    Upscale1DLayer,
)
from .recurrent import CustomRecurrentLayer, Gate, GRULayer, LSTMLayer, RecurrentLayer
from .shape import (
    DimshuffleLayer,
    FlattenLayer,
    PadLayer,
    ReshapeLayer,
    SliceLayer,
    dimshuffle,
    flatten,
    pad,
    reshape,
)
from .special import (
    BiasLayer,
    ExpressionLayer,
    InverseLayer,
    NonlinearityLayer,
    ParametricRectifierLayer,
    RandomizedRectifierLayer,
    ScaleLayer,
    prelu,
    rrelu,
    standardize,
)
from .transformer import TPSTransformerLayer, TransformerLayer
