"""Stateful stages: micro-batches and windows, with watermarks and lateness.

These are the run-time state of ``batch`` and ``window`` operators; a
pipeline builds one per worker per run. Each is a *node*: it receives
``push(stamps, value)`` (``stamps`` are the ingest times of the events
the value carries, so end-to-end latency can be taken at the sink), emits
to ``self.next``, and reports ``deadline()`` when it must act on time alone.

**Batch** (micro-batching): collects events and emits a list when it holds
``size`` of them *or* when its oldest has waited ``flush_ns`` (processing
time), whichever comes first. The age is counted from the oldest event's
*ingest stamp*, not from when the worker reached it: an event that already
waited in a backlog does not wait another ``flush_ns`` in its batch (the
remedy of S000-5: arm the timer at the batch's first event). Batching
amortises a fixed per-call cost over many events and makes each event wait
for its batch: the trade-off lesson 03 measures.

**Time windows** (event time or processing time): tumbling (``slide ==
size``) or sliding; window ``k`` covers ``[k * slide, k * slide + size)``.
In event time the *watermark* is ``max event time seen -
max_out_of_order_ns``: the promise that no event older than it is still
coming. A window fires when the watermark reaches its end, and is kept
``allowed_lateness_ns`` longer: a late event that still finds its window
is added and the window fires again (an *update*, ``update > 0``). An event
whose windows are all gone is *late*: counted, and handed to ``on_late``
(a side output) if one is given. In processing time a window fires when the
worker's clock passes its end, and nothing is late.

**Count windows**: the last ``size`` events, emitted every ``slide``
events (tumbling when ``slide == size``).

At close every open batch and window is emitted, so nothing accepted is
lost silently. Each node counts what it holds in items (``held``, reported
as ``depth``) and in events not yet emitted (:meth:`events_held`, the
ingest stamps it still carries). Invariants (``_check``): the items held
equal the sum over open batches or windows; a batch's received items are
emitted or held; a window fires no earlier than the watermark reaches its
end. Runtime complexity: O(1) per event for batches and count
windows (plus O(size) per emission); O(size / slide + log w) per event for
time windows (w open windows), plus a sort of the window at emission when
its events arrived out of order.

Example:
    >>> out = []
    >>> class Sink:
    ...     def push(self, stamps, value): out.append(value)
    >>> class Ctx:
    ...     def now(self): return 0
    ...     def spend(self, ns): pass
    >>> w = TimeWindowNode("w", Ctx(), size=10, slide=10, time_of=lambda e: e)
    >>> w.next = Sink()
    >>> for t in (1, 5, 12, 3, 25):
    ...     w.push([0], t)
    >>> [(x.start, x.value) for x in out]
    [(0, [1, 5]), (10, [12])]
    >>> w.late   # 3 came after window [0, 10) had fired (no allowed lateness)
    1
"""

from __future__ import annotations

import heapq
import operator
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rtkit.errors import ConfigError, check_choice, check_int
from rtkit.streaming.stats import StageStats

__all__ = ["BatchNode", "CountWindowNode", "TimeWindowNode", "Window", "time_getter"]

_NEVER = -(2**63)


@dataclass(frozen=True, slots=True)
class Window:
    """One firing of a window: its bounds, its contents or aggregate, its size.

    ``start`` and ``end`` are nanoseconds for time windows (``[start, end)``)
    and event sequence numbers for count windows. ``value`` is the list of
    events (in event-time order for time windows) or, after an ``aggregate``
    stage, the aggregate. ``update`` is 0 for the first firing and k for the
    k-th re-firing caused by late events.
    """

    start: int
    end: int
    value: Any
    count: int
    update: int = 0


def time_getter(time_of: str | int | Callable[[Any], int]) -> Callable[[Any], int]:
    """A function reading an event's time: a field name, a tuple index or a callable.

    Example:
        >>> time_getter("t_ns")({"t_ns": 5}), time_getter(0)((7, "x"))
        (5, 7)
    """
    if callable(time_of):
        return time_of
    if isinstance(time_of, int) and not isinstance(time_of, bool):
        return operator.itemgetter(time_of)
    if isinstance(time_of, str):
        attr = operator.attrgetter(time_of)

        def get(event: Any) -> int:
            try:
                return attr(event)
            except AttributeError:
                return event[time_of]

        return get
    raise ConfigError(f"time_of must be a field name, an index or a callable, got {time_of!r}")


