"""Recurrent layers on ``pytensor.scan``: vanilla RNN, LSTM and GRU, as in Lasagne.

Every layer here takes input of shape ``(batch, time, features...)`` and
returns ``(batch, time, num_units)`` (or ``(batch, num_units)`` with
``only_return_final=True``). Variable-length sequences are handled with a
``mask_input`` layer of shape ``(batch, time)`` holding 1 for real steps and 0
for padding; on padded steps the state is carried over unchanged, so the
output there repeats the last real state.
"""

import inspect

import numpy as np
import pytensor
import pytensor.tensor as T
from pytensor.gradient import grad_clip

from .. import init, nonlinearities
from ..utils import unroll_scan
from . import helper
from .base import Layer, MergeLayer
from .dense import DenseLayer
from .input import InputLayer

__all__ = [
    "CustomRecurrentLayer",
    "RecurrentLayer",
    "Gate",
    "LSTMLayer",
    "GRULayer",
]

# PyTensor 3 scan can return the outputs alone (return_updates=False); older
# releases always return an (outputs, updates) pair.
_SCAN_HAS_RETURN_UPDATES = "return_updates" in inspect.signature(pytensor.scan).parameters


def _recurrence(step, sequences, outputs_info, non_sequences, backwards,
                gradient_steps, unroll, n_steps):
    """Run ``step`` over axis 0 of ``sequences``; return one stacked output per state.

    Outputs are in processing order (reversed time when ``backwards``), as
    scan gives them.
    """
    if unroll:
        return unroll_scan(step, sequences, outputs_info, non_sequences, n_steps,
                           go_backwards=backwards)
    kwargs = dict(
        sequences=sequences,
        outputs_info=outputs_info,
        non_sequences=non_sequences,
        go_backwards=backwards,
        truncate_gradient=gradient_steps,
        strict=True,
        return_list=True,
    )
    if _SCAN_HAS_RETURN_UPDATES:
        return pytensor.scan(step, return_updates=False, **kwargs)
    outputs, _ = pytensor.scan(step, **kwargs)
    return outputs


def _tanh_via_sigmoid(x):
    return 2 * T.sigmoid(2 * x) - 1


def _fast(nonlinearity):
    """Return ``nonlinearity``, with tanh computed as ``2 * sigmoid(2x) - 1``.

    The two are the same function (within 2e-7 in float32), but PyTensor's C
    tanh is a scalar libm call that measured 8x slower than its sigmoid, and
    the gates' nonlinearities dominate a recurrent step's time (forward and
    again in the backward scan, which recomputes them).
    """
    if nonlinearity is nonlinearities.tanh or nonlinearity is T.tanh:
        return _tanh_via_sigmoid
    return nonlinearity


def _stack(params, axis, shape):
    """Concatenate gate params, stating the known result shape.

    Shared variables carry no static shape; declaring each part's lets the
    JAX backend see concrete sizes (in scan and in the gradient's split)
    instead of traced ones.
    """
    part = list(shape)
    part[axis] //= len(params)
    return T.concatenate([T.specify_shape(p, tuple(part)) for p in params], axis=axis)


def _time_major_mask(mask, dtype):
    """(batch, time) mask -> (time, batch, 1) mask of ``dtype`` that broadcasts over units."""
    return T.cast(mask, dtype).dimshuffle(1, 0, "x")


def _finish_output(out, only_return_final, backwards):
    """Turn a time-major scan output into Lasagne's batch-major layer output."""
    if only_return_final:
        # the last processed step: the final time step, or the first one backwards
        return out[-1]
    out = out.dimshuffle(1, 0, *range(2, out.ndim))
    if backwards:
        out = out[:, ::-1]
    return out


