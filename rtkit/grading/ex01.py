"""Exercises for lesson 01 (the event processor): averaging, per-event latency, batches, drops.

Each exercise is registered in the catalog at import and is about one defect
of seed 000's event processor (ids from SEED_NOTES): the "moving average"
(S000-8), latency timed per batch from the batch's start (S000-7), a flush
that ignores the batch's age (S000-5) and a queue bound that loses count
(S000-12, S000-13). The models match :mod:`rtkit.eventsim` exactly (one
worker; completions before flushes before arrivals at equal times), so the
instructor's hidden tests can hold answers to the simulator.

Messages name the call and the kind of mistake, never the expected value.

Example:
    >>> from rtkit.grading import catalog
    >>> for e in catalog.all_exercises("01"):
    ...     print(e.difficulty, e.id, e.target)
    1 01.moving-average-bug LatencyMetrics
    2 01.batch-latency per_event_latencies
    2 01.flush-deadline batch_closes
    3 01.drop-count run_bounded_queue
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import numpy as np

from rtkit.grading._checks import is_int
from rtkit.grading.catalog import Exercise, register, test
from rtkit.grading.ex00 import call_repr

__all__: list[str] = []


# -- 01.moving-average-bug ------------------------------------------------------

METRICS = "LatencyMetrics"


def _feed(cls: type, samples: Sequence[int]) -> object:
    metrics = cls()
    for x in samples:
        metrics.update(x)
    return metrics


def _updates(samples: Sequence[int]) -> str:
    if len(samples) > 6:
        return f"{len(samples)} calls of update(...)"
    return ", ".join(f"update({x!r})" for x in samples)


def _number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_mean(cls: type, samples: Sequence[int], what: str, why: str = "") -> None:
    metrics = _feed(cls, samples)
    got = metrics.average_ns
    after = f"{METRICS}() after {what}"
    if not _number(got):
        raise AssertionError(f"{after}: average_ns is a {type(got).__name__}, not a number")
    # Within 1 ns: a mean truncated to whole nanoseconds, as Go's Duration does, is fine.
    if abs(got - sum(samples) / len(samples)) >= 1:
        raise AssertionError(
            f"{after}: average_ns is not the mean of the samples recorded "
            f"(their sum divided by their count){why}"
        )


@test("a new LatencyMetrics reports zero for both")
def _metrics_fresh(cls):
    metrics = cls()
    if metrics.average_ns != 0 or metrics.max_ns != 0:
        raise AssertionError(
            f"{METRICS}() before any update(): average_ns and max_ns should both start at zero"
        )


@test("average_ns is the mean of every sample, not mostly the last ones")
def _metrics_mean(cls):
    for samples in ([100, 200, 600], [1_000, 3_000, 3_000, 1_000, 7_000]):
        _check_mean(cls, samples, _updates(samples))


@test("the order of the samples does not change the average")
def _metrics_order(cls):
    stall_last = [100_000] * 99 + [10_000_000]
    stall_first = stall_last[::-1]
    last = _feed(cls, stall_last).average_ns
    first = _feed(cls, stall_first).average_ns
    if not (_number(last) and _number(first)) or abs(last - first) >= 1:
        raise AssertionError(
            f"{METRICS}(): 99 calls of update(100000) and one of update(10000000) give a "
            "different average_ns when the 10 ms stall comes first than when it comes last; "
            "a mean does not depend on the order"
        )
    _check_mean(cls, stall_last, "99 calls of update(100000), then update(10000000)")


@test("a latency of 0 is a sample like any other")
def _metrics_zero(cls):
    why = (
        "; a latency of 0 is a real measurement, not a sign that nothing was recorded "
        "(the seed's == 0 test)"
    )
    for samples in ([0, 100], [100, 0, 0, 100], [0, 0, 30]):
        _check_mean(cls, samples, _updates(samples), why)


@test("max_ns is the largest latency recorded so far")
def _metrics_max(cls):
    samples = [5, 900, 30, 0]
    metrics = cls()
    for i, x in enumerate(samples):
        metrics.update(x)
        if metrics.max_ns != max(samples[: i + 1]):
            raise AssertionError(
                f"{METRICS}() after {_updates(samples[: i + 1])}: max_ns is not the largest "
                "latency recorded so far"
            )


register(
    Exercise(
        id="01.moving-average-bug",
        lesson="01",
        title="Fix the seed's moving average",
        difficulty=1,
        target=METRICS,
        hints=(
            "Feed SeedLatencyMetrics the samples 100, 200, 600 and print average_ns after each "
            "update. How much weight does the first sample still carry at the end?",
            "A true mean needs two running numbers, not one: how many samples you have seen "
            "and their total. The average is derived from them whenever it is needed.",
            "Keep a count and a sum (both starting at zero) and the largest sample so far; in "
            "update, add one to the count, add the latency to the sum, set average_ns to the "
            "sum over the count and max_ns to the larger of itself and the latency. No "
            "special case for zero: a zero latency is counted like any other.",
        ),
        tests=(_metrics_fresh, _metrics_mean, _metrics_order, _metrics_zero, _metrics_max),
        seed_ids=("S000-8",),
    )
)


# -- 01.batch-latency -------------------------------------------------------------

BATCH = "per_event_latencies"


def _latencies(f: Callable, arrival: object, start: int, service: object) -> tuple[str, list]:
    call = call_repr(BATCH, arrival, start, service)
    got = f(arrival, start, service)
    n = len(arrival)  # type: ignore[arg-type]
    if got is None:
        raise AssertionError(f"{call} returned None: return the latencies")
    if np.ndim(got) == 0:
        raise AssertionError(
            f"{call} returned a single number for the whole batch, not one latency per event "
            "(the seed's per-batch figure, S000-7)"
        )
    values = np.asarray(got).tolist()
    if len(values) != n:
        raise AssertionError(
            f"{call} returned {len(values)} values for a batch of {n} events: "
            "return one latency per event"
        )
    if not all(is_int(v) for v in values):
        raise AssertionError(f"{call} returned latencies that are not all whole nanoseconds")
    return call, values


def _expect_latencies(call: str, got: list, arrival: list, start: int, service: list) -> None:
    done = (start + np.cumsum(np.asarray(service, dtype=np.int64))).tolist()
    expected = [d - a for d, a in zip(done, arrival, strict=True)]
    if got == expected:
        return
    own_start = [d - s for d, s in zip(done, service, strict=True)]
    from_start = [d - start for d in done]
    if got == from_start:
        raise AssertionError(
            f"{call} timed each event from the batch's start, not from its arrival: the wait "
            "before the batch started is missing (S000-7)"
        )
    if got == [done[-1] - a for a in arrival] and len(arrival) > 1:
        raise AssertionError(
            f"{call} used the end of the whole batch for every event, not each event's own "
            "completion"
        )
    if got == [s - a for s, a in zip(own_start, arrival, strict=True)]:
        raise AssertionError(
            f"{call} stopped each event's clock when its service began: its own service "
            "time is part of its latency"
        )
    raise AssertionError(
        f"{call} did not return, for every event, the time from its arrival to its own "
        "completion (events are served in order, one after another, from the batch's start)"
    )


@test("returns one latency per event")
def _batch_shape(f):
    _latencies(f, [0, 100, 250], 300, [50, 20, 30])


@test("each event: from its own arrival to its own completion")
def _batch_values(f):
    cases = (
        ([10, 40, 40, 90], 100, [5, 5, 10, 1]),
        ([0, 100, 250], 300, [50, 20, 30]),
        ([1_000], 5_000, [700]),
    )
    for arrival, start, service in cases:
        call, got = _latencies(f, arrival, start, service)
        _expect_latencies(call, got, arrival, start, service)


@test("an event that arrives as its batch starts still waits for those ahead of it")
def _batch_last_arrival(f):
    arrival, start, service = [0, 0, 300], 300, [100, 100, 100]
    call, got = _latencies(f, arrival, start, service)
    _expect_latencies(call, got, arrival, start, service)


@test("an empty batch has no latencies")
def _batch_empty(f):
    _latencies(f, [], 300, [])


@test("numpy arrays in, inputs left unchanged")
def _batch_numpy(f):
    arrival = np.array([0, 20, 20, 50], dtype=np.int64)
    service = np.array([3, 3, 3, 3], dtype=np.int64)
    call, got = _latencies(f, arrival, 60, service)
    if arrival.tolist() != [0, 20, 20, 50] or service.tolist() != [3, 3, 3, 3]:
        raise AssertionError(f"{call} changed the arrays it was given")
    _expect_latencies(call, got, arrival.tolist(), 60, service.tolist())


@test("exact with timestamps since 1970, in nanoseconds")
def _batch_epoch(f):
    t0 = 1_750_000_000_123_456_789  # mid-2025, in ns since 1970: far beyond 2**53
    arrival = np.array([t0, t0 + 1, t0 + 3], dtype=np.int64)
    start, service = t0 + 100_000, [5_000, 5_001, 5_003]
    call, got = _latencies(f, arrival, start, np.array(service, dtype=np.int64))
    right = (start + np.cumsum(service) - arrival).tolist()
    # A float64 is 256 ns coarse out here: close but not exact means floats were used.
    if got != right and all(abs(g - r) <= 1_024 for g, r in zip(got, right, strict=True)):
        raise AssertionError(
            f"{call} is not exact to the nanosecond: a float64 cannot hold every nanosecond "
            "count beyond 2**53, so keep times as integers"
        )
    _expect_latencies(call, got, arrival.tolist(), start, service)


register(
    Exercise(
        id="01.batch-latency",
        lesson="01",
        title="Latency per event, not per batch",
        difficulty=2,
        target=BATCH,
        hints=(
            "Draw a time line for the question's example: mark each arrival, the batch's "
            "start and the moment each event's own processing ends. The latency of an event "
            "is the distance between two of those marks.",
            "Event i completes when the batch's start plus the service times of events "
            "0 to i (its own included) have passed. That is a running total.",
            "Build the completion times as the batch start plus the cumulative sum of the "
            "service times (numpy has a function for a cumulative sum), then subtract each "
            "event's arrival. Keep everything as int64: no floats.",
        ),
        tests=(
            _batch_shape,
            _batch_values,
            _batch_last_arrival,
            _batch_empty,
            _batch_numpy,
            _batch_epoch,
        ),
        seed_ids=("S000-7",),
    )
)


# -- 01.flush-deadline --------------------------------------------------------------

FLUSH = "batch_closes"


def _closes(f: Callable, arrival: list, size: int, interval: int) -> tuple[str, list]:
    call = call_repr(FLUSH, arrival, size, interval)
    got = f(arrival, size, interval)
    if got is None:
        raise AssertionError(f"{call} returned None: return the list of batches")
    try:
        pairs = [tuple(pair) for pair in got]
    except TypeError:
        raise AssertionError(f"{call} did not return a list of (close_ns, size) pairs") from None
    if not all(len(p) == 2 and is_int(p[0]) and is_int(p[1]) for p in pairs):
        raise AssertionError(f"{call} did not return a list of (close_ns, size) pairs of ints")
    if sum(p[1] for p in pairs) != len(arrival):
        raise AssertionError(
            f"{call} returned batches whose sizes do not add up to the number of events: "
            "every event belongs to exactly one batch"
        )
    return call, pairs


def _expect_closes(
    call: str, got: list, expected: list, wrong: dict[str, list] | None = None
) -> None:
    if got == expected:
        return
    for message, pairs in (wrong or {}).items():
        if got == pairs:
            raise AssertionError(f"{call} {message}")
    if [s for _, s in got] != [s for _, s in expected]:
        raise AssertionError(f"{call} grouped the events into the wrong batches")
    raise AssertionError(f"{call} closed a batch at the wrong time")


@test("returns (close_ns, size) pairs covering every event")
def _flush_shape(f):
    _closes(f, [0, 1, 2, 3], 2, 100)


@test("a batch closes as soon as it is full")
def _flush_size(f):
    for arrival, size, expected in (
        ([0, 1, 2, 3], 2, [(1, 2), (3, 2)]),
        ([0, 0, 0, 5], 3, [(0, 3), (105, 1)]),
    ):
        call, got = _closes(f, arrival, size, 100)
        _expect_closes(call, got, expected)


@test("a partial batch closes flush_interval_ns after its first event")
def _flush_age(f):
    call, got = _closes(f, [0, 50, 120], 10, 100)
    wrong = {
        "closed batches on a clock that ticks whatever the batches hold (the seed's "
        "free-running ticker, S000-5): arm the timer at each batch's first event": [
            (100, 2),
            (200, 1),
        ],
        "re-armed the timer at every event, so a steady trickle would never be flushed: "
        "the age counts from the batch's first event": [(220, 3)],
    }
    _expect_closes(call, got, [(100, 2), (220, 1)], wrong)


@test("the last batch closes even if no more events come")
def _flush_quiet(f):
    call, got = _closes(f, [0, 10], 100, 1_000)
    _expect_closes(call, got, [(1_000, 2)])


@test("an event arriving exactly at the flush time starts the next batch")
def _flush_tie(f):
    call, got = _closes(f, [0, 100], 10, 100)
    wrong = {
        "put an event that arrived at the very instant of the flush into the batch being "
        "flushed: at equal times the flush happens first": [(100, 2)],
    }
    _expect_closes(call, got, [(100, 1), (200, 1)], wrong)


@test("no events, no batches")
def _flush_empty(f):
    _closes(f, [], 10, 100)


register(
    Exercise(
        id="01.flush-deadline",
        lesson="01",
        title="Flush on size or age",
        difficulty=2,
        target=FLUSH,
        hints=(
            "A batch has a birth time: the arrival of its first event. Two things can end "
            "it: filling up, or growing too old. Which happens first depends on the next "
            "arrivals.",
            "Go through the arrivals in order, keeping the open batch's size and its flush "
            "time. Before adding an arrival, ask whether the open batch's flush time has "
            "already come (a flush at the same instant counts as first).",
            "For each arrival: if a batch is open and its flush time is at or before this "
            "arrival, record (flush time, size) and start afresh; if no batch is open, this "
            "arrival opens one and sets its flush time to arrival plus the interval; add the "
            "event; if the batch is now full, record (this arrival's time, size). After the "
            "loop, a batch still open closes at its flush time.",
        ),
        tests=(_flush_shape, _flush_size, _flush_age, _flush_quiet, _flush_tie, _flush_empty),
        seed_ids=("S000-5",),
    )
)


# -- 01.drop-count -----------------------------------------------------------------

QUEUE = "run_bounded_queue"


def _run_queue(f: Callable, arrival: list, service: list, capacity: int) -> tuple[str, tuple]:
    call = call_repr(QUEUE, arrival, service, capacity)
    got = f(arrival, service, capacity)
    if got is None:
        raise AssertionError(f"{call} returned None: return (processed, dropped, max_depth)")
    try:
        result = tuple(got)
    except TypeError:
        raise AssertionError(
            f"{call} returned a {type(got).__name__}, not a (processed, dropped, max_depth) tuple"
        ) from None
    if len(result) != 3 or not all(is_int(v) for v in result):
        raise AssertionError(f"{call} did not return three ints (processed, dropped, max_depth)")
    processed, dropped, depth = result
    if processed + dropped != len(arrival):
        raise AssertionError(
            f"{call}: processed + dropped is not the number of events offered; every event "
            "is either processed (the server finishes everything it accepted) or dropped "
            "(S000-13)"
        )
    if depth > capacity or depth < 0:
        raise AssertionError(f"{call} reported a max_depth beyond the waiting room's capacity")
    return call, result


def _expect_queue(
    call: str, got: tuple, expected: tuple, wrong: dict[str, list[tuple]] | None = None
) -> None:
    if got == expected:
        return
    for message, results in (wrong or {}).items():
        if got in results:
            raise AssertionError(f"{call} {message}")
    what = "processed and dropped counts" if got[1] != expected[1] else "max_depth"
    raise AssertionError(f"{call} got the {what} wrong")


_IN_SERVICE = (
    "counted the event in service as part of the waiting room: capacity is the number of "
    "events that may wait while one is served"
)


@test("returns (processed, dropped, max_depth), three ints")
def _queue_shape(f):
    _run_queue(f, [0, 100, 200], [50, 50, 50], 2)


@test("light load: nothing dropped, nothing waits")
def _queue_light(f):
    call, got = _run_queue(f, [0, 100, 200], [50, 50, 50], 2)
    _expect_queue(call, got, (3, 0, 0), {_IN_SERVICE: [(3, 0, 1)]})


@test("a burst fills the waiting room and the rest is dropped")
def _queue_burst(f):
    call, got = _run_queue(f, [0, 0, 0, 0, 0], [10, 10, 10, 10, 10], 2)
    _expect_queue(call, got, (3, 2, 2), {_IN_SERVICE: [(2, 3, 1), (2, 3, 2), (3, 2, 3)]})
    call, got = _run_queue(f, [0, 1], [10, 10], 1)
    _expect_queue(call, got, (2, 0, 1), {_IN_SERVICE: [(1, 1, 0), (1, 1, 1), (2, 0, 2)]})


@test("every offered event is processed or dropped, in a queue that fills twice")
def _queue_refill(f):
    arrival = [0, 0, 0, 100, 100, 100, 100]
    call, got = _run_queue(f, arrival, [10] * len(arrival), 2)
    _expect_queue(call, got, (6, 1, 2), {_IN_SERVICE: [(4, 3, 1), (4, 3, 2), (6, 1, 3)]})


@test("a completion and an arrival at the same instant: the completion comes first")
def _queue_tie(f):
    call, got = _run_queue(f, [0, 10, 10], [10, 10, 10], 1)
    wrong = {
        "let an arrival in before a completion at the same instant, as if the server were "
        "still busy: at equal times the completion happens first": [(2, 1, 1)],
    }
    _expect_queue(call, got, (3, 0, 1), wrong)


@test("service times differ from event to event")
def _queue_mixed(f):
    call, got = _run_queue(f, [0, 5, 6, 7, 30, 31], [20, 1, 1, 1, 5, 5], 2)
    _expect_queue(call, got, (5, 1, 2))


register(
    Exercise(
        id="01.drop-count",
        lesson="01",
        title="A bounded queue that counts every event",
        difficulty=3,
        target=QUEUE,
        hints=(
            "Simulate it: the only moments that matter are arrivals and completions. Between "
            "two arrivals, which completions can happen?",
            "Keep two things: when the event in service completes (or that the server is "
            "idle) and the service times of the events waiting. Before handling an arrival at "
            "time t, let every completion at or before t happen; each completion starts the "
            "next waiting event at the completion time, not at t.",
            "Per arrival: process completions up to and including its time; then an idle "
            "server takes it at once, else it waits if fewer than capacity are waiting "
            "(update max_depth), else it is dropped. At the end, everything accepted is "
            "processed, so processed is the number offered minus the number dropped.",
        ),
        tests=(
            _queue_shape,
            _queue_light,
            _queue_burst,
            _queue_refill,
            _queue_tie,
            _queue_mixed,
        ),
        seed_ids=("S000-12", "S000-13"),
    )
)
