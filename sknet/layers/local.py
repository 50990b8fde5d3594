"""Locally connected 2-D layer: a convolution without weight sharing."""

import pytensor.tensor as T

from .conv import Conv2DLayer, _conv_parameters

__all__ = ["LocallyConnected2DLayer"]


class LocallyConnected2DLayer(Conv2DLayer):
    """Like a 2-D convolution, but each output position has its own filters.

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, channels, rows, cols)``, all but the batch
        size fixed.
    num_filters : int
    filter_size : int or tuple of 2 odd ints
    stride : 1 or (1, 1)
        Only unit stride; kept for the convolution layers' signature.
    pad : 'same'
        Only 'same' padding; kept for the signature.
    untie_biases, b, nonlinearity
        As in :class:`~sknet.layers.Conv2DLayer`.
    W : initializer, array or shared variable
        Shape ``(num_filters, num_input_channels, filter_rows, filter_cols,
        output_rows, output_cols)``, or without the input-channel axis when
        ``channelwise``.
    flip_filters : bool
        True (default) flips each filter as a convolution does.
    channelwise : bool
        True connects filter ``i`` to input channel ``i`` only (then
        ``num_filters`` must equal the number of input channels).

    Examples
    --------
    >>> from sknet.layers import InputLayer, LocallyConnected2DLayer
    >>> l = LocallyConnected2DLayer(InputLayer((None, 3, 6, 5)), 4, 3)
    >>> l.output_shape, l.W.get_value().shape
    ((None, 4, 6, 5), (4, 3, 3, 3, 6, 5))
    """

    @_conv_parameters(stride=(1, 1), pad="same", channelwise=False)
    def __init__(self, incoming, num_filters, filter_size, stride, pad, channelwise, **kwargs):
        self.channelwise = channelwise
        if pad != "same":
            raise NotImplementedError(f"LocallyConnected2DLayer requires pad='same', but got {pad!r}.")
        if stride not in (1, (1, 1), [1, 1]):
            raise NotImplementedError(f"LocallyConnected2DLayer requires stride=1 / (1, 1), but got {stride!r}.")
        super().__init__(incoming, num_filters, filter_size, stride=stride, pad=pad, **kwargs)
        if self.num_groups != 1:
            raise ValueError(f"LocallyConnected2DLayer has no grouped version (num_groups={self.num_groups})")

    def get_W_shape(self):
        if any(s is None for s in self.input_shape[1:]):
            raise ValueError(
                "A LocallyConnected2DLayer requires a fixed input shape "
                f"(except for the batch size). Got {self.input_shape!r}."
            )
        channels = self.input_shape[1]
        out_hw = self.get_output_shape_for(self.input_shape)[2:]
        if self.channelwise:
            if self.num_filters != channels:
                raise ValueError(
                    "num_filters and the number of input channels should match when "
                    f"channelwise is true, but got num_filters={self.num_filters!r} and "
                    f"{channels} input channels"
                )
            return (self.num_filters,) + self.filter_size + out_hw
        return (self.num_filters, channels) + self.filter_size + out_hw

    def convolve(self, input, **kwargs):
        input = T.as_tensor_variable(input)
        kh, kw = self.filter_size
        _, C, H, W = self.input_shape
        B = input.shape[0]
        padded = T.zeros((B, C, H + kh - 1, W + kw - 1), input.dtype)
        padded = T.set_subtensor(padded[:, :, kh // 2 : kh // 2 + H, kw // 2 : kw // 2 + W], input)
        # patches[b, c, i, j, y, x] = padded[b, c, y + i, x + j]
        patches = T.stack([padded[:, :, i : i + H, j : j + W] for i in range(kh) for j in range(kw)], axis=2).reshape(
            (B, C, kh, kw, H, W)
        )
        weights = self.W[..., ::-1, ::-1, :, :] if self.flip_filters else self.W
        if self.channelwise:
            return (patches * weights.dimshuffle("x", 0, 1, 2, 3, 4)).sum(axis=(2, 3))
        # one (batch x C*kh*kw) by (C*kh*kw x filters) product per output position
        cols = patches.reshape((B, C * kh * kw, H * W)).dimshuffle(2, 0, 1)
        filt = weights.reshape((self.num_filters, C * kh * kw, H * W)).dimshuffle(2, 1, 0)
        out = T.matmul(cols, filt)  # (H*W, B, F)
        return out.dimshuffle(1, 2, 0).reshape((B, self.num_filters, H, W))
