"""InputLayer: where data enters a network."""

import pytensor.tensor as T

from ..backend import FLOATX
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
        The variable to use; by default a new float32 tensor of ``len(shape)``
        dimensions.
    name : str, optional

    Examples
    --------
    >>> l_in = InputLayer((None, 784))
    >>> l_in.input_var.ndim, l_in.input_var.dtype, l_in.output_shape
    (2, 'float32', (None, 784))
    """

    def __init__(self, shape, input_var=None, name=None, **kwargs):
        self.shape = tuple(shape)
        if any(d is not None and d <= 0 for d in self.shape):
            raise ValueError(
                f"Cannot create InputLayer with a non-positive shape dimension. "
                f"shape={self.shape}, self.name={name}"
            )
        ndim = len(self.shape)
        if input_var is None:
            var_name = f"{name}.input" if name is not None else "input"
            input_var = T.tensor(dtype=FLOATX, shape=(None,) * ndim, name=var_name)
        elif input_var.ndim != ndim:
            raise ValueError(
                f"shape has {ndim} dimensions, but variable has {input_var.ndim}"
            )
        self.input_var = input_var
        self.name = name
        self.params = {}
        self.get_output_kwargs = []
        self.input_shape = self.shape
        self.input_layer = None

    @Layer.output_shape.getter
    def output_shape(self):
        return self.shape
