"""Executor: Python callables run as periodic tasks on the wall clock, measured.

The simulator shows what a policy does in an ideal world; the executor shows
what the GIL, the garbage collector and timer jitter add in a real one. One
worker thread keeps a ready queue ordered by the policy (EDF: absolute
deadline; RM: period; DM: relative deadline; FP: priority; ties broken as in
the simulator, see :mod:`rtkit.sched.policies`). Each time round its loop it
admits every job whose release time has passed, runs the most urgent one to
completion, and otherwise sleeps until the next release.

It is **non-preemptive at callable granularity**: a Python thread cannot be
stopped and resumed by another at an arbitrary instruction, so once a callable
starts it runs to the end and an urgent release waits behind it. That waiting
is exactly the blocking term Bᵢ of response-time analysis (S002-43), and it
shows up in the measured response times.

For every task it records, in :class:`~rtkit.latency.LatencyHistogram` s
(DESIGN convention 3), with times measured from the *intended* release
``phase + k * period`` (never from when the loop noticed it, which would hide
stalls, S002-48):

* ``lateness``: when the job was admitted minus its intended release (timer
  and wake-up jitter);
* ``response``: completion minus intended release;

plus counts of released, completed, missed (finished after the deadline),
failed (raised) and skipped (still queued when the run ended) jobs.

Invariant (``_check``): for every task, released = completed + failed +
skipped + queued + running.

With a :class:`~rtkit.clock.VirtualClock` the loop jumps from release to
release and callables take no time, so counts are deterministic (tests use
that); with :class:`~rtkit.clock.WallClock` (the default) everything is real.

Example:
    >>> from rtkit.clock import VirtualClock
    >>> ticks = []
    >>> ex = Executor([PeriodicCallable("tick", lambda: ticks.append(1), period_ns=1_000)],
    ...               clock=VirtualClock())
    >>> ex.run(10_000).completed, len(ticks)
    (10, 10)
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rtkit.clock import Clock, resolve_clock
from rtkit.errors import ConfigError, StateError, check_choice, check_int
from rtkit.latency import LatencyHistogram

__all__ = ["EXECUTOR_POLICIES", "Executor", "ExecutorStats", "PeriodicCallable", "TaskReport"]

EXECUTOR_POLICIES = ("edf", "rm", "dm", "fp")
# The worker never sleeps longer than this, so stop() is honoured promptly.
_MAX_SLEEP_NS = 5_000_000


@dataclass(frozen=True)
class PeriodicCallable:
    """A callable to run every ``period_ns``, due ``deadline_ns`` after each release.

    ``deadline_ns`` defaults to the period; ``priority`` (lower is more urgent)
    is needed only under policy ``"fp"``.
    """

    name: str
    fn: Callable[[], object]
    period_ns: int
    deadline_ns: int | None = None
    phase_ns: int = 0
    priority: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"name must be a non-empty string, got {self.name!r}")
        if not callable(self.fn):
            raise ConfigError(f"fn must be callable, got {self.fn!r}")
        set_ = object.__setattr__
        set_(self, "period_ns", check_int("period_ns", self.period_ns, minimum=1))
        deadline = self.period_ns if self.deadline_ns is None else self.deadline_ns
        set_(self, "deadline_ns", check_int("deadline_ns", deadline, minimum=1))
        set_(self, "phase_ns", check_int("phase_ns", self.phase_ns, minimum=0))
        if self.priority is not None:
            set_(self, "priority", check_int("priority", self.priority))


@dataclass(frozen=True)
class TaskReport:
    """What happened to one task's jobs; the histograms are in nanoseconds."""

    name: str
    released: int
    completed: int
    missed: int
    failed: int
    skipped: int
    lateness: LatencyHistogram
    response: LatencyHistogram


