"""SharedRingBuffer: the SPSC ring across processes, over ``multiprocessing.shared_memory``.

:class:`rtkit.ring.RingBuffer`'s algorithm (free-running counters, a
power-of-two capacity, every slot usable) with its state in one named
segment, so a producer process and a consumer process move numpy batches
without pickling, pipes or locks::

    bytes   0..127  config: magic, layout version, capacity, itemsize, dtype, data offset
    bytes 128..255  head, rejected, high_water   (only the producer writes this line)
    bytes 256..383  tail                          (only the consumer writes this line)
    bytes 384..     data: capacity slots

``head`` and ``tail`` are written by different cores, so each has its own
cache line; on a shared line each write would evict the other side's copy
(false sharing, S000-22, S000-51). 128 bytes, not 64: Intel's adjacent-line
prefetcher moves lines in pairs. Each side also *caches* the other's index
and re-reads it only when its copy says the ring is too full (producer) or
too empty (consumer) for the request: a stale copy is safe, only pessimistic.

**Invariant** (:meth:`SharedRingBuffer._check`, while both sides are idle):
``0 <= tail <= head``, ``depth <= high_water <= capacity``; ``high_water`` is
the deepest the producer saw through its cached ``tail`` (an upper bound).
``stats()`` reads tail before head, so its depth is never negative, but it is
approximate while the other side runs (S000-53).

**Memory ordering: what this relies on.** The producer copies the data into
the slots, then stores the new ``head`` (one aligned 8-byte store); the
consumer loads ``head``, copies the data out, then stores the new ``tail``.
Each step is a separate C call in CPython, so the compiler cannot reorder
them; the CPU must not either. On x86-64 (TSO) aligned 8-byte stores are not
torn, stores are not reordered with stores, loads not with loads, and no
store moves before an earlier load: the order above, for free. A weakly
ordered CPU (ARM, POWER) needs a *release* store of ``head`` and an *acquire*
load of it (C11 ``memory_order_release``/``acquire``; Go's atomics in the
seed, S000-49), and numpy and memoryview give no fences. So the ring checks
``platform.machine()``: silent on x86; elsewhere it still runs, as a teaching
model, and says why it is not a guarantee with a :class:`RuntimeWarning`.

**One producer, one consumer.** Nothing stops a second producer process
from attaching and pushing; it would lose items exactly as S000-49 shows.

**Lifetime.** :meth:`~SharedRingBuffer.create` makes and owns the segment;
:meth:`~SharedRingBuffer.attach` maps it by name. The owner's ``close``
detaches *and unlinks* the name (attached processes keep their mapping until
they close); an attacher's ``close`` only detaches, and it may not unlink.
The owner's segment is unlinked even if ``close`` is never reached: by the
context manager on an exception, by a ``weakref.finalize`` guard when the
object is collected or the interpreter exits, by multiprocessing's resource
tracker if the owning process is killed. Attaching registers nothing with
that tracker: on Python 3.10-3.12 ``SharedMemory(name)`` would, and the
attacher's tracker would unlink the owner's segment when the attaching
process exits (bpo-39959; 3.13 added ``track=False``).

Seed 000 section 4 (S000-49..53); lesson 04.

Example:
    >>> with SharedRingBuffer.create(8) as producer:
    ...     consumer = SharedRingBuffer.attach(producer.name)  # another process, usually
    ...     producer.push_many(np.arange(5))
    ...     consumer.pop_many(3)
    ...     consumer.close()
    5
    array([0, 1, 2])
"""

from __future__ import annotations

import contextlib
import mmap
import numbers
import os
import platform
import sys
import warnings
import weakref
from collections.abc import Callable
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from rtkit.clock import Clock, WallClock
from rtkit.errors import Closed, ConfigError, QueueEmpty, QueueFull, StateError, ValueRangeError
from rtkit.ring import _NO_DEFAULT, RingStats, as_values, check_capacity, check_dtype, check_out

__all__ = ["SharedRingBuffer"]

MAGIC = int.from_bytes(b"rtkring\0", "little")
LAYOUT_VERSION = 1
LINE = 128  # bytes between independently written fields
# Header words (int64 indices). Config on line 0, then one line per writer.
W_MAGIC, W_CAPACITY = 0, 2  # then version 1, itemsize 3, dtype code 4, data offset 5
HEAD, REJECTED, HIGH_WATER = LINE // 8, LINE // 8 + 1, LINE // 8 + 2
TAIL = 2 * LINE // 8
DATA_OFFSET = 3 * LINE