class _RecurrentBase(MergeLayer):
    """Shared plumbing: the extra incomings (mask, initial states) and the options."""

    def __init__(self, incoming, mask_input, inits, backwards, learn_init,
                 gradient_steps, grad_clipping, unroll_scan, precompute_input,
                 only_return_final, **kwargs):
        incomings = [incoming]
        self.mask_incoming_index = -1
        if mask_input is not None:
            incomings.append(mask_input)
            self.mask_incoming_index = len(incomings) - 1
        # initial states given as layers become extra incomings
        for state_name, spec in inits:
            index = -1
            if isinstance(spec, Layer):
                incomings.append(spec)
                index = len(incomings) - 1
            setattr(self, f"{state_name}_incoming_index", index)
        super().__init__(incomings, **kwargs)

        self.backwards = backwards
        self.learn_init = learn_init
        self.gradient_steps = gradient_steps
        self.grad_clipping = grad_clipping
        self.unroll_scan = unroll_scan
        self.precompute_input = precompute_input
        self.only_return_final = only_return_final

        if unroll_scan and gradient_steps != -1:
            raise ValueError("Gradient steps must be -1 when unroll_scan is true.")
        if unroll_scan and self.input_shapes[0][1] is None:
            raise ValueError(
                "Input sequence length cannot be specified as None when unroll_scan is True"
            )

    def _add_init(self, spec, shape, name):
        """Register an initial state: a layer is kept as is, anything else is a param."""
        if isinstance(spec, Layer):
            return spec
        return self.add_param(spec, shape, name=name, trainable=self.learn_init,
                              regularizable=False)

    def _initial_state(self, inputs, state, index, num_batch):
        """The (batch, ...) initial value of a state, from its layer or its param."""
        if index > 0:
            return inputs[index]
        # repeat the (1, ...) param along the batch; a dot keeps it differentiable
        # and avoids relying on runtime broadcasting of a length-1 dimension
        ones = T.ones((num_batch, 1), dtype=state.dtype)
        flat = state.reshape((1, -1))
        out = T.dot(ones, flat)
        if state.ndim > 2:
            out = out.reshape((num_batch,) + tuple(state.shape[1:]), ndim=state.ndim)
        return out

    def get_output_shape_for(self, input_shapes):
        # (batch, time, num_units), or (batch, num_units) with only_return_final
        input_shape = input_shapes[0]
        if self.only_return_final:
            return input_shape[0], self.num_units
        return input_shape[0], input_shape[1], self.num_units

    def _mask(self, inputs):
        if self.mask_incoming_index > 0:
            return inputs[self.mask_incoming_index]
        return None

    def _clip(self, x):
        if self.grad_clipping:
            return grad_clip(x, -self.grad_clipping, self.grad_clipping)
        return x

    def _n_steps(self):
        return self.input_shapes[0][1]


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

    def __init__(self, incoming, input_to_hidden, hidden_to_hidden,
                 nonlinearity=nonlinearities.rectify, hid_init=init.Constant(0.0),
                 backwards=False, learn_init=False, gradient_steps=-1,
                 grad_clipping=0, unroll_scan=False, precompute_input=True,
                 mask_input=None, only_return_final=False, **kwargs):
        super().__init__(incoming, mask_input, [("hid_init", hid_init)], backwards,
                         learn_init, gradient_steps, grad_clipping, unroll_scan,
                         precompute_input, only_return_final, **kwargs)
        self.input_to_hidden = input_to_hidden
        self.hidden_to_hidden = hidden_to_hidden
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity

        in_to_hid_inputs = _input_layers(input_to_hidden)
        if len(in_to_hid_inputs) != 1:
            raise ValueError(
                f"input_to_hidden must have exactly one InputLayer, but it has "
                f"{len(in_to_hid_inputs)}"
            )
        hid_to_hid_inputs = _input_layers(hidden_to_hidden)
        if len(hid_to_hid_inputs) != 1:
            raise ValueError(
                f"hidden_to_hidden must have exactly one InputLayer, but it has "
                f"{len(hid_to_hid_inputs)}"
            )
        input_shape = self.input_shapes[0]
        in_out = input_to_hidden.output_shape
        hid_out = hidden_to_hidden.output_shape
        # the sub-networks may be of any depth: what hidden_to_hidden reads is
        # the shape of its InputLayer, not of its top layer's incoming
        hid_in = hid_to_hid_inputs[0].output_shape
        if (precompute_input and in_out[0] is not None and input_shape[0] is not None
                and input_shape[1] is not None
                and in_out[0] != input_shape[0] * input_shape[1]):
            raise ValueError(
                "When precompute_input == True, input_to_hidden.output_shape[0] must be "
                "None or batch_size*sequence_length "
                f"({input_shape[0] * input_shape[1]}), got {in_out[0]}"
            )
        if (not precompute_input and in_out[0] is not None and hid_out[0] is not None
                and in_out[0] != hid_out[0]):
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
        mask = self._mask(inputs)
        # scan iterates over axis 0: go time-major
        input = input.dimshuffle(1, 0, *range(2, input.ndim))
        seq_len, num_batch = input.shape[0], input.shape[1]

        if self.precompute_input:
            # one call of input_to_hidden over all (time * batch) steps
            flat = input.reshape((seq_len * num_batch,) + tuple(input.shape[2:]),
                                 ndim=input.ndim - 1)
            pre = helper.get_output(self.input_to_hidden, flat, **kwargs)
            input = pre.reshape((seq_len, num_batch) + tuple(pre.shape[1:]),
                                ndim=pre.ndim + 1)

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
            hid_pre = self._clip(hid_pre)
            return nonlinearity(hid_pre)

        def step_masked(input_n, mask_n, hid_previous, *args):
            hid = step(input_n, hid_previous, *args)
            return T.switch(_broadcast_mask(mask_n, hid.ndim), hid, hid_previous)

        hid_init = self._initial_state(inputs, self.hid_init, self.hid_init_incoming_index,
                                       num_batch)
        if mask is not None:
            sequences, step_fun = [input, _time_major_mask(mask, input.dtype)], step_masked
        else:
            sequences, step_fun = [input], step
        hid_out, = _recurrence(step_fun, sequences, [hid_init], non_seqs, self.backwards,
                               self.gradient_steps, self.unroll_scan, self._n_steps())
        return _finish_output(hid_out, self.only_return_final, self.backwards)


