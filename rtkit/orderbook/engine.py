"""TradingEngine: many symbols, one owner per book, a sequencer and a write-ahead journal.

A command (submit, cancel, modify) is validated at the API, synchronously: an
invalid one raises :class:`~rtkit.orderbook.types.OrderRejected` at once, is
never journalled and changes nothing. An accepted one gets the next sequence
number (and, for a submit, the next order id) from the sequencer, is appended
to the journal and flushed (write-ahead), then applied by the one owner of
its symbol's book; only then is it acknowledged: its
:class:`~rtkit.orderbook.messages.Ticket` resolves to an ``Ack``.

* ``workers=0``, synchronous: the caller's thread does all of it, one command
  at a time, under one lock. Deterministic; the lesson starts here.
* ``workers>=1``, threaded, the LMAX shape: callers -> a bounded intake queue
  -> the sequencer thread (the journal's one writer; one flush per group of at
  most ``fsync_every`` commands, taken as soon as the intake is empty) -> one
  bounded queue per worker -> worker threads. Symbol ``i`` belongs to worker
  ``i % workers``: its book, trades and events are only ever touched by that
  thread, in sequence order. Symbols run in parallel; one book never does.

What is journalled depends on the order of the calls only, never on timing,
so opening the journal again replays it through fresh books and gets the same
books, order ids, sequence numbers and trades. A check that needs the book
(cancelling an order that has just filled) is an outcome, not an error: the
command is journalled and acknowledged with ``Ack.rejected`` set, and replay
refuses it again, identically.

Invariant (``_check``): the journal holds a header and the records of
sequence numbers ``1..next_seq-1``, in order; every accepted command is
acknowledged, failed or in flight; each book has exactly one owner; each
worker's latency histogram counts exactly its acknowledgements.

What the seed (000 §2, l.399-759) got wrong, and what this engine does instead:

* S000-27: four workers took orders for one book from one queue, out of
  order. Here one owner per book, fed in sequence order.
* S000-28: a batch waited for 1000 orders; a quiet market never matched.
  Here group commit takes what is queued and never waits for more.
* S000-29: ``Sleep(1ns)`` to "yield", a spin. Here threads block on their
  queue's condition variable, and ``close()`` drains and joins them.
* S000-31: unbounded intake, unknown symbols rejected later and silently,
  duplicate ids overwriting. Here bounded queues that block (backpressure),
  rejects raised to the caller, and ids assigned by the sequencer.
* S000-35: a demo that checks nothing. The example below checks its trades.

Example:
    >>> import os, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "engine.journal")
    >>> with TradingEngine(["AAPL", "MSFT"], workers=0, journal_path=path) as engine:
    ...     engine.submit("AAPL", "sell", 5, price=101).result().order_id
    ...     ack = engine.submit("AAPL", "buy", 7, price=102).result()
    ...     ack.seq, ack.order_id, ack.trades
    1
    (2, 2, (Trade(maker_id=1, taker_id=2, price=101, qty=5),))
    >>> with TradingEngine.recover(path) as again:    # the same state, from the journal
    ...     again.depth("AAPL"), again.submit("MSFT", "buy", 1, price=50).result().seq
    (([(102, 2)], []), 3)
    >>> tmp.cleanup()
"""

from __future__ import annotations

import numbers
import os
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from rtkit.clock import Clock, resolve_clock
from rtkit.errors import Closed, ConfigError, IncompatibleError, QueueEmpty, StateError, check_int
from rtkit.journal import Journal
from rtkit.latency import LatencyHistogram, merged
from rtkit.orderbook._shard import Control, Shard, Subscriber, SymbolState, Work, current
from rtkit.orderbook.book import OrderBook
from rtkit.orderbook.messages import (
    Command,
    DepthEvent,
    EngineSnapshot,
    EngineStats,
    Ticket,
    TradeEvent,
    decode_command,
    decode_header,
    encode_command,
    encode_header,
)
from rtkit.orderbook.types import CANCEL, MODIFY, SIDE_CODES, SUBMIT, TIF_CODES, OrderRejected
from rtkit.queues import BoundedQueue

