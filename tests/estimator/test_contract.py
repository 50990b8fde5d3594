"""The callback contract and the estimator rules that make issue #14's bugs impossible.

Each test names the bug it guards; every one of them failed on the estimator
before the redesign.
"""

import inspect

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, cross_val_score

import sknet
from sknet import NeuralNetClassifier, NeuralNetRegressor, callbacks, nonlinearities
from sknet.function_cache import compile_count
from sknet.layers import DenseLayer, InputLayer

LETTERS = np.array(list("abcdefghij"))


def op_names(fn):
    return {type(node.op).__name__ for node in fn.maker.fgraph.apply_nodes}


# 1. EpochScoring scored label-encoded targets, broke on strings, overwrote keys, ran a second pass


@pytest.mark.parametrize("labels", ["shifted", "strings"])
def test_epoch_scoring_scores_the_users_labels(make_classifier, digits, labels):
    X, y = digits
    y = y + 1 if labels == "shifted" else LETTERS[y]
    net = make_classifier(
        callbacks=[callbacks.EpochScoring("accuracy", on_train=True), callbacks.EpochScoring("f1_macro")], max_epochs=3
    ).fit(X, y)
    last = net.history_[-1]
    assert 0.6 < last["train_accuracy"] <= 1 and 0.6 < last["valid_f1_macro"] <= 1
    # the validation score equals scikit-learn's on the validation part, in the user's labels
    X_tr, X_va, y_tr, y_va = net.train_split_(X, y, net)
    assert last["valid_accuracy"] == pytest.approx(accuracy_score(y_va, net.predict(X_va)))
    assert [r["valid_f1_macro_best"] for r in net.history_] == [
        r["valid_f1_macro"] == max(h["valid_f1_macro"] for h in net.history_[: i + 1])
        for i, r in enumerate(net.history_)
    ]


def test_epoch_scoring_reuses_the_epochs_outputs(make_classifier, digits):
    net = make_classifier(callbacks=[callbacks.EpochScoring("f1_macro"), callbacks.EpochScoring("roc_auc_ovr")])
    net.fit(*digits)
    # no predict function was compiled or called: the scores came from the validation pass
    assert ("predict", False) not in net._functions
    assert all(0 < r["valid_roc_auc_ovr"] <= 1 for r in net.history_)


def test_epoch_scoring_never_overwrites_a_key(make_classifier, digits):
    net = make_classifier(callbacks=[callbacks.EpochScoring("accuracy")], max_epochs=1)
    with pytest.raises(ValueError, match="would overwrite the history key 'valid_accuracy'"):
        net.fit(*digits)


# 2. PrintLog guessed "best" from the name


def test_print_log_stars_what_the_scorer_says_is_best(make_regressor, diabetes):
    lines = []
    scorer = callbacks.EpochScoring("neg_mean_squared_error", lower_is_better=False)
    net = make_regressor(max_epochs=4, callbacks=[scorer, callbacks.PrintLog(sink=lines.append)])
    net.fit(*diabetes)
    column = lines[1].split().index("valid_neg_mean_squared_error") - 1  # "epoch" heads the row number
    for record, line in zip(net.history_, lines[3:]):
        cell = line.split()[1 + column]
        assert cell.endswith("*") == record["valid_neg_mean_squared_error_best"]
    scores = net.history_[:, "valid_neg_mean_squared_error"]
    assert scores[-1] > scores[0] and lines[-1].split()[1 + column].endswith("*")


# 3. The estimator never reached the fused AdamStep


def test_default_adam_compiles_to_adam_step_and_rate_changes_without_recompiling(make_classifier, digits):
    X, y = digits
    net = NeuralNetClassifier(
        [(InputLayer, {}), (DenseLayer, {"num_units": 16}), (DenseLayer, {})], max_epochs=1, random_state=0
    ).fit(X, y)
    assert "AdamStep" in op_names(net._functions.get("train"))
    assert net.get_hyperparameter("update__learning_rate") == pytest.approx(3e-3)
    before = compile_count()
    net.set_params(update__learning_rate=1e-4, warm_start=True)
    sched = callbacks.LRScheduler([1e-2, 1e-3])
    net.set_params(callbacks=[sched]).fit(X, y)  # warm start keeps the compiled functions
    assert compile_count() == before
    assert net.get_hyperparameter("update__learning_rate") == pytest.approx(1e-3)


