"""Recurrent layers on ``pytensor.scan``: vanilla RNN, LSTM and GRU, as in Lasagne.

Every layer here takes input of shape ``(batch, time, features...)`` and
returns ``(batch, time, num_units)`` (or ``(batch, num_units)`` with
``only_return_final=True``). Variable-length sequences are handled with a
``mask_input`` layer of shape ``(batch, time)`` holding 1 for real steps and 0
for padding; on padded steps the state is carried over unchanged, so the
output there repeats the last real state.
"""

from .. import init, nonlinearities
from . import helper
from .dense import DenseLayer
from .gated import Gate, GRULayer, LSTMLayer
from .input import InputLayer
from .recurrent_base import _fast, _loop_options, _RecurrentBase

__all__ = [
    "CustomRecurrentLayer",
    "RecurrentLayer",
    "Gate",
    "LSTMLayer",
    "GRULayer",
]


class CustomRecurrentLayer(_RecurrentBase):
    r"""A recurrent layer with arbitrary input-to-hidden and hidden-to-hidden layers.

    Computes :math:`h_t = \sigma(f_i(x_t) + f_h(h_{t-1}))`, where
    :math:`f_i` (``input_to_hidden``) and :math:`f_h` (``hidden_to_hidden``)
    are small networks of their own, each starting from an
    :class:`InputLayer` of shape ``(None,) + step shape``.

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, time, ...)``.
    input_to_hidden : Layer
        Maps one time step ``(batch, ...)`` of the input to the hidden shape.
    hidden_to_hidden : Layer
        Maps the hidden state to the hidden shape.
    nonlinearity : callable or None
        :math:`\sigma`; None means linear.
    hid_init : initializer, array, shared variable or Layer
        Initial hidden state: a param of shape ``(1,) + hidden shape``, or a
        layer giving ``(batch,) + hidden shape``.
    backwards : bool
        Process the sequence from its end; the output is flipped back so that
        it is always in input time order.
    learn_init : bool
        Whether the ``hid_init`` param is trainable.
    gradient_steps : int
        Truncated backpropagation through time: number of steps; -1 for all.
    grad_clipping : float
        If non-zero, clip the gradient flowing through the pre-activation to
        ``[-grad_clipping, grad_clipping]`` during the backward pass.
    unroll_scan : bool
        Build an unrolled graph instead of a scan loop (needs a fixed
        sequence length and ``gradient_steps=-1``).
    precompute_input : bool
        Apply ``input_to_hidden`` to all time steps at once, before the loop.
    mask_input : Layer, optional
        A ``(batch, time)`` layer: 1 for real steps, 0 for padding.
    only_return_final : bool
        Return only the last state, of shape ``(batch,) + hidden shape``.

    Examples
    --------
    >>> from sknet.layers import InputLayer, DenseLayer, CustomRecurrentLayer
    >>> l_in = InputLayer((None, 5, 3))
    >>> in_to_hid = DenseLayer(InputLayer((None, 3)), 4, nonlinearity=None)
    >>> hid_to_hid = DenseLayer(InputLayer((None, 4)), 4, nonlinearity=None, b=None)
    >>> l_rec = CustomRecurrentLayer(l_in, in_to_hid, hid_to_hid)
    >>> l_rec.output_shape
    (None, 5, 4)
    >>> [p.name for p in l_rec.get_params(trainable=True)]
    ['W', 'b', 'W']
    """

    def __init__(
        self,
        incoming,
        input_to_hidden,
        hidden_to_hidden,
        nonlinearity=nonlinearities.rectify,
        hid_init=init.Constant(0.0),
        backwards=False,
        learn_init=False,
        gradient_steps=-1,
        grad_clipping=0,
        unroll_scan=False,
        precompute_input=True,
        mask_input=None,
        only_return_final=False,
        **kwargs,
    ):
        super().__init__(incoming, mask_input, [("hid_init", hid_init)], **_loop_options(locals()), **kwargs)
        self.input_to_hidden = input_to_hidden
        self.hidden_to_hidden = hidden_to_hidden
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity

        in_to_hid_inputs = _input_layers(input_to_hidden)
        if len(in_to_hid_inputs) != 1:
            raise ValueError(f"input_to_hidden must have exactly one InputLayer, but it has {len(in_to_hid_inputs)}")
        hid_to_hid_inputs = _input_layers(hidden_to_hidden)
        if len(hid_to_hid_inputs) != 1:
            raise ValueError(f"hidden_to_hidden must have exactly one InputLayer, but it has {len(hid_to_hid_inputs)}")
        input_shape = self.input_shapes[0]
        in_out = input_to_hidden.output_shape
        hid_out = hidden_to_hidden.output_shape
        # the sub-networks may be of any depth: what hidden_to_hidden reads is
        # the shape of its InputLayer, not of its top layer's incoming
        hid_in = hid_to_hid_inputs[0].output_shape
        if (
            precompute_input
            and in_out[0] is not None
            and input_shape[0] is not None
            and input_shape[1] is not None
            and in_out[0] != input_shape[0] * input_shape[1]
        ):
            raise ValueError(
                "When precompute_input == True, input_to_hidden.output_shape[0] must be "
                "None or batch_size*sequence_length "
                f"({input_shape[0] * input_shape[1]}), got {in_out[0]}"
            )
        if not precompute_input and in_out[0] is not None and hid_out[0] is not None and in_out[0] != hid_out[0]:
            raise ValueError(
                "When precompute_input == False, input_to_hidden.output_shape[0] must "
                f"equal hidden_to_hidden.output_shape[0], got {in_out[0]} and {hid_out[0]}"
            )
        if not _compatible(in_out[1:], hid_out[1:]):
            raise ValueError(
                "The output shapes of input_to_hidden and hidden_to_hidden must match "
                f"after the first dimension, got {in_out} and {hid_out}"
            )
        if not _compatible(in_out[1:], hid_in[1:]):
            raise ValueError(
                "input_to_hidden's output shape must equal the shape of "
                "hidden_to_hidden's InputLayer after the first dimension, got "
                f"{in_out} and {hid_in}"
            )
        self.hid_init = self._add_init(hid_init, (1,) + tuple(hid_out[1:]), "hid_init")

    def get_params(self, **tags):
        params = super().get_params(**tags)
        params += helper.get_all_params(self.input_to_hidden, **tags)
        params += helper.get_all_params(self.hidden_to_hidden, **tags)
        return params

    def get_output_shape_for(self, input_shapes):
        input_shape = input_shapes[0]
        hid_shape = tuple(self.hidden_to_hidden.output_shape[1:])
        if self.only_return_final:
            return (input_shape[0],) + hid_shape
        return (input_shape[0], input_shape[1]) + hid_shape

    def get_output_for(self, inputs, **kwargs):
        input = inputs[0]
        # scan iterates over axis 0: go time-major
        input = input.dimshuffle(1, 0, *range(2, input.ndim))
        seq_len, num_batch = input.shape[0], input.shape[1]

        if self.precompute_input:
            # one call of input_to_hidden over all (time * batch) steps
            flat = _reshape_leading(input, (seq_len * num_batch,), 2)
            pre = helper.get_output(self.input_to_hidden, flat, **kwargs)
            input = _reshape_leading(pre, (seq_len, num_batch), 1)

        nonlinearity = _fast(self.nonlinearity)
        non_seqs = helper.get_all_params(self.hidden_to_hidden)
        if not self.precompute_input:
            non_seqs += helper.get_all_params(self.input_to_hidden)

        def step(input_n, hid_previous, *args):
            hid_pre = helper.get_output(self.hidden_to_hidden, hid_previous, **kwargs)
            if self.precompute_input:
                hid_pre = hid_pre + input_n
            else:
                hid_pre = hid_pre + helper.get_output(self.input_to_hidden, input_n, **kwargs)
            return nonlinearity(self._clip(hid_pre))

        return self._scan(inputs, step, input, ["hid_init"], non_seqs)


