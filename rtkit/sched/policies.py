"""Scheduling policies: which ready job runs next, and why.

Every policy ranks the ready jobs by a *key*; the job with the smallest key
runs (on m processors, the m smallest). Ties are broken so that every key is
a total order and a simulation is deterministic: under the fixed-priority
policies by the task's position in the task set (so priorities are strictly
fixed per task, as response-time analysis assumes), then release time; under
the dynamic ones by release time, then task position.

=========  ======================================  ==================================
policy     key (smaller runs first)                kind
=========  ======================================  ==================================
``edf``    absolute deadline                       dynamic job priority
``rm``     period                                  fixed task priority
``dm``     relative deadline                       fixed task priority
``fp``     ``Task.priority`` (lower is urgent)     fixed task priority
``llf``    laxity = deadline - now - remaining     dynamic, changes while waiting
``stride`` pass value (+ stride per unit run)      proportional share, quantum based
``lottery`` a seeded draw weighted by ``weight``   proportional share, quantum based
=========  ======================================  ==================================

This is what seed 002's ``RealTimeScheduler`` names and does not do: its
"EDF" appends a task to the FIFO of the worker whose *last* deadline is
earliest (S002-39), its fixed priority is ``priority % workers`` (S002-42),
and RM and proportional share fall through to a clock-modulo "round robin"
(S002-41). Here the key is the whole policy.

The proportional-share policies guarantee *rates*, not deadlines: each task
with pending work gets processor time in proportion to its ``weight``. They
decide at quantum boundaries (``quantum`` time units, default 1). Stride
scheduling (Waldspurger 1995) is the deterministic version: each task has a
*pass* value, the ready task with the smallest pass runs, and running for u
time units adds ``u * STRIDE1 // weight`` to its pass. A task that comes back
after having had nothing to run starts from at least the smallest pass of the
tasks that stayed ready, so it cannot claim a backlog of "unused" share.
Lottery scheduling draws the winner at random with probability proportional
to its weight.

Runtime complexity of a decision: O(n) in the number of tasks.

Example:
    >>> from rtkit.sched.model import Task
    >>> tasks = [Task("slow", 1, 20, deadline=5), Task("fast", 1, 10)]
    >>> [tasks[i].name for i in priority_order(tasks, "rm")]
    ['fast', 'slow']
    >>> [tasks[i].name for i in priority_order(tasks, "dm")]
    ['slow', 'fast']
"""

from __future__ import annotations

from collections.abc import Sequence

from rtkit.errors import ConfigError, check_choice
from rtkit.sched.model import Aperiodic, Task

__all__ = [
    "FIXED_PRIORITY",
    "INF",
    "POLICIES",
    "PROPORTIONAL_SHARE",
    "STRIDE1",
    "check_policy",
    "priority_order",
    "static_key",
]

POLICIES = ("edf", "rm", "dm", "fp", "llf", "stride", "lottery")
FIXED_PRIORITY = ("rm", "dm", "fp")
PROPORTIONAL_SHARE = ("stride", "lottery")

# "No deadline" and "background priority": far beyond any horizon, and small
# enough that release + INF still fits in an int64.
INF = 2**62

# Stride numerator: a task of weight w advances its pass by STRIDE1 // w per
# time unit run. 2**20 keeps weights up to about a million distinguishable.
STRIDE1 = 1 << 20


def check_policy(policy: object, tasks: Sequence[Task | Aperiodic]) -> str:
    """Return ``policy`` if it is known and usable with ``tasks``, else raise ConfigError.

    ``"fp"`` needs a ``priority`` on every task and aperiodic job.

    Example:
        >>> check_policy("edf", [])
        'edf'
        >>> check_policy("fifo", [])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: policy must be one of 'edf', 'rm', ..., got 'fifo'
    """
    check_choice("policy", policy, POLICIES)
    if policy == "fp":
        missing = [t.name for t in tasks if t.priority is None]
        if missing:
            raise ConfigError(f"policy 'fp' needs a priority on every task; missing on {missing}")
    return str(policy)


def static_key(task: Task | Aperiodic, policy: str) -> int:
    """The fixed-priority key of ``task`` under ``policy`` (``"rm"``, ``"dm"`` or ``"fp"``).

    Aperiodic jobs: background (``INF``) under RM; their relative deadline (or
    ``INF``) under DM; their ``priority`` under FP.

    Example:
        >>> static_key(Task("a", 1, 10, deadline=4), "dm")
        4
    """
    if policy == "rm":
        return task.period if isinstance(task, Task) else INF
    if policy == "dm":
        return INF if task.deadline is None else int(task.deadline)
    if policy == "fp":
        if task.priority is None:
            raise ConfigError(f"policy 'fp' needs a priority on task {task.name!r}")
        return int(task.priority)
    raise ConfigError(f"policy {policy!r} has no fixed task priority; use 'rm', 'dm' or 'fp'")


def priority_order(tasks: Sequence[Task | Aperiodic], policy: str) -> list[int]:
    """Indices of ``tasks`` from the most to the least urgent under a fixed-priority policy.

    Ties keep the task-set order, exactly as the simulator breaks them.
    Cost: O(n log n).

    Example:
        >>> ts = [Task("a", 1, 5, priority=2), Task("b", 1, 5, priority=1)]
        >>> priority_order(ts, "fp")
        [1, 0]
    """
    check_choice("policy", policy, FIXED_PRIORITY)
    return sorted(range(len(tasks)), key=lambda i: (static_key(tasks[i], policy), i))