def _input_layers(layer):
    return [l for l in helper.get_all_layers(layer) if isinstance(l, InputLayer)]


def _compatible(shape1, shape2):
    return all(a is None or b is None or a == b for a, b in zip(shape1, shape2))


def _broadcast_mask(mask_n, ndim):
    """A (batch, 1) mask step, padded with broadcastable axes up to ``ndim``."""
    if ndim > 2:
        mask_n = mask_n.dimshuffle(0, *(["x"] * (ndim - 1)))
    return mask_n


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

    def __init__(self, incoming, num_units, W_in_to_hid=init.Uniform(),
                 W_hid_to_hid=init.Uniform(), b=init.Constant(0.0),
                 nonlinearity=nonlinearities.rectify, hid_init=init.Constant(0.0),
                 backwards=False, learn_init=False, gradient_steps=-1,
                 grad_clipping=0, unroll_scan=False, precompute_input=True,
                 mask_input=None, only_return_final=False, **kwargs):
        input_shape = incoming if isinstance(incoming, tuple) else incoming.output_shape
        name = kwargs.get("name")
        basename = f"{name}." if name is not None else ""
        in_to_hid = DenseLayer(InputLayer((None,) + tuple(input_shape[2:])), num_units,
                               W=W_in_to_hid, b=b, nonlinearity=None,
                               name=basename + "input_to_hidden")
        hid_to_hid = DenseLayer(InputLayer((None, num_units)), num_units, W=W_hid_to_hid,
                                b=None, nonlinearity=None,
                                name=basename + "hidden_to_hidden")
        # Lasagne's attribute names for the weights of the two inner layers
        self.W_in_to_hid = in_to_hid.W
        self.W_hid_to_hid = hid_to_hid.W
        self.b = in_to_hid.b
        super().__init__(incoming, in_to_hid, hid_to_hid, nonlinearity=nonlinearity,
                         hid_init=hid_init, backwards=backwards, learn_init=learn_init,
                         gradient_steps=gradient_steps, grad_clipping=grad_clipping,
                         unroll_scan=unroll_scan, precompute_input=precompute_input,
                         mask_input=mask_input, only_return_final=only_return_final,
                         **kwargs)


