"""Benchmark: rtkit's order books against their peers, on the same seeded flows.

Every engine applies the same ops array (``OPS_DTYPE``) from an empty book:

* ``FastOrderBook.process``: the whole array in one compiled call. Its first
  call (numba compile or cache load) is timed on its own and excluded;
* ``OrderBook``: one Python API call per op (``submit``/``cancel``/``modify``),
  collecting the :class:`~rtkit.orderbook.types.Trade` objects it returns;
* ``SortedDictBook``, written below: the careful learner's book, a
  ``sortedcontainers.SortedDict`` of price -> ``collections.deque`` of
  ``[order_id, qty]`` per side plus an id index, the same rules (GTC, IOC, FOK,
  market, cancel, modify), trades as plain tuples and no input validation.
  It is driven by the same loop as ``OrderBook``;
* ``liquibook`` (optional): the C++ LiquiBook engine through its Python
  bindings. Timed without a listener (its fastest setting), then run once with
  a minimal fill listener that counts trades and volume for the agreement
  check. Market orders are sent with its immediate-or-cancel condition (one of
  ours never rests; an unconditioned liquibook market order would);
* ``lightmatchingengine`` (optional, pure Python): no IOC, so an IOC or market
  order is ``add_order`` followed by ``cancel_order`` of any remainder. It is
  slow on a deep book, so it runs on a prefix there (rates are per op).

Flows, from :mod:`rtkit.orderbook.flow` (seeded, identical on every machine):

* ``thin``: the zero-intelligence model with a thin book (tens of orders);
* ``deep``: :func:`~rtkit.orderbook.flow.deep_book_flow`, about 17,000
  resting orders over about a thousand levels;
* ``full``: a smaller flow with every kind of op, modify and FOK included,
  for the engines that implement those rules.

Both timed flows use the **common subset** the peers can all express: GTC and
IOC limit orders (a few cross on arrival), market orders and cancels. FOK and
modify are left out of them for every engine: lightmatchingengine has neither,
and liquibook's ``replace`` always moves the order to the back of its level
(a size reduction too), where the rtkit rules keep its place.

**Method.** All engines run in this one process, from the same arrays.
Conversion of the ops into each engine's native calls (Python tuples, liquibook
order objects, ...) and building each run's fresh book happen before the clock
starts. Each engine is timed ``--repeat`` times, round-robin across the
engines (A, B, C, A, B, C, ...), so a burst of load from other processes hits
them alike; the rate reported, and the ratios, use each engine's best run (the
least disturbed; the median and the range are printed too). Before every run
``gc.collect()`` and then ``gc.freeze()`` (:func:`rtkit.gcstats.frozen_heap`):
the collector stays on and pays for what the run allocates and keeps (an
engine that returns a tracked object per trade pays for scanning them), but
not for re-scanning the harness's own heap, which is not the engine's. Every engine must agree on
the number of trades and the traded volume on every flow (the engines that
return trades must produce the identical tape); the exit status is 1 if they
do not. Not part of the test suite; ``make bench`` runs it. Usage:

    python benchmarks/bench_orderbook.py [--n 1000000] [--repeat 3] [--seed 1]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

import numba
import numpy as np

from rtkit.gcstats import frozen_heap
from rtkit.orderbook.book import OrderBook
from rtkit.orderbook.fast import FastOrderBook
from rtkit.orderbook.flow import deep_book_flow, zero_intelligence
from rtkit.orderbook.types import (
    BUY,
    CANCEL,
    FOK,
    IOC,
    MARKET,
    MODIFY,
    SUBMIT,
    TRADES_DTYPE,
)

try:
    from sortedcontainers import SortedDict
except ImportError:  # optional peer: pip install -e '.[bench]'
    SortedDict = None

try:
    import liquibook
except ImportError:
    liquibook = None

try:
    from lightmatchingengine.lightmatchingengine import LightMatchingEngine
except ImportError:
    LightMatchingEngine = None

MAX_ORDERS = 1 << 16  # FastOrderBook bounds: room for 3x the deep book, every tick used
MAX_PRICE = 1 << 15
SLOW_RUN_S = 20.0  # an engine whose run takes longer is not repeated (lightmatchingengine)
SIDE_NAMES = {1: "buy", -1: "sell"}
TIF_NAMES = {0: "GTC", 1: "IOC", 2: "FOK"}


# ------------------------------------------------------------ the baseline


class SortedDictBook:
    """A straightforward price-time order book: SortedDict + deque per side.

    ``bids`` and ``asks`` map price -> deque of ``[order_id, qty]`` (oldest
    first); ``orders`` maps a resting id -> ``(side, price, entry)``. Same
    rules as ``OrderBook``; trusts its input (no validation); trades are
    ``(maker_id, taker_id, price, qty)`` tuples.
    """

    def __init__(self) -> None:
        self.bids = SortedDict()
        self.asks = SortedDict()
        self.orders: dict[int, tuple[str, int, list[int]]] = {}

    def submit(self, order_id, side, qty, price=None, tif="GTC"):
        buy = side == "buy"
        opposite = self.asks if buy else self.bids
        trades = []
        if tif == "FOK" and self._available(buy, price, qty) < qty:
            return trades
        while qty and opposite:
            best, queue = opposite.peekitem(0 if buy else -1)
            if price is not None and (price < best if buy else price > best):
                break
            while qty and queue:
                entry = queue[0]
                fill = qty if qty < entry[1] else entry[1]
                trades.append((entry[0], order_id, best, fill))
                qty -= fill
                entry[1] -= fill
                if not entry[1]:
                    queue.popleft()
                    del self.orders[entry[0]]
            if not queue:
                del opposite[best]
        if qty and price is not None and tif == "GTC":
            own = self.bids if buy else self.asks
            queue = own.get(price)
            if queue is None:
                queue = own[price] = deque()
            entry = [order_id, qty]
            queue.append(entry)
            self.orders[order_id] = (side, price, entry)
        return trades

    def _available(self, buy, price, qty):
        """Quantity resting at prices ``price`` accepts (stops once ``qty`` is reached)."""
        opposite = self.asks if buy else self.bids
        if price is None:
            prices = opposite.keys() if buy else reversed(opposite.keys())
        else:
            prices = opposite.irange(maximum=price) if buy else opposite.irange(price, reverse=True)
        total = 0
        for p in prices:
            for entry in opposite[p]:
                total += entry[1]
                if total >= qty:
                    return total
        return total

    def cancel(self, order_id):
        side, price, entry = self.orders.pop(order_id)
        levels = self.bids if side == "buy" else self.asks
        queue = levels[price]
        queue.remove(entry)
        if not queue:
            del levels[price]
        return entry[1]

    def modify(self, order_id, qty=None, price=None):
        side, old_price, entry = self.orders[order_id]
        new_qty = entry[1] if qty is None else qty
        new_price = old_price if price is None else price
        if new_price == old_price and new_qty <= entry[1]:
            entry[1] = new_qty  # reduced in place: keeps its place in the queue
            return []
        self.cancel(order_id)
        return self.submit(order_id, side, new_qty, new_price, "GTC")


# ---------------------------------------------------------------- helpers


@dataclass
class Result:
    """One engine on one flow: its timings, what it traded, and on how many ops."""

    engine: str
    n_ops: int
    seconds: list[float]
    trades: int
    volume: int
    note: str = ""
    tape: np.ndarray | None = field(default=None, repr=False)

    @property
    def rate(self) -> float:
        """Ops per second of the best (fastest) run: the least disturbed by other load."""
        return self.n_ops / min(self.seconds)


# A runner prepares one run (fresh book, fresh peer objects: untimed) and
# returns a callable that performs it and returns ``(seconds, outcome)``.
Runner = Callable[[], Callable[[], tuple[float, object]]]


def measure(prepare: Runner) -> tuple[float, object]:
    """One timed run: prepared, then timed with the harness's heap frozen.

    ``gc.collect()`` and then ``frozen_heap()`` (``gc.freeze``): the collector
    stays on and scans whatever the run allocates and keeps (trades, book
    entries), but not the objects that were alive before it started (the
    flows, the call lists, numba's compiler), which belong to the harness.
    """
    run = prepare()
    gc.collect()
    with frozen_heap():
        return run()


def interleaved(runners: dict[str, Runner], repeat: int) -> dict[str, tuple[list[float], object]]:
    """Time every runner ``repeat`` times, round-robin, and keep each one's last outcome.

    Round-robin (engine A, B, C, A, B, C, ...) rather than all of A's runs
    first: a burst of load from other processes then hits every engine
    alike, which is what the ratios need. A runner whose run takes longer
    than ``SLOW_RUN_S`` is not repeated.
    """
    seconds: dict[str, list[float]] = {name: [] for name in runners}
    outcomes: dict[str, object] = {}
    for _ in range(repeat):
        for name, prepare in runners.items():
            if seconds[name] and seconds[name][-1] > SLOW_RUN_S:
                continue
            outcomes[name] = None  # drop the previous run's trades before the next run
            dt, outcomes[name] = measure(prepare)
            seconds[name].append(dt)
    return {name: (seconds[name], outcomes[name]) for name in runners}


def runs_note(seconds: list[float], n_ops: int, total: int) -> str:
    what = "all ops" if n_ops == total else f"first {n_ops:,} ops"
    if len(seconds) == 1:
        return f"1 run, {what}"
    rates = sorted(n_ops / s / 1e6 for s in seconds)
    return (
        f"best of {len(seconds)} (all {rates[0]:.2f}..{rates[-1]:.2f}, median "
        f"{statistics.median(rates):.2f}), {what}"
    )


def tape_of(rows: list) -> np.ndarray:
    return np.array(rows, TRADES_DTYPE) if rows else np.zeros(0, TRADES_DTYPE)


def describe(ops: np.ndarray) -> str:
    kinds = ops["kind"]
    submit = kinds == SUBMIT
    market = int((submit & (ops["price"] == MARKET)).sum())
    parts = [
        f"{int(submit.sum()):,} submits ({market:,} market, "
        f"{int((submit & (ops['tif'] == IOC)).sum()):,} IOC, "
        f"{int((submit & (ops['tif'] == FOK)).sum()):,} FOK)",
        f"{int((kinds == CANCEL).sum()):,} cancels",
        f"{int((kinds == MODIFY).sum()):,} modifies",
    ]
    return ", ".join(parts)


def book_shape(ops: np.ndarray, checkpoints: int = 10) -> str:
    """Resting orders and levels at ``checkpoints`` points of the flow (FastOrderBook, untimed)."""
    book = FastOrderBook(max_orders=MAX_ORDERS, max_price=MAX_PRICE)
    shapes = []
    for chunk in np.array_split(ops, checkpoints):
        book.process(chunk)
        s = book.stats()
        shapes.append((s.resting_orders, s.bid_levels + s.ask_levels))
    orders = [o for o, _ in shapes]
    levels = [lv for _, lv in shapes]
    return (
        f"resting orders at {checkpoints} checkpoints: {min(orders):,}..{max(orders):,} "
        f"over {min(levels):,}..{max(levels):,} levels"
    )


# ---------------------------------------------------------------- engines


def fast_runner(ops: np.ndarray) -> Runner:
    def prepare() -> Callable[[], tuple[float, object]]:
        book = FastOrderBook(max_orders=MAX_ORDERS, max_price=MAX_PRICE)

        def run() -> tuple[float, object]:
            t0 = time.perf_counter()
            trades, rejected = book.process(ops)
            return time.perf_counter() - t0, (trades, rejected)

        return run

    return prepare


def fast_result(ops: np.ndarray, seconds: list[float], outcome: object) -> Result:
    trades, rejected = outcome
    note = refused_note(rejected)
    return Result(
        "FastOrderBook.process", len(ops), seconds, len(trades), int(trades["qty"].sum()), note,
        trades,
    )  # fmt: skip


def python_calls(ops: np.ndarray) -> list[tuple]:
    """The ops as the Python API's arguments: ``(kind, id, side, qty, price, tif)``."""
    calls = []
    append = calls.append
    for kind, oid, side, qty, price, tif in ops.tolist():
        if kind == SUBMIT:
            append((SUBMIT, oid, SIDE_NAMES[side], qty, price or None, TIF_NAMES[tif]))
        elif kind == CANCEL:
            append((CANCEL, oid, None, None, None, None))
        else:
            append((MODIFY, oid, None, qty or None, price or None, None))
    return calls


def drive(book: OrderBook | SortedDictBook, calls: list[tuple]) -> tuple[float, tuple]:
    """Apply ``calls`` through the book's API, one call per op.

    Returns ``(seconds, (trades, n_refused))``; a refused op (``OrderRejected``,
    or a ``KeyError`` from the baseline, which does not validate) is counted.
    """
    submit, cancel, modify = book.submit, book.cancel, book.modify
    trades: list = []
    extend = trades.extend
    refused = 0
    t0 = time.perf_counter()
    for kind, oid, side, qty, price, tif in calls:
        try:
            if kind == SUBMIT:
                extend(submit(oid, side, qty, price, tif))
            elif kind == CANCEL:
                cancel(oid)
            else:
                extend(modify(oid, qty, price))
        except (ValueError, KeyError):
            refused += 1
    return time.perf_counter() - t0, (trades, refused)


def refused_note(refused: int) -> str:
    return f"{refused:,} ops REFUSED" if refused else ""


def api_runner(book_class: type, calls: list[tuple]) -> Runner:
    def prepare() -> Callable[[], tuple[float, object]]:
        book = book_class()
        return lambda: drive(book, calls)

    return prepare


def reference_result(calls: list[tuple], seconds: list[float], outcome: object) -> Result:
    trades, refused = outcome
    tape = tape_of([(t.maker_id, t.taker_id, t.price, t.qty) for t in trades])
    return Result(
        "OrderBook (per-op API)", len(calls), seconds, len(tape), int(tape["qty"].sum()),
        refused_note(refused), tape,
    )  # fmt: skip


def sorteddict_result(calls: list[tuple], seconds: list[float], outcome: object) -> Result:
    trades, refused = outcome
    tape = tape_of(trades)
    return Result(
        "SortedDict+deque book", len(calls), seconds, len(tape), int(tape["qty"].sum()),
        refused_note(refused), tape,
    )  # fmt: skip


if liquibook is not None:

    class FillCounter(liquibook.OrderListener):
        """The minimal liquibook listener: counts fills and their quantity."""

        def __init__(self) -> None:
            liquibook.OrderListener.__init__(self)
            self.trades = 0
            self.volume = 0
            self.refused = 0

        def on_fill(self, order, matched_order, fill_qty, fill_cost):
            self.trades += 1
            self.volume += fill_qty

        def on_accept(self, order):
            pass

        def on_reject(self, order, reason):
            self.refused += 1

        def on_cancel(self, order):
            pass

        def on_cancel_reject(self, order, reason):
            self.refused += 1

        def on_replace(self, order, size_delta, new_price):
            pass

        def on_replace_reject(self, order, reason):
            pass


def liquibook_calls(ops: np.ndarray) -> list[tuple]:
    """``(is_add, order, conditions)`` per op, with fresh ``SimpleOrder`` objects."""
    ioc = liquibook.oc_immediate_or_cancel
    orders = {}
    calls = []
    for kind, oid, side, qty, price, tif in ops.tolist():
        if kind == SUBMIT:
            assert tif != FOK, "FOK is not in the common subset"
            conditions = ioc if tif == IOC or price == MARKET else 0
            order = orders[oid] = liquibook.SimpleOrder(side == BUY, price, qty, 0, conditions)
            calls.append((True, order, conditions))
        else:
            assert kind == CANCEL, "modify is not in the common subset"
            calls.append((False, orders[oid], 0))
    return calls


def drive_liquibook(calls: list[tuple], listener: FillCounter | None) -> tuple[float, object]:
    book = liquibook.liquibook_book_OrderBook()
    if listener is not None:
        book.set_order_listener(listener)
    add, cancel = book.add, book.cancel
    t0 = time.perf_counter()
    for is_add, order, conditions in calls:
        if is_add:
            add(order, conditions)
        else:
            cancel(order)
    dt = time.perf_counter() - t0
    return dt, book


def liquibook_runner(ops: np.ndarray) -> Runner:
    def prepare() -> Callable[[], tuple[float, object]]:
        calls = liquibook_calls(ops)  # fresh order objects, outside the clock
        return lambda: drive_liquibook(calls, None)

    return prepare


def liquibook_counted(ops: np.ndarray) -> Result:
    """One more run, with a fill listener, for the agreement check (same method, not a goal)."""
    counter = FillCounter()
    calls = liquibook_calls(ops)
    dt, _book = measure(lambda: lambda: drive_liquibook(calls, counter))
    return Result(
        "liquibook, fill listener", len(ops), [dt], counter.trades, counter.volume,
        refused_note(counter.refused),
    )  # fmt: skip


def lme_calls(ops: np.ndarray) -> list[tuple]:
    """``(is_add, price | lme_id, qty, side, cancel_remainder)`` per op."""
    lme_id = {}  # lightmatchingengine numbers its orders 1, 2, ... in add order
    calls = []
    for kind, oid, side, qty, price, tif in ops.tolist():
        if kind == SUBMIT:
            assert tif != FOK, "FOK is not in the common subset"
            lme_id[oid] = len(lme_id) + 1
            calls.append((True, price, qty, 1 if side == BUY else 2, tif == IOC or price == MARKET))
        else:
            assert kind == CANCEL, "modify is not in the common subset"
            calls.append((False, lme_id[oid], 0, 0, False))
    return calls


def drive_lme(calls: list[tuple]) -> tuple[float, list]:
    engine = LightMatchingEngine()
    add, cancel = engine.add_order, engine.cancel_order
    tapes = []
    refused = 0
    t0 = time.perf_counter()
    for is_add, a, qty, side, cancel_remainder in calls:
        if is_add:
            order, trades = add("X", a, qty, side)
            if trades:
                tapes.append(trades)
            if cancel_remainder and order.leaves_qty:
                cancel(order.order_id, "X")
        elif cancel(a, "X") is None:
            refused += 1
    return time.perf_counter() - t0, (tapes, refused)


def lme_runner(ops: np.ndarray) -> Runner:
    calls = lme_calls(ops)
    return lambda: lambda: drive_lme(calls)


def lme_result(ops: np.ndarray, seconds: list[float], outcome: object) -> Result:
    tapes, refused = outcome
    trades = volume = 0
    for tape in tapes:  # the first trade of each level is the taker's; the others are fills
        taker_side = tape[0].trade_side
        for t in tape:
            if t.trade_side != taker_side:
                trades += 1
                volume += t.trade_qty
    return Result("lightmatchingengine", len(ops), seconds, trades, volume, refused_note(refused))


# ------------------------------------------------------------------ flows


def bench_flow(
    name: str, ops: np.ndarray, args: argparse.Namespace, peers: bool, lme_prefix: int
) -> tuple[bool, dict[str, Result]]:
    n = len(ops)
    print(f"== flow {name}: {n:,} ops: {describe(ops)}")
    print(f"   {book_shape(ops)}")
    calls = python_calls(ops)
    prefix = ops[: min(n, lme_prefix)]
    runners: dict[str, Runner] = {"fast": fast_runner(ops)}
    runners["reference"] = api_runner(OrderBook, calls)
    if SortedDict is not None:
        runners["sorteddict"] = api_runner(SortedDictBook, calls)
    if peers and liquibook is not None:
        runners["liquibook"] = liquibook_runner(ops)
    if peers and LightMatchingEngine is not None:
        runners["lme"] = lme_runner(prefix)
    timings = interleaved(runners, args.repeat)
    results: dict[str, Result] = {"fast": fast_result(ops, *timings.pop("fast"))}
    results["reference"] = reference_result(calls, *timings.pop("reference"))
    if "sorteddict" in timings:
        results["sorteddict"] = sorteddict_result(calls, *timings.pop("sorteddict"))
    if "liquibook" in timings:
        seconds, _ = timings.pop("liquibook")
        results["liquibook"] = Result(
            "liquibook, no listener", n, seconds, -1, -1, "no trade count"
        )
        results["liquibook_counted"] = liquibook_counted(ops)
    if "lme" in timings:
        results["lme"] = lme_result(prefix, *timings.pop("lme"))
    del calls, timings

    expected = {n: (len(ops), results["fast"].trades, results["fast"].volume)}
    ok = True
    print(f"   {'engine':<28} {'M ops/s':>8}  {'trades':>9} {'volume':>10}  agree  runs")
    for res in results.values():
        if res.n_ops not in expected:  # a prefix: the fast book on the same prefix, untimed
            trades, _ = FastOrderBook(max_orders=MAX_ORDERS, max_price=MAX_PRICE).process(
                ops[: res.n_ops]
            )
            expected[res.n_ops] = (res.n_ops, len(trades), int(trades["qty"].sum()))
        _, want_trades, want_volume = expected[res.n_ops]
        if res.trades < 0:
            agree = "-"
        else:
            good = (res.trades, res.volume) == (want_trades, want_volume) and not res.note
            if good and res.tape is not None:
                good = np.array_equal(res.tape, results["fast"].tape)
                agree = "tape" if good else "NO"
            else:
                agree = "yes" if good else "NO"
            ok &= good
        count = "" if res.trades < 0 else f"{res.trades:>9,} {res.volume:>10,}"
        note = runs_note(res.seconds, res.n_ops, n) + (f"; {res.note}" if res.note else "")
        print(f"   {res.engine:<28} {res.rate / 1e6:>8.2f}  {count:>20}  {agree:<5}  {note}")
    verdict = "all agree" if ok else "DISAGREE"
    print(f"   agreement on trade count and volume ('tape': identical trades): {verdict}")
    return ok, results


def goal(label: str, value: float, target: float, unit: str) -> None:
    verdict = "met" if value >= target else "NOT met"
    print(f"   {label:<56} {value:8.2f}{unit} (goal >= {target:g}{unit}): {verdict}")


def print_goals(results: dict[str, Result]) -> None:
    fast, ref = results["fast"].rate, results["reference"].rate
    goal("FastOrderBook.process", fast / 1e6, 10.0, " M ops/s")
    if "liquibook" in results:
        goal("FastOrderBook.process / liquibook (no listener)", fast / results["liquibook"].rate,
             5.0, "x")  # fmt: skip
    else:
        print("   FastOrderBook.process / liquibook: not measured (liquibook not installed)")
    if "sorteddict" in results:
        goal("OrderBook / SortedDict+deque book", ref / results["sorteddict"].rate, 1.0, "x")
    else:
        print("   OrderBook / SortedDict book: not measured (sortedcontainers not installed)")
    if "liquibook_counted" in results:
        ratio = fast / results["liquibook_counted"].rate
        print(f"   (FastOrderBook.process / liquibook with its fill listener: {ratio:.2f}x)")


def warm_up() -> float:
    """Time FastOrderBook.process's first call (compile, or load from numba's cache)."""
    ops = zero_intelligence(1_000, cross_ticks=3, ioc_fraction=0.1, seed=0)
    t0 = time.perf_counter()
    FastOrderBook(max_orders=MAX_ORDERS, max_price=MAX_PRICE).process(ops)
    return time.perf_counter() - t0


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "absent"


def environment() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    peers = ", ".join(
        f"{p} {_version(p)}" for p in ("sortedcontainers", "liquibook", "lightmatchingengine")
    )
    return (
        f"environment: python {platform.python_version()}, numpy {np.__version__}, "
        f"numba {numba.__version__}, {peers}; {cpu}, {os.cpu_count()} CPUs "
        f"({platform.system()}), load average {load}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="ops per timed flow")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per engine")
    parser.add_argument("--seed", type=int, default=1, help="seed of the flows")
    parser.add_argument("--full-n", type=int, default=200_000, help="ops of the 'full' flow")
    parser.add_argument("--lme-prefix", type=int, default=100_000,
                        help="ops lightmatchingengine runs on the deep flow")  # fmt: skip
    args = parser.parse_args(argv)
    if min(args.n, args.repeat, args.full_n, args.lme_prefix) < 1 or args.seed < 0:
        parser.error("counts must be >= 1 and the seed >= 0")
    started = time.perf_counter()

    print("rtkit order books vs peers")
    print(environment())
    missing = [
        f"{name}: not installed, skipped (pip install -e '.[bench]')"
        for name, module in (
            ("sortedcontainers", SortedDict),
            ("liquibook", liquibook),
            ("lightmatchingengine", LightMatchingEngine),
        )
        if module is None
    ]
    for line in missing:
        print(line)
    print(
        f"FastOrderBook(max_orders={MAX_ORDERS:,}, max_price={MAX_PRICE:,}); first call of "
        f"process (compile or cache load), excluded below: {warm_up():.2f} s"
    )
    t0 = time.perf_counter()
    thin = zero_intelligence(
        args.n, limit_rate=1.0, market_rate=0.2, cancel_rate=0.01, cross_ticks=3,
        ioc_fraction=0.1, seed=args.seed,
    )  # fmt: skip
    deep = deep_book_flow(
        args.n, resting=20_000, price_levels=500, cross_ticks=3, ioc_fraction=0.1,
        seed=args.seed + 1,
    )  # fmt: skip
    full = zero_intelligence(
        args.full_n, limit_rate=1.0, market_rate=0.2, cancel_rate=0.01, modify_rate=0.01,
        cross_ticks=3, ioc_fraction=0.1, fok_fraction=0.05, seed=args.seed + 2,
    )  # fmt: skip
    print(f"flows generated in {time.perf_counter() - t0:.1f} s (not timed below)")
    print(
        f"method: {args.repeat} runs per engine, round-robin across engines, in this process; "
        "rate = best run\n  (range and median shown); gc.collect() then gc.freeze() before "
        "each run: the collector stays on\n  for what the run allocates, not for the harness's "
        "heap; conversions and fresh books untimed"
    )
    print(
        "common subset (flows thin and deep): GTC/IOC limit (crossing up to 3 ticks), "
        "market, cancel;\n  no FOK or modify: lightmatchingengine has neither, and "
        "liquibook's replace always loses time priority"
    )
    print()

    ok = True
    for name, ops, lme_prefix in (("thin", thin, args.n), ("deep", deep, args.lme_prefix)):
        flow_ok, results = bench_flow(name, ops, args, True, lme_prefix)
        ok &= flow_ok
        print(f"   goals on flow {name}:")
        print_goals(results)
        print()
    flow_ok, _ = bench_flow("full (modify and FOK too)", full, args, False, 0)
    ok &= flow_ok
    print("   liquibook and lightmatchingengine not run on it: they cannot express these rules")
    print()
    print(f"total {time.perf_counter() - started:.0f} s")
    if not ok:
        print("agreement check FAILED: the engines do not agree on trades")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
