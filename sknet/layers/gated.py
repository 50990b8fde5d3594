"""Gated recurrent layers as in Lasagne: Gate, LSTMLayer and GRULayer."""

import numpy as np
import pytensor.tensor as T

from .. import init, nonlinearities
from .recurrent_base import (
    _fast,
    _finish_output,
    _recurrence,
    _RecurrentBase,
    _stack,
    _time_major_mask,
)

__all__ = ["Gate", "LSTMLayer", "GRULayer"]


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

    def __init__(
        self,
        W_in=init.Normal(0.1),
        W_hid=init.Normal(0.1),
        W_cell=init.Normal(0.1),
        b=init.Constant(0.0),
        nonlinearity=nonlinearities.sigmoid,
    ):
        self.W_in = W_in
        self.W_hid = W_hid
        # an explicit None means "no peephole" and is kept as None
        self.W_cell = W_cell
        self.b = b
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity

    def __repr__(self):
        return (
            f"Gate(W_in={self.W_in!r}, W_hid={self.W_hid!r}, W_cell={self.W_cell!r}, "
            f"b={self.b!r}, nonlinearity={self.nonlinearity!r})"
        )


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

    def __init__(
        self,
        incoming,
        num_units,
        ingate=Gate(),
        forgetgate=Gate(),
        cell=Gate(W_cell=None, nonlinearity=nonlinearities.tanh),
        outgate=Gate(),
        nonlinearity=nonlinearities.tanh,
        cell_init=init.Constant(0.0),
        hid_init=init.Constant(0.0),
        backwards=False,
        learn_init=False,
        peepholes=True,
        gradient_steps=-1,
        grad_clipping=0,
        unroll_scan=False,
        precompute_input=True,
        mask_input=None,
        only_return_final=False,
        **kwargs,
    ):
        super().__init__(
            incoming,
            mask_input,
            [("hid_init", hid_init), ("cell_init", cell_init)],
            backwards,
            learn_init,
            gradient_steps,
            grad_clipping,
            unroll_scan,
            precompute_input,
            only_return_final,
            **kwargs,
        )
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity
        self.num_units = num_units
        self.peepholes = peepholes
        num_inputs = int(np.prod(self.input_shapes[0][2:]))

        (self.W_in_to_ingate, self.W_hid_to_ingate, self.b_ingate, self.nonlinearity_ingate) = _gate_params(
            self, ingate, "ingate", num_inputs, num_units
        )
        (self.W_in_to_forgetgate, self.W_hid_to_forgetgate, self.b_forgetgate, self.nonlinearity_forgetgate) = (
            _gate_params(self, forgetgate, "forgetgate", num_inputs, num_units)
        )
        (self.W_in_to_cell, self.W_hid_to_cell, self.b_cell, self.nonlinearity_cell) = _gate_params(
            self, cell, "cell", num_inputs, num_units
        )
        (self.W_in_to_outgate, self.W_hid_to_outgate, self.b_outgate, self.nonlinearity_outgate) = _gate_params(
            self, outgate, "outgate", num_inputs, num_units
        )
        if peepholes:
            self.W_cell_to_ingate = self.add_param(ingate.W_cell, (num_units,), name="W_cell_to_ingate")
            self.W_cell_to_forgetgate = self.add_param(forgetgate.W_cell, (num_units,), name="W_cell_to_forgetgate")
            self.W_cell_to_outgate = self.add_param(outgate.W_cell, (num_units,), name="W_cell_to_outgate")
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
        W_in_stacked = _stack(
            [self.W_in_to_ingate, self.W_in_to_forgetgate, self.W_in_to_cell, self.W_in_to_outgate],
            1,
            (num_inputs, 4 * n),
        )
        W_hid_stacked = _stack(
            [self.W_hid_to_ingate, self.W_hid_to_forgetgate, self.W_hid_to_cell, self.W_hid_to_outgate], 1, (n, 4 * n)
        )
        b_stacked = _stack([self.b_ingate, self.b_forgetgate, self.b_cell, self.b_outgate], 0, (4 * n,))
        if self.precompute_input:
            input = T.dot(input, W_in_stacked) + b_stacked
        nl_in, nl_forget, nl_cell, nl_out, nl_hid = map(
            _fast,
            (
                self.nonlinearity_ingate,
                self.nonlinearity_forgetgate,
                self.nonlinearity_cell,
                self.nonlinearity_outgate,
                self.nonlinearity,
            ),
        )

        def step(input_n, cell_previous, hid_previous, *args):
            if not self.precompute_input:
                input_n = T.dot(input_n, W_in_stacked) + b_stacked
            gates = self._clip(input_n + T.dot(hid_previous, W_hid_stacked))
            ingate = gates[:, 0 * n : 1 * n]
            forgetgate = gates[:, 1 * n : 2 * n]
            cell_input = gates[:, 2 * n : 3 * n]
            outgate = gates[:, 3 * n : 4 * n]
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
        cell_init = self._initial_state(inputs, self.cell_init, self.cell_init_incoming_index, num_batch)
        hid_init = self._initial_state(inputs, self.hid_init, self.hid_init_incoming_index, num_batch)

        non_seqs = [W_hid_stacked]
        if self.peepholes:
            non_seqs += [self.W_cell_to_ingate, self.W_cell_to_forgetgate, self.W_cell_to_outgate]
        if not self.precompute_input:
            non_seqs += [W_in_stacked, b_stacked]

        _, hid_out = _recurrence(
            step_fun,
            sequences,
            [cell_init, hid_init],
            non_seqs,
            self.backwards,
            self.gradient_steps,
            self.unroll_scan,
            self._n_steps(),
        )
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

    def __init__(
        self,
        incoming,
        num_units,
        resetgate=Gate(W_cell=None),
        updategate=Gate(W_cell=None),
        hidden_update=Gate(W_cell=None, nonlinearity=nonlinearities.tanh),
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
        super().__init__(
            incoming,
            mask_input,
            [("hid_init", hid_init)],
            backwards,
            learn_init,
            gradient_steps,
            grad_clipping,
            unroll_scan,
            precompute_input,
            only_return_final,
            **kwargs,
        )
        self.num_units = num_units
        num_inputs = int(np.prod(self.input_shapes[0][2:]))
        # created in Lasagne's order, so get_all_param_values lists match
        (self.W_in_to_updategate, self.W_hid_to_updategate, self.b_updategate, self.nonlinearity_updategate) = (
            _gate_params(self, updategate, "updategate", num_inputs, num_units)
        )
        (self.W_in_to_resetgate, self.W_hid_to_resetgate, self.b_resetgate, self.nonlinearity_resetgate) = _gate_params(
            self, resetgate, "resetgate", num_inputs, num_units
        )
        (self.W_in_to_hidden_update, self.W_hid_to_hidden_update, self.b_hidden_update, self.nonlinearity_hid) = (
            _gate_params(self, hidden_update, "hidden_update", num_inputs, num_units)
        )
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
        W_in_stacked = _stack(
            [self.W_in_to_resetgate, self.W_in_to_updategate, self.W_in_to_hidden_update], 1, (num_inputs, 3 * n)
        )
        W_hid_stacked = _stack(
            [self.W_hid_to_resetgate, self.W_hid_to_updategate, self.W_hid_to_hidden_update], 1, (n, 3 * n)
        )
        b_stacked = _stack([self.b_resetgate, self.b_updategate, self.b_hidden_update], 0, (3 * n,))
        if self.precompute_input:
            input = T.dot(input, W_in_stacked) + b_stacked
        nl_reset, nl_update, nl_hid = map(
            _fast, (self.nonlinearity_resetgate, self.nonlinearity_updategate, self.nonlinearity_hid)
        )

        def step(input_n, hid_previous, *args):
            hid_input = T.dot(hid_previous, W_hid_stacked)
            input_n = self._clip(input_n)
            hid_input = self._clip(hid_input)
            if not self.precompute_input:
                input_n = T.dot(input_n, W_in_stacked) + b_stacked
            resetgate = nl_reset(hid_input[:, 0:n] + input_n[:, 0:n])
            updategate = nl_update(hid_input[:, n : 2 * n] + input_n[:, n : 2 * n])
            hidden_update = input_n[:, 2 * n : 3 * n] + resetgate * hid_input[:, 2 * n : 3 * n]
            hidden_update = nl_hid(self._clip(hidden_update))
            return (1 - updategate) * hid_previous + updategate * hidden_update

        def step_masked(input_n, mask_n, hid_previous, *args):
            hid = step(input_n, hid_previous, *args)
            return T.switch(mask_n, hid, hid_previous)

        if mask is not None:
            sequences, step_fun = [input, _time_major_mask(mask, input.dtype)], step_masked
        else:
            sequences, step_fun = [input], step
        hid_init = self._initial_state(inputs, self.hid_init, self.hid_init_incoming_index, num_batch)
        non_seqs = [W_hid_stacked]
        if not self.precompute_input:
            non_seqs += [W_in_stacked, b_stacked]
        (hid_out,) = _recurrence(
            step_fun,
            sequences,
            [hid_init],
            non_seqs,
            self.backwards,
            self.gradient_steps,
            self.unroll_scan,
            self._n_steps(),
        )
        return _finish_output(hid_out, self.only_return_final, self.backwards)
