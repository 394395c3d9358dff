"""Worker threads of a pipeline, and the producers that feed them.

Each :class:`Worker` owns one ingest :class:`~rtkit.streaming.ingest.Mailbox`
(its single consumer: order is kept per worker, S000-40), one
:class:`~rtkit.streaming.chain.Chain` of stages and one
:class:`~rtkit.latency.LatencyHistogram`. Its loop pops ``(stamp, event)``
pairs, runs them through the chain and records ``now - stamp`` after the
sink. When the buffer is empty it publishes its counters, then sleeps on the
mailbox's condition until an event arrives or its next flush deadline comes
(never a spin, S000-39). When the mailbox is closed *and* empty it emits
every open batch and window and returns, so the pipeline can join it
(S000-44).

A batch (or processing-time window) that falls due while events are queued
still takes the queued events stamped before its deadline: they arrived
while it was open. So under a backlog the worker does not degenerate into
batches of one (each paying the full per-call cost), and a batch holds what
arrived within its interval, as in the simulation.

The common case, a pipeline of stateless stages only (``map``, ``filter``,
``aggregate``, ``sink``), takes a fast path: one fused call per event
(:func:`~rtkit.streaming.operators.fuse`), the latency appended to a list
(moved into the histogram in compiled chunks), counters kept in local
variables and published every few thousand events and whenever idle.

:func:`feed` is the producer's hot loop (the caller's thread): no lock per
event, one clock read for the stamp; :func:`feed_paced` offers events at
their intended times instead (open loop).

Runtime complexity: O(1) per event plus the stages' own work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from rtkit.clock import NS_PER_S
from rtkit.errors import ConfigError
from rtkit.latency import LatencyHistogram
from rtkit.streaming.chain import Chain, StatelessNode, ThreadContext
from rtkit.streaming.ingest import Mailbox
from rtkit.streaming.operators import SKIP, Operator, StageFailure

if TYPE_CHECKING:
    from rtkit.streaming.pipeline import Pipeline

__all__ = ["Worker", "feed", "feed_paced"]

_SYNC_EVERY = 1 << 12  # events between publishing a worker's counters


class Worker:
    """One worker thread: its mailbox, its chain, its latency histogram."""

    def __init__(self, pipeline: Pipeline, index: int, ops: list[Operator]) -> None:
        self.mailbox = Mailbox(pipeline.capacity, pipeline.policy)
        self.histogram = LatencyHistogram()
        self.now = pipeline.clock.now_ns
        self.chain = Chain(ops, ThreadContext(self.now), self.histogram)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(
            target=self._main, name=f"rtkit-{pipeline.name}-{index}", daemon=True
        )

    def _main(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # pragma: no cover - a bug; reported by close()
            self.failure = exc
            self.mailbox.close()

    def _loop(self) -> None:
        box, chain, now = self.mailbox, self.chain, self.now
        items = box.items
        popleft = items.popleft
        low = box.low_water
        node = chain.nodes[0]
        # The fast path: one fused run of stateless stages, nothing stateful.
        fast = len(chain.nodes) == 1 and isinstance(node, StatelessNode)
        fn = node.fn if fast else None
        terminal = chain.terminal
        pending = terminal.pending
        record = pending.append
        push = chain.push
        timed = bool(chain.timed)
        taken = delivered = 0
        while True:
            try:
                t, x = popleft()
            except IndexError:
                box.taken = taken
                if fast:
                    node.received = taken
                    terminal.delivered = delivered
                # Latencies stay in the list until it is long or the run ends:
                # moving them costs ~15 µs a call, which an idle worker would
                # otherwise pay before every sleep, at low rates once per event.
                timeout_s = None
                if timed:
                    deadline = chain.deadline()
                    if deadline is not None:
                        wait_ns = deadline - now()
                        if wait_ns <= 0:
                            chain.on_timer(now())
                            continue
                        timeout_s = wait_ns / NS_PER_S
                if box.closed and not items:
                    break
                box.sleep(timeout_s)
                continue
            taken += 1
            if box.producer_waiting and len(items) <= low:
                box.wake()
            if fast:
                try:
                    out = fn(x)  # type: ignore[misc]
                except StageFailure as failure:
                    node.fail(failure)
                    continue
                if out is not SKIP:
                    record(now() - t)
                    delivered += 1
            else:
                push([t], x)
                if timed:
                    deadline = chain.deadline()
                    if deadline is not None and now() >= deadline:
                        try:  # due, unless the next queued event came before the deadline
                            due = items[0][0] >= deadline
                        except IndexError:
                            due = True
                        if due:
                            chain.on_timer(now())
            if not taken & (_SYNC_EVERY - 1):
                box.taken = taken
                if fast:
                    node.received = taken
                    terminal.delivered = delivered
                if len(pending) >= 1 << 16:
                    terminal.record()
        box.taken = taken
        if fast:
            node.received = taken
            terminal.delivered = delivered
        chain.flush()


def feed(
    source: Iterable[Any],
    boxes: list[Mailbox],
    route: Callable[[Any], int] | None,
    now: Callable[[], int],
) -> None:
    """Offer every event of ``source`` as fast as the workers take them, stamped now.

    With one worker (``route`` is None) this is the producer's hot loop: no
    lock and no call per event beyond the clock read; ``box.make_room``
    applies the policy only when the buffer is full. With several, each
    event goes to ``boxes[route(event)]`` through :meth:`Mailbox.put`.
    """
    if route is not None:
        for x in source:
            boxes[route(x)].put(now(), x)
        return
    box = boxes[0]
    items, capacity = box.items, box.capacity
    append, make_room = items.append, box.make_room
    accepted, high = 0, box.high_water
    try:
        for x in source:
            n = len(items)
            if n >= capacity:
                if not make_room():
                    continue
                n = len(items)
            append((now(), x))
            accepted += 1
            if n >= high:
                high = n + 1
            if box.consumer_waiting:
                box.wake()
    finally:
        box.offered += accepted
        box.high_water = max(high, box.high_water)


def feed_paced(
    source: Iterable[Any],
    arrivals: np.ndarray,
    boxes: list[Mailbox],
    route: Callable[[Any], int] | None,
    now: Callable[[], int],
) -> None:
    """Offer event ``k`` at ``arrivals[k]`` (relative to the first), stamped with that time.

    Open loop: the producer sleeps until an event is due (sleeping releases
    the GIL to the workers; spinning would hold it) and, when it is behind
    schedule, offers at once. The operating system wakes a sleeper late
    (tens of µs; milliseconds on a loaded machine): that lateness is in the
    recorded latency, as it would be for a real feed handler.
    """
    offsets = (arrivals - arrivals[0]).tolist() if arrivals.size else []
    n = len(offsets)
    sleep, base = time.sleep, now()
    if route is not None:
        for k, x in enumerate(source):
            if k >= n:  # checked as we go: the source may be a generator
                raise ConfigError(f"source has more items than arrivals_ns ({n})")
            intended = base + offsets[k]
            ahead = intended - now()
            if ahead > 0:
                sleep(ahead / NS_PER_S)
            boxes[route(x)].put(intended, x)
        return
    # One worker: the same inline fast path as feed(), plus the wait.
    box = boxes[0]
    items, capacity = box.items, box.capacity
    append, make_room = items.append, box.make_room
    accepted, high = 0, box.high_water
    try:
        for k, x in enumerate(source):
            if k >= n:
                raise ConfigError(f"source has more items than arrivals_ns ({n})")
            intended = base + offsets[k]
            ahead = intended - now()
            if ahead > 0:
                sleep(ahead / NS_PER_S)
            m = len(items)
            if m >= capacity:
                if not make_room():
                    continue
                m = len(items)
            append((intended, x))
            accepted += 1
            if m >= high:
                high = m + 1
            if box.consumer_waiting:
                box.wake()
    finally:
        box.offered += accepted
        box.high_water = max(high, box.high_water)
