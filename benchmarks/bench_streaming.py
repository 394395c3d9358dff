"""Benchmark: rtkit's streaming Pipeline against streamz, side by side in one run.

Same work on both sides: every event goes through ``map(f)`` then
``sink(g)``, with ``f = x + 1`` and ``g`` adding what it gets to a running
total. Both totals are checked against the closed form ``sum(x + 1)`` (and
printed), so the two sides are seen to compute the same thing.

* streamz: ``Stream().map(f).sink(g)``, one ``emit`` per event, in the
  calling thread (synchronous, no queue, no latency measurement).
* rtkit, single events: ``Pipeline().map(f).sink(g).run(source)``: a
  producer (the caller) and a worker thread with a bounded ingest buffer
  (policy ``block``) between them; each event is stamped at ingest and its
  end-to-end latency recorded. Thread start and join are inside the timing.
* rtkit, micro-batches: the same pipeline fed NumPy arrays of 1,024 events
  (``f`` is then ``a + 1`` on the array); events per second = arrays x 1,024.

Then each rtkit pipeline is run again, open loop, at half the maximum rate
it just measured (``arrivals_ns``; latency from each event's intended time,
so coordinated omission is not hidden), and the end-to-end latency
percentiles are printed beside the throughput.

Why single events at half the maximum rate can show a millisecond-scale
p99: at that rate the worker often empties its buffer and goes to sleep on
a condition variable, and the next event has to wake it. A woken thread
then needs two things: a core, which the operating system's scheduler gives
it (on a loaded 2-core machine, sometimes milliseconds later), and the GIL,
which the producer holds while it runs its loop and gives up only when it
sleeps or when the interpreter's switch interval (``sys.getswitchinterval()``,
5 ms by default) forces it to. The benchmark measures both as peer
baselines in the same run, with no pipeline at all: a bare
``threading.Condition`` wake-up (the notifier then waits, so the GIL is
free), and the same wake-up while the notifier keeps running Python code
(the waiter must also wait for the GIL).

One run of each (timings on a shared machine are noisy: read the ratios,
not the third digit). Not part of the test suite; ``make bench`` runs it.
Usage:

    python benchmarks/bench_streaming.py [--n 1000000]
"""

from __future__ import annotations

import argparse
import platform
import sys
import threading
import time
from importlib.metadata import version

import numpy as np

from rtkit.latency import LatencyHistogram
from rtkit.loadgen import constant_rate
from rtkit.streaming import Pipeline

try:
    from streamz import Stream as StreamzStream
except ImportError:  # optional peer: pip install -e '.[bench]'
    StreamzStream = None

BATCH = 1024
TIMEOUT_S = 600.0


def f(x):
    return x + 1


class Total:
    """The sink ``g``: adds up what reaches it (a number, or a NumPy array's sum)."""

    def __init__(self) -> None:
        self.value = 0

    def add(self, y) -> None:
        self.value += y

    def add_array(self, a) -> None:
        self.value += int(a.sum())


def closed_form(n: int) -> int:
    """``sum(f(x) for x in range(n))`` = ``n (n + 1) / 2``: what every sink must add up to."""
    return n * (n + 1) // 2


def bench_streamz(n: int) -> tuple[float, int]:
    """Events per second of ``Stream().map(f).sink(g)``, and the total ``g`` added up."""
    acc = Total()
    s = StreamzStream()
    s.map(f).sink(acc.add)
    emit = s.emit
    t0 = time.perf_counter()
    for x in range(n):
        emit(x)
    return n / (time.perf_counter() - t0), acc.value


def bench_rtkit(source, events: int, arrivals_ns=None):
    """Events per second, end-to-end latency and the sink's total of one rtkit run.

    ``source`` holds ints (one event each) or NumPy arrays (one event per
    element); ``events`` is how many events that is in all.
    """
    acc = Total()
    arrays = bool(source) and isinstance(source[0], np.ndarray)
    p = Pipeline(name="bench").map(f).sink(acc.add_array if arrays else acc.add)
    result = p.run(source, arrivals_ns=arrivals_ns, timeout_s=TIMEOUT_S)
    p._check()
    assert result.delivered == len(source), "the benchmark lost events"
    return events * 1e9 / result.elapsed_ns, result.latency, acc.value


