"""Exercises for lesson 06 (real-time scheduling): Liu-Layland, EDF's pick, stride, RTA.

Each exercise is registered in the catalog at import and is about one defect
of seed 002's ``RealTimeScheduler`` (ids from SEED_NOTES): it names Rate
Monotonic and Proportional Share, implements neither and offers no
schedulability analysis at all (S002-41); its "EDF" appends a task to the
FIFO queue of the worker whose *last assigned* deadline is earliest, so it
never runs the job with the earliest deadline first (S002-39); and nothing in
it bounds how long a non-preemptive GPU kernel blocks urgent work (S002-43).

The learner writes self-contained code on plain Python data, in integer time
units: a task is a tuple ``(wcet, period)`` or ``(wcet, period, deadline)``,
a job is a tuple ``(task, release, rel_deadline, remaining)``. The
semantics are those of :mod:`rtkit.sched` (EDF ties broken by release, then
task index; response-time analysis with a blocking term; stride scheduling
with ``STRIDE1 = 2**20``), so the lesson can compare answers with it.

Messages name the call and the kind of mistake, never the expected value;
calls of the learner's code are guarded (:mod:`rtkit.grading._checks`), and a
``response_time`` call that has not returned after ``RUNAWAY_S`` seconds (an
iteration that never compares R with the deadline) fails with a message saying
so, instead of using up ``check()``'s time limit.

Example:
    >>> from rtkit.grading import catalog
    >>> for e in catalog.all_exercises("06"):
    ...     print(e.difficulty, e.id, e.target)
    1 06.edf-pick edf_pick
    1 06.liu-layland liu_layland
    2 06.stride stride_order
    3 06.response-time response_time
"""

from __future__ import annotations

import math
import numbers
import signal
import threading
import time
from collections.abc import Callable, Sequence
from fractions import Fraction

from rtkit.grading._checks import guarded_call, is_int
from rtkit.grading.catalog import Exercise, register, test
from rtkit.grading.ex00 import call_repr

__all__: list[str] = []


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


# -- 06.liu-layland -------------------------------------------------------------------

LIU_LAYLAND = "liu_layland"
VERDICTS = ("schedulable", "inconclusive", "unschedulable")


def _ll_model(tasks: Sequence[tuple[int, int]]) -> tuple[Fraction, float, str]:
    n = len(tasks)
    utilisation = sum((Fraction(c, t) for c, t in tasks), Fraction(0))
    bound = n * (2 ** (1 / n) - 1)
    if utilisation <= bound:
        return utilisation, bound, "schedulable"
    return utilisation, bound, "inconclusive" if utilisation <= 1 else "unschedulable"


def _ll(f: Callable, tasks: list[tuple[int, int]]) -> tuple[str, float, float, str]:
    call = call_repr(LIU_LAYLAND, tasks)
    got = guarded_call(call, f, [tuple(t) for t in tasks])
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise AssertionError(f"{call} did not return a triple (utilisation, bound, verdict)")
    utilisation, bound, verdict = got
    if not (_is_real(utilisation) and _is_real(bound)):
        raise AssertionError(f"{call}: the utilisation and the bound should both be numbers")
    if verdict not in VERDICTS:
        raise AssertionError(
            f"{call}: the verdict is not one of 'schedulable', 'inconclusive', 'unschedulable'"
        )
    return call, float(utilisation), float(bound), verdict


@test("the bound for n tasks is n(2^(1/n) - 1), whatever the tasks")
def _ll_bound(f):
    for n in (1, 2, 3, 5, 10):
        tasks = [(1, 10 * n + k) for k in range(n)]
        call, _, bound, _ = _ll(f, tasks)
        if not math.isclose(bound, _ll_model(tasks)[1], rel_tol=1e-9):
            raise AssertionError(
                f"{call}: the bound is not Liu and Layland's for this many tasks; it depends on "
                "the number of tasks only (ln 2 is its limit as n grows, not its value)"
            )


@test("the utilisation is the sum of wcet / period")
def _ll_utilisation(f):
    for tasks in ([(1, 4)], [(1, 4), (2, 5), (3, 10)], [(2, 7), (3, 11), (1, 13), (4, 17)]):
        call, utilisation, _, _ = _ll(f, tasks)
        if not math.isclose(utilisation, float(_ll_model(tasks)[0]), rel_tol=1e-9):
            raise AssertionError(
                f"{call}: the utilisation is not the sum of each task's wcet / period (in Python "
                "3, / divides exactly; // rounds down)"
            )


