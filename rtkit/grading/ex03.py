"""Exercises for lesson 03 (real-time streaming): drop-oldest, event-time windows, micro-batches.

Each exercise is registered in the catalog at import and is about one defect
of seed 000's section 3, its streaming pipeline (ids from SEED_NOTES): a
publish that answers a slow subscriber with nothing but "buffer full", or
with unbounded goroutines, where a bounded buffer with a named policy
belongs, and a ring that keeps popped items alive (S000-37, S000-43);
aggregation that never happens and a ``"time"`` field that is never read,
while several workers drain one stream out of order, here answered by
windows keyed on event time (S000-40, S000-42); and workers that spin
instead of sleeping until the next flush is due, with a ``FlushInterval``
nobody reads and no way to stop (S000-39, S000-42, S000-44).

The learner writes self-contained Python: a class holding a deque, a
function of a list of ``(t_ns, price, qty)`` events, and a class driven by
the times its caller passes in. Semantics are those of
:mod:`rtkit.streaming` (drop-oldest counts every drop; tumbling windows
``[k * width, (k + 1) * width)`` by event time; a micro-batch closes when
full or ``flush_interval_ns`` after its first item, whichever comes first).

Messages name the call and the kind of mistake, never the expected value;
calls of the learner's code are guarded (:mod:`rtkit.grading._checks`).

Example:
    >>> from rtkit.grading import catalog
    >>> for e in catalog.all_exercises("03"):
    ...     print(e.difficulty, e.id, e.target)
    1 03.drop-oldest DropOldest
    2 03.tumbling-vwap tumbling_vwap
    3 03.micro-batcher MicroBatcher
"""

from __future__ import annotations

import gc
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np

from rtkit.grading._checks import expect_value_error, guarded_call, is_int
from rtkit.grading.catalog import Exercise, register, test
from rtkit.grading.ex00 import call_repr

__all__: list[str] = []


_BAD_CONFIG = "bad configuration is refused up front"


# -- 03.drop-oldest ---------------------------------------------------------------------

DROP = "DropOldest"


class _Tick:
    """An item a buffer might hold; weakly referenceable, so a test can see it freed."""

    def __init__(self, seq: int) -> None:
        self.seq = seq

    def __repr__(self) -> str:
        return f"tick_{self.seq}"


class _Tracker:
    """Drives a learner's buffer next to a model, checking the counters after every call."""

    def __init__(self, cls: type, capacity: int) -> None:
        self.what = f"{DROP}({capacity})"
        self.buffer = guarded_call(self.what, cls, capacity)
        self.capacity = capacity
        self.model: deque = deque()
        self.published = self.delivered = self.dropped = 0
        self.steps: list[str] = []

    def _where(self) -> str:
        if not self.steps:
            return self.what
        if len(self.steps) > 4:
            return f"{self.what} after a sequence of publish(...) and take(...) calls"
        return f"{self.what} after {', '.join(self.steps)}"

    def publish(self, item: object, shown: str | None = None) -> None:
        call = f"publish({shown or repr(item)})"
        guarded_call(f"{self._where()}: {call}", self.buffer.publish, item)  # type: ignore[attr-defined]
        self.steps.append(call)
        if len(self.model) == self.capacity:
            self.model.popleft()
            self.dropped += 1
        self.model.append(item)
        self.published += 1
        self.counters()

    def take(self, max_items: int) -> list:
        call = f"take({max_items})"
        what = f"{self._where()}: {call}"
        got = guarded_call(what, self.buffer.take, max_items)  # type: ignore[attr-defined]
        self.steps.append(call)
        if not isinstance(got, list):
            raise AssertionError(f"{what} returned a {type(got).__name__}, not a list of items")
        expected = [self.model.popleft() for _ in range(min(max_items, len(self.model)))]
        self.delivered += len(expected)
        if got != expected:
            if len(got) > max_items:
                raise AssertionError(f"{what} returned more than max_items items")
            if sorted(map(repr, got)) == sorted(map(repr, expected)) and got:
                raise AssertionError(f"{what} returned the right items in the wrong order")
            if len(got) < len(expected):
                raise AssertionError(
                    f"{what} returned fewer items than it could: up to max_items of the "
                    "waiting items, as many as are waiting"
                )
            raise AssertionError(
                f"{what} did not return the oldest waiting items, oldest first: a full "
                "buffer drops its oldest item to make room for the new one"
            )
        self.counters()
        return got

    def counters(self) -> None:
        where = self._where()
        for name, expected in (
            ("published", self.published),
            ("dropped", self.dropped),
            ("delivered", self.delivered),
        ):
            got = guarded_call(f"{where}: reading {name}", getattr, self.buffer, name)
            if callable(got):
                raise AssertionError(
                    f"{where}: {name} is a method; make it an attribute (an int), read "
                    "without calling it"
                )
            if not is_int(got):
                raise AssertionError(f"{where}: {name} is a {type(got).__name__}, not an int")
            if got != expected:
                raise AssertionError(f"{where}: {name} {_COUNTER_MEANS[name]}")


