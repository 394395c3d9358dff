"""Object pools, buffer arenas and garbage-collector pauses for the hot path.

A pool trades memory for predictability: everything the hot path needs is
built once, at start-up, and recycled; nothing is allocated (and nothing
becomes garbage) while latency matters.

Seed 000 section 4 calls ``sync.Pool`` an object pool (S000-54). It is a
cache: the garbage collector may empty it at any time and ``Get`` may
allocate. The seed resets objects when they are handed *out* (S000-55), so a
pooled object keeps its data and references while it sits idle, and a
second pool type stamps ``Created`` on every ``Get`` (S000-56). Here:

* :class:`ObjectPool` is a fixed-capacity free list filled at construction,
  with a named policy for an empty free list (``raise``, ``grow`` with a
  counted miss, or ``block``); objects are reset when they are *released*;
  releasing an object twice, or one the pool never gave out, is an error that
  changes nothing.
* :class:`BufferArena` hands out preallocated NumPy buffers (views of one
  block, every page touched at construction) under the same rules.
* :func:`gc_paused` switches the cyclic garbage collector off (and freezes
  what is alive) for a latency-critical section.

Invariant (``_check``): every object the pool owns is either on the free list
or in use, never both; ``size == free + in_use == capacity + grown``;
``acquired - released == in_use <= high_water <= size``.

Lesson 04 (queues and memory) uses this module.

Example:
    >>> pool = ObjectPool(lambda: bytearray(4), lambda b: b.__setitem__(slice(None), bytes(4)), 2)
    >>> with pool.borrow() as buf:
    ...     buf[0] = 7
    >>> pool.stats().hits, pool.stats().free
    (1, 2)
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from rtkit.errors import ConfigError, PoolExhausted, StateError, check_choice, check_int

__all__ = [
    "EMPTY_POLICIES",
    "ArenaStats",
    "BufferArena",
    "ObjectPool",
    "PoolStats",
    "gc_paused",
]

T = TypeVar("T")

EMPTY_POLICIES = ("raise", "grow", "block")


@dataclass(frozen=True)
class PoolStats:
    """A snapshot of a pool's counters.

    ``capacity`` objects were built at construction and ``grown`` since (only
    under ``on_empty="grow"``), so the pool owns ``size`` objects. A *hit* is
    an acquire served at once from the free list; a *miss* is one that found
    it empty (and then grew, waited or raised, by policy).
    """

    capacity: int
    size: int
    free: int
    in_use: int
    hits: int
    misses: int
    grown: int
    high_water: int


class ObjectPool(Generic[T]):
    """A fixed set of reusable objects, built up front, handed out and taken back.

    ``factory()`` builds one object; it is called ``capacity`` times here and
    never again unless ``on_empty="grow"``. ``reset(obj)`` runs on
    :meth:`release`, so an idle object holds no stale data or references and
    the next user gets a clean one; pass ``None`` if there is nothing to clear.

    When the free list is empty, ``on_empty`` decides:

    * ``"raise"``: fail fast with :class:`~rtkit.errors.PoolExhausted` (the pool
      was sized too small: the hot path must not allocate, so say so);
    * ``"grow"``: build one more object with ``factory`` and count the miss
      (the pool keeps it afterwards; ``stats().grown`` is the metric to watch);
    * ``"block"``: wait until another thread releases one.

    Objects are tracked by identity (``id``), so they need not be hashable,
    and the pool keeps a reference to every object it owns: an id cannot be
    reused while the pool holds it.

    Thread-safe: every operation holds one lock for O(1) work (plus
    ``reset``, which runs under it, so keep ``reset`` short). An uncontended
    lock costs about as much as a do-nothing Python ``with`` block, so an
    unlocked variant would save little. The free list is a stack: the most
    recently released object, the one most likely still in cache, goes out
    next.

    Example:
        >>> pool = ObjectPool(list, list.clear, capacity=1)
        >>> a = pool.acquire()
        >>> a.append("order 42")
        >>> pool.release(a)
        >>> pool.acquire() is a, a      # the same object, reset on release
        (True, [])
        >>> pool.acquire()
        Traceback (most recent call last):
        ...
        rtkit.errors.PoolExhausted: pool exhausted: all 1 objects in use (on_empty='raise')
    """

    def __init__(
        self,
        factory: Callable[[], T],
        reset: Callable[[T], object] | None,
        capacity: int,
        *,
        on_empty: str = "raise",
    ) -> None:
        self.capacity = check_int("capacity", capacity, minimum=1)
        self.on_empty = check_choice("on_empty", on_empty, EMPTY_POLICIES)
        if not callable(factory):
            raise ConfigError(f"factory must be callable, got {factory!r}")
        if reset is not None and not callable(reset):
            raise ConfigError(f"reset must be callable or None, got {reset!r}")
        self._factory = factory
        self._reset = reset
        # id -> object. A dict keeps insertion order, so popitem() makes the
        # free list a LIFO stack, and one lookup answers "is it free?".
        self._free: dict[int, T] = {}
        self._in_use: dict[int, T] = {}
        for _ in range(self.capacity):
            obj = factory()
            if id(obj) in self._free:
                raise ConfigError("factory must build a new object on each call")
            self._free[id(obj)] = obj
        self._lock = threading.Lock()
        self._released_cond = threading.Condition(self._lock)
        self._waiters = 0
        self._hits = 0
        self._misses = 0
        self._grown = 0
        self._acquired = 0
        self._released = 0
        self._high_water = 0

    def acquire(self, timeout: float | None = None) -> T:
        """Take an object off the free list; when it is empty, apply ``on_empty``.

        ``timeout`` (seconds) only matters under ``"block"``: after that long
        without a release, :class:`~rtkit.errors.PoolExhausted` is raised
        (``None`` waits forever). Runtime complexity: O(1), plus one
        ``factory()`` call on a ``"grow"`` miss.
        """
        with self._lock:
            if self._free:  # the hot path, written out: no helper calls
                key, obj = self._free.popitem()
                in_use = self._in_use
                in_use[key] = obj
                self._hits += 1
                self._acquired += 1
                if len(in_use) > self._high_water:
                    self._high_water = len(in_use)
                return obj
            self._misses += 1
            if self.on_empty == "raise":
                raise PoolExhausted(
                    f"pool exhausted: all {len(self._in_use)} objects in use"
                    f" (on_empty={self.on_empty!r})"
                )
            if self.on_empty == "grow":
                return self._grow()
            self._wait_for_release(timeout)
            key, obj = self._free.popitem()
            self._hand_out(key, obj)
            return obj

    def _grow(self) -> T:
        obj = self._factory()
        key = id(obj)
        if key in self._in_use:
            raise ConfigError("factory must build a new object on each call")
        self._grown += 1
        self._hand_out(key, obj)
        return obj

    def _hand_out(self, key: int, obj: T) -> None:
        self._in_use[key] = obj
        self._acquired += 1
        if len(self._in_use) > self._high_water:
            self._high_water = len(self._in_use)

    def _wait_for_release(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        self._waiters += 1
        try:
            while not self._free:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise PoolExhausted(
                        f"pool exhausted: no object released within {timeout} s"
                        f" ({len(self._in_use)} in use)"
                    )
                self._released_cond.wait(remaining)
        finally:
            self._waiters -= 1

    def release(self, obj: T) -> None:
        """Reset ``obj`` and put it back on the free list.

        Raises :class:`~rtkit.errors.StateError` if ``obj`` is already free
        (a double release) and :class:`~rtkit.errors.ConfigError` if this pool
        never gave it out; if ``reset`` raises, ``obj`` stays in use. In every
        one of these cases the pool is unchanged. Runtime complexity: O(1)
        plus ``reset``.
        """
        key = id(obj)
        with self._lock:
            if key not in self._in_use:
                if key in self._free:
                    raise StateError(f"double release: {type(obj).__name__} is already free")
                raise ConfigError(
                    f"release of a {type(obj).__name__} this pool never gave out;"
                    " only objects from acquire() can be released"
                )
            if self._reset is not None:
                self._reset(obj)
            del self._in_use[key]
            self._free[key] = obj
            self._released += 1
            if self._waiters:
                self._released_cond.notify()

    @contextlib.contextmanager
    def borrow(self, timeout: float | None = None) -> Iterator[T]:
        """``with pool.borrow() as obj:`` acquire, and release on leaving, even on error.

        Example:
            >>> pool = ObjectPool(dict, dict.clear, capacity=1)
            >>> with pool.borrow() as d:
            ...     d["px"] = 101
            >>> pool.stats().in_use
            0
        """
        obj = self.acquire(timeout)
        try:
            yield obj
        finally:
            self.release(obj)

    def stats(self) -> PoolStats:
        """A consistent snapshot of the counters. Runtime complexity: O(1)."""
        with self._lock:
            return PoolStats(
                capacity=self.capacity,
                size=self.capacity + self._grown,
                free=len(self._free),
                in_use=len(self._in_use),
                hits=self._hits,
                misses=self._misses,
                grown=self._grown,
                high_water=self._high_water,
            )

    def _check(self) -> None:
        """Assert the invariants; tests call this after every operation."""
        with self._lock:
            free, in_use = len(self._free), len(self._in_use)
            size = self.capacity + self._grown
            assert not self._free.keys() & self._in_use.keys(), "an object is both free and in use"
            assert all(id(o) == k for k, o in self._free.items()), "free list key is not the id"
            assert all(id(o) == k for k, o in self._in_use.items()), "in-use key is not the id"
            assert free + in_use == size, "an owned object is neither free nor in use"
            assert self._acquired - self._released == in_use, "acquire/release counts drifted"
            assert in_use <= self._high_water <= size, "high water out of range"
            assert self._hits + self._grown <= self._acquired <= self._hits + self._misses
            assert self.on_empty == "grow" or self._grown == 0, "grew without the grow policy"


@dataclass(frozen=True)
class ArenaStats:
    """A snapshot of a buffer arena: its shape and its pool counters."""

    n_buffers: int
    buffer_shape: tuple[int, ...]
    dtype: str
    buffer_nbytes: int
    free: int
    in_use: int
    hits: int
    misses: int
    high_water: int


class BufferArena:
    """``n_buffers`` preallocated NumPy arrays of one ``shape`` and ``dtype``.

    The buffers are views of one contiguous block, built once; their view
    objects are built once too, so :meth:`acquire` allocates nothing, not even
    an array header. Every page of the block is written at construction: a
    fresh allocation is backed lazily by the operating system, and the first
    touch of each page would otherwise fault in the hot path.

    A buffer is identified by its index in the block; :meth:`release` takes
    the very array :meth:`acquire` returned (not a slice or another view of
    it) and, with ``zero_on_release`` (the default), clears it, so no data
    leaks to the next user. Double and foreign releases raise and change
    nothing, as for :class:`ObjectPool`, which this wraps (thread-safe).
    ``on_empty`` is ``"raise"`` or ``"block"``: an arena cannot grow.

    Example:
        >>> arena = BufferArena(2, (3,), "int64")
        >>> a = arena.acquire()
        >>> a[:] = (1, 2, 3)
        >>> arena.index_of(a), arena.stats().in_use
        (0, 1)
        >>> arena.release(a)
        >>> a.tolist()                  # cleared on release
        [0, 0, 0]
    """

    def __init__(
        self,
        n_buffers: int,
        shape: int | tuple[int, ...],
        dtype: object = np.float64,
        *,
        on_empty: str = "raise",
        zero_on_release: bool = True,
    ) -> None:
        n_buffers = check_int("n_buffers", n_buffers, minimum=1)
        on_empty = check_choice("on_empty", on_empty, ("raise", "block"))
        dims = (shape,) if not isinstance(shape, tuple) else shape
        self.buffer_shape = tuple(check_int("shape", d, minimum=1) for d in dims)
        if not self.buffer_shape:
            raise ConfigError("shape must have at least one dimension, got ()")
        try:
            self.dtype = np.dtype(dtype)
        except TypeError:
            raise ConfigError(f"dtype must be a numpy dtype, got {dtype!r}") from None
        if self.dtype.hasobject or self.dtype.itemsize == 0:
            raise ConfigError(f"dtype must be a fixed-size numeric dtype, got {self.dtype}")
        self.n_buffers = n_buffers
        self.zero_on_release = bool(zero_on_release)
        self._block = np.empty((n_buffers, *self.buffer_shape), dtype=self.dtype)
        self._block.fill(0)  # touch every page now, not in the hot path
        self._views = [self._block[i] for i in range(n_buffers)]
        self._index = {id(v): i for i, v in enumerate(self._views)}
        # The pool hands the views out in index order (it pops the last one first).
        stack = iter(reversed(self._views))
        reset = _zero if self.zero_on_release else None
        self._pool: ObjectPool[np.ndarray] = ObjectPool(
            stack.__next__, reset, n_buffers, on_empty=on_empty
        )

    def acquire(self, timeout: float | None = None) -> np.ndarray:
        """Hand out a free buffer (a view into the arena). Runtime complexity: O(1)."""
        return self._pool.acquire(timeout)

    def release(self, buf: np.ndarray) -> None:
        """Give ``buf`` back (cleared if ``zero_on_release``). Runtime complexity: O(buffer)."""
        foreign = id(buf) not in self._index
        if foreign and isinstance(buf, np.ndarray) and np.shares_memory(buf, self._block):
            raise ConfigError(
                "release takes the array acquire() returned, not a slice or view of it"
            )
        self._pool.release(buf)

    @contextlib.contextmanager
    def borrow(self, timeout: float | None = None) -> Iterator[np.ndarray]:
        """``with arena.borrow() as buf:`` acquire, and release on leaving, even on error."""
        with self._pool.borrow(timeout) as buf:
            yield buf

    def index_of(self, buf: np.ndarray) -> int:
        """The index of ``buf`` in the arena; ConfigError if it is not one of its buffers."""
        try:
            return self._index[id(buf)]
        except KeyError:
            raise ConfigError("not a buffer of this arena") from None

    def stats(self) -> ArenaStats:
        """A consistent snapshot of the arena's counters. Runtime complexity: O(1)."""
        s = self._pool.stats()
        return ArenaStats(
            n_buffers=self.n_buffers,
            buffer_shape=self.buffer_shape,
            dtype=str(self.dtype),
            buffer_nbytes=self._views[0].nbytes,
            free=s.free,
            in_use=s.in_use,
            hits=s.hits,
            misses=s.misses,
            high_water=s.high_water,
        )

    def _check(self) -> None:
        """Assert the invariants; tests call this after every operation."""
        self._pool._check()
        with self._pool._lock:
            owned = {**self._pool._free, **self._pool._in_use}
        assert owned.keys() == self._index.keys(), "the arena's buffers changed"
        for i, view in enumerate(self._views):
            assert view.base is self._block, f"buffer {i} is not a view of the block"
            assert view.shape == self.buffer_shape, f"buffer {i} was reshaped"


