"""Plausible wrong answers to lesson 03's exercises, the seed's own mistakes among them.

Merged into ``WRONG`` by ``tests/test_exercise_content.py``: each must fail a
public test with a message that names the call and keeps the expected value
to itself, and a hidden test must catch it too.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction

# -- 03.drop-oldest --------------------------------------------------------------------


class _Counted:
    def __init__(self, capacity):
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.items = deque()
        self.published = self.delivered = self.dropped = 0

    def take(self, max_items):
        batch = [self.items.popleft() for _ in range(min(max_items, len(self.items)))]
        self.delivered += len(batch)
        return batch


class DropNewest(_Counted):  # the seed's answer to a full buffer, but counted
    def publish(self, item):
        self.published += 1
        if len(self.items) == self.capacity:
            self.dropped += 1
            return
        self.items.append(item)


class SeedBufferFull(_Counted):  # "buffer full": the item is lost and nobody counts it
    def publish(self, item):
        if len(self.items) == self.capacity:
            return
        self.published += 1
        self.items.append(item)


class Unbounded(_Counted):  # one goroutine per message: nothing is ever refused
    def publish(self, item):
        self.items.append(item)
        self.published += 1


class DeliveredOnPublish(_Counted):  # counts an item as delivered when it is handed to the queue
    def publish(self, item):
        if len(self.items) == self.capacity:
            self.items.popleft()
            self.dropped += 1
        self.items.append(item)
        self.published += 1
        self.delivered += 1

    def take(self, max_items):
        return [self.items.popleft() for _ in range(min(max_items, len(self.items)))]


class CountsRequested(_Counted):  # delivered += what take was asked for, not what it gave
    def publish(self, item):
        if len(self.items) == self.capacity:
            self.items.popleft()
            self.dropped += 1
        self.items.append(item)
        self.published += 1

    def take(self, max_items):
        batch = [self.items.popleft() for _ in range(min(max_items, len(self.items)))]
        self.delivered += max_items
        return batch


class KeepsSlots:  # the seed's ring with drop-oldest added: popped slots keep their items
    def __init__(self, capacity):
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.data = [None] * capacity
        self.capacity, self.head, self.size = capacity, 0, 0
        self.published = self.delivered = self.dropped = 0

    def publish(self, item):
        if self.size == self.capacity:
            self.head = (self.head + 1) % self.capacity
            self.size -= 1
            self.dropped += 1
        self.data[(self.head + self.size) % self.capacity] = item
        self.size += 1
        self.published += 1

    def take(self, max_items):
        batch = []
        while self.size and len(batch) < max_items:
            batch.append(self.data[self.head])  # S000-43: the slot is not cleared
            self.head = (self.head + 1) % self.capacity
            self.size -= 1
        self.delivered += len(batch)
        return batch


class ZeroCapacityAllowed(_Counted):  # capacity 0 accepted: every publish is a drop
    def __init__(self, capacity):
        self.capacity = capacity
        self.items = deque()
        self.published = self.delivered = self.dropped = 0

    def publish(self, item):
        self.published += 1
        if len(self.items) >= self.capacity:
            if not self.items:
                self.dropped += 1
                return
            self.items.popleft()
            self.dropped += 1
        self.items.append(item)


# -- 03.tumbling-vwap ------------------------------------------------------------------


def _windows(key, exact=True, weighted=True):
    def tumbling_vwap(events, width_ns):
        if width_ns < 1:
            raise ValueError("width_ns must be >= 1")
        notional, volume, count = {}, {}, {}
        first = events[0][0] if events else 0
        for t, price, qty in events:
            start = key(t, width_ns, first)
            notional[start] = notional.get(start, 0) + (price * qty if weighted else price)
            volume[start] = volume.get(start, 0) + qty
            count[start] = count.get(start, 0) + 1
        out = []
        for s in sorted(volume):
            vwap = Fraction(notional[s], volume[s] if weighted else count[s])
            out.append((s, vwap if exact else notional[s] / volume[s]))
        return out

    return tumbling_vwap


_aligned = _windows(lambda t, w, first: t - t % w)


def _arrival_order(events, width_ns):  # processing order: a new window whenever the key changes
    if width_ns < 1:
        raise ValueError("width_ns must be >= 1")
    out, current, num, den = [], None, 0, 0
    for t, price, qty in events:
        start = t - t % width_ns
        if start != current and current is not None:
            out.append((current, Fraction(num, den)))
            num = den = 0
        current, num, den = start, num + price * qty, den + qty
    if current is not None:
        out.append((current, Fraction(num, den)))
    return out


def _with_empty_windows(events, width_ns):
    got = dict(_aligned(events, width_ns))
    if not got:
        return []
    return [(s, got.get(s, Fraction(0))) for s in range(min(got), max(got) + 1, width_ns)]


def _no_width_check(events, width_ns):
    if width_ns == 0:
        raise ZeroDivisionError("integer modulo by zero")
    return _aligned(events, width_ns)


# -- 03.micro-batcher ------------------------------------------------------------------


class _Batcher:
    """Configurable mistakes on top of the right behaviour."""

    ticker = rearm = at_call_time = tie_joins = drops_on_close = size_only = False
    validates = True

    def __init__(self, max_batch, flush_interval_ns):
        if self.validates and (max_batch < 1 or flush_interval_ns < 1):
            raise ValueError("max_batch and flush_interval_ns must be >= 1")
        self.max_batch, self.flush_interval_ns = max_batch, flush_interval_ns
        self.items, self.deadline_ns = [], None

    def _close(self, at_ns):
        batch, self.items, self.deadline_ns = (at_ns, self.items), [], None
        return [batch]

    def poll(self, now_ns):
        if self.size_only or self.deadline_ns is None:
            return []
        due = self.deadline_ns < now_ns if self.tie_joins else self.deadline_ns <= now_ns
        if due:
            return self._close(now_ns if self.at_call_time else self.deadline_ns)
        return []

    def offer(self, t_ns, item):
        closed = self.poll(t_ns)
        if self.ticker:  # a free-running ticker: due at the next multiple of the interval
            self.deadline_ns = (t_ns // self.flush_interval_ns + 1) * self.flush_interval_ns
        elif self.rearm or not self.items:
            self.deadline_ns = t_ns + self.flush_interval_ns
        self.items.append(item)
        if len(self.items) == self.max_batch:
            closed += self._close(t_ns)
        return closed

    def close(self, now_ns):
        if self.drops_on_close:
            self.items, self.deadline_ns = [], None
            return []
        return self.poll(now_ns) or (self._close(now_ns) if self.items else [])


def _batcher(name, **mistakes):
    return type(name, (_Batcher,), mistakes)


class SpinsWithZeroDeadline(_Batcher):  # "always due": a worker that never sleeps
    @property
    def deadline_ns(self):
        return self._deadline if self._deadline is not None else 0

    @deadline_ns.setter
    def deadline_ns(self, value):
        self._deadline = value

    def poll(self, now_ns):
        if self._deadline is not None and self._deadline <= now_ns:
            return self._close(self._deadline)
        return []


WRONG: dict[str, dict[str, object]] = {
    "03.drop-oldest": {
        "drop-newest": DropNewest,
        "seed-buffer-full": SeedBufferFull,
        "unbounded": Unbounded,
        "delivered-on-publish": DeliveredOnPublish,
        "counts-requested": CountsRequested,
        "keeps-slots": KeepsSlots,
        "zero-capacity-allowed": ZeroCapacityAllowed,
    },
    "03.tumbling-vwap": {
        "aligned-to-first-event": _windows(lambda t, w, first: first + (t - first) // w * w),
        "boundary-joins-previous": _windows(lambda t, w, first: max(0, (t - 1) // w * w)),
        "arrival-order": _arrival_order,
        "float-vwap": _windows(lambda t, w, first: t - t % w, exact=False),
        "unweighted-mean": _windows(lambda t, w, first: t - t % w, weighted=False),
        "empty-windows": _with_empty_windows,
        "no-width-check": _no_width_check,
    },
    "03.micro-batcher": {
        "seed-ticker": _batcher("TickerBatcher", ticker=True),
        "rearms-every-item": _batcher("RearmBatcher", rearm=True),
        "closes-at-call-time": _batcher("LateBatcher", at_call_time=True),
        "tie-joins-old-batch": _batcher("TieBatcher", tie_joins=True),
        "close-drops-the-rest": _batcher("NoStopBatcher", drops_on_close=True),
        "size-only": _batcher("SizeOnlyBatcher", size_only=True),
        "zero-deadline-when-idle": SpinsWithZeroDeadline,
        "accepts-bad-settings": _batcher("TrustingBatcher", validates=False),
    },
}