_COUNTER_MEANS = {
    "published": "is not the number of publish(...) calls so far",
    "dropped": "is not the number of items the buffer has dropped: a full buffer drops its "
    "oldest item, and counts it, every time something is published to it",
    "delivered": "is not the number of items handed out by take(...) so far (count what "
    "take returned, not what it was asked for)",
}


@test("a buffer that never fills delivers every item, in order, dropping none")
def _drop_lossless(cls):
    t = _Tracker(cls, 4)
    for x in ("a", "b", "c"):
        t.publish(x)
    t.take(4)
    t.publish("d")
    t.take(1)
    t.take(1)


@test("publishing to a full buffer drops its oldest item, and counts the drop")
def _drop_full(cls):
    t = _Tracker(cls, 3)
    for x in ("a", "b", "c", "d"):
        t.publish(x)
    t.take(3)
    t = _Tracker(cls, 1)
    for x in ("a", "b", "c"):
        t.publish(x)
    t.take(2)


@test("take(max_items) returns at most max_items, oldest first; an empty buffer gives []")
def _drop_take(cls):
    t = _Tracker(cls, 5)
    t.take(3)
    for x in ("a", "b", "c", "d"):
        t.publish(x)
    t.take(2)
    t.take(5)
    t.take(1)


@test("published == delivered + dropped + waiting, after every call (seeded random mix)")
def _drop_random(cls):
    rng = np.random.default_rng(303)
    for capacity in (1, 2, 7):
        t = _Tracker(cls, capacity)
        for i in range(300):
            if rng.random() < 0.6:
                t.publish(f"x{i}")
            else:
                t.take(int(rng.integers(0, 4)))
        t.take(capacity)


@test("taken and dropped items are not kept alive by the buffer")
def _drop_lets_go(cls):
    t = _Tracker(cls, 2)
    ticks = [_Tick(i) for i in range(3)]
    refs = [weakref.ref(x) for x in ticks]
    for i in range(3):
        t.publish(ticks[i], shown=f"tick_{i}")
    t.take(1)
    del ticks[:]
    t.model.clear()  # the test's own model must not keep them alive either
    gc.collect()
    if refs[0]() is not None:
        raise AssertionError(
            f"{t._where()}: the buffer still holds a reference to the item it dropped; let go "
            "of an item when it is dropped or taken, so it can be freed (S000-43)"
        )
    if refs[1]() is not None:
        raise AssertionError(
            f"{t._where()}: the buffer still holds a reference to the item take(...) handed "
            "out; clear the slot as it is taken (S000-43)"
        )


@test("a capacity below 1 raises ValueError; a capacity of 1 works")
def _drop_bad_capacity(cls):
    for capacity in (0, -3):
        expect_value_error(f"{DROP}({capacity})", cls, capacity, why=_BAD_CONFIG)
    t = _Tracker(cls, 1)
    t.publish("a")
    t.take(1)


