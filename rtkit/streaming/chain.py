"""One worker's run-time chain of stages: fused stateless runs and stateful nodes.

A pipeline definition (a list of :class:`~rtkit.streaming.operators.Operator`)
becomes, for each worker and each run, a :class:`Chain`:

* consecutive stateless operators become one :class:`StatelessNode` whose
  function is compiled by :func:`~rtkit.streaming.operators.fuse` (operator
  chaining); in a simulation each stateless operator gets its own node, so
  each is charged its own service time;
* ``batch`` and ``window`` operators become the nodes of
  :mod:`rtkit.streaming.windows`;
* a :class:`Terminal` at the end counts delivered events and records each
  one's end-to-end latency: ``ctx.now() - stamp``, taken after the sink.

The *context* ``ctx`` is where time comes from: :class:`ThreadContext`
reads the wall clock and ignores service times (real time passes);
:class:`SimContext` is a virtual cursor that service times move forward.

Invariant (``Chain._check``): every event (ingest stamp) taken from the
ingest buffer is delivered, filtered, late, lost with an item on which a
stage raised, or held in a batch or window not yet emitted
(``Chain.in_flight``). Counted in events, not items, so a failed batch of
64 is 64 lost events.
Runtime complexity: one fused call per stateless run per item; see
:mod:`rtkit.streaming.windows` for the stateful nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from rtkit.latency import LatencyHistogram
from rtkit.streaming.operators import SKIP, Operator, StageFailure, fuse
from rtkit.streaming.stats import StageStats
from rtkit.streaming.windows import BatchNode, CountWindowNode, TimeWindowNode, time_getter

__all__ = ["Chain", "SimContext", "StatelessNode", "Terminal", "ThreadContext", "warm_up"]

_LAT_FLUSH = 1 << 16


@lru_cache(maxsize=1)
def warm_up() -> None:
    """Load the histogram's compiled recorder now, once per process.

    The first ``record_many`` in a process loads (or compiles) a numba
    function, which holds the GIL for up to a second. Done lazily inside a
    worker, that pause would land in the middle of a measured run and stall
    the producer with it; callers do it before starting their threads.
    """
    LatencyHistogram().record_many(np.zeros(1, np.int64))


class ThreadContext:
    """Time for a worker thread: the clock; service times are not modelled."""

    __slots__ = ("now",)

    def __init__(self, now: Callable[[], int]) -> None:
        self.now = now

    def spend(self, ns: int) -> None:
        """Real work takes real time: nothing to add."""


class SimContext:
    """Time for a simulated worker: a cursor that each stage's service time advances.

    ``service="fixed"`` charges exactly the modelled time; ``"exponential"``
    draws each service time from an exponential law with that mean, from a
    seeded generator, so a run is the same on every machine.
    """

    __slots__ = ("exponential", "rng", "t")

    def __init__(self, rng: np.random.Generator, exponential: bool) -> None:
        self.t = 0
        self.rng = rng
        self.exponential = exponential

    def now(self) -> int:
        return self.t

    def spend(self, ns: int) -> None:
        if ns > 0:
            self.t += round(self.rng.exponential(ns)) if self.exponential else ns


class StatelessNode:
    """A run of stateless stages, fused into one call."""

    def __init__(self, ops: Sequence[Operator], ctx: Any) -> None:
        self.ops = list(ops)
        self.ctx = ctx
        self.fn, self.filtered = fuse(self.ops)
        self.errors = [0] * len(self.ops)
        self.last_error: list[str | None] = [None] * len(self.ops)
        # Events beyond the first that refused or failed items carried: the
        # fast path (one event per item) never touches these.
        self.filtered_extra = [0] * len(self.ops)
        self.error_extra = [0] * len(self.ops)
        self.received = 0
        self.next: Any = None
        # Only a simulation charges service time; a fused run of several stages
        # is never simulated (each stage gets its own node there).
        self.cost_ns = sum(op.cost_ns for op in self.ops)
        self.overhead_ns = sum(op.overhead_ns for op in self.ops)

    def push(self, stamps: list[int], value: Any) -> None:
        self.received += 1
        if self.cost_ns or self.overhead_ns:
            self.ctx.spend(self.overhead_ns + self.cost_ns * len(stamps))
        try:
            out = self.fn(value)
        except StageFailure as failure:
            self.fail(failure, len(stamps))
            return
        if out is not SKIP:
            self.next.push(stamps, out)
        elif len(stamps) != 1:
            self.filtered_extra[self.fn.refused[0]] += len(stamps) - 1

    def fail(self, failure: StageFailure, events: int = 1) -> None:
        """Count an item on which stage ``failure.index`` raised, and the events it carried."""
        self.errors[failure.index] += 1
        self.error_extra[failure.index] += events - 1
        self.last_error[failure.index] = repr(failure.error)

    def _check(self) -> None:
        received = self.received
        for k in range(len(self.ops)):
            assert self.filtered[k] + self.errors[k] <= received, "a stage lost count of items"
            received -= self.filtered[k] + self.errors[k]

    def stats(self) -> list[StageStats]:
        out = []
        received = self.received
        for k, op in enumerate(self.ops):
            emitted = received - self.filtered[k] - self.errors[k]
            out.append(
                StageStats(
                    op.name,
                    op.kind,
                    received=received,
                    emitted=emitted,
                    filtered=self.filtered[k],
                    errors=self.errors[k],
                    last_error=self.last_error[k],
                    filtered_events=self.filtered[k] + self.filtered_extra[k],
                    error_events=self.errors[k] + self.error_extra[k],
                )
            )
            received = emitted
        return out


class Terminal:
    """The end of a chain: counts delivered events, records their latency."""

    def __init__(self, ctx: Any, histogram: LatencyHistogram) -> None:
        self.ctx = ctx
        self.histogram = histogram
        self.pending: list[int] = []  # latencies not yet in the histogram
        self.delivered = 0

    def push(self, stamps: list[int], value: Any) -> None:
        now = self.ctx.now()
        self.delivered += len(stamps)
        self.pending += [now - s for s in stamps]
        if len(self.pending) >= _LAT_FLUSH:
            self.record()

    def record(self) -> None:
        """Move pending latencies into the histogram (one compiled call)."""
        if self.pending:
            self.histogram.record_many(np.array(self.pending, np.int64))
            self.pending.clear()


def _node(op: Operator, ctx: Any) -> Any:
    p = op.params
    cost = {"cost_ns": op.cost_ns, "overhead_ns": op.overhead_ns}
    if op.kind == "batch":
        return BatchNode(op.name, ctx, size=p["size"], flush_ns=p["flush_ns"], **cost)
    if p["by"] == "count":
        return CountWindowNode(op.name, ctx, size=p["size"], slide=p["slide"], **cost)
    return TimeWindowNode(
        op.name,
        ctx,
        size=p["size"],
        slide=p["slide"],
        time_of=time_getter(p["time_of"]),
        processing_time=p["time"] == "processing",
        max_out_of_order_ns=p["max_out_of_order_ns"],
        allowed_lateness_ns=p["allowed_lateness_ns"],
        on_late=p["on_late"],
        **cost,
    )


class Chain:
    """One worker's nodes, first to last, ending in a :class:`Terminal`.

    Example:
        >>> from rtkit.clock import VirtualClock
        >>> out = []
        >>> ops = [Operator("map", "sq", fn=lambda x: x * x),
        ...        Operator("sink", "out", fn=out.append)]
        >>> chain = Chain(ops, ThreadContext(VirtualClock().now_ns), LatencyHistogram())
        >>> for x in (1, 2, 3):
        ...     chain.push([0], x)
        >>> out, chain.terminal.delivered, len(chain.nodes)
        ([1, 4, 9], 3, 1)
    """

    def __init__(
        self, ops: Sequence[Operator], ctx: Any, histogram: LatencyHistogram, fuse_runs: bool = True
    ) -> None:
        self.ctx = ctx
        self.nodes: list[Any] = []
        run: list[Operator] = []
        for op in ops:
            if op.stateful:
                if run:
                    self.nodes.append(StatelessNode(run, ctx))
                    run = []
                self.nodes.append(_node(op, ctx))
            elif fuse_runs:
                run.append(op)
            else:
                self.nodes.append(StatelessNode([op], ctx))
        if run:
            self.nodes.append(StatelessNode(run, ctx))
        self.terminal = Terminal(ctx, histogram)
        for a, b in zip(self.nodes, [*self.nodes[1:], self.terminal], strict=True):
            a.next = b
        # Only these act on time alone; the rest are never asked (it costs a call).
        self.timed = [
            n
            for n in self.nodes
            if (isinstance(n, BatchNode) and n.flush_ns is not None)
            or (isinstance(n, TimeWindowNode) and n.processing_time)
        ]
        self.push = self.nodes[0].push if self.nodes else self.terminal.push

    def deadline(self) -> int | None:
        """The earliest time some node must act without new input (None: none)."""
        best = None
        for node in self.timed:
            d = node.deadline()
            if d is not None and (best is None or d < best):
                best = d
        return best

    def on_timer(self, now: int) -> None:
        """Let every node act on deadlines at or before ``now``."""
        for node in self.timed:
            node.on_timer(now)

    def flush(self) -> None:
        """End of input: emit every open batch and window, first node first."""
        for node in self.nodes:
            if hasattr(node, "flush"):
                node.flush()
        self.terminal.record()

    @property
    def in_flight(self) -> int:
        """Events held in batches and windows, not yet emitted."""
        return sum(n.events_held() for n in self.nodes if hasattr(n, "events_held"))

    def stats(self) -> list[StageStats]:
        """One record per operator, in pipeline order."""
        return [s for node in self.nodes for s in node.stats()]

    def _check(self, taken: int) -> None:
        """Assert every node's invariants and that each of ``taken`` events is accounted for."""
        for node in self.nodes:
            node._check()
        stages = self.stats()
        ended = (
            self.terminal.delivered
            + self.in_flight
            + sum(s.late + s.filtered_events + s.error_events for s in stages)
        )
        assert taken == ended, f"{taken} events taken, {ended} accounted for"
