"""Exercises for lesson 04 (memory management): a ring's full test, batches, a pool, a journal.

Each exercise is registered in the catalog at import and is about one defect
of seed 000's section 4 (ids from SEED_NOTES): the ring's "keep one slot
empty" test on free-running counters (S000-50) and popped slots that keep
their items alive (S000-52); copying a batch into a ring that wraps round,
one index load per batch (S000-50, S000-51); a pool that resets objects when
it hands them out and never notices a double release (S000-54, S000-55);
and the "memory-mapped file" that is a heap slice (S000-47, S000-48),
replaced in rtkit by :class:`rtkit.journal.Journal`, whose record framing the
last exercise reads back exactly, so that hidden tests can hold answers to
real journal files.

Messages name the call and the kind of mistake, never the expected value;
calls of the learner's code are guarded (:mod:`rtkit.grading._checks`).

Example:
    >>> from rtkit.grading import catalog
    >>> for e in catalog.all_exercises("04"):
    ...     print(e.difficulty, e.id, e.target)
    1 04.ring-full-check Ring
    2 04.pool-double-release CheckedPool
    2 04.ring-wraparound push_many
    3 04.journal-framing read_frames
"""

from __future__ import annotations

import struct
import weakref
import zlib
from collections import deque
from collections.abc import Callable

import numpy as np

from rtkit.grading._checks import expect_value_error, guarded_call, is_int
from rtkit.grading.catalog import Exercise, register, test

__all__: list[str] = []


def _is_bool(value: object) -> bool:
    return isinstance(value, (bool, np.bool_))


def _why(exc: BaseException) -> str:
    # The exception's own text may quote numbers that are the answer: explain by type only.
    if isinstance(exc, TypeError) and "unhashable" in str(exc):
        return ": the objects here are lists, which cannot be hashed (tell them apart by id)"
    return ""


def _call(
    what: str,
    fn: Callable,
    *args: object,
    advice: str = "",
    advice_on: tuple[type[BaseException], ...] = (Exception,),
) -> object:
    """``fn(*args)``, guarded (:func:`~rtkit.grading._checks.guarded_call`), naming ``what``.

    For exceptions of the ``advice_on`` types, ``advice`` (what usually raises them here)
    follows the exception's name in the message.
    """

    def explain(exc: Exception) -> str:
        return _why(exc) or (advice if isinstance(exc, advice_on) else "")

    return guarded_call(what, fn, *args, advice=explain, qualified=True)


# -- 04.ring-full-check -----------------------------------------------------------

RING = "Ring"


def _push(ring: object, item: object, what: str, shown: str | None = None) -> bool:
    call = f"{what}: push({shown or repr(item)})"
    got = _call(call, ring.push, item)  # type: ignore[attr-defined]
    if not _is_bool(got):
        raise AssertionError(f"{call} returned a {type(got).__name__}, not True or False")
    return bool(got)


def _pop(ring: object, what: str) -> tuple[object, bool]:
    got = _call(f"{what}: pop()", ring.pop)  # type: ignore[attr-defined]
    if not isinstance(got, (tuple, list)) or len(got) != 2 or not _is_bool(got[1]):
        raise AssertionError(f"{what}: pop() did not return a pair (item, ok), ok True or False")
    return got[0], bool(got[1])


def _counters(ring: object, pushed: int, popped: int, what: str) -> None:
    head, tail = getattr(ring, "head", None), getattr(ring, "tail", None)
    if head is None or tail is None:
        raise AssertionError(f"{what}: the ring has no head or tail attribute; keep the seed's two")
    if head != pushed or tail != popped:
        raise AssertionError(
            f"{what}: head and tail do not count the items ever pushed and ever popped; keep "
            "both counters free-running (never wrapped, never reset) and find a slot with "
            "counter & mask"
        )


def _expect_empty(ring: object, what: str) -> None:
    item, ok = _pop(ring, what)
    if ok or item is not None:
        raise AssertionError(f"{what}: pop() on an empty ring did not return (None, False)")


