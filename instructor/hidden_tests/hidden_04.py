"""Hidden tests for lesson 04's exercises. Instructors only: never ship this file.

``rtkit grade ... --hidden-tests instructor/hidden_tests`` runs them after the
public tests. They run longer, seeded workloads against small models: random
push/pop mixes on rings of every size (and counters far from zero), a
producer streaming batches through ``push_many`` while a consumer drains the
ring, random pool traffic with double and foreign releases mixed in, and
journal buffers cut and corrupted at random. The framing exercise's format is
exactly :mod:`rtkit.journal`'s record layout, so one test reads real journal
files, intact, corrupted and truncated, and holds ``read_frames`` to what
:class:`~rtkit.journal.Journal` itself recovers. Messages say what was called
and what kind of result was wrong, never the expected value.
"""

from __future__ import annotations

import gc
import os
import tempfile
import weakref
from collections import deque

import numpy as np

from rtkit.grading.catalog import PublicTest, test

# The public tests' reference models: one definition of the expected behaviour.
from rtkit.grading.ex04 import _CountingBuffer, _frame, _reference_frames
from rtkit.journal import HEADER_BYTES, Journal

# -- 04.ring-full-check -------------------------------------------------------------


def _h04_pop_pair(ring):
    got = ring.pop()
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise AssertionError("Ring(...).pop() did not return a pair (item, ok)")
    return got[0], bool(got[1])


def _h04_ring_walk(cls, capacity: int, steps: int, seed: int, start: int = 0) -> None:
    rng = np.random.default_rng(seed)
    ring, model = cls(capacity), deque()
    if start:
        ring.head = ring.tail = start  # the counters are free-running: any start will do
    pushed = popped = 0
    what = f"Ring({capacity}) under {steps} seeded random push(...) and pop() calls"
    for step in range(steps):
        if rng.random() < 0.55:
            ok = ring.push(step)
            if bool(ok) != (len(model) < capacity):
                raise AssertionError(f"{what}: push(...) did not return whether a slot was free")
            if ok:
                model.append(step)
                pushed += 1
        else:
            item, ok = _h04_pop_pair(ring)
            if (
                ok != bool(model)
                or (ok and item != model.popleft())
                or (not ok and item is not None)
            ):
                raise AssertionError(f"{what}: pop() did not give back the oldest item, in order")
            popped += ok
        if ring.head != start + pushed or ring.tail != start + popped:
            raise AssertionError(f"{what}: head and tail stopped counting pushes and pops")


@test("seeded random push/pop mixes on rings of 1 to 64 slots")
def _h04_ring_random(cls):
    for k in range(7):
        _h04_ring_walk(cls, 2**k, 3_000, seed=400 + k)


@test("counters that start far from zero, and far from a multiple of the capacity")
def _h04_ring_far(cls):
    for capacity, start in ((8, 2**40 + 5), (1, 2**33 + 1), (64, 10**15 + 37)):
        _h04_ring_walk(cls, capacity, 2_000, seed=start % 1000, start=start)


class _H04Ticket:
    """An item that can be watched with a weak reference."""


@test("every popped item is freed, round and round the ring")
def _h04_ring_frees(cls):
    ring, refs = cls(16), []
    for i in range(400):
        ticket = _H04Ticket()
        refs.append(weakref.ref(ticket))
        if not ring.push(ticket):
            raise AssertionError("Ring(16).push(...) refused an item with a slot free")
        del ticket
        if i % 3 == 2:
            for _ in range(3):
                _h04_pop_pair(ring)
    gc.collect()
    alive = sum(r() is not None for r in refs)
    if alive != ring.head - ring.tail:
        raise AssertionError(
            "Ring(16) after 400 push(...) and pop() calls: the ring keeps popped items alive; "
            "clear each slot as it is popped (S000-52)"
        )


# -- 04.pool-double-release ---------------------------------------------------------


class _H04Clingy:
    """Equal to everything and unhashable: only identity tells two apart."""

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        return True


def _h04_refuses(pool, obj, what: str) -> None:
    try:
        pool.release(obj)
    except ValueError:
        return
    raise AssertionError(f"{what} did not raise ValueError")


