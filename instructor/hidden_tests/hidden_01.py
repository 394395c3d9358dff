"""Hidden tests for lesson 01's exercises. Instructors only: never ship this file.

``rtkit grade ... --hidden-tests instructor/hidden_tests`` runs them after the
public tests. Three of the four exercises model pieces of rtkit's event
processor, so the hidden tests hold answers to the simulator itself
(:func:`rtkit.eventsim.simulate_reference` and :func:`rtkit.events.simulate`,
readable engine) on seeded workloads: per-event latency per batch, batch
closing on size or age (service time 0), and drop accounting (one worker,
batches of one, ``full_policy="drop"``). Messages say what was called and what
kind of result was wrong, never the expected value.
"""

from __future__ import annotations

import numpy as np

from rtkit import eventsim, loadgen
from rtkit.events import ProcessorConfig, make_workload, simulate
from rtkit.grading.catalog import PublicTest, test

# The seed's three event kinds and their modelled service times (ns).
SERVICE_TABLE = {"trade": 1_000, "order": 2_000, "market_data": 5_000}


# -- 01.moving-average-bug ------------------------------------------------------


@test("mean and max of 2,000 seeded latencies, a tenth of them 0, every 50 updates")
def _metrics_seeded(cls):
    rng = np.random.default_rng(11)
    samples = rng.integers(0, 1_000_000_000, size=2_000)
    samples[rng.random(samples.size) < 0.1] = 0
    metrics = cls()
    total = 0
    for i, x in enumerate(samples.tolist(), start=1):
        metrics.update(x)
        total += x
        if i % 50:
            continue
        if abs(metrics.average_ns - total / i) >= 1 or metrics.max_ns != max(samples[:i]):
            raise AssertionError(
                f"LatencyMetrics() after {i} seeded updates (some of them 0): average_ns or "
                "max_ns is not the mean or the largest of the latencies recorded"
            )


@test("two instances keep separate accounts")
def _metrics_instances(cls):
    a, b = cls(), cls()
    for x in (100, 200, 300):
        a.update(x)
    b.update(5_000)
    if abs(a.average_ns - 200) >= 1 or a.max_ns != 300 or b.average_ns != 5_000:
        raise AssertionError(
            "two LatencyMetrics() objects updated with different latencies share state: "
            "keep the running totals on the instance (self), not on the class"
        )


@test("the average does not depend on the order, over shuffles")
def _metrics_shuffles(cls):
    rng = np.random.default_rng(12)
    samples = rng.integers(0, 50_000_000, size=500).tolist()
    averages = []
    for _ in range(5):
        metrics = cls()
        for x in samples:
            metrics.update(x)
        averages.append(metrics.average_ns)
        rng.shuffle(samples)
    mean = sum(samples) / len(samples)
    if any(abs(a - mean) >= 1 for a in averages):
        raise AssertionError(
            "LatencyMetrics() fed the same 500 seeded latencies in five orders: average_ns "
            "is not their mean every time"
        )


# -- 01.batch-latency ---------------------------------------------------------------


def _simulated_batches(seed: int, workers: int, batch_size: int, flush_ns: int):
    work = make_workload(loadgen.poisson(200_000, 2_000, seed=seed), seed=seed)
    service = work.service_ns(ProcessorConfig(service_ns=SERVICE_TABLE))
    out = eventsim.simulate_reference(
        work.intended_ns, service, workers, batch_size, flush_ns, 10_000, False, 0
    )
    return work.intended_ns, service, out


@test("agrees with rtkit's simulator, batch by batch")
def _batch_matches_simulator(f):
    for seed, workers, batch_size, flush_ns in ((1, 1, 10, 20_000), (2, 3, 50, 100_000)):
        intended, service, out = _simulated_batches(seed, workers, batch_size, flush_ns)
        for b, start in enumerate(out.batch_start_ns.tolist()):
            members = np.flatnonzero(out.batch_of == b)
            got = f(intended[members], start, service[members])
            expected = out.completion_ns[members] - intended[members]
            if np.asarray(got).tolist() != expected.tolist():
                raise AssertionError(
                    f"per_event_latencies(...) on batch {b} of a seeded simulation "
                    f"({workers} workers, batches of up to {batch_size}) disagrees with the "
                    "simulator's per-event latencies"
                )


@test("random batches: latencies fall by each arrival gap and grow by each service time")
def _batch_random(f):
    rng = np.random.default_rng(13)
    for trial in range(50):
        n = int(rng.integers(1, 40))
        arrival = np.sort(rng.integers(0, 1_000_000, size=n))
        start = int(arrival[-1] + rng.integers(0, 10_000))
        service = rng.integers(0, 5_000, size=n)
        got = np.asarray(f(arrival, start, service)).tolist()
        expected = [start + int(service[: i + 1].sum()) - int(arrival[i]) for i in range(n)]
        if got != expected:
            raise AssertionError(
                f"per_event_latencies(...) on seeded random batch {trial} ({n} events) is not "
                "each event's completion minus its arrival"
            )


# -- 01.flush-deadline -------------------------------------------------------------


def _simulated_closes(arrival: np.ndarray, batch_size: int, flush_ns: int) -> list:
    out = eventsim.simulate_reference(
        arrival,
        np.zeros(arrival.size, np.int64),
        1,
        batch_size,
        flush_ns,
        arrival.size + 1,
        False,
        0,
    )
    return list(zip(out.batch_start_ns.tolist(), out.batch_size.tolist(), strict=True))