@test("a ring of capacity 1 holds one item")
def _ring_one(cls):
    ring = _call("Ring(1)", cls, 1)
    what = "Ring(1)"
    if not _push(ring, "a", what):
        raise AssertionError(
            "Ring(1): push('a') into the empty ring returned False: its one slot is usable "
            "(the seed's keep-one-slot-empty test refuses it, S000-50)"
        )
    what = "Ring(1) after push('a')"
    _counters(ring, 1, 0, what)
    if _push(ring, "b", what):
        raise AssertionError(f"{what}: push('b') returned True, but the ring is full")
    item, ok = _pop(ring, what)
    if not ok or item != "a":
        raise AssertionError(f"{what}: pop() did not give back the item pushed, with True")
    _counters(ring, 1, 1, f"{what}, pop()")
    _expect_empty(ring, f"{what}, pop()")


@test("every slot is usable: a full ring holds capacity items, then refuses")
def _ring_every_slot(cls):
    for capacity in (2, 8, 1024):
        ring = _call(f"Ring({capacity})", cls, capacity)
        what = f"Ring({capacity})"
        accepted = 0
        while accepted <= capacity and _push(ring, f"item_{accepted}", what):
            accepted += 1
        if accepted < capacity:
            raise AssertionError(
                f"{what}: push(...) returned False before the ring held capacity items: "
                "every slot is usable (the seed wastes one, S000-50)"
            )
        if accepted > capacity:
            raise AssertionError(
                f"{what}: push(...) kept returning True after the ring held capacity items: "
                "a full ring must refuse, or it overwrites items not yet popped"
            )
        _counters(ring, capacity, 0, f"{what} filled with push(...)")


@test("a full ring refuses a push without overwriting anything")
def _ring_full_refuses(cls):
    ring = _call("Ring(4)", cls, 4)
    what = "Ring(4) after push(x) for x in range(4)"
    for x in range(4):
        if not _push(ring, x, "Ring(4)"):
            raise AssertionError(
                "Ring(4): push(...) returned False before the ring held capacity items (S000-50)"
            )
    if _push(ring, 99, what):
        raise AssertionError(f"{what}: push(99) returned True, but the ring is full")
    _counters(ring, 4, 0, f"{what}, push(99)")
    got = []
    for _ in range(4):
        item, ok = _pop(ring, f"{what}, push(99)")
        got.append(item if ok else None)
    if got != list(range(4)):
        raise AssertionError(
            f"{what}, push(99): popping gave back items that were not the ones pushed, in "
            "order: a refused push must not touch any slot"
        )
    _expect_empty(ring, f"{what}, push(99), then four pop()")


_PATTERN = ((3, 1), (2, 4), (5, 5), (1, 0), (4, 2), (0, 3), (6, 6), (2, 1))


@test("items come out first in, first out, round and round the ring")
def _ring_fifo(cls):
    for capacity in (1, 2, 8):
        ring, model = _call(f"Ring({capacity})", cls, capacity), deque()
        what = f"Ring({capacity}) after a seeded mix of push(...) and pop() calls"
        pushed = popped = offered = 0
        for n_push, n_pop in _PATTERN * 25:
            for _ in range(n_push):
                fits = len(model) < capacity
                ok = _push(ring, f"item_{offered}", what)
                if ok and not fits:
                    raise AssertionError(f"{what}: push(...) returned True on a full ring")
                if fits and not ok:
                    raise AssertionError(
                        f"{what}: push(...) returned False with a slot free: every slot is "
                        "usable (S000-50)"
                    )
                if ok:
                    model.append(f"item_{offered}")
                    pushed += 1
                offered += 1
            for _ in range(n_pop):
                item, ok = _pop(ring, what)
                if not model:
                    if ok:
                        raise AssertionError(f"{what}: pop() on an empty ring returned ok=True")
                    continue
                if not ok or item != model.popleft():
                    raise AssertionError(
                        f"{what}: pop() gave items back out of order, or lost one: a ring is "
                        "first in, first out"
                    )
                popped += 1
            _counters(ring, pushed, popped, what)


