"""Zero-intelligence order flow: the Santa Fe model, as an ops array.

Smith, Farmer, Gillemot & Krishnamurthy (2003), "Statistical theory of the
continuous double auction", model a market whose traders have no strategy
at all. Orders arrive as independent Poisson processes:

* **limit orders** at total rate ``limit_rate``, half buys, half sells, at a
  price drawn uniformly from a window of ``price_levels`` ticks behind the
  opposite best: a buy at ``best_ask - k``, a sell at ``best_bid + k``, with
  ``k`` uniform in ``1 - cross_ticks .. price_levels``. With
  ``cross_ticks = 0`` (the paper's model) a limit order never crosses; with
  ``cross_ticks > 0`` some do, and trade on arrival. (The paper's rate
  ``alpha`` is per price level: ``alpha = limit_rate / (2 * price_levels)``.)
  When the opposite side is empty the window hangs off the last mid price
  (``initial_mid`` until both sides have been seen).
* **market orders** at total rate ``market_rate``, half buys, half sells;
* **cancellations**: each resting order is cancelled at rate
  ``cancel_rate`` (the paper's ``delta``), so the chance that the next
  event is a cancel grows with the size of the book;
* **modifications** (an addition to the paper): each resting order at rate
  ``modify_rate``: a third reduce the qty in place, a third draw a new qty
  (a raise loses priority), a third move the price by 1-3 ticks (it may
  cross and trade).

Only the order of events matters to a book, so the flow is the model's
embedded jump chain: with ``N`` orders resting, the next event is a limit
order with probability ``limit_rate / R``, a market order ``market_rate /
R``, a cancel ``cancel_rate * N / R`` and a modify ``modify_rate * N / R``,
where ``R`` is the sum of the four. Sizes are geometric with mean
``mean_size`` (or all equal to it, ``size_dist="constant"``); a fraction
``ioc_fraction`` of limit and market orders is IOC and ``fok_fraction`` is
FOK, the rest GTC (a market GTC order never rests).

**Exact, not approximate.** To know the best prices and which orders are
still resting, the generator runs the model against the compiled order book
(:mod:`rtkit.orderbook.fast`'s kernels, the rules of
:class:`~rtkit.orderbook.book.OrderBook`) as it goes. So a cancel or modify
always names a resting order, and a book that applies the ops from empty
**rejects none of them**, except the ones injected on purpose:
``invalid_fraction`` of the ops (chosen at random) are requests every book
must refuse (a cancel or modify of an id that is not resting, a duplicate
live id, qty 0, an unknown kind, a modify that changes nothing), and exactly
those are rejected. A :class:`~rtkit.orderbook.fast.FastOrderBook` needs
``max_price`` and ``max_orders`` at least the generator's (``max_price``,
and the number of submits or ``max_resting``).

Ids are 1, 2, 3, ... in submission order, each submitted once; prices are
clamped to ``1 .. max_price``. The same ``seed`` gives the same array on
every machine (splitmix64 seeded through ``numpy.random.SeedSequence``).

:func:`deep_book_flow` picks parameters that keep a deep book (20,000
resting orders over about a thousand levels by default), for benchmarks.

Example:
    >>> ops = zero_intelligence(10_000, limit_rate=1.0, market_rate=0.2,
    ...                         cancel_rate=0.01, seed=7)
    >>> ops.dtype == OPS_DTYPE, len(ops)
    (True, 10000)
    >>> from rtkit.orderbook.book import OrderBook
    >>> trades, n_rejected = OrderBook().process(ops)
    >>> n_rejected
    0
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from rtkit.errors import ConfigError, check_choice, check_int
from rtkit.orderbook import _fastcore as core
from rtkit.orderbook.types import BUY, CANCEL, FOK, GTC, IOC, MODIFY, OPS_DTYPE, SELL, SUBMIT

__all__ = ["deep_book_flow", "zero_intelligence"]

_U64 = np.uint64


@core.kernel
def _rand(state):  # pragma: no cover - compiled
    """splitmix64: the next 64 random bits of ``state`` (a 1-element uint64 array)."""
    z = state[0] + _U64(0x9E3779B97F4A7C15)
    state[0] = z
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


@core.kernel
def _uniform(state):  # pragma: no cover - compiled
    """A float in [0, 1) with 53 random bits."""
    return np.float64(_rand(state) >> _U64(11)) * (1.0 / 9007199254740992.0)


@core.kernel
def _int(state, lo, hi):  # pragma: no cover - compiled
    """An int uniform in lo..hi (inclusive)."""
    return lo + np.int64(_uniform(state) * (hi - lo + 1))


@core.kernel
def _size(state, mean, geometric):  # pragma: no cover - compiled
    if not geometric or mean <= 1.0:
        return np.int64(round(mean))
    # inverse CDF of the geometric law on 1, 2, ... with mean ``mean``
    return 1 + np.int64(math.log(1.0 - _uniform(state)) / math.log(1.0 - 1.0 / mean))


@core.kernel
def _clamp(price, max_price):  # pragma: no cover - compiled
    return min(max(price, 1), max_price)


@core.kernel
def _pick_resting(state, orders, bump):  # pragma: no cover - compiled
    """The slot of a resting order chosen at random (the book must not be empty).

    Uniform while at least one slot in 64 holds an order, which free-list reuse
    keeps true unless a deep book has drained; after 64 misses it walks from a
    random slot to the next resting one.
    """
    for _ in range(64):
        s = _int(state, 1, bump - 1)
        if orders[s, core.O_QTY] > 0:
            return s
    s = _int(state, 1, bump - 1)
    while orders[s, core.O_QTY] == 0:  # a sparse table: walk from a random start
        s = s + 1 if s + 1 < bump else 1
    return s


@core.kernel
def _generate(bk, ops_out, rates, params, state, trades):  # pragma: no cover - compiled
    kinds, ids, sides, qtys, prices, tifs = ops_out
    orders, meta = bk[0], bk[5]
    limit_rate, market_rate, cancel_rate, modify_rate = rates[0], rates[1], rates[2], rates[3]
    mean_size, ioc_fraction, fok_fraction, invalid_fraction = rates[4], rates[5], rates[6], rates[7]
    geometric, price_levels, cross_ticks, mid = params[0], params[1], params[2], params[3]
    initial_depth, max_price, max_resting = params[4], params[5], params[6]
    next_id = 1
    n_invalid = 0
    for i in range(kinds.shape[0]):
        kind, oid, side, qty, price, tif = SUBMIT, next_id, BUY, 0, 0, GTC
        n = meta[core.M_ORDERS]
        valid = True
        if meta[core.M_BEST_BID] != 0 and meta[core.M_BEST_ASK] != 0:
            mid = (meta[core.M_BEST_BID] + meta[core.M_BEST_ASK]) // 2
        if i < initial_depth:  # prefill: passive limit orders around the mid
            side = BUY if _uniform(state) < 0.5 else SELL
            price = _clamp(mid - side * _int(state, 1, price_levels), max_price)
            qty = _size(state, mean_size, geometric)
        elif _uniform(state) < invalid_fraction:
            valid = False
            which = _int(state, 0, 5)
            if n == 0 and (which == 1 or which == 5):
                which = 0
            if which == 0:
                kind = CANCEL  # oid = next_id: not submitted yet
            elif which == 1:
                oid = orders[_pick_resting(state, orders, meta[core.M_BUMP]), core.O_ID]
                qty, price = 1, _clamp(mid, max_price)  # a duplicate live id
            elif which == 2:
                kind, qty = MODIFY, 1
            elif which == 3:
                qty, price = 0, _clamp(mid, max_price)
            elif which == 4:
                kind = 3  # no such kind
            else:
                kind = MODIFY  # nothing to modify
                oid = orders[_pick_resting(state, orders, meta[core.M_BUMP]), core.O_ID]
        else:
            u = _uniform(state) * (limit_rate + market_rate + (cancel_rate + modify_rate) * n)
            side = BUY if _uniform(state) < 0.5 else SELL
            if u < limit_rate + market_rate or n == 0:
                qty = _size(state, mean_size, geometric)
                v = _uniform(state)
                tif = IOC if v < ioc_fraction else (FOK if v < ioc_fraction + fok_fraction else GTC)
                if u < limit_rate and n < max_resting:  # else a market order: no room to rest
                    best = meta[core.M_BEST_ASK] if side == BUY else meta[core.M_BEST_BID]
                    anchor = best if best != 0 else mid + side
                    k = _int(state, 1 - cross_ticks, price_levels)
                    price = _clamp(anchor - side * k, max_price)
            else:
                s = _pick_resting(state, orders, meta[core.M_BUMP])
                kind, oid = CANCEL, orders[s, core.O_ID]
                if u >= limit_rate + market_rate + cancel_rate * n:
                    kind = MODIFY
                    which = _int(state, 0, 2)
                    if which == 0:
                        qty = _int(state, 1, orders[s, core.O_QTY])
                    elif which == 1:
                        qty = _size(state, mean_size, geometric)
                    else:
                        step = _int(state, 1, 3) * (1 if _uniform(state) < 0.5 else -1)
                        price = _clamp(orders[s, core.O_PRICE] + step, max_price)
        if kind == SUBMIT and oid == next_id and valid:
            next_id += 1
        kinds[i], ids[i], sides[i], qtys[i], prices[i], tifs[i] = kind, oid, side, qty, price, tif
        if kind == SUBMIT:
            status, _ = core.submit(bk, oid, side, qty, price, tif, trades, 0)
        elif kind == CANCEL:
            status, _ = core.cancel(bk, oid)
        elif kind == MODIFY:
            status, _ = core.modify(bk, oid, qty, price, trades, 0)
        else:
            status = core.R_KIND
        if (status == core.OK) != valid:
            return -1 - i  # the model and the book disagree: a bug, reported by the caller
        if not valid:
            n_invalid += 1
    return n_invalid


def _rate(name: str, value: object, upper: float | None = None) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0 or (upper is not None and value > upper):
        bound = f"in [0, {upper}]" if upper is not None else ">= 0 and finite"
        raise ConfigError(f"{name} must be a number {bound}, got {value!r}")
    return float(value)


def zero_intelligence(
    n_ops: int,
    *,
    limit_rate: float = 1.0,
    market_rate: float = 0.2,
    cancel_rate: float = 0.01,
    modify_rate: float = 0.0,
    mean_size: float = 10.0,
    size_dist: str = "geometric",
    price_levels: int = 100,
    cross_ticks: int = 0,
    initial_mid: int = 10_000,
    initial_depth: int = 0,
    ioc_fraction: float = 0.0,
    fok_fraction: float = 0.0,
    invalid_fraction: float = 0.0,
    max_resting: int = 1_000_000,
    max_price: int = 1_000_000,
    seed: int = 0,
) -> np.ndarray:
    """``n_ops`` requests of the Santa Fe zero-intelligence model (module docstring).

    ``limit_rate`` and ``market_rate`` are total arrival rates, ``cancel_rate``
    and ``modify_rate`` rates per resting order (only their ratios matter).
    The first ``initial_depth`` ops are passive GTC limit orders within
    ``price_levels`` ticks of ``initial_mid``, to start from a full book.
    At most ``max_resting`` orders rest at once (a limit order drawn beyond
    that becomes a market order). Prices are clamped to ``1 .. max_price``.

    Returns an ``OPS_DTYPE`` array; a book applying it from empty rejects
    exactly the injected invalid ops (none when ``invalid_fraction`` is 0).
    Bad parameters raise :class:`~rtkit.errors.ConfigError`.

    Runtime complexity: O(n_ops) compiled steps, each one an order-book
    operation (a few million ops per second).

    Example:
        >>> ops = zero_intelligence(5, seed=1)
        >>> ops["kind"].tolist(), ops["order_id"].tolist()
        ([0, 0, 0, 0, 0], [1, 2, 3, 4, 5])
        >>> zero_intelligence(5, cancel_rate=-1)
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: cancel_rate must be a number >= 0 and finite, got -1
    """
    n_ops = check_int("n_ops", n_ops, minimum=0)
    rates = [_rate(name, value) for name, value in (
        ("limit_rate", limit_rate), ("market_rate", market_rate),
        ("cancel_rate", cancel_rate), ("modify_rate", modify_rate),
    )]  # fmt: skip
    if rates[0] + rates[1] <= 0:
        raise ConfigError("limit_rate + market_rate must be > 0")
    mean = _rate("mean_size", mean_size)
    if mean < 1:
        raise ConfigError(f"mean_size must be >= 1, got {mean_size!r}")
    geometric = check_choice("size_dist", size_dist, ("geometric", "constant")) == "geometric"
    fractions = [_rate(n, v, 1.0) for n, v in (
        ("ioc_fraction", ioc_fraction), ("fok_fraction", fok_fraction),
        ("invalid_fraction", invalid_fraction),
    )]  # fmt: skip
    if fractions[0] + fractions[1] > 1:
        raise ConfigError("ioc_fraction + fok_fraction must be <= 1")
    max_price = check_int("max_price", max_price, minimum=1)
    price_levels = check_int("price_levels", price_levels, minimum=1)
    cross_ticks = check_int("cross_ticks", cross_ticks, minimum=0)
    initial_mid = check_int("initial_mid", initial_mid, minimum=1)
    if initial_mid > max_price:
        raise ConfigError(f"initial_mid must be <= max_price ({max_price}), got {initial_mid}")
    initial_depth = check_int("initial_depth", initial_depth, minimum=0)
    if initial_depth > n_ops:
        raise ConfigError(f"initial_depth must be <= n_ops ({n_ops}), got {initial_depth}")
    max_resting = check_int("max_resting", max_resting, minimum=1)
    seed = check_int("seed", seed, minimum=0)

    capacity = max(1, min(n_ops, max_resting))
    bk = core.new_book(capacity, max_price, (2**63 - 1) // (capacity + 1))
    ops = np.zeros(n_ops, OPS_DTYPE)
    columns = tuple(np.zeros(n_ops, ops.dtype[name]) for name in OPS_DTYPE.names)
    state = np.random.SeedSequence(seed).generate_state(1, np.uint64)
    params = np.array(
        [geometric, price_levels, cross_ticks, initial_mid, initial_depth, max_price, capacity],
        np.int64,
    )
    result = _generate(
        bk, columns, np.array([*rates, mean, *fractions], np.float64), params, state,
        np.empty((capacity + 1, 4), np.int64),
    )  # fmt: skip
    if result < 0:  # pragma: no cover - would be a bug in the generator or the book
        raise AssertionError(f"generated op {-1 - result} was not handled as intended")
    for name, column in zip(OPS_DTYPE.names, columns, strict=True):
        ops[name] = column
    return ops


def deep_book_flow(
    n_ops: int, *, resting: int = 20_000, price_levels: int = 500, seed: int = 0, **kwargs
) -> np.ndarray:
    """A zero-intelligence flow that keeps about ``resting`` orders in the book.

    The first ``resting`` ops fill the book (passive limit orders within
    ``price_levels`` ticks of the mid on each side); after that limit orders
    arrive at rate 1, market orders at 0.25 and each resting order is
    cancelled at rate ``0.75 / resting``, so inflow and outflow balance near
    ``resting`` orders spread over about ``2 * price_levels`` levels. Any
    other :func:`zero_intelligence` parameter can be passed through.

    Example:
        >>> from rtkit.orderbook.book import OrderBook
        >>> book = OrderBook()
        >>> _ = book.process(deep_book_flow(30_000, resting=2_000, price_levels=50))
        >>> 1_000 < len(book) < 3_000
        True
    """
    resting = check_int("resting", resting, minimum=1)
    n_ops = check_int("n_ops", n_ops, minimum=0)
    if n_ops < resting:
        raise ConfigError(f"n_ops must be >= resting ({resting}), got {n_ops}")
    params = {
        "limit_rate": 1.0,
        "market_rate": 0.25,
        "cancel_rate": 0.75 / resting,
        "price_levels": price_levels,
        "initial_depth": resting,
        "seed": seed,
    }
    params.update(kwargs)
    return zero_intelligence(n_ops, **params)