register(
    Exercise(
        id="03.drop-oldest",
        lesson="03",
        title="Drop the oldest, and count every drop",
        difficulty=1,
        target=DROP,
        hints=(
            "Think of a market-data subscriber that has fallen behind. When its buffer is "
            "full and a new price arrives, which item is worth least to it? And what numbers "
            "would you want to see afterwards to know what it missed?",
            "A collections.deque gives you both ends cheaply: new items go on the right, the "
            "oldest leaves from the left. Count in three plain int attributes; every item "
            "ever published is, at any moment, delivered, dropped or still waiting.",
            "In __init__, reject capacity < 1 with ValueError, keep a deque and set published, "
            "delivered and dropped to 0. In publish, when the deque already holds capacity "
            "items, popleft() one and add 1 to dropped; then append the item and add 1 to "
            "published. In take, popleft() min(max_items, len(deque)) items into a list, add "
            "its length to delivered and return it.",
        ),
        tests=(
            _drop_lossless,
            _drop_full,
            _drop_take,
            _drop_random,
            _drop_lets_go,
            _drop_bad_capacity,
        ),
        seed_ids=("S000-37", "S000-43"),
    )
)


# -- 03.tumbling-vwap -------------------------------------------------------------------

VWAP = "tumbling_vwap"
Event = tuple[int, int, int]  # (t_ns, price in ticks, qty)


def _reference_windows(events: Sequence[Event], width_ns: int) -> list[tuple[int, Fraction]]:
    notional: dict[int, int] = {}
    volume: dict[int, int] = {}
    for t_ns, price, qty in events:
        start = t_ns - t_ns % width_ns
        notional[start] = notional.get(start, 0) + price * qty
        volume[start] = volume.get(start, 0) + qty
    return [(s, Fraction(notional[s], volume[s])) for s in sorted(volume)]


def _windows(f: Callable, events: list, width_ns: int) -> tuple[str, list]:
    call = call_repr(VWAP, events, width_ns)
    got = guarded_call(call, f, events, width_ns)
    try:
        pairs = [tuple(p) for p in got]  # type: ignore[union-attr]
    except TypeError:
        raise AssertionError(f"{call} did not return a list of (window_start_ns, vwap)") from None
    if not all(len(p) == 2 and is_int(p[0]) for p in pairs):
        raise AssertionError(
            f"{call} did not return a list of (window_start_ns, vwap) pairs, starts as ints"
        )
    if any(isinstance(p[1], float) for p in pairs):
        raise AssertionError(
            f"{call} returned a float VWAP: prices are integer ticks and a float holds most "
            "averages only approximately; return a fractions.Fraction"
        )
    if not all(isinstance(p[1], Fraction) for p in pairs):
        raise AssertionError(f"{call} returned a VWAP that is not a fractions.Fraction")
    return call, pairs


def _expect_windows(f: Callable, events: list, width_ns: int) -> None:
    call, got = _windows(f, events, width_ns)
    expected = _reference_windows(events, width_ns)
    if got == expected:
        return
    starts = [s for s, _ in got]
    want = [s for s, _ in expected]
    if len(set(starts)) < len(starts):
        raise AssertionError(
            f"{call} returned the same window more than once: a window is keyed by the event "
            "time of its events, not by the order they arrive in (S000-40)"
        )
    if starts != sorted(starts):
        raise AssertionError(f"{call} did not list the windows earliest first")
    if set(want) < set(starts):
        raise AssertionError(f"{call} returned windows that hold no event: leave those out")
    if starts != want:
        if any(s % width_ns for s in starts):
            raise AssertionError(
                f"{call} returned a window that does not start on a multiple of width_ns: "
                "windows are aligned to the clock, not to the first event"
            )
        raise AssertionError(
            f"{call} put an event in the wrong window: window k covers event times from "
            "k * width_ns up to, not including, (k + 1) * width_ns"
        )
    for (start, vwap), (_, right) in zip(got, expected, strict=True):
        if vwap == right:
            continue
        group = [(p, q) for t, p, q in events if t - t % width_ns == start]
        if vwap == Fraction(sum(p for p, _ in group), len(group)):
            raise AssertionError(
                f"{call} averaged the prices without weighting them by quantity: VWAP is "
                "the sum of price * qty over the total qty"
            )
        raise AssertionError(f"{call} returned a VWAP that is not exact for its window")


@test("returns (window_start_ns, vwap) pairs, earliest window first, vwap a Fraction")
def _vwap_shape(f):
    _expect_windows(f, [(5, 100, 2), (15, 102, 1)], 10)
    _expect_windows(f, [(0, 100, 1), (3, 101, 3)], 10)


