"""nolearn's handlers (SaveWeights, Remember/RestoreBestWeights, WeightLog, PrintLog, PrintLayerInfo) in real fits.

Each is used with nolearn's spelling (a function hook ``f(net, history)``) and,
where it matters, as a ``callbacks=`` entry.
"""

import csv
import pickle

import numpy as np

from sknet import NeuralNet
from sknet.callbacks import PrintLayerInfo, PrintLog, RememberBestWeights, RestoreBestWeights, SaveWeights, WeightLog
from sknet.layers import Conv2DLayer, DenseLayer, InputLayer, MaxPool2DLayer
from sknet.persistence import read_weights
from sknet.summary import summary


def _weights_log():
    """A hook recording a copy of the weights after every epoch."""
    seen = []
    return seen, lambda net, history: seen.append(net.get_all_params_values())


def _assert_weights_equal(a, b):
    a, b = ({k: v for k, v in d.items() if len(v)} for d in (a, b))
    assert list(a) == list(b)
    for name in a:
        for x, y in zip(a[name], b[name]):
            np.testing.assert_array_equal(x, y)


def test_save_weights_only_best_writes_the_best_epochs(digits, tmp_path, make_classifier):
    X, y = digits
    seen, record = _weights_log()
    save = SaveWeights(str(tmp_path / "w-{epoch}-{loss:.5f}.npz"), only_best=True)
    # a large learning rate makes the validation loss go up and down
    net = make_classifier(on_epoch_finished=[record, save], max_epochs=8, update__learning_rate=0.2).fit(X, y)
    losses = [r["valid_loss"] for r in net.history_]
    best = [i for i, loss in enumerate(losses) if loss <= min(losses[: i + 1])]
    assert 0 < len(best) < len(losses)  # the test needs epochs that are not the best
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(f"w-{i + 1:04d}-{losses[i]:.5f}.npz" for i in best)
    # each file holds that epoch's weights
    for i in best:
        _assert_weights_equal(read_weights(str(tmp_path / f"w-{i + 1:04d}-{losses[i]:.5f}.npz")), seen[i])


def test_save_weights_every_n_epochs_pickles_atomically(digits, tmp_path, make_classifier):
    X, y = digits
    net = make_classifier(
        callbacks=[SaveWeights(str(tmp_path / "net-{epoch}.pkl"), every_n_epochs=2, pickle=True)], max_epochs=4
    ).fit(X, y)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net-0002.pkl", "net-0004.pkl"]  # no temp files
    with open(tmp_path / "net-0004.pkl", "rb") as f:
        copy = pickle.load(f)
    np.testing.assert_allclose(copy.predict_proba(X), net.predict_proba(X), rtol=1e-6)
    assert copy.classes_.tolist() == list(range(10))


def test_remember_and_restore_best_weights_nolearn_spelling(digits, capsys, make_classifier):
    X, y = digits
    seen, record = _weights_log()
    net = make_classifier(
        on_epoch_finished=[record, RememberBestWeights()],
        on_training_finished=[RestoreBestWeights()],
        max_epochs=8,
        update__learning_rate=0.2,
    )
    net.fit(X, y)
    losses = [r["valid_loss"] for r in net.history_]
    best = int(np.argmin(losses))
    assert best != len(losses) - 1  # otherwise restoring would change nothing
    _assert_weights_equal(net.get_all_params_values(), seen[best])
    assert f"Loaded best weights from epoch {best + 1} where valid_loss was" in capsys.readouterr().out
    # the same handler objects serve a second fit, which starts afresh: its own best is restored
    seen.clear()
    net.set_params(update__learning_rate=1e-4, max_epochs=2).fit(X, y)  # worse than the first fit's best
    best = int(np.argmin([r["valid_loss"] for r in net.history_]))
    _assert_weights_equal(net.get_all_params_values(), seen[best])


def test_remember_best_score_as_callbacks(digits, make_classifier):
    X, y = digits
    seen, record = _weights_log()
    remember = RememberBestWeights(score="valid_accuracy", verbose=0)
    net = make_classifier(
        callbacks=[remember, RestoreBestWeights(remember=remember)],
        on_epoch_finished=[record],
        max_epochs=8,
        update__learning_rate=0.2,
    ).fit(X, y)
    accuracies = [r["valid_accuracy"] for r in net.history_]
    best = int(np.argmax(accuracies))  # the first of equal bests, as nolearn (strictly better replaces)
    _assert_weights_equal(net.get_all_params_values(), seen[best])
    assert remember.best_weights is None  # the net worked on a clone
    # a second fit restores its own best, not the first fit's
    seen.clear()
    net.set_params(update__learning_rate=0.05, max_epochs=4).fit(X, y)
    best = int(np.argmax([r["valid_accuracy"] for r in net.history_]))
    _assert_weights_equal(net.get_all_params_values(), seen[best])


