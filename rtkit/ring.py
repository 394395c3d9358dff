"""RingBuffer: a single-producer, single-consumer ring of numbers, usable from numba.

A preallocated array of ``capacity`` slots (a power of two) and two
free-running int64 counters: ``head`` counts the items ever pushed, ``tail``
the items ever popped. Counter ``c`` lives in slot ``c & mask``, where
``mask = capacity - 1``: one AND instead of a modulo, as in the LMAX
Disruptor. The counters are never wrapped, so

* empty  <=>  ``head == tail``
* full   <=>  ``head - tail == capacity``

and every slot is usable, capacity 1 included. Seed 000's ring tests
``(head + 1) & mask == tail & mask`` on free-running counters: it wastes a
slot, and a capacity-1 ring accepts nothing (S000-50). An int64 counter
overflows after 2**63 items: 292 years at a billion items a second.

Invariant (:meth:`RingBuffer._check`): ``0 <= tail <= head``,
``depth = head - tail <= high_water <= capacity``, ``pushed == head``,
``popped == tail``.

**One producer, one consumer (SPSC).** Only the producer writes ``head``,
only the consumer writes ``tail``: that is why no lock is needed, and it is
also the limit. Two producers can read the same ``head`` and fill the same
slot, so one item is silently lost; two consumers can pop the same item.
Seed 000 sells this ring for "concurrent access" without saying so
(S000-49). Many producers or consumers: :class:`rtkit.queues.BoundedQueue`.

**Publication order.** The producer writes the slot *first* and publishes
the new ``head`` *second*; the consumer reads ``head``, then the slot, then
publishes the new ``tail``. So the consumer never sees an index before the
data it covers, and the producer never reuses a slot the consumer is still
reading. Between the threads of one CPython process the GIL orders these
steps (every method and every numba function here runs holding the GIL).
Across processes nothing does: see :mod:`rtkit.shmring`. Slots hold numbers,
not references, so a popped slot keeps nothing alive (S000-52 does not apply).

**Two ways in, one state.** The ring is plain arrays: ``data`` (the slots)
and ``state``, int64 ``[head, tail, rejected, high_water]``. The methods of
:class:`RingBuffer` are the readable Python reference; :func:`ring_push`,
:func:`ring_pop`, :func:`ring_push_many` and :func:`ring_pop_many` are the
same algorithm compiled with numba, for your own ``@njit`` loops
(``data, state, mask = ring.core``). Both act on the same arrays, so they
mix freely; a differential test holds them to identical results. The numba
functions validate nothing: that is the caller's side of the bargain.

Seed 000 section 4 (S000-49..53); lesson 04.

Example:
    >>> rb = RingBuffer(4)
    >>> [rb.push(x) for x in range(5)]
    [True, True, True, True, False]
    >>> rb.pop(), len(rb), rb.stats().rejected
    (0, 3, 1)
    >>> rb.push_many(np.arange(10, 13))   # room for one more
    1
    >>> rb.pop_many(8)
    array([ 1,  2,  3, 10])
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from rtkit.errors import ConfigError, QueueEmpty, ValueRangeError

__all__ = [
    "DTYPES",
    "RingBuffer",
    "RingStats",
    "ring_pop",
    "ring_pop_many",
    "ring_push",
    "ring_push_many",
]

#: The element types a ring holds: fixed-size numbers that numba and
#: ``memoryview`` both handle, at most 8 bytes, so a slot is never torn.
DTYPES: tuple[np.dtype, ...] = tuple(
    np.dtype(t)
    for t in (
        "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float32", "float64",
    )
)  # fmt: skip

# Positions in the state array. Module constants: numba folds them.
HEAD, TAIL, REJECTED, HIGH_WATER = 0, 1, 2, 3
STATE_LEN = 4

_NO_DEFAULT: Any = object()


@dataclass(frozen=True)
class RingStats:
    """A snapshot of a ring's counters.

    ``rejected`` counts the items offered that did not fit (push returned
    False, or push_many took only some); nothing is dropped silently.
    """

    capacity: int
    depth: int
    pushed: int
    popped: int
    rejected: int
    high_water: int


def check_capacity(capacity: object) -> int:
    """Return ``capacity`` if it is a power of two >= 1, else raise ConfigError.

    Example:
        >>> check_capacity(3)
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: capacity must be a power of two >= 1, got 3 \
(RingBuffer.next_pow2(3) == 4)
    """
    if isinstance(capacity, bool) or not isinstance(capacity, numbers.Integral):
        raise ConfigError(f"capacity must be a power of two >= 1, got {capacity!r}")
    value = int(capacity)
    if value > 2**62:
        raise ConfigError(f"capacity must be <= 2**62, got {value}")
    if value < 1 or value & (value - 1):
        hint = f" (RingBuffer.next_pow2({value}) == {next_pow2(value)})" if value >= 1 else ""
        raise ConfigError(f"capacity must be a power of two >= 1, got {value}{hint}")
    return value


def next_pow2(n: int) -> int:
    """The smallest power of two >= ``n`` (1 for ``n <= 1``).

    Example:
        >>> [next_pow2(n) for n in (0, 1, 3, 1000, 1024)]
        [1, 1, 4, 1024, 1024]
    """
    return 1 if n <= 1 else 1 << (int(n) - 1).bit_length()


def check_dtype(dtype: object) -> np.dtype:
    """Return ``dtype`` as a numpy dtype if it is one of :data:`DTYPES`, else ConfigError.

    Example:
        >>> check_dtype("float32")
        dtype('float32')
    """
    try:
        dt = None if dtype is None else np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        dt = None
    if dt is None or dt not in DTYPES or not dt.isnative:
        raise ConfigError(
            f"dtype must be a native numeric dtype (int8..int64, uint8..uint64, "
            f"float32, float64), got {dtype!r}"
        )
    return dt


def as_values(values: object, dtype: np.dtype) -> np.ndarray:
    """``values`` as a 1-d array that stores into ``dtype`` without loss, else ValueRangeError.

    Same dtype, or one numpy casts "safe"ly (int32 into an int64 ring, say).
    Float into an integer ring, or int64 into int32, is refused: truncating
    or wrapping someone's numbers is a bug, not a convenience.
    """
    if type(values) is np.ndarray and values.dtype == dtype and values.ndim == 1:
        return values
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueRangeError(f"values must be a 1-d array, got shape {arr.shape}")
    if arr.size and not np.can_cast(arr.dtype, dtype, casting="safe"):
        raise ValueRangeError(
            f"values of dtype {arr.dtype} do not fit a {dtype} ring without loss; "
            f"convert them first (values.astype(np.{dtype}))"
        )
    return arr


def check_out(max_n: object, out: np.ndarray | None, dtype: np.dtype) -> int:
    """Validate ``pop_many``'s arguments; return ``max_n`` as an int."""
    if type(max_n) is not int:
        if isinstance(max_n, bool) or not isinstance(max_n, numbers.Integral):
            raise ConfigError(f"max_n must be an integer >= 0, got {max_n!r}")
        max_n = int(max_n)
    if max_n < 0:
        raise ConfigError(f"max_n must be an integer >= 0, got {max_n}")
    if out is not None and not (
        type(out) is np.ndarray
        and out.dtype == dtype
        and out.ndim == 1
        and len(out) >= max_n
        and out.flags.writeable
    ):
        raise ConfigError(
            f"out must be a writeable 1-d {dtype} array of length >= max_n ({max_n}), "
            f"got {type(out).__name__} {getattr(out, 'dtype', '')} {getattr(out, 'shape', '')}"
        )
    return max_n