class Gate:
    """The parameters of one gate of an LSTM or GRU layer.

    Parameters
    ----------
    W_in : initializer, array or shared variable
        Input-to-gate weights ``(num_inputs, num_units)``.
    W_hid : initializer, array or shared variable
        Hidden-to-gate weights ``(num_units, num_units)``.
    W_cell : initializer, array, shared variable or None
        Peephole weights ``(num_units,)`` from the cell (LSTM only); None for
        a gate without peephole.
    b : initializer, array or shared variable
        Bias ``(num_units,)``.
    nonlinearity : callable or None

    Examples
    --------
    >>> from sknet.layers import Gate
    >>> from sknet import init, nonlinearities
    >>> forget = Gate(b=init.Constant(1.0))
    >>> cell = Gate(W_cell=None, nonlinearity=nonlinearities.tanh)
    >>> cell.W_cell is None, forget.nonlinearity is nonlinearities.sigmoid
    (True, True)
    """

    def __init__(self, W_in=init.Normal(0.1), W_hid=init.Normal(0.1),
                 W_cell=init.Normal(0.1), b=init.Constant(0.0),
                 nonlinearity=nonlinearities.sigmoid):
        self.W_in = W_in
        self.W_hid = W_hid
        # an explicit None means "no peephole" and is kept as None
        self.W_cell = W_cell
        self.b = b
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity

    def __repr__(self):
        return (f"Gate(W_in={self.W_in!r}, W_hid={self.W_hid!r}, W_cell={self.W_cell!r}, "
                f"b={self.b!r}, nonlinearity={self.nonlinearity!r})")


def _gate_params(layer, gate, gate_name, num_inputs, num_units):
    """Add a gate's W_in, W_hid and b to ``layer`` under Lasagne's names."""
    return (
        layer.add_param(gate.W_in, (num_inputs, num_units), name=f"W_in_to_{gate_name}"),
        layer.add_param(gate.W_hid, (num_units, num_units), name=f"W_hid_to_{gate_name}"),
        layer.add_param(gate.b, (num_units,), name=f"b_{gate_name}", regularizable=False),
        gate.nonlinearity,
    )


