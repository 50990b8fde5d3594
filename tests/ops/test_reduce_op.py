"""BlockSum against numpy, its gradient, and the rewrite that puts it in graphs."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.gradient import verify_grad
from pytensor.link.vm import VMLinker

from sknet import backend
from sknet.ops.reduce import BlockSum

# (shape, summed axes): the conv bias gradient, batch norm over a 3-d input, a
# trailing block kept, and sizes around the 8-lane loop's tail.
CASES = [
    ((4, 3, 5, 7), (0, 2, 3)),
    ((5, 6, 9), (0, 2)),
    ((2, 3, 4, 5), (0, 1)),
    ((3, 2, 1, 13), (0, 2, 3)),
    ((1, 4, 8), (0, 2)),
    ((2, 3, 4, 5), (0, 2)),
]


@pytest.fixture(scope="module")
def compiled(mode):
    xs = [T.tensor(dtype="float32", shape=(None,) * len(shape)) for shape, _ in CASES]
    return pytensor.function(xs, [x.sum(axis=axes) for x, (_, axes) in zip(xs, CASES)], mode=mode)


def test_sums_match_numpy(compiled):
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=shape).astype("float32") for shape, _ in CASES]
    for x, (shape, axes), out in zip(xs, CASES, compiled(*xs)):
        assert out.dtype == np.float32
        np.testing.assert_allclose(
            out, x.astype(np.float64).sum(axis=axes), rtol=1e-5, atol=1e-5, err_msg=str((shape, axes))
        )


def test_rewrite_in_c_backend_only(compiled):
    ops = [type(n.op) for n in compiled.maker.fgraph.apply_nodes]
    kept = CASES[:-1]  # the last keeps axes 1 and 3, not one block
    if isinstance(compiled.maker.mode.linker, VMLinker):
        assert ops.count(BlockSum) == len(kept)
    else:
        assert BlockSum not in ops


def test_accumulates_in_float64():
    """A million float32 ones plus one large value: a float32 running sum would
    stop counting at 2**24; the float64 accumulator does not."""
    x = T.tensor4("x")
    f = pytensor.function([x], BlockSum(1, 2)(x), mode=backend.get_mode())
    X = np.ones((64, 2, 128, 128), np.float32)
    X[0, :, 0, 0] = 2.0**24
    np.testing.assert_array_equal(f(X), np.float32(2.0**24 + X.size // 2 - 1))


def test_verify_grad(mode):
    rng = np.random.default_rng(1)
    verify_grad(
        lambda v: BlockSum(1, 3)(v) ** 2, [rng.normal(size=(2, 3, 2, 4))], rng=np.random.default_rng(2), mode=mode
    )


@pytest.mark.parametrize("args", [(2, 1), (-1, 2)])
def test_bad_axes_raise(args):
    with pytest.raises(ValueError, match="start < stop"):
        BlockSum(*args)


def test_too_few_input_axes_raise():
    with pytest.raises(ValueError, match="do not fit"):
        BlockSum(1, 4)(T.tensor3())
