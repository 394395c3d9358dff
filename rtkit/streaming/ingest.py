"""The bounded ingest buffer in front of each pipeline worker.

One producer (the source) appends, one consumer (the worker) pops: a
single-producer single-consumer mailbox, per worker, so each partition has
exactly one consumer and keeps its order (S000-40). The bound is enforced on
every put, and what happens when it is full is a named policy:

* ``block``: the producer waits for room (lossless backpressure);
* ``drop_newest``: the offered item is discarded and counted;
* ``drop_oldest``: the oldest queued item is discarded and counted;
* ``error``: :class:`~rtkit.errors.QueueFull` is raised and counted.

Why not :class:`rtkit.queues.BoundedQueue`? It takes a lock and signals a
condition on every put and get, which is right for many producers and
consumers (the pub/sub :class:`~rtkit.streaming.Stream` uses it) but costs
more than the rest of a map-to-sink pipeline. With one producer and one
consumer, ``deque.append`` and ``deque.popleft`` are atomic in CPython, so
the hot path takes no lock: the lock and condition are used only to *sleep*
(a consumer that found nothing, a producer that found no room) and to wake
the sleeper. The protocol that keeps a wake-up from being lost: the sleeper
sets its flag (under the lock) *before* it re-checks the deque, and the
other side changes the deque *before* it reads the flag. Either the
sleeper's re-check sees the change (it does not sleep), or the other side
sees the flag and wakes it; the waker takes the lock to notify, so it cannot
notify between the sleeper's re-check and its wait. A sleeper also re-checks
every 50 ms, a safety net that the protocol never needs. Nothing spins
(S000-39): idle workers sleep until an item or their next flush deadline.
A popped slot is released by ``popleft`` (S000-43).

Invariant (``_check``): ``offered == taken + dropped + depth`` and
``depth <= capacity``. Runtime complexity: O(1) per put and take.

Example:
    >>> box = Mailbox(2, "drop_oldest")
    >>> [box.put(0, x) for x in "abc"]
    [True, True, True]
    >>> [item for _, item in box.items], box.dropped
    (['b', 'c'], 1)
"""

from __future__ import annotations

import threading
import time
import zlib
from collections import deque
from typing import Any

import numpy as np

from rtkit.errors import Closed, QueueFull, check_choice, check_int

__all__ = ["POLICIES", "Mailbox", "partition"]

POLICIES = ("block", "drop_newest", "drop_oldest", "error")

# A sleeper re-checks at least this often: a safety net, not the wake-up path.
_NAP_S = 0.05