@test("an empty ring pops (None, False) and stays as it was")
def _ring_empty(cls):
    ring = _call("Ring(4)", cls, 4)
    _expect_empty(ring, "Ring(4)")
    _counters(ring, 0, 0, "Ring(4), pop()")
    what = "Ring(4) after push('a'), pop()"
    _push(ring, "a", "Ring(4)")
    _pop(ring, "Ring(4) after push('a')")
    _expect_empty(ring, what)
    _expect_empty(ring, what)
    _counters(ring, 1, 1, f"{what}, then two more pop()")


class _Order:
    """Any object a ring might hold; weakly referenceable, so a test can see it die."""


def _pushed_and_popped(cls: type) -> tuple[object, weakref.ref]:
    ring, order = _call("Ring(4)", cls, 4), _Order()
    _push(ring, order, "Ring(4)", shown="order")
    _pop(ring, "Ring(4) after push(order)")
    return ring, weakref.ref(order)


@test("a popped item is not kept alive by the ring")
def _ring_lets_go(cls):
    ring, order = _pushed_and_popped(cls)
    what = "Ring(4) after push(order), pop()"
    _counters(ring, 1, 1, what)
    if order() is not None:
        raise AssertionError(
            f"{what}: the ring still holds a reference to order after handing it out; clear "
            "the slot as you pop it, so a finished item can be freed (S000-52)"
        )


register(
    Exercise(
        id="04.ring-full-check",
        lesson="04",
        title="Fix the seed ring's full test",
        difficulty=1,
        target=RING,
        hints=(
            "Run SeedRing with capacity 1 and push once. Then compare what head - tail and "
            "head & mask each tell you, on an empty ring and on a full one.",
            "The seed compares slot positions (counters after & mask). An empty ring and a full "
            "ring put head and tail in the same slot, so positions cannot tell them apart; "
            "that is why the seed gives up a slot. The counters themselves never wrap: their "
            "difference is the number of items held.",
            "push: return False when head - tail equals capacity; otherwise write the item into "
            "data[head & mask], add one to head and return True. pop: when head equals tail, "
            "return (None, False); otherwise read data[tail & mask], set that slot to None so "
            "the ring lets go of the item, add one to tail and return (item, True).",
        ),
        tests=(
            _ring_one,
            _ring_every_slot,
            _ring_full_refuses,
            _ring_fifo,
            _ring_empty,
            _ring_lets_go,
        ),
        seed_ids=("S000-50", "S000-52"),
    )
)


# -- 04.pool-double-release ----------------------------------------------------------

POOL = "CheckedPool"


class _Factory:
    """``factory``: builds empty lists (equal to each other, unhashable) and keeps them."""

    def __init__(self) -> None:
        self.made: list[list] = []

    def __call__(self) -> list:
        obj: list = []
        self.made.append(obj)
        return obj


class _Reset:
    """``reset``: clears a list and records which object it was given."""

    def __init__(self) -> None:
        self.calls: list[list] = []

    def __call__(self, obj: list) -> None:
        self.calls.append(obj)
        obj.clear()


def _new_pool(cls: type, capacity: int) -> tuple[object, _Factory, _Reset, str]:
    factory, reset = _Factory(), _Reset()
    what = f"CheckedPool(list, reset, {capacity})"
    return _call(what, cls, factory, reset, capacity), factory, reset, what


def _acquire(pool: object, what: str) -> list:
    got = _call(f"{what}: acquire()", pool.acquire)  # type: ignore[attr-defined]
    if not isinstance(got, list):
        raise AssertionError(f"{what}: acquire() did not return one of the factory's objects")
    return got


def _release(pool: object, obj: list, what: str, shown: str) -> None:
    _call(f"{what}: release({shown})", pool.release, obj)  # type: ignore[attr-defined]


def _refused(pool: object, obj: object, what: str, shown: str, kind: str) -> None:
    call = f"{what}: release({shown})"
    # The attribute is looked up inside the guarded call: a pool without release fails there.
    expect_value_error(call, lambda: pool.release(obj), why=f"{kind} must be refused")  # type: ignore[attr-defined]


def _pool_counts(pool: object, hits: int, misses: int, what: str) -> None:
    got = (getattr(pool, "hits", None), getattr(pool, "misses", None))
    if got != (hits, misses):
        raise AssertionError(
            f"{what}: hits and misses do not count the acquires served from the free list and "
            "those that had to build a new object"
        )


