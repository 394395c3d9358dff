"""Tests for rtkit.loadgen: open-loop schedules and the FIFO / closed-loop servers."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtkit.errors import ConfigError
from rtkit.loadgen import (
    bursts,
    closed_loop,
    constant_rate,
    fifo_server,
    interarrival_ns,
    poisson,
)

FAST = settings(max_examples=150, deadline=None, derandomize=True, database=None)

BAD_RATES = [
    pytest.param(0, "rate_per_s must be > 0 and finite, got 0", id="zero"),
    pytest.param(-1, "rate_per_s must be > 0 and finite, got -1", id="negative"),
    pytest.param(float("nan"), "rate_per_s must be > 0 and finite, got nan", id="nan"),
    pytest.param(float("inf"), "rate_per_s must be > 0 and finite, got inf", id="inf"),
    pytest.param(float("-inf"), "rate_per_s must be > 0 and finite, got -inf", id="-inf"),
    pytest.param("x", "rate_per_s must be a number, got 'x'", id="str"),
    pytest.param(True, "rate_per_s must be a number, got True", id="bool"),
    pytest.param(None, "rate_per_s must be a number, got None", id="None"),
]

SCHEDULES = [
    pytest.param(lambda rate, n: constant_rate(rate, n), id="constant_rate"),
    pytest.param(lambda rate, n: poisson(rate, n, seed=1), id="poisson"),
    pytest.param(lambda rate, n: bursts(rate, n, burst_size=4), id="bursts"),
]


def assert_is_schedule(t: np.ndarray, n: int, start_ns: int) -> None:
    assert t.dtype == np.int64
    assert t.shape == (n,)
    if n:
        assert t[0] == start_ns
        assert (np.diff(t) >= 0).all()


# -- constant_rate ---------------------------------------------------------


def test_constant_rate_spacing_is_exact_for_a_whole_gap():
    t = constant_rate(1_000_000, 1_000)
    assert_is_schedule(t, 1_000, 0)
    np.testing.assert_array_equal(t, np.arange(1_000) * 1_000)
    assert constant_rate(1_000_000, 4).tolist() == [0, 1_000, 2_000, 3_000]


def test_constant_rate_does_not_accumulate_rounding_error():
    n = 10**6
    t = constant_rate(3, n)
    assert_is_schedule(t, n, 0)
    assert t[-1] == round((n - 1) * 1e9 / 3)
    assert constant_rate(3, 4).tolist() == [0, 333_333_333, 666_666_667, 1_000_000_000]
    # Every time is the exact k * 1e9 / 3 rounded to the nearest ns: |3 t_k - k 1e9| <= 1.
    k = np.arange(n, dtype=np.int64)
    assert np.abs(3 * t - k * 10**9).max() <= 1


@pytest.mark.parametrize("rate", [7, 44_100, 1e6 / 3, 1.5, 123_456.789])
def test_constant_rate_times_are_within_half_a_nanosecond_of_exact(rate):
    n = 100_000
    t = constant_rate(rate, n, start_ns=17)
    assert_is_schedule(t, n, 17)
    exact_gap = Fraction(10**9) / Fraction(rate)
    for k in [0, 1, 2, 999, 12_345, n // 2, n - 2, n - 1]:
        error = abs(Fraction(int(t[k]) - 17) - k * exact_gap)
        assert error <= Fraction(1, 2) + Fraction(1, 10**6), (k, float(error))


def test_constant_rate_start_ns_shifts_every_time():
    np.testing.assert_array_equal(
        constant_rate(1_000, 50, start_ns=123), 123 + constant_rate(1_000, 50)
    )


def test_constant_rate_of_no_events_is_empty():
    assert_is_schedule(constant_rate(1_000, 0), 0, 0)


# -- poisson ---------------------------------------------------------------


def test_poisson_is_deterministic_for_a_seed():
    a = poisson(10_000, 5_000, seed=42, start_ns=9)
    b = poisson(10_000, 5_000, seed=42, start_ns=9)
    np.testing.assert_array_equal(a, b)
    assert_is_schedule(a, 5_000, 9)


def test_poisson_with_different_seeds_differs():
    a = poisson(10_000, 1_000, seed=1)
    b = poisson(10_000, 1_000, seed=2)
    assert not np.array_equal(a, b)
    assert a[0] == b[0] == 0


def test_poisson_prefix_is_stable_when_n_grows():
    # The same seed gives the same first arrivals, however many are asked for.
    np.testing.assert_array_equal(poisson(1_000, 100, seed=3), poisson(1_000, 1_000, seed=3)[:100])


def test_poisson_mean_gap_is_one_over_rate_within_five_sigma():
    rate, n = 1_000_000, 200_001
    t = poisson(rate, n, seed=11, start_ns=1_000)
    assert_is_schedule(t, n, 1_000)
    gaps = np.diff(t)
    mean_gap = 1e9 / rate
    # Exponential gaps: sd of the mean of m gaps is mean / sqrt(m). Times are
    # truncated to whole ns, which shifts the mean by less than 1 ns / m.
    tolerance = 5 * mean_gap / math.sqrt(gaps.size) + 1 / gaps.size
    assert abs(gaps.mean() - mean_gap) <= tolerance


def test_poisson_gaps_are_exponential_within_five_sigma():
    rate, n = 10_000, 100_001
    gaps = np.diff(poisson(rate, n, seed=5)).astype(np.float64)
    mean_gap = 1e9 / rate
    # P(gap > mean) = 1/e for an exponential; binomial sd sqrt(p (1 - p) / m).
    p = math.exp(-1)
    tolerance = 5 * math.sqrt(p * (1 - p) / gaps.size)
    assert abs((gaps > mean_gap).mean() - p) <= tolerance
    assert gaps.std() == pytest.approx(mean_gap, rel=5 * math.sqrt(2 / gaps.size) + 1e-3)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_poisson_tiny_n(n):
    t = poisson(1_000, n, seed=0, start_ns=5)
    assert_is_schedule(t, n, 5)


@pytest.mark.parametrize(
    ("seed", "message"), [(-1, "seed must be >= 0"), (1.5, "seed must be an integer")]
)
def test_poisson_rejects_bad_seed(seed, message):
    with pytest.raises(ConfigError, match=message):
        poisson(1_000, 10, seed=seed)


# -- bursts ----------------------------------------------------------------


def test_bursts_documented_example():
    assert bursts(1_000, 6, burst_size=3, burst_rate_per_s=1_000_000).tolist() == [
        0,
        1_000,
        2_000,
        3_000_000,
        3_001_000,
        3_002_000,
    ]


@pytest.mark.parametrize(("burst_size", "n"), [(1, 10), (4, 40), (5, 23), (16, 160)])
def test_bursts_have_the_stated_shape(burst_size, n):
    rate, inner_rate, start = 2_000, 1_000_000, 100
    t = bursts(rate, n, burst_size=burst_size, burst_rate_per_s=inner_rate, start_ns=start)
    assert_is_schedule(t, n, start)
    period = burst_size * 10**9 // rate
    inner_gap = 10**9 // inner_rate
    k = np.arange(n)
    expected = start + (k // burst_size) * period + (k % burst_size) * inner_gap
    np.testing.assert_array_equal(t, expected)
    # Same average load as constant_rate: n / rate seconds per n events, burst by burst.
    assert (
        t[::burst_size].tolist()
        == (start + np.arange(0, n, burst_size) // burst_size * period).tolist()
    )


def test_bursts_default_inner_rate_is_a_hundred_times_the_average():
    t = bursts(1_000, 8, burst_size=4)
    # average gap 1 ms, inner gap 10 us, a burst every 4 ms
    assert t.tolist() == [0, 10_000, 20_000, 30_000, 4_000_000, 4_010_000, 4_020_000, 4_030_000]


def test_bursts_too_slow_to_fit_between_bursts_raises():
    # 5 arrivals 2 ms apart need 8 ms; bursts start every 5 ms.
    with pytest.raises(ConfigError, match="burst_rate_per_s=500 is too slow"):
        bursts(1_000, 10, burst_size=5, burst_rate_per_s=500)
    # 5 arrivals 1.25 ms apart just fit.
    t = bursts(1_000, 10, burst_size=5, burst_rate_per_s=800)
    assert t[4] == t[5] == 5_000_000


@pytest.mark.parametrize(
    ("burst_size", "message"),
    [(0, "burst_size must be >= 1, got 0"), (2.5, "burst_size must be an integer")],
)
def test_bursts_rejects_bad_burst_size(burst_size, message):
    with pytest.raises(ConfigError, match=message):
        bursts(1_000, 10, burst_size=burst_size)


@pytest.mark.parametrize(("rate", "message"), [r for r in BAD_RATES if r.id != "None"])
def test_bursts_rejects_bad_inner_rate(rate, message):
    with pytest.raises(ConfigError, match=message):
        bursts(1_000, 10, burst_size=2, burst_rate_per_s=rate)


# -- validation shared by every schedule -----------------------------------


@pytest.mark.parametrize(("rate", "message"), BAD_RATES)
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_schedules_reject_bad_rates(schedule, rate, message):
    with pytest.raises(ConfigError, match=message):
        schedule(rate, 10)


@pytest.mark.parametrize(("rate", "message"), BAD_RATES)
def test_interarrival_rejects_bad_rates(rate, message):
    with pytest.raises(ConfigError, match=message):
        interarrival_ns(rate)


def test_interarrival_is_the_mean_gap_in_ns():
    assert interarrival_ns(10_000) == 100_000.0
    assert interarrival_ns(np.float64(4)) == 250_000_000.0


@pytest.mark.parametrize(
    ("n", "message"),
    [(-1, "n must be >= 0, got -1"), (2.5, "n must be an integer"), (True, "n must be an integer")],
)
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_schedules_reject_bad_n(schedule, n, message):
    with pytest.raises(ConfigError, match=message):
        schedule(1_000, n)


@pytest.mark.parametrize(
    "schedule",
    [
        lambda: constant_rate(1_000, 5, start_ns=-1),
        lambda: poisson(1_000, 5, start_ns=-1),
        lambda: bursts(1_000, 5, burst_size=2, start_ns=-1),
    ],
    ids=["constant_rate", "poisson", "bursts"],
)
def test_schedules_reject_negative_start(schedule):
    with pytest.raises(ConfigError, match="start_ns must be >= 0, got -1"):
        schedule()


# -- fifo_server -----------------------------------------------------------


def reference_fifo(arrivals: list[int], services: list[int]) -> list[int]:
    """Lindley's recursion, written out: start when arrived and the server is free."""
    done: list[int] = []
    free_at = None
    for arrival, service in zip(arrivals, services, strict=True):
        start = arrival if free_at is None else max(arrival, free_at)
        free_at = start + service
        done.append(free_at)
    return done


