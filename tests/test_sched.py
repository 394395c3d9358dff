"""Tests for rtkit.sched: the task model, its validation, and what simulate() produces."""

import inspect

import numpy as np
import pytest

from rtkit.errors import ConfigError
from rtkit.sched import (
    Aperiodic,
    Job,
    Schedule,
    Segment,
    Task,
    default_horizon,
    hyperperiod,
    simulate,
    utilisation,
)

CLASSIC = [Task("t1", 2, 5), Task("t2", 4, 7)]  # U = 34/35: RM misses, EDF does not


def run(tasks, policy="edf", **kw) -> Schedule:
    s = simulate(tasks, policy, **kw)
    s._check()
    return s


# -- model -----------------------------------------------------------------------


def test_task_defaults_deadline_to_period_and_computes_utilisation():
    t = Task("a", 3, 12)
    assert (t.deadline, t.phase, t.priority, t.weight, t.sporadic) == (12, 0, None, 1, False)
    assert t.utilisation == 0.25 and t.density == 0.25
    assert Task("b", 3, 12, deadline=6).density == 0.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"wcet": 0}, "wcet must be >= 1, got 0"),
        ({"wcet": -2}, "wcet must be >= 1, got -2"),
        ({"period": 0}, "period must be >= 1, got 0"),
        ({"period": -5}, "period must be >= 1, got -5"),
        ({"deadline": 0}, "deadline must be >= 1, got 0"),
        ({"period": 2.5}, "period must be an integer, got 2.5"),
        ({"wcet": 1.0}, "wcet must be an integer, got 1.0"),
        ({"deadline": True}, "deadline must be an integer, got True"),
        ({"phase": -1}, "phase must be >= 0, got -1"),
        ({"priority": 1.5}, "priority must be an integer"),
        ({"weight": 0}, "weight must be >= 1, got 0"),
        ({"name": ""}, "name must be a non-empty string"),
        ({"sporadic": 1}, "sporadic must be True or False"),
    ],
)
def test_bad_task_fields_are_refused_with_a_clear_message(kwargs, message):
    fields = {"name": "t", "wcet": 1, "period": 4} | kwargs
    with pytest.raises(ConfigError, match=message):
        Task(**fields)


def test_numpy_integers_are_accepted_and_normalised_to_int():
    t = Task("t", np.int64(2), np.int32(8))
    assert type(t.wcet) is int and type(t.period) is int and t.deadline == 8


def test_wcet_above_deadline_is_legal_but_every_job_misses():
    s = run([Task("late", 5, 10, deadline=3)])
    assert s.misses == len(s.jobs) == 1
    assert s.jobs[0]["finish"] == 5


def test_bad_simulate_arguments_are_refused_and_name_what_is_allowed():
    with pytest.raises(ConfigError, match="policy must be one of 'edf', 'rm'"):
        simulate(CLASSIC, "fifo")
    with pytest.raises(ConfigError, match="needs a priority on every task"):
        simulate(CLASSIC, "fp")
    with pytest.raises(ConfigError, match="cpus must be >= 1"):
        simulate(CLASSIC, cpus=0)
    with pytest.raises(ConfigError, match="placement must be one of"):
        simulate(CLASSIC, placement="clustered")
    with pytest.raises(ConfigError, match="horizon must be >= 1"):
        simulate(CLASSIC, horizon=0)
    with pytest.raises(ConfigError, match="horizon must be an integer"):
        simulate(CLASSIC, horizon=10.5)
    with pytest.raises(ConfigError, match="task names must be unique"):
        simulate([Task("a", 1, 4), Task("a", 1, 5)])
    with pytest.raises(ConfigError, match="at least one task"):
        simulate([])
    with pytest.raises(ConfigError, match="sequence of Task"):
        simulate(Task("a", 1, 4))
    with pytest.raises(ConfigError, match="on_miss must be one of"):
        simulate(CLASSIC, on_miss="drop")
    with pytest.raises(ConfigError, match="engine 'fast' runs"):
        simulate(CLASSIC, "llf", engine="fast")
    with pytest.raises(ConfigError, match="preemptive must be True or False"):
        simulate(CLASSIC, preemptive="no")
    with pytest.raises(ConfigError, match="assignment must give one cpu per task"):
        simulate(CLASSIC, cpus=2, placement="partitioned", assignment=[0])


