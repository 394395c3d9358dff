"""Tests for rtkit.sched.executor: counts and structure, never timings."""

import threading

import numpy as np
import pytest

from rtkit.clock import VirtualClock, WallClock
from rtkit.errors import ConfigError, StateError
from rtkit.sched import Executor, PeriodicCallable, Task, simulate


def recorder(log, name):
    return lambda: log.append(name)


def test_virtual_clock_run_releases_every_period_and_runs_every_job():
    log = []
    tasks = [
        PeriodicCallable("a", recorder(log, "a"), period_ns=1_000),
        PeriodicCallable("b", recorder(log, "b"), period_ns=3_000, phase_ns=500),
    ]
    ex = Executor(tasks, clock=VirtualClock())
    st = ex.run(10_000)
    ex._check()
    assert (st.released, st.completed, st.missed, st.skipped, st.failed) == (14, 14, 0, 0, 0)
    assert log.count("a") == 10 and log.count("b") == 4
    reports = {r.name: r for r in ex.reports()}
    assert reports["a"].response.count == 10 and reports["b"].lateness.count == 4
    assert not st.running


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("edf", ["short_deadline", "long_period", "short_period"]),  # deadlines 20, 40, 50
        ("rm", ["short_period", "short_deadline", "long_period"]),
        ("dm", ["short_deadline", "long_period", "short_period"]),
        ("fp", ["long_period", "short_deadline", "short_period"]),
    ],
)
def test_the_ready_queue_follows_the_policy(policy, expected):
    log = []
    tasks = [
        PeriodicCallable(
            "long_period", recorder(log, "long_period"), 100, deadline_ns=40, priority=0
        ),
        PeriodicCallable(
            "short_period", recorder(log, "short_period"), 50, deadline_ns=50, priority=2
        ),
        PeriodicCallable(
            "short_deadline", recorder(log, "short_deadline"), 80, deadline_ns=20, priority=1
        ),
    ]
    Executor(tasks, policy=policy, clock=VirtualClock()).run(1)
    assert log == expected


def test_a_job_that_takes_too_long_is_counted_as_missed():
    clock = VirtualClock()

    def slow():
        clock.advance(700)  # a virtual 700 ns of work against a 500 ns deadline

    ex = Executor([PeriodicCallable("slow", slow, 1_000, deadline_ns=500)], clock=clock)
    st = ex.run(5_000)
    ex._check()
    assert st.completed == 5 and st.missed == 5
    assert ex.reports()[0].response.min == 700


def test_overrun_queues_jobs_and_the_rest_are_skipped_at_the_end():
    clock = VirtualClock()

    def hog():
        clock.advance(2_500)  # longer than the period: a backlog builds up

    ex = Executor([PeriodicCallable("hog", hog, 1_000, deadline_ns=3_000)], clock=clock)
    st = ex.run(10_000)
    ex._check()
    assert st.released == 10
    assert st.completed + st.skipped == st.released and st.skipped > 0
    assert st.missed == st.completed - 1  # only the first job is on time
    assert ex.reports()[0].lateness.max >= 1_000  # releases noticed late while hogging


def test_a_failing_callable_is_counted_and_the_others_keep_running():
    def boom():
        raise RuntimeError("sensor unplugged")

    log = []
    ex = Executor(
        [PeriodicCallable("boom", boom, 1_000), PeriodicCallable("ok", recorder(log, "ok"), 1_000)],
        clock=VirtualClock(),
    )
    st = ex.run(3_000)
    ex._check()
    assert st.failed == 3 and st.completed == 3 and len(log) == 3
    assert isinstance(st.first_error, RuntimeError)


def test_wall_clock_run_stops_cleanly_and_accounts_for_every_job():
    before = threading.active_count()
    count = [0]

    def work():
        count[0] += 1

    ex = Executor(
        [PeriodicCallable("w", work, 2_000_000), PeriodicCallable("v", work, 3_000_000)],
        clock=WallClock(spin_ns=0),
    )
    st = ex.run(60_000_000)
    ex._check()
    assert st.released >= 2 and st.completed + st.skipped + st.failed == st.released
    assert count[0] == st.completed
    r = ex.reports()
    assert sum(x.response.count for x in r) == st.completed
    assert threading.active_count() == before  # the worker thread is gone


def test_stop_ends_a_long_run_early():
    ex = Executor([PeriodicCallable("w", lambda: None, 1_000_000)], clock=WallClock(spin_ns=0))
    ex.start(3_600 * 10**9)
    st = ex.stop(timeout=10)
    ex._check()
    assert not st.running


