"""Queues between threads: a bounded queue with an explicit full-queue policy.

Seed 000's event processor checks the size of an unbounded queue, then
enqueues (S000-12): two producers can both see room and overshoot, and the
"bound" is only advisory. A real bound is enforced *inside* the queue, under
the same lock as the insert, and what happens when it is full is a named
policy, never an accident:

* ``block``: the producer waits for room (lossless backpressure);
* ``drop_newest``: the offered item is discarded and counted;
* ``drop_oldest``: the oldest queued item is discarded and counted, the new
  one is accepted (fresh data beats stale data: market data, telemetry);
* ``reject``: :class:`~rtkit.errors.QueueFull` is raised and counted, so the
  caller decides.

Invariant (``_check``): ``enqueued - dequeued - evicted == depth <= capacity``,
so that every item ever offered is either delivered, still queued, or counted
as dropped or rejected.

Used by :class:`rtkit.events.EventProcessor` (lesson 01); lesson 04 studies it.

Example:
    >>> q = BoundedQueue(2, policy="drop_newest")
    >>> [q.put(x) for x in "abc"]
    [True, True, False]
    >>> q.get(), q.stats().dropped
    ('a', 1)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

from rtkit.errors import Closed, QueueEmpty, QueueFull, check_choice, check_int
from rtkit.ring import RingBuffer
from rtkit.shmring import SharedRingBuffer

__all__ = ["POLICIES", "BoundedQueue", "QueueStats", "RingBuffer", "SharedRingBuffer"]

T = TypeVar("T")

POLICIES = ("block", "drop_newest", "drop_oldest", "reject")


@dataclass(frozen=True)
class QueueStats:
    """A snapshot of a queue's counters."""

    depth: int
    capacity: int
    enqueued: int
    dequeued: int
    dropped: int
    rejected: int
    high_water: int


class BoundedQueue(Generic[T]):
    """A thread-safe FIFO of at most ``capacity`` items, many producers and consumers.

    Every operation holds one lock for O(1) work; waiting uses condition
    variables, so idle consumers sleep instead of spinning (S000-6, S000-39).

    Example:
        >>> q = BoundedQueue(1, policy="reject")
        >>> q.put(1)
        True
        >>> q.put(2)
        Traceback (most recent call last):
        ...
        rtkit.errors.QueueFull: queue full (capacity 1)
    """

    def __init__(self, capacity: int, policy: str = "block") -> None:
        self.capacity = check_int("capacity", capacity, minimum=1)
        self.policy = check_choice("policy", policy, POLICIES)
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._closed = False
        self._enqueued = 0
        self._dequeued = 0
        self._dropped = 0  # discarded by drop_newest (offered) or drop_oldest (evicted)
        self._evicted = 0  # the drop_oldest share of _dropped: they had been enqueued
        self._rejected = 0
        self._high_water = 0

    def put(self, item: T, timeout: float | None = None) -> bool:
        """Offer ``item``; return True if it was queued, False if it was dropped.

        Under ``block`` waits for room (for at most ``timeout`` seconds, then
        raises :class:`~rtkit.errors.QueueFull`). Raises
        :class:`~rtkit.errors.Closed` after :meth:`close`. Cost: O(1).
        """
        with self._lock:
            if self._closed:
                raise Closed("queue is closed")
            if len(self._items) >= self.capacity:
                if self.policy == "block":
                    self._wait_for_room(timeout)
                elif self.policy == "drop_newest":
                    self._dropped += 1
                    return False
                elif self.policy == "drop_oldest":
                    self._items.popleft()
                    self._dropped += 1
                    self._evicted += 1
                else:
                    self._rejected += 1
                    raise QueueFull(f"queue full (capacity {self.capacity})")
            self._items.append(item)
            self._enqueued += 1
            self._high_water = max(self._high_water, len(self._items))
            self._not_empty.notify()
            return True

    def _wait_for_room(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while len(self._items) >= self.capacity:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise QueueFull(f"queue full (capacity {self.capacity}) after {timeout} s")
            self._not_full.wait(remaining)
            if self._closed:
                raise Closed("queue was closed while waiting for room")

    def put_nowait(self, item: T) -> bool:
        """:meth:`put` without waiting: under ``block`` a full queue raises QueueFull."""
        return self.put(item, timeout=0)

    def get(self, timeout: float | None = None) -> T:
        """Take the oldest item, waiting up to ``timeout`` seconds (None: forever).

        Raises :class:`~rtkit.errors.QueueEmpty` on timeout, and
        :class:`~rtkit.errors.Closed` once the queue is closed *and* drained,
        so consumers finish what was accepted before close. Cost: O(1).
        """
        with self._lock:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self._items:
                if self._closed:
                    raise Closed("queue is closed and drained")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise QueueEmpty("queue empty")
                self._not_empty.wait(remaining)
            item = self._items.popleft()
            self._dequeued += 1
            self._not_full.notify()
            return item

    def get_nowait(self) -> T:
        """:meth:`get` without waiting."""
        return self.get(timeout=0)

    def close(self) -> None:
        """Refuse further puts; wake every waiter. Idempotent."""
        with self._lock:
            self._closed = True
            self._not_empty.notify_all()
            self._not_full.notify_all()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._closed

    def __len__(self) -> int:
        return len(self._items)

    def stats(self) -> QueueStats:
        """A consistent snapshot of depth and counters."""
        with self._lock:
            return QueueStats(
                depth=len(self._items),
                capacity=self.capacity,
                enqueued=self._enqueued,
                dequeued=self._dequeued,
                dropped=self._dropped,
                rejected=self._rejected,
                high_water=self._high_water,
            )

    def _check(self) -> None:
        """Assert the invariants; tests call this after every operation."""
        with self._lock:
            depth = len(self._items)
            assert depth <= self.capacity, "depth above capacity"
            assert self._enqueued - self._dequeued - self._evicted == depth, "lost an item"
            assert self._high_water <= self.capacity, "high water above capacity"
            assert depth <= self._high_water or self._enqueued == 0, "high water below depth"
