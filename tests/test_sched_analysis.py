"""Tests for rtkit.sched analysis: simulation and analysis agree, textbook numbers hold."""

import math
from fractions import Fraction

import numpy as np
import pytest

from rtkit.errors import ConfigError
from rtkit.sched import (
    Aperiodic,
    Task,
    busy_period,
    demand_bound,
    edf_utilisation_test,
    fits,
    hyperbolic_test,
    liu_layland_bound,
    liu_layland_test,
    log_uniform_periods,
    partition,
    processor_demand_test,
    randfixedsum,
    random_taskset,
    response_time_analysis,
    simulate,
    uunifast,
)

# Periods whose lcm is 120: every hyperperiod, so every simulation, stays short.
PERIODS = np.array([4, 5, 6, 8, 10, 12, 15, 20, 24, 30, 40, 60, 120])
N_SETS = 1_000


def random_set(rng: np.random.Generator, deadlines: str) -> list[Task]:
    """2-6 tasks, UUniFast utilisations scaled to land on both sides of 1."""
    n = int(rng.integers(2, 7))
    total = float(rng.uniform(0.6, 1.0))
    u = uunifast(n, total, rng) * float(rng.uniform(0.85, 1.15))
    tasks = []
    for i in range(n):
        period = int(rng.choice(PERIODS))
        wcet = int(min(period, max(1, round(u[i] * period))))
        deadline = period if deadlines == "implicit" else int(rng.integers(wcet, period + 1))
        tasks.append(Task(f"t{i}", wcet, period, deadline))
    return tasks


def seeded_sets(seed: int, deadlines: str) -> list[list[Task]]:
    rng = np.random.default_rng(seed)
    return [random_set(rng, deadlines) for _ in range(N_SETS)]


def test_fixed_priority_simulation_misses_nothing_exactly_when_rta_says_schedulable():
    rng = np.random.default_rng(11)
    verdicts = {True: 0, False: 0}
    for tasks in seeded_sets(1, "constrained"):
        # Any priority order: a random permutation as explicit FP priorities.
        prio = rng.permutation(len(tasks))
        fp = [
            Task(t.name, t.wcet, t.period, t.deadline, priority=int(p))
            for t, p in zip(tasks, prio, strict=True)
        ]
        for policy, ts in (("dm", tasks), ("fp", fp)):
            rta = response_time_analysis(ts, policy)
            sched = simulate(ts, policy)  # horizon: the hyperperiod
            assert (sched.misses == 0) == rta.schedulable, (policy, ts)
            verdicts[rta.schedulable] += 1
            if rta.schedulable:
                # RTA's response times are exact: the synchronous release reaches them.
                worst = [stat.worst_response for stat in sched.task_stats]
                assert worst == [row.response_time for row in rta.tasks], (policy, ts)
    assert min(verdicts.values()) >= 200, verdicts  # both outcomes well exercised


def test_edf_with_implicit_deadlines_misses_nothing_exactly_when_utilisation_is_at_most_one():
    verdicts = {True: 0, False: 0}
    for tasks in seeded_sets(2, "implicit"):
        u = sum(Fraction(t.wcet, t.period) for t in tasks)
        sched = simulate(tasks, "edf")
        assert (sched.misses == 0) == (u <= 1), tasks
        assert edf_utilisation_test(tasks).schedulable == (u <= 1)
        verdicts[bool(u <= 1)] += 1
    assert min(verdicts.values()) >= 200, verdicts


def test_processor_demand_test_agrees_with_edf_simulation_for_constrained_deadlines():
    verdicts = {True: 0, False: 0}
    checked = {"qpa": 0, "all": 0}
    for tasks in seeded_sets(3, "constrained"):
        qpa = processor_demand_test(tasks)
        full = processor_demand_test(tasks, method="all")
        assert qpa.schedulable == full.schedulable
        if qpa.schedulable:
            checked["qpa"] += qpa.checked
            checked["all"] += full.checked
        sched = simulate(tasks, "edf")
        assert (sched.misses == 0) == qpa.schedulable, tasks
        if not full.schedulable and full.failure is not None:
            # The first deadline where demand exceeds time is a real miss.
            assert demand_bound(tasks, full.failure) > full.failure
            first_miss = sched.jobs[sched.jobs["missed"]]["deadline"].min()
            assert first_miss <= full.failure
        verdicts[qpa.schedulable] += 1
    assert min(verdicts.values()) >= 200, verdicts
    assert checked["qpa"] < checked["all"], checked  # QPA's point: fewer evaluations


