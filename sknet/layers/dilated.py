"""Dilated 2-D convolution: DilatedConv2DLayer."""

import pytensor.tensor as T

from ..ops.corr import CorrMM
from ..utils import as_tuple
from .conv import BaseConvLayer, _conv_parameters, conv_output_length

__all__ = ["DilatedConv2DLayer"]


class DilatedConv2DLayer(BaseConvLayer):
    """2-D convolution with dilated filters (``dilation - 1`` zeros between taps).

    As in Lasagne, the layer computes a cross-correlation, valid only, with
    weights laid out as those of a transposed convolution; pad the input with
    a :class:`~sknet.layers.PadLayer` for a padded one.

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, channels, rows, cols)``.
    num_filters : int
    filter_size : int or tuple of 2 ints
    dilation : int or tuple of 2 ints
        Spacing between filter taps; 1 is an ordinary convolution.
    pad : 0, (0, 0) or 'valid'
        Only valid convolutions; kept for the convolution layers' signature.
    untie_biases, b, nonlinearity
        As in :class:`~sknet.layers.Conv2DLayer`.
    W : initializer, array or shared variable
        Shape ``(num_input_channels, num_filters, rows, cols)`` (the first two
        axes swapped against a ``Conv2DLayer``).
    flip_filters : False
        Only unflipped filters; kept for the signature.

    Notes
    -----
    The output is the gradient of a correlation with respect to its weights,
    with the input's batch and channel axes swapped, the filters as the
    output gradient and the dilation as the stride; sknet's correlation op
    computes it in one call.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DilatedConv2DLayer, get_output
    >>> l = DilatedConv2DLayer(InputLayer((None, 1, 5, 5)), 1, 2, dilation=2,
    ...                        W=np.ones((1, 1, 2, 2), 'float32'), nonlinearity=None)
    >>> l.output_shape
    (None, 1, 3, 3)
    >>> get_output(l, np.arange(25, dtype='float32').reshape(1, 1, 5, 5)).eval()[0, 0]
    array([[24., 28., 32.],
           [44., 48., 52.],
           [64., 68., 72.]], dtype=float32)
    """

    @_conv_parameters(renamed={"stride": "dilation"}, dilation=(1, 1), flip_filters=False)
    def __init__(self, incoming, num_filters, filter_size, dilation, pad, flip_filters, **kwargs):
        self.dilation = as_tuple(dilation, 2, int)
        if min(self.dilation) < 1:
            raise ValueError(f"dilation must be positive, got {dilation!r}")
        if pad not in ("valid", 0, (0, 0), [0, 0]):
            raise NotImplementedError(
                f"DilatedConv2DLayer requires pad=0 / (0, 0) / 'valid', but got {pad!r}. "
                "For a padded dilated convolution, add a PadLayer."
            )
        if flip_filters:
            raise NotImplementedError("DilatedConv2DLayer requires flip_filters=False.")
        super().__init__(incoming, num_filters, filter_size, 1, pad, flip_filters=flip_filters, n=2, **kwargs)
        del self.stride  # as Lasagne: a dilated convolution has no stride
        if self.num_groups != 1:
            raise ValueError(f"DilatedConv2DLayer has no grouped version (num_groups={self.num_groups})")

    def get_W_shape(self):
        return (self.input_shape[1], self.num_filters) + self.filter_size

    def get_output_shape_for(self, input_shape):
        return (input_shape[0], self.num_filters) + tuple(
            conv_output_length(i, (f - 1) * d + 1, 1, 0)
            for i, f, d in zip(input_shape[2:], self.filter_size, self.dilation)
        )

    def convolve(self, input, **kwargs):
        input = T.as_tensor_variable(input)
        out_hw = [input.shape[2 + i] - (self.filter_size[i] - 1) * self.dilation[i] for i in range(2)]
        op = CorrMM("weights", self.dilation, (0, 0))
        out = op(input.dimshuffle(1, 0, 2, 3), self.W, T.stack(out_hw))
        return out.dimshuffle(1, 0, 2, 3)