# ----------------------------------------------------------------- numba core


@njit(cache=True)
def ring_push(data, state, mask, value):  # pragma: no cover - compiled
    """Push ``value``; True if it fitted, False (and counted) if the ring is full. O(1)."""
    head = state[HEAD]
    tail = state[TAIL]
    if head - tail > mask:
        state[REJECTED] += 1
        return False
    data[head & mask] = value  # the data first ...
    head += 1
    state[HEAD] = head  # ... then the index that publishes it
    if head - tail > state[HIGH_WATER]:
        state[HIGH_WATER] = head - tail
    return True


@njit(cache=True)
def ring_pop(data, state, mask):  # pragma: no cover - compiled
    """Pop the oldest item: ``(True, item)``, or ``(False, 0)`` when empty. O(1)."""
    tail = state[TAIL]
    if state[HEAD] == tail:
        return False, data.dtype.type(0)
    value = data[tail & mask]  # read the slot before releasing it
    state[TAIL] = tail + 1
    return True, value


@njit(cache=True)
def ring_push_many(data, state, mask, values):  # pragma: no cover - compiled
    """Push as many of ``values`` as fit, in order; return how many. O(n)."""
    head = state[HEAD]
    tail = state[TAIL]
    k = values.shape[0]
    n = min(k, mask + 1 - (head - tail))
    if n > 0:
        start = head & mask
        first = min(n, mask + 1 - start)
        data[start : start + first] = values[:first]
        data[: n - first] = values[first:n]
        head += n
        state[HEAD] = head
        if head - tail > state[HIGH_WATER]:
            state[HIGH_WATER] = head - tail
    if n < k:
        state[REJECTED] += k - n
    return n