def test_sufficient_bounds_never_accept_a_set_that_rm_simulation_rejects():
    for tasks in seeded_sets(4, "implicit")[:300]:
        misses = simulate(tasks, "rm").misses
        for test in (liu_layland_test(tasks), hyperbolic_test(tasks)):
            if test.schedulable:
                assert misses == 0, (test, tasks)
        if liu_layland_test(tasks).passed:
            assert hyperbolic_test(tasks).passed  # hyperbolic dominates Liu-Layland


# -- textbook examples ----------------------------------------------------------


def test_liu_layland_bound_values_from_the_1973_paper():
    # Liu and Layland 1973, Theorem 5: U <= m(2^(1/m) - 1); 0.828 for m = 2,
    # decreasing towards ln 2.
    assert liu_layland_bound(1) == 1.0
    assert round(liu_layland_bound(2), 3) == 0.828
    assert round(liu_layland_bound(3), 3) == 0.780
    assert liu_layland_bound(1000) == pytest.approx(math.log(2), abs=1e-3)
    assert all(liu_layland_bound(n) > liu_layland_bound(n + 1) for n in range(1, 50))


def test_two_tasks_that_rm_misses_and_edf_meets():
    # Buttazzo, Hard Real-Time Computing Systems, ch. 4: tau1 = (C 2, T 5),
    # tau2 = (C 4, T 7), U = 34/35. Under RM tau2's first job gets 2..5 and
    # 7..8: it finishes at 8 > 7. EDF meets every deadline (U <= 1).
    tasks = [Task("t1", 2, 5), Task("t2", 4, 7)]
    rta = response_time_analysis(tasks, "rm")
    assert [r.response_time for r in rta.tasks] == [2, 8]
    assert rta["t2"].steps == (6, 8, 8)  # w0 = C1 + C2 = 6; 4 + ceil(6/5)*2 = 8; fixed
    assert not rta.schedulable and rta.verdict == "unschedulable"
    rm = simulate(tasks, "rm")
    assert rm.misses >= 1 and rm.jobs[rm.jobs["missed"]]["deadline"].min() == 7
    assert simulate(tasks, "edf").misses == 0
    assert liu_layland_test(tasks).verdict == "inconclusive"
    assert edf_utilisation_test(tasks).verdict == "schedulable"


def test_deadline_monotonic_response_time_example():
    # The deadline-monotonic example of Buttazzo's ch. 4 (tau = (C, T, D)):
    # (1, 4, 3), (1, 5, 4), (2, 6, 5), (1, 11, 10). By hand, for tau4:
    #   R0 = 1+1+2+1 = 5
    #   R1 = 1 + ceil(5/4)*1 + ceil(5/5)*1 + ceil(5/6)*2 = 1+2+1+2 = 6
    #   R2 = 1 + 2 + ceil(6/5)*1 + ceil(6/6)*2 = 1+2+2+2 = 7
    #   R3 = 1 + 2 + 2 + ceil(7/6)*2 = 9
    #   R4 = 1 + ceil(9/4)*1 + 2 + 4 = 10,  R5 = 1 + 3 + 2 + 4 = 10 = D4: schedulable.
    tasks = [Task("t1", 1, 4, 3), Task("t2", 1, 5, 4), Task("t3", 2, 6, 5), Task("t4", 1, 11, 10)]
    rta = response_time_analysis(tasks, "dm")
    assert rta["t4"].steps == (5, 6, 7, 9, 10, 10)
    assert [r.response_time for r in rta.tasks] == [1, 2, 4, 10]
    assert rta.schedulable
    sched = simulate(tasks, "dm")
    assert sched.misses == 0
    assert [s.worst_response for s in sched.task_stats] == [1, 2, 4, 10]


def test_burns_and_wellings_response_times():
    # Burns and Wellings' classic three tasks (T, C): a (7, 3), b (12, 3),
    # c (20, 5): R_a = 3, R_b = 6, R_c = 20 (w: 11, 14, 17, 20, 20).
    tasks = [Task("a", 3, 7), Task("b", 3, 12), Task("c", 5, 20)]
    rta = response_time_analysis(tasks, "rm")
    assert [r.response_time for r in rta.tasks] == [3, 6, 20]
    assert rta["c"].steps == (11, 14, 17, 20, 20)
    assert liu_layland_test(tasks).verdict == "inconclusive"  # U = 0.929 > 0.780