def test_weight_log_writes_means_and_changes(digits, tmp_path, make_classifier):
    X, y = digits
    seen, record = _weights_log()
    path = tmp_path / "weights.csv"
    make_classifier(
        callbacks=[WeightLog(save_to=str(path), write_every=2)], on_epoch_finished=[record], max_epochs=3
    ).fit(X, y)
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and [p.name for p in tmp_path.iterdir()] == ["weights.csv"]
    assert list(rows[0])[:3] == ["dense1_0 wdiff", "dense1_0 wabsmean", "dense1_0 wmean"]
    for i, row in enumerate(rows):
        W = seen[i]["dense1"][0]
        np.testing.assert_allclose(float(row["dense1_0 wmean"]), W.mean(), rtol=1e-5)
        np.testing.assert_allclose(float(row["dense1_0 wabsmean"]), np.abs(W).mean(), rtol=1e-5)
        change = 0.0 if i == 0 else np.abs(W - seen[i - 1]["dense1"][0]).mean()
        np.testing.assert_allclose(float(row["dense1_0 wdiff"]), change, rtol=1e-5, atol=1e-12)


def test_weight_log_on_batch_finished_logs_every_training_batch(digits, make_classifier):
    X, y = digits
    log = WeightLog()
    net = make_classifier(on_batch_finished=[log], max_epochs=2).fit(X, y)
    n_train = len(X) - int(np.ceil(0.2 * len(X)))
    assert len(log.history) == 2 * int(np.ceil(n_train / 32))  # validation batches are not logged
    assert log.history[-1]["dense2_1 wmean"] == net.get_all_params_values()["dense2"][1].mean()


def test_history_best_flags_mean_what_nolearn_says(digits, make_classifier):
    X, y = digits
    net = make_classifier(max_epochs=8, update__learning_rate=0.2).fit(X, y)
    for key in ("train_loss", "valid_loss"):
        values = [r[key] for r in net.history_]
        # nolearn: "True if this epoch had the best <loss> so far" (no ties in these losses)
        assert len(set(values)) == len(values)
        assert [r[f"{key}_best"] for r in net.history_] == [v == min(values[: i + 1]) for i, v in enumerate(values)]
    assert not all(r["valid_loss_best"] for r in net.history_)


def test_print_log_trn_val_column(digits, capsys, make_classifier):
    X, y = digits
    net = make_classifier(on_epoch_finished=[PrintLog()], max_epochs=2).fit(X, y)  # nolearn's spelling
    lines = capsys.readouterr().out.splitlines()
    header = lines[1].split()
    assert header[:4] == ["epoch", "train_loss", "valid_loss", "trn/val"]
    for line, rec in zip(lines[3:], net.history_):
        assert float(line.split()[3]) == round(rec["train_loss"] / rec["valid_loss"], 5)


def test_print_layer_info_capacity_and_coverage_at_verbose_2():
    spec = [
        (InputLayer, {"shape": (None, 1, 16, 16)}),
        (Conv2DLayer, {"num_filters": 2, "filter_size": 3}),
        (MaxPool2DLayer, {"pool_size": 2}),
        (Conv2DLayer, {"num_filters": 2, "filter_size": 3}),
        (DenseLayer, {"num_units": 2}),
    ]
    lines = []
    net = NeuralNet(spec, verbose=2).initialize()
    PrintLayerInfo(sink=lines.append)(net, [])  # nolearn's on_training_started spelling
    rows = lines[0].splitlines()
    assert rows[0].split()[-2:] == ["capacity", "coverage"]
    # conv1: filter 3 = its field 3 of 16 pixels; pool: field 4; conv2: filter 3 x stride 2 = 6 of a field 8
    assert rows[2 + 1].split()[-2:] == ["100x100%", "19x19%"]
    assert rows[2 + 2].split()[-1] == "25x25%"
    assert rows[2 + 3].split()[-2:] == ["75x75%", "50x50%"]
    assert "coverage" not in NeuralNet(spec, verbose=1).initialize().summary()  # only when asked for
    assert "coverage" in summary(net.layers_, capacity=True)


def test_capacity_warns_like_nolearn():
    spec = [
        (InputLayer, {"shape": (None, 1, 8, 8)}),
        (Conv2DLayer, {"num_filters": 1, "filter_size": 3}),
        (MaxPool2DLayer, {"pool_size": 4}),
        (Conv2DLayer, {"num_filters": 1, "filter_size": 1, "pad": 1}),
    ]
    table = summary(NeuralNet(spec).initialize().layers_, capacity=True).splitlines()
    # the last conv sees 1 x stride 4 = 4 of a field of 6 pixels: 67%; its field, 6 of 8 pixels: 75%
    assert table[5].split()[-2:] == ["67x67%", "75x75%"]
    # ten stacked 3x3 convs: the last sees 3 of a field of 21 pixels (14% < 1/6), flagged; 21 of 32 pixels: 66%
    deep = [(InputLayer, {"shape": (None, 1, 32, 32)})] + [(Conv2DLayer, {"num_filters": 1, "filter_size": 3})] * 10
    last = summary(NeuralNet(deep).initialize().layers_, capacity=True).splitlines()[-3]
    assert last.split()[-2:] == ["14x14%!", "66x66%"]
    # a field wider than the image (padding only) is flagged too
    wide = [(InputLayer, {"shape": (None, 1, 4, 4)}), (Conv2DLayer, {"num_filters": 1, "filter_size": 5, "pad": 2})]
    assert summary(NeuralNet(wide).initialize().layers_, capacity=True).splitlines()[3].split()[-1] == "125x125%!"
