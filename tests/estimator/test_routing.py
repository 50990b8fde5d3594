"""get_params / set_params, '__' routing, clone, Pipeline and GridSearchCV."""

import time

import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknet import BatchIterator, NeuralNetClassifier, updates
from sknet.callbacks import EarlyStopping


def test_get_params_returns_routed_and_clone_keeps_them(tiny_spec):
    it = BatchIterator(batch_size=7)
    net = NeuralNetClassifier(
        tiny_spec, update=updates.sgd, update__learning_rate=0.1, dense1__num_units=3, batch_iterator_train=it
    )
    params = net.get_params()
    assert params["update__learning_rate"] == 0.1 and params["dense1__num_units"] == 3
    assert params["batch_iterator_train"] is it and params["update"] is updates.sgd
    copy = clone(net)
    assert copy.get_params()["dense1__num_units"] == 3
    assert copy.get_params()["batch_iterator_train"] is not it


def test_set_params_unknown_name_hints(tiny_spec):
    net = NeuralNetClassifier(tiny_spec)
    with pytest.raises(ValueError, match="Did you mean 'dense1__num_units'"):
        net.set_params(dens1__num_units=3)
    with pytest.raises(ValueError, match="Did you mean 'update__learning_rate'"):
        net.set_params(updat__learning_rate=3)
    with pytest.raises(ValueError, match="Invalid parameter 'nonsense'"):
        net.set_params(nonsense=3)


def test_nolearn_single_underscore_and_longest_prefix(digits, tiny_spec):
    X, y = digits
    net = NeuralNetClassifier(
        tiny_spec,
        update_learning_rate=0.01,
        dense1_num_units=5,
        batch_iterator_train_batch_size=50,
        max_epochs=1,
        random_state=0,
    )
    net.fit(X, y)
    assert net.layers_["dense1"].output_shape == (None, 5)
    assert net.batch_iterator_train_.batch_size == 50
    assert net.get_hyperparameter("update__learning_rate") == pytest.approx(0.01)
    # the '__' spelling replaces the nolearn one
    net.set_params(update__learning_rate=0.2)
    assert "update_learning_rate" not in net.get_params()
    assert net.get_hyperparameter("update__learning_rate") == pytest.approx(0.2)


def test_routing_to_iterators_split_and_callbacks(digits, tiny_spec):
    X, y = digits
    net = NeuralNetClassifier(
        tiny_spec,
        max_epochs=3,
        random_state=0,
        callbacks=[("stop", EarlyStopping(patience=5))],
        train_split__eval_size=0.5,
        batch_iterator_test__batch_size=1000,
        callbacks__stop__patience=0,
    ).fit(X, y)
    assert net.callbacks_["stop"].patience == 0
    assert net.batch_iterator_test_.batch_size == 1000
    assert net.train_split_.eval_size == 0.5
    with pytest.raises(ValueError, match="no callback named 'stp'.*callbacks__stop__patience"):
        net.set_params(callbacks__stp__patience=1).fit(X, y)


def test_unknown_layer_param_is_reported(digits, tiny_spec):
    net = NeuralNetClassifier(tiny_spec, dense1__num_unit=3, max_epochs=1)
    with pytest.raises(ValueError, match="dense1"):
        net.fit(*digits)


def test_pipeline_gridsearch_n_jobs_2(digits, tiny_spec):
    X, y = digits
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("net", NeuralNetClassifier(tiny_spec, max_epochs=8, random_state=0, batch_iterator_train__batch_size=32)),
        ]
    )
    grid = {"net__update__learning_rate": [0.0001, 0.01], "net__dense1__num_units": [4, 16]}
    t = time.time()
    search = GridSearchCV(pipe, grid, cv=2, n_jobs=2).fit(X, y)
    assert search.best_params_ == {"net__update__learning_rate": 0.01, "net__dense1__num_units": 16}
    assert search.best_score_ > 0.8, search.cv_results_["mean_test_score"]
    assert search.best_estimator_.named_steps["net"].layers_["dense1"].output_shape == (None, 16)
    assert time.time() - t < 120