def _ll_verdicts(f: Callable, sets: Sequence[list[tuple[int, int]]]) -> None:
    """Check each set's verdict; the message names the kind of set, not the verdict expected.

    Each verdict test mixes sets of all three kinds, so that an answer giving
    one verdict whatever the set cannot pass any of them.
    """
    for tasks in sets:
        call, _, _, verdict = _ll(f, tasks)
        want = _ll_model(tasks)[2]
        if verdict == want:
            continue
        if want == "schedulable":
            raise AssertionError(
                f"{call}: the verdict is wrong for a set whose utilisation is at or under the "
                "bound (U <= bound means schedulable, equality included)"
            )
        if want == "inconclusive" and verdict == "unschedulable":
            raise AssertionError(
                f"{call}: the verdict says unschedulable, but the set fits under U <= 1: above "
                "the bound the test cannot tell (it is sufficient, not necessary, S002-41). Add "
                "the utilisations exactly (fractions.Fraction), so that rounding cannot push an "
                "exact 1 over 1"
            )
        if want == "inconclusive":
            raise AssertionError(
                f"{call}: the verdict is wrong for a set above the bound but not above 1"
            )
        raise AssertionError(
            f"{call}: the verdict is wrong for a set that needs more than the whole processor"
        )


@test("at or under the bound, and only there: schedulable by RM")
def _ll_under(f):
    _ll_verdicts(
        f,
        (
            [(5, 5)],  # U = bound = 1
            [(1, 2), (1, 4)],
            [(1, 4), (1, 5), (2, 10)],
            [(2, 5), (3, 7)],  # just above the bound for two tasks
            [(3, 5), (1, 2)],
        ),
    )


@test("above the bound but not above 1: inconclusive, for the test is only sufficient")
def _ll_between(f):
    _ll_verdicts(
        f,
        (
            [(1, 2), (1, 3)],
            [(1, 2), (1, 4), (2, 8)],
            [(6, 15), (9, 20), (1, 12), (1, 15)],  # exactly 1, over 1 in floating point
            [(1, 3), (1, 6)],
            [(1, 2), (1, 3), (1, 6), (1, 100)],  # just over 1
        ),
    )


@test("over 1, and only over 1: unschedulable, under any policy")
def _ll_over(f):
    _ll_verdicts(
        f,
        (
            [(2, 3), (1, 2)],
            [(3, 4), (1, 4), (1, 100)],
            [(7, 5)],
            [(1, 2), (1, 3), (1, 6)],  # exactly 1
            [(1, 10)],
        ),
    )


register(
    Exercise(
        id="06.liu-layland",
        lesson="06",
        title="The Liu-Layland test, and what it cannot tell",
        difficulty=1,
        target=LIU_LAYLAND,
        hints=(
            "There are three numbers to compare: the utilisation, the bound for this many tasks, "
            "and 1. Which verdict does each comparison allow you to give?",
            "The utilisation adds wcet / period over the tasks. The bound is n(2^(1/n) - 1) for "
            "n tasks: 1 for one task, about 0.828 for two, falling towards ln 2. At or under the "
            "bound RM meets every deadline; above 1 nothing can; in between, only an exact test "
            "(response-time analysis) can tell.",
            "Sum with fractions.Fraction(wcet, period) so that a utilisation of exactly 1 stays "
            "exactly 1, compare it with n * (2 ** (1 / n) - 1) and then with 1, and return "
            "(float(U), bound, verdict) with verdict 'schedulable', 'inconclusive' or "
            "'unschedulable'.",
        ),
        tests=(_ll_bound, _ll_utilisation, _ll_under, _ll_between, _ll_over),
        seed_ids=("S002-41",),
    )
)


# -- 06.edf-pick ----------------------------------------------------------------------

EDF_PICK = "edf_pick"
Job = tuple[int, int, int, int]  # (task, release, rel_deadline, remaining)


def _edf_model(jobs: Sequence[Job], now: int) -> int | None:
    ready = [
        (release + rel, release, task, i)
        for i, (task, release, rel, remaining) in enumerate(jobs)
        if release <= now and remaining > 0
    ]
    return min(ready)[3] if ready else None