class _Node:
    """What batch and window nodes share: counters, a name, a context, a successor."""

    kind = ""

    def __init__(self, name: str, ctx: Any, cost_ns: int = 0, overhead_ns: int = 0) -> None:
        self.name = name
        self.ctx = ctx
        self.next: Any = None
        self.cost_ns = cost_ns
        self.overhead_ns = overhead_ns
        self.received = 0
        self.emitted = 0
        self.late = 0  # events (ingest stamps) whose windows were all gone
        self.errors = 0
        self.error_events = 0
        self.held = 0
        self.high_water = 0
        self.last_error: str | None = None

    def deadline(self) -> int | None:
        """When this node must act even if no event comes (None: never)."""
        return None

    def on_timer(self, now: int) -> None:
        """Act on every deadline at or before ``now``."""

    def events_held(self) -> int:
        """Events (ingest stamps) held here and not yet emitted."""
        return 0

    def stats(self) -> list[StageStats]:
        return [
            StageStats(
                self.name,
                self.kind,
                received=self.received,
                emitted=self.emitted,
                late=self.late,
                errors=self.errors,
                depth=self.held,
                high_water=self.high_water,
                last_error=self.last_error,
                error_events=self.error_events,
            )
        ]

    def _hold(self, n: int) -> None:
        self.held += n
        if self.held > self.high_water:
            self.high_water = self.held

    def _error(self, exc: BaseException, events: int) -> None:
        """Count an item lost to ``exc`` and the ``events`` it carried."""
        self.errors += 1
        self.error_events += events
        self.last_error = repr(exc)


class BatchNode(_Node):
    """Micro-batches closed by ``size`` or by ``flush_ns`` of age, whichever first."""

    kind = "batch"

    def __init__(self, name: str, ctx: Any, *, size: int, flush_ns: int | None, **cost: int):
        super().__init__(name, ctx, **cost)
        self.size = size
        self.flush_ns = flush_ns
        self.values: list[Any] = []
        self.stamps: list[int] = []
        self.opened_ns = 0  # the oldest ingest stamp in the open batch
        self.passed = 0  # items emitted inside batches

    def push(self, stamps: list[int], value: Any) -> None:
        self.received += 1
        self.ctx.spend(self.cost_ns)
        # The batch's age runs from its oldest event's ingest, not from now.
        oldest = min(stamps) if stamps else self.ctx.now()
        if not self.values or oldest < self.opened_ns:
            self.opened_ns = oldest
        self.values.append(value)
        self.stamps += stamps
        self._hold(1)
        if len(self.values) >= self.size:
            self._emit()

    def _emit(self) -> None:
        values, stamps = self.values, self.stamps
        self.values, self.stamps = [], []
        self.passed += self.held
        self.held = 0
        self.emitted += 1
        self.ctx.spend(self.overhead_ns)
        self.next.push(stamps, values)

    def deadline(self) -> int | None:
        if self.values and self.flush_ns is not None:
            return self.opened_ns + self.flush_ns
        return None

    def on_timer(self, now: int) -> None:
        if self.values and self.flush_ns is not None and now >= self.opened_ns + self.flush_ns:
            self._emit()

    def flush(self) -> None:
        if self.values:
            self._emit()

    def events_held(self) -> int:
        return len(self.stamps)

    def _check(self) -> None:
        assert self.held == len(self.values) < self.size, "batch held count is off"
        assert self.received == self.passed + self.held, "a batched item is unaccounted for"


class _Open:
    """One time window's contents while it is open (and kept for lateness)."""

    __slots__ = ("fired", "in_order", "stamps", "times", "values")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.values: list[Any] = []
        self.stamps: list[int] = []
        self.fired = 0
        self.in_order = True


