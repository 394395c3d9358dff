"""Stream: publish/subscribe with one bounded buffer and one delivery thread per subscriber.

Seed 000's ``Publish`` starts a goroutine per subscriber per message
(S000-37): unbounded concurrency, no order, the same callback running on
several goroutines at once, and no backpressure, so a slow subscriber turns
into unbounded memory. Here each subscriber owns

* one :class:`~rtkit.queues.BoundedQueue` of ``capacity`` items with its
  own slow-consumer policy (``block``, ``drop_newest``, ``drop_oldest``,
  ``error``; see :mod:`rtkit.streaming`), and
* one delivery thread that takes items in publish order and calls the
  callback on one item at a time; it sleeps on the queue's condition when
  there is nothing to deliver (no spinning, S000-39).

A callback that raises is isolated: the error is counted (``errors``,
``last_error``) and delivery goes on. A filter that raises counts as an
error of its subscriber, and that subscriber does not get the item.
Each delivered item's latency, from :meth:`Stream.publish` to the end of the
callback, goes to the subscriber's :class:`~rtkit.latency.LatencyHistogram`.

:meth:`Stream.publish` offers the item to every subscriber in subscription
order and returns how many queued it. Under ``block`` it waits for room in
each blocking subscriber in turn (a slow blocking subscriber slows the
publisher: that is backpressure); a full ``error`` subscriber does not stop
the others: the item goes to them first, then
:class:`~rtkit.errors.QueueFull` names the full ones.

:meth:`Stream.close` and :meth:`Stream.unsubscribe` close the buffers
first, which wakes a publisher blocked on a full one (it gets
:class:`~rtkit.errors.Closed`, or moves on to the next subscriber if only
that one left), so a stuck slow consumer can always be disconnected: its
thread is given ``timeout_s`` to finish, then
:class:`~rtkit.errors.StateError` names it. A publish that meets a closing
stream raises ``Closed``; none is silently half-counted.

Invariant (``_check``): for every subscriber, ``published == delivered +
dropped + depth + in_flight``; after :meth:`Stream.close`, which drains
every buffer and joins every thread (S000-44), ``published == delivered +
dropped``. Runtime complexity: publish is O(subscribers), one lock each.

Example:
    >>> got, big = [], []
    >>> with Stream("quotes") as s:
    ...     _ = s.subscribe(got.append, name="all")
    ...     _ = s.subscribe(big.append, filter=lambda x: x > 1, name="big")
    ...     [s.publish(x) for x in (1, 2, 3)]
    [1, 2, 2]
    >>> got, big, s.stats()["big"].filtered, s.stats()["all"].delivered
    ([1, 2, 3], [2, 3], 1, 3)
    >>> s.stats().closed, list(s.stats())
    (True, ['all', 'big'])
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from rtkit.clock import Clock, resolve_clock
from rtkit.errors import Closed, ConfigError, QueueFull, StateError, check_choice, check_int
from rtkit.latency import LatencyHistogram
from rtkit.queues import BoundedQueue
from rtkit.streaming.chain import warm_up
from rtkit.streaming.ingest import POLICIES
from rtkit.streaming.stats import StreamStats, SubscriberStats

__all__ = ["Stream"]

_QUEUE_POLICY = {"block": "block", "drop_newest": "drop_newest", "drop_oldest": "drop_oldest",
                 "error": "reject"}  # fmt: skip
_RECORD_EVERY = 4096


class _Subscriber:
    """A subscriber's buffer, delivery thread and counters."""

    def __init__(
        self,
        stream: Stream,
        name: str,
        callback: Callable[[Any], Any],
        filter: Callable[[Any], Any] | None,
        capacity: int,
        policy: str,
    ) -> None:
        self.name = name
        self.callback = callback
        self.filter = filter
        self.policy = policy
        self.capacity = capacity
        self.queue: BoundedQueue[tuple[int, Any]] = BoundedQueue(capacity, _QUEUE_POLICY[policy])
        self.now = stream.clock.now_ns
        self.published = 0  # publisher side (under the stream's publish lock)
        self.filtered = 0
        self.filter_errors = 0
        self.timed_out = 0  # block-policy offers that gave up: dropped too
        self.gone = False  # unsubscribed: a Closed from its buffer is not the stream's
        self.delivered = 0  # delivery thread side
        self.errors = 0
        self.last_error: str | None = None
        self.histogram = LatencyHistogram()
        self.pending: list[int] = []
        self.lock = threading.Lock()  # guards the histogram against a reader
        self.thread = threading.Thread(
            target=self._deliver, name=f"rtkit-stream-{stream.name}-{name}", daemon=True
        )

    def _deliver(self) -> None:
        get, callback, now = self.queue.get, self.callback, self.now
        while True:
            try:
                stamp, item = get()
            except Closed:
                break
            try:
                callback(item)
            except Exception as exc:  # isolated: counted, reported, delivery goes on
                self.errors += 1
                self.last_error = repr(exc)
            self.pending.append(now() - stamp)
            self.delivered += 1
            if len(self.pending) >= _RECORD_EVERY:
                self.record()
        self.record()

    def record(self) -> None:
        with self.lock:
            if self.pending:
                self.histogram.record_many(np.array(self.pending, np.int64))
                self.pending.clear()

    def stats(self) -> SubscriberStats:
        delivered = self.delivered  # read before the queue: then in_flight >= 0
        q = self.queue.stats()
        return SubscriberStats(
            name=self.name,
            policy=self.policy,
            capacity=self.capacity,
            published=self.published,
            filtered=self.filtered,
            delivered=delivered,
            dropped=q.dropped + q.rejected + self.timed_out,
            errors=self.errors + self.filter_errors,
            depth=q.depth,
            high_water=q.high_water,
            in_flight=q.dequeued - delivered,
            last_error=self.last_error,
        )