@test("windows are aligned to multiples of width_ns; an event on a boundary opens the next")
def _vwap_aligned(f):
    _expect_windows(f, [(7, 100, 1), (12, 104, 1), (25, 103, 2)], 10)
    _expect_windows(f, [(0, 100, 1), (10, 101, 1), (19, 102, 1), (20, 103, 5)], 10)
    _expect_windows(f, [(1_000_000_123, 50, 2), (1_999_999_999, 52, 1)], 1_000_000_000)


@test("an event that arrives late still counts in the window of its own event time")
def _vwap_out_of_order(f):
    _expect_windows(f, [(1, 100, 1), (12, 110, 1), (3, 102, 3), (25, 120, 1), (14, 108, 1)], 10)
    _expect_windows(f, [(30, 99, 1), (5, 100, 4), (31, 98, 2)], 10)


@test("the VWAP is exact and weighted by quantity")
def _vwap_exact(f):
    _expect_windows(f, [(0, 100, 1), (1, 101, 2)], 10)
    _expect_windows(f, [(0, 10**15 + 1, 3), (2, 10**15, 10**12), (4, 10**15 + 7, 1)], 10)


@test("empty windows are left out; no events, no windows")
def _vwap_sparse(f):
    _expect_windows(f, [(2, 100, 1), (95, 101, 1)], 10)
    _expect_windows(f, [], 10)


@test("a width_ns below 1 raises ValueError; a width of 1 ns works")
def _vwap_bad_width(f):
    for width in (0, -10):
        expect_value_error(
            call_repr(VWAP, [(0, 100, 1)], width), f, [(0, 100, 1)], width, why=_BAD_CONFIG
        )
    _expect_windows(f, [(3, 100, 1), (4, 101, 1), (3, 102, 1)], 1)


register(
    Exercise(
        id="03.tumbling-vwap",
        lesson="03",
        title="VWAP per tumbling window of event time",
        difficulty=2,
        target=VWAP,
        hints=(
            "Which window an event belongs to should depend on one number only. Which one? "
            "Not the position of the event in the list, and not the time of the first event.",
            "A window's start is the event time rounded down to a multiple of width_ns (the "
            "remainder operator does it). Accumulate, per start, the notional (price times "
            "qty) and the volume; the VWAP is their ratio, kept exact.",
            "Raise ValueError if width_ns < 1. Keep two dicts keyed by window start: for each "
            "(t_ns, price, qty), start is t_ns - t_ns % width_ns; add price * qty to one and "
            "qty to the other. Return [(start, Fraction(notional[start], volume[start])) for "
            "start in sorted(volume)].",
        ),
        tests=(
            _vwap_shape,
            _vwap_aligned,
            _vwap_out_of_order,
            _vwap_exact,
            _vwap_sparse,
            _vwap_bad_width,
        ),
        seed_ids=("S000-40", "S000-42"),
    )
)


# -- 03.micro-batcher -------------------------------------------------------------------

BATCHER = "MicroBatcher"


class _ModelBatcher:
    """The behaviour asked for, written out: the public and hidden tests' one reference."""

    def __init__(self, max_batch: int, flush_interval_ns: int) -> None:
        self.max_batch, self.flush_interval_ns = max_batch, flush_interval_ns
        self.items: list = []
        self.deadline_ns: int | None = None

    def _close(self, at_ns: int) -> list:
        batch = (at_ns, self.items)
        self.items, self.deadline_ns = [], None
        return [batch]

    def poll(self, now_ns: int) -> list:
        if self.deadline_ns is not None and self.deadline_ns <= now_ns:
            return self._close(self.deadline_ns)
        return []

    def offer(self, t_ns: int, item: object) -> list:
        closed = self.poll(t_ns)
        if not self.items:
            self.deadline_ns = t_ns + self.flush_interval_ns
        self.items.append(item)
        if len(self.items) == self.max_batch:
            closed += self._close(t_ns)
        return closed

    def close(self, now_ns: int) -> list:
        return self.poll(now_ns) or (self._close(now_ns) if self.items else [])