def _same(objects: list, pool_made: list) -> bool:
    return any(o is m for o in objects for m in pool_made)


@test("objects are built up front; acquire counts hits, then misses")
def _pool_hits_misses(cls):
    pool, factory, _, what = _new_pool(cls, 2)
    if len(factory.made) != 2:
        raise AssertionError(
            f"{what} did not call factory() once per object when it was built: a pool builds "
            "its objects up front, not in the hot path (S000-54)"
        )
    _pool_counts(pool, 0, 0, what)
    first = [_acquire(pool, what), _acquire(pool, what)]
    if first[0] is first[1]:
        raise AssertionError(f"{what}: acquire() twice handed out the same object twice")
    if len(factory.made) != 2 or not all(_same([o], factory.made) for o in first):
        raise AssertionError(f"{what}: acquire() built a new object while prebuilt ones were free")
    _pool_counts(pool, 2, 0, f"{what} after acquire() twice")
    third = _acquire(pool, f"{what} after acquire() twice")
    if len(factory.made) != 3 or third is not factory.made[-1]:
        raise AssertionError(
            f"{what} after acquire() twice: a third acquire() did not build a new object with "
            "factory() when none was free"
        )
    _pool_counts(pool, 2, 1, f"{what} after acquire() three times")


@test("release resets the object; acquire never does")
def _pool_reset_on_release(cls):
    pool, _, reset, what = _new_pool(cls, 1)
    a = _acquire(pool, what)
    if reset.calls:
        raise AssertionError(
            f"{what}: acquire() called reset: reset on release, so an object waiting in the pool "
            "holds no stale data and the next user gets a clean one (S000-55)"
        )
    a.append("order 42")
    _release(pool, a, f"{what} after a = acquire()", "a")
    if len(reset.calls) != 1 or reset.calls[0] is not a:
        raise AssertionError(f"{what} after a = acquire(): release(a) did not call reset(a) once")
    b = _acquire(pool, f"{what} after a = acquire(), release(a)")
    if len(reset.calls) != 1:
        raise AssertionError(
            f"{what} after a = acquire(), release(a): acquire() called reset again (S000-55)"
        )
    if b is not a:
        raise AssertionError(
            f"{what} after a = acquire(), release(a): acquire() did not hand a out again"
        )
    _pool_counts(pool, 2, 0, f"{what} after acquire(), release(a), acquire()")


@test("a released object is handed out again, without building a new one")
def _pool_reuse(cls):
    pool, factory, _, what = _new_pool(cls, 2)
    a, b = _acquire(pool, what), _acquire(pool, what)
    _release(pool, a, f"{what} after a, b = acquire(), acquire()", "a")
    c = _acquire(pool, f"{what} after a, b = acquire(), acquire(), release(a)")
    if c is not a or len(factory.made) != 2:
        raise AssertionError(
            f"{what} after a, b = acquire(), acquire(), release(a): acquire() did not hand out "
            "the one free object, a"
        )
    _release(pool, b, f"{what} after a, b, c = ...", "b")
    _release(pool, c, f"{what} after a, b, c = ..., release(b)", "c")
    d, e = _acquire(pool, what), _acquire(pool, what)
    if d is e or not _same([d], factory.made) or not _same([e], factory.made):
        raise AssertionError(
            f"{what}: after every object was released, acquire() twice did not hand out the "
            "two pooled objects, one each"
        )
    _pool_counts(pool, 5, 0, f"{what} after a round of acquires and releases")


