"""The built-in callbacks and nolearn-style hooks, in real fits."""

import numpy as np

from sknet import callbacks


def test_early_stopping_stops_and_restores_best(digits, make_classifier):
    X, y = digits
    # a huge learning rate makes the validation loss worse after the first epochs
    es = callbacks.EarlyStopping(patience=2)
    net = make_classifier(callbacks=[es], max_epochs=30, update__learning_rate=0.3).fit(X, y)
    stopper = net.callbacks_["earlystopping"]
    assert stopper is not es and not hasattr(es, "best_")
    assert stopper.stopped_epoch_ == len(net.history_) < 30
    assert len(net.history_) - stopper.best_epoch_ == 2
    best_values = stopper.best_weights_
    for name, values in net.get_all_params_values().items():
        for a, b in zip(values, best_values[name]):
            np.testing.assert_array_equal(a, b)


def test_checkpoint_saves_on_improvement(digits, tmp_path, make_classifier):
    X, y = digits
    path = tmp_path / "best.npz"
    net = make_classifier(callbacks=[callbacks.Checkpoint(str(path), monitor="train_loss")], max_epochs=4).fit(X, y)
    assert path.exists() and net.callbacks_["checkpoint"].saved_epochs_ == [1, 2, 3, 4]
    assert [p.name for p in tmp_path.iterdir()] == ["best.npz"]  # no temp files left
    other = make_classifier(max_epochs=1).fit(X, y)
    other.load_params_from(str(path))
    np.testing.assert_array_equal(other.predict_proba(X), net.predict_proba(X))


def test_lr_scheduler_sets_the_shared_value(digits, make_classifier):
    X, y = digits
    seen = []
    net = make_classifier(
        callbacks=[callbacks.LRScheduler([0.1, 0.01, 0.001])],
        max_epochs=4,
        on_epoch_finished=[lambda n, h: seen.append(n.get_hyperparameter("update__learning_rate"))],
    )
    net.fit(X, y)
    np.testing.assert_allclose(seen, [0.1, 0.01, 0.001, 0.001], rtol=1e-6)
    assert net.get_params()["update__learning_rate"] == 0.01  # the constructor value is untouched


def test_epoch_scoring_and_print_log(digits, capsys, make_classifier):
    X, y = digits
    lines = []
    net = make_classifier(
        callbacks=[
            callbacks.EpochScoring("f1_macro"),
            callbacks.EpochScoring("accuracy", on_train=True),
            callbacks.PrintLog(sink=lines.append),
        ],
        max_epochs=4,
    )
    net.fit(X, y)
    assert all(0 < rec["valid_f1_macro"] <= 1 and 0 < rec["train_accuracy"] <= 1 for rec in net.history_)
    assert lines[0].startswith("(* marks the best value so far")
    assert "valid_f1_macro" in lines[1] and len(lines) == 3 + 4
    assert "*" in lines[3] and "%" in lines[3]  # accuracies in percent
    assert capsys.readouterr().out == ""


def test_verbose_prints_table_and_layers(digits, capsys, make_classifier):
    X, y = digits
    make_classifier(verbose=2, max_epochs=2, callbacks=[]).fit(X, y)
    out = capsys.readouterr().out
    assert "dense1  DenseLayer  (None, 16)" in out and "valid_accuracy" in out


def test_progress_bar_forced(digits, capsys, make_classifier):
    X, y = digits
    make_classifier(max_epochs=1, callbacks=[callbacks.ProgressBar(force=True)]).fit(X, y)
    assert "loss=" in capsys.readouterr().err


def test_function_hooks_and_custom_callback(digits, make_classifier):
    X, y = digits
    events = []

    class Recorder(callbacks.Callback):
        def on_train_begin(self, net, **kwargs):
            events.append("begin")

        def on_batch_end(self, net, training=None, **kwargs):
            events.append("train-batch" if training else "valid-batch")

        def on_train_end(self, net, **kwargs):
            events.append("end")

    make_classifier(
        max_epochs=2,
        callbacks=[Recorder()],
        on_training_started=[lambda n, h: events.append("started")],
        on_epoch_finished=[lambda n, h: events.append(f"epoch{len(h)}")],
        on_training_finished=lambda n, h: events.append("finished"),
    ).fit(X, y)
    assert events[:2] == ["begin", "started"] and events[-2:] == ["end", "finished"]
    assert "epoch2" in events and events.count("train-batch") == 2 * 15  # 480 training samples, batches of 32


def test_stop_training_from_callback(digits, make_classifier):
    class StopAtTwo(callbacks.Callback):
        def on_epoch_end(self, net, history=None, **kwargs):
            if len(history) == 2:
                raise callbacks.StopTraining("enough")

    net = make_classifier(callbacks=[StopAtTwo()], max_epochs=10).fit(*digits)
    assert net.n_iter_ == 2