class Stream:
    """A named publish/subscribe stream (module docstring).

    Args:
        name: used in thread names.
        clock: where publish stamps come from (default a WallClock).

    Example:
        >>> s = Stream()
        >>> s.subscribe(lambda x: None, capacity=0)
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: capacity must be >= 1, got 0
        >>> s.close()
        StreamStats(name='stream', closed=True, subscribers=())
    """

    def __init__(self, name: str = "stream", *, clock: Clock | None = None) -> None:
        self.name = str(name)
        self.clock = resolve_clock(clock)
        self._subs: dict[str, _Subscriber] = {}
        self._order: tuple[_Subscriber, ...] = ()  # what publish iterates: swapped, not mutated
        # subscribe/unsubscribe/close; never held while waiting for a buffer.
        self._lock = threading.Lock()
        # Publishers one at a time, so every subscriber sees one order. A
        # publisher may hold it while blocked on a full buffer: close and
        # unsubscribe close buffers first (waking it), then take it with a timeout.
        self._publish_lock = threading.Lock()
        self._closed = False
        self._gone: dict[str, SubscriberStats] = {}

    def subscribe(
        self,
        callback: Callable[[Any], Any],
        filter: Callable[[Any], Any] | None = None,
        name: str | None = None,
        capacity: int = 1024,
        policy: str = "block",
    ) -> str:
        """Add a subscriber and start its delivery thread; return its name.

        ``filter(item)`` (optional) is called by the publisher; only items
        it accepts are queued. Raises :class:`~rtkit.errors.ConfigError` for
        a bad capacity, an unknown policy, a non-callable or a name in use;
        the stream is then unchanged.

        Example:
            >>> s = Stream()
            >>> s.subscribe(print, policy="spill")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            rtkit.errors.ConfigError: policy must be one of 'block', ..., got 'spill'
            >>> s.subscribe(print, name="a")
            'a'
            >>> _ = s.close()
        """
        if not callable(callback):
            raise ConfigError(f"callback must be callable, got {type(callback).__name__}")
        if filter is not None and not callable(filter):
            raise ConfigError(f"filter must be callable or None, got {type(filter).__name__}")
        capacity = check_int("capacity", capacity, minimum=1)
        policy = check_choice("policy", policy, POLICIES)
        with self._lock:
            if self._closed:
                raise Closed("stream is closed")
            if name is None:
                n = len(self._subs) + len(self._gone)
                while f"sub{n}" in self._subs or f"sub{n}" in self._gone:
                    n += 1
                name = f"sub{n}"
            name = str(name)
            if name in self._subs:
                raise ConfigError(f"a subscriber named {name!r} already exists")
            warm_up()
            sub = _Subscriber(self, name, callback, filter, capacity, policy)
            sub.thread.start()
            self._subs[name] = sub
            self._order = (*self._order, sub)
        return name

    def unsubscribe(self, name: str, timeout_s: float | None = None) -> SubscriberStats:
        """Remove a subscriber: it gets what it already queued, then its thread is joined.

        Its buffer is closed at once, so a publisher blocked on it moves on.
        Returns its final stats. Raises :class:`~rtkit.errors.ConfigError` for
        an unknown name, and :class:`~rtkit.errors.StateError` if its callback
        has not finished within ``timeout_s`` seconds (it is disconnected
        anyway: nothing more is offered to it).
        """
        with self._lock:
            sub = self._subs.pop(name, None)
            if sub is None:
                raise ConfigError(f"no subscriber named {name!r}")
            self._order = tuple(s for s in self._order if s is not sub)
            sub.gone = True
            sub.queue.close()  # wakes a publisher blocked on it
        self._settle(timeout_s)
        sub.thread.join(timeout_s)
        final = sub.stats()
        self._gone[name] = final
        if sub.thread.is_alive():
            raise StateError(f"subscriber {name!r} did not finish within {timeout_s} s")
        return final

    def publish(self, item: Any, timeout_s: float | None = None) -> int:
        """Offer ``item`` to every subscriber; return how many queued it.

        ``timeout_s`` bounds each wait under ``block`` (that subscriber then
        counts a drop and QueueFull is raised after the others were served).
        Raises :class:`~rtkit.errors.Closed` after :meth:`close`. Cost:
        O(subscribers).
        """
        if self._closed:
            raise Closed("stream is closed")
        stamp = self.clock.now_ns()
        accepted = 0
        full: list[str] = []
        with self._publish_lock:
            if self._closed:  # closed while this publish waited for its turn
                raise Closed("stream is closed")
            for sub in self._order:
                if sub.filter is not None:
                    try:
                        wanted = sub.filter(item)
                    except Exception as exc:
                        sub.filter_errors += 1
                        sub.last_error = repr(exc)
                        continue
                    if not wanted:
                        sub.filtered += 1
                        continue
                try:
                    queued = sub.queue.put((stamp, item), timeout=timeout_s)
                except QueueFull:
                    sub.published += 1
                    if sub.policy == "block":
                        sub.timed_out += 1
                    full.append(sub.name)
                    continue
                except Closed:
                    if sub.gone and not self._closed:
                        continue  # unsubscribed meanwhile: no longer a subscriber
                    raise Closed(
                        f"stream closed during publish (queued by {accepted} subscriber(s))"
                    ) from None
                sub.published += 1
                accepted += queued
        if full:
            raise QueueFull(f"subscriber buffer full: {', '.join(full)} (item dropped for them)")
        return accepted

    def stats(self) -> StreamStats:
        """A snapshot: one record per current subscriber (exact once closed).

        A :class:`~rtkit.streaming.StreamStats`, which is also a mapping by
        subscriber name: ``stream.stats()["quotes"]``.
        """
        with self._lock:
            subs = tuple(self._subs.values())
            closed = self._closed
        return StreamStats(self.name, closed, tuple(sub.stats() for sub in subs))

    def latency(self, name: str) -> LatencyHistogram:
        """A copy of subscriber ``name``'s publish-to-callback-end latencies."""
        sub = self._subs.get(name)
        if sub is None:
            raise ConfigError(f"no subscriber named {name!r}")
        if not sub.thread.is_alive():  # finished: nobody appends to pending any more
            sub.record()
        with sub.lock:
            return sub.histogram.copy()

    def close(self, timeout_s: float | None = None) -> StreamStats:
        """Refuse new items, deliver everything queued, join every thread; return final stats.

        Idempotent. Under ``block`` every item accepted before close is
        delivered; otherwise each is delivered or was counted as dropped. A
        publisher blocked on a full buffer is woken with
        :class:`~rtkit.errors.Closed`. Raises :class:`~rtkit.errors.StateError`
        naming a subscriber whose callback has not returned within
        ``timeout_s`` seconds (call close again once it has).
        """
        with self._lock:
            self._closed = True
            subs = list(self._subs.values())
            for sub in subs:
                sub.queue.close()  # wakes a publisher blocked on a full buffer
        self._settle(timeout_s)
        for sub in subs:
            sub.thread.join(timeout_s)
            if sub.thread.is_alive():
                raise StateError(f"subscriber {sub.name!r} did not finish within {timeout_s} s")
        return self.stats()

    def _settle(self, timeout_s: float | None) -> None:
        """Wait for a publish in progress to finish its bookkeeping (its buffers are closed)."""
        if not self._publish_lock.acquire(timeout=-1 if timeout_s is None else timeout_s):
            raise StateError(f"a publish did not finish within {timeout_s} s")
        self._publish_lock.release()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._closed

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self) -> None:
        """Assert each subscriber's conservation law (tests call this when quiet)."""
        for sub in list(self._subs.values()):
            s = sub.stats()
            assert s.depth <= s.capacity, f"{s.name}: depth above capacity"
            assert s.published == s.delivered + s.dropped + s.depth + s.in_flight, (
                f"{s.name}: an item is unaccounted for: {s}"
            )
            sub.queue._check()