def _pick(f: Callable, jobs: Sequence[Job], now: int) -> tuple[str, int | None]:
    call = call_repr(EDF_PICK, list(jobs), now)
    got = guarded_call(call, f, [tuple(j) for j in jobs], now)
    if got is not None and not is_int(got):
        raise AssertionError(f"{call} returned a {type(got).__name__}, not an index or None")
    if got is not None and not 0 <= got < len(jobs):
        raise AssertionError(f"{call} returned an index outside the list of jobs")
    return call, got


def _expect_pick(f: Callable, jobs: Sequence[Job], now: int, why: str) -> None:
    call, got = _pick(f, jobs, now)
    if got != _edf_model(jobs, now):
        raise AssertionError(f"{call}: {why}")


@test("picks the ready job with the earliest absolute deadline")
def _edf_earliest(f):
    cases = (
        ([(0, 0, 9, 2), (1, 0, 4, 1), (2, 0, 6, 3)], 0),
        ([(2, 3, 20, 4), (0, 1, 12, 1), (1, 2, 30, 2), (3, 0, 40, 5)], 3),
    )
    for jobs, now in cases:
        _expect_pick(
            f,
            jobs,
            now,
            "the job picked is not the ready one with the earliest absolute deadline (the "
            "seed's queues run jobs in arrival order, S002-39)",
        )


@test("the absolute deadline is release + relative deadline")
def _edf_absolute(f):
    cases = (
        ([(0, 0, 10, 3), (1, 6, 5, 1)], 6),  # deadlines 10 and 11: not the shorter D
        ([(0, 0, 20, 3), (1, 3, 5, 1)], 3),  # deadlines 20 and 8: not the first released
    )
    for jobs, now in cases:
        _expect_pick(
            f,
            jobs,
            now,
            "the job picked does not have the earliest absolute deadline, release + "
            "rel_deadline (the relative deadline alone gives deadline monotonic, a fixed "
            "priority)",
        )


@test("jobs not yet released, or already finished, are never picked; None when none is ready")
def _edf_ready(f):
    cases = (
        ([(0, 5, 1, 2), (1, 0, 10, 1)], 4),
        ([(0, 0, 3, 0), (1, 0, 8, 2), (2, 1, 2, 1)], 1),
        ([(0, 0, 3, 0), (1, 6, 8, 2)], 4),
        ([], 0),
    )
    for jobs, now in cases:
        _expect_pick(
            f,
            jobs,
            now,
            "a job is ready when it has been released (release <= now) and still has "
            "remaining work; with no ready job the answer is None",
        )


@test("ties go to the earlier release, then the lower task index, wherever they sit")
def _edf_ties(f):
    cases = (
        ([(1, 4, 6, 1), (0, 2, 8, 1)], 5),  # both due at 10: earlier release first
        ([(3, 0, 6, 2), (1, 0, 6, 2), (2, 0, 6, 2)], 0),  # same deadline, same release
        ([(2, 2, 8, 1), (0, 4, 6, 1), (1, 2, 8, 1)], 4),
    )
    for jobs, now in cases:
        _expect_pick(
            f,
            jobs,
            now,
            "between jobs with the same absolute deadline, the earlier release goes first, "
            "then the lower task index; their place in the list does not count",
        )


def _jobs_of(tasks: Sequence[tuple[int, int]], horizon: int) -> list[list[int]]:
    return [
        [index, release, period, wcet]
        for index, (wcet, period) in enumerate(tasks)
        for release in range(0, horizon, period)
    ]


def _edf_run(pick: Callable, tasks: Sequence[tuple[int, int]], horizon: int) -> str:
    """Drive preemptive EDF one time unit at a time with ``pick``: ``""``, or where it strayed.

    Every job of the horizon is passed at each step (future and finished ones
    included); ``pick`` chooses the job that runs for the next time unit.
    """
    shown = ", ".join(f"Task(wcet={c}, period={t})" for c, t in tasks)
    jobs = _jobs_of(tasks, horizon)
    for now in range(horizon):
        snapshot = [tuple(j) for j in jobs]
        got = pick(snapshot, now)
        if got != _edf_model(snapshot, now):
            return f"{EDF_PICK}(jobs, {now}) while running {shown}"
        if got is not None:
            jobs[got][3] -= 1
    return ""