def _input_layers(layer):
    return [l for l in helper.get_all_layers(layer) if isinstance(l, InputLayer)]


def _compatible(shape1, shape2):
    return all(a is None or b is None or a == b for a, b in zip(shape1, shape2))


def _reshape_leading(x, leading, start):
    """Reshape ``x`` to ``leading + x.shape[start:]``, keeping the static sizes of the kept axes.

    A symbolic ``x.shape[i]`` would forget that an axis has size 1; the scan
    would then slice steps of type ``(batch, ?)`` from a sequence that
    PyTensor's rewrites later find to be ``(time, batch, 1)``, and every
    scan rewrite that rebuilds the loop fails on the mismatch.
    """
    kept = [x.shape[i] if size is None else size for i, size in enumerate(x.type.shape) if i >= start]
    return x.reshape(tuple(leading) + tuple(kept), ndim=len(leading) + len(kept))


class RecurrentLayer(CustomRecurrentLayer):
    r"""A fully connected ("vanilla") recurrent layer.

    Computes :math:`h_t = \sigma(x_t W_{in} + b + h_{t-1} W_{hid})`; trailing
    input dimensions after the time axis are flattened.

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, time, features...)``.
    num_units : int
    W_in_to_hid, W_hid_to_hid : initializer, array or shared variable
        Weights of shapes ``(num_inputs, num_units)`` and
        ``(num_units, num_units)``.
    b : initializer, array, shared variable or None
    nonlinearity : callable or None
    hid_init, backwards, learn_init, gradient_steps, grad_clipping,
    unroll_scan, precompute_input, mask_input, only_return_final
        As in :class:`CustomRecurrentLayer`.

    Examples
    --------
    >>> from sknet.layers import InputLayer, RecurrentLayer
    >>> l_rec = RecurrentLayer(InputLayer((None, 5, 3)), num_units=4)
    >>> l_rec.output_shape, l_rec.W_in_to_hid.get_value().shape
    ((None, 5, 4), (3, 4))
    """

    def __init__(
        self,
        incoming,
        num_units,
        W_in_to_hid=init.Uniform(),
        W_hid_to_hid=init.Uniform(),
        b=init.Constant(0.0),
        nonlinearity=nonlinearities.rectify,
        hid_init=init.Constant(0.0),
        backwards=False,
        learn_init=False,
        gradient_steps=-1,
        grad_clipping=0,
        unroll_scan=False,
        precompute_input=True,
        mask_input=None,
        only_return_final=False,
        **kwargs,
    ):
        input_shape = incoming if isinstance(incoming, tuple) else incoming.output_shape
        name = kwargs.get("name")
        basename = f"{name}." if name is not None else ""
        in_to_hid = DenseLayer(
            InputLayer((None,) + tuple(input_shape[2:])),
            num_units,
            W=W_in_to_hid,
            b=b,
            nonlinearity=None,
            name=basename + "input_to_hidden",
        )
        hid_to_hid = DenseLayer(
            InputLayer((None, num_units)),
            num_units,
            W=W_hid_to_hid,
            b=None,
            nonlinearity=None,
            name=basename + "hidden_to_hidden",
        )
        # Lasagne's attribute names for the weights of the two inner layers
        self.W_in_to_hid = in_to_hid.W
        self.W_hid_to_hid = hid_to_hid.W
        self.b = in_to_hid.b
        super().__init__(
            incoming,
            in_to_hid,
            hid_to_hid,
            nonlinearity=nonlinearity,
            hid_init=hid_init,
            mask_input=mask_input,
            **_loop_options(locals()),
            **kwargs,
        )