@st.composite
def arrivals_and_services(draw):
    gaps = draw(st.lists(st.integers(0, 10**6), min_size=0, max_size=60))
    start = draw(st.integers(0, 10**9))
    arrivals = [start + s for s in np.cumsum(gaps, dtype=np.int64).tolist()] if gaps else []
    services = draw(st.lists(st.integers(0, 2 * 10**6), min_size=len(gaps), max_size=len(gaps)))
    return arrivals, services


@FAST
@given(arrivals_and_services())
def test_fifo_server_matches_reference_loop(case):
    arrivals, services = case
    done = fifo_server(np.array(arrivals, dtype=np.int64), np.array(services, dtype=np.int64))
    assert done.dtype == np.int64
    assert done.tolist() == reference_fifo(arrivals, services)
    a, s = np.array(arrivals, dtype=np.int64), np.array(services, dtype=np.int64)
    assert (done >= a + s).all()
    assert (np.diff(done) >= 0).all()
    if done.size:
        # Work-conserving: the server is never idle while something waits.
        assert done[-1] >= a[0] + s.sum()


@FAST
@given(arrivals_and_services(), st.integers(0, 10**6))
def test_fifo_server_with_one_service_time_equals_a_repeated_array(case, service):
    arrivals, _ = case
    a = np.array(arrivals, dtype=np.int64)
    np.testing.assert_array_equal(fifo_server(a, service), fifo_server(a, np.full(a.size, service)))


