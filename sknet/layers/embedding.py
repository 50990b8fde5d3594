"""EmbeddingLayer: look up a learned vector for each integer index."""

import pytensor.tensor as T

from .. import init
from .base import Layer

__all__ = ["EmbeddingLayer"]


class EmbeddingLayer(Layer):
    """Map integer indices to rows of a learned matrix ``W``.

    The output has the input's shape plus one trailing axis of
    ``output_size``. Float input (e.g. data cast to float32 by an estimator)
    is cast to integers first.

    Parameters
    ----------
    incoming : Layer or tuple
        Integer indices in ``[0, input_size)``.
    input_size : int
        Number of distinct indices (vocabulary size).
    output_size : int
        Length of each embedding vector.
    W : initializer, array or shared variable
        The table, of shape ``(input_size, output_size)``.

    Examples
    --------
    >>> from sknet.layers import InputLayer, EmbeddingLayer, get_output
    >>> l_in = InputLayer((None, 2), input_var=T.imatrix('idx'))
    >>> l = EmbeddingLayer(l_in, input_size=3, output_size=2,
    ...                    W=np.arange(6, dtype='float32').reshape(3, 2))
    >>> l.output_shape
    (None, 2, 2)
    >>> get_output(l, np.array([[2, 0]], dtype='int32')).eval()
    array([[[4., 5.],
            [0., 1.]]], dtype=float32)
    """

    def __init__(self, incoming, input_size, output_size, W=init.Normal(), **kwargs):
        super().__init__(incoming, **kwargs)
        self.input_size = input_size
        self.output_size = output_size
        self.W = self.add_param(W, (input_size, output_size), name="W")

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape) + (self.output_size,)

    def get_output_for(self, input, **kwargs):
        if not input.dtype.startswith(("int", "uint")):
            input = T.cast(T.round(input), "int64")
        return self.W[input]
