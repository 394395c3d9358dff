"""Aggregates over a window or a batch: count, sum, mean, VWAP, OHLC bars.

An aggregate is a small callable object: ``agg(items) -> value``. ``items``
is what a window or a batch holds: a list of records (named tuples,
dataclasses, dicts), a list of plain numbers, or a NumPy structured array.
Each aggregate reads its inputs by *field name* (``price="price"``), so the
same aggregate works on a window of ``Tick`` records and on a micro-batch
held as a structured array; ``field=None`` means the items themselves.

The module also has the vectorised reference the lesson checks the
pipeline against: :func:`bars` computes one-interval OHLC bars and VWAP of a
whole trade tape with NumPy, no stream at all.

Invariants: an aggregate never mutates its input, and ``count()`` of a
window equals the window's ``count``. Runtime complexity: O(n) per call
(one pass over the columns), allocation O(n) for the columns.

Example:
    >>> from rtkit.streaming.marketdata import Tick
    >>> trades = [Tick(0, 100, 5), Tick(1, 102, 5), Tick(2, 101, 10)]
    >>> vwap()(trades)
    101.0
    >>> ohlc()(trades)
    OHLC(open=100, high=102, low=100, close=101, volume=20)
    >>> count()(trades), total("qty")(trades), mean("price")(trades)
    (3, 20, 101.0)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from rtkit.errors import ConfigError, check_int

__all__ = [
    "BAR_DTYPE",
    "OHLC",
    "Aggregate",
    "bars",
    "column",
    "count",
    "mean",
    "ohlc",
    "total",
    "vwap",
]


class OHLC(NamedTuple):
    """Open, high, low and close price, and the volume traded, of one bar."""

    open: Any
    high: Any
    low: Any
    close: Any
    volume: Any


def _py(x: Any) -> Any:
    """A NumPy scalar as the matching Python number (prints cleanly in notebooks)."""
    return x.item() if isinstance(x, np.generic) else x


def column(items: Sequence[Any] | np.ndarray, field: str | int | None) -> np.ndarray:
    """The values of ``field`` across ``items``, as a NumPy array.

    ``field`` is an attribute name (records), a key (dicts), an index
    (tuples), a field of a structured array, or ``None`` for the items
    themselves.

    Example:
        >>> column([{"p": 1}, {"p": 3}], "p").tolist()
        [1, 3]
        >>> column(np.array([(1, 2)], dtype=[("a", "i8"), ("b", "i8")]), "b").tolist()
        [2]
    """
    if isinstance(items, np.ndarray):
        return items if field is None else items[field]
    if field is None:
        return np.asarray(items)
    if isinstance(field, int) or (items and not hasattr(items[0], field)):
        return np.asarray([x[field] for x in items])  # tuples, dicts, structured rows
    return np.asarray([getattr(x, field) for x in items])


class Aggregate:
    """A named function of a window's or a batch's items.

    Build one with :func:`count`, :func:`total`, :func:`mean`, :func:`vwap`
    or :func:`ohlc`, or wrap your own ``fn(items) -> value``.

    Example:
        >>> spread = Aggregate("range", lambda xs: max(xs) - min(xs))
        >>> spread([3, 9, 4])
        6
    """

    __slots__ = ("fn", "name")

    def __init__(self, name: str, fn: Callable[[Any], Any]) -> None:
        if not callable(fn):
            raise ConfigError(f"an aggregate needs a callable, got {type(fn).__name__}")
        self.name = str(name)
        self.fn = fn

    def __call__(self, items: Sequence[Any] | np.ndarray) -> Any:
        return self.fn(items)

    def __repr__(self) -> str:
        return f"Aggregate({self.name!r})"


def count() -> Aggregate:
    """How many items.

    Example:
        >>> count()([7, 8])
        2
    """
    return Aggregate("count", len)


def total(field: str | int | None = None) -> Aggregate:
    """The sum of ``field`` (exact for integers).

    Example:
        >>> total()([1, 2, 3])
        6
    """
    return Aggregate(f"sum({field})", lambda items: _py(column(items, field).sum()))


def mean(field: str | int | None = None) -> Aggregate:
    """The arithmetic mean of ``field``, as a float.

    Example:
        >>> mean()([1, 2])
        1.5
    """
    return Aggregate(f"mean({field})", lambda items: float(column(items, field).mean()))


def _vwap(items: Any, price: str | int | None, qty: str | int | None) -> float:
    p = column(items, price)
    q = column(items, qty)
    volume = q.sum()
    if volume == 0:
        return float("nan")
    return float((p * q).sum() / volume)


def vwap(price: str | int | None = "price", qty: str | int | None = "qty") -> Aggregate:
    """Volume-weighted average price: ``sum(price * qty) / sum(qty)`` (NaN if no volume).

    Example:
        >>> vwap(0, 1)([(10, 1), (20, 3)])
        17.5
    """
    return Aggregate("vwap", lambda items: _vwap(items, price, qty))


def _ohlc(items: Any, price: str | int | None, qty: str | int | None) -> OHLC:
    p = column(items, price)
    volume = _py(column(items, qty).sum()) if qty is not None else len(p)
    return OHLC(_py(p[0]), _py(p.max()), _py(p.min()), _py(p[-1]), volume)


def ohlc(price: str | int | None = "price", qty: str | int | None = "qty") -> Aggregate:
    """An :class:`OHLC` bar: first, highest, lowest and last price, total qty.

    "First" and "last" are in the order of the items: a time window hands
    its items over sorted by event time, so they are the earliest and the
    latest trade of the bar.

    Example:
        >>> ohlc(None, None)([5, 7, 4, 6])
        OHLC(open=5, high=7, low=4, close=6, volume=4)
    """
    return Aggregate("ohlc", lambda items: _ohlc(items, price, qty))


BAR_DTYPE = np.dtype(
    [
        ("start_ns", np.int64),
        ("open", np.int64),
        ("high", np.int64),
        ("low", np.int64),
        ("close", np.int64),
        ("volume", np.int64),
        ("vwap", np.float64),
        ("count", np.int64),
    ]
)


def bars(t_ns: np.ndarray, price: np.ndarray, qty: np.ndarray, width_ns: int) -> np.ndarray:
    """OHLC bars and VWAP of a trade tape, vectorised: the reference for windows.

    Trades are grouped by ``t_ns // width_ns`` (tumbling windows aligned on
    0); open and close are the earliest and latest trade by time (ties in
    input order). Only intervals with trades get a bar. Returns a
    ``BAR_DTYPE`` array sorted by ``start_ns``. Cost: O(n log n) for the sort.

    Example:
        >>> b = bars(np.array([5, 1, 12]), np.array([101, 100, 99]), np.array([1, 3, 2]), 10)
        >>> b[["start_ns", "open", "close", "volume"]].tolist()
        [(0, 100, 101, 4), (10, 99, 99, 2)]
        >>> b["vwap"].tolist()
        [100.25, 99.0]
    """
    width_ns = check_int("width_ns", width_ns, minimum=1)
    t = np.asarray(t_ns, np.int64)
    p = np.asarray(price, np.int64)
    q = np.asarray(qty, np.int64)
    if not t.shape == p.shape == q.shape or t.ndim != 1:
        raise ConfigError("t_ns, price and qty must be one-dimensional and of equal length")
    order = np.argsort(t, kind="stable")
    t, p, q = t[order], p[order], q[order]
    key = t // width_ns
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if t.size else np.empty(0, int)
    out = np.zeros(starts.size, BAR_DTYPE)
    if t.size == 0:
        return out
    ends = np.r_[starts[1:], t.size]
    out["start_ns"] = key[starts] * width_ns
    out["open"] = p[starts]
    out["close"] = p[ends - 1]
    out["high"] = np.maximum.reduceat(p, starts)
    out["low"] = np.minimum.reduceat(p, starts)
    out["volume"] = np.add.reduceat(q, starts)
    notional = np.add.reduceat(p * q, starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["vwap"] = notional / out["volume"]
    out["count"] = ends - starts
    return out