class LSTMLayer(_RecurrentBase):
    r"""Long short-term memory layer, with peepholes by default.

    With :math:`\odot` the elementwise product and :math:`p_\cdot` the
    peephole weights (vectors), for each time step:

    .. math::
        i_t &= \sigma_i(x_t W_{xi} + h_{t-1} W_{hi} + p_i \odot c_{t-1} + b_i) \\
        f_t &= \sigma_f(x_t W_{xf} + h_{t-1} W_{hf} + p_f \odot c_{t-1} + b_f) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot \sigma_c(x_t W_{xc} + h_{t-1} W_{hc} + b_c) \\
        o_t &= \sigma_o(x_t W_{xo} + h_{t-1} W_{ho} + p_o \odot c_t + b_o) \\
        h_t &= o_t \odot \sigma_h(c_t)

    The four gates' weights are stacked in the order input, forget, cell,
    output, so each step costs one matrix product.

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, time, features...)`` (trailing dimensions are
        flattened).
    num_units : int
    ingate, forgetgate, cell, outgate : Gate
        Parameters of each gate; ``cell`` has no peephole and tanh.
    nonlinearity : callable or None
        :math:`\sigma_h`, applied to the cell before the output gate.
    cell_init, hid_init : initializer, array, shared variable or Layer
        Initial cell and hidden states: params of shape ``(1, num_units)``
        or layers giving ``(batch, num_units)``.
    peepholes : bool
        Whether to use the peephole connections :math:`p_i, p_f, p_o`.
    backwards, learn_init, gradient_steps, grad_clipping, unroll_scan,
    precompute_input, mask_input, only_return_final
        As in :class:`CustomRecurrentLayer`; ``grad_clipping`` clips the
        gradient of the gates' pre-activations.

    Examples
    --------
    >>> from sknet.layers import InputLayer, LSTMLayer
    >>> l_lstm = LSTMLayer(InputLayer((None, 28, 28)), num_units=8)
    >>> l_lstm.output_shape
    (None, 28, 8)
    >>> LSTMLayer(InputLayer((None, 28, 28)), 8, only_return_final=True).output_shape
    (None, 8)
    >>> len(l_lstm.get_params(trainable=True))
    15
    """

    def __init__(self, incoming, num_units, ingate=Gate(), forgetgate=Gate(),
                 cell=Gate(W_cell=None, nonlinearity=nonlinearities.tanh),
                 outgate=Gate(), nonlinearity=nonlinearities.tanh,
                 cell_init=init.Constant(0.0), hid_init=init.Constant(0.0),
                 backwards=False, learn_init=False, peepholes=True, gradient_steps=-1,
                 grad_clipping=0, unroll_scan=False, precompute_input=True,
                 mask_input=None, only_return_final=False, **kwargs):
        super().__init__(incoming, mask_input,
                         [("hid_init", hid_init), ("cell_init", cell_init)], backwards,
                         learn_init, gradient_steps, grad_clipping, unroll_scan,
                         precompute_input, only_return_final, **kwargs)
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity
        self.num_units = num_units
        self.peepholes = peepholes
        num_inputs = int(np.prod(self.input_shapes[0][2:]))

        (self.W_in_to_ingate, self.W_hid_to_ingate, self.b_ingate,
         self.nonlinearity_ingate) = _gate_params(self, ingate, "ingate", num_inputs, num_units)
        (self.W_in_to_forgetgate, self.W_hid_to_forgetgate, self.b_forgetgate,
         self.nonlinearity_forgetgate) = _gate_params(self, forgetgate, "forgetgate",
                                                      num_inputs, num_units)
        (self.W_in_to_cell, self.W_hid_to_cell, self.b_cell,
         self.nonlinearity_cell) = _gate_params(self, cell, "cell", num_inputs, num_units)
        (self.W_in_to_outgate, self.W_hid_to_outgate, self.b_outgate,
         self.nonlinearity_outgate) = _gate_params(self, outgate, "outgate",
                                                   num_inputs, num_units)
        if peepholes:
            self.W_cell_to_ingate = self.add_param(ingate.W_cell, (num_units,),
                                                   name="W_cell_to_ingate")
            self.W_cell_to_forgetgate = self.add_param(forgetgate.W_cell, (num_units,),
                                                       name="W_cell_to_forgetgate")
            self.W_cell_to_outgate = self.add_param(outgate.W_cell, (num_units,),
                                                    name="W_cell_to_outgate")
        self.cell_init = self._add_init(cell_init, (1, num_units), "cell_init")
        self.hid_init = self._add_init(hid_init, (1, num_units), "hid_init")

    def get_output_for(self, inputs, **kwargs):
        input = inputs[0]
        mask = self._mask(inputs)
        if input.ndim > 3:
            input = T.flatten(input, 3)
        input = input.dimshuffle(1, 0, 2)
        num_batch = input.shape[1]
        n = self.num_units

        num_inputs = int(np.prod(self.input_shapes[0][2:]))
        W_in_stacked = _stack([self.W_in_to_ingate, self.W_in_to_forgetgate,
                               self.W_in_to_cell, self.W_in_to_outgate], 1, (num_inputs, 4 * n))
        W_hid_stacked = _stack([self.W_hid_to_ingate, self.W_hid_to_forgetgate,
                                self.W_hid_to_cell, self.W_hid_to_outgate], 1, (n, 4 * n))
        b_stacked = _stack([self.b_ingate, self.b_forgetgate, self.b_cell, self.b_outgate],
                           0, (4 * n,))
        if self.precompute_input:
            input = T.dot(input, W_in_stacked) + b_stacked
        nl_in, nl_forget, nl_cell, nl_out, nl_hid = map(_fast, (
            self.nonlinearity_ingate, self.nonlinearity_forgetgate, self.nonlinearity_cell,
            self.nonlinearity_outgate, self.nonlinearity))

        def step(input_n, cell_previous, hid_previous, *args):
            if not self.precompute_input:
                input_n = T.dot(input_n, W_in_stacked) + b_stacked
            gates = self._clip(input_n + T.dot(hid_previous, W_hid_stacked))
            ingate = gates[:, 0 * n:1 * n]
            forgetgate = gates[:, 1 * n:2 * n]
            cell_input = gates[:, 2 * n:3 * n]
            outgate = gates[:, 3 * n:4 * n]
            if self.peepholes:
                ingate = ingate + cell_previous * self.W_cell_to_ingate
                forgetgate = forgetgate + cell_previous * self.W_cell_to_forgetgate
            ingate = nl_in(ingate)
            forgetgate = nl_forget(forgetgate)
            cell_input = nl_cell(cell_input)
            cell = forgetgate * cell_previous + ingate * cell_input
            if self.peepholes:
                outgate = outgate + cell * self.W_cell_to_outgate
            outgate = nl_out(outgate)
            hid = outgate * nl_hid(cell)
            return [cell, hid]

        def step_masked(input_n, mask_n, cell_previous, hid_previous, *args):
            cell, hid = step(input_n, cell_previous, hid_previous, *args)
            cell = T.switch(mask_n, cell, cell_previous)
            hid = T.switch(mask_n, hid, hid_previous)
            return [cell, hid]

        if mask is not None:
            sequences, step_fun = [input, _time_major_mask(mask, input.dtype)], step_masked
        else:
            sequences, step_fun = [input], step
        cell_init = self._initial_state(inputs, self.cell_init, self.cell_init_incoming_index,
                                        num_batch)
        hid_init = self._initial_state(inputs, self.hid_init, self.hid_init_incoming_index,
                                       num_batch)

        non_seqs = [W_hid_stacked]
        if self.peepholes:
            non_seqs += [self.W_cell_to_ingate, self.W_cell_to_forgetgate,
                         self.W_cell_to_outgate]
        if not self.precompute_input:
            non_seqs += [W_in_stacked, b_stacked]

        _, hid_out = _recurrence(step_fun, sequences, [cell_init, hid_init], non_seqs,
                                 self.backwards, self.gradient_steps, self.unroll_scan,
                                 self._n_steps())
        return _finish_output(hid_out, self.only_return_final, self.backwards)