@test("a double release raises ValueError and changes nothing")
def _pool_double_release(cls):
    pool, factory, reset, what = _new_pool(cls, 2)
    _refused(pool, factory.made[0], what, "p", "p, prebuilt and never handed out,")
    if reset.calls:
        raise AssertionError(f"{what}: the refused release(p) called reset anyway: check first")
    what_a = f"{what} after a = acquire(), release(a)"
    a = _acquire(pool, what)
    _release(pool, a, f"{what} after a = acquire()", "a")
    _refused(pool, a, what_a, "a", "a double release")
    if len(reset.calls) != 1:
        raise AssertionError(f"{what_a}: the refused release(a) called reset anyway: check first")
    _pool_counts(pool, 1, 0, f"{what_a}, release(a)")
    x, y = _acquire(pool, f"{what_a}, release(a)"), _acquire(pool, f"{what_a}, release(a)")
    if x is y:
        raise AssertionError(
            f"{what_a}, release(a): acquire() twice handed out the same object to two users: "
            "the refused release put a on the free list a second time"
        )
    _pool_counts(pool, 3, 0, f"{what_a}, release(a), then acquire() twice")


@test("releasing an object the pool never gave out raises ValueError, even an equal one")
def _pool_foreign(cls):
    pool, _, reset, what = _new_pool(cls, 1)
    a = _acquire(pool, what)
    what_a = f"{what} after a = acquire()"
    _refused(pool, [], what_a, "[]", "an object the pool never gave out (equal to a, not a)")
    other, *_ = _new_pool(cls, 1)
    b = _acquire(other, f"a second {POOL}(list, reset, 1)")
    _refused(pool, b, what_a, "b", "b, from another pool,")
    _refused(pool, None, what_a, "None", "None")
    if reset.calls:
        raise AssertionError(f"{what_a}: a refused release called reset anyway: check first")
    _pool_counts(pool, 1, 0, f"{what_a} and three refused releases")
    _release(pool, a, f"{what_a} and three refused releases", "a")
    if len(reset.calls) != 1 or reset.calls[0] is not a:
        raise AssertionError(f"{what_a}: release(a) did not call reset(a) once")
    if _acquire(pool, f"{what_a}, release(a)") is not a:
        raise AssertionError(f"{what_a}, release(a): acquire() did not hand a out again")


register(
    Exercise(
        id="04.pool-double-release",
        lesson="04",
        title="A pool that resets on release and refuses a double release",
        difficulty=2,
        target=POOL,
        hints=(
            "Follow one object through its life: built, handed out, used, given back, handed "
            "out again. At which step should its old contents be wiped? And how can the pool "
            "tell whether an object is out right now?",
            "Keep a record of the objects that are handed out and not yet given back. release "
            "is legal only for an object in that record; anything else is a double release or a "
            "stranger, and must be refused before anything changes: no reset, no counter.",
            "Key that record by id(obj) and compare with is: the objects here are lists, which "
            "cannot be hashed, and two different empty lists are equal. In release, raise "
            "ValueError unless the record holds this very object; only then call reset(obj), "
            "remove it from the record and put it back on the free list. In acquire, pop the "
            "free list (a hit) or call factory() (a miss), then record what you hand out.",
        ),
        tests=(
            _pool_hits_misses,
            _pool_reset_on_release,
            _pool_reuse,
            _pool_double_release,
            _pool_foreign,
        ),
        seed_ids=("S000-54", "S000-55"),
    )
)


# -- 04.ring-wraparound --------------------------------------------------------------

PUSH_MANY = "push_many"
_EMPTY_SLOT = -1  # the value every slot of a test's buffer starts with


class _CountingBuffer(np.ndarray):
    """A numpy array that counts assignments into it (and into its views)."""

    _writes: list[int]

    def __array_finalize__(self, obj: object) -> None:
        self._writes = getattr(obj, "_writes", None) or [0]

    def __setitem__(self, key: object, value: object) -> None:
        self._writes[0] += 1
        super().__setitem__(key, value)


_SLICING = (ValueError, IndexError)  # what numpy raises for a slice too short or out of range
_SLICE_ADVICE = (
    ": a slice of buf that runs past its end, or starts beyond it, cannot take all the items "
    "given to it; the run of slots starts at head's slot and wraps round"
)


def _ring_call(capacity: int, head: int, tail: int, n: int) -> str:
    # Every number sits inside a call, which a learner can paste into a cell.
    return (
        f"{PUSH_MANY}(buf, {head}, {tail}, items) with buf = np.full({capacity}, {_EMPTY_SLOT}) "
        f"and items = np.arange({n})"
    )


