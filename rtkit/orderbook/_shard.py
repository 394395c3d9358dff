"""Shard: the one owner of some symbols' books, inside a TradingEngine.

A shard applies the commands of its symbols one at a time, in sequence order,
on one thread (its worker's, or the caller's in the synchronous mode): the
deterministic single-threaded matcher that sits behind the sequencer in the
LMAX design. Nothing else touches its books, its latency histogram or its
counters; the engine reads them through a :class:`Control` that the shard
runs in its queue's order, after every command queued before it.

Invariant (``_check``): each book's own invariant; the shard's match count
per symbol equals the book's trade count (and the kept trades, if any); the
latency histogram counts exactly the acknowledged commands.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from rtkit.clock import Clock
from rtkit.errors import Closed
from rtkit.latency import LatencyHistogram
from rtkit.orderbook.messages import Ack, Command, DepthEvent, SymbolSnapshot, Ticket, TradeEvent
from rtkit.orderbook.types import CANCEL, SIDE_NAMES, SUBMIT, TIF_NAMES, OrderRejected, Trade
from rtkit.queues import BoundedQueue

current = threading.local()  # .engine: the engine whose thread (or callback) is running

Subscriber = tuple[int, Callable[[Any], object], bool, bool]  # token, callback, trades?, depth?


class Work:
    """An accepted command on its way to its shard."""

    __slots__ = ("accepted_ns", "command", "sym", "ticket")

    def __init__(self, command: Command, sym: int, accepted_ns: int) -> None:
        self.command, self.sym, self.accepted_ns = command, sym, accepted_ns
        self.ticket = Ticket(command)

    def fail(self, error: BaseException) -> None:
        self.ticket.set_exception(error)


class Control:
    """A function every shard runs in its queue's order; the results gathered."""

    def __init__(self, fn: Callable[[Shard], Any], n: int) -> None:
        self.fn, self.results, self.error = fn, [None] * n, None
        self._left, self._lock, self._done = n, threading.Lock(), threading.Event()

    def run(self, shard: Shard) -> None:
        try:
            self.results[shard.index] = self.fn(shard)
        except BaseException as exc:  # raised again in the waiting caller
            self.error = exc
        with self._lock:
            self._left -= 1
            if self._left == 0:
                self._done.set()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self._done.set()

    def wait(self) -> list[Any]:
        self._done.wait()
        if self.error is not None:
            raise self.error
        return self.results


class SymbolState:
    __slots__ = ("book", "index", "last_depth", "matches", "symbol", "trades")

    def __init__(self, index: int, symbol: str, book: Any, keep_trades: bool) -> None:
        self.index, self.symbol, self.book = index, symbol, book
        self.trades: list[Trade] | None = [] if keep_trades else None
        self.matches = 0  # trades so far: the last match number
        self.last_depth: tuple | None = None


class Shard:
    """The books of some symbols, their queue (none when synchronous) and counters."""

    def __init__(
        self,
        index: int,
        capacity: int | None,
        clock: Clock,
        depth_levels: int,
        subscribers: Callable[[], tuple[Subscriber, ...]],
    ) -> None:
        self.index, self.clock, self.depth_levels = index, clock, depth_levels
        self.subscribers = subscribers
        self.states: dict[int, SymbolState] = {}
        self.queue: BoundedQueue | None = None if capacity is None else BoundedQueue(capacity)
        self.thread: threading.Thread | None = None
        self.hist = LatencyHistogram()
        self.acknowledged = self.book_rejects = self.errors = 0
        self.trades = self.volume = self.subscriber_errors = 0

    def run(self, engine: object) -> None:
        """The worker thread: take items until the queue is closed and drained."""
        current.engine = engine
        queue = self.queue
        assert queue is not None
        while True:
            try:
                item = queue.get()  # blocks on a condition variable: no spinning
            except Closed:
                return
            if isinstance(item, Work):
                self.execute(item)
            else:
                item.run(self)

    def apply(self, sym: int, c: Command) -> tuple[tuple[Trade, ...], int, str | None]:
        """Apply one command to its book: ``(trades, cancelled_qty, reason refused)``."""
        st, cancelled = self.states[sym], 0
        try:
            if c.kind == SUBMIT:
                side, tif = SIDE_NAMES[c.side], TIF_NAMES[c.tif]
                trades = st.book.submit(c.order_id, side, c.qty, c.price or None, tif)
            elif c.kind == CANCEL:
                trades, cancelled = [], st.book.cancel(c.order_id)
            else:
                trades = st.book.modify(c.order_id, c.qty or None, c.price or None)
        except OrderRejected as exc:
            self.book_rejects += 1
            return (), 0, str(exc)
        if trades:
            self.trades += len(trades)
            self.volume += sum(t.qty for t in trades)
            st.matches += len(trades)
            if st.trades is not None:
                st.trades.extend(trades)
        return tuple(trades), cancelled, None

    def execute(self, work: Work) -> None:
        """Apply, acknowledge (recording the latency), then publish."""
        cmd = work.command
        try:
            trades, cancelled, rejected = self.apply(work.sym, cmd)
        except Exception as exc:  # a bug in a book: fail this ticket, keep serving
            self.errors += 1
            work.fail(exc)
            return
        acked = self.clock.now_ns()
        self.hist.record(max(acked - work.accepted_ns, 0))
        self.acknowledged += 1
        work.ticket.set_result(Ack(cmd, trades, cancelled, rejected, work.accepted_ns, acked))
        subs = self.subscribers()
        if subs and rejected is None:
            self._publish(subs, self.states[work.sym], cmd.seq, trades)

    def _publish(self, subs: tuple, st: SymbolState, seq: int, trades: tuple) -> None:
        first = st.matches - len(trades) + 1
        fills = [TradeEvent(st.symbol, seq, first + i, t) for i, t in enumerate(trades)]
        depth: list[DepthEvent] = []
        if any(wants_depth for *_, wants_depth in subs):
            bids, asks = st.book.depth(self.depth_levels)
            now = (tuple(bids), tuple(asks))
            if now != st.last_depth:
                st.last_depth = now
                depth.append(DepthEvent(st.symbol, seq, *now))
        for _, callback, wants_trades, wants_depth in subs:
            for event in (fills if wants_trades else []) + (depth if wants_depth else []):
                try:
                    callback(event)
                except Exception:  # isolated: one bad subscriber stops no one
                    self.subscriber_errors += 1

    def snapshot(self) -> list[SymbolSnapshot]:
        return [
            SymbolSnapshot(
                st.symbol,
                tuple(st.book.orders()),
                st.book.stats(),
                None if st.trades is None else tuple(st.trades),
            )
            for st in self.states.values()
        ]

    def _check(self) -> int:
        """Assert the invariants; return the commands done (acknowledged or failed)."""
        for st in self.states.values():
            st.book._check()
            assert st.matches == st.book.stats().trades, "trade count differs from the book's"
            assert st.trades is None or len(st.trades) == st.matches
        assert self.hist.count == self.acknowledged, "latency count != acknowledged"
        return self.acknowledged + self.errors