def test_static_hyperparameter_change_recompiles(make_classifier, digits):
    net = make_classifier(max_epochs=1).fit(*digits)
    train = net._functions.get("train")
    net.set_params(update__beta1=0.8)
    assert net._functions is None
    net.partial_fit(*digits)
    assert net._functions.get("train") is not train


# 4. An output spec without a nonlinearity trained nothing, silently


def test_output_without_nonlinearity_gets_softmax_whatever_num_units(digits):
    X, y = digits
    yb = np.where(y < 5, "low", "high")
    spec = [(InputLayer, {}), (DenseLayer, {"num_units": 32}), (DenseLayer, {"num_units": 2})]
    net = NeuralNetClassifier(spec, max_epochs=10, random_state=0).fit(X, yb)
    assert net.layers_["dense2"].nonlinearity is nonlinearities.softmax
    assert len(net.history_) == 10 and net.score(X, yb) > 0.85
    one = NeuralNetClassifier(spec[:2] + [(DenseLayer, {"num_units": 1})], max_epochs=10, random_state=0).fit(X, yb)
    assert one.layers_["dense2"].nonlinearity is nonlinearities.sigmoid and one.score(X, yb) > 0.85


def test_regressor_output_is_linear_whatever_num_units(diabetes):
    X, y = diabetes
    net = NeuralNetRegressor([(InputLayer, {}), (DenseLayer, {"num_units": 1})], max_epochs=2, random_state=0)
    assert net.fit(X, y).layers_["dense1"].nonlinearity is nonlinearities.identity


@pytest.mark.parametrize("nonlinearity", [nonlinearities.rectify, None, nonlinearities.sigmoid])
def test_explicit_non_probabilistic_output_is_an_error_before_compiling(digits, nonlinearity):
    spec = [(InputLayer, {}), (DenseLayer, {"num_units": 10, "nonlinearity": nonlinearity})]
    before = compile_count()
    with pytest.raises(ValueError, match="needs probabilities .*softmax over 10 units"):
        NeuralNetClassifier(spec, max_epochs=1).fit(*digits)
    assert compile_count() == before


def test_own_loss_lifts_the_output_rule(digits):
    spec = [(InputLayer, {}), (DenseLayer, {"num_units": 10, "nonlinearity": None})]
    net = NeuralNetClassifier(
        spec, objective_loss_function=sknet.objectives.multiclass_hinge_loss, max_epochs=2, random_state=0
    ).fit(*digits)
    assert len(net.history_) == 2


def test_non_finite_first_epoch_is_an_error_naming_the_causes(digits):
    from sknet.training import DivergenceError

    spec = [(InputLayer, {}), (DenseLayer, {"num_units": 16}), (DenseLayer, {})]
    net = NeuralNetClassifier(spec, update__learning_rate=1e30, max_epochs=3, random_state=0)
    with pytest.raises(DivergenceError, match=r"first epoch.*nonlinearity softmax.*learning rate.*scale of X"):
        net.fit(*digits)


# 5. Prebuilt networks did not clone; routed layer kwargs were ignored


def prebuilt():
    l_in = InputLayer((None, 64))
    hidden = DenseLayer(l_in, 16, name="hidden")
    return DenseLayer(hidden, 10, nonlinearity=nonlinearities.softmax, name="out")


def test_prebuilt_network_clones_and_cross_validates(digits):
    X, y = digits
    net = NeuralNetClassifier(prebuilt(), max_epochs=20, random_state=0)
    copy = clone(net)
    assert copy.layers is net.layers and copy is not net
    W = net.layers.W.get_value()
    scores = cross_val_score(net, X, LETTERS[y], cv=2)
    assert np.all(scores > 0.5)  # chance: 0.1
    search = GridSearchCV(net, {"max_epochs": [1, 20]}, cv=2).fit(X, y)
    assert search.best_params_ == {"max_epochs": 20}
    np.testing.assert_array_equal(net.layers.W.get_value(), W)  # each fit trains a copy


