"""Schedule: everything a simulation produced, as arrays and as objects.

A :class:`Schedule` holds

* ``jobs``: a structured array (``JOB_DTYPE``), one row per job released
  before the horizon, ordered by (release, task): release, absolute deadline,
  start, finish, executed time, response time, missed, aborted, preemptions,
  migrations. ``-1`` marks a start/finish/response that did not happen;
  a job without a deadline has deadline ``INF``. :meth:`Schedule.job_list`
  gives the same rows as frozen :class:`~rtkit.sched.model.Job` objects.
* ``segments``: a structured array (``SEGMENT_DTYPE``) of execution stretches
  ``[start, end)`` (cpu, task, job row), ordered by (start, cpu): the bars of
  a Gantt chart. A job that keeps running is one segment, so a segment ends
  exactly when its job stops running: finishes, is preempted, is aborted, or
  the horizon is reached.
* per-task statistics (:attr:`Schedule.task_stats`) and the miss ratio.

What counts as a miss: a job misses if it finishes after its deadline, is
aborted, or is still unfinished at a deadline that falls within the horizon.
A job still running at the horizon whose deadline lies beyond it is
*pending*: neither met nor missed, and left out of :attr:`miss_ratio`.

A *preemption* is a segment that ends before its job's end of life (finish,
abort at the deadline, or horizon); a *migration* is a job resuming on a
different cpu from the one it last ran on.

Invariants (:meth:`Schedule._check`): segments on one cpu never overlap; a job
never runs on two cpus at once and jobs of one task never overlap; jobs of
one task run in release order (job k + 1 starts no earlier than job k
finishes or is aborted); no job runs before its release; the segments of a
job add up to its executed time, which equals its wcet exactly when it
finished; an aborted job stops at its deadline; the miss flags agree with
the times.

Example:
    >>> from rtkit.sched import Task, simulate
    >>> s = simulate([Task("a", 1, 3), Task("b", 2, 4)], policy="rm", horizon=12)
    >>> len(s.jobs), s.stats().misses
    (7, 0)
    >>> print(s.gantt_text())
    a |#  #  #  #  |
    b | ## ##  # # |
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from rtkit.sched.model import Aperiodic, Job, Segment, Task, TaskStats
from rtkit.sched.policies import INF

__all__ = ["JOB_DTYPE", "SEGMENT_DTYPE", "Schedule", "ScheduleStats"]

JOB_DTYPE = np.dtype(
    [
        ("task", np.int32),
        ("index", np.int64),
        ("release", np.int64),
        ("deadline", np.int64),
        ("start", np.int64),
        ("finish", np.int64),
        ("executed", np.int64),
        ("response", np.int64),
        ("missed", np.bool_),
        ("aborted", np.bool_),
        ("preemptions", np.int32),
        ("migrations", np.int32),
    ]
)

SEGMENT_DTYPE = np.dtype(
    [
        ("cpu", np.int32),
        ("task", np.int32),
        ("job", np.int64),
        ("start", np.int64),
        ("end", np.int64),
    ]
)


@dataclass(frozen=True)
class ScheduleStats:
    """Totals of a run. ``miss_ratio`` = misses / decided jobs (pending ones left out)."""

    policy: str
    cpus: int
    horizon: int
    jobs: int
    completed: int
    misses: int
    aborted: int
    pending: int
    preemptions: int
    migrations: int
    segments: int
    busy: int
    miss_ratio: float


class Schedule:
    """The result of :func:`~rtkit.sched.simulator.simulate`; see the module docstring.

    Built by the simulator, not by hand. Attributes: ``tasks``, ``policy``,
    ``cpus``, ``placement``, ``preemptive``, ``on_miss``, ``horizon``,
    ``assignment`` (cpu of each task when partitioned, else ``None``),
    ``engine`` (``"fast"`` or ``"reference"``), ``jobs``, ``segments``.
    """

    def __init__(
        self,
        *,
        tasks: tuple[Task | Aperiodic, ...],
        policy: str,
        cpus: int,
        placement: str,
        preemptive: bool,
        on_miss: str,
        horizon: int,
        assignment: tuple[int, ...] | None,
        engine: str,
        jobs: np.ndarray,
        segments: np.ndarray,
    ) -> None:
        self.tasks = tasks
        self.policy = policy
        self.cpus = cpus
        self.placement = placement
        self.preemptive = preemptive
        self.on_miss = on_miss
        self.horizon = horizon
        self.assignment = assignment
        self.engine = engine
        self.jobs = jobs
        self.segments = segments

    # -- views ------------------------------------------------------------

    def job_list(self) -> list[Job]:
        """The jobs as frozen :class:`~rtkit.sched.model.Job` objects. Cost: O(jobs)."""
        names = [t.name for t in self.tasks]

        def opt(v: int) -> int | None:
            return None if v < 0 else int(v)

        return [
            Job(
                task=names[r["task"]],
                task_index=int(r["task"]),
                index=int(r["index"]),
                release=int(r["release"]),
                deadline=None if r["deadline"] >= INF else int(r["deadline"]),
                start=opt(r["start"]),
                finish=opt(r["finish"]),
                executed=int(r["executed"]),
                response=opt(r["response"]),
                missed=bool(r["missed"]),
                aborted=bool(r["aborted"]),
                preemptions=int(r["preemptions"]),
                migrations=int(r["migrations"]),
            )
            for r in self.jobs
        ]

    def segment_list(self) -> list[Segment]:
        """The segments as frozen :class:`~rtkit.sched.model.Segment` objects."""
        names = [t.name for t in self.tasks]
        return [
            Segment(int(c), names[t], int(t), int(j), int(s), int(e))
            for c, t, j, s, e in self.segments.tolist()
        ]

    @cached_property
    def task_stats(self) -> tuple[TaskStats, ...]:
        """One :class:`~rtkit.sched.model.TaskStats` per task, in task-set order."""
        out = []
        for i, t in enumerate(self.tasks):
            rows = self.jobs[self.jobs["task"] == i]
            done = rows[rows["finish"] >= 0]
            out.append(
                TaskStats(
                    name=t.name,
                    jobs=len(rows),
                    completed=len(done),
                    misses=int(rows["missed"].sum()),
                    worst_response=int(done["response"].max()) if len(done) else None,
                    preemptions=int(rows["preemptions"].sum()),
                    migrations=int(rows["migrations"].sum()),
                )
            )
        return tuple(out)

    def task_stat(self, name: str) -> TaskStats:
        """The :class:`~rtkit.sched.model.TaskStats` of the task called ``name``."""
        for s in self.task_stats:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def misses(self) -> int:
        """Number of jobs that missed their deadline."""
        return int(self.jobs["missed"].sum())

    @property
    def miss_ratio(self) -> float:
        """Missed jobs / decided jobs (finished, missed or aborted); 0.0 if none decided."""
        decided = int(((self.jobs["finish"] >= 0) | self.jobs["missed"]).sum())
        return self.misses / decided if decided else 0.0

    def stats(self) -> ScheduleStats:
        """Totals as a frozen :class:`ScheduleStats`. Cost: O(jobs)."""
        j = self.jobs
        finished = j["finish"] >= 0
        return ScheduleStats(
            policy=self.policy,
            cpus=self.cpus,
            horizon=self.horizon,
            jobs=len(j),
            completed=int(finished.sum()),
            misses=self.misses,
            aborted=int(j["aborted"].sum()),
            pending=int((~finished & ~j["missed"]).sum()),
            preemptions=int(j["preemptions"].sum()),
            migrations=int(j["migrations"].sum()),
            segments=len(self.segments),
            busy=int(j["executed"].sum()),
            miss_ratio=self.miss_ratio,
        )

    def gantt_text(self, width: int = 120) -> str:
        """A text Gantt chart: one row per task, one character per time unit.

        ``#`` marks a unit the task ran, ``!`` a unit it ran late
        (after a deadline it missed). Only the first ``width`` units are shown.
        """
        span = min(self.horizon, width)
        rows = []
        label = max((len(t.name) for t in self.tasks), default=1)
        for i, t in enumerate(self.tasks):
            line = [" "] * span
            for s in self.segments[self.segments["task"] == i]:
                dl = self.jobs["deadline"][s["job"]]
                for u in range(int(s["start"]), min(int(s["end"]), span)):
                    line[u] = "!" if u >= dl else "#"
            rows.append(f"{t.name:<{label}} |{''.join(line)}|")
        return "\n".join(rows)

    def __repr__(self) -> str:
        s = self.stats()
        return (
            f"Schedule(policy={self.policy!r}, cpus={self.cpus}, horizon={self.horizon}, "
            f"jobs={s.jobs}, misses={s.misses}, segments={s.segments})"
        )

    # -- invariants ----------------------------------------------------------

    def _check(self) -> None:
        """Assert every invariant in the module docstring. Cost: O(jobs + segments log)."""
        j, seg = self.jobs, self.segments
        assert np.all(seg["start"] < seg["end"]), "empty or reversed segment"
        assert np.all(seg["start"] >= 0) and np.all(seg["end"] <= self.horizon), "out of horizon"
        assert np.all((seg["cpu"] >= 0) & (seg["cpu"] < self.cpus)), "unknown cpu"
        assert np.all(seg["task"] == j["task"][seg["job"]]), "segment names the wrong task"
        for cpu in range(self.cpus):
            s = np.sort(seg[seg["cpu"] == cpu], order="start")
            assert np.all(s["end"][:-1] <= s["start"][1:]), f"segments overlap on cpu {cpu}"
        by_job = np.sort(seg, order=["job", "start"])
        same = by_job["job"][1:] == by_job["job"][:-1]
        assert np.all(by_job["end"][:-1][same] <= by_job["start"][1:][same]), "job on two cpus"
        assert np.all(by_job["start"] >= j["release"][by_job["job"]]), "ran before release"
        for i in range(len(self.tasks)):
            s = np.sort(seg[seg["task"] == i], order="start")
            assert np.all(s["end"][:-1] <= s["start"][1:]), "two jobs of one task overlap"
            if self.assignment is not None:
                assert np.all(s["cpu"] == self.assignment[i]), "partitioned task moved cpu"
        # Release order within a task: a job starts only after its predecessor
        # is done (finished, or aborted, which happens at or after its deadline);
        # while the predecessor is unfinished, the successor never starts.
        by_index = np.lexsort((j["index"], j["task"]))
        prev, nxt = by_index[:-1], by_index[1:]
        pair = j["task"][prev] == j["task"][nxt]
        prev, nxt = prev[pair], nxt[pair]
        done_at = np.where(
            j["finish"][prev] >= 0,
            j["finish"][prev],
            np.where(j["aborted"][prev], j["deadline"][prev], INF),
        )
        started = j["start"][nxt] >= 0
        assert np.all(j["start"][nxt][started] >= done_at[started]), "jobs of a task out of order"
        ran = np.zeros(len(j), dtype=np.int64)
        np.add.at(ran, seg["job"], seg["end"] - seg["start"])
        assert np.array_equal(ran, j["executed"]), "segments do not add up to executed time"
        wcet = np.array([t.wcet for t in self.tasks], dtype=np.int64)[j["task"]]
        finished = j["finish"] >= 0
        assert np.all((j["executed"] == wcet) == finished), "finished exactly when wcet ran"
        assert np.all(j["executed"] <= wcet), "ran longer than wcet"
        assert np.all(j["response"][finished] == (j["finish"] - j["release"])[finished])
        started = j["start"] >= 0
        assert np.all(started == (j["executed"] > 0)), "start recorded iff the job ran"
        assert np.all(j["start"][started] >= j["release"][started]), "start before release"
        late = np.where(finished, j["finish"] > j["deadline"], j["deadline"] <= self.horizon)
        assert np.array_equal(j["missed"], late | j["aborted"]), "miss flags disagree"
        assert not np.any(j["aborted"] & finished), "an aborted job finished"
        if self.on_miss == "continue":
            assert not j["aborted"].any(), "aborted under on_miss='continue'"
        else:
            last_end = np.zeros(len(j), dtype=np.int64)
            np.maximum.at(last_end, seg["job"], seg["end"])
            assert np.all(last_end <= j["deadline"]), "a job ran past its deadline under abort"
        if self.cpus == 1 or self.placement == "partitioned":
            assert j["migrations"].sum() == 0, "a migration without global scheduling"