class GRULayer(_RecurrentBase):
    r"""Gated recurrent unit layer.

    For each time step, with :math:`\odot` the elementwise product:

    .. math::
        r_t &= \sigma_r(x_t W_{xr} + h_{t-1} W_{hr} + b_r) \\
        u_t &= \sigma_u(x_t W_{xu} + h_{t-1} W_{hu} + b_u) \\
        c_t &= \sigma_c(x_t W_{xc} + b_c + r_t \odot (h_{t-1} W_{hc})) \\
        h_t &= (1 - u_t) \odot h_{t-1} + u_t \odot c_t

    (the reset gate scales :math:`h_{t-1} W_{hc}`, so all three hidden
    products are one matrix product; weights are stacked in the order reset,
    update, hidden update).

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, time, features...)``.
    num_units : int
    resetgate, updategate, hidden_update : Gate
        Gate parameters (``W_cell`` is ignored: a GRU has no cell).
    hid_init, backwards, learn_init, gradient_steps, grad_clipping,
    unroll_scan, precompute_input, mask_input, only_return_final
        As in :class:`CustomRecurrentLayer`.

    Examples
    --------
    >>> from sknet.layers import InputLayer, GRULayer
    >>> l_gru = GRULayer(InputLayer((None, 6, 3)), num_units=4)
    >>> l_gru.output_shape, [p.name for p in l_gru.get_params()][:3]
    ((None, 6, 4), ['W_in_to_updategate', 'W_hid_to_updategate', 'b_updategate'])
    """

    def __init__(self, incoming, num_units, resetgate=Gate(W_cell=None),
                 updategate=Gate(W_cell=None),
                 hidden_update=Gate(W_cell=None, nonlinearity=nonlinearities.tanh),
                 hid_init=init.Constant(0.0), backwards=False, learn_init=False,
                 gradient_steps=-1, grad_clipping=0, unroll_scan=False,
                 precompute_input=True, mask_input=None, only_return_final=False,
                 **kwargs):
        super().__init__(incoming, mask_input, [("hid_init", hid_init)], backwards,
                         learn_init, gradient_steps, grad_clipping, unroll_scan,
                         precompute_input, only_return_final, **kwargs)
        self.num_units = num_units
        num_inputs = int(np.prod(self.input_shapes[0][2:]))
        # created in Lasagne's order, so get_all_param_values lists match
        (self.W_in_to_updategate, self.W_hid_to_updategate, self.b_updategate,
         self.nonlinearity_updategate) = _gate_params(self, updategate, "updategate",
                                                      num_inputs, num_units)
        (self.W_in_to_resetgate, self.W_hid_to_resetgate, self.b_resetgate,
         self.nonlinearity_resetgate) = _gate_params(self, resetgate, "resetgate",
                                                     num_inputs, num_units)
        (self.W_in_to_hidden_update, self.W_hid_to_hidden_update, self.b_hidden_update,
         self.nonlinearity_hid) = _gate_params(self, hidden_update, "hidden_update",
                                               num_inputs, num_units)
        self.hid_init = self._add_init(hid_init, (1, num_units), "hid_init")

    def get_output_for(self, inputs, **kwargs):
        input = inputs[0]
        mask = self._mask(inputs)
        if input.ndim > 3:
            input = T.flatten(input, 3)
        input = input.dimshuffle(1, 0, 2)
        num_batch = input.shape[1]
        n = self.num_units

        num_inputs = int(np.prod(self.input_shapes[0][2:]))
        W_in_stacked = _stack([self.W_in_to_resetgate, self.W_in_to_updategate,
                               self.W_in_to_hidden_update], 1, (num_inputs, 3 * n))
        W_hid_stacked = _stack([self.W_hid_to_resetgate, self.W_hid_to_updategate,
                                self.W_hid_to_hidden_update], 1, (n, 3 * n))
        b_stacked = _stack([self.b_resetgate, self.b_updategate, self.b_hidden_update], 0,
                           (3 * n,))
        if self.precompute_input:
            input = T.dot(input, W_in_stacked) + b_stacked
        nl_reset, nl_update, nl_hid = map(_fast, (
            self.nonlinearity_resetgate, self.nonlinearity_updategate, self.nonlinearity_hid))

        def step(input_n, hid_previous, *args):
            hid_input = T.dot(hid_previous, W_hid_stacked)
            input_n = self._clip(input_n)
            hid_input = self._clip(hid_input)
            if not self.precompute_input:
                input_n = T.dot(input_n, W_in_stacked) + b_stacked
            resetgate = nl_reset(hid_input[:, 0:n] + input_n[:, 0:n])
            updategate = nl_update(
                hid_input[:, n:2 * n] + input_n[:, n:2 * n])
            hidden_update = input_n[:, 2 * n:3 * n] + resetgate * hid_input[:, 2 * n:3 * n]
            hidden_update = nl_hid(self._clip(hidden_update))
            return (1 - updategate) * hid_previous + updategate * hidden_update

        def step_masked(input_n, mask_n, hid_previous, *args):
            hid = step(input_n, hid_previous, *args)
            return T.switch(mask_n, hid, hid_previous)

        if mask is not None:
            sequences, step_fun = [input, _time_major_mask(mask, input.dtype)], step_masked
        else:
            sequences, step_fun = [input], step
        hid_init = self._initial_state(inputs, self.hid_init, self.hid_init_incoming_index,
                                       num_batch)
        non_seqs = [W_hid_stacked]
        if not self.precompute_input:
            non_seqs += [W_in_stacked, b_stacked]
        hid_out, = _recurrence(step_fun, sequences, [hid_init], non_seqs, self.backwards,
                               self.gradient_steps, self.unroll_scan, self._n_steps())
        return _finish_output(hid_out, self.only_return_final, self.backwards)
