"""Plausible wrong answers to lesson 06's exercises, the seed's own mistakes among them.

Merged into ``WRONG`` by tests/test_exercise_content.py: each must fail a
public test with a message naming the call, and be caught by a hidden test.
Answers that would loop for ever on an unschedulable task stop after a
generous number of steps instead, so that the tests always finish; one,
``no-deadline-check``, really does loop, to show that the tests' time budget
stops it with a message about the deadline check.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from fractions import Fraction

# -- 06.liu-layland ---------------------------------------------------------------------


def _liu_layland(
    share: Callable[[int, int], object] = Fraction,
    bound_of: Callable[[int], float] = lambda n: n * (2 ** (1 / n) - 1),
    under: Callable[[object, float], bool] = lambda u, bound: u <= bound,
    two_way: bool = False,
) -> Callable:
    def liu_layland(tasks):
        utilisation = sum(share(c, t) for c, t in tasks)
        bound = bound_of(len(tasks))
        if under(utilisation, bound):
            verdict = "schedulable"
        elif two_way or utilisation > 1:
            verdict = "unschedulable"
        else:
            verdict = "inconclusive"
        return float(utilisation), bound, verdict

    return liu_layland


# -- 06.edf-pick --------------------------------------------------------------------------


def _edf(
    key: Callable[[int, int, int, int, int], tuple],
    ready: Callable[[int, int, int], bool] = lambda release, remaining, now: (
        release <= now and remaining > 0
    ),
) -> Callable:
    def edf_pick(jobs, now):
        chosen = [
            (key(task, release, rel, remaining, i), i)
            for i, (task, release, rel, remaining) in enumerate(jobs)
            if ready(release, remaining, now)
        ]
        return min(chosen)[1] if chosen else None

    return edf_pick


# -- 06.stride ----------------------------------------------------------------------------

STRIDE1 = 1 << 20


def _stride(
    stride_of: Callable[[int], int] = lambda tickets: STRIDE1 // tickets,
    start_at_stride: bool = False,
    tie: Callable[[int], int] = lambda k: k,
) -> Callable:
    def stride_order(tickets, quanta):
        strides = [stride_of(t) for t in tickets]
        passes = list(strides) if start_at_stride else [0] * len(strides)
        order = []
        for _ in range(quanta):
            i = min(range(len(passes)), key=lambda k: (passes[k], tie(k)))
            order.append(i)
            passes[i] += strides[i]
        return order

    return stride_order


def _round_robin(tickets, quanta):  # the seed's "round-robin fallback" for ProportionalShare
    return [q % len(tickets) for q in range(quanta)]


def _bursts(tickets, quanta):  # right shares per round, but each task's quanta in one burst
    order = []
    while len(order) < quanta:
        for i, t in enumerate(tickets):
            order.extend([i] * t)
    return order[:quanta]


# -- 06.response-time ---------------------------------------------------------------------

_GIVE_UP = 10_000  # steps: an answer without a deadline check would otherwise never stop


def _rta(
    preemptions: Callable[[int, int], int] = lambda r, t: -(-r // t),
    blocking_inside: bool = True,
    blocking_after: bool = False,
    deadline_of: Callable[[tuple], int] = lambda task: task[2],
    met: Callable[[int, int], bool] = lambda r, d: r <= d,
    iterate: bool = True,
) -> Callable:
    def response_time(task, higher, blocking=0):
        wcet = task[0]
        inside = blocking if blocking_inside else 0
        r = wcet + inside + sum(c for c, _ in higher)
        for _ in range(_GIVE_UP if iterate else 1):
            following = wcet + inside + sum(preemptions(r, t) * c for c, t in higher)
            if following == r or not met(following, 100 * deadline_of(task)):
                break
            r = following
        if iterate:
            r = following
        r += blocking if blocking_after else 0
        return r if met(r, deadline_of(task)) else None

    return response_time


def _no_deadline_check(task, higher, blocking=0):
    """Iterates to the fixed point and only then compares it with the deadline.

    Right whenever the iteration converges; when the higher-priority tasks fill
    the processor it never does, and the tests' time budget must stop it. The
    wall-clock cap is only a safety net for a caller that sets no budget (and
    then its late ``None`` is the right answer, so the wrong answer is missed).
    """
    wcet, _, deadline = task
    r = wcet + blocking + sum(c for c, _ in higher)
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        following = wcet + blocking + sum(-(-r // t) * c for c, t in higher)
        if following == r:
            return r if r <= deadline else None
        r = following
    return None


WRONG: dict[str, dict[str, object]] = {
    "06.liu-layland": {
        "ln2-bound": _liu_layland(bound_of=lambda n: math.log(2)),
        "bound-without-n": _liu_layland(bound_of=lambda n: 2 ** (1 / n) - 1),
        "integer-division": _liu_layland(share=lambda c, t: c // t),
        "sufficient-as-necessary": _liu_layland(two_way=True),
        "strict-bound": _liu_layland(under=lambda u, bound: u < bound),
        "float-sum": _liu_layland(share=lambda c, t: c / t),
    },
    "06.edf-pick": {
        # The seed's worker queues are FIFO channels: first come, first served (S002-39).
        "seed-fifo": _edf(lambda task, release, rel, remaining, i: (release, i)),
        "relative-deadline": _edf(lambda task, release, rel, remaining, i: (rel, release, task)),
        "ignores-release": _edf(
            lambda task, release, rel, remaining, i: (release + rel, release, task),
            ready=lambda release, remaining, now: remaining > 0,
        ),
        "ignores-remaining": _edf(
            lambda task, release, rel, remaining, i: (release + rel, release, task),
            ready=lambda release, remaining, now: release <= now,
        ),
        "ties-by-position": _edf(lambda task, release, rel, remaining, i: (release + rel, i)),
    },
    "06.stride": {
        "seed-round-robin": _round_robin,
        "stride-is-tickets": _stride(stride_of=lambda tickets: tickets),
        "float-stride": _stride(stride_of=lambda tickets: 1 / tickets),
        "ties-to-higher-index": _stride(tie=lambda k: -k),
        # Waldspurger's own convention, but not this exercise's (nor rtkit.sched's).
        "start-at-stride": _stride(start_at_stride=True),
        "bursts": _bursts,
    },
    "06.response-time": {
        "floor-not-ceil": _rta(preemptions=lambda r, t: r // t),
        "one-pass": _rta(iterate=False),
        "no-blocking": _rta(blocking_inside=False),
        "blocking-added-after": _rta(blocking_inside=False, blocking_after=True),
        "period-as-deadline": _rta(deadline_of=lambda task: task[1]),
        "strict-deadline": _rta(met=lambda r, d: r < d),
        "no-deadline-check": _no_deadline_check,
    },
}