_TSO_MACHINES = frozenset({"x86_64", "amd64", "i386", "i486", "i586", "i686", "x86"})


def _warn_if_weakly_ordered() -> None:
    machine = platform.machine()
    if machine.lower() not in _TSO_MACHINES:
        warnings.warn(
            f"shared ring on {machine}: numpy stores carry no release/acquire fences, "
            "so on a weakly ordered cpu a consumer may see an index before its data",
            RuntimeWarning,
            stacklevel=3,
        )


_NOTHING: Any = object()


def _check_timeout(timeout_ns: object) -> None:
    if timeout_ns is not None and (
        isinstance(timeout_ns, bool)
        or not isinstance(timeout_ns, numbers.Integral)
        or timeout_ns < 0
    ):
        raise ConfigError(f"timeout_ns must be None or an integer >= 0, got {timeout_ns!r}")


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name or "/" in name:
        raise ConfigError(f"name must be a non-empty string without '/', got {name!r}")


class _PosixAttachment:
    """A POSIX segment mapped by name, not registered with the resource tracker."""

    def __init__(self, name: str) -> None:
        import _posixshmem  # the module SharedMemory itself uses

        fd = _posixshmem.shm_open("/" + name, os.O_RDWR, mode=0o600)
        try:
            self.size = os.fstat(fd).st_size
            self._mmap = mmap.mmap(fd, self.size)  # ValueError if empty
        finally:
            os.close(fd)
        self.buf, self.name = memoryview(self._mmap), name

    def close(self) -> None:
        self.buf.release()
        self._mmap.close()


def _open_segment(name: str) -> Any:
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, track=False)  # type: ignore[call-arg]
    if os.name == "nt":  # no resource tracker on Windows
        return shared_memory.SharedMemory(name=name)
    return _PosixAttachment(name)


def _read_config(segment: Any) -> tuple[int, np.dtype]:
    """The capacity and dtype in a segment's header; ConfigError if it is not a ring."""
    where = f"shared memory {segment.name!r} is not an rtkit shared ring"
    if segment.size < DATA_OFFSET:
        raise ConfigError(f"{where} (too small)")
    magic, version, capacity, itemsize, code, offset = np.frombuffer(
        segment.buf, np.int64, count=6
    ).tolist()
    if magic != MAGIC or version != LAYOUT_VERSION:
        raise ConfigError(f"{where} of layout {LAYOUT_VERSION} (magic or version differ)")
    try:
        capacity = check_capacity(capacity)
        dtype = check_dtype(code.to_bytes(8, "little", signed=True).rstrip(b"\0").decode())
    except (ConfigError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where} ({exc})") from None
    if dtype.itemsize != itemsize or offset != DATA_OFFSET:
        raise ConfigError(f"{where} (inconsistent header)")
    if segment.size < DATA_OFFSET + capacity * itemsize:
        raise ConfigError(f"{where} (segment too small)")
    return capacity, dtype


class _Mapping:
    """Every view into one segment, released together (unmapping needs no view left).

    Closing and, for the owner, unlinking happen exactly once: from ``close``
    or from the ``weakref.finalize`` guard, which holds this, not the ring.
    """

    def __init__(self, segment: Any, capacity: int, dtype: np.dtype, owner: bool) -> None:
        self.segment, self.must_unlink, self.pid = segment, owner, os.getpid()
        self.hdr = segment.buf[:DATA_OFFSET].cast("q")
        self.data = np.frombuffer(segment.buf, dtype=dtype, count=capacity, offset=DATA_OFFSET)
        self.slots = memoryview(self.data)

    def release(self) -> None:
        self.slots.release()
        self.hdr.release()
        self.data = None
        self.segment.close()
        if self.must_unlink and os.getpid() == self.pid:  # not in a forked child
            self.must_unlink = False
            with contextlib.suppress(FileNotFoundError):  # someone removed it already
                self.segment.unlink()


class _ClosedMapping:
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise Closed("shared ring is closed")


_CLOSED = _ClosedMapping()


