"""Helpers in sknet.utils: tuples, params, one-hot, norms, unrolled scans."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest

from sknet import init, utils


class TestAsTuple:
    def test_scalar_and_iterables(self):
        assert utils.as_tuple(3, 2) == (3, 3)
        assert utils.as_tuple((1, 2), 2) == (1, 2)
        assert utils.as_tuple([4, 5, 6], 3, int) == (4, 5, 6)
        assert utils.as_tuple(2.5, 1, (int, float)) == (2.5,)

    def test_errors(self):
        with pytest.raises(ValueError, match="iterable with length 3, got \\(1, 2\\)"):
            utils.as_tuple((1, 2), 3)
        with pytest.raises(TypeError, match="iterable of int, got \\(1, 'a'\\)"):
            utils.as_tuple((1, "a"), 2, int)
        with pytest.raises(TypeError, match="iterable of int or float"):
            utils.as_tuple("ab", 2, (int, float))


class TestCreateParam:
    def test_numpy_array_is_copied_as_float32(self):
        arr = np.arange(6, dtype="float64").reshape(2, 3)
        p = utils.create_param(arr, (2, 3), name="W")
        assert isinstance(p, pytensor.compile.SharedVariable)
        assert p.name == "W" and p.dtype == "float32"
        arr[0, 0] = 100
        assert p.get_value()[0, 0] == 0
        # as in Lasagne, an integer array keeps its dtype
        assert utils.create_param(np.ones((2,), dtype="int16"), (2,)).dtype == "int16"

    def test_shared_variable_is_used_as_is(self):
        s = pytensor.shared(np.zeros((2, 3), dtype="float32"))
        assert utils.create_param(s, (2, 3), name="W") is s
        assert s.name == "W"  # a name is given only when it had none
        named = pytensor.shared(np.zeros(2, dtype="float32"), name="keep")
        assert utils.create_param(named, (2,), name="other").name == "keep"

    def test_expression_is_used_as_is(self):
        x = T.matrix()
        assert utils.create_param(x, (2, 3)) is x
        e = 2 * pytensor.shared(np.ones((2, 3), dtype="float32"))
        assert utils.create_param(e, (2, 3)) is e

    def test_callable(self):
        p = utils.create_param(init.Constant(0.5), (3, 2), name="b")
        assert p.get_value().shape == (3, 2) and p.dtype == "float32"
        np.testing.assert_array_equal(p.get_value(), 0.5)
        # a callable may also return an expression
        x = T.matrix()
        assert utils.create_param(lambda shape: x, (2, 2)) is x
        p = utils.create_param(lambda shape: np.zeros(shape, dtype="float64"), (2,))
        assert p.dtype == "float32"

    @pytest.mark.parametrize(
        "spec, shape, message",
        [
            (
                np.zeros((2, 3)),
                (3, 2),
                "cannot initialize parameter W: array has shape \\(2, 3\\), should be \\(3, 2\\)",
            ),
            (T.vector(), (2, 3), "parameter variable has 1 dimensions, should be 2"),
            (
                pytensor.shared(np.zeros((2, 2), dtype="float32")),
                (2, 3),
                "parameter has shape \\(2, 2\\), should be \\(2, 3\\)",
            ),
            (lambda shape: np.zeros((1,)), (2,), "initializer returned an array of shape \\(1,\\), should be \\(2,\\)"),
            (lambda shape: T.matrix(), (2,), "parameter variable has 2 dimensions, should be 1"),
            (init.Constant(), (2, 0), "non-positive or unknown shape \\(2, 0\\)"),
            (init.Constant(), (None, 3), "non-positive or unknown shape"),
        ],
    )
    def test_errors(self, spec, shape, message):
        with pytest.raises(ValueError, match=message):
            utils.create_param(spec, shape, name="W")

    @pytest.mark.parametrize("spec", [object(), {}, "string", lambda shape: {}, lambda shape: "abc"])
    def test_type_errors(self, spec):
        # TypeError, as Lasagne raises for a spec that is no array, expression or callable
        with pytest.raises(TypeError, match="must be a numpy array, a PyTensor expression or a callable"):
            utils.create_param(spec, (2,), name="W")

    def test_error_without_name(self):
        with pytest.raises(ValueError, match="^cannot initialize parameter: array"):
            utils.create_param(np.zeros(3), (2,))


def test_one_hot(mode):
    x = T.ivector("x")
    f = pytensor.function([x], [utils.one_hot(x, 5), utils.one_hot(x)], mode=mode)
    labels = np.array([0, 3, 1, 3], dtype="int32")
    fixed, inferred = f(labels)
    assert fixed.dtype == np.float32
    np.testing.assert_array_equal(fixed, np.eye(5)[labels])
    np.testing.assert_array_equal(inferred, np.eye(4)[labels])


class TestComputeNorms:
    def test_numpy(self):
        rng = np.random.RandomState(0)
        v, m, c = rng.randn(4), rng.randn(3, 5), rng.randn(2, 3, 4, 4)
        np.testing.assert_allclose(utils.compute_norms(v), np.abs(v))
        np.testing.assert_allclose(utils.compute_norms(m), np.linalg.norm(m, axis=0))
        np.testing.assert_allclose(utils.compute_norms(c), np.sqrt((c**2).sum(axis=(1, 2, 3))))
        np.testing.assert_allclose(utils.compute_norms(m, norm_axes=[1]), np.linalg.norm(m, axis=1))
        with pytest.raises(ValueError, match="Must specify `norm_axes`"):
            utils.compute_norms(np.zeros((1,) * 6))

    def test_symbolic_matches_numpy(self, mode):
        rng = np.random.RandomState(1)
        m, c = rng.randn(3, 5).astype("float32"), rng.randn(2, 3, 2, 2).astype("float32")
        xm, xc = T.matrix(), T.tensor4()
        f = pytensor.function([xm, xc], [utils.compute_norms(xm), utils.compute_norms(xc, norm_axes=(0, 2))], mode=mode)
        got_m, got_c = f(m, c)
        np.testing.assert_allclose(got_m, utils.compute_norms(m), rtol=1e-5)
        np.testing.assert_allclose(got_c, utils.compute_norms(c, norm_axes=(0, 2)), rtol=1e-5)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_unroll_scan_matches_pytensor_scan(go_backwards, mode):
    """A two-output recurrence with a sequence, carried state and a non-sequence."""
    x, W = T.matrix("x"), T.matrix("W")
    h0, c0 = T.vector("h0"), T.vector("c0")

    def step(x_t, h_prev, c_prev, W_):
        h = T.tanh(T.dot(x_t, W_) + h_prev)
        return [h, c_prev + h]

    n_steps = 4
    scanned = pytensor.scan(
        step,
        sequences=[x],
        outputs_info=[h0, c0],
        non_sequences=[W],
        n_steps=n_steps,
        go_backwards=go_backwards,
        return_updates=False,
    )
    unrolled = utils.unroll_scan(step, [x], [h0, c0], [W], n_steps, go_backwards=go_backwards)
    f = pytensor.function([x, W, h0, c0], list(scanned) + unrolled, mode=mode)
    rng = np.random.RandomState(2)
    args = [rng.randn(n_steps, 3), rng.randn(3, 3), rng.randn(3), rng.randn(3)]
    h_scan, c_scan, h_unrolled, c_unrolled = f(*[a.astype("float32") for a in args])
    assert h_unrolled.shape == (n_steps, 3)
    np.testing.assert_allclose(h_unrolled, h_scan, rtol=1e-5)
    np.testing.assert_allclose(c_unrolled, c_scan, rtol=1e-5)


def test_collect_shared_vars():
    a = pytensor.shared(np.float32(1.0), name="a")
    b = pytensor.shared(np.ones(2, dtype="float32"), name="b")
    x = T.vector("x")
    assert utils.collect_shared_vars(x * a) == [a]
    found = utils.collect_shared_vars([x * a + b, T.sum(b)])
    assert set(found) == {a, b} and len(found) == 2
    assert utils.collect_shared_vars(x + 1) == []


def test_small_helpers():
    assert utils.floatX([1, 2]).dtype == np.float32
    assert utils.shared_empty(2).get_value().shape == (1, 1)
    assert utils.unique([3, 1, 3, 2, 1]) == [3, 1, 2]
    c = utils.as_tensor_expression(np.array([1.0, 2.0]))
    assert c.dtype == "float32"
    x = T.matrix()
    assert utils.as_tensor_expression(x) is x
    assert utils.as_theano_expression is utils.as_tensor_expression


# Lasagne's semantics (each of these failed before sknet matched them)


def test_int_types():
    for value in (42, np.int8(42), np.int32(42), np.int64(42), np.prod(np.empty(42).shape)):
        assert isinstance(value, utils.int_types)
    for value in (4.0, "4", np.float32(4)):
        assert not isinstance(value, utils.int_types)
    with pytest.raises(TypeError, match="iterable of int, got"):
        utils.as_tuple("ab", 2, utils.int_types)


def test_inspect_kwargs():
    def f(a, b=1, *args, c=None, d, **kwargs):
        pass

    assert utils.inspect_kwargs(f) == ["b", "c"]
    assert utils.inspect_kwargs(lambda x: x) == []
    assert utils.inspect_kwargs(utils.unroll_scan) == ["go_backwards"]


def test_collect_shared_vars_is_left_first_depth_first():
    x, y, z = (pytensor.shared(np.float32(0), name=n) for n in "xyz")
    assert utils.collect_shared_vars([x, y, z]) == [x, y, z]
    assert utils.collect_shared_vars(x**2 + T.log(y) * z) == [x, y, z]
    assert utils.collect_shared_vars([z, x * y]) == [z, x, y]
    W1 = pytensor.shared(np.zeros((3, 2), "float32"), name="W1")
    W2 = pytensor.shared(np.zeros((2, 4), "float32"), name="W2")
    assert utils.collect_shared_vars(T.dot(W1, W2)) == [W1, W2]
    assert utils.collect_shared_vars([T.dot(W2.T, W1.T), W1]) == [W2, W1]


@pytest.mark.parametrize("shape", [(10, 1, 20), (1, 2), (3, 1), (2, 3), (1,)])
def test_create_param_size_one_axes_are_broadcastable(shape, mode):
    bcast = tuple(s == 1 for s in shape)
    assert utils.create_param(np.zeros, shape).broadcastable == bcast
    assert utils.create_param(np.zeros(shape), shape).broadcastable == bcast
    assert utils.create_param(init.Constant(1), shape).broadcastable == bcast


def test_create_param_broadcasts_over_a_batch(mode):
    b = utils.create_param(np.array([[1.0, 2.0, 3.0]]), (1, 3))
    x = T.matrix("x")
    f = pytensor.function([x], x + b, mode=mode)
    np.testing.assert_allclose(f(np.zeros((4, 3), "float32")), np.tile([[1.0, 2.0, 3.0]], (4, 1)))


def test_create_param_dtypes_and_numpy_int_shapes():
    assert utils.create_param(np.arange(6).reshape(2, 3), (2, 3)).dtype == "int64"
    assert utils.create_param(np.zeros((2,), bool), (2,)).dtype == "bool"
    assert utils.create_param(np.zeros((2,), "float64"), (2,)).dtype == "float32"
    assert utils.create_param(3, ()).dtype == "int64"
    p = utils.create_param(init.Constant(0.5), (np.int64(2), np.int32(3)))
    assert p.get_value().shape == (2, 3)
    assert utils.create_param(np.empty, (x for x in [2, 3])).get_value().shape == (2, 3)
    with pytest.raises(ValueError, match="non-positive or unknown shape"):
        utils.create_param(np.zeros, (2.0, 3))


def test_float_dtype_follows_pytensor_floatx():
    assert utils.float_dtype() == "float32" and utils.floatX([1]).dtype == np.float32
    with pytensor.config.change_flags(floatX="float64"):
        assert utils.floatX([1]).dtype == np.float64
        assert utils.create_param(init.Constant(1.0), (2,)).dtype == "float64"
        assert utils.create_param(np.zeros(2, "float32"), (2,)).dtype == "float64"
        assert utils.shared_empty(2).dtype == "float64"


def test_unroll_scan_with_one_sequence_not_in_a_list(mode):
    k = 3
    a = T.scalar("a")
    (result,) = utils.unroll_scan(lambda step, prior, a_: prior * a_, T.arange(k), [T.constant(1.0)], [a], n_steps=k)
    f = pytensor.function([a], result, mode=mode)
    np.testing.assert_allclose(f(np.float32(10)), [10, 100, 1000])


def test_compute_norms_rejects_other_types():
    with pytest.raises(RuntimeError, match="numpy arrays and PyTensor variables"):
        utils.compute_norms([[1.0, 2.0]])
