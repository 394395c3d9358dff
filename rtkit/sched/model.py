"""The task model: periodic and sporadic tasks, aperiodic jobs, and what a run yields.

A *task* is a recurring piece of work described by the classical (C, T, D)
triple: worst-case execution time ``wcet`` (C), ``period`` (T, the minimum
inter-arrival time for a sporadic task) and relative ``deadline`` (D, by
default equal to the period). Each release of a task is a *job*: job k of a
periodic task is released at ``phase + k * period`` and must finish by its
release plus ``deadline``. Seed 002's ``RealTimeTask`` has a deadline but no
period or execution time, so neither rate monotonic nor any analysis can be
built on it (S002-41); this model is the missing piece.

All times are integers in one abstract *time unit* (ticks, µs, ns: the
scheduler does not care, as long as one unit is used throughout).

Conventions, chosen once here and kept everywhere:

* **Priorities**: a *lower* ``priority`` number is *more* urgent (priority 1
  runs before priority 2), as in most textbooks. Only policy ``"fp"`` reads it.
* **Deadlines** may be shorter than the period (constrained), equal to it
  (implicit) or longer (arbitrary). The simulator handles all three; jobs of
  one task always run in release order, never two at once.
* A ``wcet`` larger than the deadline is legal: the task is simply
  unschedulable, and the analyses and the simulator say so.
* ``weight`` is the task's share under the proportional-share policies
  (stride: its tickets; lottery: its tickets). Deadline policies ignore it.

Invariant: every field is validated on construction (:class:`Task` is frozen),
so a task that exists is well-formed.

Example:
    >>> t = Task("sensor", wcet=1, period=4)
    >>> t.deadline, t.utilisation
    (4, 0.25)
    >>> Task("bad", wcet=0, period=4)
    Traceback (most recent call last):
    ...
    rtkit.errors.ConfigError: wcet must be >= 1, got 0
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import KW_ONLY, dataclass

from rtkit.errors import ConfigError, check_int

__all__ = [
    "Aperiodic",
    "Job",
    "Segment",
    "Task",
    "TaskStats",
    "hyperperiod",
    "utilisation",
]


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise ConfigError(f"name must be a non-empty string, got {name!r}")
    return name


@dataclass(frozen=True)
class Task:
    """A periodic (or sporadic) task: ``wcet`` every ``period``, due ``deadline`` after release.

    Args:
        name: unique within a task set; shown on Gantt charts.
        wcet: worst-case execution time C, >= 1.
        period: period T (minimum inter-arrival time if ``sporadic``), >= 1.
        deadline: relative deadline D, >= 1; ``None`` means D = T.
        phase: release time of the first job (offset), >= 0.
        priority: fixed priority for policy ``"fp"``; lower is more urgent.
        weight: proportional share (tickets) for ``"stride"`` and ``"lottery"``, >= 1.
        sporadic: if true, the gap between releases is ``period`` plus a seeded
            random extra delay drawn uniformly from ``[0, period]``
            (see :func:`~rtkit.sched.simulator.simulate`'s ``seed``).

    Example:
        >>> t = Task("ctrl", wcet=2, period=10, deadline=8, priority=1)
        >>> t.deadline, t.phase, t.weight, t.sporadic
        (8, 0, 1, False)
        >>> Task("x", wcet=1, period=2.5)
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: period must be an integer, got 2.5
    """

    name: str
    wcet: int
    period: int
    deadline: int | None = None
    phase: int = 0
    priority: int | None = None
    _: KW_ONLY
    weight: int = 1
    sporadic: bool = False

    def __post_init__(self) -> None:
        _check_name(self.name)
        set_ = object.__setattr__  # frozen: normalise fields once, here
        set_(self, "wcet", check_int("wcet", self.wcet, minimum=1))
        set_(self, "period", check_int("period", self.period, minimum=1))
        deadline = self.period if self.deadline is None else self.deadline
        set_(self, "deadline", check_int("deadline", deadline, minimum=1))
        set_(self, "phase", check_int("phase", self.phase, minimum=0))
        if self.priority is not None:
            set_(self, "priority", check_int("priority", self.priority))
        set_(self, "weight", check_int("weight", self.weight, minimum=1))
        if not isinstance(self.sporadic, bool):
            raise ConfigError(f"sporadic must be True or False, got {self.sporadic!r}")

    @property
    def utilisation(self) -> float:
        """U = C / T, the share of one processor the task needs in the long run."""
        return self.wcet / self.period

    @property
    def density(self) -> float:
        """C / min(D, T): the utilisation's analogue for constrained deadlines."""
        return self.wcet / min(self.deadline, self.period)  # type: ignore[type-var]


@dataclass(frozen=True)
class Aperiodic:
    """A one-off job: released once at ``release``, ``wcet`` of work.

    ``deadline`` is relative to the release; ``None`` means the job has no
    deadline (it can never miss). Under ``"rm"`` an aperiodic job runs in the
    background (below every periodic task); under ``"dm"`` its key is its
    relative deadline; under ``"fp"`` it needs a ``priority``; under ``"edf"``
    and ``"llf"`` its absolute deadline counts like any other.

    Example:
        >>> Aperiodic("alarm", wcet=3, release=7, deadline=5)
        Aperiodic(name='alarm', wcet=3, release=7, deadline=5, priority=None, weight=1)
    """

    name: str
    wcet: int
    release: int
    deadline: int | None = None
    priority: int | None = None
    _: KW_ONLY
    weight: int = 1

    def __post_init__(self) -> None:
        _check_name(self.name)
        set_ = object.__setattr__
        set_(self, "wcet", check_int("wcet", self.wcet, minimum=1))
        set_(self, "release", check_int("release", self.release, minimum=0))
        if self.deadline is not None:
            set_(self, "deadline", check_int("deadline", self.deadline, minimum=1))
        if self.priority is not None:
            set_(self, "priority", check_int("priority", self.priority))
        set_(self, "weight", check_int("weight", self.weight, minimum=1))


@dataclass(frozen=True)
class Job:
    """One job of a finished simulation (a row of :attr:`Schedule.jobs`, as an object).

    ``start``, ``finish`` and ``response`` are ``None`` when the job never
    started or did not finish; ``deadline`` is ``None`` for a job without one.
    """

    task: str
    task_index: int
    index: int
    release: int
    deadline: int | None
    start: int | None
    finish: int | None
    executed: int
    response: int | None
    missed: bool
    aborted: bool
    preemptions: int
    migrations: int


@dataclass(frozen=True)
class Segment:
    """A stretch of time during which one job ran on one cpu: ``[start, end)``."""

    cpu: int
    task: str
    task_index: int
    job: int
    start: int
    end: int


@dataclass(frozen=True)
class TaskStats:
    """Per-task totals of a run. ``worst_response`` is ``None`` if no job finished."""

    name: str
    jobs: int
    completed: int
    misses: int
    worst_response: int | None
    preemptions: int
    migrations: int


def _periodic(tasks: Iterable[object]) -> list[Task]:
    return [t for t in tasks if isinstance(t, Task)]


def utilisation(tasks: Iterable[Task | Aperiodic]) -> float:
    """Total utilisation U = Σ Cᵢ/Tᵢ of the periodic and sporadic tasks.

    Aperiodic jobs have no rate and are left out. Cost: O(n).

    Example:
        >>> utilisation([Task("a", 1, 4), Task("b", 2, 8)])
        0.5
    """
    return math.fsum(t.utilisation for t in _periodic(tasks))


def hyperperiod(tasks: Sequence[Task | Aperiodic]) -> int:
    """The least common multiple of the periods (1 for a set with no periodic task).

    Over one hyperperiod a synchronous periodic schedule repeats itself, which
    is why it is the simulator's default horizon. Cost: O(n) big-integer lcm.

    Example:
        >>> hyperperiod([Task("a", 1, 4), Task("b", 1, 6), Task("c", 1, 10)])
        60
    """
    return math.lcm(1, *(t.period for t in _periodic(tasks)))