def test_blocking_and_jitter_add_to_response_times():
    tasks = [Task("hi", 1, 5), Task("lo", 2, 10)]
    plain = response_time_analysis(tasks, "rm")
    blocked = response_time_analysis(tasks, "rm", blocking={"hi": 2})
    assert blocked["hi"].response_time == plain["hi"].response_time + 2
    jittered = response_time_analysis(tasks, "rm", jitter=[0, 3])
    assert jittered["lo"].response_time == plain["lo"].response_time + 3
    # Jitter of a higher-priority task can squeeze an extra job into the window.
    squeezed = response_time_analysis([Task("hi", 2, 5), Task("lo", 3, 10)], "rm", jitter=[4, 0])
    # w = 3 + ceil((w + 4)/5)*2: 5 -> 7 -> 9 -> 9, three jobs of hi (two without jitter).
    assert squeezed["lo"].steps == (5, 7, 9, 9) and squeezed["lo"].response_time == 9


def test_rta_handles_deadlines_beyond_the_period_with_a_busy_period():
    # Lehoczky's (1990) example: b's level-2 busy period [0, 694) holds seven of
    # its jobs, with response times R_q = 114, 102, 116, 104, 118, 106, 94 for
    # q = 0..6: the fifth job (q = 4) is the worst, R = 118 > T = 100, so the
    # first job alone (114) would be wrong.
    tasks = [Task("a", 26, 70), Task("b", 62, 100, deadline=200)]
    rta = response_time_analysis(tasks, "rm")
    sched = simulate(tasks, "rm", horizon=700)
    assert rta["b"].response_time == 118 and rta["b"].jobs == 7
    assert rta["b"].steps[-1] == 114  # the first job's fixed point
    b = sched.jobs[sched.jobs["task"] == 1]
    assert b["response"].tolist() == [114, 102, 116, 104, 118, 106, 94]
    assert sched.task_stat("b").worst_response == rta["b"].response_time
    assert rta.schedulable == (sched.misses == 0)


def test_explicit_priority_order_and_its_errors():
    tasks = [Task("a", 1, 4), Task("b", 1, 8)]
    r = response_time_analysis(tasks, order=["b", "a"])
    assert r.order == ("b", "a") and r["a"].response_time == 2
    with pytest.raises(ConfigError, match="order must name every task"):
        response_time_analysis(tasks, order=["a"])
    with pytest.raises(ConfigError, match="policy must be one of"):
        response_time_analysis(tasks, "edf")
    with pytest.raises(ConfigError, match="blocking must be >= 0"):
        response_time_analysis(tasks, blocking=[-1, 0])
    with pytest.raises(ConfigError, match="unknown tasks"):
        response_time_analysis(tasks, jitter={"zz": 1})
    with pytest.raises(ConfigError, match="periodic or sporadic"):
        response_time_analysis([Aperiodic("x", 1, 0)])


def test_overloaded_sets_are_unschedulable_in_every_test():
    tasks = [Task("a", 3, 4), Task("b", 3, 6)]  # U = 1.25
    assert processor_demand_test(tasks).verdict == "unschedulable"
    assert processor_demand_test(tasks).limit is None
    assert busy_period(tasks) is None
    assert liu_layland_test(tasks).verdict == "unschedulable"
    rta = response_time_analysis(tasks, "rm")
    assert not rta.schedulable and rta["b"].response_time is None


def test_demand_bound_counts_jobs_with_deadline_inside_the_window():
    tasks = [Task("a", 2, 5, deadline=3)]
    assert [demand_bound(tasks, t) for t in (2, 3, 7, 8, 13)] == [0, 2, 2, 4, 6]


def test_utilisation_exactly_one_passes_the_exact_tests():
    tasks = [Task("a", 1, 2), Task("b", 1, 3), Task("c", 1, 6)]
    assert edf_utilisation_test(tasks).schedulable
    assert processor_demand_test(tasks).schedulable
    assert simulate(tasks, "edf").misses == 0


# -- partitioning and generators -------------------------------------------------


@pytest.mark.parametrize("heuristic", ["ffd", "bfd", "wfd"])
def test_partition_places_every_task_on_a_processor_that_passes_the_test(heuristic):
    rng = np.random.default_rng(5)
    for _ in range(40):
        tasks = random_taskset(8, float(rng.uniform(1.0, 2.6)), periods=list(PERIODS), seed=rng)
        p = partition(tasks, 3, heuristic, test="edf")
        for cpu, names in enumerate(p.bins):
            on_cpu = [t for t in tasks if t.name in names]
            assert fits(on_cpu, "edf")
            assert p.utilisations[cpu] == pytest.approx(sum(t.utilisation for t in on_cpu))
        assert p.feasible == (not p.unassigned)
        placed = [n for b in p.bins for n in b]
        assert sorted(placed + list(p.unassigned)) == sorted(t.name for t in tasks)
        if p.feasible:
            sched = simulate(tasks, "edf", cpus=3, placement="partitioned", assignment=p.assignment)
            sched._check()
            assert sched.misses == 0