def _push_many(
    f: Callable, capacity: int, head: int, tail: int, n: int, counting: bool = False
) -> tuple[str, int, np.ndarray]:
    """Call ``f`` on a fresh ring; check the count and the slots. Returns (call, n, buf)."""
    call = _ring_call(capacity, head, tail, n)
    buf = np.full(capacity, _EMPTY_SLOT, dtype=np.int64)
    if counting:
        buf = buf.view(_CountingBuffer)
    items = np.arange(n, dtype=np.int64)
    got = _call(call, f, buf, head, tail, items, advice=_SLICE_ADVICE, advice_on=_SLICING)
    if not is_int(got):
        raise AssertionError(f"{call} returned a {type(got).__name__}, not an int (how many fit)")
    room = capacity - (head - tail)
    if got > min(n, room):
        what = "the items given" if got > n else "the free slots"
        raise AssertionError(
            f"{call} returned more than {what}: a full slot holds an item not yet popped, "
            "and pushing over it loses that item"
        )
    if got < min(n, room):
        raise AssertionError(
            f"{call} returned fewer than fit: push as many as there are free slots, every slot "
            "counts (S000-50)"
        )
    if not np.array_equal(items, np.arange(n)):
        raise AssertionError(f"{call} changed the items array it was given")
    expected = np.full(capacity, _EMPTY_SLOT, dtype=np.int64)
    expected[(head + np.arange(got)) & (capacity - 1)] = np.arange(got)
    written = np.asarray(buf) != _EMPTY_SLOT
    wanted = expected != _EMPTY_SLOT
    unread = np.zeros(capacity, dtype=bool)
    unread[np.arange(tail, head) & (capacity - 1)] = True
    if np.any(written & unread):
        raise AssertionError(f"{call} wrote into a slot that holds an item not yet popped")
    if np.any(written & ~wanted):
        raise AssertionError(f"{call} wrote into a free slot beyond the items it pushed")
    if not np.array_equal(np.asarray(buf), expected):
        raise AssertionError(
            f"{call} did not put items[i] into slot (head + i) & mask for each item pushed: "
            "the run starts at head's slot and wraps round to the first slot of buf"
        )
    return call, got, buf


@test("returns how many items fit, as an int")
def _wrap_count(f):
    for capacity, head, tail, n in ((8, 0, 0, 5), (8, 0, 0, 12), (8, 13, 10, 7), (8, 18, 10, 3)):
        _push_many(f, capacity, head, tail, n)
    _push_many(f, 4, 3, 3, 0)


@test("items go into the slots after head, in order, wrapping round to slot 0")
def _wrap_slots(f):
    for capacity, head, tail, n in ((8, 6, 6, 5), (8, 13, 10, 7), (16, 31, 20, 9), (4, 7, 5, 2)):
        _push_many(f, capacity, head, tail, n)


@test("slots holding items not yet popped are never overwritten")
def _wrap_unread(f):
    for capacity, head, tail, n in ((8, 9, 3, 5), (8, 12, 5, 4), (4, 6, 2, 3), (8, 16, 8, 1)):
        _push_many(f, capacity, head, tail, n)


@test("every split of the run: capacities 1 to 16, every head, depth and batch size")
def _wrap_exhaustive(f):
    for capacity in (1, 2, 4, 8, 16):
        for base in (0, 2**40 + 3 * capacity):  # counters far beyond the capacity, too
            for slot in range(capacity):
                for depth in range(capacity + 1):
                    for n in range(capacity + 2):
                        head = base + slot + depth
                        _push_many(f, capacity, head, head - depth, n)


@test("copies with at most two slice assignments, not item by item")
def _wrap_two_copies(f):
    for capacity, head, tail, n in ((16, 12, 12, 10), (64, 100, 90, 50), (8, 0, 0, 8)):
        call, _, buf = _push_many(f, capacity, head, tail, n, counting=True)
        if buf._writes[0] > 2:
            raise AssertionError(
                f"{call} assigned into buf more than twice: copy the run in at most two slices "
                "(up to the end of buf, then on from its first slot), not one item at a time"
            )