def test_routed_layer_kwargs_with_a_prebuilt_network_are_an_error(digits):
    net = NeuralNetClassifier(prebuilt(), hidden__num_units=8)
    with pytest.raises(ValueError, match=r"\['hidden__num_units'\] cannot change a prebuilt network"):
        net.fit(*digits)


# 6. Hooks took fixed positional arguments


def test_callback_written_the_skorch_way(make_classifier, digits):
    seen = []

    class Rec(callbacks.Callback):
        def on_epoch_end(self, net, **kwargs):
            seen.append(kwargs)

    make_classifier(callbacks=[Rec()], max_epochs=2).fit(digits[0], LETTERS[digits[1]])
    assert [kw["epoch"] for kw in seen] == [1, 2]
    kw = seen[-1]
    assert set(kw["y_valid"]) <= set(LETTERS) and len(kw["valid_output"]) == len(kw["X_valid"])
    assert kw["history"][-1]["epoch"] == 2


CALLBACKS = [c for c in vars(callbacks).values() if isinstance(c, type) and issubclass(c, callbacks.Callback)]
ARGS = {"Checkpoint": ("x.npz",), "LRScheduler": ([0.1],), "EpochScoring": ("accuracy",), "SaveWeights": ("x.npz",)}


@pytest.mark.parametrize("cls", CALLBACKS, ids=lambda c: c.__name__)
def test_every_callback_takes_kwargs_and_clones_untouched(cls):
    for hook in ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_train_end"):
        params = inspect.signature(getattr(cls, hook)).parameters.values()
        assert any(p.kind is p.VAR_KEYWORD for p in params), f"{cls.__name__}.{hook} takes no **kwargs"
    cb = cls(*ARGS.get(cls.__name__, ()))
    before = cb.get_params()
    copy = clone(cb)
    assert type(copy) is cls and copy is not cb and cb.get_params() == before and not vars(cb).keys() - before.keys()


# 7. A loss exploding without NaN destroyed the model silently


def test_exploding_loss_restores_the_last_good_weights(digits):
    X, y = digits
    spec = [(InputLayer, {}), (DenseLayer, {"num_units": 16}), (DenseLayer, {})]
    net = NeuralNetClassifier(spec, max_epochs=2, random_state=0).fit(X, y)
    score, weights = net.score(X, y), net.get_all_params_values()
    net.set_params(update__learning_rate=1e12)
    with pytest.warns(RuntimeWarning, match="diverged: the training loss became .* epoch 3.*weights of epoch 2"):
        net.partial_fit(X * 1e6, y)
    assert len(net.history_) == 2 and net.score(X, y) == score
    for name, values in net.get_all_params_values().items():
        for a, b in zip(values, weights[name]):
            np.testing.assert_array_equal(a, b)


def test_explosion_rule():
    from sknet.training import exploded

    assert exploded(2.8e30, 0.3) and exploded(float("inf"), 0.3) and exploded(1.5, 1e-6)
    assert not exploded(250.0, 0.3) and not exploded(0.5, None) and not exploded(5e-4, 1e-9)


def test_nothing_below_the_estimator_reads_its_attributes():
    import ast
    from pathlib import Path

    root = Path(sknet.__file__).parent
    for module in (
        "callbacks.py",
        "progress.py",
        "training.py",
        "batch_iterators.py",
        "targets.py",
        "hyperparams.py",
        "routing.py",
        "persistence.py",
        "validation.py",
    ):
        tree = ast.parse((root / module).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "net":
                assert not node.attr.endswith("_") or node.attr.startswith("__"), f"{module} reads net.{node.attr}"
                assert not node.attr.startswith("_"), f"{module} reads net.{node.attr}"