class SharedRingBuffer:
    """A single-producer, single-consumer ring in a named shared-memory segment.

    Built with :meth:`create` (the owner) or :meth:`attach` (by name), never
    directly. Pickling one sends its name: the receiving process attaches.

    Non-blocking, the same as :class:`~rtkit.ring.RingBuffer`: ``push``
    (False when full), ``pop`` (:class:`~rtkit.errors.QueueEmpty` or
    ``default``), ``push_many`` (how many fitted), ``pop_many`` (what there
    was). Blocking, with ``timeout_ns`` (None: wait forever): ``put`` (raises
    :class:`~rtkit.errors.QueueFull` at the timeout), ``get``
    (:class:`~rtkit.errors.QueueEmpty`), ``put_many`` (returns how many went
    in before the timeout), ``get_many`` (waits for at least one item; empty
    at the timeout). Waiting spins ``spin_checks`` times re-reading the other
    side's index, then parks in naps that double from ``park_min_ns`` to
    ``park_max_ns`` (spin-then-park: a few microseconds of a core buys fast
    wake-ups; a long wait costs no core). Time comes from ``clock``.

    Example:
        >>> from rtkit.clock import VirtualClock
        >>> ring = SharedRingBuffer.create(2, dtype=np.float64, clock=VirtualClock())
        >>> ring.put(1.0), ring.push(2.0), ring.push(3.0)
        (None, True, False)
        >>> ring.put(3.0, timeout_ns=1_000)
        Traceback (most recent call last):
        ...
        rtkit.errors.QueueFull: shared ring full (capacity 2) after 1000 ns
        >>> ring.get_many(8)
        array([1., 2.])
        >>> ring.close()
    """

    spin_checks = 200
    park_min_ns = 20_000
    park_max_ns = 1_000_000

    def __init__(self, segment: Any, owner: bool, clock: Clock | None) -> None:
        self.capacity, self.dtype = _read_config(segment)
        self.name: str = segment.name
        self.mask = self.capacity - 1
        self.owner = owner
        self.clock: Clock = WallClock(spin_ns=0) if clock is None else clock
        self._mapping = _Mapping(segment, self.capacity, self.dtype, owner)
        self._v: Any = self._mapping  # what the hot paths use; _CLOSED after close
        self._finalizer = weakref.finalize(self, self._mapping.release)
        self._scratch = memoryview(np.zeros(1, dtype=self.dtype))
        self._tail_seen = self._v.hdr[TAIL]  # the producer's copy of the consumer's index
        self._head_seen = self._v.hdr[HEAD]  # the consumer's copy of the producer's index

    @classmethod
    def create(
        cls,
        capacity: int,
        dtype: Any = np.int64,
        name: str | None = None,
        clock: Clock | None = None,
    ) -> SharedRingBuffer:
        """Create and own a new segment (a random name unless ``name`` is given).

        Raises :class:`~rtkit.errors.ConfigError` for a capacity that is not a
        power of two, a non-numeric dtype, or a name already in use.
        """
        capacity, dtype = check_capacity(capacity), check_dtype(dtype)
        if name is not None:
            _check_name(name)
        _warn_if_weakly_ordered()
        size = DATA_OFFSET + capacity * dtype.itemsize
        try:
            segment = shared_memory.SharedMemory(name=name, create=True, size=size)
        except FileExistsError:
            raise ConfigError(f"shared memory {name!r} already exists; pick another name") from None
        try:
            config = np.frombuffer(segment.buf, np.int64, count=6)
            code = int.from_bytes(dtype.str.encode().ljust(8, b"\0"), "little")
            config[1:] = (LAYOUT_VERSION, capacity, dtype.itemsize, code, DATA_OFFSET)
            config[W_MAGIC] = MAGIC  # last: an attacher never sees a half-written header
            del config
            return cls(segment, owner=True, clock=clock)
        except BaseException:
            segment.unlink()  # the name, at least, never leaks
            with contextlib.suppress(BufferError):
                segment.close()
            raise

    @classmethod
    def attach(cls, name: str, clock: Clock | None = None) -> SharedRingBuffer:
        """Map the ring another process created under ``name``; never unlinks it.

        Raises :class:`~rtkit.errors.ConfigError` if there is no such segment
        or it is not a shared ring.
        """
        _check_name(name)
        _warn_if_weakly_ordered()
        try:
            segment = _open_segment(name)
        except FileNotFoundError:
            raise ConfigError(
                f"no shared ring named {name!r} (never created, or unlinked)"
            ) from None
        except ValueError:
            raise ConfigError(f"shared memory {name!r} is not an rtkit shared ring") from None
        try:
            return cls(segment, owner=False, clock=clock)
        except BaseException:
            segment.close()
            raise

    def __reduce__(self) -> tuple[Callable[..., SharedRingBuffer], tuple[str]]:
        return SharedRingBuffer.attach, (self.name,)

    # ------------------------------------------------------------ producer

    def _refuse(self, value: object) -> ValueRangeError:
        return ValueRangeError(f"value {value!r} does not fit a {self.dtype} ring")

    def _room(self, head: int, want: int) -> int:
        """Free slots, re-reading the consumer's tail only if the cached one says too few."""
        free = self.capacity - (head - self._tail_seen)
        if free < want:
            self._tail_seen = self._v.hdr[TAIL]
            free = self.capacity - (head - self._tail_seen)
        return free

    def _publish(self, hdr: memoryview, head: int) -> None:
        hdr[HEAD] = head  # after the data: this store is what the consumer sees
        if head - self._tail_seen > hdr[HIGH_WATER]:
            hdr[HIGH_WATER] = head - self._tail_seen

    def _push_one(self, value: Any) -> bool:
        v = self._v
        hdr = v.hdr
        head = hdr[HEAD]
        full = self._room(head, 1) < 1
        try:
            if full:
                self._scratch[0] = value  # a bad value is an error, full or not
            else:
                v.slots[head & self.mask] = value
        except (TypeError, ValueError, OverflowError):
            raise self._refuse(value) from None
        if full:
            return False
        self._publish(hdr, head + 1)
        return True

    def push(self, value: Any) -> bool:
        """Append ``value``; False (counted in ``rejected``) if full. Runtime complexity: O(1).

        A value that does not fit the dtype raises
        :class:`~rtkit.errors.ValueRangeError` and changes nothing.
        """
        if self._push_one(value):
            return True
        self._v.hdr[REJECTED] += 1
        return False

    def _push_some(self, values: np.ndarray) -> int:
        v = self._v
        hdr = v.hdr
        head = hdr[HEAD]
        n = min(len(values), self._room(head, len(values)))
        if n > 0:
            start = head & self.mask
            first = min(n, self.capacity - start)
            v.data[start : start + first] = values[:first]
            if first < n:
                v.data[: n - first] = values[first:n]
            self._publish(hdr, head + n)
        return n

    def push_many(self, values: Any) -> int:
        """Append as many of ``values`` as fit; return how many (the rest count as rejected).

        Values must store into the dtype without loss, else
        :class:`~rtkit.errors.ValueRangeError` and nothing changes. At most
        two slice copies, one index store. Runtime complexity: O(n).
        """
        values = as_values(values, self.dtype)
        n = self._push_some(values)
        if n < len(values):
            self._v.hdr[REJECTED] += len(values) - n
        return n

    def put(self, value: Any, timeout_ns: int | None = None) -> None:
        """Append ``value``, waiting for room; :class:`~rtkit.errors.QueueFull` at the timeout."""
        _check_timeout(timeout_ns)
        if not self._wait(lambda: self._push_one(value), TAIL, timeout_ns):
            self._v.hdr[REJECTED] += 1
            raise QueueFull(f"shared ring full (capacity {self.capacity}) after {timeout_ns} ns")

    def put_many(self, values: Any, timeout_ns: int | None = None) -> int:
        """Append all of ``values``, waiting for room; return how many went in.

        That is ``len(values)`` unless ``timeout_ns`` ran out first; the rest
        are counted as rejected, and the caller still holds them.
        """
        _check_timeout(timeout_ns)
        values = as_values(values, self.dtype)
        k = len(values)
        done = self._push_some(values)
        if done < k:

            def attempt() -> bool:
                nonlocal done
                done += self._push_some(values[done:])
                return done == k

            self._wait(attempt, TAIL, timeout_ns)
            if done < k:
                self._v.hdr[REJECTED] += k - done
        return done

    # ------------------------------------------------------------ consumer

    def _available(self, tail: int, want: int) -> int:
        """Items ready, re-reading the producer's head only if the cached one says too few."""
        ready = self._head_seen - tail
        if ready < want:
            self._head_seen = self._v.hdr[HEAD]
            ready = self._head_seen - tail
        return ready

    def pop(self, default: Any = _NO_DEFAULT) -> Any:
        """Remove and return the oldest item; ``default`` or QueueEmpty when empty. O(1)."""
        v = self._v
        hdr = v.hdr
        tail = hdr[TAIL]
        if self._available(tail, 1) < 1:
            if default is _NO_DEFAULT:
                raise QueueEmpty("shared ring empty")
            return default
        value = v.slots[tail & self.mask]  # read the slot, then release it
        hdr[TAIL] = tail + 1
        return value

    def pop_many(self, max_n: int, out: np.ndarray | None = None) -> np.ndarray:
        """Remove up to ``max_n`` of the oldest items: a new array, or ``out[:n]``.

        At most two slice copies, one index store. Runtime complexity: O(n).
        """
        max_n = check_out(max_n, out, self.dtype)
        v = self._v
        hdr = v.hdr
        tail = hdr[TAIL]
        n = min(max_n, self._available(tail, max_n))
        result = np.empty(n, dtype=self.dtype) if out is None else out[:n]
        if n > 0:
            start = tail & self.mask
            first = min(n, self.capacity - start)
            result[:first] = v.data[start : start + first]
            if first < n:
                result[first:] = v.data[: n - first]
            hdr[TAIL] = tail + n  # after the copy: the producer may now reuse the slots
        return result

    def get(self, timeout_ns: int | None = None) -> Any:
        """Remove and return the oldest item, waiting; QueueEmpty at the timeout."""
        _check_timeout(timeout_ns)
        box: list[Any] = []

        def attempt() -> bool:
            value = self.pop(_NOTHING)
            if value is _NOTHING:
                return False
            box.append(value)
            return True

        if self._wait(attempt, HEAD, timeout_ns):
            return box[0]
        raise QueueEmpty(f"shared ring empty after {timeout_ns} ns")

    def get_many(
        self, max_n: int, timeout_ns: int | None = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Wait until at least one item is ready, then :meth:`pop_many`; empty at the timeout."""
        _check_timeout(timeout_ns)
        max_n = check_out(max_n, out, self.dtype)
        if max_n > 0:
            self._wait(lambda: self._available(self._v.hdr[TAIL], 1) > 0, HEAD, timeout_ns)
        return self.pop_many(max_n, out)

    # ------------------------------------------------------------- waiting

    def _wait(self, attempt: Callable[[], bool], watch: int, timeout_ns: int | None) -> bool:
        """Retry ``attempt`` until it returns True: spin, then park; False at the timeout.

        ``watch`` is the other side's index: when it moves, the other side is
        active, so waiting goes back to spinning.
        """
        clock, hdr = self.clock, self._v.hdr
        deadline = None if timeout_ns is None else clock.now_ns() + timeout_ns
        seen, spins, nap = hdr[watch], 0, self.park_min_ns
        while not attempt():
            now = clock.now_ns()
            if deadline is not None and now >= deadline:
                return False
            if hdr[watch] != seen:
                seen, spins, nap = hdr[watch], 0, self.park_min_ns
            elif spins < self.spin_checks:
                spins += 1
            else:
                clock.sleep_until(now + nap if deadline is None else min(now + nap, deadline))
                nap = min(2 * nap, self.park_max_ns)
        return True

    # ------------------------------------------------------------ lifetime

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run (or the guard released the segment)."""
        return not self._finalizer.alive

    def close(self) -> None:
        """Detach; the owner also unlinks the name. Idempotent."""
        self._v = _CLOSED
        self._finalizer()

    def unlink(self) -> None:
        """Owner only: remove the name now (attached processes keep their mapping).

        Unlinking right after the consumer has attached means not even a
        crash can leave the segment behind.
        """
        if not self.owner:
            raise StateError("only the process that created a shared ring may unlink it")
        if self._mapping.must_unlink:
            self._mapping.must_unlink = False
            self._mapping.segment.unlink()

    def __enter__(self) -> SharedRingBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------- inspection

    def __len__(self) -> int:
        hdr = self._v.hdr
        tail = hdr[TAIL]
        return min(max(hdr[HEAD] - tail, 0), self.capacity)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"depth={len(self)}"
        role = "owner" if self.owner else "attached"
        return (
            f"SharedRingBuffer(name={self.name!r}, capacity={self.capacity}, "
            f"dtype={self.dtype}, {role}, {state})"
        )

    def stats(self) -> RingStats:
        """A snapshot of depth and counters (approximate while the other side runs)."""
        hdr = self._v.hdr
        tail = hdr[TAIL]  # tail before head: depth is never negative
        head = hdr[HEAD]
        depth = min(head - tail, self.capacity)
        return RingStats(self.capacity, depth, head, tail, hdr[REJECTED], hdr[HIGH_WATER])

    def _check(self) -> None:
        """Assert the invariants; valid while neither side is mid-operation."""
        hdr = self._v.hdr
        assert hdr[W_MAGIC] == MAGIC and hdr[W_CAPACITY] == self.capacity, "header damaged"
        head, tail, high_water = hdr[HEAD], hdr[TAIL], hdr[HIGH_WATER]
        assert 0 <= tail <= head, "tail ahead of head"
        assert head - tail <= high_water <= self.capacity, "depth or high water out of range"
        assert hdr[REJECTED] >= 0, "negative rejected count"
        assert self._tail_seen <= tail and self._head_seen <= head, "cached index ahead"
