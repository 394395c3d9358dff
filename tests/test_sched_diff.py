"""Differential tests: the compiled simulator core against the readable reference.

Both engines must produce identical job tables and identical segments (same
cpu, job, start and end) for every case the compiled core handles: EDF, RM,
DM and FP on one cpu or partitioned, preemptive or not, soft or firm
deadlines, with phases, arbitrary deadlines, sporadic and aperiodic arrivals.
Every schedule must also pass its own ``_check()``.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rtkit.sched import Aperiodic, Task, random_taskset, simulate

FAST_POLICIES = ["edf", "rm", "dm", "fp"]


@st.composite
def task_sets(draw):
    n = draw(st.integers(1, 5))
    tasks = []
    for i in range(n):
        period = draw(st.integers(2, 12))
        tasks.append(
            Task(
                f"t{i}",
                wcet=draw(st.integers(1, 6)),
                period=period,
                deadline=draw(st.integers(1, 2 * period)),
                phase=draw(st.integers(0, 5)),
                priority=draw(st.integers(0, 3)),  # duplicates on purpose
                sporadic=draw(st.booleans()),
            )
        )
    for k in range(draw(st.integers(0, 2))):
        tasks.append(
            Aperiodic(
                f"a{k}",
                wcet=draw(st.integers(1, 8)),
                release=draw(st.integers(0, 40)),
                deadline=draw(st.none() | st.integers(1, 30)),
                priority=draw(st.integers(0, 3)),
            )
        )
    return tasks


def assert_same(a, b):
    a._check()
    b._check()
    assert (a.engine, b.engine) == ("fast", "reference")
    assert np.array_equal(a.jobs, b.jobs), "job tables differ"
    assert np.array_equal(a.segments, b.segments), "segments differ"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    tasks=task_sets(),
    policy=st.sampled_from(FAST_POLICIES),
    preemptive=st.booleans(),
    on_miss=st.sampled_from(["continue", "abort"]),
    horizon=st.integers(1, 150),
    seed=st.integers(0, 3),
)
def test_fast_and_reference_engines_give_identical_schedules(
    tasks, policy, preemptive, on_miss, horizon, seed
):
    kw = {"horizon": horizon, "preemptive": preemptive, "on_miss": on_miss, "seed": seed}
    fast = simulate(tasks, policy, engine="fast", **kw)
    ref = simulate(tasks, policy, engine="reference", **kw)
    assert_same(fast, ref)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    tasks=task_sets(),
    policy=st.sampled_from(FAST_POLICIES),
    cpus=st.integers(2, 3),
    data=st.data(),
)
def test_partitioned_engines_agree_for_any_assignment(tasks, policy, cpus, data):
    assignment = data.draw(
        st.lists(st.integers(0, cpus - 1), min_size=len(tasks), max_size=len(tasks))
    )
    kw = {"horizon": 120, "cpus": cpus, "placement": "partitioned", "assignment": assignment}
    fast = simulate(tasks, policy, engine="fast", **kw)
    ref = simulate(tasks, policy, engine="reference", **kw)
    assert_same(fast, ref)
    assert fast.assignment == tuple(assignment)


def test_engines_agree_on_seeded_ten_task_sets_near_full_load():
    for seed in range(8):
        tasks = random_taskset(
            10, 0.8 + seed / 35, periods=(10, 200), deadlines="constrained", seed=seed
        )
        for policy in FAST_POLICIES[:3]:
            fast = simulate(tasks, policy, horizon=2_000, engine="fast")
            ref = simulate(tasks, policy, horizon=2_000, engine="reference")
            assert_same(fast, ref)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    tasks=task_sets(),
    policy=st.sampled_from(["llf", "stride", "lottery", "edf", "rm"]),
    cpus=st.integers(1, 3),
    preemptive=st.booleans(),
    on_miss=st.sampled_from(["continue", "abort"]),
)
def test_reference_schedules_keep_their_invariants_under_every_policy(
    tasks, policy, cpus, preemptive, on_miss
):
    s = simulate(
        tasks, policy, horizon=80, cpus=cpus, preemptive=preemptive, on_miss=on_miss, quantum=2
    )
    s._check()
    # Work conservation: a cpu is idle only when no job is waiting to run.
    if s.cpus == 1 and policy not in ("stride", "lottery"):
        busy = np.zeros(80, dtype=bool)
        for seg in s.segments:
            busy[seg["start"] : seg["end"]] = True
        j = s.jobs
        for t in np.flatnonzero(~busy):
            waiting = (j["release"] <= t) & ((j["finish"] > t) | (j["finish"] < 0))
            waiting &= ~j["aborted"] | (j["deadline"] > t)
            assert not waiting.any(), f"idle at {t} with work waiting"


def test_engines_agree_under_overload_with_long_queues_and_many_tasks():
    # Overload piles jobs up in every queue, and 40 tasks make the compiled
    # core's release heap several levels deep: both stress the bookkeeping
    # that the small hypothesis cases barely reach.
    for n, u, seed in ((3, 1.4, 1), (10, 1.2, 2), (40, 1.05, 3)):
        tasks = random_taskset(n, u, periods=(5, 120), deadlines="constrained", seed=seed)
        for policy in FAST_POLICIES[:3]:
            for preemptive in (True, False):
                for on_miss in ("continue", "abort"):
                    kw = {"horizon": 1_500, "preemptive": preemptive, "on_miss": on_miss}
                    fast = simulate(tasks, policy, engine="fast", **kw)
                    ref = simulate(tasks, policy, engine="reference", **kw)
                    assert_same(fast, ref)
                    assert fast.misses > 0  # the overload is real


def test_fast_tables_are_fresh_and_fully_written():
    # The compiled core writes the job table row by row into uninitialised
    # memory: every row must be complete, and two runs must share nothing.
    tasks = [Task("a", 2, 5), Task("b", 4, 7), Aperiodic("x", 3, release=4)]
    a = simulate(tasks, "edf", horizon=70)
    b = simulate(tasks, "edf", horizon=70)
    assert np.array_equal(a.jobs, b.jobs) and np.array_equal(a.segments, b.segments)
    assert not np.shares_memory(a.jobs, b.jobs)
    assert not np.shares_memory(a.segments, b.segments)
    assert sorted(a.jobs["index"][a.jobs["task"] == 0]) == list(range(14))
    assert np.all(np.diff(a.jobs["release"]) >= 0)
    a._check()
