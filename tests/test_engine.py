"""TradingEngine: sequencing, validation, sharding, events, latency, recovery, SIGKILL."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import engine_child
import pytest
from engine_child import SYMBOLS, Flow, send

from rtkit.errors import Closed, ConfigError, IncompatibleError, StateError
from rtkit.journal import Journal
from rtkit.orderbook.book import OrderBook
from rtkit.orderbook.engine import TradingEngine
from rtkit.orderbook.messages import (
    Command,
    DepthEvent,
    TradeEvent,
    decode_command,
    encode_command,
    read_journal,
)
from rtkit.orderbook.types import (
    BUY,
    CANCEL,
    MODIFY,
    SIDE_NAMES,
    SUBMIT,
    TIF_NAMES,
    OrderRejected,
    RestingOrder,
    Trade,
)


class TickingClock:
    """Each read returns 100 ns more than the last: latencies become exact counts."""

    def __init__(self) -> None:
        self.t = 0

    def now_ns(self) -> int:
        self.t += 100
        return self.t

    def sleep_until(self, deadline_ns: int) -> None:
        self.t = max(self.t, deadline_ns)


def feed(engine: TradingEngine, commands: list[Command]) -> list:
    """Send journalled commands through the API of another engine, in order."""
    tickets = []
    for c in commands:
        if c.kind == SUBMIT:
            side, tif = SIDE_NAMES[c.side], TIF_NAMES[c.tif]
            tickets.append(engine.submit(c.symbol, side, c.qty, c.price or None, tif))
        elif c.kind == CANCEL:
            tickets.append(engine.cancel(c.order_id))
        else:
            tickets.append(engine.modify(c.order_id, c.qty or None, c.price or None))
        assert (tickets[-1].seq, tickets[-1].order_id) == (c.seq, c.order_id)
    return tickets


def run_flow(engine: TradingEngine, seed: int, n: int) -> list:
    """Send ``n`` calls of a seeded Flow; return the tickets of the accepted ones."""
    flow, tickets = Flow(seed, engine.snapshot().next_order_id, engine.symbols), []
    for _ in range(n):
        call, valid = flow.next()
        if valid:
            tickets.append(send(engine, call))
        else:
            with pytest.raises(OrderRejected):
                send(engine, call)
    return tickets


# -- the synchronous mode, worked by hand -------------------------------------------------


def test_ids_and_sequence_numbers_are_assigned_in_order_and_symbols_match_apart():
    with TradingEngine(["AAPL", "MSFT"], workers=0) as engine:
        a1 = engine.submit("AAPL", "sell", 5, price=101).result()
        m1 = engine.submit("MSFT", "sell", 3, price=50).result()
        a2 = engine.submit("AAPL", "buy", 7, price=102).result()
        m2 = engine.submit("MSFT", "buy", 4).result()  # market: 3 fill, 1 is cancelled
        engine._check()
        assert [(a.seq, a.order_id) for a in (a1, m1, a2, m2)] == [(1, 1), (2, 2), (3, 3), (4, 4)]
        assert (a1.trades, m1.trades) == ((), ())
        assert a2.trades == (Trade(maker_id=1, taker_id=3, price=101, qty=5),)
        assert m2.trades == (Trade(maker_id=2, taker_id=4, price=50, qty=3),)
        assert engine.depth("AAPL") == ([(102, 2)], [])
        assert engine.depth("MSFT") == ([], [])
        cancel = engine.cancel(3).result()
        assert (cancel.seq, cancel.order_id, cancel.cancelled_qty, cancel.rejected) == (
            5,
            3,
            2,
            None,
        )
        assert engine.submit("AAPL", "buy", 1, price=99).order_id == 5  # a cancel takes no id
        s = engine.stats()
        assert (s.accepted, s.acknowledged, s.rejected, s.trades, s.volume) == (6, 6, 0, 2, 8)
        engine._check()


def test_a_symbols_trades_do_not_depend_on_what_other_symbols_do():
    def a_trades(with_noise: bool) -> list[tuple]:
        rng, noise = random.Random(5), random.Random(6)
        with TradingEngine(["A", "B"], workers=0, keep_trades=True) as engine:
            ordinal = {}  # engine id -> the how-many-th order of A it was
            for _ in range(400):
                if with_noise and noise.random() < 0.5:
                    side = noise.choice(["buy", "sell"])
                    engine.submit("B", side, 3, price=noise.randint(8, 12))
                t = engine.submit("A", rng.choice(["buy", "sell"]), 2, price=rng.randint(98, 102))
                ordinal[t.order_id] = len(ordinal)
            book = engine.snapshot().symbols[0]
        return [(ordinal[t.maker_id], ordinal[t.taker_id], t.price, t.qty) for t in book.trades]

    alone = a_trades(False)
    assert len(alone) > 50 and a_trades(True) == alone


def test_a_cancel_of_an_order_that_filled_is_acknowledged_as_refused_and_replays_so(tmp_path):
    path = tmp_path / "e.journal"
    with TradingEngine(["X"], workers=0, journal_path=path) as engine:
        engine.submit("X", "sell", 2, price=10)
        engine.submit("X", "buy", 2, price=10)
        ack = engine.cancel(1).result()
        assert (ack.seq, ack.rejected, ack.cancelled_qty) == (
            3,
            "no resting order with order_id 1",
            0,
        )
        assert engine.modify(2, qty=1).result().rejected is not None
        assert engine.stats().book_rejects == 2
        state = engine.snapshot()
    with TradingEngine.recover(path) as again:
        assert again.snapshot() == state
        assert again.stats().book_rejects == 2 and again.stats().replayed == 4
        again._check()


def test_modify_through_the_engine_keeps_or_loses_priority_as_the_book_does():
    with TradingEngine(["X"], workers=0) as engine:
        engine.submit("X", "buy", 5, price=99)
        engine.submit("X", "buy", 5, price=99)
        assert engine.modify(1, qty=2).result().trades == ()  # reduced: keeps priority
        engine.submit("X", "sell", 1, price=101)
        ack = engine.modify(2, price=101).result()  # repriced across: trades
        assert ack.trades == (Trade(maker_id=3, taker_id=2, price=101, qty=1),)
        orders = engine.snapshot().symbols[0].orders
        assert orders == (RestingOrder(2, "buy", 101, 4), RestingOrder(1, "buy", 99, 2))
        engine._check()


REJECTED = [
    (lambda e: e.submit("NOPE", "buy", 1, 100), "unknown symbol 'NOPE'"),
    (lambda e: e.submit(7, "buy", 1, 100), "unknown symbol 7"),
    (lambda e: e.submit("X", "bid", 1, 100), "side must be 'buy' or 'sell', got 'bid'"),
    (lambda e: e.submit("X", "buy", 1, 100, tif="DAY"), "tif must be 'GTC', 'IOC' or 'FOK'"),
    (lambda e: e.submit("X", "buy", 0, 100), "qty must be > 0 and < 2\\*\\*63, got 0"),
    (lambda e: e.submit("X", "buy", -3, 100), "qty must be > 0"),
    (lambda e: e.submit("X", "buy", 2.5, 100), "qty must be an integer, got 2.5"),
    (lambda e: e.submit("X", "buy", True, 100), "qty must be an integer, got True"),
    (lambda e: e.submit("X", "buy", 1, 0), "price must be > 0"),
    (lambda e: e.submit("X", "buy", 1, 100.5), "price must be an integer"),
    (lambda e: e.submit("X", "buy", 1, 2**63), "price must be > 0 and < 2\\*\\*63"),
    (lambda e: e.cancel(99), "unknown order_id 99: never assigned"),
    (lambda e: e.cancel(0), "unknown order_id 0"),
    (lambda e: e.cancel(True), "unknown order_id True"),
    (lambda e: e.cancel("1"), "unknown order_id '1'"),
    (lambda e: e.modify(1), "nothing to modify"),
    (lambda e: e.modify(1, qty=0), "qty must be > 0"),
    (lambda e: e.modify(1, price=-1), "price must be > 0"),
    (lambda e: e.modify(42, qty=1), "unknown order_id 42"),
]


@pytest.mark.parametrize("workers", [0, 1])
@pytest.mark.parametrize(("call", "match"), REJECTED)
def test_a_bad_command_is_rejected_at_once_never_journalled_and_changes_nothing(
    tmp_path, workers, call, match
):
    path = tmp_path / "e.journal"
    with TradingEngine(["X", "Y"], workers=workers, journal_path=path, keep_trades=True) as e:
        e.submit("X", "sell", 5, price=101).result()
        e.submit("X", "buy", 5, price=99).result()
        before, stats = e.snapshot(), e.stats()
        with pytest.raises(OrderRejected, match=match):
            call(e)
        e._check()
        assert e.snapshot() == before
        after = e.stats()
        assert after.rejected == stats.rejected + 1
        assert (after.accepted, after.journal_records) == (stats.accepted, stats.journal_records)
        assert e.submit("Y", "buy", 1, price=5).result().seq == 3  # no sequence number lost
    assert len(read_journal(path)[1]) == 3


# -- threads ----------------------------------------------------------------------------------


def test_two_workers_give_the_same_books_trades_and_acks_as_the_synchronous_mode():
    symbols = ("A", "B", "C", "D", "E")
    results = []
    for workers in (0, 2, 5):
        with TradingEngine(symbols, workers=workers, keep_trades=True, queue_capacity=8) as e:
            acks = [t.result(timeout=30) for t in run_flow(e, seed=11, n=3000)]
            e._check()
            results.append((e.snapshot(), [(a.command, a.trades, a.rejected) for a in acks]))
    assert results[0] == results[1] == results[2]
    snapshot = results[0][0]
    assert all(len(book.trades) > 100 for book in snapshot.symbols)


def test_each_book_is_only_ever_touched_by_one_thread_in_sequence_order():
    seen: dict[str, list[tuple[int, int]]] = {s: [] for s in SYMBOLS}

    def on_event(event):
        seen[event.symbol].append((threading.get_ident(), event.seq))

    with TradingEngine(SYMBOLS, workers=2) as e:
        e.subscribe(on_event, kinds=("depth",))
        run_flow(e, seed=3, n=1500)
        e.drain()
        threads_by_symbol = {s: {ident for ident, _ in seen[s]} for s in SYMBOLS}
        assert all(len(t) == 1 for t in threads_by_symbol.values())
        assert len(set().union(*threads_by_symbol.values())) == 2  # AAPL and GOOG share one
        assert threads_by_symbol["AAPL"] == threads_by_symbol["GOOG"]
        for events in seen.values():
            seqs = [seq for _, seq in events]
            assert len(seqs) > 50 and seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        e._check()


def test_concurrent_callers_are_sequenced_and_the_journal_recovers_the_live_state(tmp_path):
    path = tmp_path / "e.journal"
    with TradingEngine(SYMBOLS, workers=2, journal_path=path, fsync_every=32) as e:
        per_caller: list[list[int]] = [[] for _ in range(4)]

        def caller(k: int) -> None:
            rng = random.Random(k)
            for _ in range(300):
                side = rng.choice(["buy", "sell"])
                t = e.submit(rng.choice(SYMBOLS), side, rng.randint(1, 9), rng.randint(95, 105))
                per_caller[k].append(t.seq)

        threads = [threading.Thread(target=caller, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        live = e.snapshot()
        e._check()
        assert e.stats().journal_flushes < 1200  # group commit shared flushes
    assert all(seqs == sorted(seqs) for seqs in per_caller)
    assert sorted(s for seqs in per_caller for s in seqs) == list(range(1, 1201))
    with TradingEngine.recover(path, workers=1) as again:
        assert again.snapshot() == live
        again._check()


def test_a_lone_command_is_flushed_and_acknowledged_without_waiting_for_a_group(tmp_path):
    with TradingEngine(["X"], workers=1, journal_path=tmp_path / "j", fsync_every=1000) as e:
        ack = e.submit("X", "buy", 1, price=10).result(timeout=10)
        assert ack.seq == 1 and e.stats().journal_flushes == 2  # the header's, then its own


def test_full_queues_block_the_callers_instead_of_growing():
    release, started = threading.Event(), threading.Event()

    def slow(event):
        started.set()
        release.wait(30)

    with TradingEngine(["X"], workers=1, queue_capacity=2, fsync_every=1) as e:
        e.subscribe(slow, kinds=("depth",))
        producer = threading.Thread(
            target=lambda: [e.submit("X", "buy", 1, price=10 + i) for i in range(20)]
        )
        producer.start()
        assert started.wait(30)
        deadline = time.monotonic() + 30
        while e.stats().accepted < 6 and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(0.05)  # were the queues not bounded, more would be accepted by now
        s = e.stats()
        # one in the callback, two in the worker's queue, one held by the sequencer, two in intake
        assert (s.accepted, s.intake_depth, s.queue_depths) == (6, 2, (2,))
        release.set()
        producer.join()
        e.drain()
        assert e.stats().acknowledged == 20
        e._check()


# -- subscribers, latency, lifecycle -----------------------------------------------------------


@pytest.mark.parametrize("workers", [0, 2])
def test_subscribers_get_trades_and_changed_depth_in_order_and_a_raising_one_is_isolated(workers):
    got: list = []

    def broken(event):
        raise RuntimeError("subscriber bug")

    with TradingEngine(["X", "Y"], workers=workers, depth_levels=1) as e:
        e.subscribe(broken)
        token = e.subscribe(got.append)
        e.submit("X", "sell", 5, price=101)
        e.submit("X", "sell", 5, price=102)  # the top level does not change: no depth event
        e.submit("X", "buy", 7, price=102)
        e.drain()
        assert got == [
            DepthEvent("X", 1, (), ((101, 5),)),
            TradeEvent("X", 3, 1, Trade(1, 3, 101, 5)),
            TradeEvent("X", 3, 2, Trade(2, 3, 102, 2)),
            DepthEvent("X", 3, (), ((102, 3),)),
        ]
        assert e.stats().subscriber_errors == 4  # once for each event
        e.unsubscribe(token)
        e.submit("X", "buy", 3, price=102).result()
        e.drain()
        assert len(got) == 4 and e.stats().subscriber_errors == 6
        with pytest.raises(ConfigError, match="no subscription"):
            e.unsubscribe(token)
        e._check()


@pytest.mark.parametrize("workers", [0, 1])
def test_a_callback_that_calls_its_own_engine_gets_state_error_not_a_deadlock(workers):
    errors: list = []

    def reenter(event):
        try:
            e.submit("X", "buy", 1, price=1)
        except StateError as exc:
            errors.append(str(exc))

    with TradingEngine(["X"], workers=workers) as e:
        e.subscribe(reenter)
        e.submit("X", "sell", 1, price=5).result(timeout=10)
        e.drain()
        assert errors == ["a callback must not call its own engine: it runs on the engine's thread"]
        assert e.stats().accepted == 1


def test_latency_is_recorded_from_acceptance_to_acknowledgement_for_every_command():
    with TradingEngine(["X"], workers=0, clock=TickingClock()) as e:
        acks = [e.submit("X", "buy", 1, price=10 + i).result() for i in range(10)]
        acks.append(e.cancel(3).result())
        acks.append(e.cancel(3).result())  # refused by the book: still acknowledged
        # two clock reads per command: at acceptance and at acknowledgement
        assert [a.latency_ns for a in acks] == [100] * 12
        h = e.latency()
        assert (h.count, h.min, h.max) == (12, 100, 100) == (e.stats().acknowledged, 100, 100)


def test_threaded_latency_count_equals_acknowledged():
    with TradingEngine(SYMBOLS, workers=2) as e:
        tickets = run_flow(e, seed=8, n=800)
        assert all(t.result(timeout=30).latency_ns >= 0 for t in tickets)
        assert e.latency().count == e.stats().acknowledged == len(tickets)
        e._check()


def test_close_drains_is_idempotent_and_refuses_later_commands_but_answers_queries():
    e = TradingEngine(SYMBOLS, workers=2)
    tickets = run_flow(e, seed=2, n=500)
    e.close()
    assert all(t.done() for t in tickets)
    e.close()
    with pytest.raises(Closed, match="engine is closed"):
        e.submit("AAPL", "buy", 1, price=100)
    with pytest.raises(Closed):
        e.cancel(1)
    assert e.snapshot().next_seq == len(tickets) + 1
    assert e.stats().in_flight == 0 and not tickets[0].cancel()
    e._check()


@pytest.mark.parametrize("workers", [0, 1])
def test_a_journal_failure_stops_the_engine_and_fails_what_was_not_acknowledged(
    tmp_path, monkeypatch, workers
):
    e = TradingEngine(["X"], workers=workers, journal_path=tmp_path / "j")
    e.submit("X", "buy", 1, price=10).result(timeout=10)

    def disk_full() -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(e._journal, "flush", disk_full)
    if workers:  # the sequencer's flush fails: the ticket says so
        with pytest.raises(Closed, match="the journal failed"):
            e.submit("X", "buy", 1, price=11).result(timeout=10)
    else:  # the caller's flush fails: the caller sees it
        with pytest.raises(OSError, match="No space left"):
            e.submit("X", "buy", 1, price=11)
    with pytest.raises(Closed, match="engine stopped: the journal failed"):
        e.submit("X", "buy", 1, price=12)
    monkeypatch.undo()
    e.close()
    s = e.stats()
    assert (s.accepted, s.acknowledged, s.errors) == (1 + workers, 1, workers)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"symbols": "ABC"}, ConfigError, "not the string 'ABC'"),
        ({"symbols": []}, ConfigError, "symbols must be non-empty strings"),
        ({"symbols": ["A", ""]}, ConfigError, "symbols must be non-empty strings"),
        ({"symbols": ["A", "A"]}, ConfigError, "symbols must be distinct"),
        ({"symbols": None}, ConfigError, "symbols must be given"),
        ({"workers": 3}, ConfigError, "workers must be <= the number of symbols \\(2\\), got 3"),
        ({"workers": -1}, ConfigError, "workers must be >= 0"),
        ({"fsync_every": 0}, ConfigError, "fsync_every must be >= 1"),
        ({"queue_capacity": 0}, ConfigError, "queue_capacity must be >= 1"),
        ({"depth_levels": 1.5}, ConfigError, "depth_levels must be an integer"),
    ],
)
def test_bad_parameters_are_refused(tmp_path, kwargs, error, match):
    kwargs = {"symbols": ["A", "B"], **kwargs}
    with pytest.raises(error, match=match):
        TradingEngine(kwargs.pop("symbols"), journal_path=tmp_path / "j", **kwargs)
    assert Journal(tmp_path / "j").close() is None  # the journal was closed: no lock left


def test_bad_subscriptions_are_refused():
    with TradingEngine(["X"], workers=0) as e:
        with pytest.raises(ConfigError, match="callback must be callable"):
            e.subscribe(42)
        with pytest.raises(ConfigError, match="kinds must be some of"):
            e.subscribe(print, kinds=("quotes",))
        with pytest.raises(ConfigError, match="unknown symbol"):
            e.depth("Y")


# -- the journal ---------------------------------------------------------------------------------


def test_a_command_record_round_trips_and_a_bad_one_is_refused():
    cmd = Command(9, MODIFY, "B", 4, 0, 0, 77, 0)
    record = encode_command(cmd, 1)
    assert decode_command(record, ("A", "B"), 9) == (cmd, 1)
    with pytest.raises(IncompatibleError, match="expected seq 10"):
        decode_command(record, ("A", "B"), 10)
    with pytest.raises(IncompatibleError, match="symbol 1"):
        decode_command(record, ("A",), 9)
    with pytest.raises(IncompatibleError, match="a record of 36 bytes"):
        decode_command(record[:-1], ("A", "B"), 9)
    assert Command(1, SUBMIT, "A", 1, BUY, 1, 0, 0).price == 0  # 0: a market order


def test_recover_after_a_clean_close_equals_the_original_and_carries_on(tmp_path):
    path = tmp_path / "e.journal"
    options = {"keep_trades": True, "fsync_every": 64, "workers": 2}
    with TradingEngine(SYMBOLS, journal_path=path, **options) as e:
        tickets = run_flow(e, seed=21, n=1500)
        state = e.snapshot()
        assert e.stats().journal_records == len(tickets) + 1
    with TradingEngine.recover(path, **options) as again:
        again._check()
        assert again.snapshot() == state
        more = run_flow(again, seed=22, n=300)
        assert more[0].seq == len(tickets) + 1
        state = again.snapshot()
    symbols, commands = read_journal(path)
    with TradingEngine(symbols, workers=0, keep_trades=True) as fresh:
        feed(fresh, commands)
        assert fresh.snapshot() == state
    with TradingEngine(SYMBOLS, journal_path=path, workers=0, keep_trades=True) as reopened:
        assert reopened.snapshot() == state  # the constructor recovers too, as Journal does


def test_recover_starts_a_missing_journal_and_refuses_what_does_not_match(tmp_path):
    path = tmp_path / "e.journal"
    with pytest.raises(ConfigError, match="symbols must be given"):
        TradingEngine.recover(path)
    with TradingEngine.recover(path, symbols=["A", "B"], workers=0) as e:
        e.submit("B", "buy", 1, price=3)
    with pytest.raises(IncompatibleError, match="differ from the journal's"):
        TradingEngine.recover(path, symbols=["A"])
    with TradingEngine.recover(path, symbols=("A", "B")) as e:
        assert e.symbols == ("A", "B") and e.stats().replayed == 1
    other = tmp_path / "other.journal"
    with Journal(other) as j:
        j.append(b"not an engine")
    with pytest.raises(IncompatibleError, match="not a trading engine journal"):
        TradingEngine.recover(other)
    gapped = tmp_path / "gapped.journal"
    with TradingEngine(["A"], workers=0, journal_path=gapped) as e:
        e.submit("A", "buy", 1, price=1)
    with Journal(gapped) as j:
        j.append(encode_command(Command(3, SUBMIT, "A", 2, BUY, 1, 1, 0), 0))
    with pytest.raises(IncompatibleError, match="expected seq 2"):
        TradingEngine.recover(gapped)


def apply_to_book(book: OrderBook, c: Command) -> tuple[tuple[Trade, ...], str | None]:
    """What a bare reference book does with a command: (trades, reason refused)."""
    try:
        if c.kind == SUBMIT:
            side, tif = SIDE_NAMES[c.side], TIF_NAMES[c.tif]
            return tuple(book.submit(c.order_id, side, c.qty, c.price or None, tif)), None
        if c.kind == CANCEL:
            book.cancel(c.order_id)
            return (), None
        return tuple(book.modify(c.order_id, c.qty or None, c.price or None)), None
    except OrderRejected as exc:
        return (), str(exc)


def test_seeded_stress_acks_what_bare_books_do_through_reopens_and_keeps_invariants(tmp_path):
    rng, flow = random.Random(7), Flow(7)
    path = tmp_path / "e.journal"
    books = {s: OrderBook(s) for s in SYMBOLS}
    engine = TradingEngine(SYMBOLS, workers=1, journal_path=path, fsync_every=4)
    try:
        for _ in range(400):
            action = rng.choices(["flow", "reopen", "snapshot"], weights=[90, 3, 7])[0]
            if action == "flow":
                call, valid = flow.next()
                if not valid:
                    with pytest.raises(OrderRejected):
                        send(engine, call)
                    continue
                ack = send(engine, call).result(timeout=10)
                assert (ack.trades, ack.rejected) == apply_to_book(
                    books[ack.command.symbol], ack.command
                )
            elif action == "reopen":
                engine.close()
                engine = TradingEngine.recover(path, workers=rng.choice([0, 1, 3]))
            else:
                for book in engine.snapshot().symbols:
                    assert book.orders == tuple(books[book.symbol].orders())
            engine._check()
    finally:
        engine.close()
    assert engine.stats().replayed > 0 and engine.stats().book_rejects > 0


# -- SIGKILL at random moments --------------------------------------------------------------------


def run_child_until_killed(
    ctx: Any, path: Path, seed: int, workers: int, wait_ready: bool, delay_s: float
) -> list[str]:
    """Start the engine, SIGKILL it after ``delay_s`` (counted from "ready" if asked),
    and return the complete lines it sent."""
    lines: list[str] = []
    ready = threading.Event()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=engine_child.run, args=(str(path), seed, workers, sender))
    proc.start()
    sender.close()

    def read() -> None:
        try:
            while True:
                lines.append(receiver.recv_bytes().decode())
                ready.set()
        except (EOFError, OSError):  # the end, or a message cut by the kill
            pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if wait_ready:
        ready.wait(timeout=30)
    time.sleep(delay_s)
    proc.kill()
    proc.join()
    reader.join()
    receiver.close()
    assert proc.exitcode == -signal.SIGKILL, "the engine died on its own (its stderr says why)"
    return lines


@pytest.mark.slow
def test_sigkill_at_random_moments_never_loses_an_acknowledged_command(tmp_path):
    # Each round forks a process from a server that has imported the engine, so a
    # round costs its run time, not an interpreter start (numpy, numba: ~0.5 s).
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["rtkit.orderbook.engine", "engine_child"])
    rng = random.Random(20_241_122)
    path = tmp_path / "killed.journal"
    promised: dict[int, int] = {}  # seq -> order id, of every acknowledged command
    rounds, early_kills = 24, 0
    for round_no in range(rounds):
        workers = (0, 2)[round_no % 2]
        # Most kills land while commands flow; the others may land in recovery.
        wait_ready = rng.random() < 0.8
        delay_s = rng.uniform(0, 0.25) if wait_ready else rng.uniform(0, 0.05)
        lines = run_child_until_killed(ctx, path, round_no, workers, wait_ready, delay_s)
        early_kills += not lines
        acked = [tuple(map(int, line.split())) for line in lines[1:]]
        assert [seq for seq, _ in acked] == sorted({seq for seq, _ in acked}), "acks out of order"
        promised.update(acked)
        # Recover (this also starts a journal the child never got to create).
        with TradingEngine.recover(path, symbols=SYMBOLS, workers=0, keep_trades=True) as e:
            e._check()
            recovered = e.snapshot()
        symbols, commands = read_journal(path)
        assert symbols == SYMBOLS and [c.seq for c in commands] == list(range(1, len(commands) + 1))
        journalled = {c.seq: c.order_id for c in commands}
        lost = {seq for seq, oid in promised.items() if journalled.get(seq) != oid}
        assert not lost, f"acknowledged commands {sorted(lost)[:5]} are not in the journal"
        with TradingEngine(symbols, workers=0, keep_trades=True) as fresh:
            feed(fresh, commands)
            assert fresh.snapshot() == recovered, "recovery differs from a replay"
    assert len(promised) > 500 and early_kills < rounds // 2
    trades = sum(len(book.trades) for book in recovered.symbols)
    print(
        f"{rounds} kills ({early_kills} before the engine was ready), {len(commands)} commands "
        f"journalled, {len(promised)} acknowledged, {trades} trades, "
        f"{os.path.getsize(path)} bytes"
    )
