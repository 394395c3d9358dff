"""Market data for streams: the zero-intelligence order flow as a trade tape.

:mod:`rtkit.orderbook.flow` makes an ops array (submits, cancels,
modifies) but no times. Here each op gets an arrival time (a Poisson
process, from :mod:`rtkit.loadgen`), the ops are run through a
:class:`~rtkit.orderbook.fast.FastOrderBook` one at a time, and every trade
is stamped with the time of the op that caused it: its *event time*.

A real feed delivers trades late and out of order. ``disorder_ns`` adds a
seeded random delay in ``[0, disorder_ns]`` to each trade's *arrival time*
and sorts the tape by it, so event time and arrival (processing) time
differ and watermarks have something to do.

Invariants: ``t_ns`` is non-decreasing in op order; ``arrival_ns >=
t_ns``; the tape is sorted by ``arrival_ns``. The same arguments give the
same tape on every machine. Runtime complexity: O(n_ops), about 5 µs an op
(one compiled book call each).

Example:
    >>> tape = zi_trade_tape(2_000, rate_per_s=1_000, seed=3)
    >>> tape.dtype.names
    ('t_ns', 'price', 'qty', 'arrival_ns')
    >>> bool((np.diff(tape["t_ns"]) >= 0).all()), bool((tape["arrival_ns"] == tape["t_ns"]).all())
    (True, True)
    >>> ticks(tape[:1])[0]._fields
    ('t_ns', 'price', 'qty')
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rtkit.errors import ConfigError, check_int
from rtkit.loadgen import poisson
from rtkit.orderbook.fast import FastOrderBook
from rtkit.orderbook.flow import zero_intelligence
from rtkit.orderbook.types import OPS_DTYPE

__all__ = ["TAPE_DTYPE", "Tick", "ticks", "trade_tape", "zi_trade_tape"]

TAPE_DTYPE = np.dtype(
    [("t_ns", np.int64), ("price", np.int64), ("qty", np.int64), ("arrival_ns", np.int64)]
)


class Tick(NamedTuple):
    """One trade as a stream event: event time (ns), price (ticks), quantity."""

    t_ns: int
    price: int
    qty: int


def trade_tape(
    ops: np.ndarray, times_ns: np.ndarray, *, disorder_ns: int = 0, seed: int = 0
) -> np.ndarray:
    """Run ``ops`` through a fresh book; stamp each trade with its op's time.

    ``times_ns[k]`` is when op ``k`` happened (non-decreasing). Returns a
    ``TAPE_DTYPE`` array, one row per fill, sorted by ``arrival_ns``.

    Example:
        >>> from rtkit.orderbook.types import SUBMIT, BUY, SELL, GTC, MARKET
        >>> ops = np.array([(SUBMIT, 1, SELL, 5, 100, GTC), (SUBMIT, 2, BUY, 2, MARKET, GTC)],
        ...                dtype=OPS_DTYPE)
        >>> trade_tape(ops, np.array([10, 25])).tolist()
        [(25, 100, 2, 25)]
    """
    if not isinstance(ops, np.ndarray) or ops.dtype != OPS_DTYPE or ops.ndim != 1:
        raise ConfigError("ops must be a one-dimensional array of OPS_DTYPE")
    times = np.asarray(times_ns)
    if times.shape != ops.shape or times.dtype.kind not in "iu":
        raise ConfigError(f"times_ns must be {len(ops)} integer times, got shape {times.shape}")
    if times.size and (times.min() < 0 or (np.diff(times) < 0).any()):
        raise ConfigError("times_ns must be >= 0 and non-decreasing")
    disorder_ns = check_int("disorder_ns", disorder_ns, minimum=0)
    seed = check_int("seed", seed, minimum=0)
    book = FastOrderBook(max_orders=max(1, len(ops)), max_price=int(ops["price"].max(initial=1)))
    rows = []
    for k in range(len(ops)):
        trades, _ = book.process(ops[k : k + 1])
        if len(trades):
            t = int(times[k])
            rows.extend((t, int(tr["price"]), int(tr["qty"]), t) for tr in trades)
    tape = np.array(rows, TAPE_DTYPE) if rows else np.zeros(0, TAPE_DTYPE)
    if disorder_ns and len(tape):
        rng = np.random.default_rng(seed)
        tape["arrival_ns"] += rng.integers(0, disorder_ns + 1, size=len(tape))
        tape = tape[np.argsort(tape["arrival_ns"], kind="stable")]
    return tape


def zi_trade_tape(
    n_ops: int,
    *,
    rate_per_s: float = 10_000,
    disorder_ns: int = 0,
    seed: int = 0,
    **flow: object,
) -> np.ndarray:
    """A trade tape from ``n_ops`` zero-intelligence ops arriving as a Poisson process.

    ``rate_per_s`` is the op rate; ``flow`` goes to
    :func:`~rtkit.orderbook.flow.zero_intelligence` (rates, sizes, ...).

    Example:
        >>> tape = zi_trade_tape(1_000, rate_per_s=100, disorder_ns=50_000_000, seed=1)
        >>> bool((tape["arrival_ns"] >= tape["t_ns"]).all())
        True
        >>> bool((np.diff(tape["t_ns"]) < 0).any())   # event times now out of order
        True
    """
    ops = zero_intelligence(n_ops, seed=seed, **flow)  # type: ignore[arg-type]
    times = poisson(rate_per_s, n_ops, seed=seed)
    return trade_tape(ops, times, disorder_ns=disorder_ns, seed=seed)


def ticks(tape: np.ndarray) -> list[Tick]:
    """The tape's rows as :class:`Tick` events, in tape (arrival) order.

    Example:
        >>> ticks(np.array([(5, 100, 2, 7)], TAPE_DTYPE))
        [Tick(t_ns=5, price=100, qty=2)]
    """
    columns = (tape["t_ns"].tolist(), tape["price"].tolist(), tape["qty"].tolist())
    return [Tick(t, p, q) for t, p, q in zip(*columns, strict=True)]
