"""Lowering of Lasagne's recurrent layers (RecurrentLayer, LSTMLayer, GRULayer) to numpy steps."""

import numpy as np

from ..layers import DenseLayer, InputLayer
from .common import ExportError, _params, _where, activation_of


def _check_recurrent(layer, name):
    if layer.mask_incoming_index > 0:
        raise ExportError(f"{_where(layer, name)}: a mask_input cannot be exported")
    for state in ("hid_init", "cell_init"):
        if getattr(layer, f"{state}_incoming_index", -1) > 0:
            raise ExportError(f"{_where(layer, name)}: an initial state given as a layer cannot be exported")


def _recurrent_attrs(layer, name, inits):
    return dict(
        h0=_params(layer, name, layer.hid_init)[0].reshape(1, -1),
        backwards=bool(layer.backwards),
        only_final=bool(layer.only_return_final),
        **inits,
    )


def _lower_rnn(b, layer, name, ids):
    _check_recurrent(layer, name)
    where = _where(layer, name)
    i2h, h2h = layer.input_to_hidden, layer.hidden_to_hidden
    for sub in (i2h, h2h):
        if (
            type(sub) is not DenseLayer
            or activation_of(sub.nonlinearity, where)[0] != "identity"
            or type(sub.input_layer) is not InputLayer
        ):
            raise ExportError(
                f"{where}: only dense, linear input_to_hidden and hidden_to_hidden layers can be exported"
            )
    W, b_in, R, b_hid = _params(layer, name, i2h.W, i2h.b, h2h.W, h2h.b)
    bias = np.zeros(R.shape[1], np.float32)
    for v in (b_in, b_hid):
        if v is not None:
            bias = bias + v
    attrs = _recurrent_attrs(layer, name, {})
    return b.emit(
        "rnn", ids, layer.output_shape, W=W, b=bias, R=R, act=activation_of(layer.nonlinearity, where), **attrs
    )


def _gates(layer, name, gates):
    W = np.concatenate(_params(layer, name, *(getattr(layer, f"W_in_to_{g}") for g in gates)), 1)
    R = np.concatenate(_params(layer, name, *(getattr(layer, f"W_hid_to_{g}") for g in gates)), 1)
    bias = np.concatenate(_params(layer, name, *(getattr(layer, f"b_{g}") for g in gates)))
    return W, R, bias


def _lower_lstm(b, layer, name, ids):
    _check_recurrent(layer, name)
    where = _where(layer, name)
    W, R, bias = _gates(layer, name, ("ingate", "forgetgate", "cell", "outgate"))
    peep = None
    if layer.peepholes:
        peep = np.stack(
            _params(layer, name, layer.W_cell_to_ingate, layer.W_cell_to_forgetgate, layer.W_cell_to_outgate)
        )
    acts = tuple(
        activation_of(getattr(layer, f"nonlinearity_{g}"), where) for g in ("ingate", "forgetgate", "cell", "outgate")
    )
    acts += (activation_of(layer.nonlinearity, where),)
    c0 = _params(layer, name, layer.cell_init)[0].reshape(1, -1)
    return b.emit(
        "lstm",
        ids,
        layer.output_shape,
        W=W,
        b=bias,
        R=R,
        peep=peep,
        acts=acts,
        **_recurrent_attrs(layer, name, {"c0": c0}),
    )


def _lower_gru(b, layer, name, ids):
    _check_recurrent(layer, name)
    where = _where(layer, name)
    W, R, bias = _gates(layer, name, ("resetgate", "updategate", "hidden_update"))
    acts = tuple(activation_of(getattr(layer, f"nonlinearity_{g}"), where) for g in ("resetgate", "updategate", "hid"))
    return b.emit("gru", ids, layer.output_shape, W=W, b=bias, R=R, acts=acts, **_recurrent_attrs(layer, name, {}))