register(
    Exercise(
        id="04.ring-wraparound",
        lesson="04",
        title="Push a batch into a ring, in two slices at most",
        difficulty=2,
        target=PUSH_MANY,
        hints=(
            "Draw the ring as a row of slots with head and tail marked, then the run of slots "
            "the new items will fill. Where can that run cross the end of the row, and into how "
            "many pieces can it be cut?",
            "Only capacity - (head - tail) slots are free: push no more than that. The run starts "
            "at slot head & mask and has two parts at most: from there up to the end of buf, "
            "then on from slot 0.",
            "n is the smaller of len(items) and the free room; start is head & (len(buf) - 1); "
            "first is the smaller of n and len(buf) - start. Copy items[:first] into "
            "buf[start:start + first] and items[first:n] into buf[:n - first], then return n.",
        ),
        tests=(_wrap_count, _wrap_slots, _wrap_unread, _wrap_exhaustive, _wrap_two_copies),
        seed_ids=("S000-50", "S000-51"),
    )
)


# -- 04.journal-framing --------------------------------------------------------------

READ = "read_frames"
_FRAME = struct.Struct("<II")


def _frame(payload: bytes) -> bytes:
    """One record as :class:`rtkit.journal.Journal` writes it (the learner's ``frame``)."""
    length = struct.pack("<I", len(payload))
    crc = zlib.crc32(payload, zlib.crc32(length))
    return length + struct.pack("<I", crc) + payload + bytes(-(8 + len(payload)) % 8)


def _reference_frames(buffer: bytes) -> list[bytes]:
    records, pos = [], 0
    while len(buffer) - pos >= 8:
        length, crc = _FRAME.unpack_from(buffer, pos)
        size = (8 + length + 7) // 8 * 8
        if length == 0 or size > len(buffer) - pos:
            break
        payload = buffer[pos + 8 : pos + 8 + length]
        if zlib.crc32(payload, zlib.crc32(buffer[pos : pos + 4])) != crc:
            break
        records.append(payload)
        pos += size
    return records


# Lengths 1 to 17: every amount of padding, 7 bytes down to none.
_PAYLOADS = [f"order {i}: buy {i} @ 10{i}".encode()[: i + 1] for i in range(17)]
_FOUR = [b"buy 10 @ 101", b"sell 5 @ 102", b"cancel 7", b"buy 1 @ 99"]


def _read(f: Callable, buffer: object, described: str) -> tuple[str, list]:
    call = f"{READ}(buffer) on {described}"
    advice = (
        ": a buffer may end anywhere, even inside a frame, and hold any bytes; check what is "
        "left before reading, and stop"
    )
    got = _call(call, f, buffer, advice=advice)
    if not isinstance(got, list) or not all(isinstance(r, bytes) for r in got):
        raise AssertionError(f"{call} did not return a list of bytes (one per record)")
    return call, got


def _expect_frames(call: str, got: list, expected: list) -> None:
    if got == expected:
        return
    if got == expected[: len(got)]:
        raise AssertionError(
            f"{call} stopped before the end of the valid records: check the byte order "
            "(little-endian), the CRC (over the 4 length bytes, then the payload) and where each "
            "record ends (padded to a multiple of 8)"
        )
    if got[: len(expected)] == expected:
        raise AssertionError(
            f"{call} returned more records than the buffer holds whole and valid: stop at the "
            "first record that is torn or corrupt"
        )
    raise AssertionError(
        f"{call} returned bytes that are not the records' payloads: read the length, then the "
        "payload after the 8-byte frame; the next record starts after the padding"
    )


@test("returns the payload of every whole record, in order")
def _frames_whole(f):
    body = b"".join(_frame(p) for p in _PAYLOADS)
    for buffer, described in (
        (body, "17 records of 1 to 17 bytes"),
        (body + bytes(64), "17 records of 1 to 17 bytes, then zeros"),
        (bytearray(b"".join(_frame(p) for p in _FOUR)), "a bytearray of four records"),
    ):
        call, got = _read(f, buffer, described)
        _expect_frames(call, got, _reference_frames(bytes(buffer)))