def condition_wakeups(
    n: int = 5_000, gap_s: float = 0.0002, busy: bool = False
) -> LatencyHistogram:
    """Latency of a ``threading.Condition`` wake-up: notify -> the waiter running.

    One waiter thread sleeps on the condition; the caller notifies it ``n``
    times, ``gap_s`` apart (each after the previous wake-up was seen), and
    the waiter records how long after the notify it ran. With ``busy`` the
    caller keeps running Python code after each notify until the waiter has
    run, as a producer does: the waiter then also waits for the GIL.
    """
    cv = threading.Condition()
    state = {"stamp": 0, "seq": 0, "seen": 0}
    lat: list[int] = []
    now = time.perf_counter_ns

    def waiter() -> None:
        with cv:
            while state["seen"] < n:
                while state["seq"] == state["seen"]:
                    cv.wait()
                lat.append(now() - state["stamp"])
                state["seen"] += 1
                cv.notify_all()

    t = threading.Thread(target=waiter, name="bench-waiter", daemon=True)
    t.start()
    for _ in range(n):
        time.sleep(gap_s)
        with cv:
            state["seq"] += 1
            state["stamp"] = now()
            cv.notify_all()
            if not busy:
                while state["seen"] < state["seq"]:
                    cv.wait()
        while busy and state["seen"] < state["seq"]:
            pass  # a producer's loop: holds the GIL until the interpreter makes it yield
    t.join(TIMEOUT_S)
    h = LatencyHistogram()
    h.record_many(np.array(lat, np.int64))
    return h


def fmt_latency(h) -> str:
    p = h.percentiles((50, 99, 99.9))
    return (
        f"p50 {p[50] / 1e3:9.1f} µs   p99 {p[99] / 1e3:9.1f} µs   "
        f"p99.9 {p[99.9] / 1e3:9.1f} µs   max {h.max / 1e3:9.1f} µs"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="events per contender")
    args = parser.parse_args()
    n = args.n
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    if StreamzStream is None:
        print("streamz is not installed: pip install -e '.[bench]'")
        return 1
    print(f"streamz {version('streamz')}; {n:,} events per contender")
    print("work: map(x + 1) -> sink(add to a running total)")
    print()

    events = list(range(n))
    batches = [np.arange(i, min(i + BATCH, n), dtype=np.int64) for i in range(0, n, BATCH)]
    n_batches = len(batches)

    want = closed_form(n)
    peer, peer_total = bench_streamz(n)
    single, _, single_total = bench_rtkit(events, n)
    batched, _, batched_total = bench_rtkit(batches, n)
    assert peer_total == single_total == batched_total == want, "the contenders disagree"

    half = single / 2
    _, lat_single, total = bench_rtkit(events[: n // 2], n // 2, constant_rate(half, n // 2))
    assert total == closed_form(n // 2), "the open-loop run computed something else"
    half_b = batched / BATCH / 2
    # About a second of batches (the same arrays, offered again), so the
    # percentiles rest on more than a few milliseconds of traffic.
    m = int(min(max(half_b, n_batches // 2, 1), 500_000))
    again = [batches[i % n_batches] for i in range(m)]
    n_again = sum(a.size for a in again)
    _, lat_batch, total = bench_rtkit(again, n_again, constant_rate(half_b, m))
    want_again = sum(int(a.sum()) + a.size for a in again)  # the same arrays, summed again
    assert total == want_again, "the open-loop batch run computed something else"
    wakeup = condition_wakeups()
    wakeup_busy = condition_wakeups(200, busy=True)

    w = 42
    print(f"{'contender':<{w}} {'events/s':>14} {'vs streamz':>11}")
    print(f"{'streamz Stream().map(f).sink(g)':<{w}} {peer:>14,.0f} {1:>10.2f}x")
    print(f"{'rtkit Pipeline, single events':<{w}} {single:>14,.0f} {single / peer:>10.2f}x")
    label = f"rtkit Pipeline, numpy batches of {BATCH:,}"
    print(f"{label:<{w}} {batched:>14,.0f} {batched / peer:>10.2f}x")
    print(
        f"same work: every sink total = sum(x + 1) = {want:,} "
        f"(streamz {peer_total:,}, single {single_total:,}, batches {batched_total:,})"
    )
    print()
    print("end-to-end latency (ingest stamp = intended time -> end of sink), open loop")
    print(f"  single events at {half:,.0f} events/s (half the max): {fmt_latency(lat_single)}")
    print(
        f"  batches at {half_b * BATCH:,.0f} events/s ({half_b:,.0f} batches/s, half the max): "
        f"{fmt_latency(lat_batch)}"
    )
    print("peer baselines, no pipeline: a threading.Condition wake-up (notify -> waiter runs)")
    print(f"  notifier then waits (GIL free):  {fmt_latency(wakeup)}")
    print(f"  notifier keeps running Python:   {fmt_latency(wakeup_busy)}")
    print(
        f"  (switch interval {sys.getswitchinterval() * 1e3:g} ms. At half the max rate the worker"
        " often sleeps on its\n   condition and the next event must wake it; the woken worker"
        " waits for a core (the\n   scheduler, on a loaded 2-core machine) and for the GIL,"
        " which the producer's loop\n   holds until it sleeps or the switch interval expires:"
        " compare the tails above)"
    )
    print()
    ok1, ok2 = single >= 2 * peer, batched >= 20 * peer
    print(
        f"target single events >= 2x streamz:  {single / peer:.2f}x  {'met' if ok1 else 'MISSED'}"
    )
    print(
        f"target batches >= 20x streamz:       {batched / peer:.2f}x  {'met' if ok2 else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
