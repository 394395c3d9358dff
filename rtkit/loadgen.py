"""Open-loop load: when each piece of work *should* start.

A closed-loop tester sends the next request only after the previous reply,
so when the system stalls the tester stalls too and the requests it would
have sent are never measured: coordinated omission (seed 000, S000-16; seed
002, S002-48/49). An open-loop schedule fixes every intended send time in
advance, ``t_k = t_0 + k / rate`` for a constant rate, and latency is taken
from ``t_k``, so a stall shows up in every request it delays.

Every schedule here is an int64 numpy array of intended times in
nanoseconds, sorted, starting at ``start_ns``. Random schedules take a
``seed`` and are identical on every machine for the same seed.

The module also has the two smallest systems that show the difference: a
single FIFO server driven open-loop (:func:`fifo_server`) and the same server
driven closed-loop (:func:`closed_loop`). Lesson 00 uses them.

Example:
    >>> constant_rate(1_000_000, 4).tolist()    # 1 M/s: one every 1,000 ns
    [0, 1000, 2000, 3000]
    >>> poisson(1_000, 3, seed=7).tolist() == poisson(1_000, 3, seed=7).tolist()
    True
"""

from __future__ import annotations

import numbers

import numpy as np

from rtkit.clock import NS_PER_S
from rtkit.errors import ConfigError, check_int

__all__ = [
    "bursts",
    "closed_loop",
    "constant_rate",
    "fifo_server",
    "interarrival_ns",
    "poisson",
]


def _check_rate(rate_per_s: float) -> float:
    if isinstance(rate_per_s, bool) or not isinstance(rate_per_s, numbers.Real):
        raise ConfigError(f"rate_per_s must be a number, got {rate_per_s!r}")
    rate = float(rate_per_s)
    if not rate > 0 or rate == float("inf"):
        raise ConfigError(f"rate_per_s must be > 0 and finite, got {rate_per_s!r}")
    return rate


def interarrival_ns(rate_per_s: float) -> float:
    """Mean gap between arrivals at ``rate_per_s``, in nanoseconds.

    Example:
        >>> interarrival_ns(10_000)
        100000.0
    """
    return NS_PER_S / _check_rate(rate_per_s)


def constant_rate(rate_per_s: float, n: int, start_ns: int = 0) -> np.ndarray:
    """``n`` intended times evenly spaced at ``rate_per_s``: ``t_k = start + k / rate``.

    Times are rounded to whole nanoseconds from the exact ``k / rate`` (not
    by adding a rounded gap), so rounding error never accumulates.

    Example:
        >>> constant_rate(3, 4).tolist()
        [0, 333333333, 666666667, 1000000000]
    """
    rate = _check_rate(rate_per_s)
    n = check_int("n", n, minimum=0)
    start_ns = check_int("start_ns", start_ns, minimum=0)
    k = np.arange(n, dtype=np.float64)
    return start_ns + np.rint(k * (NS_PER_S / rate)).astype(np.int64)


def poisson(rate_per_s: float, n: int, seed: int = 0, start_ns: int = 0) -> np.ndarray:
    """``n`` intended times of a Poisson process of ``rate_per_s`` (exponential gaps).

    The first arrival is at ``start_ns``; memoryless arrivals are the usual
    model of many independent clients.

    Example:
        >>> t = poisson(1_000_000, 100_000, seed=1)
        >>> round(float(np.diff(t).mean()))   # about 1,000 ns apart
        996
    """
    rate = _check_rate(rate_per_s)
    n = check_int("n", n, minimum=0)
    start_ns = check_int("start_ns", start_ns, minimum=0)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    gaps = rng.exponential(NS_PER_S / rate, size=max(n - 1, 0))
    return start_ns + np.concatenate(([0.0], np.cumsum(gaps))).astype(np.int64)[:n]


