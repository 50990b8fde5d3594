"""Gated recurrent layers as in Lasagne: Gate, LSTMLayer and GRULayer."""

import numpy as np
import pytensor.tensor as T

from .. import init, nonlinearities
from .recurrent_base import (
    _fast,
    _loop_options,
    _RecurrentBase,
    _stack,
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


class _GatedBase(_RecurrentBase):
    """LSTM and GRU: gates whose weights are stacked so that a step costs one product.

    A subclass lists its gates in ``_gates``, in stacking order, each with the
    attribute that holds its nonlinearity.
    """

    _gates = ()

    def _add_gates(self, num_units, gates):
        """Register each ``(gate_name, Gate)``'s W_in, W_hid and b, in that order, under Lasagne's names."""
        self.num_units = num_units
        num_inputs = int(np.prod(self.input_shapes[0][2:]))
        nonlinearity_attrs = dict(self._gates)
        for gate_name, gate in gates:
            for attr, spec, shape, tags in (
                (f"W_in_to_{gate_name}", gate.W_in, (num_inputs, num_units), {}),
                (f"W_hid_to_{gate_name}", gate.W_hid, (num_units, num_units), {}),
                (f"b_{gate_name}", gate.b, (num_units,), {"regularizable": False}),
            ):
                setattr(self, attr, self.add_param(spec, shape, name=attr, **tags))
            setattr(self, nonlinearity_attrs[gate_name], gate.nonlinearity)

    def _gate_inputs(self, inputs):
        """The time-major input, a step's input projection and the non-sequences it needs.

        Returns ``(input, project, W_hid_stacked, non_seqs)``: with
        ``precompute_input`` the whole input is projected here and ``project``
        is the identity; otherwise ``project`` runs inside each step.
        """
        input = inputs[0]
        if input.ndim > 3:
            input = T.flatten(input, 3)
        input = input.dimshuffle(1, 0, 2)
        names = [gate_name for gate_name, _ in self._gates]
        width = len(names) * self.num_units
        num_inputs = int(np.prod(self.input_shapes[0][2:]))
        W_in = _stack([getattr(self, f"W_in_to_{g}") for g in names], 1, (num_inputs, width))
        W_hid = _stack([getattr(self, f"W_hid_to_{g}") for g in names], 1, (self.num_units, width))
        b = _stack([getattr(self, f"b_{g}") for g in names], 0, (width,))

        def project(x):
            return T.dot(x, W_in) + b

        if self.precompute_input:
            return project(input), (lambda x: x), W_hid, [W_hid]
        return input, project, W_hid, [W_hid, W_in, b]

    def _gate_nonlinearities(self):
        """The gates' nonlinearities in stacking order, tanh computed the fast way."""
        return [_fast(getattr(self, attr)) for _, attr in self._gates]


class LSTMLayer(_GatedBase):
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

    _gates = (
        ("ingate", "nonlinearity_ingate"),
        ("forgetgate", "nonlinearity_forgetgate"),
        ("cell", "nonlinearity_cell"),
        ("outgate", "nonlinearity_outgate"),
    )

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
        inits = [("hid_init", hid_init), ("cell_init", cell_init)]
        super().__init__(incoming, mask_input, inits, **_loop_options(locals()), **kwargs)
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity
        self.peepholes = peepholes
        self._add_gates(
            num_units, [("ingate", ingate), ("forgetgate", forgetgate), ("cell", cell), ("outgate", outgate)]
        )
        if peepholes:
            self.W_cell_to_ingate = self.add_param(ingate.W_cell, (num_units,), name="W_cell_to_ingate")
            self.W_cell_to_forgetgate = self.add_param(forgetgate.W_cell, (num_units,), name="W_cell_to_forgetgate")
            self.W_cell_to_outgate = self.add_param(outgate.W_cell, (num_units,), name="W_cell_to_outgate")
        self.cell_init = self._add_init(cell_init, (1, num_units), "cell_init")
        self.hid_init = self._add_init(hid_init, (1, num_units), "hid_init")

    def get_output_for(self, inputs, **kwargs):
        input, project, W_hid_stacked, non_seqs = self._gate_inputs(inputs)
        nl_in, nl_forget, nl_cell, nl_out = self._gate_nonlinearities()
        nl_hid = _fast(self.nonlinearity)
        n = self.num_units
        if self.peepholes:
            non_seqs += [self.W_cell_to_ingate, self.W_cell_to_forgetgate, self.W_cell_to_outgate]

        def step(input_n, cell_previous, hid_previous, *args):
            gates = self._clip(project(input_n) + T.dot(hid_previous, W_hid_stacked))
            ingate = gates[:, 0 * n : 1 * n]
            forgetgate = gates[:, 1 * n : 2 * n]
            cell_input = gates[:, 2 * n : 3 * n]
            outgate = gates[:, 3 * n : 4 * n]
            if self.peepholes:
                ingate = ingate + cell_previous * self.W_cell_to_ingate
                forgetgate = forgetgate + cell_previous * self.W_cell_to_forgetgate
            cell = nl_forget(forgetgate) * cell_previous + nl_in(ingate) * nl_cell(cell_input)
            if self.peepholes:
                outgate = outgate + cell * self.W_cell_to_outgate
            hid = nl_out(outgate) * nl_hid(cell)
            return [cell, hid]

        return self._scan(inputs, step, input, ["cell_init", "hid_init"], non_seqs)


class GRULayer(_GatedBase):
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
    hid_init : initializer, array, shared variable or Layer
        Initial hidden state: a param of shape ``(1, num_units)`` or a layer
        giving ``(batch, num_units)``.
    grad_clipping : float
        If non-zero, the bound on the gradient of each step's input, of its
        hidden products and of the hidden update's pre-activation.
    backwards, learn_init, gradient_steps, unroll_scan, precompute_input,
    mask_input, only_return_final
        As in :class:`CustomRecurrentLayer`.

    Examples
    --------
    >>> from sknet.layers import InputLayer, GRULayer
    >>> l_gru = GRULayer(InputLayer((None, 6, 3)), num_units=4)
    >>> l_gru.output_shape, [p.name for p in l_gru.get_params()][:3]
    ((None, 6, 4), ['W_in_to_updategate', 'W_hid_to_updategate', 'b_updategate'])
    """

    _gates = (
        ("resetgate", "nonlinearity_resetgate"),
        ("updategate", "nonlinearity_updategate"),
        ("hidden_update", "nonlinearity_hid"),
    )

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
        super().__init__(incoming, mask_input, [("hid_init", hid_init)], **_loop_options(locals()), **kwargs)
        # created in Lasagne's order, so get_all_param_values lists match
        self._add_gates(
            num_units, [("updategate", updategate), ("resetgate", resetgate), ("hidden_update", hidden_update)]
        )
        self.hid_init = self._add_init(hid_init, (1, num_units), "hid_init")

    def get_output_for(self, inputs, **kwargs):
        input, project, W_hid_stacked, non_seqs = self._gate_inputs(inputs)
        nl_reset, nl_update, nl_hid = self._gate_nonlinearities()
        n = self.num_units

        def step(input_n, hid_previous, *args):
            hid_input = self._clip(T.dot(hid_previous, W_hid_stacked))
            # as in Lasagne, the raw step input is clipped before its projection
            input_n = project(self._clip(input_n))
            resetgate = nl_reset(hid_input[:, 0:n] + input_n[:, 0:n])
            updategate = nl_update(hid_input[:, n : 2 * n] + input_n[:, n : 2 * n])
            hidden_update = input_n[:, 2 * n : 3 * n] + resetgate * hid_input[:, 2 * n : 3 * n]
            hidden_update = nl_hid(self._clip(hidden_update))
            return (1 - updategate) * hid_previous + updategate * hidden_update

        return self._scan(inputs, step, input, ["hid_init"], non_seqs)
