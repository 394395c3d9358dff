"""simulate(): run a task set under a policy on virtual time and return its Schedule.

The simulation is deterministic for a seed (DESIGN convention 2): the seed
only drives the sporadic tasks' extra inter-arrival delays and the lottery
draws, each from its own stream, so changing the policy or the number of cpus
never changes the arrivals.

Engines: the compiled core (:mod:`rtkit.sched._simcore`) runs EDF, RM, DM and
FP on one cpu, and on each cpu of a partitioned system; everything else (LLF,
stride, lottery, global multiprocessor scheduling) runs on the readable
reference simulator (:mod:`rtkit.sched._simref`). ``engine="reference"``
forces the readable one: both give identical schedules.

Speed: only the compiled core is fast enough for 1,000,000 jobs in a few
seconds (it records about ten million jobs a second with the full schedule,
writing the job and segment tables as it simulates;
``benchmarks/bench_sched.py`` measures it). The reference engine, and so
every global multiprocessor, LLF, stride or lottery run, manages about
25,000 jobs a second: keep its horizons to tens of thousands of jobs.

Missed deadlines: with ``on_miss="continue"`` (the default, the classical
*soft* model) a late job keeps running to completion and its lateness shows
in its response time; with ``on_miss="abort"`` it is dropped at its deadline
(the *firm* model), which stops one overrun from making the next jobs late too.

Runtime complexity: O((jobs + preemptions) x tasks).

Example:
    >>> from rtkit.sched.model import Task
    >>> tasks = [Task("a", 2, 5), Task("b", 4, 7)]   # U = 0.971
    >>> simulate(tasks, "edf").misses, simulate(tasks, "rm").misses
    (0, 1)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rtkit.errors import ConfigError, check_choice, check_int
from rtkit.sched._simref import SimInput, SimOutput, simulate_reference
from rtkit.sched.model import Aperiodic, Task, hyperperiod
from rtkit.sched.policies import FIXED_PRIORITY, INF, check_policy, priority_order
from rtkit.sched.schedule import JOB_DTYPE, SEGMENT_DTYPE, Schedule

__all__ = ["MAX_DEFAULT_JOBS", "PLACEMENTS", "simulate"]

PLACEMENTS = ("global", "partitioned")
FAST_POLICIES = ("edf", *FIXED_PRIORITY)
# A default horizon (the hyperperiod) that would release more jobs than this is
# refused: random periods can have an astronomically long hyperperiod.
MAX_DEFAULT_JOBS = 20_000_000


def _task_set(tasks: object) -> tuple[Task | Aperiodic, ...]:
    if isinstance(tasks, (Task, Aperiodic)) or not isinstance(tasks, Sequence):
        raise ConfigError("tasks must be a sequence of Task and Aperiodic objects")
    out = tuple(tasks)
    if not out:
        raise ConfigError("tasks must hold at least one task")
    for t in out:
        if not isinstance(t, (Task, Aperiodic)):
            raise ConfigError(f"tasks must be Task or Aperiodic objects, got {type(t).__name__}")
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"task names must be unique, got {names}")
    return out


def default_horizon(tasks: Sequence[Task | Aperiodic]) -> int:
    """The hyperperiod plus the largest phase, extended to cover every aperiodic job.

    Example:
        >>> default_horizon([Task("a", 1, 4, phase=3), Task("b", 1, 6)])
        15
    """
    periodic = [t for t in tasks if isinstance(t, Task)]
    horizon = hyperperiod(periodic) + max((t.phase for t in periodic), default=0) if periodic else 1
    for a in tasks:
        if isinstance(a, Aperiodic):
            horizon = max(horizon, a.release + (a.deadline or a.wcet))
    return horizon


def _releases(task: Task | Aperiodic, horizon: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(task, Aperiodic):
        return np.array([task.release] if task.release < horizon else [], dtype=np.int64)
    if not task.sporadic:
        return np.arange(task.phase, horizon, task.period, dtype=np.int64)
    # Sporadic: at least `period` apart, plus a uniform extra delay in [0, period].
    out: list[np.ndarray] = []
    t = task.phase
    while t < horizon:
        n = max(16, (horizon - t) // task.period + 1)
        gaps = task.period + rng.integers(0, task.period + 1, size=n, dtype=np.int64)
        times = t + np.concatenate(([0], np.cumsum(gaps[:-1])))
        out.append(times[times < horizon])
        t = int(times[-1] + gaps[-1])
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _prepare(tasks: tuple[Task | Aperiodic, ...], policy: str, horizon: int, seed: int) -> SimInput:
    releases = [
        _releases(t, horizon, np.random.default_rng([seed, 0, i])) for i, t in enumerate(tasks)
    ]
    offset = np.zeros(len(tasks) + 1, dtype=np.int64)
    offset[1:] = np.cumsum([len(r) for r in releases])
    release = np.concatenate(releases).astype(np.int64)
    rel_deadline = np.array([INF if t.deadline is None else t.deadline for t in tasks], np.int64)
    deadline = release + np.repeat(rel_deadline, np.diff(offset))
    key = [0] * len(tasks)
    if policy in FIXED_PRIORITY:
        # The rank in the priority order, so that equal priorities still rank
        # by task-set order before release time: strictly fixed per task, as
        # response-time analysis assumes.
        for rank, i in enumerate(priority_order(tasks, policy)):
            key[i] = rank
    return SimInput(
        wcet=np.array([t.wcet for t in tasks], dtype=np.int64),
        key=np.array(key, dtype=np.int64),
        weight=np.array([t.weight for t in tasks], dtype=np.int64),
        offset=offset,
        release=release,
        deadline=deadline,
        horizon=horizon,
    )


def _subset(inp: SimInput, task_ids: list[int]) -> tuple[SimInput, np.ndarray]:
    """The input restricted to ``task_ids``, and the global index of each of its jobs."""
    ranges = [np.arange(inp.offset[i], inp.offset[i + 1]) for i in task_ids]
    glob = np.concatenate(ranges) if ranges else np.zeros(0, dtype=np.int64)
    offset = np.zeros(len(task_ids) + 1, dtype=np.int64)
    offset[1:] = np.cumsum([len(r) for r in ranges])
    sub = SimInput(
        wcet=inp.wcet[task_ids],
        key=inp.key[task_ids],
        weight=inp.weight[task_ids],
        offset=offset,
        release=inp.release[glob],
        deadline=inp.deadline[glob],
        horizon=inp.horizon,
    )
    return sub, glob.astype(np.int64)


def _finalize(
    inp: SimInput, out: SimOutput, horizon: int, may_migrate: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Turn the reference engine's flat arrays into the Schedule's job and segment tables."""
    from rtkit.sched._simcore import fill_tables

    n_jobs = len(inp.release)
    task = np.repeat(np.arange(len(inp.wcet), dtype=np.int64), np.diff(inp.offset))
    migrations = np.zeros(n_jobs, dtype=np.int32)
    if may_migrate and len(out.seg_job) > 1:
        # Consecutive segments of one job on different cpus.
        by = np.lexsort((out.seg_start, out.seg_job))
        job_s, cpu_s = out.seg_job[by], out.seg_cpu[by]
        moved = (job_s[1:] == job_s[:-1]) & (cpu_s[1:] != cpu_s[:-1])
        migrations = np.bincount(job_s[1:][moved], minlength=n_jobs).astype(np.int32)
    order = np.lexsort((task, inp.release))
    n_seg = len(out.seg_job)
    if n_seg and (np.any(out.seg_cpu != 0) or np.any(np.diff(out.seg_start) < 0)):
        seg_order = np.lexsort((out.seg_cpu, out.seg_start))
    else:
        seg_order = np.arange(n_seg)  # one cpu: already in time order
    jobs = np.empty(n_jobs, dtype=JOB_DTYPE)
    seg = np.empty(n_seg, dtype=SEGMENT_DTYPE)
    fill_tables(
        jobs,
        seg,
        order,
        task,
        inp.offset,
        inp.release,
        inp.deadline,
        out.start,
        out.finish,
        out.executed,
        out.aborted,
        migrations,
        seg_order,
        out.seg_cpu.astype(np.int64),
        out.seg_job.astype(np.int64),
        out.seg_start.astype(np.int64),
        out.seg_end.astype(np.int64),
        np.int64(horizon),
    )
    return jobs, seg


