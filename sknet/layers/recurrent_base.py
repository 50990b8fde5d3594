"""Plumbing shared by the recurrent layers: the scan loop, masks, initial states, options."""

import inspect

import pytensor
import pytensor.tensor as T
from pytensor.gradient import grad_clip

from .. import nonlinearities
from ..utils import unroll_scan
from .base import Layer, MergeLayer

# PyTensor 3 scan can return the outputs alone (return_updates=False); older
# releases always return an (outputs, updates) pair.
_SCAN_HAS_RETURN_UPDATES = "return_updates" in inspect.signature(pytensor.scan).parameters


def _recurrence(step, sequences, outputs_info, non_sequences, backwards, gradient_steps, unroll, n_steps):
    """Run ``step`` over axis 0 of ``sequences``; return one stacked output per state.

    Outputs are in processing order (reversed time when ``backwards``), as
    scan gives them.
    """
    if unroll:
        return unroll_scan(step, sequences, outputs_info, non_sequences, n_steps, go_backwards=backwards)

    def typed_step(*args):
        # A state of one unit starts broadcastable on that axis (its init
        # comes from a (1, 1) parameter) while the step's products may not
        # know the size; scan wants one type, so state it.
        outs = step(*args)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        return [init.type.filter_variable(out, allow_convert=True) for init, out in zip(outputs_info, outs)]

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
        return pytensor.scan(typed_step, return_updates=False, **kwargs)
    outputs, _ = pytensor.scan(typed_step, **kwargs)
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


def _broadcast_mask(mask_n, ndim):
    """A (batch, 1) mask step, padded with broadcastable axes up to ``ndim``."""
    if ndim > 2:
        mask_n = mask_n.dimshuffle(0, *(["x"] * (ndim - 1)))
    return mask_n


def _finish_output(out, only_return_final, backwards):
    """Turn a time-major scan output into Lasagne's batch-major layer output."""
    if only_return_final:
        # the last processed step: the final time step, or the first one backwards
        return out[-1]
    out = out.dimshuffle(1, 0, *range(2, out.ndim))
    if backwards:
        out = out[:, ::-1]
    return out


# the loop options every recurrent layer's constructor takes, under Lasagne's names
_LOOP_OPTIONS = (
    "backwards",
    "learn_init",
    "gradient_steps",
    "grad_clipping",
    "unroll_scan",
    "precompute_input",
    "only_return_final",
)


def _loop_options(arguments):
    """Pick the loop options out of a constructor's ``locals()``.

    Each public layer declares them in its own signature, as Lasagne's do;
    this hands them on to :class:`_RecurrentBase` without naming each again.
    """
    return {name: arguments[name] for name in _LOOP_OPTIONS}


class _RecurrentBase(MergeLayer):
    """Shared plumbing: the extra incomings (mask, initial states) and the options."""

    def __init__(
        self,
        incoming,
        mask_input,
        inits,
        *,
        backwards,
        learn_init,
        gradient_steps,
        grad_clipping,
        unroll_scan,
        precompute_input,
        only_return_final,
        **kwargs,
    ):
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
            raise ValueError("Input sequence length cannot be specified as None when unroll_scan is True")

    def _add_init(self, spec, shape, name):
        """Register an initial state: a layer is kept as is, anything else is a param."""
        if isinstance(spec, Layer):
            return spec
        return self.add_param(spec, shape, name=name, trainable=self.learn_init, regularizable=False)

    def _initial_state(self, inputs, state_name, num_batch):
        """The (batch, ...) initial value of a state, from its layer or its param."""
        index = getattr(self, f"{state_name}_incoming_index")
        if index > 0:
            return inputs[index]
        state = getattr(self, state_name)
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

    def _scan(self, inputs, step, input, state_names, non_seqs):
        """Run ``step`` over the time-major ``input``; return the last state as the layer's output.

        ``step(input_n, *previous_states, *non_seqs)`` returns the new states,
        in the order of ``state_names`` (their initial values' attributes).
        With a mask, padded steps carry every state over unchanged.
        """
        num_batch = input.shape[1]
        inits = [self._initial_state(inputs, name, num_batch) for name in state_names]
        mask = self._mask(inputs)
        sequences, step_fun = [input], step
        if mask is not None:
            sequences.append(_time_major_mask(mask, input.dtype))

            def step_fun(input_n, mask_n, *args):
                new = step(input_n, *args)
                new = new if isinstance(new, (list, tuple)) else [new]
                return [T.switch(_broadcast_mask(mask_n, n.ndim), n, old) for n, old in zip(new, args)]

        outputs = _recurrence(
            step_fun,
            sequences,
            inits,
            non_seqs,
            self.backwards,
            self.gradient_steps,
            self.unroll_scan,
            self.input_shapes[0][1],
        )
        return _finish_output(outputs[-1], self.only_return_final, self.backwards)