@test("called once per time unit, it drives a preemptive EDF schedule")
def _edf_schedule(f):
    for tasks in ([(1, 4), (2, 6), (3, 8)], [(2, 5), (4, 7)]):

        def guarded(jobs, now, tasks=tasks):
            return _pick(f, jobs, now)[1]

        where = _edf_run(guarded, tasks, math.lcm(*(t for _, t in tasks)))
        if where:
            raise AssertionError(
                f"{where}: the job picked is not the one EDF runs at that time, and the "
                "schedule drifts from here"
            )


register(
    Exercise(
        id="06.edf-pick",
        lesson="06",
        title="EDF's choice of the next job",
        difficulty=1,
        target=EDF_PICK,
        hints=(
            "Two questions per job: is it ready at time now, and when is it due? EDF runs the "
            "ready job that is due first.",
            "A job is ready when release <= now and remaining > 0. It is due at release + "
            "rel_deadline, its absolute deadline; the relative deadline alone would give a "
            "fixed priority per task (deadline monotonic), not EDF. Return the job's index in "
            "the list, or None.",
            "Build a key (release + rel_deadline, release, task) for each ready job and return "
            "the index of the job with the smallest key: tuples compare element by element, "
            "which breaks ties by release, then by task index.",
        ),
        tests=(_edf_earliest, _edf_absolute, _edf_ready, _edf_ties, _edf_schedule),
        seed_ids=("S002-39",),
    )
)


# -- 06.stride ------------------------------------------------------------------------

STRIDE = "stride_order"
STRIDE1 = 1 << 20