class _BatcherRun:
    """Drives a learner's batcher and the model side by side, comparing after every call."""

    def __init__(self, cls: type, max_batch: int, flush_interval_ns: int) -> None:
        self.what = f"{BATCHER}({max_batch}, {flush_interval_ns})"
        self.batcher = guarded_call(self.what, cls, max_batch, flush_interval_ns)
        self.model = _ModelBatcher(max_batch, flush_interval_ns)
        self.steps: list[str] = []
        self.deadline()

    def _where(self) -> str:
        if not self.steps:
            return self.what
        if len(self.steps) > 4:
            return f"{self.what} after a sequence of offer(...), poll(...) calls"
        return f"{self.what} after {', '.join(self.steps)}"

    def deadline(self) -> None:
        where = self._where()
        got = guarded_call(f"{where}: reading deadline_ns", getattr, self.batcher, "deadline_ns")
        if callable(got):
            raise AssertionError(
                f"{where}: deadline_ns is a method; make it an attribute or a property"
            )
        expected = self.model.deadline_ns
        if got == expected and (got is None or is_int(got)):
            return
        if expected is None:
            raise AssertionError(
                f"{where}: deadline_ns is not None, but no batch is open: with nothing "
                "waiting, a worker has no reason to wake up"
            )
        raise AssertionError(
            f"{where}: deadline_ns is not the time the open batch is due, which is its first "
            "item's time plus flush_interval_ns (a worker sleeps until then instead of "
            "spinning, S000-39)"
        )

    def _do(self, call: str, method: str, *args: object) -> list:
        what = f"{self._where()}: {call}"
        got = guarded_call(what, getattr(self.batcher, method), *args)
        expected = getattr(self.model, method)(*args)
        self.steps.append(call)
        try:
            batches = [(b[0], list(b[1])) for b in got]  # type: ignore[union-attr]
        except (TypeError, IndexError, KeyError):
            raise AssertionError(
                f"{what} did not return a list of (close_ns, items) batches"
            ) from None
        if not all(len(b) == 2 for b in got):  # type: ignore[union-attr]
            raise AssertionError(f"{what} did not return a list of (close_ns, items) batches")
        if batches != expected:
            self._diagnose(what, method, batches, expected, args[0] if args else None)
        self.deadline()
        return batches

    def _diagnose(
        self, what: str, method: str, got: list, expected: list, now_ns: int | None
    ) -> None:
        items = [i for _, b in got for i in b]
        want = [i for _, b in expected for i in b]
        if method == "close" and want and not items:
            raise AssertionError(
                f"{what} returned no batch, but items were still waiting: close flushes what "
                "is left, or it is lost at shutdown (S000-44)"
            )
        if [len(b) for _, b in got] == [len(b) for _, b in expected] and items == want:
            raise AssertionError(
                f"{what} closed a batch at the wrong time: a batch closes when it is full "
                "(at the time of the item that filled it), or when flush_interval_ns has "
                "passed since its first item (at that deadline, even when noticed later)"
            )
        if len(items) > len(want) and items[: len(want)] == want and method == "offer":
            raise AssertionError(
                f"{what} put an item into a batch that was already due: a batch whose "
                "deadline has come (at or before the new item's time) closes first"
            )
        if len(items) < len(want):
            full = self.model.max_batch
            if any(at == now_ns and len(batch) < full for at, batch in expected):
                raise AssertionError(
                    f"{what} did not close a batch that was due at exactly this time: at equal "
                    "times the flush comes first"
                )
            raise AssertionError(
                f"{what} did not close a batch that was due: full, or flush_interval_ns past "
                "its first item"
            )
        raise AssertionError(
            f"{what} returned the wrong batches: each holds the items offered to it, in order"
        )

    def offer(self, t_ns: int, item: object) -> list:
        return self._do(f"offer({t_ns}, {item!r})", "offer", t_ns, item)

    def poll(self, now_ns: int) -> list:
        return self._do(f"poll({now_ns})", "poll", now_ns)

    def close(self, now_ns: int) -> list:
        return self._do(f"close({now_ns})", "close", now_ns)