def _arrivals(seed: int) -> np.ndarray:
    poisson = loadgen.poisson(50_000, 1_500, seed=seed)
    burst = loadgen.bursts(50_000, 1_500, burst_size=20, burst_rate_per_s=10**9)
    # Bursts one ns apart plus repeated stamps: plenty of ties with flush times.
    ties = np.repeat(loadgen.constant_rate(20_000, 300), 3)
    return np.sort(np.concatenate([poisson, burst + 40_000_000, ties + 80_000_000]))


@test("agrees with rtkit's simulator (service time 0) on seeded arrivals with ties")
def _flush_matches_simulator(f):
    arrival = _arrivals(21)
    for batch_size, flush_ns in ((1, 1_000), (8, 20_000), (25, 50_000), (1_000, 100_000)):
        got = [tuple(pair) for pair in f(arrival.tolist(), batch_size, flush_ns)]
        if got != _simulated_closes(arrival, batch_size, flush_ns):
            raise AssertionError(
                f"batch_closes(...) on 3,300 seeded arrivals, batch_size={batch_size}, "
                f"flush_interval_ns={flush_ns}: the batches differ from rtkit's simulator"
            )


@test("an interval equal to the gap between arrivals: every flush ties with an arrival")
def _flush_all_ties(f):
    arrival = list(range(0, 10_000, 100))
    got = [tuple(pair) for pair in f(arrival, 10, 100)]
    if got != _simulated_closes(np.array(arrival), 10, 100):
        raise AssertionError(
            "batch_closes(list(range(0, 10000, 100)), 10, 100): when a flush and an arrival "
            "fall at the same instant the flush comes first, every time"
        )


# -- 01.drop-count -------------------------------------------------------------------


def _simulated_queue(intended: np.ndarray, capacity: int, seed: int):
    work = make_workload(intended, mix=dict.fromkeys(SERVICE_TABLE, 1), seed=seed)
    config = ProcessorConfig(
        workers=1,
        batch_size=1,
        queue_capacity=capacity,
        full_policy="drop",
        service_ns=SERVICE_TABLE,
    )
    result = simulate(config, work, engine="reference")
    s = result.stats
    return work.service_ns(config), (s.processed, s.dropped, s.high_water)


@test("agrees with rtkit.events.simulate (one worker, batches of one, drop) on seeded loads")
def _queue_matches_simulator(f):
    capacity_per_s = 1e9 / (sum(SERVICE_TABLE.values()) / len(SERVICE_TABLE))
    for seed, rho, capacity in ((31, 0.5, 3), (32, 0.95, 10), (33, 1.5, 5), (34, 3.0, 1)):
        intended = loadgen.poisson(rho * capacity_per_s, 2_500, seed=seed)
        service, expected = _simulated_queue(intended, capacity, seed)
        got = tuple(f(intended.tolist(), service.tolist(), capacity))
        if got != expected:
            raise AssertionError(
                f"run_bounded_queue(...) on 2,500 seeded Poisson arrivals at utilisation {rho}, "
                f"capacity={capacity}: (processed, dropped, max_depth) differs from rtkit's "
                "simulator"
            )


@test("arrivals that tie with completions, in numpy arrays")
def _queue_ties(f):
    for gap, service_ns, capacity in ((1_000, 1_000, 1), (1_000, 2_000, 4), (500, 1_500, 2)):
        intended = loadgen.constant_rate(1e9 / gap, 1_000)
        work = make_workload(intended, mix={"x": 1})
        config = ProcessorConfig(
            workers=1, batch_size=1, queue_capacity=capacity, service_ns={"x": service_ns}
        )
        s = simulate(config, work, engine="reference").stats
        got = tuple(f(intended, np.full(intended.size, service_ns, np.int64), capacity))
        if got != (s.processed, s.dropped, s.high_water):
            raise AssertionError(
                f"run_bounded_queue(...) with an arrival every {gap} ns, each taking "
                f"{service_ns} ns, capacity={capacity}: (processed, dropped, max_depth) differs "
                "from rtkit's simulator"
            )


@test("a long overload at twice the server's rate: the counts stay exact")
def _queue_long(f):
    n = 20_000
    intended = loadgen.constant_rate(2_000_000, n)  # an arrival every 500 ns, 1,000 ns each
    config = ProcessorConfig(workers=1, batch_size=1, queue_capacity=100, service_ns={"x": 1_000})
    s = simulate(config, make_workload(intended, mix={"x": 1}), engine="reference").stats
    got = tuple(f(intended.tolist(), [1_000] * n, 100))
    if got != (s.processed, s.dropped, s.high_water):
        raise AssertionError(
            f"run_bounded_queue(...) with {n} arrivals at twice the server's rate, "
            "capacity=100: (processed, dropped, max_depth) differs from rtkit's simulator"
        )


HIDDEN: dict[str, list[PublicTest]] = {
    "01.moving-average-bug": [_metrics_seeded, _metrics_instances, _metrics_shuffles],
    "01.batch-latency": [_batch_matches_simulator, _batch_random],
    "01.flush-deadline": [_flush_matches_simulator, _flush_all_ties],
    "01.drop-count": [_queue_matches_simulator, _queue_ties, _queue_long],
}