@test("no records in zeros, or in an empty buffer")
def _frames_zeros(f):
    for buffer, described in ((b"", "b''"), (bytes(7), "bytes(7)"), (bytes(4096), "bytes(4096)")):
        call, got = _read(f, buffer, described)
        if got:
            raise AssertionError(f"{call} returned records: a length of 0 is never a record")
    call, got = _read(f, _frame(b"x") + bytes(4096), "one record, then zeros")
    _expect_frames(call, got, [b"x"])


@test("stops cleanly where the buffer ends inside a record, padding included")
def _frames_torn(f):
    head = b"".join(_frame(p) for p in _FOUR[:2])
    last = _frame(b"torn 13 bytes")  # 8 + 13 bytes, 3 of padding
    for cut in range(1, len(last)):
        part = f"{cut} byte{'s' if cut > 1 else ''}"
        call, got = _read(f, head + last[:cut], f"two records, then the first {part} of a third")
        if len(got) > 2 and got[:2] == _FOUR[:2]:
            raise AssertionError(
                f"{call} returned the torn third record: a record counts only when all of it, "
                "its padding included, is in the buffer"
            )
        _expect_frames(call, got, _FOUR[:2])


def _corrupted(index: int, offset: int) -> bytes:
    framed = [bytearray(_frame(p)) for p in _FOUR]
    framed[index][offset] ^= 0x5A
    return b"".join(bytes(b) for b in framed)


@test("stops at the first corrupt record, and returns nothing after it")
def _frames_corrupt(f):
    for offset, part in ((8, "payload"), (12, "payload"), (5, "CRC"), (0, "length"), (1, "length")):
        buffer = _corrupted(1, offset)
        call, got = _read(f, buffer, f"four records, the second with a corrupt {part}")
        if _FOUR[1] in got or any(r not in _FOUR for r in got):
            raise AssertionError(
                f"{call} returned the corrupt record: check the CRC of every record before "
                "keeping it"
            )
        if _FOUR[2] in got or _FOUR[3] in got:
            raise AssertionError(
                f"{call} returned records after the corrupt one: without a valid frame there "
                "is no telling where the next record starts, so stop"
            )
        _expect_frames(call, got, _reference_frames(buffer))


@test("never raises, whatever the bytes")
def _frames_garbage(f):
    rng = np.random.default_rng(404)
    cases = [
        (b"\xff" * 64, "64 bytes of 0xff (a length of 4 GiB)"),
        (struct.pack("<II", 2**31, 0) + bytes(8), "a frame claiming 2 GiB"),
        (_frame(b"ok") + b"\x01\x00", "one record, then 2 stray bytes"),
    ]
    for i in range(40):
        noise = rng.integers(0, 256, size=int(rng.integers(1, 200)), dtype=np.uint8).tobytes()
        small = struct.pack("<I", int(rng.integers(1, 40))) + noise
        cases.append((_frame(b"ok") + small, f"one record, then seeded random bytes #{i}"))
    for buffer, described in cases:
        call, got = _read(f, buffer, described)
        _expect_frames(call, got, _reference_frames(buffer))


register(
    Exercise(
        id="04.journal-framing",
        lesson="04",
        title="Read back a journal's records, and stop at a torn tail",
        difficulty=3,
        target=READ,
        hints=(
            "Walk the buffer with a position that starts at 0: read a record's frame, decide "
            "whether the record is whole and valid, and if it is, keep its payload and jump to "
            "the next record. What must be true before you may even read the frame?",
            "struct.unpack_from('<II', buffer, pos) reads the length and the CRC. With its "
            "padding a record takes 8 + length bytes rounded up to a multiple of 8. Stop when "
            "fewer than 8 bytes are left, when the length is 0, or when the record would run "
            "past the end of the buffer.",
            "Then the CRC: zlib.crc32(payload, zlib.crc32(buffer[pos:pos + 4])) must equal the "
            "stored one; if it does not, stop, because after a corrupt frame there is no "
            "trustworthy way to find the next record. Keep each good payload as bytes and move "
            "pos on by the padded size, (8 + length + 7) // 8 * 8.",
        ),
        tests=(_frames_whole, _frames_zeros, _frames_torn, _frames_corrupt, _frames_garbage),
        seed_ids=("S000-47", "S000-48"),
    )
)
