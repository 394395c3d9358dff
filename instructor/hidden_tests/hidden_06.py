"""Hidden tests for lesson 06's exercises. Instructors only: never ship this file.

``rtkit grade ... --hidden-tests instructor/hidden_tests`` runs them after the
public tests. They hold answers to the public tests' reference models on seeded
random inputs, to :mod:`rtkit.sched` (its EDF and stride simulations and its
response-time analysis), and to the schedules themselves: EDF driven one time unit at a time by
the learner's ``edf_pick`` must meet every deadline of a random task set with
utilisation at most 1; response times must equal the worst response seen in a
fixed-priority simulation over the hyperperiod (the critical instant), and
``None`` exactly when that simulation misses a deadline; the Liu-Layland
verdict must agree with sets built to sit exactly at U = 1 and at the bound.
Messages say what was called and what kind of result was wrong, never the
expected value. ``response_time`` calls run under ``bounded_call``'s time budget,
so an iteration with no deadline check fails instead of hanging the grader.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from rtkit.grading.catalog import PublicTest, test

# The public tests' reference models: one definition of each expected result.
from rtkit.grading.ex06 import _edf_model, _ll_model, _rta_model, _stride_model, bounded_call
from rtkit.sched import Task, response_time_analysis, simulate

# -- 06.liu-layland -----------------------------------------------------------------


def _h06_ll_agrees(f, tasks, what):
    u, bound, verdict = _ll_model(tasks)
    got = f([tuple(t) for t in tasks])
    if (
        not isinstance(got, (tuple, list))
        or len(got) != 3
        or not math.isclose(float(got[0]), float(u), rel_tol=1e-9)
        or not math.isclose(float(got[1]), bound, rel_tol=1e-9)
        or got[2] != verdict
    ):
        raise AssertionError(
            f"liu_layland(...) on {what}: the utilisation, the bound or the verdict is wrong"
        )


@test("seeded random task sets of 1 to 12 tasks, from light to overloaded")
def _h06_ll_random(f):
    rng = np.random.default_rng(6_001)
    for trial in range(600):
        n = int(rng.integers(1, 13))
        periods = rng.integers(2, 200, size=n)
        load = rng.uniform(0.05, 1.3) / n
        tasks = [(max(1, round(float(load * t))), int(t)) for t in periods]
        _h06_ll_agrees(f, tasks, f"seeded random set {trial}")


@test("sets at exactly U = 1, whatever floating point makes of them, and single full tasks")
def _h06_ll_exact(f):
    rng = np.random.default_rng(6_002)
    over = 0
    for _ in range(20_000):
        n = int(rng.integers(1, 5))
        tasks = [(int(rng.integers(1, 6)), int(rng.integers(6, 31))) for _ in range(n)]
        rest = 1 - sum(Fraction(c, t) for c, t in tasks)
        if not 0 < rest < 1 or rest.denominator > 400:
            continue
        tasks.append((rest.numerator, rest.denominator))
        rng.shuffle(tasks)
        _h06_ll_agrees(f, tasks, f"a set of {len(tasks)} tasks with utilisation exactly 1")
        over += sum(c / t for c, t in tasks) > 1
        if over == 25:
            break
    for c in (1, 7, 1000):
        _h06_ll_agrees(f, [(c, c)], "one task that uses the whole processor")


# -- 06.edf-pick --------------------------------------------------------------------


@test("seeded random job lists with ties, future and finished jobs")
def _h06_edf_random(f):
    rng = np.random.default_rng(6_003)
    for trial in range(3_000):
        n = int(rng.integers(0, 9))
        tasks = rng.permutation(12)[:n]
        jobs = [
            (
                int(tasks[k]),
                int(rng.integers(0, 6)),
                int(rng.integers(1, 6)),
                int(rng.integers(0, 3)),
            )
            for k in range(n)
        ]
        now = int(rng.integers(0, 7))
        if f(list(jobs), now) != _edf_model(jobs, now):
            raise AssertionError(
                f"edf_pick(jobs, now) on seeded random job list {trial}: the job picked is not "
                "the one EDF runs"
            )


@test("EDF driven by edf_pick, one time unit at a time, on random sets with U <= 1")
def _h06_edf_schedules(f):
    rng = np.random.default_rng(6_004)
    for trial in range(40):
        n = int(rng.integers(2, 5))
        periods = [int(p) for p in rng.choice([4, 5, 6, 8, 10, 12, 15, 20], size=n)]
        horizon = math.lcm(*periods)
        wcets = [1] * n
        for _ in range(200):  # grow the load while it still fits
            k = int(rng.integers(0, n))
            grown = [c + (i == k) for i, c in enumerate(wcets)]
            if grown[k] <= periods[k] and sum(map(Fraction, grown, periods)) <= 1:
                wcets = grown
        deadlines = [
            t if rng.random() < 0.5 else int(rng.integers(c, t + 1))
            for c, t in zip(wcets, periods, strict=True)
        ]
        jobs = [
            [i, r, d, c]
            for i, (c, t, d) in enumerate(zip(wcets, periods, deadlines, strict=True))
            for r in range(0, horizon, t)
        ]
        model = [list(j) for j in jobs]
        for now in range(horizon):
            got = f([tuple(j) for j in jobs], now)
            want = _edf_model([tuple(j) for j in model], now)
            if got != want:
                raise AssertionError(
                    f"edf_pick(jobs, now) driving EDF on seeded random task set {trial}: the "
                    "job picked is not the one EDF runs at that time"
                )
            if got is not None:
                jobs[got][3] -= 1
                model[want][3] -= 1


def _h06_units(schedule) -> list[int | None]:
    """The task running in each time unit of a one-cpu rtkit Schedule (None when idle)."""
    units: list[int | None] = [None] * schedule.horizon
    for _, task, _, start, end in schedule.segments.tolist():
        units[start:end] = [task] * (end - start)
    return units


@test("the schedule edf_pick drives is rtkit.sched's EDF schedule, unit for unit")
def _h06_edf_library(f):
    rng = np.random.default_rng(6_008)
    for trial in range(25):
        n = int(rng.integers(2, 5))
        periods = [int(p) for p in rng.choice([4, 6, 8, 12, 24], size=n)]
        wcets = [max(1, int(p * rng.uniform(0.05, 0.9 / n))) for p in periods]
        tasks = [Task(f"t{i}", c, t) for i, (c, t) in enumerate(zip(wcets, periods, strict=True))]
        horizon = math.lcm(*periods)
        jobs = [[i, r, t, c] for i, (c, t) in enumerate(zip(wcets, periods, strict=True))
                for r in range(0, horizon, t)]  # fmt: skip
        ran = []
        for now in range(horizon):
            got = f([tuple(j) for j in jobs], now)
            ran.append(None if got is None else jobs[got][0])
            if got is not None:
                jobs[got][3] -= 1
        if ran != _h06_units(simulate(tasks, "edf")):
            raise AssertionError(
                f"edf_pick(jobs, now) driving EDF on seeded random task set {trial}: the "
                "schedule differs from rtkit.sched's EDF simulation"
            )


# -- 06.stride ----------------------------------------------------------------------


@test("seeded random ticket counts, up to 1,000 quanta")
def _h06_stride_random(f):
    rng = np.random.default_rng(6_005)
    for trial in range(150):
        n = int(rng.integers(1, 9))
        tickets = [int(t) for t in rng.integers(1, 50, size=n)]
        if trial % 5 == 0:
            tickets = [int(rng.integers(1, 4))] * n  # many ties
        quanta = int(rng.integers(0, 1_000))
        got = f(list(tickets), quanta)
        if list(got) != _stride_model(tickets, quanta):
            raise AssertionError(
                f"stride_order(tickets, quanta) on seeded random case {trial}: the dispatch "
                "order is not stride scheduling's"
            )


@test("at every point, each task's count of quanta stays near its tickets' share")
def _h06_stride_fair(f):
    for tickets in ([50, 30, 20], [1, 2, 4, 8], [7, 7, 1], [100, 1]):
        total = sum(tickets)
        order = list(f(list(tickets), 10 * total))
        for q in range(1, len(order) + 1):
            if q % 7 and q != len(order):
                continue
            for i, t in enumerate(tickets):
                if abs(order[:q].count(i) - q * t / total) > len(tickets):
                    raise AssertionError(
                        f"stride_order({tickets}, {10 * total}): some task's count of quanta "
                        "drifts from its share of the tickets (stride scheduling keeps the error "
                        "within a quantum per task)"
                    )
        if order != _stride_model(tickets, 10 * total):
            raise AssertionError(
                f"stride_order({tickets}, {10 * total}): the order is not stride scheduling's"
            )


@test("the order matches rtkit.sched's stride simulation of always-busy tasks")
def _h06_stride_library(f):
    rng = np.random.default_rng(6_009)
    for trial in range(20):
        tickets = [int(t) for t in rng.integers(1, 12, size=int(rng.integers(1, 6)))]
        tasks = [Task(f"t{i}", 10**6, 10**6, weight=w) for i, w in enumerate(tickets)]
        want = _h06_units(simulate(tasks, "stride", horizon=200))
        if list(f(list(tickets), 200)) != want:
            raise AssertionError(
                f"stride_order(tickets, 200) on seeded random case {trial}: the order differs "
                "from rtkit.sched's stride scheduling"
            )


# -- 06.response-time ---------------------------------------------------------------


def _h06_fp_worst(tasks, horizon):
    """Preemptive FP (index = priority) from a synchronous release, over ``horizon``.

    Each task's worst response time, or None for a task with a job that missed.
    """
    pending = [[] for _ in tasks]  # per task, [release, remaining] in release order
    worst, missed = [0] * len(tasks), [False] * len(tasks)
    for now in range(horizon):
        for i, (c, t, _) in enumerate(tasks):
            if now % t == 0:
                pending[i].append([now, c])
        for i in range(len(tasks)):
            if pending[i]:
                pending[i][0][1] -= 1
                if pending[i][0][1] == 0:
                    worst[i] = max(worst[i], now + 1 - pending[i].pop(0)[0])
                break
        for i, (_, _, d) in enumerate(tasks):
            missed[i] |= any(now + 1 >= release + d for release, _ in pending[i])
    return [None if m else w for w, m in zip(worst, missed, strict=True)]


def _h06_bounded(f):
    """``f``, failing (not hanging) on a call that never returns: an unbounded iteration."""

    def bounded(*args):
        return bounded_call("response_time(...)", f, *args)

    return bounded


@test("seeded random RM task sets: response times equal the worst seen in simulation")
def _h06_rta_simulated(f):
    f = _h06_bounded(f)
    rng = np.random.default_rng(6_006)
    for trial in range(60):
        n = int(rng.integers(1, 5))
        periods = sorted(int(p) for p in rng.choice([4, 5, 6, 8, 10, 12, 15, 20], size=n))
        tasks = []
        for t in periods:
            c = int(rng.integers(1, max(2, t // n)))
            tasks.append((c, t, int(rng.integers(c, t + 1))))
        blocking = [int(rng.integers(0, 3)) if k < n - 1 else 0 for k in range(n)]
        horizon = math.lcm(*periods)
        simulated = _h06_fp_worst(tasks, horizon)
        for i, task in enumerate(tasks):
            higher = [(c, t) for c, t, _ in tasks[:i]]
            args = (task, higher) if blocking[i] == 0 else (task, higher, blocking[i])
            got = f(*args)
            want = _rta_model(task, higher, blocking[i])
            if got != want:
                raise AssertionError(
                    f"response_time(...) on seeded random task set {trial}, task {i}: the "
                    "result differs from response-time analysis"
                )
            if blocking[i] == 0:  # no blocking: analysis and simulation agree exactly
                assert want == simulated[i], "the hidden test's own two models disagree"


@test("unschedulable higher priorities, long blocking and equality at the deadline")
def _h06_rta_edges(f):
    f = _h06_bounded(f)
    cases = [
        ((1, 100, 100), [(1, 2), (1, 2)], 0),
        ((1, 100, 100), [(1, 2), (1, 3)], 0),
        ((5, 50, 30), [(2, 5), (3, 10)], 0),
        ((2, 10, 4), [(2, 5)], 0),
        ((2, 10, 6), [(2, 5)], 2),
        ((1, 40, 40), [(3, 7), (3, 12), (5, 20)], 0),
        ((3, 100, 60), [(1, 4), (2, 6), (3, 10)], 7),
        ((4, 30, 30), [], 26),
        ((4, 30, 29), [], 26),
    ]
    rng = np.random.default_rng(6_007)
    for _ in range(300):
        k = int(rng.integers(0, 5))
        higher = [(int(rng.integers(1, 4)), int(rng.integers(3, 30))) for _ in range(k)]
        c, t = int(rng.integers(1, 8)), int(rng.integers(10, 200))
        cases.append(((c, t, int(rng.integers(c, t + 1))), higher, int(rng.integers(0, 6))))
    for case, (task, higher, blocking) in enumerate(cases):
        got = f(task, list(higher), blocking)
        if got != _rta_model(task, higher, blocking):
            raise AssertionError(
                f"response_time(task, higher, blocking) on edge case {case}: the result differs "
                "from response-time analysis"
            )


@test("response times agree with rtkit.sched.response_time_analysis, blocking included")
def _h06_rta_library(f):
    f = _h06_bounded(f)
    rng = np.random.default_rng(6_010)
    for trial in range(150):
        n = int(rng.integers(1, 6))
        tasks = []
        for k in range(n):
            t = int(rng.integers(5, 60))
            c = int(rng.integers(1, max(2, t // n)))
            tasks.append(Task(f"t{k}", c, t, int(rng.integers(c, t + 1))))
        blocking = [int(rng.integers(0, 4)) for _ in tasks]
        rta = response_time_analysis(tasks, "dm", blocking=blocking)
        ranked = [tasks[[t.name for t in tasks].index(name)] for name in rta.order]
        for i, task in enumerate(ranked):
            row = rta[task.name]
            higher = [(t.wcet, t.period) for t in ranked[:i]]
            b = blocking[tasks.index(task)]
            got = f((task.wcet, task.period, task.deadline), higher, b)
            if got != (row.response_time if row.schedulable else None):
                raise AssertionError(
                    f"response_time(...) on seeded random task set {trial}: a result differs "
                    "from rtkit.sched's response-time analysis"
                )


HIDDEN: dict[str, list[PublicTest]] = {
    "06.liu-layland": [_h06_ll_random, _h06_ll_exact],
    "06.edf-pick": [_h06_edf_random, _h06_edf_schedules, _h06_edf_library],
    "06.stride": [_h06_stride_random, _h06_stride_fair, _h06_stride_library],
    "06.response-time": [_h06_rta_simulated, _h06_rta_edges, _h06_rta_library],
}
