"""Partitioning: bin-packing tasks onto processors, each then scheduled on its own.

Partitioned scheduling turns one m-processor problem into m uniprocessor
problems, for which the exact tests of :mod:`rtkit.sched.analysis` exist.
The price is bin packing: tasks are taken in decreasing utilisation and each
goes to a processor on which the chosen uniprocessor ``test`` still passes:

* first fit (``"ffd"``): the lowest-numbered processor that fits;
* best fit (``"bfd"``): the fullest processor that fits (leaves big holes free);
* worst fit (``"wfd"``): the emptiest processor that fits (balances load).

Tests: ``"edf"`` (the exact processor-demand test), ``"rm"``, ``"dm"``,
``"fp"`` (exact response-time analysis under that priority order),
``"liu_layland"``, ``"hyperbolic"`` (sufficient RM bounds) and
``"utilisation"`` (U <= 1 per processor, ignoring deadlines).

Global scheduling keeps one queue for all processors instead; the lesson
compares the two (Dhall's effect: global EDF can miss with total utilisation
barely above 1, where partitioning succeeds).

Runtime complexity: O(n x m) tests.

Example:
    >>> from rtkit.sched.model import Task
    >>> ts = [Task("a", 3, 5), Task("b", 3, 5), Task("c", 2, 5), Task("d", 1, 5)]
    >>> p = partition(ts, 2, "ffd")
    >>> p.feasible, p.bins
    (True, (('a', 'c'), ('b', 'd')))
    >>> partition(ts, 2, "wfd").utilisations
    (1.0, 0.8)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from rtkit.errors import ConfigError, check_choice, check_int
from rtkit.sched.analysis import (
    hyperbolic_test,
    liu_layland_test,
    processor_demand_test,
    response_time_analysis,
)
from rtkit.sched.model import Task

__all__ = ["HEURISTICS", "TESTS", "Partition", "fits", "partition"]

HEURISTICS = ("ffd", "bfd", "wfd")
TESTS = ("edf", "rm", "dm", "fp", "liu_layland", "hyperbolic", "utilisation")


@dataclass(frozen=True)
class Partition:
    """The outcome of :func:`partition`.

    ``assignment`` gives each task's processor in task-set order (``None`` if
    it could not be placed); ``bins`` the task names on each processor in
    placement order; ``utilisations`` each processor's load.
    """

    heuristic: str
    test: str
    cpus: int
    feasible: bool
    assignment: tuple[int | None, ...]
    bins: tuple[tuple[str, ...], ...]
    utilisations: tuple[float, ...]
    unassigned: tuple[str, ...]


def fits(tasks: Sequence[Task], test: str = "edf") -> bool:
    """True if ``tasks`` pass ``test`` on one processor (see the module docstring).

    Example:
        >>> fits([Task("a", 2, 5), Task("b", 4, 7)], "rm"), fits([Task("a", 2, 5), Task("b", 4, 7)])
        (False, True)
    """
    check_choice("test", test, TESTS)
    if not tasks:
        return True
    if test == "edf":
        return processor_demand_test(tasks).schedulable
    if test in ("rm", "dm", "fp"):
        return response_time_analysis(tasks, test).schedulable
    if test == "liu_layland":
        return liu_layland_test(tasks).passed
    if test == "hyperbolic":
        return hyperbolic_test(tasks).passed
    return sum(Fraction(t.wcet, t.period) for t in tasks) <= 1


def partition(
    tasks: Sequence[Task], cpus: int, heuristic: str = "ffd", test: str = "edf"
) -> Partition:
    """Place ``tasks`` on ``cpus`` processors by a decreasing-utilisation heuristic.

    Ties in utilisation keep task-set order; ties between processors go to
    the lowest-numbered one. Every task is tried even after one fails, so
    ``unassigned`` lists them all.

    Example:
        >>> ts = [Task("big", 6, 10), Task("mid", 5, 10), Task("small", 4, 10)]
        >>> partition(ts, 2, "bfd").bins
        (('big', 'small'), ('mid',))
    """
    cpus = check_int("cpus", cpus, minimum=1)
    check_choice("heuristic", heuristic, HEURISTICS)
    check_choice("test", test, TESTS)
    for t in tasks:
        if not isinstance(t, Task):
            raise ConfigError(f"partition needs Task objects, got {t!r}")
    order = sorted(range(len(tasks)), key=lambda i: (-Fraction(tasks[i].wcet, tasks[i].period), i))
    bins: list[list[int]] = [[] for _ in range(cpus)]
    load = [Fraction(0)] * cpus
    assignment: list[int | None] = [None] * len(tasks)
    for i in order:
        u = Fraction(tasks[i].wcet, tasks[i].period)
        ok = [c for c in range(cpus) if fits([tasks[k] for k in bins[c]] + [tasks[i]], test)]
        if not ok:
            continue
        if heuristic == "ffd":
            cpu = ok[0]
        elif heuristic == "bfd":
            cpu = min(ok, key=lambda c: (-load[c], c))
        else:
            cpu = min(ok, key=lambda c: (load[c], c))
        bins[cpu].append(i)
        load[cpu] += u
        assignment[i] = cpu
    unassigned = tuple(tasks[i].name for i in order if assignment[i] is None)
    return Partition(
        heuristic=heuristic,
        test=test,
        cpus=cpus,
        feasible=not unassigned,
        assignment=tuple(assignment),
        bins=tuple(tuple(tasks[k].name for k in b) for b in bins),
        utilisations=tuple(float(x) for x in load),
        unassigned=unassigned,
    )
