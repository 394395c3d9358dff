"""Hidden tests for lesson 03's exercises. Instructors only: never ship this file.

``rtkit grade ... --hidden-tests instructor/hidden_tests`` runs them after the
public tests. They run longer, seeded workloads against small reference
models written here or shared with the public tests: buffers of many
capacities under thousands of mixed publishes and takes, with every counter
checked after every call and every dropped or taken item expected to be
freed; event streams shuffled out of time order with windows from one
nanosecond to a second wide and prices far beyond 2**53; and micro-batchers
driven by random arrivals, polls and closes, with arrivals landing exactly
on deadlines. Messages say what was called and what kind of result was
wrong, never the expected value.
"""

from __future__ import annotations

import gc
import weakref
from collections import deque
from fractions import Fraction

import numpy as np

from rtkit.grading.catalog import PublicTest, test

# The public tests' reference models: one definition of the expected behaviour.
from rtkit.grading.ex03 import _ModelBatcher, _reference_windows

# -- 03.drop-oldest --------------------------------------------------------------------


class _H03Item:
    """A weakly referenceable item."""


def _h03_counters(buf):
    return (buf.published, buf.delivered, buf.dropped)


@test("5,000 seeded publishes and takes on buffers of many capacities")
def _h03_drop_random(cls):
    rng = np.random.default_rng(30_301)
    for capacity in (1, 2, 3, 8, 64, 1_000):
        buf, model = cls(capacity), deque()
        published = delivered = dropped = 0
        for step in range(5_000):
            if rng.random() < 0.55 + 0.4 * (capacity == 1_000):
                buf.publish(step)
                if len(model) == capacity:
                    model.popleft()
                    dropped += 1
                model.append(step)
                published += 1
            else:
                n = int(rng.integers(0, capacity + 3))
                got = buf.take(n)
                want = [model.popleft() for _ in range(min(n, len(model)))]
                delivered += len(want)
                if got != want:
                    raise AssertionError(
                        f"DropOldest({capacity}) after a seeded sequence of calls: take(...) "
                        "did not return the oldest waiting items"
                    )
            if _h03_counters(buf) != (published, delivered, dropped):
                raise AssertionError(
                    f"DropOldest({capacity}) after a seeded sequence of calls: published, "
                    "delivered or dropped is not exact"
                )


@test("two buffers share nothing; bad capacities are refused")
def _h03_drop_two(cls):
    a, b = cls(2), cls(3)
    for x in range(5):
        a.publish(x)
    b.publish("b")
    if b.take(5) != ["b"] or _h03_counters(b) != (1, 1, 0) or a.take(5) != [3, 4]:
        raise AssertionError("DropOldest(2) and DropOldest(3): publishing to one changed the other")
    for bad in (0, -1, -1_000):
        try:
            cls(bad)
        except ValueError:
            continue
        raise AssertionError(f"DropOldest({bad}) did not raise ValueError")


@test("every dropped or taken item is freed, over thousands of items")
def _h03_drop_frees(cls):
    buf, refs, waiting = cls(16), [], 0
    for i in range(2_000):
        item = _H03Item()
        refs.append(weakref.ref(item))
        buf.publish(item)
        del item
        waiting = min(waiting + 1, 16)
        if i % 7 == 6:
            buf.take(3)
            waiting -= 3
    buf.take(10)
    waiting -= 10
    gc.collect()
    alive = sum(r() is not None for r in refs)
    if alive != waiting:
        raise AssertionError(
            "DropOldest(16) after thousands of publishes and takes: it keeps items alive that "
            "were dropped or taken, or lost items still waiting"
        )


# -- 03.tumbling-vwap ------------------------------------------------------------------


def _h03_same(got, want):
    pairs = [tuple(p) for p in got]
    return pairs == want and all(isinstance(v, Fraction) for _, v in pairs)