@njit(cache=True)
def ring_pop_many(data, state, mask, out):  # pragma: no cover - compiled
    """Pop up to ``len(out)`` items into ``out[:n]``; return ``n``. O(n)."""
    tail = state[TAIL]
    n = min(out.shape[0], state[HEAD] - tail)
    if n > 0:
        start = tail & mask
        first = min(n, mask + 1 - start)
        out[:first] = data[start : start + first]
        out[first:n] = data[: n - first]
        state[TAIL] = tail + n
    return n


# ------------------------------------------------------------------ reference


class RingBuffer:
    """A fixed-capacity SPSC ring of numbers (see the module docstring).

    ``push``/``push_many`` never wait: a full ring returns False (or a short
    count) and counts the refusal. ``pop`` raises
    :class:`~rtkit.errors.QueueEmpty` on an empty ring, or returns
    ``default`` if one is given; ``pop_many`` returns a shorter (maybe empty)
    array. There is nothing to wait for in one thread; waiting across
    processes is :class:`rtkit.shmring.SharedRingBuffer`'s ``put``/``get``.

    Example:
        >>> rb = RingBuffer(2, dtype=np.float64)
        >>> rb.push(1.5), rb.pop(), rb.pop(None)
        (True, 1.5, None)
        >>> RingBuffer(1000)
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: capacity must be a power of two >= 1, got 1000 \
(RingBuffer.next_pow2(1000) == 1024)
    """

    next_pow2 = staticmethod(next_pow2)

    def __init__(self, capacity: int, dtype: Any = np.int64) -> None:
        self.capacity = check_capacity(capacity)
        self.dtype = check_dtype(dtype)
        self.mask = self.capacity - 1
        self._data = np.zeros(self.capacity, dtype=self.dtype)
        self._state = np.zeros(STATE_LEN, dtype=np.int64)
        # memoryviews read and write Python ints and floats without numpy
        # scalar overhead, and refuse values that do not fit the dtype.
        self._slots = memoryview(self._data)
        self._st = memoryview(self._state)
        self._scratch = memoryview(np.zeros(1, dtype=self.dtype))

    @property
    def core(self) -> tuple[np.ndarray, np.ndarray, int]:
        """``(data, state, mask)``, for the numba functions :func:`ring_push` and friends.

        Example:
            >>> rb = RingBuffer(8)
            >>> data, state, mask = rb.core
            >>> ring_push(data, state, mask, 42), rb.pop()
            (True, 42)
        """
        return self._data, self._state, self.mask

    def _refuse(self, value: object) -> ValueRangeError:
        return ValueRangeError(f"value {value!r} does not fit a {self.dtype} ring")

    def push(self, value: Any) -> bool:
        """Append ``value``; return False (counted in ``rejected``) if the ring is full.

        A value that does not fit the dtype (2.5 in an int ring, -1 in a
        uint ring) raises :class:`~rtkit.errors.ValueRangeError`, full or
        not, and changes nothing. Runtime complexity: O(1).
        """
        st = self._st
        head = st[HEAD]
        tail = st[TAIL]
        if head - tail == self.capacity:
            try:
                self._scratch[0] = value  # a bad value is an error even when full
            except (TypeError, ValueError, OverflowError):
                raise self._refuse(value) from None
            st[REJECTED] += 1
            return False
        try:
            self._slots[head & self.mask] = value  # the data first ...
        except (TypeError, ValueError, OverflowError):
            raise self._refuse(value) from None
        head += 1
        st[HEAD] = head  # ... then the index that publishes it
        if head - tail > st[HIGH_WATER]:
            st[HIGH_WATER] = head - tail
        return True

    def pop(self, default: Any = _NO_DEFAULT) -> Any:
        """Remove and return the oldest item (a Python int or float).

        On an empty ring: return ``default`` if given, else raise
        :class:`~rtkit.errors.QueueEmpty`. Runtime complexity: O(1).
        """
        st = self._st
        tail = st[TAIL]
        if st[HEAD] == tail:
            if default is _NO_DEFAULT:
                raise QueueEmpty("ring empty")
            return default
        value = self._slots[tail & self.mask]  # read the slot before releasing it
        st[TAIL] = tail + 1
        return value

    def push_many(self, values: Any) -> int:
        """Append as many of ``values`` as fit, in order; return how many.

        The rest (``len(values) - n``) are counted in ``rejected``; the caller
        still holds them. ``values`` must store into the dtype without loss,
        else :class:`~rtkit.errors.ValueRangeError` and nothing changes. At
        most two slice copies (the wrap-around). Runtime complexity: O(n).
        """
        values = as_values(values, self.dtype)
        st = self._st
        head = st[HEAD]
        tail = st[TAIL]
        k = len(values)
        n = min(k, self.capacity - (head - tail))
        if n > 0:
            start = head & self.mask
            first = min(n, self.capacity - start)
            self._data[start : start + first] = values[:first]
            if first < n:
                self._data[: n - first] = values[first:n]
            head += n
            st[HEAD] = head
            if head - tail > st[HIGH_WATER]:
                st[HIGH_WATER] = head - tail
        if n < k:
            st[REJECTED] += k - n
        return n

    def pop_many(self, max_n: int, out: np.ndarray | None = None) -> np.ndarray:
        """Remove and return up to ``max_n`` of the oldest items, oldest first.

        Returns a new array, or ``out[:n]`` when ``out`` (a writeable 1-d array
        of the ring's dtype, at least ``max_n`` long) is given, so a consumer
        loop allocates nothing. At most two slice copies. Runtime
        complexity: O(n).
        """
        max_n = check_out(max_n, out, self.dtype)
        st = self._st
        tail = st[TAIL]
        n = min(max_n, st[HEAD] - tail)
        result = np.empty(n, dtype=self.dtype) if out is None else out[:n]
        if n > 0:
            start = tail & self.mask
            first = min(n, self.capacity - start)
            result[:first] = self._data[start : start + first]
            if first < n:
                result[first:] = self._data[: n - first]
            st[TAIL] = tail + n
        return result

    def __len__(self) -> int:
        return self._st[HEAD] - self._st[TAIL]

    def __repr__(self) -> str:
        return f"RingBuffer(capacity={self.capacity}, dtype={self.dtype}, depth={len(self)})"

    def stats(self) -> RingStats:
        """A snapshot of depth and counters.

        Example:
            >>> rb = RingBuffer(2)
            >>> rb.push_many([1, 2, 3])
            2
            >>> rb.stats()
            RingStats(capacity=2, depth=2, pushed=2, popped=0, rejected=1, high_water=2)
        """
        head, tail, rejected, high_water = (int(x) for x in self._state)
        return RingStats(self.capacity, head - tail, head, tail, rejected, high_water)

    def _check(self) -> None:
        """Assert the invariants; tests call this after every operation."""
        head, tail, rejected, high_water = (int(x) for x in self._state)
        assert self._data.shape == (self.capacity,) and self.mask == self.capacity - 1
        assert self.capacity & self.mask == 0, "capacity not a power of two"
        assert 0 <= tail <= head, "tail ahead of head"
        assert head - tail <= self.capacity, "depth above capacity"
        assert head - tail <= high_water <= self.capacity, "high water out of range"
        assert rejected >= 0, "negative rejected count"