@dataclass(frozen=True)
class ExecutorStats:
    """Totals over all tasks. ``first_error`` is the first exception a callable raised."""

    policy: str
    running: bool
    released: int
    completed: int
    missed: int
    failed: int
    skipped: int
    queued: int
    first_error: BaseException | None


class _Counters:
    def __init__(self) -> None:
        self.released = self.completed = self.missed = self.failed = self.skipped = 0
        self.lateness = LatencyHistogram()
        self.response = LatencyHistogram()


class Executor:
    """Run :class:`PeriodicCallable` s on one worker thread under a policy; see the module doc.

    ``run(duration_ns)`` is the usual entry point: start, wait, stop, report.
    ``start``/``stop`` give the same in two halves. An executor runs once.

    Example:
        >>> from rtkit.clock import VirtualClock
        >>> order = []
        >>> tasks = [PeriodicCallable("slow", lambda: order.append("slow"), 10, deadline_ns=9),
        ...          PeriodicCallable("fast", lambda: order.append("fast"), 5)]
        >>> _ = Executor(tasks, policy="edf", clock=VirtualClock()).run(10)
        >>> order   # at 0: fast is due at 5, slow at 9; at 5 the second fast job
        ['fast', 'slow', 'fast']
    """

    def __init__(
        self,
        tasks: Sequence[PeriodicCallable],
        policy: str = "edf",
        clock: Clock | None = None,
    ) -> None:
        self.policy = check_choice("policy", policy, EXECUTOR_POLICIES)
        self.tasks = tuple(tasks)
        if not self.tasks or not all(isinstance(t, PeriodicCallable) for t in self.tasks):
            raise ConfigError("tasks must be a non-empty sequence of PeriodicCallable")
        names = [t.name for t in self.tasks]
        if len(set(names)) != len(names):
            raise ConfigError(f"task names must be unique, got {names}")
        if policy == "fp" and any(t.priority is None for t in self.tasks):
            raise ConfigError("policy 'fp' needs a priority on every task")
        self.clock = resolve_clock(clock)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._counters = [_Counters() for _ in self.tasks]
        self._ready: list[tuple[int, int, int, int]] = []  # see _entry
        self._running: int | None = None
        self._first_error: BaseException | None = None
        self._started = False

    def _entry(self, i: int, release: int) -> tuple[int, int, int, int]:
        """The heap entry of a job: (key, tie-break, release, task)."""
        t = self.tasks[i]
        if self.policy == "edf":
            return (release + t.deadline_ns, release, release, i)  # type: ignore[operator]
        key = {"rm": t.period_ns, "dm": t.deadline_ns, "fp": t.priority}[self.policy]
        return (key, i, release, i)  # type: ignore[return-value]

    def start(self, duration_ns: int) -> None:
        """Start the worker thread; it releases jobs for ``duration_ns`` then stops by itself."""
        duration_ns = check_int("duration_ns", duration_ns, minimum=1)
        if self._started:
            raise StateError("an executor runs once; make a new one")
        self._started = True
        self._thread = threading.Thread(
            target=self._loop, args=(duration_ns,), name="rtkit-executor", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> ExecutorStats:
        """Ask the worker to stop (after the callable it is running) and wait for it."""
        if self._thread is None:
            raise StateError("stop() before start()")
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise StateError(f"the worker did not stop within {timeout} s (a callable is stuck?)")
        return self.stats()

    def run(self, duration_ns: int, timeout: float = 10.0) -> ExecutorStats:
        """Run for ``duration_ns`` of the clock's time and return the totals.

        The run is never cut short: the wait is the duration itself plus
        ``timeout`` seconds of grace for the last callable to return. A worker
        still busy after that is told to stop and :class:`StateError` is raised
        (a callable is stuck, or the clock does not advance), since totals
        from a truncated run would look like a complete one.
        """
        duration_ns = check_int("duration_ns", duration_ns, minimum=1)
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout < 0:
            raise ConfigError(f"timeout must be a number of seconds >= 0, got {timeout!r}")
        self.start(duration_ns)
        assert self._thread is not None
        # On the wall clock the run itself takes duration_ns; on a virtual clock
        # it takes whatever the callables' real work costs, which the grace
        # period must cover (raise `timeout` for long virtual runs of real work).
        wait = duration_ns / 1e9 + timeout
        self._thread.join(wait)
        if self._thread.is_alive():
            self._stop.set()
            raise StateError(
                f"the run of {duration_ns} ns did not finish within {wait:.1f} s of wall time "
                "(a callable is stuck?); stop() waits for the worker"
            )
        return self.stop()

    def _loop(self, duration_ns: int) -> None:
        clock = self.clock
        t0 = clock.now_ns()
        end = t0 + duration_ns
        next_release = [t0 + t.phase_ns for t in self.tasks]
        while not self._stop.is_set():
            now = clock.now_ns()
            with self._lock:
                for i, t in enumerate(self.tasks):
                    while next_release[i] <= now and next_release[i] < end:
                        r = next_release[i]
                        heapq.heappush(self._ready, self._entry(i, r))
                        self._counters[i].released += 1
                        self._counters[i].lateness.record(now - r)
                        next_release[i] += t.period_ns
                if now >= end:
                    break  # what is still queued is counted as skipped below
                job = heapq.heappop(self._ready) if self._ready else None
                self._running = None if job is None else job[3]
            if job is None:
                wake = min([r for r in next_release if r < end], default=end)
                clock.sleep_until(min(wake, now + _MAX_SLEEP_NS, end))
                continue
            _, _, release, i = job
            try:
                self.tasks[i].fn()
                error = None
            except Exception as exc:  # a failing task must not kill the others
                error = exc
            finish = clock.now_ns()
            with self._lock:
                c = self._counters[i]
                self._running = None
                if error is not None:
                    c.failed += 1
                    if self._first_error is None:
                        self._first_error = error
                    continue
                c.completed += 1
                c.response.record(finish - release)
                if finish > release + self.tasks[i].deadline_ns:  # type: ignore[operator]
                    c.missed += 1
        with self._lock:
            for *_, i in self._ready:
                self._counters[i].skipped += 1
            self._ready.clear()

    def reports(self) -> list[TaskReport]:
        """One :class:`TaskReport` per task, in task order: a snapshot.

        The histograms are copies taken under the lock, so a report taken
        during a run stays consistent (counts and histograms of one instant)
        while the worker goes on recording.
        """
        with self._lock:
            return [
                TaskReport(
                    t.name,
                    c.released,
                    c.completed,
                    c.missed,
                    c.failed,
                    c.skipped,
                    c.lateness.copy(),
                    c.response.copy(),
                )
                for t, c in zip(self.tasks, self._counters, strict=True)
            ]

    def stats(self) -> ExecutorStats:
        """Totals over all tasks, consistent with each other (taken under the lock)."""
        with self._lock:
            cs = self._counters
            return ExecutorStats(
                policy=self.policy,
                running=self._thread is not None and self._thread.is_alive(),
                released=sum(c.released for c in cs),
                completed=sum(c.completed for c in cs),
                missed=sum(c.missed for c in cs),
                failed=sum(c.failed for c in cs),
                skipped=sum(c.skipped for c in cs),
                queued=len(self._ready),
                first_error=self._first_error,
            )

    def _check(self) -> None:
        """Assert that every released job is accounted for."""
        with self._lock:
            for i, c in enumerate(self._counters):
                queued = sum(1 for *_, k in self._ready if k == i)
                running = 1 if self._running == i else 0
                accounted = c.completed + c.failed + c.skipped + queued + running
                assert c.released == accounted, f"task {i}: a released job went missing"
                assert c.response.count == c.completed, "one response per completed job"
                assert c.lateness.count == c.released, "one lateness per released job"
                assert c.missed <= c.completed, "more misses than completions"