def test_a_huge_default_hyperperiod_is_refused_but_an_explicit_horizon_works():
    primes = [Task(f"p{k}", 1, p) for k, p in enumerate([997, 991, 983, 977, 971])]
    with pytest.raises(ConfigError, match="pass horizon="):
        simulate(primes)
    assert len(run(primes, horizon=2_000).jobs) == 15  # releases at 0, T and 2T < 2000


def test_hyperperiod_and_default_horizon():
    ts = [Task("a", 1, 4, phase=3), Task("b", 1, 6), Aperiodic("x", 2, release=40, deadline=5)]
    assert hyperperiod(ts) == 12
    assert default_horizon(ts) == 45
    assert utilisation(ts) == pytest.approx(1 / 4 + 1 / 6)


# -- schedules -------------------------------------------------------------------


def test_rm_and_edf_on_the_classic_pair():
    rm, edf = run(CLASSIC, "rm"), run(CLASSIC, "edf")
    assert rm.horizon == edf.horizon == 35
    assert len(rm.jobs) == len(edf.jobs) == 7 + 5
    assert rm.misses == 1 and edf.misses == 0
    first_t2 = rm.job_list()[1]
    assert (first_t2.task, first_t2.finish, first_t2.missed, first_t2.response) == (
        "t2",
        8,
        True,
        8,
    )
    assert rm.task_stat("t2").misses == 1 and rm.task_stat("t1").misses == 0


def test_jobs_are_ordered_by_release_then_task_and_indexed_per_task():
    s = run(CLASSIC)
    assert np.all(np.diff(s.jobs["release"]) >= 0)
    for i in range(2):
        mine = s.jobs[s.jobs["task"] == i]
        assert mine["index"].tolist() == list(range(len(mine)))
    assert np.all(np.diff(s.segments["start"]) >= 0)


def test_views_match_the_arrays():
    s = run(CLASSIC, "rm")
    jobs, segs = s.job_list(), s.segment_list()
    assert all(isinstance(j, Job) for j in jobs) and all(isinstance(g, Segment) for g in segs)
    assert [j.finish for j in jobs] == s.jobs["finish"].tolist()
    assert sum(g.end - g.start for g in segs) == s.stats().busy
    assert {g.task for g in segs} == {"t1", "t2"}


def test_stats_add_up():
    s = run(CLASSIC, "rm")
    st = s.stats()
    assert st.jobs == st.completed + st.pending + (
        st.misses - sum(1 for j in s.job_list() if j.missed and j.finish is not None)
    )
    assert st.busy == sum(
        int(t.wcet) * len(s.jobs[s.jobs["task"] == i]) for i, t in enumerate(CLASSIC)
    )
    assert st.preemptions == sum(t.preemptions for t in s.task_stats)
    assert 0 < st.miss_ratio < 1 and st.migrations == 0


def test_preemptions_are_counted_per_job():
    # RM: hi runs 0-1, 3-4, 6-7, 9-10; lo runs 1-3 and 4-6: preempted once, at 3.
    s = run([Task("hi", 1, 3), Task("lo", 4, 12)], "rm")
    row = int(np.flatnonzero(s.jobs["task"] == 1)[0])
    segs = s.segments[s.segments["job"] == row]
    assert [(int(a), int(b)) for a, b in zip(segs["start"], segs["end"], strict=True)] == [
        (1, 3),
        (4, 6),
    ]
    assert s.jobs[row]["preemptions"] == 1 and s.jobs[row]["finish"] == 6
    assert s.task_stat("hi").preemptions == 0


