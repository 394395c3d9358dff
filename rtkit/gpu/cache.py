"""KernelCache: compiled kernels keyed by (kernel, signature, launch configuration).

Seed 002 declares a ``KernelCache`` and never fills or reads it; its
"pre-compiled and cached" kernel is a Go closure (S002-45). The first call
of a numba kernel is not like the others: it type-infers, generates code
(LLVM, then PTX and a driver load on a GPU) and only then runs. This cache
makes that cost visible and keeps it off the hot path: :meth:`get` compiles
on a miss, *measures the compile* and records it apart from every later
(steady-state) hit, so a latency histogram never mixes the two.

What "compile" means per back end:

* ``"cuda"``: ``cuda.jit(signature)(func)``, eager: type inference, LLVM,
  PTX and the module load all happen here.
* ``"cudasim"``: ``cuda.jit(func)``; the simulator interprets Python, so
  there is nothing to compile and the measured cost is tiny. Say so.
* ``"cpu"``: ``dispatcher.compile(signature)`` on the numba CPU function
  (``cache=True`` may load it from ``__pycache__`` instead of compiling).
  Its "launch configuration" is ``"parallel"`` or ``"serial"``: the
  ``prange`` loop forked over the threading layer's workers, or the same
  loop compiled without ``parallel=True`` (see :mod:`rtkit.gpu._device`).

The launch configuration is part of the key because a kernel is tuned (and,
for shared-memory kernels, built) for one: the cache hands back a launcher
bound to it.

Invariant (``_check``): ``hits + misses == lookups``; one entry per miss;
``compile_ns`` has one value per entry. Runtime complexity: O(1) per lookup.

Example:
    >>> from rtkit.clock import VirtualClock
    >>> cache = KernelCache(clock=VirtualClock())
    >>> entry = cache.get("double", lambda sig: (lambda x: 2 * x), "f8", None)
    >>> entry.compiled(21), cache.stats().misses, cache.get("double", None, "f8", None) is entry
    (42, 1, True)
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from rtkit.clock import Clock, resolve_clock
from rtkit.errors import ConfigError

__all__ = ["CacheEntry", "CacheStats", "KernelCache"]


@dataclass(frozen=True)
class CacheEntry:
    """A compiled kernel, the key it was compiled for, and what compiling cost (ns)."""

    key: tuple[str, Hashable, Hashable]
    compiled: Any
    compile_ns: int


@dataclass(frozen=True)
class CacheStats:
    """Counters of a :class:`KernelCache`."""

    entries: int
    lookups: int
    hits: int
    misses: int
    compile_ns_total: int


class KernelCache:
    """Compile once per (kernel, signature, launch config); measure the compile.

    ``clock`` times the compiles (a :class:`~rtkit.clock.WallClock` by default).
    Not thread-safe: one cache per dispatcher thread, like the processor.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = resolve_clock(clock)
        self._entries: dict[tuple[str, Hashable, Hashable], CacheEntry] = {}
        self._lookups = 0
        self._hits = 0

    def get(
        self,
        kernel: str,
        compile_fn: Callable[[Hashable], Any] | None,
        signature: Hashable,
        launch: Hashable,
    ) -> CacheEntry:
        """The entry for ``(kernel, signature, launch)``, compiling with ``compile_fn`` on a miss.

        ``compile_fn(signature)`` returns the compiled object. On a hit
        ``compile_fn`` is not called (it may be None). A miss with no
        ``compile_fn`` is a :class:`~rtkit.errors.ConfigError`; a
        ``compile_fn`` that raises propagates its error. Either way the
        cache is left unchanged: a lookup is counted only once it succeeds.
        """
        key = (kernel, signature, launch)
        entry = self._entries.get(key)
        if entry is not None:
            self._lookups += 1
            self._hits += 1
            return entry
        if compile_fn is None:  # a refused call changes nothing
            raise ConfigError(f"kernel {kernel!r} is not cached for {signature!r}, {launch!r}")
        t0 = self.clock.now_ns()
        compiled = compile_fn(signature)  # if this raises, nothing has been counted
        entry = CacheEntry(key, compiled, self.clock.now_ns() - t0)
        self._entries[key] = entry
        self._lookups += 1
        return entry

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def compile_ns(self) -> dict[tuple[str, Hashable, Hashable], int]:
        """What each entry cost to compile, by key."""
        return {k: e.compile_ns for k, e in self._entries.items()}

    def stats(self) -> CacheStats:
        """A snapshot of the counters."""
        return CacheStats(
            entries=len(self._entries),
            lookups=self._lookups,
            hits=self._hits,
            misses=self._lookups - self._hits,
            compile_ns_total=sum(e.compile_ns for e in self._entries.values()),
        )

    def _check(self) -> None:
        """Assert the invariants; tests call this after every operation."""
        s = self.stats()
        assert s.hits + s.misses == s.lookups, "lookups do not add up"
        assert s.misses == s.entries, "one entry per miss"
        assert all(e.compile_ns >= 0 for e in self._entries.values()), "negative compile time"
