"""Watching CPython's garbage collector: how often it runs and how long it stops you.

Reference counting frees most objects the moment they die; the *cyclic*
collector finds the rest (reference cycles) by scanning container objects,
generation by generation. A collection stops the thread that triggered it
until the scan ends, so its duration lands, whole, on the latency of the
request that happened to allocate at that moment. Lesson 04 measures it.

* :class:`GcMonitor` records every collection's pause, per generation, in a
  :class:`~rtkit.latency.LatencyHistogram`, through ``gc.callbacks``.
* :func:`frozen_heap` moves everything alive into the permanent generation
  (``gc.freeze``) for a section, so collections in it scan only what the
  section allocates, while the collector keeps running. Compare
  :func:`rtkit.pools.gc_paused`, which switches it off.

Example:
    >>> import gc
    >>> with GcMonitor() as monitor:
    ...     _ = gc.collect()
    >>> monitor.pauses[2].count >= 1
    True
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rtkit.latency import LatencyHistogram

__all__ = ["GcMonitor", "frozen_heap"]


class GcMonitor:
    """Record each garbage collection's pause, per generation, while active.

    ``pauses[g]`` is a histogram of how long collections of generation
    ``g`` (0, 1, 2) took, in ns; ``count`` and ``max`` of each are the
    numbers a latency budget cares about. Use as a context manager; the
    callback is removed on exit, even after an exception.

    Example:
        >>> with GcMonitor() as monitor:
        ...     _ = gc.collect(0)
        >>> monitor.pauses[0].count >= 1, monitor.longest_ns >= 0
        (True, True)
    """

    def __init__(self) -> None:
        self.pauses = {generation: LatencyHistogram() for generation in range(3)}
        self._started_ns: int | None = None

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started_ns = time.perf_counter_ns()
        elif self._started_ns is not None:
            elapsed = time.perf_counter_ns() - self._started_ns
            self.pauses[info["generation"]].record(elapsed)
            self._started_ns = None

    @property
    def collections(self) -> tuple[int, int, int]:
        """How many collections of generations 0, 1 and 2 were seen."""
        return tuple(self.pauses[g].count for g in range(3))  # type: ignore[return-value]

    @property
    def longest_ns(self) -> int:
        """The longest pause seen, in ns (0 if there was no collection)."""
        return max(h.max for h in self.pauses.values())

    def __enter__(self) -> GcMonitor:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Freeze every object alive now for the section; unfreeze on exit.

    The collector stays on, but its scans skip the frozen objects, so a
    large long-lived heap no longer makes each full collection long. Objects
    that die while frozen are not collected until the section ends.

    Example:
        >>> with frozen_heap():
        ...     gc.get_freeze_count() > 0
        True
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
