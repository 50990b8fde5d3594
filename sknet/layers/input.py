"""InputLayer: where data enters a network."""

from collections import OrderedDict

import pytensor.tensor as T

from ..utils import float_dtype, int_types
from .base import Layer

__all__ = ["InputLayer"]


class InputLayer(Layer):
    """A network's entry point, holding a symbolic input variable.

    Parameters
    ----------
    shape : tuple
        The input shape; ``None`` marks a dimension of any size (usually the
        batch).
    input_var : PyTensor tensor, optional
        The variable to use; by default a new tensor of ``len(shape)``
        dimensions in the float dtype (float32 unless PyTensor's ``floatX``
        says otherwise), broadcastable on the axes of size 1, as in Lasagne.
    name : str, optional

    Notes
    -----
    As in Lasagne, an InputLayer has no ``input_layer`` (nor
    ``input_shape``) attribute: code that walks a network down with
    ``while hasattr(layer, 'input_layer')`` stops here.

    Examples
    --------
    >>> l_in = InputLayer((None, 784))
    >>> l_in.input_var.ndim, l_in.input_var.dtype, l_in.output_shape
    (2, 'float32', (None, 784))
    >>> InputLayer((None, 1, 28, 28)).input_var.broadcastable
    (False, True, False, False)
    """

    def __init__(self, shape, input_var=None, name=None, **kwargs):
        self.shape = tuple(int(d) if isinstance(d, int_types) else d for d in shape)
        if any(d is not None and d <= 0 for d in self.shape):
            raise ValueError(
                f"Cannot create InputLayer with a non-positive shape dimension. shape={self.shape}, self.name={name}"
            )
        ndim = len(self.shape)
        if input_var is None:
            var_name = f"{name}.input" if name is not None else "input"
            static = tuple(1 if d == 1 else None for d in self.shape)
            input_var = T.tensor(dtype=float_dtype(), shape=static, name=var_name)
        elif input_var.ndim != ndim:
            raise ValueError(f"shape has {ndim} dimensions, but variable has {input_var.ndim}")
        self.input_var = input_var
        self.name = name
        self.params = OrderedDict()
        self.get_output_kwargs = []

    @Layer.output_shape.getter
    def output_shape(self):
        return self.shape