def test_fifo_server_documented_example_and_queueing():
    assert fifo_server(np.array([0, 10, 20]), np.array([5, 30, 5])).tolist() == [5, 40, 45]
    # Arrivals every 10 ns, service 15 ns: the queue, and so the latency, grows without bound.
    a = constant_rate(100_000_000, 5)
    latency = fifo_server(a, 15) - a
    assert latency.tolist() == [15, 20, 25, 30, 35]


def test_fifo_server_rejects_negative_service():
    with pytest.raises(ConfigError, match="service_ns must be >= 0"):
        fifo_server(np.array([0, 10]), np.array([5, -1]))
    with pytest.raises(ConfigError, match="service_ns must be >= 0"):
        fifo_server(np.array([0, 10]), -3)


# -- closed_loop -----------------------------------------------------------


@FAST
@given(
    services=st.lists(st.integers(0, 10**7), min_size=1, max_size=60),
    think=st.integers(0, 10**6),
    start=st.integers(0, 10**12),
)
def test_closed_loop_sends_each_request_after_the_previous_reply_and_think_time(
    services, think, start
):
    send = closed_loop(np.array(services, dtype=np.int64), think_ns=think, start_ns=start)
    assert send.dtype == np.int64
    assert send.shape == (len(services),)
    assert send[0] == start
    for k in range(len(services) - 1):
        assert send[k + 1] == send[k] + services[k] + think


def test_closed_loop_documented_example_hides_the_stall():
    send = closed_loop(np.array([10, 1_000, 10]), think_ns=90)
    assert send.tolist() == [0, 100, 1_190]
    # Closed loop the client waited out the stall: one slow sample. Open loop,
    # with requests intended every 100 ns, the stall also delays the next one.
    intended = constant_rate(10_000_000, 3)
    open_latency = fifo_server(intended, np.array([10, 1_000, 10])) - intended
    assert open_latency.tolist() == [10, 1_000, 910]


def test_closed_loop_with_a_single_service_time_sends_one_request():
    assert closed_loop(25, think_ns=5, start_ns=7).tolist() == [7]


def test_closed_loop_with_no_requests_returns_no_send_times():
    # One send time per entry of service_ns: none for an empty array.
    send = closed_loop(np.array([], dtype=np.int64), think_ns=5, start_ns=100)
    assert send.shape == (0,)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"service_ns": np.array([5, -1])}, "service_ns must be >= 0"),
        ({"service_ns": np.array([5]), "think_ns": -1}, "think_ns must be >= 0, got -1"),
        ({"service_ns": np.array([5]), "think_ns": 1.5}, "think_ns must be an integer"),
        ({"service_ns": np.array([5]), "start_ns": -1}, "start_ns must be >= 0, got -1"),
    ],
)
def test_closed_loop_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        closed_loop(**kwargs)