class TimeWindowNode(_Node):
    """Tumbling or sliding windows over event time or processing time (module docstring)."""

    kind = "window"

    def __init__(
        self,
        name: str,
        ctx: Any,
        *,
        size: int,
        slide: int,
        time_of: Callable[[Any], int],
        processing_time: bool = False,
        max_out_of_order_ns: int = 0,
        allowed_lateness_ns: int = 0,
        on_late: Callable[[Any], Any] | None = None,
        **cost: int,
    ) -> None:
        super().__init__(name, ctx, **cost)
        self.size = size
        self.slide = slide
        self.time_of = time_of
        self.processing_time = processing_time
        self.ooo = max_out_of_order_ns
        self.lateness = allowed_lateness_ns
        self.on_late = on_late
        self.watermark = _NEVER
        self.open: dict[int, _Open] = {}
        self._to_fire: list[tuple[int, int]] = []  # (end, start) of windows not fired yet
        self._to_purge: list[tuple[int, int]] = []  # (end + lateness, start) of fired ones

    def push(self, stamps: list[int], value: Any) -> None:
        self.received += 1
        self.ctx.spend(self.cost_ns)
        if self.processing_time:
            t = self.ctx.now()
            self._advance(t)
        else:
            try:
                t = self.time_of(value)
                if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
                    raise TypeError(f"event time must be an int (ns), got {t!r}")
                t = int(t)
            except Exception as exc:
                self._error(exc, len(stamps))
                return
        wm, size, lateness = self.watermark, self.size, self.lateness
        first = (t - size) // self.slide + 1
        refire: list[int] = []
        owner = None
        for k in range(first, t // self.slide + 1):
            start = k * self.slide
            end = start + size
            if wm >= end + lateness:
                continue  # closed for good
            win = self.open.get(start)
            if win is None:
                win = self.open[start] = _Open()
                if wm >= end:
                    heapq.heappush(self._to_purge, (end + lateness, start))
                else:
                    heapq.heappush(self._to_fire, (end, start))
            if win.times and t < win.times[-1]:
                win.in_order = False
            win.times.append(t)
            win.values.append(value)
            self._hold(1)
            if owner is None:  # the earliest-ending window carries the latency stamps
                owner = win
                win.stamps += stamps
            if wm >= end:
                refire.append(start)
        if owner is None:
            if self.on_late is not None:
                try:
                    self.on_late(value)
                except Exception as exc:  # a failing side output is an error, not a late event
                    self._error(exc, len(stamps))
                    return
            self.late += len(stamps)
            return
        for start in refire:
            self._fire(start)
        if not self.processing_time:
            self._advance(t - self.ooo)

    def _advance(self, watermark: int) -> None:
        """Move the watermark forward; fire and purge what it passes."""
        if watermark <= self.watermark:
            return
        self.watermark = watermark
        while self._to_fire and self._to_fire[0][0] <= watermark:
            end, start = heapq.heappop(self._to_fire)
            self._fire(start)
            heapq.heappush(self._to_purge, (end + self.lateness, start))
        while self._to_purge and self._to_purge[0][0] <= watermark:
            _, start = heapq.heappop(self._to_purge)
            self.held -= len(self.open.pop(start).values)

    def _fire(self, start: int) -> None:
        win = self.open[start]
        if win.in_order:
            values = list(win.values)
        else:  # event-time order, ties in arrival order (sorted() is stable)
            order = sorted(range(len(win.times)), key=win.times.__getitem__)
            values = [win.values[i] for i in order]
        stamps, win.stamps = win.stamps, []
        out = Window(start, start + self.size, values, len(values), win.fired)
        win.fired += 1
        self.emitted += 1
        self.ctx.spend(self.overhead_ns)
        self.next.push(stamps, out)

    def deadline(self) -> int | None:
        if self.processing_time and self._to_fire:
            return self._to_fire[0][0]
        return None

    def on_timer(self, now: int) -> None:
        if self.processing_time:
            self._advance(now)

    def flush(self) -> None:
        """End of stream: the watermark jumps to +infinity; everything fires."""
        self._advance(2**63 - 1)

    def events_held(self) -> int:
        return sum(len(w.stamps) for w in self.open.values())

    def _check(self) -> None:
        assert self.held == sum(len(w.values) for w in self.open.values()), "held count is off"
        for end, start in self._to_fire:
            assert self.open[start].fired == 0 and end > self.watermark, "a due window not fired"


class CountWindowNode(_Node):
    """The last ``size`` events, emitted every ``slide`` events.

    ``held`` (the stage's depth) counts the events not yet emitted: in a
    sliding window the others stay in the buffer only to be repeated in the
    next windows, and they have been delivered already.
    """

    kind = "window"

    def __init__(self, name: str, ctx: Any, *, size: int, slide: int, **cost: int) -> None:
        super().__init__(name, ctx, **cost)
        self.size = size
        self.slide = slide
        self.buffer: deque[Any] = deque(maxlen=size)
        self.stamps: list[int] = []
        self.seq = 0
        self.since = 0

    def push(self, stamps: list[int], value: Any) -> None:
        self.received += 1
        self.ctx.spend(self.cost_ns)
        self.buffer.append(value)
        self._hold(1)
        self.stamps += stamps
        self.seq += 1
        self.since += 1
        if self.since == self.slide:
            self._emit()

    def _emit(self) -> None:
        values = list(self.buffer)
        stamps, self.stamps = self.stamps, []
        self.since = 0
        self.held = 0
        if self.slide >= self.size:
            self.buffer.clear()
        self.emitted += 1
        self.ctx.spend(self.overhead_ns)
        self.next.push(stamps, Window(self.seq - len(values), self.seq, values, len(values)))

    def flush(self) -> None:
        if self.since:
            self._emit()

    def events_held(self) -> int:
        return len(self.stamps)

    def _check(self) -> None:
        assert self.held == self.since < self.slide, "held count is off"
        assert len(self.buffer) <= self.size, "window above its size"


def window_params(
    size: int,
    slide: int | None,
    by: str,
    time: str,
    max_out_of_order_ns: int,
    allowed_lateness_ns: int,
) -> dict[str, Any]:
    """Validate a window's settings; return them normalised (raises ConfigError)."""
    by = check_choice("by", by, ("time", "count"))
    time = check_choice("time", time, ("event", "processing"))
    size = check_int("size", size, minimum=1)
    slide = size if slide is None else check_int("slide", slide, minimum=1)
    if slide > size:
        raise ConfigError(f"slide must be <= size ({size}), got {slide}")
    ooo = check_int("max_out_of_order_ns", max_out_of_order_ns, minimum=0)
    lateness = check_int("allowed_lateness_ns", allowed_lateness_ns, minimum=0)
    if by == "count" and (ooo or lateness or time == "processing"):
        raise ConfigError("count windows take no time settings (out-of-order, lateness, time)")
    if time == "processing" and (ooo or lateness):
        raise ConfigError("processing-time windows have no lateness: drop those settings")
    return {
        "size": size,
        "slide": slide,
        "by": by,
        "time": time,
        "max_out_of_order_ns": ooo,
        "allowed_lateness_ns": lateness,
    }