@test("seeded random traffic: acquires, releases, double and foreign releases")
def _h04_pool_random(cls):
    rng = np.random.default_rng(404)
    for capacity in (1, 3, 8):
        made, resets = [], []

        def factory(made=made):
            made.append([])
            return made[-1]

        def reset(obj, resets=resets):
            resets.append(obj)
            obj.clear()

        pool = cls(factory, reset, capacity)
        free, lent, hits, misses = capacity, [], 0, 0
        what = f"CheckedPool(list, reset, {capacity}) under seeded random traffic"
        for _ in range(1_500):
            r, n_made, n_resets = rng.random(), len(made), len(resets)
            releasing = 0.4 <= r < 0.75 and bool(lent)
            if not releasing and r < 0.75:
                obj = pool.acquire()
                if free and (len(made) != n_made or any(obj is o for o in lent)):
                    raise AssertionError(
                        f"{what}: acquire() with objects free built a new one, or handed out "
                        "one already in use"
                    )
                if not free and (len(made) != n_made + 1 or obj is not made[-1]):
                    raise AssertionError(f"{what}: acquire() with none free did not build one")
                hits, misses, free = hits + bool(free), misses + (not free), max(free - 1, 0)
                lent.append(obj)
                obj.append("used")
            elif releasing:
                obj = lent.pop(int(rng.integers(len(lent))))
                pool.release(obj)
                if len(resets) != n_resets + 1 or resets[-1] is not obj or obj:
                    raise AssertionError(f"{what}: release(obj) did not reset obj, once")
                free += 1
            elif r < 0.9:
                idle = [o for o in made if not any(o is x for x in lent)]
                if idle:
                    pick = idle[int(rng.integers(len(idle)))]
                    _h04_refuses(pool, pick, f"{what}: release(an object already free)")
            else:
                _h04_refuses(pool, [], f"{what}: release([])")
            if not releasing and len(resets) != n_resets:
                raise AssertionError(f"{what}: a refused release or an acquire called reset")
            if (pool.hits, pool.misses) != (hits, misses):
                raise AssertionError(f"{what}: hits and misses drifted from the acquires made")


@test("objects equal to everything and unhashable are told apart by identity")
def _h04_pool_clingy(cls):
    pool = cls(_H04Clingy, lambda obj: None, 2)
    a, b, c = pool.acquire(), pool.acquire(), pool.acquire()
    if a is b or b is c or a is c:
        raise AssertionError("CheckedPool(Clingy, reset, 2): acquire() gave one object twice")
    what = "CheckedPool(Clingy, reset, 2), objects equal to everything and unhashable"
    _h04_refuses(pool, _H04Clingy(), f"{what}: release(a stranger)")
    for obj in (b, a, c):
        pool.release(obj)
    _h04_refuses(pool, a, f"{what}: release(a) twice")
    got = [pool.acquire() for _ in range(3)]
    if len({id(o) for o in got}) != 3 or (pool.hits, pool.misses) != (5, 1):
        raise AssertionError(f"{what}: after releasing all three, acquire() lost track of them")


# -- 04.ring-wraparound -------------------------------------------------------------


@test("seeded random rings up to 4,096 slots, counters near 2**62, float64 items")
def _h04_wrap_random(f):
    rng = np.random.default_rng(4_096)
    for trial in range(400):
        capacity = 2 ** int(rng.integers(0, 13))
        depth = int(rng.integers(0, capacity + 1))
        head = int(rng.integers(0, 2**62)) + depth
        items = rng.random(int(rng.integers(0, 2 * capacity + 2)))
        buf = np.full(capacity, np.nan).view(_CountingBuffer)
        expected = np.full(capacity, np.nan)
        n = min(items.size, capacity - depth)
        expected[(head + np.arange(n)) % capacity] = items[:n]
        got = f(buf, head, head - depth, items.copy())
        if got != n or not np.array_equal(np.asarray(buf), expected, equal_nan=True):
            raise AssertionError(
                f"push_many(...) on seeded random ring {trial} ({capacity} slots): the count or "
                "the slots written differ from a model ring"
            )
        if buf._writes[0] > 2:
            raise AssertionError(
                f"push_many(...) on seeded random ring {trial}: more than two assignments into buf"
            )