@test("a batch closes as soon as it holds max_batch items")
def _batch_full(cls):
    run = _BatcherRun(cls, 3, 1_000)
    for t, x in ((0, "a"), (1, "b"), (2, "c"), (5, "d")):
        run.offer(t, x)
    run = _BatcherRun(cls, 1, 1_000)
    run.offer(7, "a")
    run.offer(7, "b")


@test("deadline_ns is None with nothing waiting, else the open batch's first item's time + flush")
def _batch_deadline(cls):
    run = _BatcherRun(cls, 10, 100)
    for t, x in ((20, "a"), (50, "b"), (90, "c")):
        run.offer(t, x)
    run.poll(119)
    run.poll(120)
    run.offer(130, "d")
    # Batch after batch, each deadline counts from that batch's own first item.
    run = _BatcherRun(cls, 2, 100)
    for t, x in ((30, "a"), (60, "b"), (70, "c"), (175, "d"), (180, "e"), (310, "f")):
        run.offer(t, x)
    run.poll(409)
    run.poll(410)


@test("poll closes a batch that is due, at its deadline, even when called later")
def _batch_poll(cls):
    run = _BatcherRun(cls, 10, 100)
    run.poll(5)
    run.offer(0, "a")
    run.offer(40, "b")
    run.poll(99)
    run.poll(250)
    run.poll(400)


@test("an offer first closes an overdue batch; an item at the deadline starts the next batch")
def _batch_offer_late(cls):
    run = _BatcherRun(cls, 10, 100)
    run.offer(0, "a")
    run.offer(100, "b")
    run.offer(150, "c")
    run.offer(330, "d")
    run.poll(430)


@test("close flushes what is left; seeded random runs keep every item, in order, once")
def _batch_close(cls):
    run = _BatcherRun(cls, 4, 100)
    run.offer(0, "a")
    run.close(30)
    run.close(40)
    rng = np.random.default_rng(3_003)
    for max_batch, interval in ((1, 50), (3, 100), (5, 40)):
        run, t = _BatcherRun(cls, max_batch, interval), 0
        for i in range(60):
            t += int(rng.integers(0, 60))
            if rng.random() < 0.8:
                run.offer(t, f"x{i}")
            else:
                run.poll(t)
        run.close(t + int(rng.integers(0, 80)))


@test("a max_batch or flush_interval_ns below 1 raises ValueError; 1 and 1 work")
def _batch_settings(cls):
    for max_batch, interval in ((0, 100), (-2, 100), (4, 0), (4, -50)):
        expect_value_error(
            f"{BATCHER}({max_batch}, {interval})", cls, max_batch, interval, why=_BAD_CONFIG
        )
    run = _BatcherRun(cls, 1, 1)
    run.offer(5, "a")
    run.offer(5, "b")
    run.close(5)


register(
    Exercise(
        id="03.micro-batcher",
        lesson="03",
        title="A micro-batcher that knows when to wake up",
        difficulty=3,
        target=BATCHER,
        hints=(
            "A batch has a birth time, the time of its first item. What are the two ways it "
            "can end, and which moment is its close time in each case? Think about what a "
            "worker thread needs to know to sleep instead of spinning.",
            "Keep the open batch's items and its deadline (None when nothing is open). Every "
            "call brings the current time: before anything else, a batch whose deadline is "
            "at or before that time closes, at its deadline. An offer then joins (or opens) "
            "the batch, which closes at once if full. Settings that cannot work (no room in "
            "a batch, or no time before it is due) are refused in the constructor.",
            "poll(now_ns): if deadline_ns is not None and is at or before now_ns, return "
            "self._close(self.deadline_ns); otherwise []. offer(t_ns, item): start a list "
            "of closed batches with poll(t_ns); if no items are waiting, set deadline_ns to "
            "t_ns + flush_interval_ns; append the item; if len(items) reaches max_batch, add "
            "self._close(t_ns) to the list; return it. __init__: raise ValueError if "
            "max_batch < 1 or flush_interval_ns < 1, then call super().__init__(max_batch, "
            "flush_interval_ns).",
        ),
        tests=(
            _batch_full,
            _batch_deadline,
            _batch_poll,
            _batch_offer_late,
            _batch_close,
            _batch_settings,
        ),
        seed_ids=("S000-39", "S000-42", "S000-44"),
    )
)
