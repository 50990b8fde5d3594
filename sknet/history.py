"""History: the per-epoch records of a fit, a list of dicts indexable by column."""

__all__ = ["History", "mark_best", "best_epoch"]


class History(list):
    """The list of per-epoch records (dicts), also indexable by column.

    Plain list indexing gives records (``h[-1]`` is the last epoch's dict, a
    slice gives a History). A ``(rows, key)`` pair selects a column:
    ``rows`` is an int, a slice or a list of ints, ``key`` a key or a tuple of
    keys. A slice or list of rows gives a list (of tuples for a tuple of
    keys); an int gives one value (or one tuple). Records lacking a key give
    None; a key that no selected record has raises KeyError.

    Examples
    --------
    >>> h = History([{'epoch': 1, 'train_loss': 0.5, 'valid_loss': 0.75},
    ...              {'epoch': 2, 'train_loss': 0.25, 'valid_loss': 0.5}])
    >>> h[:, 'train_loss']
    [0.5, 0.25]
    >>> h[-1, 'valid_loss']
    0.5
    >>> h[:, ('train_loss', 'valid_loss')]
    [(0.5, 0.75), (0.25, 0.5)]
    >>> h[-1]['epoch'], len(h[:1])
    (2, 1)
    """

    def __getitem__(self, index):
        if isinstance(index, tuple):
            if len(index) != 2:
                raise IndexError(f"History takes [rows, key]; got {len(index)} indices")
            rows, key = index
            return self._column(rows, key)
        result = list.__getitem__(self, index)
        return History(result) if isinstance(index, slice) else result

    def _column(self, rows, key):
        if isinstance(rows, slice):
            selected, single = list.__getitem__(self, rows), False
        elif isinstance(rows, (list, range)):
            selected, single = [list.__getitem__(self, i) for i in rows], False
        else:
            selected, single = [list.__getitem__(self, rows)], True
        keys = key if isinstance(key, tuple) else (key,)
        for k in keys:
            if selected and not any(k in record for record in selected):
                known = sorted({name for record in selected for name in record})
                raise KeyError(f"No epoch record has the key {k!r}; keys are {known}")
        if isinstance(key, tuple):
            values = [tuple(record.get(k) for k in key) for record in selected]
        else:
            values = [record.get(key) for record in selected]
        return values[0] if single else values

    def keys(self):
        """Every key that appears in some record, in order of first appearance.

        Examples
        --------
        >>> History([{'epoch': 1}, {'epoch': 2, 'checkpoint': True}]).keys()
        ['epoch', 'checkpoint']
        """
        seen = {}
        for record in self:
            seen.update(dict.fromkeys(record))
        return list(seen)

    def to_dataframe(self):
        """The history as a pandas DataFrame, one row per epoch, indexed by ``epoch``.

        Needs pandas (an optional dependency); missing values are NaN.

        Examples
        --------
        >>> df = History([{'epoch': 1, 'train_loss': 0.5}, {'epoch': 2, 'train_loss': 0.25}]).to_dataframe()
        >>> df['train_loss'].tolist(), df.index.tolist()
        ([0.5, 0.25], [1, 2])
        """
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("History.to_dataframe needs pandas; install it with: pip install pandas") from exc
        df = pd.DataFrame.from_records(list(self), columns=self.keys())
        if "epoch" in df.columns and df["epoch"].notna().all():
            df = df.set_index("epoch")
        return df

    def __reduce__(self):
        # Pickle as a plain list of dicts under this class (no instance dict).
        return (type(self), (list(self),))


def mark_best(history, key, lower_is_better):
    """Set ``<key>_best`` in the last record: whether its ``key`` beats every earlier epoch's.

    Records without ``key`` are passed over; the first value is a best.

    Examples
    --------
    >>> h = [{'loss': 2.0, 'loss_best': True}, {'loss': 1.0}]
    >>> mark_best(h, 'loss', lower_is_better=True); h[-1]['loss_best']
    True
    >>> h.append({'loss': 1.5}); mark_best(h, 'loss', lower_is_better=True); h[-1]['loss_best']
    False
    """
    value = history[-1].get(key)
    if value is None:
        return
    earlier = [r[key] for r in history[:-1] if r.get(key) is not None]
    if not earlier:
        best = True
    elif lower_is_better:
        best = value < min(earlier)
    else:
        best = value > max(earlier)
    history[-1][f"{key}_best"] = bool(best)


def best_epoch(history, key="valid_loss"):
    """``(epoch, value)`` of the record with the lowest ``key``; ``(None, None)`` when no record has it.

    The first of equal values wins.

    Examples
    --------
    >>> best_epoch([{'epoch': 1, 'valid_loss': 0.5}, {'epoch': 2, 'valid_loss': 0.3}, {'epoch': 3, 'valid_loss': None}])
    (2, 0.3)
    >>> best_epoch([{'epoch': 1, 'valid_loss': None}])
    (None, None)
    """
    scored = [(r[key], r["epoch"]) for r in history if r.get(key) is not None]
    if not scored:
        return None, None
    value, epoch = min(scored, key=lambda pair: pair[0])
    return epoch, value