def test_no_job_runs_before_its_phase():
    s = run([Task("a", 1, 4, phase=3), Task("b", 2, 4)], horizon=12)
    assert s.jobs[s.jobs["task"] == 0]["release"].tolist() == [3, 7, 11]
    assert s.segments[s.segments["task"] == 0]["start"].min() >= 3


def test_non_preemptive_edf_is_not_optimal():
    # Under preemptive EDF all deadlines hold; without preemption the long job,
    # started while the short one was not yet released, makes it miss.
    tasks = [Task("long", 4, 12, phase=0), Task("short", 1, 12, deadline=2, phase=1)]
    assert run(tasks, "edf").misses == 0
    np_sched = run(tasks, "edf", preemptive=False)
    assert np_sched.misses == 1 and np_sched.stats().preemptions == 0


def test_abort_drops_a_late_job_at_its_deadline_and_protects_the_next():
    over = [Task("hog", 6, 10, deadline=5), Task("b", 2, 10)]
    soft = run(over, "dm")
    firm = run(over, "dm", on_miss="abort")
    hog = firm.jobs[firm.jobs["task"] == 0][0]
    assert hog["aborted"] and hog["missed"] and hog["executed"] == 5 and hog["finish"] == -1
    assert soft.jobs[soft.jobs["task"] == 0][0]["finish"] == 6
    assert firm.stats().aborted == 1 and soft.stats().aborted == 0


def test_aperiodic_jobs_run_in_background_under_rm_and_by_deadline_under_edf():
    periodic = [Task("p", 2, 4)]
    alarm = Aperiodic("alarm", 3, release=1, deadline=4)
    rm = run([*periodic, alarm], "rm", horizon=12)
    edf = run([*periodic, alarm], "edf", horizon=12)
    a_rm = rm.jobs[rm.jobs["task"] == 1][0]
    a_edf = edf.jobs[edf.jobs["task"] == 1][0]
    assert a_rm["missed"] and not a_edf["missed"]
    assert len(rm.jobs[rm.jobs["task"] == 1]) == 1
    nodeadline = run([*periodic, Aperiodic("bg", 5, release=0)], "edf", horizon=20)
    assert nodeadline.misses == 0 and nodeadline.jobs[nodeadline.jobs["task"] == 1][0]["finish"] > 0


def test_sporadic_arrivals_are_seeded_and_respect_the_minimum_gap():
    tasks = [Task("s", 1, 10, sporadic=True), Task("p", 1, 10)]
    a = run(tasks, horizon=2_000, seed=3)
    b = run(tasks, horizon=2_000, seed=3)
    c = run(tasks, horizon=2_000, seed=4)
    rel = a.jobs[a.jobs["task"] == 0]["release"]
    assert np.array_equal(a.jobs, b.jobs)
    assert not np.array_equal(rel, c.jobs[c.jobs["task"] == 0]["release"])
    gaps = np.diff(rel)
    assert gaps.min() >= 10 and gaps.max() <= 20 and gaps.mean() > 12
    # The arrivals depend on the seed only, not on the policy or cpus.
    d = run(tasks, "rm", horizon=2_000, seed=3, cpus=2)
    assert np.array_equal(np.sort(d.jobs["release"]), np.sort(a.jobs["release"]))


