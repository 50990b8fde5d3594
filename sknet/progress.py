"""ProgressBar: a tqdm bar over each epoch's batches (a callback)."""

import importlib.util
import sys

from .callbacks import Callback

__all__ = ["ProgressBar"]


def _in_notebook():
    """True inside a Jupyter kernel (where tqdm.auto draws a widget)."""
    if "IPython" not in sys.modules:
        return False
    shell = sys.modules["IPython"].get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class ProgressBar(Callback):
    """A tqdm progress bar over each epoch's batches, with the running loss.

    One bar per epoch counts the training and then the validation batches
    (the total comes from the batch iterators); its postfix shows the running
    mean training loss (``loss``) and, once validation starts, the running
    validation loss (``valid_loss``). Nets with ``verbose >= 1`` add this
    callback themselves.

    The bar uses ``tqdm.auto``: a widget in Jupyter (text where ipywidgets
    is not installed), text in a terminal. It is
    silent when the stream it writes to (``file``, default standard error) is
    not a terminal and the code does not run in a Jupyter kernel, so logs of
    batch jobs stay clean; ``force=True`` draws it anyway (as text when
    ``file`` is given).

    Parameters
    ----------
    force : bool
        Draw the bar even without a terminal or notebook.
    file : file-like, optional
        Where a text bar goes (default ``sys.stderr``).
    tqdm_kwargs : dict, optional
        Passed to ``tqdm`` (``leave``, ``mininterval``, ``ncols`` ...).

    Attributes
    ----------
    batch_counts_ : list of int
        The number of batches each drawn bar counted.

    Examples
    --------
    >>> import io
    >>> bar = ProgressBar(file=io.StringIO())
    >>> bar.active()  # an in-memory file is not a terminal
    False
    >>> ProgressBar(force=True, file=io.StringIO()).active()
    True
    """

    def __init__(self, force=False, file=None, tqdm_kwargs=None):
        self.force = force
        self.file = file
        self.tqdm_kwargs = tqdm_kwargs

    def __sklearn_clone__(self):
        # The net clones its callbacks; a stream cannot be deep-copied (and a
        # copy would swallow the output), so the clone shares it.
        return type(self)(**self.get_params(deep=False))

    def active(self):
        """Whether the bar will be drawn."""
        if self.force:
            return True
        if self.file is None and _in_notebook():
            return True
        stream = sys.stderr if self.file is None else self.file
        isatty = getattr(stream, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # a closed stream
            return False

    def on_train_begin(self, net, **kwargs):
        self.bar_ = None
        self.batch_counts_ = []

    def on_epoch_begin(self, net, epoch=1, n_batches=None, **kwargs):
        self.bar_ = None
        if not self.active():
            return
        if self.file is None and importlib.util.find_spec("ipywidgets") is not None:
            from tqdm.auto import tqdm
        else:  # text; tqdm.auto warns in a notebook without ipywidgets
            from tqdm import tqdm
        options = {"leave": False, "unit": "batch", "dynamic_ncols": self.file is None}
        options.update(self.tqdm_kwargs or {})
        self.bar_ = tqdm(total=n_batches, desc=f"epoch {epoch}", file=self.file, **options)
        self.sums_ = {True: [0.0, 0], False: [0.0, 0]}

    def on_batch_end(self, net, loss=0.0, batch_size=0, training=True, **kwargs):
        if getattr(self, "bar_", None) is None:
            return
        sums = self.sums_[bool(training)]
        sums[0] += loss * batch_size
        sums[1] += batch_size
        self.bar_.set_postfix(self._postfix(), refresh=False)
        self.bar_.update(1)

    def _postfix(self):
        postfix = {}
        for key, is_train in (("loss", True), ("valid_loss", False)):
            total, count = self.sums_[is_train]
            if count:
                postfix[key] = f"{total / count:.4f}"
        return postfix

    def on_epoch_end(self, net, **kwargs):
        if getattr(self, "bar_", None) is not None:
            # tqdm redraws at most every `mininterval`: show the epoch's final state.
            self.bar_.set_postfix(self._postfix(), refresh=True)
            self.batch_counts_.append(self.bar_.n)
            self.bar_.close()
            self.bar_ = None

    def on_train_end(self, net, **kwargs):
        self.on_epoch_end(net)