def _stride_model(tickets: Sequence[int], quanta: int) -> list[int]:
    strides = [STRIDE1 // t for t in tickets]
    passes = [0] * len(tickets)
    order = []
    for _ in range(quanta):
        i = min(range(len(passes)), key=lambda k: (passes[k], k))
        order.append(i)
        passes[i] += strides[i]
    return order


def _order(f: Callable, tickets: list[int], quanta: int) -> tuple[str, list[int]]:
    call = call_repr(STRIDE, tickets, quanta)
    got = guarded_call(call, f, list(tickets), quanta)
    if not isinstance(got, (list, tuple)) or not all(is_int(i) for i in got):
        raise AssertionError(f"{call} did not return a list of task indices")
    if len(got) != quanta:
        raise AssertionError(f"{call} did not return one task index per quantum")
    if not all(0 <= i < len(tickets) for i in got):
        raise AssertionError(f"{call} returned an index that is not a task's")
    return call, [int(i) for i in got]


@test("each task's count of quanta follows its tickets")
def _stride_shares(f):
    for tickets, quanta in (([3, 2, 1], 60), ([1, 4], 50), ([5, 3, 2], 100)):
        call, got = _order(f, tickets, quanta)
        want = _stride_model(tickets, quanta)
        if [got.count(i) for i in range(len(tickets))] != [
            want.count(i) for i in range(len(tickets))
        ]:
            raise AssertionError(
                f"{call}: the number of quanta each task gets is not in proportion to its "
                "tickets (a round-robin fallback gives everyone the same, S002-41)"
            )


@test("every pass starts at zero, and equal passes go to the lower task index")
def _stride_ties(f):
    for tickets, quanta in (([1, 3], 2), ([1, 1, 1], 6), ([2, 2], 4), ([4, 2, 4], 10)):
        call, got = _order(f, tickets, quanta)
        if got != _stride_model(tickets, quanta):
            raise AssertionError(
                f"{call}: the order is wrong where passes tie (as they all do at the start, "
                "when every pass is zero): the lower task index goes first"
            )


def _exact_stride_model(tickets: Sequence[int], quanta: int) -> list[int]:
    """The order with exact strides, 1 / tickets: what an answer that skips the rounding gives."""
    strides = [Fraction(1, t) for t in tickets]
    passes = [Fraction(0)] * len(tickets)
    order = []
    for _ in range(quanta):
        i = min(range(len(passes)), key=lambda k: (passes[k], k))
        order.append(i)
        passes[i] += strides[i]
    return order


@test("quanta interleave, in stride scheduling's exact order (and no quanta, no dispatches)")
def _stride_order(f):
    cases = (([3, 1], 8), ([5, 3, 2], 20), ([7, 1, 2, 3], 26), ([1], 3), ([2, 1], 0))
    for tickets, quanta in cases:
        call, got = _order(f, tickets, quanta)
        if got == _stride_model(tickets, quanta):
            continue
        if got == _exact_stride_model(tickets, quanta):
            raise AssertionError(
                f"{call}: the order follows exact strides (1 / tickets, or a common multiple "
                "divided by tickets); stride scheduling's stride is the integer STRIDE1 // "
                "tickets, rounded down, and that rounding decides which of two nearly equal "
                "passes runs first"
            )
        raise AssertionError(
            f"{call}: the dispatch order is not stride scheduling's: each quantum runs the task "
            "with the smallest pass (ties to the lower index), whose pass then advances by its "
            "integer stride STRIDE1 // tickets, rounding included (no bursts)"
        )


register(
    Exercise(
        id="06.stride",
        lesson="06",
        title="Stride scheduling's dispatch order",
        difficulty=2,
        target=STRIDE,
        hints=(
            "Each task keeps a running total, its pass, and a fixed step, its stride. Which "
            "task should run next, and how does running change its total?",
            "The stride is STRIDE1 // tickets, so more tickets means a smaller step and more "
            "turns. Every pass starts at zero; each quantum goes to the smallest pass (ties to "
            "the lower index), whose pass then grows by its stride.",
            "Keep two lists, strides and passes (all zero at first). For each quantum, find "
            "min(range(n), key=lambda k: (passes[k], k)), append it to the order and add its "
            "stride to its pass. Return the order, one index per quantum.",
        ),
        tests=(_stride_shares, _stride_ties, _stride_order),
        seed_ids=("S002-41",),
    )
)


# -- 06.response-time -----------------------------------------------------------------

RESPONSE_TIME = "response_time"


def _rta_model(
    task: tuple[int, int, int], higher: Sequence[tuple[int, int]], blocking: int = 0
) -> int | None:
    wcet, _, deadline = task
    r = wcet + blocking + sum(c for c, _ in higher)
    while r <= deadline:
        following = wcet + blocking + sum(-(-r // t) * c for c, t in higher)
        if following == r:
            return r
        r = following
    return None


#: Seconds one ``response_time`` call may take. A right answer takes microseconds; an
#: iteration that never compares R with the deadline runs for ever when the higher-priority
#: tasks fill the processor, and should be told so long before check()'s overall time limit.
RUNAWAY_S = 2.0


class _Runaway(BaseException):
    """Raised in a call that ran past its budget.

    A BaseException, so that an answer's ``except Exception`` cannot swallow it.
    """


def bounded_call(what: str, fn: Callable, *args: object, seconds: float = RUNAWAY_S) -> object:
    """``guarded_call(what, fn, *args)``, failing if it has not returned in ``seconds``.

    A one-shot SIGALRM timer, as ``check()`` itself uses, in the main thread only
    (elsewhere the call runs unbounded, under whatever limit its caller sets).
    An outer timer (``check()``'s per-test limit) is suspended meanwhile and
    re-armed afterwards with the time it had left; if it would fire first, it is
    left alone.

    Example:
        >>> bounded_call("double(2)", lambda x: 2 * x, 2)
        4
    """
    if threading.current_thread() is not threading.main_thread():
        return guarded_call(what, fn, *args)
    outer = signal.getsignal(signal.SIGALRM)
    outer_left = signal.getitimer(signal.ITIMER_REAL)[0]
    if outer is None or 0 < outer_left <= seconds:
        return guarded_call(what, fn, *args)  # the outer limit ends it first, or cannot be restored
    started = time.monotonic()

    def restore_outer() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, outer)
        if outer_left:
            left = outer_left - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))

    def expire(signum, frame):
        # The outer limit comes back first: an answer that swallows _Runaway still ends.
        restore_outer()
        raise _Runaway

    signal.signal(signal.SIGALRM, expire)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        return guarded_call(what, fn, *args)
    except _Runaway:
        raise AssertionError(
            f"{what} did not return within {seconds:g} s: does your iteration stop once R "
            "passes the deadline? (When the higher-priority tasks fill the processor, R grows "
            "for ever.)"
        ) from None
    finally:
        restore_outer()