def test_lifecycle_and_configuration_errors():
    ex = Executor([PeriodicCallable("w", lambda: None, 1_000)], clock=VirtualClock())
    with pytest.raises(StateError, match="stop\\(\\) before start\\(\\)"):
        ex.stop()
    ex.run(2_000)
    with pytest.raises(StateError, match="runs once"):
        ex.run(2_000)
    with pytest.raises(ConfigError, match="policy must be one of"):
        Executor([PeriodicCallable("w", lambda: None, 1)], policy="llf")
    with pytest.raises(ConfigError, match="needs a priority"):
        Executor([PeriodicCallable("w", lambda: None, 1)], policy="fp")
    with pytest.raises(ConfigError, match="period_ns must be >= 1"):
        PeriodicCallable("w", lambda: None, 0)
    with pytest.raises(ConfigError, match="fn must be callable"):
        PeriodicCallable("w", 42, 10)
    with pytest.raises(ConfigError, match="unique"):
        Executor([PeriodicCallable("w", lambda: None, 1), PeriodicCallable("w", lambda: None, 1)])


def test_a_run_is_never_cut_short_by_its_timeout():
    # 500 ms of 10 ms periods is 50 releases, whatever the grace period says.
    ex = Executor([PeriodicCallable("w", lambda: None, 10_000_000)], clock=WallClock(spin_ns=0))
    st = ex.run(500_000_000, timeout=0.25)
    ex._check()
    assert st.released == 50 and not st.running


def test_a_stuck_callable_raises_instead_of_returning_partial_totals():
    before = threading.active_count()
    release = threading.Event()
    ex = Executor(
        [PeriodicCallable("stuck", lambda: release.wait(5.0), 1_000_000)],
        clock=WallClock(spin_ns=0),
    )
    try:
        with pytest.raises(StateError, match="did not finish within"):
            ex.run(1_000_000, timeout=0.2)
    finally:
        release.set()
        st = ex.stop(timeout=10)
    assert not st.running and threading.active_count() == before
    with pytest.raises(ConfigError, match="timeout must be"):
        Executor([PeriodicCallable("w", lambda: None, 1)], clock=VirtualClock()).run(1, timeout=-1)


def test_reports_are_snapshots_that_do_not_change_after_they_are_taken():
    snapshots = []
    ex = None

    def work():
        if len(snapshots) < 1 and ex.stats().completed == 3:
            snapshots.append(ex.reports())

    ex = Executor([PeriodicCallable("w", work, 1_000)], clock=VirtualClock())
    st = ex.run(10_000)
    (mid,) = snapshots[0]
    assert st.completed == 10 and ex.reports()[0].response.count == 10
    assert (mid.completed, mid.response.count, mid.released, mid.lateness.count) == (3, 3, 4, 4)


def random_fixed_key_set(rng):
    tasks = []
    for i in range(int(rng.integers(2, 5))):
        period = int(rng.integers(5, 15))
        wcet = int(rng.integers(1, 5))
        deadline = int(rng.integers(wcet, period + 1))
        tasks.append(Task(f"t{i}", wcet, period, deadline, phase=int(rng.integers(0, 4))))
    return tasks


def test_on_a_virtual_clock_the_executor_starts_jobs_where_the_simulator_does():
    # Each callable takes exactly its WCET of virtual time: the executor is then
    # a non-preemptive scheduler and must match simulate(..., preemptive=False).
    rng = np.random.default_rng(3)
    horizon = 120
    for k in range(60):
        tasks = random_fixed_key_set(rng)
        policy = ("edf", "rm", "dm")[k % 3]
        sched = simulate(tasks, policy, horizon=horizon, preemptive=False)
        clock = VirtualClock()
        log = []

        def job(i, wcet, clock=clock, log=log):
            def fn():
                log.append((i, clock.now_ns()))
                clock.advance(wcet)

            return fn

        ex = Executor(
            [
                PeriodicCallable(
                    t.name, job(i, t.wcet), t.period, deadline_ns=t.deadline, phase_ns=t.phase
                )
                for i, t in enumerate(tasks)
            ],
            policy=policy,
            clock=clock,
        )
        ex.run(horizon)
        ex._check()
        started = sched.jobs[sched.jobs["start"] >= 0]
        expected = sorted(zip(started["task"].tolist(), started["start"].tolist(), strict=True))
        assert sorted(log) == expected, (policy, tasks)
