"""Dispatch rules checked instant by instant against their textbook definitions.

The simulator jumps from event to event; these tests replay its schedule one
time unit at a time and check, at every instant, that the jobs running are
the ones the policy's definition picks: global multiprocessor scheduling runs
the top-m ready jobs by the policy key (EDF, RM, DM, FP and LLF, whose key
changes as time passes), non-preemptive scheduling never idles a cpu while a
job waits, and stride scheduling does not let a task that was away catch up.
"""

import numpy as np
import pytest

from rtkit.sched import Task, priority_order, simulate

HORIZON = 60


def random_tasks(rng: np.random.Generator, n_max: int = 6) -> list[Task]:
    tasks = []
    for i in range(int(rng.integers(2, n_max + 1))):
        period = int(rng.integers(3, 15))
        wcet = int(rng.integers(1, period + 1))
        tasks.append(
            Task(
                f"t{i}",
                wcet,
                period,
                deadline=int(rng.integers(wcet, 2 * period + 1)),
                phase=int(rng.integers(0, 5)),
                priority=int(rng.integers(0, 3)),  # equal priorities on purpose
            )
        )
    return tasks


def replay(schedule):
    """Per instant: (running jobs, ready queue heads, executed time of every job so far).

    A task's *head* is its oldest released, unfinished job: jobs of one task
    run in release order, so only heads are candidates.
    """
    jobs, seg = schedule.jobs, schedule.segments
    wcet = np.array([t.wcet for t in schedule.tasks])[jobs["task"]]
    running = [set() for _ in range(schedule.horizon)]
    for _, _, job, s0, s1 in seg.tolist():
        for u in range(s0, s1):
            assert job not in running[u], "a job on two cpus"
            running[u].add(job)
    per_task = [np.flatnonzero(jobs["task"] == i) for i in range(len(schedule.tasks))]
    for rows in per_task:
        assert np.all(np.diff(jobs["index"][rows]) == 1)  # in release order
    executed = np.zeros(len(jobs), dtype=np.int64)
    for u in range(schedule.horizon):
        heads = []
        for rows in per_task:
            for r in rows.tolist():
                if jobs["release"][r] > u:
                    break
                if executed[r] < wcet[r]:
                    heads.append(r)
                    break
        yield u, running[u], heads, executed.copy()
        for r in running[u]:
            executed[r] += 1


def key_function(schedule, policy):
    """The policy's ordering key of job ``r`` at instant ``u``: smaller runs first."""
    jobs = schedule.jobs
    wcet = np.array([t.wcet for t in schedule.tasks])[jobs["task"]]
    rank = {}
    if policy in ("rm", "dm", "fp"):
        rank = {i: k for k, i in enumerate(priority_order(schedule.tasks, policy))}

    def key(r, u, executed):
        task = int(jobs["task"][r])
        if policy == "edf":
            primary = int(jobs["deadline"][r])
        elif policy == "llf":  # laxity: time to the deadline minus the work still to do
            primary = int(jobs["deadline"][r]) - u - int(wcet[r] - executed[r])
        else:
            primary = rank[task]
        return (primary, int(jobs["release"][r]), task)

    return key


@pytest.mark.parametrize("policy", ["edf", "rm", "dm", "fp", "llf"])
def test_preemptive_global_runs_the_top_m_ready_jobs_at_every_instant(policy):
    rng = np.random.default_rng({"edf": 1, "rm": 2, "dm": 3, "fp": 4, "llf": 5}[policy])
    instants = 0
    for _ in range(40):
        tasks = random_tasks(rng)
        cpus = int(rng.integers(1, 4))
        s = simulate(tasks, policy, horizon=HORIZON, cpus=cpus)
        s._check()
        key = key_function(s, policy)
        for u, running, heads, executed in replay(s):
            top = sorted(heads, key=lambda r: key(r, u, executed))[:cpus]
            assert running == set(top), (policy, cpus, tasks, u)
            instants += 1
    assert instants == 40 * HORIZON


def test_llf_breaks_laxity_ties_by_release_then_task_at_each_crossing():
    # Equal work and deadlines: a (task 0) wins the tie at 0; b's laxity drops
    # below a's at 1; a catches up to a tie at 2 and wins it as the lower task,
    # and so on: strict alternation, one unit each, switching on the crossing.
    s = simulate([Task("a", 4, 10), Task("b", 4, 10)], "llf", horizon=10)
    s._check()
    assert s.segments[["task", "start", "end"]].tolist() == [
        (0, 0, 1),
        (1, 1, 2),
        (0, 2, 3),
        (1, 3, 4),
        (0, 4, 5),
        (1, 5, 6),
        (0, 6, 7),
        (1, 7, 8),
    ]
    # A later release loses a laxity tie. d runs alone from 0; c arrives at 2
    # with laxity 9 - 2 - 3 = 4, equal to d's (10 - 2 - 4): d keeps the cpu.
    # At 3 c's laxity is 3 < 4 and c runs; at 4 d's has fallen to 3, a tie that
    # d (released earlier) wins at once, and so on until c finishes at 8.
    s = simulate([Task("d", 6, 20, deadline=10), Task("c", 3, 20, deadline=7, phase=2)], "llf")
    s._check()
    assert s.segments[["task", "start", "end"]].tolist()[:7] == [
        (0, 0, 3),
        (1, 3, 4),
        (0, 4, 5),
        (1, 5, 6),
        (0, 6, 7),
        (1, 7, 8),
        (0, 8, 9),
    ]
    assert s.misses == 0


@pytest.mark.parametrize("policy", ["edf", "rm", "llf"])
def test_non_preemptive_global_never_idles_a_cpu_while_a_job_waits(policy):
    rng = np.random.default_rng({"edf": 11, "rm": 12, "llf": 13}[policy])
    for _ in range(40):
        tasks = random_tasks(rng, n_max=5)
        cpus = int(rng.integers(1, 4))
        s = simulate(tasks, policy, horizon=HORIZON, cpus=cpus, preemptive=False)
        s._check()
        assert s.stats().preemptions == 0 and s.stats().migrations == 0
        for u, running, heads, _ in replay(s):
            assert len(running) == min(cpus, len(heads)), (policy, cpus, tasks, u)


def test_stride_does_not_let_a_returning_task_monopolise_the_cpu():
    # b shares the cpu with a until its job is done (at 80), then idles while a
    # runs alone and a's pass races ahead. When b returns at 200 its pass is
    # raised to a's, so they alternate again instead of b running 40 units in a
    # row to "catch up" on time it never asked for.
    tasks = [Task("a", 1000, 1000), Task("b", 40, 200)]
    s = simulate(tasks, "stride", horizon=240)
    s._check()
    seg = s.segments
    b_back = seg[(seg["task"] == 1) & (seg["start"] >= 200)]
    assert b_back["start"].min() < 202 and (b_back["end"] - b_back["start"]).max() == 1
    assert int((b_back["end"] - b_back["start"]).sum()) == 20  # half of [200, 240)
    # Before b left, the shares were equal too: one unit each in turn.
    early = seg[seg["end"] <= 80]
    assert (early["end"] - early["start"]).max() == 1