def _zero(buf: np.ndarray) -> None:
    buf.fill(0)


# The collector's switches are process-wide, so gc_paused sections are counted:
# the first to enter saves the state, the last to leave restores it.
_gc_lock = threading.Lock()
_gc_depth = 0
_gc_was_enabled = False
_gc_we_froze = False


@contextlib.contextmanager
def gc_paused(freeze: bool = True) -> Iterator[None]:
    """Switch off CPython's cyclic garbage collector for a latency-critical section.

    Why: a collection stops the thread that triggers it for as long as it
    takes to scan the objects in the generations it collects, and a full
    (oldest-generation) collection scans every container object alive: tens
    of milliseconds in a large process, landing on whichever request happens
    to allocate at that moment. That pause is pure tail latency.

    On entry, ``gc.disable()`` stops automatic collections, and with
    ``freeze`` (when nothing is frozen yet), ``gc.freeze()`` moves every
    object alive into the permanent generation, so that any explicit
    ``gc.collect()`` inside the section (yours at a quiet moment, or a
    library's) scans only what was allocated since. On exit the previous
    state comes back: the collector is re-enabled only if it was enabled,
    and unfrozen only if this section froze it. Sections nest, and may
    overlap across threads: the first to enter saves the state, the last to
    leave restores it. Exceptions propagate.

    Caveat: reference counting still frees most objects at once, but garbage
    in reference cycles accumulates while the collector is off, and garbage
    that is frozen is not collected until it is unfrozen. Run ``gc.collect()``
    before entering if the process has produced cyclic garbage, keep the
    section short or allocation-free (see :class:`ObjectPool`), and expect the
    first collection after it to take longer.

    Example:
        >>> import gc
        >>> with gc_paused():
        ...     gc.isenabled()
        False
        >>> gc.isenabled()
        True
    """
    global _gc_depth, _gc_was_enabled, _gc_we_froze
    with _gc_lock:
        if _gc_depth == 0:
            _gc_was_enabled = gc.isenabled()
            _gc_we_froze = False
        _gc_depth += 1
        gc.disable()
        if freeze and not _gc_we_froze and gc.get_freeze_count() == 0:
            gc.freeze()
            _gc_we_froze = True
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0:
                if _gc_we_froze:
                    gc.unfreeze()
                    _gc_we_froze = False
                if _gc_was_enabled:
                    gc.enable()