def test_seed_is_the_sixth_positional_parameter_and_the_options_are_keyword_only():
    # simulate(tasks, policy, horizon, cpus, placement, seed), as the issue writes it.
    tasks = [Task("s", 1, 5, sporadic=True), Task("p", 2, 7)]
    by_position = simulate(tasks, "edf", 200, 1, "global", 3)
    assert np.array_equal(by_position.jobs, run(tasks, "edf", horizon=200, seed=3).jobs)
    assert not np.array_equal(by_position.jobs, run(tasks, "edf", horizon=200, seed=4).jobs)
    params = inspect.signature(simulate).parameters
    positional = [n for n, p in params.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == ["tasks", "policy", "horizon", "cpus", "placement", "seed"]
    with pytest.raises(TypeError):
        simulate(tasks, "edf", 200, 1, "global", 3, False)  # preemptive is keyword-only
    assert run(tasks, "edf", horizon=200, preemptive=False).stats().preemptions == 0


def test_assignment_is_validated_on_any_number_of_cpus_and_refused_where_meaningless():
    with pytest.raises(ConfigError, match="one cpu per task \\(2\\), got 3"):
        simulate(CLASSIC, cpus=1, placement="partitioned", assignment=[9, 9, 9])
    with pytest.raises(ConfigError, match="assignment cpus must be < 1, got 1"):
        simulate(CLASSIC, cpus=1, placement="partitioned", assignment=[0, 1])
    with pytest.raises(ConfigError, match="assignment cpu must be >= 0, got -1"):
        simulate(CLASSIC, cpus=2, placement="partitioned", assignment=[0, -1])
    with pytest.raises(ConfigError, match="sequence of cpu numbers"):
        simulate(CLASSIC, cpus=2, placement="partitioned", assignment=1)
    for cpus in (1, 2):  # global scheduling has no assignment, on one cpu or several
        with pytest.raises(ConfigError, match="only used with placement='partitioned'"):
            simulate(CLASSIC, cpus=cpus, assignment=[-1])
    # A valid assignment on one cpu is the one-cpu schedule.
    one = run(CLASSIC, "rm", cpus=1, placement="partitioned", assignment=[0, 0])
    assert np.array_equal(one.segments, run(CLASSIC, "rm").segments)


def test_llf_meets_what_edf_meets_on_one_cpu():
    tasks = [Task("a", 2, 6), Task("b", 2, 8), Task("c", 3, 12)]
    s = run(tasks, "llf")
    assert s.misses == 0 and s.engine == "reference"


def test_llf_switches_on_laxity_crossings():
    # Equal work, equal deadlines: LLF alternates, EDF runs one then the other.
    tasks = [Task("a", 4, 10), Task("b", 4, 10)]
    llf, edf = run(tasks, "llf", horizon=10), run(tasks, "edf", horizon=10)
    assert llf.stats().preemptions > edf.stats().preemptions == 0
    assert llf.misses == edf.misses == 0


def test_stride_gives_time_in_proportion_to_weight():
    tasks = [Task("a", 1000, 1000, weight=3), Task("b", 1000, 1000, weight=1)]
    s = run(tasks, "stride", horizon=400)
    done = [int(s.jobs["executed"][s.jobs["task"] == i].sum()) for i in range(2)]
    assert done == [300, 100]
    coarse = run(tasks, "stride", horizon=400, quantum=10)
    assert [int(coarse.jobs["executed"][coarse.jobs["task"] == i].sum()) for i in range(2)] == [
        300,
        100,
    ]
    assert len(coarse.segments) < len(s.segments)


def test_lottery_is_seeded_and_roughly_proportional():
    tasks = [Task("a", 10_000, 10_000, weight=4), Task("b", 10_000, 10_000, weight=1)]
    a = run(tasks, "lottery", horizon=2_000, seed=1)
    assert np.array_equal(a.segments, run(tasks, "lottery", horizon=2_000, seed=1).segments)
    assert not np.array_equal(a.segments, run(tasks, "lottery", horizon=2_000, seed=2).segments)
    share = a.jobs["executed"][a.jobs["task"] == 0].sum() / 2_000
    assert 0.75 < share < 0.85


def test_proportional_share_does_not_guarantee_deadlines():
    # Stride hands "urgent" one quantum in six, whatever its deadline says.
    tasks = [Task("bulk", 5, 8, weight=5), Task("urgent", 2, 8, deadline=3)]
    assert run(tasks, "edf").misses == 0
    stride = run(tasks, "stride")
    assert stride.misses == 1 and stride.task_stat("urgent").worst_response == 7


def test_dhall_effect_global_edf_misses_where_partitioning_succeeds():
    # m = 2 light tasks (C 2, T 10) and one heavy (C 10, T 11), U = 1.31 on 2 cpus:
    # the light jobs' earlier deadlines take both cpus at 0, heavy ends at 12 > 11.
    tasks = [Task("l1", 2, 10), Task("l2", 2, 10), Task("heavy", 10, 11)]
    glob = run(tasks, "edf", cpus=2, horizon=110)
    part = run(tasks, "edf", cpus=2, placement="partitioned", horizon=110)
    assert glob.misses > 0 and part.misses == 0
    assert part.assignment is not None and len(set(part.assignment)) == 2
    assert glob.engine == "reference" and part.engine == "fast"


def test_global_scheduling_migrates_jobs_and_counts_it():
    tasks = [Task("a", 2, 3), Task("b", 3, 8), Task("c", 2, 8)]
    s = run(tasks, "edf", cpus=2)
    assert s.misses == 0 and s.stats().migrations == 1
    assert s.stats().migrations == sum(t.migrations for t in s.task_stats)


def test_partitioned_assignment_is_respected_and_refused_when_it_does_not_fit():
    tasks = [Task("a", 3, 4), Task("b", 3, 4), Task("c", 1, 4)]
    s = run(tasks, "rm", cpus=2, placement="partitioned", assignment=[0, 1, 1])
    assert s.assignment == (0, 1, 1) and s.misses == 0
    with pytest.raises(ConfigError, match="cannot place"):
        simulate([*tasks, Task("d", 3, 4)], "edf", cpus=2, placement="partitioned")


def test_engines_agree_on_the_classic_pair():
    for policy in ("edf", "rm", "dm"):
        fast, ref = run(CLASSIC, policy), run(CLASSIC, policy, engine="reference")
        assert fast.engine == "fast" and ref.engine == "reference"
        assert np.array_equal(fast.jobs, ref.jobs) and np.array_equal(fast.segments, ref.segments)


def test_gantt_text_marks_late_execution():
    text = run(CLASSIC, "rm").gantt_text(width=10)
    assert text.splitlines()[1] == "t2 |  ###  !##|"


def test_check_catches_a_corrupted_schedule():
    s = run(CLASSIC, "rm")
    s.segments = s.segments.copy()
    s.segments["end"][0] += 1  # now overlaps the next segment
    with pytest.raises(AssertionError):
        s._check()


def test_check_catches_jobs_of_one_task_run_out_of_release_order():
    s = run([Task("a", 1, 2, deadline=4)], horizon=6)  # jobs at 0-1, 2-3, 4-5
    assert s.segments[["start", "end"]].tolist() == [(0, 1), (2, 3), (4, 5)]
    s.jobs, s.segments = s.jobs.copy(), s.segments.copy()
    # Job 0 now runs 3-4, after job 1 (2-3): no overlap, no miss, but out of order.
    s.segments["start"][0], s.segments["end"][0] = 3, 4
    s.jobs["start"][0], s.jobs["finish"][0], s.jobs["response"][0] = 3, 4, 4
    with pytest.raises(AssertionError, match="out of order"):
        s._check()


def test_firm_deadlines_keep_release_order_after_an_abort():
    s = run([Task("a", 3, 2, deadline=2)], horizon=8, on_miss="abort")
    assert s.jobs["aborted"].all() and s.misses == len(s.jobs) == 4
    assert s.jobs["start"].tolist() == [0, 2, 4, 6]  # each starts at its predecessor's abort


def test_hundreds_of_thousands_of_jobs_are_recorded_in_full():
    tasks = [Task(f"t{k}", 1, p) for k, p in enumerate([10, 12, 15, 20, 25, 30, 40, 50, 60, 75])]
    s = simulate(tasks, "edf", horizon=1_000_000)
    assert len(s.jobs) == sum(-(-1_000_000 // t.period) for t in tasks) > 400_000
    assert s.misses == 0 and s.stats().busy == len(s.jobs)