@test("2,000 seeded shuffled event streams, windows from 1 ns to 1 s")
def _h03_vwap_random(f):
    rng = np.random.default_rng(30_302)
    for trial in range(2_000):
        width = int(rng.choice([1, 3, 10, 1_000, 1_000_000_000]))
        n = int(rng.integers(1, 40))
        origin = int(rng.integers(0, 10**12))
        times = origin + rng.integers(0, 6 * width, size=n)
        if rng.random() < 0.3:  # some on boundaries exactly
            times[: n // 2] = times[: n // 2] - times[: n // 2] % width
        events = [(int(t), int(rng.integers(1, 10**6)), int(rng.integers(1, 10**4))) for t in times]
        if not _h03_same(f(events, width), _reference_windows(events, width)):
            raise AssertionError(
                f"tumbling_vwap(events, {width}) on seeded stream {trial}: not one exact "
                "Fraction VWAP per non-empty event-time window, earliest first"
            )


@test("prices near 1e15 ticks, one window, and bad widths")
def _h03_vwap_huge(f):
    rng = np.random.default_rng(30_303)
    for trial in range(300):
        events = [
            (int(rng.integers(0, 100)), 10**15 + int(rng.integers(0, 10**6)), 10**9 + i)
            for i in range(int(rng.integers(1, 20)))
        ]
        if not _h03_same(f(events, 100), _reference_windows(events, 100)):
            raise AssertionError(
                f"tumbling_vwap(events, 100) on seeded list {trial} with prices near 1e15: "
                "not exact"
            )
    for bad in (0, -1, -(10**9)):
        try:
            f([(0, 1, 1)], bad)
        except ValueError:
            continue
        raise AssertionError(f"tumbling_vwap([(0, 1, 1)], {bad}) did not raise ValueError")


# -- 03.micro-batcher ------------------------------------------------------------------


def _h03_norm(batches):
    return [(b[0], list(b[1])) for b in batches]


def _h03_drive(cls, max_batch, interval, ops, what):
    got_b, model = cls(max_batch, interval), _ModelBatcher(max_batch, interval)
    for op in ops:
        name, *args = op
        got = _h03_norm(getattr(got_b, name)(*args))
        if got != getattr(model, name)(*args) or got_b.deadline_ns != model.deadline_ns:
            raise AssertionError(
                f"MicroBatcher({max_batch}, {interval}) on {what}: a batch closed at the wrong "
                "time, with the wrong items, or deadline_ns was wrong"
            )


@test("3,000 seeded runs of offers, polls and a final close")
def _h03_batch_random(cls):
    rng = np.random.default_rng(30_304)
    for trial in range(3_000):
        max_batch, interval = int(rng.integers(1, 9)), int(rng.integers(1, 200))
        t, ops = int(rng.integers(0, 10**12)), []
        for i in range(int(rng.integers(1, 40))):
            r = rng.random()
            t += 0 if r < 0.1 else int(rng.integers(0, 2 * interval))
            ops.append(("offer", t, i) if r < 0.75 else ("poll", t))
        ops.append(("close", t + int(rng.integers(0, 2 * interval))))
        _h03_drive(cls, max_batch, interval, ops, f"seeded run {trial}")


@test("arrivals exactly on deadlines, bursts at one instant, a 1 ns flush interval")
def _h03_batch_edges(cls):
    ops = [("offer", 100 * k, k) for k in range(50)] + [("close", 5_000)]
    _h03_drive(cls, 10, 100, ops, "arrivals every flush_interval_ns")
    ops = [("offer", 7, k) for k in range(25)] + [("poll", 106), ("poll", 107), ("close", 107)]
    _h03_drive(cls, 4, 100, ops, "a burst at one instant")
    ops = [("poll", 0), ("close", 0), ("offer", 0, "a"), ("close", 0), ("close", 9)]
    _h03_drive(cls, 3, 10, ops, "a close at the very time of an offer")
    ops = [("offer", t, t) for t in range(0, 10_000, 3)] + [("close", 10_000)]
    _h03_drive(cls, 1_000, 1, ops, "a one-nanosecond flush interval")


@test("settings below 1, of every size, raise ValueError; large ones work")
def _h03_batch_bad_settings(cls):
    bad = [(0, 0), (0, 1), (1, 0), (-1, 10**9), (10**9, -1), (-(10**12), -(10**12))]
    for max_batch, interval in bad:
        what = f"MicroBatcher({max_batch}, {interval})"
        try:
            cls(max_batch, interval)
        except ValueError:
            continue
        except Exception as exc:
            raise AssertionError(f"{what} raised {type(exc).__name__}, not ValueError") from None
        raise AssertionError(f"{what} did not raise ValueError: those settings cannot work")
    ops = [("offer", 10**15 + k, k) for k in range(30)] + [("close", 10**16)]
    _h03_drive(cls, 10**9, 10**12, ops, "a huge batch and flush interval")


HIDDEN: dict[str, list[PublicTest]] = {
    "03.drop-oldest": [_h03_drop_random, _h03_drop_two, _h03_drop_frees],
    "03.tumbling-vwap": [_h03_vwap_random, _h03_vwap_huge],
    "03.micro-batcher": [_h03_batch_random, _h03_batch_edges, _h03_batch_bad_settings],
}
