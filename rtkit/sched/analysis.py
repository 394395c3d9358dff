"""Schedulability analysis: the classic tests, each returning its verdict with the evidence.

* :func:`liu_layland_test` and :func:`hyperbolic_test`: *sufficient* tests for
  rate monotonic with implicit deadlines, U <= n(2^(1/n) - 1) (Liu and
  Layland 1973) and prod(Uᵢ + 1) <= 2 (Bini, Buttazzo and Buttazzo 2003). A
  set that fails them may still be schedulable: the verdict is then
  ``"inconclusive"``.
* :func:`edf_utilisation_test`: U <= 1, exact for EDF when every deadline is
  at least the period (computed with fractions, so U = 1 exactly passes).
* :func:`response_time_analysis`: the *exact* test for fixed priorities, any
  priority order, with optional blocking Bᵢ and release jitter Jᵢ; deadlines
  may exceed periods (Tindell's busy-period extension). The iteration
  ``w = Bᵢ + Cᵢ + Σ_{j ∈ hp(i)} ⌈(w + Jⱼ)/Tⱼ⌉ Cⱼ`` is recorded step by step.
* :func:`demand_bound` and :func:`processor_demand_test`: the exact EDF test
  for constrained deadlines, h(t) = Σ max(0, ⌊(t - Dᵢ)/Tᵢ⌋ + 1) Cᵢ <= t at
  every absolute deadline up to L = min(L_a, busy period), checked either at
  every such deadline or by QPA (Zhang and Burns 2009), which visits few.

All tests take the synchronous, worst-case view (every task released at 0;
sporadic tasks as fast as allowed). Phases are ignored, which keeps each test
safe for phased sets. Seed 002 has no analysis at all (S002-41, S002-53).

Example:
    >>> from rtkit.sched.model import Task
    >>> ts = [Task("t1", 1, 4), Task("t2", 2, 6), Task("t3", 3, 10)]
    >>> liu_layland_test(ts).verdict, round(liu_layland_test(ts).bound, 3)
    ('inconclusive', 0.78)
    >>> rta = response_time_analysis(ts, "rm")
    >>> [r.response_time for r in rta.tasks], rta.schedulable
    ([1, 3, 10], True)
    >>> rta["t3"].steps
    (6, 7, 9, 10, 10)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from rtkit.errors import ConfigError, check_int
from rtkit.sched.model import Aperiodic, Task
from rtkit.sched.policies import FIXED_PRIORITY, check_policy, priority_order

__all__ = [
    "BoundTest",
    "DemandTest",
    "RTAResult",
    "ResponseTime",
    "busy_period",
    "demand_bound",
    "edf_utilisation_test",
    "hyperbolic_test",
    "liu_layland_bound",
    "liu_layland_test",
    "processor_demand_test",
    "response_time_analysis",
]


def _periodic(tasks: Sequence[Task | Aperiodic]) -> list[Task]:
    if isinstance(tasks, Task) or not isinstance(tasks, Sequence):
        raise ConfigError("tasks must be a sequence of Task objects")
    for t in tasks:
        if not isinstance(t, Task):
            raise ConfigError(f"analysis needs periodic or sporadic tasks, got {t!r}")
    return list(tasks)  # type: ignore[arg-type]


def _exact_u(tasks: Sequence[Task]) -> Fraction:
    return sum((Fraction(t.wcet, t.period) for t in tasks), Fraction(0))


@dataclass(frozen=True)
class BoundTest:
    """A utilisation-based test: ``value`` compared with ``bound``.

    ``passed`` says whether ``value <= bound``; ``verdict`` what that proves:
    ``"schedulable"``, ``"unschedulable"`` (U > 1, or a failed exact test) or
    ``"inconclusive"`` (a sufficient test failed, or it does not apply).
    """

    test: str
    utilisation: float
    value: float
    bound: float
    passed: bool
    verdict: str

    @property
    def schedulable(self) -> bool:
        """True only when the test proves the set schedulable."""
        return self.verdict == "schedulable"


def liu_layland_bound(n: int) -> float:
    """n(2^(1/n) - 1): 1.0 for one task, 0.828 for two, falling to ln 2 = 0.693.

    Example:
        >>> [round(liu_layland_bound(n), 3) for n in (1, 2, 3, 10)]
        [1.0, 0.828, 0.78, 0.718]
    """
    n = check_int("n", n, minimum=1)
    return n * (2.0 ** (1.0 / n) - 1.0)


def _rm_verdict(passed: bool, u: Fraction, implicit: bool) -> str:
    if u > 1:
        return "unschedulable"
    return "schedulable" if passed and implicit else "inconclusive"


def liu_layland_test(tasks: Sequence[Task]) -> BoundTest:
    """Rate monotonic, implicit deadlines: schedulable if U <= n(2^(1/n) - 1).

    Sufficient only; with deadlines shorter than periods it proves nothing.

    Example:
        >>> liu_layland_test([Task("a", 1, 2), Task("b", 1, 4)]).verdict
        'schedulable'
    """
    ts = _periodic(tasks)
    u = _exact_u(ts)
    bound = liu_layland_bound(max(len(ts), 1))
    passed = float(u) <= bound
    implicit = all(t.deadline >= t.period for t in ts)  # type: ignore[operator]
    return BoundTest(
        "liu_layland", float(u), float(u), bound, passed, _rm_verdict(passed, u, implicit)
    )


def hyperbolic_test(tasks: Sequence[Task]) -> BoundTest:
    """Rate monotonic, implicit deadlines: schedulable if prod(Uᵢ + 1) <= 2.

    Never weaker than Liu-Layland: it accepts every set that bound accepts, and more.

    Example:
        >>> ts = [Task("a", 1, 2), Task("b", 1, 5), Task("c", 1, 10)]
        >>> liu_layland_test(ts).verdict, hyperbolic_test(ts).verdict
        ('inconclusive', 'schedulable')
    """
    ts = _periodic(tasks)
    u = _exact_u(ts)
    product = math.prod((Fraction(t.wcet, t.period) + 1 for t in ts), start=Fraction(1))
    passed = product <= 2
    implicit = all(t.deadline >= t.period for t in ts)  # type: ignore[operator]
    return BoundTest(
        "hyperbolic", float(u), float(product), 2.0, passed, _rm_verdict(passed, u, implicit)
    )


def edf_utilisation_test(tasks: Sequence[Task]) -> BoundTest:
    """EDF: U <= 1, exact when every deadline is at least the period.

    With a deadline shorter than its period a pass is inconclusive: use
    :func:`processor_demand_test`.

    Example:
        >>> edf_utilisation_test([Task("a", 2, 5), Task("b", 4, 7)]).verdict
        'schedulable'
    """
    ts = _periodic(tasks)
    u = _exact_u(ts)
    passed = u <= 1
    implicit = all(t.deadline >= t.period for t in ts)  # type: ignore[operator]
    verdict = "unschedulable" if not passed else ("schedulable" if implicit else "inconclusive")
    return BoundTest("edf_utilisation", float(u), float(u), 1.0, passed, verdict)


@dataclass(frozen=True)
class ResponseTime:
    """One task's row of a response-time analysis.

    ``response_time`` is the worst-case response time (release to finish,
    jitter included), or ``None`` when the iteration could not converge
    (higher-priority load at or above 100 %). ``steps`` are the successive
    values of w for the task's first job in the busy period, ending with the
    fixed point (or the first value past the deadline when it diverges);
    ``jobs`` is how many jobs of the busy period were examined.
    """

    name: str
    rank: int
    wcet: int
    period: int
    deadline: int
    blocking: int
    jitter: int
    response_time: int | None
    schedulable: bool
    steps: tuple[int, ...]
    jobs: int


@dataclass(frozen=True)
class RTAResult:
    """Response-time analysis of a task set: rows in task-set order, ``order`` high to low."""

    schedulable: bool
    order: tuple[str, ...]
    tasks: tuple[ResponseTime, ...]

    @property
    def verdict(self) -> str:
        """``"schedulable"`` or ``"unschedulable"``: the analysis is exact."""
        return "schedulable" if self.schedulable else "unschedulable"

    def __getitem__(self, name: str) -> ResponseTime:
        for r in self.tasks:
            if r.name == name:
                return r
        raise KeyError(name)


def _per_task(
    name: str, values: Mapping[str, int] | Sequence[int] | None, ts: list[Task]
) -> list[int]:
    if values is None:
        return [0] * len(ts)
    if isinstance(values, Mapping):
        unknown = set(values) - {t.name for t in ts}
        if unknown:
            raise ConfigError(f"{name} names unknown tasks {sorted(unknown)}")
        raw = [values.get(t.name, 0) for t in ts]
    else:
        raw = list(values)
        if len(raw) != len(ts):
            raise ConfigError(f"{name} must give one value per task ({len(ts)}), got {len(raw)}")
    return [check_int(name, v, minimum=0) for v in raw]


def response_time_analysis(
    tasks: Sequence[Task],
    policy: str = "rm",
    *,
    order: Sequence[str] | None = None,
    blocking: Mapping[str, int] | Sequence[int] | None = None,
    jitter: Mapping[str, int] | Sequence[int] | None = None,
) -> RTAResult:
    """Exact worst-case response times under fixed priorities (Joseph and Pandya; Tindell).

    Priorities come from ``order`` (task names, most urgent first) or from
    ``policy`` (``"rm"``, ``"dm"`` or ``"fp"``, ties broken by task-set order,
    as the simulator does). ``blocking`` Bᵢ (time a task can wait for a
    lower-priority job, e.g. a non-preemptive section or a GPU kernel,
    S002-43) and ``jitter`` Jᵢ (release jitter) default to 0.

    For job q = 0, 1, ... of the level-i busy period,
    ``w = Bᵢ + (q+1)Cᵢ + Σ_{j ∈ hp(i)} ⌈(w + Jⱼ)/Tⱼ⌉ Cⱼ`` is iterated to its
    fixed point and ``Rᵢ = max_q (w + Jᵢ - q Tᵢ)``; the busy period ends at the
    first q with ``w + Jᵢ <= (q+1) Tᵢ`` (with D <= T that is q = 0).
    Cost: pseudo-polynomial, O(n² x iterations).

    Example (Burns and Wellings' three tasks; w for ``c`` climbs 11, 14, 17, 20, 20):
        >>> ts = [Task("a", 3, 7), Task("b", 3, 12), Task("c", 5, 20)]
        >>> r = response_time_analysis(ts, "rm")
        >>> [x.response_time for x in r.tasks], r["c"].steps
        ([3, 6, 20], (11, 14, 17, 20, 20))
        >>> response_time_analysis(ts, "rm", blocking={"a": 2})["c"].schedulable
        True
    """
    ts = _periodic(tasks)
    if order is not None:
        names = [t.name for t in ts]
        if sorted(order) != sorted(names) or len(set(order)) != len(order):
            raise ConfigError(f"order must name every task exactly once: {names}")
        ranking = [names.index(name) for name in order]
    else:
        check_policy(policy, ts)
        if policy not in FIXED_PRIORITY:
            raise ConfigError(f"policy must be one of 'rm', 'dm', 'fp', got {policy!r}")
        ranking = priority_order(ts, policy)
    b = _per_task("blocking", blocking, ts)
    jit = _per_task("jitter", jitter, ts)
    rows: dict[int, ResponseTime] = {}
    for rank, i in enumerate(ranking):
        rows[i] = _response_time(ts, ranking[:rank], i, rank, b[i], jit)
    result = tuple(rows[i] for i in range(len(ts)))
    return RTAResult(
        schedulable=all(r.schedulable for r in result),
        order=tuple(ts[i].name for i in ranking),
        tasks=result,
    )


def _response_time(
    ts: list[Task], hp: list[int], i: int, rank: int, blocking: int, jit: list[int]
) -> ResponseTime:
    task = ts[i]
    c, period, deadline, j_i = task.wcet, task.period, int(task.deadline), jit[i]  # type: ignore[arg-type]
    u_level = Fraction(c, period) + sum(
        (Fraction(ts[k].wcet, ts[k].period) for k in hp), Fraction(0)
    )
    converges = u_level <= 1

    def interference(w: int) -> int:
        return sum(-(-(w + jit[k]) // ts[k].period) * ts[k].wcet for k in hp)

    steps: list[int] = []
    worst = 0
    q = 0

    def result(response: int | None) -> ResponseTime:
        ok = response is not None and response <= deadline
        return ResponseTime(
            task.name, rank, c, period, deadline, blocking, j_i, response, ok, tuple(steps), q + 1
        )

    while True:
        w = blocking + (q + 1) * c + sum(ts[k].wcet for k in hp)
        if q == 0:
            steps.append(w)
        while True:
            new = blocking + (q + 1) * c + interference(w)
            if q == 0:
                steps.append(new)
            if new == w:
                break
            w = new
            if not converges and w + j_i - q * period > deadline:
                return result(None)
        # Above full utilisation the level-i busy period never ends: the q-th
        # job's response grows without bound, so stop at the first miss. The
        # check sits here too because w may converge at once (no interference).
        if not converges and w + j_i - q * period > deadline:
            return result(None)
        worst = max(worst, w + j_i - q * period)
        if w + j_i <= (q + 1) * period:
            break
        q += 1
    return result(worst)


def demand_bound(tasks: Sequence[Task], t: int) -> int:
    """h(t): the work of jobs released at or after 0 with deadlines at or before t.

    ``h(t) = Σ_{Dᵢ <= t} (⌊(t - Dᵢ)/Tᵢ⌋ + 1) Cᵢ``. Cost: O(n).

    Example:
        >>> demand_bound([Task("a", 1, 4, deadline=2), Task("b", 2, 6)], 6)
        4
    """
    t = check_int("t", t, minimum=0)
    return sum(
        ((t - tk.deadline) // tk.period + 1) * tk.wcet  # type: ignore[operator]
        for tk in _periodic(tasks)
        if tk.deadline <= t  # type: ignore[operator]
    )


def busy_period(tasks: Sequence[Task]) -> int | None:
    """Length of the synchronous busy period: the least L > 0 with Σ ⌈L/Tᵢ⌉ Cᵢ = L.

    ``None`` when U > 1 (the processor never idles). Cost: pseudo-polynomial.

    Example:
        >>> busy_period([Task("a", 2, 5), Task("b", 4, 7)])
        14
    """
    ts = _periodic(tasks)
    if _exact_u(ts) > 1:
        return None
    w = sum(t.wcet for t in ts)
    while True:
        new = sum(-(-w // t.period) * t.wcet for t in ts)
        if new == w:
            return w
        w = new


@dataclass(frozen=True)
class DemandTest:
    """The EDF processor-demand test: h(t) <= t at every deadline t <= ``limit``.

    ``failure`` is a deadline with h(t) > t, or ``None``: the earliest one
    with ``"all"``, the first met walking down from ``limit`` with ``"qpa"``;
    ``demand`` is h there. ``checked`` counts the points evaluated, so QPA's
    saving over ``"all"`` is visible. ``limit`` is ``None`` when U > 1.
    """

    method: str
    schedulable: bool
    utilisation: float
    limit: int | None
    checked: int
    failure: int | None
    demand: int | None

    @property
    def verdict(self) -> str:
        """``"schedulable"`` or ``"unschedulable"``: the test is exact."""
        return "schedulable" if self.schedulable else "unschedulable"


def _last_deadline_before(ts: list[Task], t: int) -> int:
    """The largest absolute deadline Dᵢ + k Tᵢ strictly below ``t``, or -1."""
    best = -1
    for tk in ts:
        if tk.deadline < t:  # type: ignore[operator]
            best = max(best, tk.deadline + (t - 1 - tk.deadline) // tk.period * tk.period)  # type: ignore[operator]
    return best


def processor_demand_test(tasks: Sequence[Task], method: str = "qpa") -> DemandTest:
    """Exact EDF test for constrained (or any) deadlines: h(t) <= t for all deadlines t <= L.

    L is min(L_a, L_b): L_a = max(Dmax, Σ (Tᵢ - Dᵢ)Uᵢ / (1 - U)) when U < 1,
    L_b the synchronous busy period. ``method="all"`` checks every absolute
    deadline up to L; ``"qpa"`` (Quick Processor-demand Analysis) walks
    backwards from L, jumping to h(t) whenever h(t) < t. An empty set is
    schedulable, as under every other test here.

    Example:
        >>> ts = [Task("a", 2, 4, deadline=3), Task("b", 3, 6, deadline=4)]
        >>> d = processor_demand_test(ts, method="all")
        >>> d.schedulable, d.failure, d.demand, d.checked
        (False, 4, 5, 2)
        >>> q = processor_demand_test(ts)   # QPA: from L downwards, stops at the first failure
        >>> q.schedulable, q.failure, q.demand, q.checked
        (False, 11, 12, 1)
    """
    ts = _periodic(tasks)
    if method not in ("qpa", "all"):
        raise ConfigError(f"method must be one of 'qpa', 'all', got {method!r}")
    if not ts:  # no demand at all: schedulable, as the other tests say of an empty set
        return DemandTest(method, True, 0.0, 0, 0, None, None)
    u = _exact_u(ts)
    if u > 1:
        return DemandTest(method, False, float(u), None, 0, None, None)
    limit = busy_period(ts)
    assert limit is not None
    if u < 1:
        slack = sum((t.period - t.deadline) * Fraction(t.wcet, t.period) for t in ts)  # type: ignore[operator]
        l_a = max(max(t.deadline for t in ts), math.floor(max(slack, 0) / (1 - u)))  # type: ignore[type-var]
        limit = min(limit, l_a)
    d_min = min(t.deadline for t in ts)  # type: ignore[type-var]
    if method == "all":
        points = sorted(
            {
                tk.deadline + k * tk.period
                for tk in ts
                for k in range(0, (limit - tk.deadline) // tk.period + 1)
            }  # type: ignore[operator]
        )
        for n, t in enumerate(points, start=1):
            h = demand_bound(ts, t)
            if h > t:
                return DemandTest(method, False, float(u), limit, n, t, h)
        return DemandTest(method, True, float(u), limit, len(points), None, None)
    t = _last_deadline_before(ts, limit + 1)
    checked = 0
    while t >= d_min:
        h = demand_bound(ts, t)
        checked += 1
        if h > t:
            t = _last_deadline_before(ts, t + 1)  # h is a step function: report the deadline
            return DemandTest(method, False, float(u), limit, checked, t, h)
        if h <= d_min:
            break
        t = h if h < t else _last_deadline_before(ts, t)
    return DemandTest(method, True, float(u), limit, checked, None, None)