@test("a stream of 100,000 sequence numbers in batches: in order, none lost or repeated")
def _h04_wrap_stream(f):
    rng = np.random.default_rng(7)
    capacity, total = 64, 100_000
    buf = np.zeros(capacity, dtype=np.int64).view(_CountingBuffer)
    head = tail = sent = 0
    received: list[np.ndarray] = []
    while tail < total:
        if sent < total:
            batch = np.arange(sent, min(total, sent + int(rng.integers(1, 100))), dtype=np.int64)
            before = buf._writes[0]
            n = f(buf, head, tail, batch)
            if buf._writes[0] - before > 2:
                raise AssertionError("push_many(...) in a stream: more than two assignments")
            head, sent = head + int(n), sent + int(n)
        k = min(head - tail, int(rng.integers(0, 90)))
        received.append(np.asarray(buf)[(tail + np.arange(k)) & (capacity - 1)].copy())
        tail += k
    if not np.array_equal(np.concatenate(received), np.arange(total)):
        raise AssertionError(
            "push_many(...) with a consumer draining a ring of 64 slots: the consumer did not "
            "see every sequence number once, in order"
        )


# -- 04.journal-framing -------------------------------------------------------------


def _h04_payloads(rng: np.random.Generator, n: int, longest: int) -> list[bytes]:
    sizes = rng.integers(1, longest + 1, size=n)
    return [rng.integers(0, 256, size=int(s), dtype=np.uint8).tobytes() for s in sizes]


def _h04_file_bytes(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


@test("real journal files, intact, corrupted and truncated, read as Journal recovers them")
def _h04_journal_files(f):
    rng = np.random.default_rng(4_040)
    with tempfile.TemporaryDirectory() as tmp:
        for trial in range(6):
            path = os.path.join(tmp, f"trial{trial}.journal")
            payloads = _h04_payloads(rng, 300, 200)
            with Journal(path, initial_size=4096) as journal:  # small: it grows by remapping
                for p in payloads:
                    journal.append(p)
            data = _h04_file_bytes(path)
            if f(data[HEADER_BYTES:]) != payloads:
                raise AssertionError(
                    f"read_frames(data[16:]) on journal file {trial} ({len(payloads)} records, "
                    "then zeros) did not return every record, in order"
                )
            damaged = bytearray(data)
            if trial % 2:
                at = int(rng.integers(HEADER_BYTES, len(data) // 2))
                damaged[at] ^= 1 << int(rng.integers(0, 8))
                kind = "with one bit flipped"
            else:
                damaged = damaged[: int(rng.integers(HEADER_BYTES, len(data) // 2))]
                kind = "truncated"
            with open(path, "wb") as file:
                file.write(damaged)
            with Journal(path) as journal:  # reopening recovers the valid records
                recovered = [p for _, p in journal.replay()]
            if f(bytes(damaged[HEADER_BYTES:])) != recovered:
                raise AssertionError(
                    f"read_frames(data[16:]) on journal file {trial} {kind}: the records differ "
                    "from those Journal recovers when it reopens the file"
                )


@test("seeded random buffers, cut and corrupted anywhere")
def _h04_journal_fuzz(f):
    rng = np.random.default_rng(44)
    for trial in range(500):
        body = b"".join(_frame(p) for p in _h04_payloads(rng, int(rng.integers(0, 12)), 40))
        buffer = bytearray(body + bytes(int(rng.integers(0, 24))))
        action = trial % 3
        if action == 0 and buffer:
            buffer = buffer[: int(rng.integers(0, len(buffer) + 1))]
        elif action == 1 and buffer:
            buffer[int(rng.integers(0, len(buffer)))] ^= 1 << int(rng.integers(0, 8))
        elif buffer:
            at = int(rng.integers(0, len(buffer)))
            buffer[at:] = rng.integers(0, 256, size=len(buffer) - at, dtype=np.uint8).tobytes()
        if f(bytes(buffer)) != _reference_frames(bytes(buffer)):
            kind = ("cut short", "with one bit flipped", "with a random tail")[action]
            raise AssertionError(
                f"read_frames(buffer) on seeded random buffer {trial} ({kind}): the records "
                "returned are not exactly the whole, valid ones before the first bad one"
            )


HIDDEN: dict[str, list[PublicTest]] = {
    "04.ring-full-check": [_h04_ring_random, _h04_ring_far, _h04_ring_frees],
    "04.pool-double-release": [_h04_pool_random, _h04_pool_clingy],
    "04.ring-wraparound": [_h04_wrap_random, _h04_wrap_stream],
    "04.journal-framing": [_h04_journal_files, _h04_journal_fuzz],
}
