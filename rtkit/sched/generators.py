"""Seeded random task sets: UUniFast, RandFixedSum, log-uniform periods.

Experiments on schedulability need task sets whose utilisation is *exactly*
controlled and otherwise unbiased:

* :func:`uunifast` (Bini and Buttazzo 2005) draws n utilisations summing to
  U, uniformly over that simplex. For one processor (U <= 1).
* :func:`randfixedsum` (Stafford's algorithm, as used by Emberson, Stafford
  and Davis 2010) draws n utilisations summing to U with every one in
  [0, 1], uniformly: what several processors (U > 1) need, where UUniFast
  would produce tasks heavier than a whole processor.
* :func:`log_uniform_periods`: periods spread evenly over orders of magnitude,
  as in real systems (1 ms control loops next to 1 s housekeeping).
* :func:`random_taskset` puts them together into :class:`~rtkit.sched.model.Task`
  objects. WCETs are rounded to whole time units (at least 1), so the actual
  utilisation differs slightly from the requested one: use
  :func:`~rtkit.sched.model.utilisation` on the result.

Everything takes a ``seed`` (or a ``numpy.random.Generator``): same seed,
same task set, on every machine.

Example:
    >>> ts = random_taskset(3, 0.6, periods=[10, 20, 40], seed=1)
    >>> [(t.wcet, t.period) for t in ts]
    [(2, 10), (1, 10), (16, 40)]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rtkit.errors import ConfigError, check_choice, check_int
from rtkit.sched.model import Task

__all__ = ["log_uniform_periods", "randfixedsum", "random_taskset", "uunifast"]

Seed = int | np.random.Generator


def _rng(seed: Seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_int("seed", seed, minimum=0))


def _check_total(n: int, total: float, cap: float) -> None:
    if not (0 < total <= cap):
        raise ConfigError(f"utilisation must be in (0, {cap:g}], got {total!r}")


def uunifast(n: int, utilisation: float, seed: Seed = 0) -> np.ndarray:
    """n utilisations, uniform over the simplex summing to ``utilisation`` (<= 1 here).

    Cost: O(n).

    Example:
        >>> u = uunifast(4, 0.8, seed=3)
        >>> len(u), round(float(u.sum()), 12)
        (4, 0.8)
    """
    n = check_int("n", n, minimum=1)
    _check_total(n, utilisation, 1.0)
    rng = _rng(seed)
    out = np.empty(n)
    remaining = float(utilisation)
    for i in range(1, n):
        nxt = remaining * rng.random() ** (1.0 / (n - i))
        out[i - 1] = remaining - nxt
        remaining = nxt
    out[n - 1] = remaining
    return out


def randfixedsum(n: int, utilisation: float, seed: Seed = 0) -> np.ndarray:
    """n utilisations in [0, 1] summing to ``utilisation`` (<= n), uniformly distributed.

    Stafford's RandFixedSum: the cube [0,1]^n cut by the plane Σx = U is
    split into simplices; a simplex is chosen with probability proportional to
    its volume and a point drawn uniformly inside it, then the coordinates
    are shuffled. Cost: O(n²).

    Example:
        >>> u = randfixedsum(4, 2.5, seed=0)
        >>> round(float(u.sum()), 9), bool(u.max() <= 1)
        (2.5, True)
    """
    n = check_int("n", n, minimum=1)
    _check_total(n, utilisation, float(n))
    rng = _rng(seed)
    s = float(utilisation)
    if n == 1:
        return np.array([s])
    k = min(int(np.floor(s)), n - 1)
    s1 = s - np.arange(k, k - n, -1.0)
    s2 = np.arange(k + n, k, -1.0) - s
    tiny, huge = np.finfo(float).tiny, np.finfo(float).max
    w = np.zeros((n, n + 1))
    w[0, 1] = huge
    t = np.zeros((n - 1, n))
    for i in range(2, n + 1):
        tmp1 = w[i - 2, 1 : i + 1] * s1[:i] / i
        tmp2 = w[i - 2, 0:i] * s2[n - i : n] / i
        w[i - 1, 1 : i + 1] = tmp1 + tmp2
        tmp3 = w[i - 1, 1 : i + 1] + tiny
        tmp4 = s2[n - i : n] > s1[:i]
        t[i - 2, 0:i] = (tmp2 / tmp3) * tmp4 + (1 - tmp1 / tmp3) * (~tmp4)
    x = np.zeros(n)
    rt = rng.random(n - 1)  # which simplex
    rs = rng.random(n - 1)  # where in it
    j = k + 1
    sm, pr = 0.0, 1.0
    for i in range(n - 1, 0, -1):
        e = rt[n - i - 1] <= t[i - 1, j - 1]
        sx = rs[n - i - 1] ** (1.0 / i)
        sm += (1.0 - sx) * pr * s / (i + 1)
        pr *= sx
        x[n - i - 1] = sm + pr * e
        s -= e
        j -= int(e)
    x[n - 1] = sm + pr * s
    return x[rng.permutation(n)]


def log_uniform_periods(
    n: int, low: int, high: int, seed: Seed = 0, granularity: int = 1
) -> np.ndarray:
    """n integer periods, log-uniform in [low, high], rounded to multiples of ``granularity``.

    A coarse granularity keeps hyperperiods (and so default simulation
    horizons) short. Cost: O(n).

    Example:
        >>> log_uniform_periods(4, 10, 1000, seed=0, granularity=10).tolist()
        [180, 30, 10, 10]
    """
    n = check_int("n", n, minimum=1)
    low = check_int("low", low, minimum=1)
    high = check_int("high", high, minimum=low)
    granularity = check_int("granularity", granularity, minimum=1)
    # The multiples of granularity inside [low, high]; clipping to the range
    # must not land on a value that is not one of them.
    first = -(-low // granularity) * granularity
    last = high // granularity * granularity
    if first > last:
        raise ConfigError(
            f"no multiple of granularity {granularity} lies in [{low}, {high}]; "
            "widen the range or use a smaller granularity"
        )
    rng = _rng(seed)
    raw = np.exp(rng.uniform(np.log(low), np.log(high + granularity), n))
    periods = (raw // granularity).astype(np.int64) * granularity
    return np.clip(periods, first, last)


def random_taskset(
    n: int,
    utilisation: float,
    *,
    periods: tuple[int, int] | Sequence[int] = (10, 1000),
    deadlines: str = "implicit",
    method: str = "auto",
    seed: Seed = 0,
    prefix: str = "t",
) -> list[Task]:
    """A random task set of ``n`` tasks with total utilisation about ``utilisation``.

    Args:
        periods: a tuple ``(low, high)`` for log-uniform periods, or a list
            of allowed periods to pick from uniformly (a small set of
            harmonic-ish periods keeps hyperperiods short).
        deadlines: ``"implicit"`` (D = T) or ``"constrained"`` (D uniform
            in [C, T]).
        method: ``"uunifast"``, ``"randfixedsum"`` or ``"auto"`` (UUniFast
            when utilisation <= 1).
        prefix: task names are ``prefix + "1"``, ``prefix + "2"``, ...

    Example:
        >>> ts = random_taskset(5, 0.7, periods=(10, 100), deadlines="constrained", seed=2)
        >>> all(t.wcet <= t.deadline <= t.period for t in ts)
        True
    """
    n = check_int("n", n, minimum=1)
    check_choice("deadlines", deadlines, ("implicit", "constrained"))
    check_choice("method", method, ("auto", "uunifast", "randfixedsum"))
    rng = _rng(seed)
    if method == "auto":
        method = "uunifast" if utilisation <= 1 else "randfixedsum"
    u = uunifast(n, utilisation, rng) if method == "uunifast" else randfixedsum(n, utilisation, rng)
    if isinstance(periods, tuple) and len(periods) == 2:
        ps = log_uniform_periods(n, periods[0], periods[1], rng)
    else:
        choices = [check_int("period", p, minimum=1) for p in periods]
        if not choices:
            raise ConfigError("periods must not be empty")
        ps = rng.choice(np.array(choices, dtype=np.int64), size=n)
    tasks = []
    for i in range(n):
        period = int(ps[i])
        wcet = min(period, max(1, round(float(u[i]) * period)))
        deadline = period if deadlines == "implicit" else int(rng.integers(wcet, period + 1))
        tasks.append(Task(f"{prefix}{i + 1}", wcet, period, deadline))
    return tasks
