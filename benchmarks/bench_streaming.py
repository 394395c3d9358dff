"""Benchmark: rtkit's streaming Pipeline against streamz, side by side in one run.

Same work on both sides: every event goes through ``map(f)`` then
``sink(g)``, with ``f = x + 1`` and ``g`` a function that does nothing.

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

One run of each (timings on a shared machine are noisy: read the ratios,
not the third digit). Not part of the test suite; ``make bench`` runs it.
Usage:

    python benchmarks/bench_streaming.py [--n 1000000]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from importlib.metadata import version

import numpy as np

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


def g(x):
    return None


def bench_streamz(n: int) -> float:
    s = StreamzStream()
    s.map(f).sink(g)
    emit = s.emit
    t0 = time.perf_counter()
    for x in range(n):
        emit(x)
    return n / (time.perf_counter() - t0)


def bench_rtkit(source, events_per_item: int, arrivals_ns=None):
    p = Pipeline(name="bench").map(f).sink(g)
    result = p.run(source, arrivals_ns=arrivals_ns, timeout_s=TIMEOUT_S)
    assert result.delivered == len(source), "the benchmark lost events"
    return result.throughput * events_per_item, result.latency


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
    print(f"streamz {version('streamz')}; {n:,} events per contender; map(x + 1) -> sink(no-op)")
    print()

    events = list(range(n))
    batches = [np.arange(i, i + BATCH, dtype=np.int64) for i in range(0, n, BATCH)]
    n_batches = len(batches)

    peer = bench_streamz(n)
    single, _ = bench_rtkit(events, 1)
    batched, _ = bench_rtkit(batches, BATCH)

    half = single / 2
    _, lat_single = bench_rtkit(events[: n // 2], 1, constant_rate(half, n // 2))
    half_b = batched / BATCH / 2
    # About a second of batches (the same arrays, offered again), so the
    # percentiles rest on more than a few milliseconds of traffic.
    m = int(min(max(half_b, n_batches // 2, 1), 500_000))
    again = [batches[i % n_batches] for i in range(m)]
    _, lat_batch = bench_rtkit(again, BATCH, constant_rate(half_b, m))

    w = 42
    print(f"{'contender':<{w}} {'events/s':>14} {'vs streamz':>11}")
    print(f"{'streamz Stream().map(f).sink(g)':<{w}} {peer:>14,.0f} {1:>10.2f}x")
    print(f"{'rtkit Pipeline, single events':<{w}} {single:>14,.0f} {single / peer:>10.2f}x")
    label = f"rtkit Pipeline, numpy batches of {BATCH:,}"
    print(f"{label:<{w}} {batched:>14,.0f} {batched / peer:>10.2f}x")
    print()
    print("end-to-end latency (ingest stamp = intended time -> end of sink), open loop")
    print(f"  single events at {half:,.0f} events/s (half the max): {fmt_latency(lat_single)}")
    print(
        f"  batches at {half_b * BATCH:,.0f} events/s ({half_b:,.0f} batches/s, half the max): "
        f"{fmt_latency(lat_batch)}"
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