def bursts(
    rate_per_s: float,
    n: int,
    burst_size: int,
    burst_rate_per_s: float | None = None,
    start_ns: int = 0,
) -> np.ndarray:
    """``n`` intended times arriving in bursts of ``burst_size`` at ``rate_per_s`` overall.

    Bursts start every ``burst_size / rate_per_s`` seconds; inside a burst
    arrivals are ``1 / burst_rate_per_s`` apart (by default 100 times the
    average rate). Same average load as :func:`constant_rate`, far worse
    queueing: what a market open or a retry storm looks like.

    Example:
        >>> bursts(1_000, 6, burst_size=3, burst_rate_per_s=1_000_000).tolist()
        [0, 1000, 2000, 3000000, 3001000, 3002000]
    """
    rate = _check_rate(rate_per_s)
    n = check_int("n", n, minimum=0)
    burst_size = check_int("burst_size", burst_size, minimum=1)
    start_ns = check_int("start_ns", start_ns, minimum=0)
    inner = _check_rate(burst_rate_per_s if burst_rate_per_s is not None else 100 * rate)
    period_ns = burst_size * NS_PER_S / rate
    inner_gap_ns = NS_PER_S / inner
    if (burst_size - 1) * inner_gap_ns > period_ns:
        raise ConfigError(
            f"burst_rate_per_s={inner:g} is too slow: a burst of {burst_size} would outlast "
            f"the {period_ns:g} ns between bursts"
        )
    k = np.arange(n)
    offsets = (k // burst_size) * period_ns + (k % burst_size) * inner_gap_ns
    return start_ns + np.rint(offsets).astype(np.int64)


def _service_array(service_ns: int | np.ndarray, n: int) -> np.ndarray:
    service = np.asarray(service_ns)
    if service.ndim > 1 or (service.ndim == 1 and service.size != n):
        raise ConfigError(
            f"service_ns must be one duration or {n} of them, got shape {service.shape}"
        )
    service = np.broadcast_to(service, (n,)).astype(np.int64)
    if service.size and service.min() < 0:
        raise ConfigError("service_ns must be >= 0")
    return service


def fifo_server(intended_ns: np.ndarray, service_ns: int | np.ndarray) -> np.ndarray:
    """Completion times of one FIFO server fed at ``intended_ns`` (open loop).

    Lindley's recursion: each request starts when it arrives or when the one
    before it finishes, whichever is later. ``service_ns`` is one duration or
    one per request.

    Example:
        >>> fifo_server(np.array([0, 10, 20]), np.array([5, 30, 5])).tolist()
        [5, 40, 45]
    """
    arrivals = np.asarray(intended_ns, dtype=np.int64)
    service = _service_array(service_ns, arrivals.size)
    done = np.empty_like(arrivals)
    free_at = np.iinfo(np.int64).min
    for k in range(arrivals.size):
        free_at = max(free_at, int(arrivals[k])) + int(service[k])
        done[k] = free_at
    return done


def closed_loop(service_ns: int | np.ndarray, think_ns: int = 0, start_ns: int = 0) -> np.ndarray:
    """Send times of a closed-loop client: each request waits for the previous reply.

    Returns the actual send times for one request per entry of
    ``service_ns``; the reply to request k arrives at
    ``send[k] + service_ns[k]``. During a stall the client sends nothing, so
    the stall is one slow sample instead of many: the coordinated-omission
    trap.

    Example:
        >>> closed_loop(np.array([10, 1_000, 10]), think_ns=90).tolist()
        [0, 100, 1190]
    """
    service = np.atleast_1d(np.asarray(service_ns, dtype=np.int64))
    _service_array(service, service.size)
    think_ns = check_int("think_ns", think_ns, minimum=0)
    start_ns = check_int("start_ns", start_ns, minimum=0)
    if service.size == 0:
        return np.empty(0, np.int64)
    gaps = service[:-1] + think_ns
    return start_ns + np.concatenate(([0], np.cumsum(gaps))).astype(np.int64)
