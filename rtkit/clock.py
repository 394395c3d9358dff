"""Clocks: the one place rtkit reads time.

Every component that reads time or waits takes a ``clock=`` argument, so the
same code runs in two modes (DESIGN convention 2):

* :class:`WallClock` reads :func:`time.perf_counter_ns` (monotonic, the best
  resolution the platform offers) and really waits.
* :class:`VirtualClock` only moves when told to. Simulations advance it from
  event to event, so a run of a million events takes milliseconds and prints
  the same numbers on every machine.

Time is always an integer number of nanoseconds.

Example:
    >>> clock = VirtualClock()
    >>> clock.now_ns()
    0
    >>> clock.sleep_until(1_500)
    >>> clock.now_ns()
    1500
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

from rtkit.errors import ConfigError, StateError, check_int

__all__ = ["Clock", "VirtualClock", "WallClock", "resolve_clock"]

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
NS_PER_US = 1_000


@runtime_checkable
class Clock(Protocol):
    """What rtkit needs from a clock: read integer nanoseconds, wait until a time."""

    def now_ns(self) -> int:
        """Return the current time in integer nanoseconds."""
        ...

    def sleep_until(self, deadline_ns: int) -> None:
        """Return once ``now_ns() >= deadline_ns``."""
        ...


class WallClock:
    """Real monotonic time from :func:`time.perf_counter_ns`.

    ``sleep_until`` sleeps for most of the wait and spins for the last
    ``spin_ns`` nanoseconds: the operating system wakes a sleeping thread late
    (timer slack, scheduling), so sleeping right up to the deadline would add
    that lateness to every wait. Spinning costs a core; it is the classic
    spin-then-park trade.

    Example:
        >>> clock = WallClock()
        >>> t0 = clock.now_ns()
        >>> clock.sleep_until(t0 + 100_000)
        >>> clock.now_ns() - t0 >= 100_000
        True
    """

    def __init__(self, spin_ns: int = 200_000) -> None:
        self.spin_ns = check_int("spin_ns", spin_ns, minimum=0)

    def now_ns(self) -> int:
        """Return ``time.perf_counter_ns()``. Cost: one system clock read."""
        return time.perf_counter_ns()

    def sleep_until(self, deadline_ns: int) -> None:
        """Wait until ``deadline_ns``: sleep, then spin the last ``spin_ns``."""
        while True:
            remaining = deadline_ns - time.perf_counter_ns()
            if remaining <= 0:
                return
            if remaining > self.spin_ns:
                time.sleep((remaining - self.spin_ns) / NS_PER_S)

    def sleep(self, duration_ns: int) -> None:
        """Wait ``duration_ns`` nanoseconds from now."""
        self.sleep_until(self.now_ns() + duration_ns)

    def __repr__(self) -> str:
        return f"WallClock(spin_ns={self.spin_ns})"


class VirtualClock:
    """Simulated time that advances only when told to.

    ``sleep_until`` jumps straight to the deadline instead of waiting, so code
    written against :class:`Clock` runs unchanged, and instantly, in a
    simulation. Time never goes backwards: asking it to is a :class:`StateError`.

    Example:
        >>> clock = VirtualClock(start_ns=10)
        >>> clock.advance(5)
        15
        >>> clock.sleep_until(12)   # already past: returns at once
        >>> clock.now_ns()
        15
    """

    def __init__(self, start_ns: int = 0) -> None:
        self._now = check_int("start_ns", start_ns, minimum=0)

    def now_ns(self) -> int:
        """Return the current simulated time."""
        return self._now

    def advance(self, delta_ns: int) -> int:
        """Move time forward by ``delta_ns`` (>= 0) and return the new time."""
        delta_ns = check_int("delta_ns", delta_ns)
        if delta_ns < 0:
            raise StateError(f"a virtual clock cannot go backwards (delta_ns={delta_ns})")
        self._now += delta_ns
        return self._now

    def set_ns(self, t_ns: int) -> None:
        """Jump to ``t_ns``, which must not be earlier than now."""
        t_ns = check_int("t_ns", t_ns)
        if t_ns < self._now:
            raise StateError(f"a virtual clock cannot go backwards: now {self._now}, asked {t_ns}")
        self._now = t_ns

    def sleep_until(self, deadline_ns: int) -> None:
        """Jump to ``deadline_ns`` if it is in the future; otherwise do nothing."""
        deadline_ns = check_int("deadline_ns", deadline_ns)
        if deadline_ns > self._now:
            self._now = deadline_ns

    def sleep(self, duration_ns: int) -> None:
        """Jump forward by ``duration_ns``."""
        self.advance(duration_ns)

    def __repr__(self) -> str:
        return f"VirtualClock(now_ns={self._now})"


def resolve_clock(clock: Clock | None) -> Clock:
    """Return ``clock``, or a new :class:`WallClock` when it is ``None``.

    Example:
        >>> isinstance(resolve_clock(None), WallClock)
        True
    """
    if clock is None:
        return WallClock()
    if not isinstance(clock, Clock):
        raise ConfigError(f"clock must have now_ns() and sleep_until(), got {type(clock).__name__}")
    return clock
