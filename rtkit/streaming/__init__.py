"""Streaming: pub/sub with backpressure, pipelines, micro-batches and windows.

Seed 000 section 3 (lesson ``notebooks/03_realtime_streaming.ipynb``). The
seed's stream starts a goroutine per subscriber for every message
(S000-37: unbounded, unordered, no backpressure), feeds subscribers and its
workers by two unrelated paths (S000-38), spins its workers (S000-39), lets
several workers drain one stream (S000-40), never measures latency
(S000-42), never stops (S000-44) and prints every message (S000-45).
rtkit's streams keep order, bound every buffer with a named policy, sleep
when idle, measure every event and shut down cleanly.

Two components:

* :class:`Stream`: publish/subscribe. Each subscriber has one bounded
  buffer, one delivery thread (so its callback sees items one at a time, in
  publish order) and a slow-consumer policy: ``"block"`` (lossless
  backpressure), ``"drop_newest"``, ``"drop_oldest"`` or ``"error"``. A
  callback that raises is counted and the stream goes on.
* :class:`Pipeline`: stages ``map``, ``filter``, ``batch`` (closed by size
  or age: micro-batching), ``window`` (tumbling or sliding, by time or
  count, event or processing time, with watermarks and allowed lateness),
  ``aggregate`` (:func:`count`, :func:`total`, :func:`mean`,
  :func:`vwap`, :func:`ohlc`) and ``sink``. One definition runs on worker
  threads (:meth:`Pipeline.run`, measured) or as a discrete-event
  simulation (:meth:`Pipeline.simulate`, virtual time, deterministic for a
  seed). Every delivered event's end-to-end latency lands in a
  :class:`~rtkit.latency.LatencyHistogram`; :meth:`Pipeline.stats` counts
  in, out, filtered, dropped, late and errors per stage.

Full-buffer policies, for :meth:`Stream.publish` and :meth:`Pipeline.push`:

================= =================================== ======================
policy            when the buffer is full             publish / push
================= =================================== ======================
``block``         the publisher waits for room        returns normally
``drop_newest``   the offered item is discarded       not counted / ``False``
``drop_oldest``   the oldest queued item is discarded counts it as accepted
``error``         nothing is queued                   raises ``QueueFull``
================= =================================== ======================

Every discard is counted (``dropped``), so once the stream or pipeline is
closed ``delivered + dropped == published`` for each subscriber, and for a
pipeline once filtered, late and failed events are added too.

Worked example: one-second OHLC bars and VWAP of the zero-intelligence flow,
simulated (deterministic), then checked against the vectorised reference:

    >>> import numpy as np
    >>> from rtkit.streaming import Pipeline, bars, ohlc, ticks, vwap, zi_trade_tape
    >>> tape = zi_trade_tape(3_000, rate_per_s=500, seed=7)     # ~6 s of trading
    >>> p = (Pipeline()
    ...      .window(1_000_000_000)                             # 1 s tumbling, event time
    ...      .aggregate(ohlc()))
    >>> result = p.simulate(tape["arrival_ns"], ticks(tape))
    >>> bar = result.outputs[0]
    >>> bar.start, bar.value
    (0, OHLC(open=10012, high=10012, low=9918, close=9922, volume=467))
    >>> ref = bars(tape["t_ns"], tape["price"], tape["qty"], 1_000_000_000)
    >>> [w.value.close for w in result.outputs] == ref["close"].tolist()
    True

The micro-batching trade-off, simulated: a sink that costs 3 µs per call
plus 100 ns per event, fed 400,000 events per second (one every 2.5 µs):

    >>> from rtkit.loadgen import constant_rate
    >>> arrivals = constant_rate(400_000, 20_000)
    >>> for size in (1, 16, 256):
    ...     p = Pipeline().batch(size, flush_ns=1_000_000).sink(
    ...         lambda batch: None, overhead_ns=3_000, cost_ns=100)
    ...     r = p.simulate(arrivals)
    ...     print(size, r.latency.percentile(50), r.latency.percentile(99), round(r.throughput))
    1 6004735 11886591 322581
    16 22111 42111 399983
    256 348671 661503 392725

One event per call (3.1 µs) cannot keep up with one every 2.5 µs: the
buffer fills and latency grows to milliseconds. Batches of 16 pay the 3 µs
once per 16 events and keep up, at about 20 µs (the wait for 15 others).
Batches of 256 keep up too, but every event waits for 255 others. Measured
on threads, the same definition: ``p.run(range(100_000))`` (timings differ
from run to run).
"""

from __future__ import annotations

from rtkit.streaming.aggregates import (
    BAR_DTYPE,
    OHLC,
    Aggregate,
    bars,
    count,
    mean,
    ohlc,
    total,
    vwap,
)
from rtkit.streaming.ingest import POLICIES
from rtkit.streaming.marketdata import TAPE_DTYPE, Tick, ticks, trade_tape, zi_trade_tape
from rtkit.streaming.pipeline import Pipeline, PipelineResult, partition
from rtkit.streaming.stats import PipelineStats, StageStats, StreamStats, SubscriberStats
from rtkit.streaming.stream import Stream
from rtkit.streaming.windows import Window

__all__ = [
    "BAR_DTYPE",
    "OHLC",
    "POLICIES",
    "TAPE_DTYPE",
    "Aggregate",
    "Pipeline",
    "PipelineResult",
    "PipelineStats",
    "StageStats",
    "Stream",
    "StreamStats",
    "SubscriberStats",
    "Tick",
    "Window",
    "bars",
    "count",
    "mean",
    "ohlc",
    "partition",
    "ticks",
    "total",
    "trade_tape",
    "vwap",
    "zi_trade_tape",
]
