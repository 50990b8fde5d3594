"""ProgressBar: batch counts, the running-loss postfix, and when it stays silent."""

import io
import sys
import types

import numpy as np
import pytest

from sknet import NeuralNetClassifier
from sknet.callbacks import ProgressBar
from sknet.layers import DenseLayer, InputLayer

TEXT = {"mininterval": 0, "leave": True}  # draw every update, keep the finished bar


class TTY(io.StringIO):
    def isatty(self):
        return True


def run_epoch(bar, net, losses, sizes, training, n_batches=None):
    bar.on_epoch_begin(net, history=[], epoch=1, n_batches=n_batches)
    for loss, size, train in zip(losses, sizes, training):
        bar.on_batch_end(net, history=[], loss=loss, batch_size=size, training=train)
    bar.on_epoch_end(net, history=[{}], epoch=1)


class TestHooks:
    def test_counts_and_weighted_running_losses(self):
        out = io.StringIO()
        bar = ProgressBar(force=True, file=out, tqdm_kwargs=TEXT)
        net = types.SimpleNamespace()
        bar.on_train_begin(net)
        run_epoch(bar, net, [1.0, 0.5, 0.25, 2.0], [10, 10, 5, 8], [True, True, True, False], n_batches=4)
        assert bar.batch_counts_ == [4]
        text = out.getvalue()
        assert "epoch 1" in text and "4/4" in text
        # running means weighted by batch size: after batch 2 (1*10 + 0.5*10)/20
        assert "loss=0.7500" in text
        assert "loss=0.6500" in text  # (10 + 5 + 1.25) / 25
        assert "valid_loss=2.0000" in text
        assert "valid_loss" not in text.split("3/4")[0]

    def test_unknown_total(self):
        out = io.StringIO()
        bar = ProgressBar(force=True, file=out, tqdm_kwargs=TEXT)
        net = types.SimpleNamespace()
        bar.on_train_begin(net)
        run_epoch(bar, net, [0.5, 0.5], [4, 4], [True, True])
        assert bar.batch_counts_ == [2]
        assert "2batch" in out.getvalue().replace(" ", "")

    def test_silent_without_a_terminal(self):
        out = io.StringIO()
        bar = ProgressBar(file=out)
        net = types.SimpleNamespace()
        bar.on_train_begin(net)
        run_epoch(bar, net, [0.5, 0.5], [4, 4], [True, True], n_batches=2)
        assert out.getvalue() == ""
        assert bar.batch_counts_ == []

    def test_drawn_on_a_terminal(self):
        out = TTY()
        bar = ProgressBar(file=out, tqdm_kwargs=TEXT)
        net = types.SimpleNamespace()
        bar.on_train_begin(net)
        run_epoch(bar, net, [0.5, 0.5], [4, 4], [True, True], n_batches=2)
        assert "2/2" in out.getvalue() and bar.batch_counts_ == [2]

    def test_default_stream_is_stderr(self, monkeypatch):
        monkeypatch.setattr(sys, "stderr", io.StringIO())
        assert not ProgressBar().active()
        monkeypatch.setattr(sys, "stderr", TTY())
        assert ProgressBar().active()

    def test_notebook_kernel_counts_as_interactive(self, monkeypatch):
        monkeypatch.setattr(sys, "stderr", io.StringIO())
        shell = types.SimpleNamespace(kernel=object())
        monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
        assert ProgressBar().active()
        # A plain IPython terminal has no kernel: the TTY rule applies.
        plain = types.SimpleNamespace()
        monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: plain))
        assert not ProgressBar().active()

    def test_closed_stream_is_not_a_terminal(self):
        out = io.StringIO()
        out.close()
        assert not ProgressBar(file=out).active()


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.rand(100, 4).astype("float32")
    y = (X[:, 0] > 0.5).astype(int)
    return X, y


def make(**kwargs):
    return NeuralNetClassifier(
        [(InputLayer, {}), (DenseLayer, {})],
        batch_iterator_train__batch_size=32,
        batch_iterator_test__batch_size=32,
        random_state=0,
        **kwargs,
    )


def test_fit_draws_one_bar_per_epoch_with_the_epoch_losses(data):
    out = io.StringIO()
    net = make(max_epochs=2, callbacks=[ProgressBar(force=True, file=out, tqdm_kwargs=TEXT)]).fit(*data)
    bar = net.callbacks_["progressbar"]
    # 80 training samples -> 3 batches of 32; 20 validation samples -> 1 batch
    assert bar.batch_counts_ == [4, 4]
    text = out.getvalue()
    for epoch, record in enumerate(net.history_, start=1):
        assert f"epoch {epoch}" in text
        assert f"loss={record['train_loss']:.4f}" in text
        assert f"valid_loss={record['valid_loss']:.4f}" in text
    assert "4/4" in text


def test_verbose_two_adds_a_bar_that_is_silent_off_terminal(data, capsys):
    net = make(max_epochs=1, verbose=2).fit(*data)
    bars = [cb for cb in net.callbacks_.values() if isinstance(cb, ProgressBar)]
    assert len(bars) == 1 and bars[0].batch_counts_ == []
    captured = capsys.readouterr()
    assert "batch" not in captured.err
    assert "InputLayer" in captured.out and "train_loss" in captured.out


def test_clone_shares_the_stream():
    from sklearn.base import clone

    bar = ProgressBar(file=sys.stdout, tqdm_kwargs={"ncols": 60})
    copy = clone(bar)
    assert copy is not bar and copy.file is sys.stdout
    assert copy.get_params() == bar.get_params()
