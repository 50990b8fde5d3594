"""nolearn's weight loading (load_params_from on an unfitted net, transfer learning) and its splits and iterators."""

import numpy as np
import pytest

from sknet import BatchIterator, NeuralNet, TrainSplit
from sknet.batch_iterators import configured
from sknet.layers import DenseLayer, InputLayer


def _spec(n_in, n_out):
    return [
        (InputLayer, {"shape": (None, n_in)}),
        (DenseLayer, {"num_units": 16}),
        (DenseLayer, {"num_units": n_out, "nonlinearity": None}),
    ]


@pytest.fixture(scope="module")
def source(diabetes, make_regressor):
    return make_regressor(layers=_spec(10, 1), max_epochs=5).fit(*diabetes)


def test_load_into_an_unfitted_net_then_predict(source, diabetes, tmp_path):
    X, _ = diabetes
    path = tmp_path / "w.npz"
    source.save_params_to(str(path))
    net = NeuralNet(_spec(10, 1))
    assert net.load_params_from(str(path)) is net  # builds the layers first, as nolearn's initialize()
    np.testing.assert_allclose(net.predict(X).ravel(), source.predict(X), rtol=1e-5, atol=1e-6)


def test_transfer_learning_loads_matching_layers_and_names_the_rest(source, capsys):
    net = NeuralNet(_spec(10, 3), verbose=1, random_state=1)
    net.load_params_from(source, strict=False)
    np.testing.assert_array_equal(net.layers_["dense1"].W.get_value(), source.layers_["dense1"].W.get_value())
    assert net.layers_["dense2"].W.get_value().shape == (16, 3)
    out = capsys.readouterr().out
    assert (
        "skipped layer 'dense2' (shapes differ: this net has [(16, 3), (3,)], the weights give [(16, 1), (1,)])" in out
    )
    assert "loaded layers ['dense1']" in out
    # by name: a layer the weights do not have is left as it was and named too
    values = source.get_all_params_values()
    values["old_output"] = values.pop("dense2")
    net.load_params_from(values, strict=False)
    out = capsys.readouterr().out
    assert "skipped layer 'old_output' (not a layer of this net)" in out and "skipped layer 'dense2'" in out


def test_strict_by_default_loads_nothing_on_a_mismatch(source):
    net = NeuralNet(_spec(10, 3), random_state=1).initialize()
    before = net.layers_["dense1"].W.get_value()
    with pytest.raises(ValueError, match=r"Layer 'dense2': parameter dense2.W has shape \(16, 3\)"):
        net.load_params_from(source)
    np.testing.assert_array_equal(net.layers_["dense1"].W.get_value(), before)
    with pytest.raises(ValueError, match="No layer of the weights matches this net"):
        NeuralNet(_spec(5, 3)).load_params_from(source, strict=False)


def test_unfitted_net_without_shapes_says_what_is_missing(source):
    with pytest.raises(ValueError, match="load_params_from on an unfitted net builds its layers.*shape"):
        NeuralNet([(InputLayer, {}), (DenseLayer, {"num_units": 1})]).load_params_from(source)


def test_train_split_without_validation_gives_empty_arrays(make_classifier):
    X, y = np.arange(20.0).reshape(10, 2), np.array(list("ab") * 5)
    X_tr, X_va, y_tr, y_va = TrainSplit(eval_size=0)(X, y, make_classifier())
    assert X_tr is X and y_tr is y and X_va.shape == (0, 2) and y_va.shape == (0,)


def test_train_split_stratifies_for_classifiers_only(make_classifier, make_regressor):
    y = np.array(["spam"] * 80 + ["ham"] * 20)
    X = np.arange(100.0)[:, None]
    split = TrainSplit(eval_size=0.25, seed=3)  # nolearn's spelling
    _, _, _, y_va = split(X, y, make_classifier())
    assert (y_va == "ham").sum() == 5 and (y_va == "spam").sum() == 20
    regressor_split = split(X, y, make_regressor())[1]
    np.testing.assert_array_equal(regressor_split, split(X, y, None)[1])  # a plain shuffle, as without a net
    assert not np.array_equal(regressor_split, split(X, y, make_classifier())[1])


def test_batch_iterator_seed_is_nolearns_random_state():
    X = np.arange(50)
    order = [xb.tolist() for xb, _ in BatchIterator(16, shuffle=True, random_state=7)(X)]
    assert [xb.tolist() for xb, _ in BatchIterator(batch_size=16, shuffle=True, seed=7)(X)] == order
    # a net's random_state does not override the seed given
    fresh = configured(BatchIterator(16, shuffle=True, seed=7), BatchIterator(), None, seed=99)
    assert [xb.tolist() for xb, _ in fresh(X)] == order
    assert [xb.tolist() for xb, _ in BatchIterator(16, shuffle=True, seed=8)(X)] != order