class Mailbox:
    """A bounded SPSC buffer of ``(stamp, item)`` pairs with a full-buffer policy."""

    def __init__(self, capacity: int, policy: str = "block") -> None:
        self.capacity = check_int("capacity", capacity, minimum=1)
        self.policy = check_choice("policy", policy, POLICIES)
        self.items: deque[tuple[int, Any]] = deque()
        self._cv = threading.Condition(threading.Lock())
        self.consumer_waiting = False
        self.producer_waiting = False
        # Wake a blocked producer only once half the buffer is free: fewer
        # wake-ups, and the producer then fills a whole half in one go.
        self.low_water = self.capacity // 2
        self.closed = False
        self.putting = False  # a put() is between its closed check and its append
        self.offered = 0  # written by the producer only
        self.dropped = 0  # written by the producer only
        self.taken = 0  # written by the consumer only
        self.high_water = 0

    def put(self, stamp: int, item: Any, timeout_s: float | None = None) -> bool:
        """Offer ``item`` stamped ``stamp``; True if queued, False if dropped (drop_newest).

        Raises :class:`~rtkit.errors.Closed` after :meth:`close`, and
        :class:`~rtkit.errors.QueueFull` under ``error`` when full, or under
        ``block`` when ``timeout_s`` passes without room; either way the
        offer is counted as offered and dropped before the error is raised.
        """
        # `putting` is raised before `closed` is read, and close() raises
        # `closed` before it waits for `putting` to drop: so an offer either
        # sees the close, or lands before close() lets the worker finish.
        self.putting = True
        try:
            if self.closed:
                raise Closed("pipeline is closed")
            items = self.items
            if len(items) >= self.capacity and not self.make_room(timeout_s):
                return False
            items.append((stamp, item))
            self.offered += 1
            if len(items) > self.high_water:
                self.high_water = len(items)
            if self.consumer_waiting:
                self.wake()
            return True
        finally:
            self.putting = False

    def make_room(self, timeout_s: float | None = None) -> bool:
        """Apply the policy to a full buffer; True if the new item may go in."""
        policy = self.policy
        if policy == "block":
            self._wait_for_room(timeout_s)
            return True
        if policy == "drop_oldest":
            try:
                self.items.popleft()
                self.dropped += 1
            except IndexError:  # the consumer emptied it meanwhile: room anyway
                pass
            return True
        self.offered += 1
        self.dropped += 1
        if policy == "drop_newest":
            return False
        raise QueueFull(f"ingest buffer full (capacity {self.capacity}, policy 'error')")

    def _wait_for_room(self, timeout_s: float | None) -> None:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cv:
            try:
                while True:
                    # Flag first, then look: a consumer that drains the buffer
                    # after this look sees the flag and wakes us (module docstring).
                    self.producer_waiting = True
                    if len(self.items) < self.capacity:
                        return
                    if self.closed:
                        raise Closed("pipeline was closed while waiting for room")
                    nap = _NAP_S
                    if deadline is not None:
                        nap = min(nap, deadline - time.monotonic())
                        if nap <= 0:
                            self.offered += 1  # a refused offer, counted like drop_newest's
                            self.dropped += 1
                            raise QueueFull(
                                f"ingest buffer full (capacity {self.capacity}) after {timeout_s} s"
                            )
                    self._cv.wait(nap)
            finally:
                self.producer_waiting = False

    def wake(self) -> None:
        """Wake whoever sleeps on this mailbox (the consumer, or a blocked producer).

        The waker clears both flags: until the sleeper runs again (it needs
        the GIL, which the waker holds), later puts or takes must not pay for
        another lock and notify each.
        """
        with self._cv:
            self.consumer_waiting = False
            self.producer_waiting = False
            self._cv.notify_all()

    def sleep(self, timeout_s: float | None) -> None:
        """Consumer side: sleep until an item arrives, close, or ``timeout_s`` passes."""
        with self._cv:
            self.consumer_waiting = True
            if not self.items and not self.closed:
                self._cv.wait(_NAP_S if timeout_s is None else min(timeout_s, _NAP_S))
            self.consumer_waiting = False

    def close(self) -> None:
        """Refuse further puts and wake every sleeper; queued items stay to be drained.

        Returns once no :meth:`put` is in progress, so nothing offered can
        land after the worker has drained the buffer and stopped.
        """
        with self._cv:
            self.closed = True
            self._cv.notify_all()
        while self.putting:  # a put that read `closed` just before; it is O(1)
            time.sleep(0.0001)

    def _check(self, exact: bool = True) -> None:
        """Assert the invariants; ``exact=False`` while the worker runs.

        A running worker publishes ``taken`` every few thousand events and
        when idle, and the fast producer publishes ``offered`` at the end of
        its loop, so only the bound holds at every instant.
        """
        depth = len(self.items)
        assert depth <= self.capacity, "depth above capacity"
        if exact:
            assert self.offered == self.taken + self.dropped + depth, "an item is unaccounted for"


def partition(key: Any, workers: int) -> int:
    """The worker that owns ``key``: stable across runs and machines.

    Integers go to ``key % workers``; anything else by the CRC-32 of its
    ``repr`` (Python's own ``hash`` of a string changes from run to run).

    Example:
        >>> partition(7, 4), partition("AAPL", 4) == partition("AAPL", 4)
        (3, True)
    """
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return int(key) % workers
    return zlib.crc32(repr(key).encode()) % workers
