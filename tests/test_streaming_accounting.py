"""Pipeline accounting: every event ends delivered, dropped, filtered, late, lost or in flight.

Also the ingest buffer's sleep/wake protocol, a timed-out block push, run() input
checks, and a batch's age measured from its oldest event's ingest stamp.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np
import pytest

from rtkit.errors import ConfigError, QueueFull
from rtkit.streaming import Pipeline
from rtkit.streaming.threads import Worker
from rtkit.streaming.windows import BatchNode

TIMEOUT_S = 30.0  # a safety net against hangs, never an assertion about speed


pytestmark = pytest.mark.usefixtures("no_leaked_threads")  # tests/conftest.py


def _raises(x):
    raise RuntimeError("sink down")


def _balance(s):
    """published minus every place an event can end up: 0 when nothing vanished."""
    return s.published - (
        s.delivered + s.dropped + s.late + s.filtered + s.error_events + s.in_flight
    )


def _run(p, mode, n):
    if mode == "threads":
        return p.run(range(n), timeout_s=TIMEOUT_S)
    return p.simulate(np.arange(n, dtype=np.int64) * 1_000)


@pytest.mark.parametrize("mode", ["threads", "simulated"])
def test_events_lost_with_a_failed_batch_are_counted_one_by_one(mode):
    p = Pipeline().batch(4).sink(_raises)
    r = _run(p, mode, 8)
    p._check()
    s = r.stats()
    sink = s.stage("sink")
    assert (sink.received, sink.errors, sink.error_events) == (2, 2, 8)
    assert (s.published, s.delivered, s.errors, s.error_events, s.in_flight) == (8, 0, 2, 8, 0)
    assert _balance(s) == 0


@pytest.mark.parametrize("mode", ["threads", "simulated"])
def test_events_lost_with_a_failed_window_aggregate_are_counted_one_by_one(mode):
    def fragile(values):
        if 10 in values:
            raise ValueError("bad window")
        return sum(values)

    p = Pipeline().window(5, by="count").aggregate(fragile).filter(lambda w: w.value % 2 == 0)
    r = _run(p, mode, 23)
    p._check()
    s = r.stats()
    assert s.stage("aggregate").error_events == 5  # the window [10, 15)
    assert s.errors == 1
    # Windows summing to an odd number are filtered with all their events.
    odd = [w for w in range(0, 23, 5) if sum(range(w, min(w + 5, 23))) % 2 and w != 10]
    assert s.filtered == sum(min(w + 5, 23) - w for w in odd)
    assert s.stage("filter").filtered == len(odd)
    assert _balance(s) == 0 and s.published == 23


def test_events_refused_by_a_filter_after_a_batch_are_counted_as_events():
    p = Pipeline().batch(3).filter(lambda b: len(b) == 3).sink(lambda b: None)
    r = p.simulate(np.arange(10, dtype=np.int64))
    p._check()
    s = r.stats()
    assert (s.delivered, s.filtered, s.stage("filter").filtered) == (9, 1, 1)


def test_check_notices_an_event_that_vanished():
    p = Pipeline().batch(4).sink(lambda b: None)
    p.simulate(np.arange(8, dtype=np.int64))
    p._check()
    p._last_chains[0].terminal.delivered -= 1  # an event that vanished
    with pytest.raises(AssertionError):
        p._check()


def test_sliding_count_windows_hold_nothing_once_closed():
    r = Pipeline().window(5, 1, by="count").run(range(20), timeout_s=TIMEOUT_S)
    s = r.stats()
    assert s.in_flight == 0 and s.stage("window").depth == 0
    assert s.stage("window").high_water == 1  # each event is emitted as it arrives
    assert [w.value for w in r.outputs][-1] == [15, 16, 17, 18, 19]


def test_a_block_push_that_times_out_counts_an_offer_and_a_drop():
    gate = threading.Event()
    p = Pipeline(capacity=1, policy="block").sink(lambda x: gate.wait(TIMEOUT_S)).start()
    try:
        p.push(0)
        box = p._workers[0].mailbox
        deadline = time.perf_counter() + TIMEOUT_S
        while box.items and time.perf_counter() < deadline:  # the worker took 0: it is stuck
            time.sleep(0.001)
        p.push(1)  # fills the buffer
        with pytest.raises(QueueFull):
            p.push(2, timeout_s=0.01)
        p._check()
        assert (box.offered, box.dropped) == (3, 1)
    finally:
        gate.set()
        r = p.close(TIMEOUT_S)
    p._check()
    s = r.stats()
    assert (s.published, s.delivered, s.dropped) == (3, 2, 1)


def test_run_refuses_a_source_longer_than_its_arrivals_before_anything_runs():
    seen = []
    p = Pipeline().sink(seen.append)
    with pytest.raises(ConfigError, match="source has 10 items but arrivals_ns has 5"):
        p.run(range(10), arrivals_ns=np.arange(5) * 1_000)
    assert seen == [] and p.stats().published == 0 and not p._workers


# -- the ingest buffer's sleep and wake-up ----------------------------------------------


class _HookedDeque(deque):
    """A deque that runs ``hook`` inside the n-th ``len()`` the producer thread makes."""

    hook = None
    skip = 0
    producer: threading.Thread | None = None

    def __len__(self):
        n = deque.__len__(self)
        if self.hook is not None and threading.current_thread() is self.producer:
            if self.skip:
                self.skip -= 1
            else:
                hook, self.hook = self.hook, None
                hook()  # the consumer runs here; the producer then acts on the stale n
        return n


def test_a_producer_blocked_on_a_full_buffer_is_woken_not_left_to_its_safety_nap():
    # Interleaving: the producer finds the buffer full; before it sleeps, the
    # worker drains the buffer. The worker must still wake the producer.
    gate = threading.Event()
    got = []

    def sink(x):
        if x == 0:
            gate.wait(TIMEOUT_S)
        got.append(x)

    p = Pipeline(capacity=2, policy="block").sink(sink)
    w = Worker(p, 0, p._plan()[0])
    box = w.mailbox
    box.items = items = _HookedDeque()
    items.producer = threading.current_thread()
    woke = threading.Event()
    wake = box.wake

    def watched_wake():
        if threading.current_thread() is w.thread:  # the worker waking the producer
            woke.set()
        wake()

    box.wake = watched_wake
    naps = []
    wait = box._cv.wait

    def watched_wait(timeout=None):
        notified = wait(timeout)
        if threading.current_thread() is items.producer and not notified:
            naps.append(timeout)
        return notified

    box._cv.wait = watched_wait
    w.thread.start()
    try:
        box.put(0, 0)
        deadline = time.perf_counter() + TIMEOUT_S
        while deque.__len__(items) and time.perf_counter() < deadline:
            time.sleep(0.001)  # the worker holds 0 in the sink
        box.put(1, 1)
        box.put(2, 2)  # full

        def worker_runs():
            gate.set()
            end = time.perf_counter() + TIMEOUT_S
            while deque.__len__(items) and not woke.is_set() and time.perf_counter() < end:
                time.sleep(0.0005)

        items.hook, items.skip = worker_runs, 1  # the len() inside the wait for room
        box.put(3, 3)
    finally:
        gate.set()
        box.close()
        w.thread.join(TIMEOUT_S)
    assert got == [0, 1, 2, 3]
    assert naps == [], "the producer slept until its safety nap: a lost wake-up"
    box._check()


# -- a batch's age starts at its oldest event's ingest ----------------------------------


def test_batch_deadline_is_armed_from_the_oldest_ingest_stamp():
    class Ctx:
        t = 500

        def now(self):
            return self.t

        def spend(self, ns):
            pass

    node = BatchNode("b", Ctx(), size=10, flush_ns=100)
    node.next = None
    node.push([120], "x")  # ingested at 120, reaches the batch at 500
    assert node.deadline() == 120 + 100
    node._check()


def test_an_event_that_waited_in_a_backlog_does_not_wait_another_flush_interval():
    # Five events at t = 0; batches of 4; each sink call takes 50 µs. The fifth
    # event reaches the batch stage at 50 µs, already older than the 10 µs flush
    # interval: its batch is due at once, so it is done at 100 µs (two sink calls).
    p = Pipeline().batch(4, flush_ns=10_000).sink(lambda b: None, overhead_ns=50_000)
    r = p.simulate(np.zeros(5, dtype=np.int64))
    p._check()
    assert r.latency.max == 2 * 50_000
    assert r.stats().stage("batch").emitted == 2


def test_an_overdue_batch_still_takes_the_events_queued_before_it_was_due():
    # Under a backlog the worker keeps taking queued events that were ingested
    # before the batch's deadline, instead of emitting batches of one.
    gate = threading.Event()
    got = []

    def sink(batch):
        if batch[0] == 0:
            gate.wait(TIMEOUT_S)
        got.append(batch)

    p = Pipeline().batch(4, flush_ns=20_000_000).sink(sink).start()
    try:
        for x in range(7):
            p.push(x)
        time.sleep(0.05)  # 4, 5 and 6 are now overdue, queued behind the stuck sink
    finally:
        gate.set()
        r = p.close(TIMEOUT_S)
    assert got == [[0, 1, 2, 3], [4, 5, 6]]
    assert r.stats().stage("batch").emitted == 2


# -- the benchmark computes the same thing on both sides --------------------------------


def _bench_module():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_streaming.py"
    spec = importlib.util.spec_from_file_location("bench_streaming", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bench_inputs(bench, n: int) -> list:
    # not a multiple of the batch size: the last batch is short
    return [np.arange(i, min(i + bench.BATCH, n)) for i in range(0, n, bench.BATCH)]


def test_the_benchmark_rtkit_sinks_add_up_the_closed_form_total():
    bench = _bench_module()
    n = 3_000
    _, latency, single_total = bench.bench_rtkit(list(range(n)), n)
    _, _, batch_total = bench.bench_rtkit(_bench_inputs(bench, n), n)
    assert single_total == batch_total == bench.closed_form(n)
    assert bench.closed_form(n) == sum(x + 1 for x in range(n)) and latency.count == n


def test_the_benchmark_streamz_sink_adds_up_the_same_total():
    # streamz is a benchmark peer (the bench extra), not a test dependency.
    pytest.importorskip("streamz")
    bench = _bench_module()
    _, streamz_total = bench.bench_streamz(3_000)
    assert streamz_total == bench.closed_form(3_000)


def test_the_benchmark_measures_condition_wakeups_with_the_gil_free_and_held():
    bench = _bench_module()
    for busy in (False, True):
        h = bench.condition_wakeups(n=20, gap_s=0.0, busy=busy)
        assert h.count == 20 and h.min >= 0