__all__ = ["TradingEngine"]

_INT64_MAX = 2**63 - 1
_MAX_SYMBOLS = 2**16  # a symbol index is a u16, in records and in the id -> symbol map


def _positive(name: str, value: Any) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise OrderRejected(f"{name} must be an integer, got {value!r}")
    if not 0 < value <= _INT64_MAX:
        raise OrderRejected(f"{name} must be > 0 and < 2**63, got {value}")
    return int(value)


class TradingEngine:
    """Order books for several symbols behind one sequencer and one journal.

    Opening a ``journal_path`` that holds records recovers it, as
    :class:`~rtkit.journal.Journal` does: every command is replayed in order,
    synchronously, through fresh books, and appending carries on after it.

    Args:
        symbols: the instruments (distinct, non-empty names), fixed for the
            journal's life; ``None`` takes them from the journal.
        workers: 0 for the synchronous mode, else worker threads (at most one
            per symbol).
        journal_path: the write-ahead journal; ``None`` journals nothing.
        book_factory: ``book_factory(symbol)`` makes each book.
        clock: read at acceptance and at acknowledgement.
        queue_capacity: the bound of the intake queue and of each worker's.
        fsync_every: at most this many commands share one journal flush (group
            commit, threaded mode; the synchronous mode flushes each command).
        depth_levels: how many levels a ``DepthEvent`` carries.
        keep_trades: keep every trade, for :meth:`snapshot`.

    Raises:
        ConfigError: a parameter is out of range.
        IncompatibleError: the journal is not an engine journal, a record is
            out of sequence, or ``symbols`` differ from the journal's.
    """

    def __init__(
        self,
        symbols: Iterable[str] | None,
        *,
        workers: int = 1,
        journal_path: str | os.PathLike[str] | None = None,
        book_factory: Callable[[str], Any] = OrderBook,
        clock: Clock | None = None,
        queue_capacity: int = 1024,
        fsync_every: int = 1,
        depth_levels: int = 5,
        keep_trades: bool = False,
    ) -> None:
        names = self._names(symbols)
        workers = check_int("workers", workers, minimum=0)
        capacity = check_int("queue_capacity", queue_capacity, minimum=1)
        self._fsync_every = check_int("fsync_every", fsync_every, minimum=1)
        self._depth_levels = check_int("depth_levels", depth_levels, minimum=1)
        self._clock = resolve_clock(clock)
        self._journal: Journal | None = None
        journal = None if journal_path is None else Journal(journal_path)
        try:
            records: Iterator[tuple[int, bytes]] = iter(())
            if journal is not None:
                records = journal.replay()
                head = next(records, None)
                if head is not None:
                    found = decode_header(head[1], journal.path)
                    if names is not None and names != found:
                        raise IncompatibleError(
                            f"symbols {names} differ from the journal's {found}"
                        )
                    names = found
            if names is None:
                raise ConfigError("symbols must be given unless the journal holds them")
            if workers > len(names):
                raise ConfigError(
                    f"workers must be <= the number of symbols ({len(names)}), got {workers}"
                )
            self._setup(names, workers, capacity, book_factory, keep_trades)
            self._replay(records, "" if journal is None else journal.path)
            if journal is not None and len(journal) == 0:
                journal.append(encode_header(names))
                journal.flush()
        except BaseException:
            if journal is not None:
                journal.close()
            raise
        self._journal = journal
        self._start()

    @classmethod
    def recover(cls, path: str | os.PathLike[str], **options: Any) -> TradingEngine:
        """Reopen the engine journalled at ``path``: the same books, ids and trades.

        ``options`` are the constructor's; ``symbols`` may be given to start
        a journal that is missing or empty (a writer killed before its
        header), and must otherwise equal the journal's.

        Runtime complexity: O(records), the cost of applying each command.
        """
        return cls(options.pop("symbols", None), journal_path=path, **options)

    @staticmethod
    def _names(symbols: Iterable[str] | None) -> tuple[str, ...] | None:
        if symbols is None:
            return None
        if isinstance(symbols, str):
            raise ConfigError(f"symbols must be a collection of names, not the string {symbols!r}")
        names = tuple(symbols)
        if not names or not all(isinstance(s, str) and s for s in names):
            raise ConfigError(f"symbols must be non-empty strings, got {names!r}")
        if len(set(names)) != len(names) or len(names) > _MAX_SYMBOLS:
            raise ConfigError(f"symbols must be distinct and at most {_MAX_SYMBOLS}")
        return names

    def _setup(
        self, names: tuple[str, ...], workers: int, capacity: int, factory: Callable, keep: bool
    ) -> None:
        self._symbols = names
        self._index = {name: i for i, name in enumerate(names)}
        self._owner = [i % workers if workers else 0 for i in range(len(names))]
        bound, subscribers = capacity if workers else None, lambda: self._subscribers
        self._shards = [
            Shard(w, bound, self._clock, self._depth_levels, subscribers)
            for w in range(max(workers, 1))
        ]
        for i, name in enumerate(names):
            self._shards[self._owner[i]].states[i] = SymbolState(i, name, factory(name), keep)
        self._intake: BoundedQueue | None = BoundedQueue(capacity) if workers else None
        self._sequencer: threading.Thread | None = None
        self._lock = threading.Lock()  # the sequencer's: seq, ids, intake order
        self._close_lock = threading.Lock()
        self._sub_lock = threading.Lock()
        self._reject_lock = threading.Lock()
        self._subscribers: tuple[Subscriber, ...] = ()
        self._next_token = self._next_seq = self._next_order_id = 1
        self._symbol_of = array("H")  # order id - 1 -> symbol index
        self._accepted = self._rejected = self._replayed = self._lost = 0
        self._closing = False
        self._failure: BaseException | None = None

    def _replay(self, records: Iterator[tuple[int, bytes]], path: str) -> None:
        for offset, record in records:
            where = f"{path}@{offset}"
            cmd, sym = decode_command(record, self._symbols, self._next_seq, where)
            if cmd.kind == SUBMIT:
                if cmd.order_id != self._next_order_id:
                    raise IncompatibleError(f"{where}: order id {cmd.order_id} out of sequence")
                self._next_order_id += 1
                self._symbol_of.append(sym)
            elif (
                not 0 < cmd.order_id < self._next_order_id
                or self._symbol_of[cmd.order_id - 1] != sym
            ):
                raise IncompatibleError(f"{where}: order id {cmd.order_id} was never submitted")
            self._next_seq += 1
            self._replayed += 1
            self._shards[self._owner[sym]].apply(sym, cmd)

    def _start(self) -> None:
        if self._intake is None:
            return
        for w in self._shards:
            w.thread = threading.Thread(
                target=w.run, args=(self,), name=f"engine-worker-{w.index}", daemon=True
            )
            w.thread.start()
        self._sequencer = threading.Thread(
            target=self._run_sequencer, name="engine-sequencer", daemon=True
        )
        self._sequencer.start()

    # -- commands ------------------------------------------------------------------------

    def submit(
        self, symbol: str, side: str, qty: int, price: int | None = None, tif: str = "GTC"
    ) -> Ticket:
        """Accept a new order: its id is ``ticket.order_id``, its fills ``ticket.result().trades``.

        ``price`` in ticks, or ``None`` for a market order; the matching rules
        are :meth:`OrderBook.submit <rtkit.orderbook.book.OrderBook.submit>`'s.
        An unknown symbol or a bad side, qty, price or tif raises
        :class:`OrderRejected` (nothing journalled, nothing changed); after
        :meth:`close`, :class:`~rtkit.errors.Closed`. Blocks while the intake
        queue is full.

        Runtime complexity: O(1) to accept; the book's cost to apply.
        """
        t0 = self._clock.now_ns()
        sym = self._index.get(symbol) if isinstance(symbol, str) else None
        if sym is None:
            raise self._reject(f"unknown symbol {symbol!r}, not one of {self._symbols}")
        if side not in SIDE_CODES:
            raise self._reject(f"side must be 'buy' or 'sell', got {side!r}")
        if tif not in TIF_CODES:
            raise self._reject(f"tif must be 'GTC', 'IOC' or 'FOK', got {tif!r}")
        try:
            qty, price = _positive("qty", qty), 0 if price is None else _positive("price", price)
        except OrderRejected as exc:
            raise self._reject(str(exc)) from None
        return self._accept(t0, SUBMIT, sym, 0, SIDE_CODES[side], qty, price, TIF_CODES[tif])

    def cancel(self, order_id: int) -> Ticket:
        """Accept a cancel of ``order_id``; the ack's ``cancelled_qty`` is what it removed.

        An id never assigned is rejected here; an order no longer resting is
        acknowledged with ``Ack.rejected`` set. Runtime complexity: O(1) to accept.
        """
        return self._accept(self._clock.now_ns(), CANCEL, None, order_id)

    def modify(self, order_id: int, qty: int | None = None, price: int | None = None) -> Ticket:
        """Accept a change of a resting order's remaining qty and/or price (the book's rules).

        Runtime complexity: O(1) to accept.
        """
        t0 = self._clock.now_ns()
        if qty is None and price is None:
            raise self._reject("nothing to modify: give qty and/or price")
        try:
            qty = 0 if qty is None else _positive("qty", qty)
            price = 0 if price is None else _positive("price", price)
        except OrderRejected as exc:
            raise self._reject(str(exc)) from None
        return self._accept(t0, MODIFY, None, order_id, 0, qty, price)

    def _reject(self, message: str) -> OrderRejected:
        with self._reject_lock:  # not the sequencer's lock: a caller may hold it, blocked
            self._rejected += 1
        return OrderRejected(message)

    def _accept(self, t0: int, kind: int, sym: int | None, order_id: Any, *fields: int) -> Ticket:
        self._check_caller()
        with self._lock:
            if self._closing:
                raise self._closed_error()
            if sym is None:  # a cancel or modify: the symbol is its order's
                if (
                    isinstance(order_id, bool)
                    or not isinstance(order_id, numbers.Integral)
                    or not 0 < order_id < self._next_order_id
                ):
                    raise self._reject(f"unknown order_id {order_id!r}: never assigned")
                order_id = int(order_id)
                sym = self._symbol_of[order_id - 1]
            else:
                order_id = self._next_order_id
            work = Work(
                Command(self._next_seq, kind, self._symbols[sym], order_id, *fields), sym, t0
            )
            if self._intake is None:
                self._write_ahead((work,))
            else:
                try:
                    self._intake.put(work)
                except Closed:
                    raise self._closed_error() from None
            self._next_seq += 1
            self._accepted += 1
            if kind == SUBMIT:
                self._next_order_id += 1
                self._symbol_of.append(sym)
            if self._intake is None:
                outer, current.engine = getattr(current, "engine", None), self
                try:
                    self._shards[0].execute(work)
                finally:
                    current.engine = outer
        return work.ticket

    def _write_ahead(self, batch: Iterable[Any]) -> None:
        """Journal the commands in ``batch`` and flush once; on failure, stop for good."""
        if self._journal is None:
            return
        try:
            n = 0
            for w in batch:
                if isinstance(w, Work):
                    self._journal.append(encode_command(w.command, w.sym))
                    n += 1
            if n:
                self._journal.flush()
        except BaseException as exc:
            self._failure, self._closing = exc, True
            raise

    # -- the threads ---------------------------------------------------------------------

    def _run_sequencer(self) -> None:
        current.engine = self
        intake, queues = self._intake, [w.queue for w in self._shards]
        assert intake is not None
        try:
            while True:
                try:
                    batch = [intake.get()]
                except Closed:
                    return
                n = isinstance(batch[0], Work)
                while n < self._fsync_every:  # group commit: what is queued now, no waiting
                    try:
                        batch.append(intake.get_nowait())
                    except (QueueEmpty, Closed):
                        break
                    n += isinstance(batch[-1], Work)
                try:
                    self._write_ahead(batch)
                except BaseException as exc:
                    self._fail_all(batch, exc)
                    return
                for item in batch:
                    for q in [queues[self._owner[item.sym]]] if isinstance(item, Work) else queues:
                        q.put(item)  # type: ignore[union-attr]
        finally:
            for q in queues:
                q.close()  # type: ignore[union-attr]

    def _fail_all(self, batch: list[Any], exc: BaseException) -> None:
        """After a journal failure: refuse intake, fail everything not yet applied."""
        assert self._intake is not None
        self._intake.close()
        while True:
            try:
                batch.append(self._intake.get_nowait())
            except (QueueEmpty, Closed):
                break
        error = Closed(f"engine stopped: the journal failed: {exc!r}")
        for item in batch:
            item.fail(error)
        self._lost += sum(isinstance(item, Work) for item in batch)

    # -- subscribers, queries, lifecycle -------------------------------------------------

    def subscribe(
        self,
        callback: Callable[[TradeEvent | DepthEvent], object],
        kinds: Iterable[str] = ("trade", "depth"),
    ) -> int:
        """Call ``callback(event)`` for every event of ``kinds``; return a token to unsubscribe.

        Events come on the thread that owns the symbol (the caller's, in the
        synchronous mode), in command order per symbol; with several workers,
        callbacks for different symbols run concurrently. A depth event is
        sent when the top ``depth_levels`` levels change. A callback that
        raises is counted (``stats().subscriber_errors``) and skipped; one
        that calls its own engine gets ``StateError``. A callback must not
        block, least of all on a ticket: its thread is the one that would
        acknowledge it.
        """
        kinds = tuple(kinds)
        if not callable(callback):
            raise ConfigError(f"callback must be callable, got {callback!r}")
        if not kinds or not set(kinds) <= {"trade", "depth"}:
            raise ConfigError(f"kinds must be some of 'trade', 'depth', got {kinds!r}")
        with self._sub_lock:
            token, self._next_token = self._next_token, self._next_token + 1
            entry = (token, callback, "trade" in kinds, "depth" in kinds)
            self._subscribers = (*self._subscribers, entry)  # copied: workers read it unlocked
        return token

    def unsubscribe(self, token: int) -> None:
        """End subscription ``token``; an event being delivered may still arrive."""
        with self._sub_lock:
            kept = tuple(s for s in self._subscribers if s[0] != token)
            if len(kept) == len(self._subscribers):
                raise ConfigError(f"no subscription with token {token!r}")
            self._subscribers = kept

    def _on_workers(self, fn: Callable[[Shard], Any]) -> tuple[list[Any], tuple[int, int, int]]:
        """Run ``fn`` on every worker after every command accepted so far.

        Returns the results and ``(next_seq, next_order_id, accepted)`` at that
        point. In the synchronous mode, or once the workers have stopped,
        ``fn`` runs on the caller's thread.
        """
        self._check_caller()
        with self._lock:
            marks, control = (self._next_seq, self._next_order_id, self._accepted), None
            if self._intake is None:
                return [fn(w) for w in self._shards], marks
            if not self._closing:
                control = Control(fn, len(self._shards))
                try:
                    self._intake.put(control)
                except Closed:
                    control = None
        if control is None:
            self._join()
            return [fn(w) for w in self._shards], marks
        return control.wait(), marks

    def drain(self) -> None:
        """Wait until every command accepted before this call is acknowledged and published."""
        self._on_workers(lambda w: None)

    def snapshot(self) -> EngineSnapshot:
        """The whole state, a consistent cut after every command accepted so far.

        Runtime complexity: O(resting orders + kept trades).
        """
        parts, (next_seq, next_order_id, _) = self._on_workers(Shard.snapshot)
        books = sorted((s for part in parts for s in part), key=lambda s: self._index[s.symbol])
        return EngineSnapshot(next_seq, next_order_id, tuple(books))

    def depth(self, symbol: str, levels: int = 5) -> tuple[list, list]:
        """``depth(levels)`` of ``symbol``'s book, read by its owner after the commands so far."""
        if not isinstance(symbol, str) or symbol not in self._index:
            raise ConfigError(f"unknown symbol {symbol!r}, not one of {self._symbols}")
        sym, levels = self._index[symbol], check_int("levels", levels, minimum=1)
        found, _ = self._on_workers(
            lambda w: w.states[sym].book.depth(levels) if sym in w.states else None
        )
        return found[self._owner[sym]]

    def latency(self) -> LatencyHistogram:
        """Accepted-to-acknowledged latency of every acknowledged command (a merged copy)."""
        return merged(self._on_workers(lambda w: w.hist.copy())[0])

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    def stats(self) -> EngineStats:
        """The counters, read without stopping anyone. Runtime complexity: O(workers)."""
        ws = self._shards
        acknowledged = sum(w.acknowledged for w in ws)
        errors = sum(w.errors for w in ws) + self._lost
        journal = None if self._journal is None else self._journal.stats()
        return EngineStats(
            symbols=len(self._symbols),
            workers=0 if self._intake is None else len(ws),
            accepted=self._accepted,
            rejected=self._rejected,
            acknowledged=acknowledged,
            book_rejects=sum(w.book_rejects for w in ws),
            errors=errors,
            in_flight=self._accepted - acknowledged - errors,
            replayed=self._replayed,
            trades=sum(w.trades for w in ws),
            volume=sum(w.volume for w in ws),
            subscriber_errors=sum(w.subscriber_errors for w in ws),
            intake_depth=0 if self._intake is None else len(self._intake),
            queue_depths=tuple(0 if w.queue is None else len(w.queue) for w in ws),
            journal_records=0 if journal is None else journal.records,
            journal_flushes=0 if journal is None else journal.flushes,
        )

    def close(self) -> None:
        """Stop intake, apply and acknowledge everything accepted, join the threads,
        close the journal. Idempotent; commands after it raise ``Closed``."""
        self._check_caller()
        with self._close_lock:
            if self._intake is not None:
                self._intake.close()  # first: wakes callers blocked on a full intake
            with self._lock:
                self._closing = True
            self._join()
            if self._journal is not None:
                self._journal.close()

    def _join(self) -> None:
        for thread in [self._sequencer, *(w.thread for w in self._shards)]:
            if thread is not None:
                thread.join()

    def __enter__(self) -> TradingEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        workers = 0 if self._intake is None else len(self._shards)
        state = "closed" if self._closing else f"next_seq={self._next_seq}"
        return f"TradingEngine({list(self._symbols)}, workers={workers}, {state})"

    def _check_caller(self) -> None:
        if getattr(current, "engine", None) is self:
            raise StateError(
                "a callback must not call its own engine: it runs on the engine's thread"
            )

    def _closed_error(self) -> Closed:
        if self._failure is not None:
            return Closed(f"engine stopped: the journal failed: {self._failure!r}")
        return Closed("engine is closed")

    def _check(self) -> None:
        """Assert the invariants; tests call it between operations. O(resting orders)."""
        done, (next_seq, next_order_id, accepted) = self._on_workers(Shard._check)
        owners = {i: w.index for w in self._shards for i in w.states}
        assert sum(len(w.states) for w in self._shards) == len(self._symbols), "a book shared"
        assert owners == dict(enumerate(self._owner)), "a book without its owner"
        assert len(self._symbol_of) >= next_order_id - 1
        assert accepted + self._replayed == next_seq - 1, "a sequence number was skipped"
        if self._failure is None:
            assert sum(done) == accepted, "an accepted command neither acknowledged nor failed"
            journal = self._journal
            if journal is not None and not journal.closed:
                assert next_seq <= len(journal) <= self._next_seq, "journal and sequencer disagree"