def _rt(
    f: Callable, task: tuple[int, int, int], higher: list[tuple[int, int]], blocking: int
) -> tuple[str, int | None]:
    args: tuple = (task, higher) if blocking == 0 else (task, higher, blocking)
    call = call_repr(RESPONSE_TIME, *args)
    got = bounded_call(call, f, *args)
    if got is not None and not is_int(got):
        raise AssertionError(f"{call} returned a {type(got).__name__}, not an int or None")
    return call, got


def _expect_rt(f: Callable, task, higher, blocking: int, why: str) -> None:
    call, got = _rt(f, task, higher, blocking)
    want = _rta_model(task, higher, blocking)
    if got == want:
        return
    if want is None:
        raise AssertionError(
            f"{call} returned a response time, but the task misses its deadline: return None "
            "as soon as the window passes the deadline"
        )
    if got is None:
        raise AssertionError(f"{call} returned None for a task that meets its deadline")
    raise AssertionError(f"{call}: {why}")


@test("the highest-priority task waits only for its blocking")
def _rt_top(f):
    for task, blocking in (((3, 10, 10), 0), ((2, 8, 6), 3)):
        _expect_rt(
            f,
            task,
            [],
            blocking,
            "with no higher-priority task, the response time is the task's wcet plus its blocking",
        )


@test("a textbook task set: every task's response time")
def _rt_textbook(f):
    # Burns and Wellings' example (T = 7, 12, 20; C = 3, 3, 5), and one that needs 4 steps.
    for tasks in ([(3, 7), (3, 12), (5, 20)], [(1, 4), (2, 6), (3, 10)]):
        for i, (c, t) in enumerate(tasks):
            _expect_rt(
                f,
                (c, t, t),
                tasks[:i],
                0,
                "the response time is not the smallest fixed point of R = C + B + sum over "
                "the higher-priority tasks of ceil(R / Tj) * Cj; iterate until R stops "
                "changing",
            )


@test("each higher-priority task preempts ceil(R / T) times, not floor(R / T)")
def _rt_ceil(f):
    for task, higher in (((2, 12, 12), [(1, 3), (2, 5)]), ((4, 30, 25), [(2, 6), (3, 9)])):
        _expect_rt(
            f,
            task,
            higher,
            0,
            "a higher-priority task released at the start of the window preempts once per "
            "period begun within it, which is a ceiling; floor misses the partial period",
        )


@test("None when the response time passes a deadline shorter than the period")
def _rt_miss(f):
    for task, higher in (((3, 20, 8), [(3, 7), (3, 12)]), ((1, 10, 10), [(1, 2), (1, 2)])):
        _expect_rt(
            f,
            task,
            higher,
            0,
            "compare the response time with the task's deadline, the third value of task",
        )
    _expect_rt(
        f,
        (2, 10, 4),
        [(2, 5)],
        0,
        "the deadline is met when R <= D: equality counts as met",
    )


@test("blocking (a lower task's non-preemptive kernel) widens the window, then iterates")
def _rt_blocking(f):
    for task, higher, blocking in (((2, 20, 20), [(2, 5)], 2), ((1, 12, 12), [(1, 3), (1, 4)], 2)):
        _expect_rt(
            f,
            task,
            higher,
            blocking,
            "blocking belongs inside the iteration, R = C + B + interference: a longer "
            "window admits more preemptions (S002-43)",
        )


register(
    Exercise(
        id="06.response-time",
        lesson="06",
        title="Response-time analysis, with blocking",
        difficulty=3,
        target=RESPONSE_TIME,
        hints=(
            "A response time is the task's own work, its blocking and every preemption within "
            "it. But a longer window holds more preemptions: what does that suggest?",
            "Start with R = C + B + the sum of the higher tasks' wcets. Then repeat R = C + B + "
            "sum(ceil(R / Tj) * Cj) until R stops changing (the answer) or exceeds the deadline "
            "D (return None). The sequence only grows, so it always ends one way or the other.",
            "Integer ceiling without floats: -(-r // t). Loop while r <= deadline: compute the "
            "next value, wcet + blocking + the sum of ceilings times wcets; if it equals r, "
            "return r; otherwise carry on with it. After the loop, return None.",
        ),
        tests=(_rt_top, _rt_textbook, _rt_ceil, _rt_miss, _rt_blocking),
        seed_ids=("S002-41", "S002-43"),
    )
)