def test_heuristics_differ_as_the_textbook_says():
    tasks = [Task("big", 6, 10), Task("mid", 5, 10), Task("small", 4, 10)]
    assert partition(tasks, 2, "ffd").bins == (("big", "small"), ("mid",))
    assert partition(tasks, 2, "bfd").bins == (("big", "small"), ("mid",))
    assert partition(tasks, 2, "wfd").bins == (("big",), ("mid", "small"))
    too_much = partition([*tasks, Task("huge", 9, 10)], 2, "ffd")
    assert not too_much.feasible and too_much.unassigned == ("mid",)


def test_partition_with_rm_uses_response_time_analysis():
    tasks = [Task("t1", 2, 5), Task("t2", 4, 7)]  # RM cannot share one cpu, EDF can
    assert partition(tasks, 1, test="edf").feasible
    assert not partition(tasks, 1, test="rm").feasible
    assert partition(tasks, 2, test="rm").feasible


def test_generators_are_seeded_and_hit_their_totals():
    for seed in range(50):
        u = uunifast(6, 0.8, seed)
        assert u.sum() == pytest.approx(0.8) and (u >= 0).all()
        r = randfixedsum(6, 3.3, seed)
        assert r.sum() == pytest.approx(3.3) and (r >= 0).all() and (r <= 1 + 1e-12).all()
    assert np.array_equal(uunifast(5, 0.5, 9), uunifast(5, 0.5, 9))
    assert not np.array_equal(uunifast(5, 0.5, 9), uunifast(5, 0.5, 10))
    p = log_uniform_periods(1000, 10, 10_000, seed=1, granularity=10)
    assert p.min() >= 10 and p.max() <= 10_000 and (p % 10 == 0).all()
    # Log-uniform: about as many periods per decade.
    decades = np.histogram(np.log10(p), bins=[1, 2, 3, 4.01])[0]
    assert decades.min() > 250
    assert random_taskset(4, 0.5, seed=3) == random_taskset(4, 0.5, seed=3)


def test_randfixedsum_is_uniform_enough_to_have_the_right_mean():
    draws = np.array([randfixedsum(4, 2.0, s) for s in range(2000)])
    assert draws.mean(axis=0) == pytest.approx([0.5] * 4, abs=0.03)


def test_log_uniform_periods_are_always_multiples_of_the_granularity():
    for low, high, g in [(10, 20, 50), (15, 95, 10), (3, 7, 5), (1, 1, 1)]:
        first, last = -(-low // g) * g, high // g * g
        if first > last:
            with pytest.raises(ConfigError, match=f"no multiple of granularity {g} lies in"):
                log_uniform_periods(3, low, high, granularity=g)
            continue
        p = log_uniform_periods(200, low, high, seed=4, granularity=g)
        assert (p % g == 0).all() and p.min() >= low and p.max() <= high
        assert {first, last} <= set(p.tolist())  # the range's ends are reachable


def test_generator_errors():
    with pytest.raises(ConfigError, match="utilisation must be in"):
        uunifast(3, 1.5)
    with pytest.raises(ConfigError, match="utilisation must be in"):
        randfixedsum(3, 3.5)
    with pytest.raises(ConfigError, match="deadlines must be one of"):
        random_taskset(3, 0.5, deadlines="loose")


def test_rta_terminates_on_a_task_that_overloads_the_processor_alone():
    # wcet > period with no interference: w converges at once, the busy period never ends.
    result = response_time_analysis([Task("a", 5, 4)], "rm")
    assert not result.schedulable
    assert result.tasks[0].response_time is None


def test_rta_terminates_when_a_lower_priority_level_is_overloaded():
    result = response_time_analysis([Task("a", 1, 4), Task("b", 4, 5)], "rm")
    assert [rt.schedulable for rt in result.tasks] == [True, False]
    assert result.tasks[0].response_time == 1


def test_an_empty_task_set_is_schedulable_under_every_test():
    assert processor_demand_test([]).schedulable
    assert processor_demand_test([], method="all").schedulable
    assert processor_demand_test([]).failure is None
    assert response_time_analysis([]).schedulable
    for bound in (liu_layland_test, hyperbolic_test, edf_utilisation_test):
        assert bound([]).verdict == "schedulable"
    assert busy_period([]) == 0 and demand_bound([], 10) == 0
    assert all(fits([], test) for test in ("edf", "rm", "dm", "liu_layland", "hyperbolic"))
    assert partition([], 2).feasible