def simulate(
    tasks: Sequence[Task | Aperiodic],
    policy: str = "edf",
    horizon: int | None = None,
    cpus: int = 1,
    placement: str = "global",
    seed: int = 0,
    *,
    preemptive: bool = True,
    on_miss: str = "continue",
    quantum: int = 1,
    assignment: Sequence[int] | None = None,
    engine: str = "auto",
) -> Schedule:
    """Simulate ``tasks`` under ``policy`` from time 0 to ``horizon`` and return the Schedule.

    Args:
        tasks: :class:`~rtkit.sched.model.Task` and
            :class:`~rtkit.sched.model.Aperiodic` objects with unique names.
        policy: ``"edf"``, ``"rm"``, ``"dm"``, ``"fp"``, ``"llf"``, ``"stride"``
            or ``"lottery"`` (see :mod:`rtkit.sched.policies`).
        horizon: end of the simulation; default: hyperperiod + largest phase.
        cpus: number of identical processors.
        placement: ``"global"`` (one ready queue, any job on any cpu, jobs may
            migrate) or ``"partitioned"`` (each task bound to one cpu).
        seed: drives sporadic arrivals and lottery draws; same seed, same run.
        preemptive: if false, a job that starts runs to completion. This and
            every later parameter are keyword-only.
        on_miss: ``"continue"`` (late jobs run to completion) or ``"abort"``
            (a job still unfinished at its deadline is dropped).
        quantum: time slice of ``"stride"`` and ``"lottery"``, >= 1.
        assignment: for ``"partitioned"`` only, the cpu of each task (one
            entry per task, each in ``range(cpus)``); default: first-fit
            decreasing by utilisation with the EDF demand test (RTA under the
            fixed-priority policies), see :mod:`rtkit.sched.partition`.
        engine: ``"auto"``, ``"fast"`` (compiled; EDF/RM/DM/FP on one cpu or
            partitioned) or ``"reference"`` (readable Python, every case).

    Example:
        >>> from rtkit.sched.model import Task
        >>> s = simulate([Task("a", 1, 2), Task("b", 1, 2), Task("c", 3, 4)],
        ...              policy="edf", cpus=2)
        >>> s.stats().jobs, s.stats().misses, s.stats().migrations
        (5, 0, 0)
    """
    ts = _task_set(tasks)
    policy = check_policy(policy, ts)
    cpus = check_int("cpus", cpus, minimum=1)
    placement = check_choice("placement", placement, PLACEMENTS)
    on_miss = check_choice("on_miss", on_miss, ("continue", "abort"))
    engine = check_choice("engine", engine, ("auto", "fast", "reference"))
    quantum = check_int("quantum", quantum, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    if not isinstance(preemptive, bool):
        raise ConfigError(f"preemptive must be True or False, got {preemptive!r}")
    if horizon is None:
        horizon = default_horizon(ts)
        expected = sum(horizon // t.period for t in ts if isinstance(t, Task))
        if expected > MAX_DEFAULT_JOBS:
            raise ConfigError(
                f"the hyperperiod {horizon} would release about {expected} jobs; pass horizon="
            )
    horizon = check_int("horizon", horizon, minimum=1)
    cpu_of = _placement(ts, policy, cpus, placement, assignment)
    if cpus == 1:  # one cpu: partitioned and global are the same schedule
        placement, cpu_of = "global", None
    fast_ok = policy in FAST_POLICIES and (cpus == 1 or placement == "partitioned")
    if engine == "fast" and not fast_ok:
        raise ConfigError(
            "engine 'fast' runs edf, rm, dm and fp on one cpu or partitioned; use 'auto'"
        )
    use_fast = engine == "fast" or (engine == "auto" and fast_ok)
    inp = _prepare(ts, policy, horizon, seed)
    abort = on_miss == "abort"
    if use_fast:
        jobs, seg = _run_fast(inp, policy, cpus, cpu_of, preemptive, abort)
    else:
        out = _run(inp, policy, cpus, cpu_of, preemptive, abort, quantum, seed)
        jobs, seg = _finalize(inp, out, horizon, cpu_of is None and cpus > 1)
    return Schedule(
        tasks=ts,
        policy=policy,
        cpus=cpus,
        placement=placement,
        preemptive=preemptive,
        on_miss=on_miss,
        horizon=horizon,
        assignment=None if cpu_of is None else tuple(cpu_of),
        engine="fast" if use_fast else "reference",
        jobs=jobs,
        segments=seg,
    )


def _placement(
    ts: tuple[Task | Aperiodic, ...],
    policy: str,
    cpus: int,
    placement: str,
    assignment: Sequence[int] | None,
) -> list[int] | None:
    if placement == "global":
        if assignment is not None:
            raise ConfigError("assignment is only used with placement='partitioned'")
        return None
    if assignment is not None:
        if isinstance(assignment, (str, bytes)) or not isinstance(
            assignment, (Sequence, np.ndarray)
        ):
            raise ConfigError(f"assignment must be a sequence of cpu numbers, got {assignment!r}")
        if len(assignment) != len(ts):
            raise ConfigError(
                f"assignment must give one cpu per task ({len(ts)}), got {len(assignment)}"
            )
        cpu_of = [check_int("assignment cpu", c, minimum=0) for c in assignment]
        if max(cpu_of) >= cpus:
            raise ConfigError(f"assignment cpus must be < {cpus}, got {max(cpu_of)}")
        return cpu_of
    if cpus == 1:
        return [0] * len(ts)
    from rtkit.sched.partition import partition

    periodic = [t for t in ts if isinstance(t, Task)]
    result = partition(periodic, cpus, "ffd", test=policy if policy in FIXED_PRIORITY else "edf")
    if not result.feasible:
        raise ConfigError(
            f"first-fit decreasing cannot place {list(result.unassigned)} on {cpus} cpus; "
            "pass assignment="
        )
    by_name = dict(zip((t.name for t in periodic), result.assignment, strict=True))
    return [by_name.get(t.name, 0) for t in ts]  # aperiodic jobs go to cpu 0


def _run_fast(
    inp: SimInput,
    policy: str,
    cpus: int,
    cpu_of: list[int] | None,
    preemptive: bool,
    abort: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The compiled core, writing the job and segment tables directly (one pass, no copies)."""
    from rtkit.sched._simcore import simulate_into

    n_jobs = len(inp.release)
    jobs = np.empty(n_jobs, dtype=JOB_DTYPE)  # every row is written at its job's release
    if cpu_of is None:
        return jobs, simulate_into(jobs, inp, policy, preemptive, abort)
    # Partitioned: each cpu runs its own tasks and writes their jobs at their
    # rows in the whole set's (release, task) order.
    task = np.repeat(np.arange(len(inp.wcet), dtype=np.int64), np.diff(inp.offset))
    rows = np.empty(n_jobs, dtype=np.int64)
    rows[np.lexsort((task, inp.release))] = np.arange(n_jobs)
    parts = []
    for cpu in range(cpus):
        ids = [i for i, c in enumerate(cpu_of) if c == cpu]
        sub, glob = _subset(inp, ids)
        tid = np.array(ids, dtype=np.int64)
        parts.append(
            simulate_into(
                jobs, sub, policy, preemptive, abort, task_id=tid, rows=rows[glob], cpu=cpu
            )
        )
    seg = np.concatenate(parts)
    return jobs, seg[np.lexsort((seg["cpu"], seg["start"]))]


def _run(
    inp: SimInput,
    policy: str,
    cpus: int,
    cpu_of: list[int] | None,
    preemptive: bool,
    abort: bool,
    quantum: int,
    seed: int,
) -> SimOutput:
    """The reference engine, on all cpus at once or (partitioned) one cpu at a time."""

    def one(sub: SimInput, n_cpus: int, cpu: int) -> SimOutput:
        rng = np.random.default_rng([seed, 1, cpu])
        return simulate_reference(sub, policy, n_cpus, preemptive, abort, quantum, rng)

    if cpu_of is None:
        return one(inp, cpus, 0)
    n_jobs = len(inp.release)
    start = np.full(n_jobs, -1, dtype=np.int64)
    finish = np.full(n_jobs, -1, dtype=np.int64)
    executed = np.zeros(n_jobs, dtype=np.int64)
    aborted = np.zeros(n_jobs, dtype=bool)
    segs: list[tuple[np.ndarray, ...]] = []
    for cpu in range(cpus):
        ids = [i for i, c in enumerate(cpu_of) if c == cpu]
        sub, glob = _subset(inp, ids)
        out = one(sub, 1, cpu)
        start[glob], finish[glob] = out.start, out.finish
        executed[glob], aborted[glob] = out.executed, out.aborted
        segs.append((np.full(len(out.seg_job), cpu), glob[out.seg_job], out.seg_start, out.seg_end))
    cat = [np.concatenate([s[k] for s in segs]).astype(np.int64) for k in range(4)]
    return SimOutput(start, finish, executed, aborted, *cat)
