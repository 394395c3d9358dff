"""EventProcessor: validation, the simulated model, engine agreement, measured mode."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtkit import loadgen
from rtkit.clock import VirtualClock
from rtkit.errors import Closed, ConfigError, StateError
from rtkit.events import (
    EventProcessor,
    ProcessorConfig,
    Workload,
    make_workload,
    simulate,
)

ONE_KIND = {"trade": 5}


def at(*times: int) -> Workload:
    """A workload of 'trade' events at the given times."""
    return make_workload(np.array(times, dtype=np.int64), mix={"trade": 1})


# -- validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("workers", 0, "workers must be >= 1, got 0"),
        ("batch_size", -1, "batch_size must be >= 1, got -1"),
        ("flush_interval_ns", 0, "flush_interval_ns must be >= 1"),
        ("queue_capacity", 0, "queue_capacity must be >= 1"),
        ("workers", 2.0, "workers must be an integer"),
        ("full_policy", "spill", "full_policy must be one of 'drop', 'block'"),
        ("batch_overhead_ns", -5, "batch_overhead_ns must be >= 0"),
        ("deadline_ns", 0, "deadline_ns must be >= 1"),
        ("service_ns", {}, "service_ns must be a non-empty mapping"),
        ("service_ns", {"trade": -1}, r"service_ns\['trade'\] must be >= 0"),
    ],
)
def test_bad_parameters_are_rejected_with_a_clear_message(field, value, message):
    with pytest.raises(ConfigError, match=message):
        ProcessorConfig(**{field: value})


def test_replace_validates_and_rejects_unknown_fields():
    config = ProcessorConfig()
    with pytest.raises(ConfigError, match="unknown ProcessorConfig fields: wrokers"):
        config.replace(wrokers=2)
    with pytest.raises(ConfigError, match="batch_size"):
        config.replace(batch_size=0)
    assert config.batch_size == 100  # unchanged


def test_config_is_frozen_including_its_service_table():
    costs = {"trade": 10}
    config = ProcessorConfig(service_ns=costs)
    costs["trade"] = 99
    assert config.service_ns["trade"] == 10
    with pytest.raises(TypeError):
        config.service_ns["trade"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("times", "message"),
    [
        (np.array([5, 3]), "sorted"),
        (np.array([-1, 3]), "non-negative"),
        (np.array([0.5, 1.0]), "integer array"),
        (np.zeros((2, 2), dtype=np.int64), "1-D"),
    ],
)
def test_make_workload_rejects_bad_schedules(times, message):
    with pytest.raises(ConfigError, match=message):
        make_workload(times)


@pytest.mark.parametrize("mix", [{}, {"trade": -1}, {"trade": 0}, {"trade": float("nan")}])
def test_make_workload_rejects_bad_mixes(mix):
    with pytest.raises(ConfigError, match="mix"):
        make_workload(np.array([0, 1]), mix=mix)


def test_simulate_rejects_a_workload_with_kinds_that_have_no_cost():
    work = make_workload(np.array([0, 1]), mix={"quote": 1})
    with pytest.raises(ConfigError, match="no cost for event kinds: quote"):
        simulate(workload=work)


def test_simulate_requires_a_workload_and_a_known_engine():
    with pytest.raises(ConfigError, match="workload"):
        simulate()
    with pytest.raises(ConfigError, match="engine"):
        simulate(workload=at(0), engine="turbo")


# -- the simulated model, by hand ---------------------------------------------


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_lone_event_waits_for_the_flush_interval(engine):
    config = ProcessorConfig(workers=1, batch_size=10, flush_interval_ns=100, service_ns=ONE_KIND)
    r = simulate(config, at(0), engine=engine)
    assert r.completion_ns.tolist() == [105]
    assert r.latency.max == 105


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_batch_closes_when_full_or_when_its_first_event_is_flush_interval_old(engine):
    config = ProcessorConfig(workers=1, batch_size=2, flush_interval_ns=100, service_ns=ONE_KIND)
    r = simulate(config, at(0, 10, 500), engine=engine)
    # events 0 and 1 fill a batch at t=10; event 2 is flushed at 500 + 100
    assert r.completion_ns.tolist() == [15, 20, 605]
    assert r.stats.batches == 2
    # the seed's number: one sample per batch, from its start (S000-7)
    assert r.batch_latency.count == 2
    assert r.batch_latency.max == 10


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_arrivals_go_to_the_worker_that_has_waited_longest(engine):
    config = ProcessorConfig(workers=2, batch_size=2, flush_interval_ns=100, service_ns=ONE_KIND)
    r = simulate(config, at(0, 1, 2), engine=engine)
    # e0 -> w0, e1 -> w1, e2 -> w0 (full at t=2); w1 flushes at 1 + 100
    assert r.completion_ns.tolist() == [7, 106, 12]


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_batch_overhead_is_paid_once_per_batch(engine):
    config = ProcessorConfig(
        workers=1, batch_size=3, flush_interval_ns=1_000, service_ns=ONE_KIND, batch_overhead_ns=50
    )
    r = simulate(config, at(0, 0, 0), engine=engine)
    assert r.completion_ns.tolist() == [55, 60, 65]


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_burst_beyond_the_queue_is_dropped_and_counted_exactly(engine):
    config = ProcessorConfig(workers=1, batch_size=1, queue_capacity=3, service_ns=ONE_KIND)
    r = simulate(config, at(*[0] * 10), engine=engine)
    # one event goes straight to the idle worker, three wait, six are dropped
    s = r.stats
    assert (s.processed, s.dropped, s.high_water) == (4, 6, 3)
    assert (r.completion_ns >= 0).sum() == 4


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_block_policy_loses_nothing_and_turns_the_wait_into_latency(engine):
    config = ProcessorConfig(
        workers=1, batch_size=1, queue_capacity=3, service_ns=ONE_KIND, full_policy="block"
    )
    r = simulate(config, at(*[0] * 10), engine=engine)
    assert (r.stats.processed, r.stats.dropped) == (10, 0)
    # a single worker serves them back to back: latency is measured from t=0
    assert sorted(r.completion_ns.tolist()) == [5 * k for k in range(1, 11)]
    assert r.latency.max == 50


def test_deadline_misses_count_the_events_later_than_the_deadline():
    config = ProcessorConfig(workers=1, batch_size=1, service_ns=ONE_KIND, deadline_ns=20)
    r = simulate(config, at(*[0] * 6))
    latencies = r.completion_ns  # intended times are all 0
    assert r.stats.deadline_misses == int((latencies > 20).sum()) == 2


def test_an_empty_workload_runs_and_reports_nothing():
    r = simulate(workload=at())
    assert (r.stats.offered, r.stats.processed, r.latency.count) == (0, 0, 0)


def test_simulation_is_deterministic_for_a_seed():
    work = make_workload(loadgen.poisson(300_000, 20_000, seed=5), seed=5)
    a = simulate(workload=work, workers=3, batch_size=8)
    b = simulate(
        workload=make_workload(loadgen.poisson(300_000, 20_000, seed=5), seed=5),
        workers=3,
        batch_size=8,
    )
    assert np.array_equal(a.completion_ns, b.completion_ns)
    assert a.summary() == b.summary()
    c = simulate(
        workload=make_workload(loadgen.poisson(300_000, 20_000, seed=6), seed=5),
        workers=3,
        batch_size=8,
    )
    assert not np.array_equal(a.completion_ns, c.completion_ns)


@pytest.mark.parametrize("policy", ["drop", "block"])
def test_a_million_events_are_all_accounted_for(policy):
    work = make_workload(loadgen.poisson(2_000_000, 1_000_000, seed=1), seed=1)
    r = simulate(workload=work, workers=4, batch_size=32, queue_capacity=1_000, full_policy=policy)
    s = r.stats
    assert s.processed + s.dropped + s.pending == s.offered == 1_000_000
    assert r.latency.count == s.processed
    assert s.high_water <= 1_000
    assert (s.dropped > 0) == (policy == "drop")  # 2 M/s is beyond what 4 workers serve


# -- the two engines agree ------------------------------------------------------

configs = st.builds(
    ProcessorConfig,
    workers=st.integers(1, 4),
    batch_size=st.integers(1, 6),
    flush_interval_ns=st.integers(1, 3_000),
    queue_capacity=st.integers(1, 6),
    full_policy=st.sampled_from(["drop", "block"]),
    service_ns=st.just({"trade": 300, "order": 700, "market_data": 1_100}),
    batch_overhead_ns=st.integers(0, 400),
)
schedules = st.lists(st.integers(0, 1_500), max_size=80).map(
    lambda gaps: np.cumsum(np.array(gaps, dtype=np.int64))
)


@settings(max_examples=150, deadline=None)
@given(config=configs, times=schedules, seed=st.integers(0, 10))
def test_fast_engine_matches_the_reference_engine(config, times, seed):
    work = make_workload(times, seed=seed)
    fast = simulate(config, work, engine="fast")
    ref = simulate(config, work, engine="reference")
    assert np.array_equal(fast.completion_ns, ref.completion_ns)
    assert fast.stats == ref.stats
    assert fast.latency.percentiles() == ref.latency.percentiles()
    s = fast.stats
    assert s.processed + s.dropped == s.offered
    assert s.high_water <= config.queue_capacity
    done = fast.completion_ns >= 0
    # nothing completes before it arrives plus its own service time
    assert (fast.completion_ns[done] >= work.intended_ns[done] + 300).all()


# -- measured mode ------------------------------------------------------------------


def small_workload(n=2_000, rate=20_000):
    return make_workload(loadgen.constant_rate(rate, n), seed=3)


@pytest.mark.parametrize("policy", ["drop", "block"])
def test_measured_run_accounts_for_every_event(policy):
    p = EventProcessor(workers=2, batch_size=8, flush_interval_ns=200_000, full_policy=policy)
    r = p.run(small_workload())
    p._check()
    s = r.stats
    assert r.mode == "measured"
    assert s.processed + s.dropped == s.offered == 2_000
    assert s.pending == 0
    assert r.latency.count == s.processed == int((r.completion_ns >= 0).sum())
    if policy == "block":
        assert s.dropped == 0


def test_measured_drops_are_counted_when_the_queue_overflows():
    p = EventProcessor(workers=1, batch_size=1, queue_capacity=2, service_ns={"trade": 200_000})
    p.start()
    accepted = [p.offer("trade") for _ in range(50)]
    s = p.stop()
    p._check()
    assert accepted.count(False) == s.dropped > 0
    assert s.processed + s.dropped == 50


def test_latency_is_measured_from_the_intended_time_not_the_offer():
    p = EventProcessor(workers=1, batch_size=1, service_ns={"trade": 0})
    p.start()
    p.offer("trade", intended_ns=p.clock.now_ns() - 50_000_000)  # 50 ms late already
    p.stop()
    assert p.latency.min >= 50_000_000


def test_stop_is_idempotent_and_intake_closes():
    p = EventProcessor(workers=1)
    p.start()
    p.offer("order")
    first = p.stop()
    assert p.stop() == first
    with pytest.raises(Closed, match="stopped"):
        p.offer("order")


def test_lifecycle_errors_are_clear():
    p = EventProcessor(workers=1)
    with pytest.raises(Closed, match="start"):
        p.offer("trade")
    p.start()
    with pytest.raises(StateError, match="cannot start a processor that is running"):
        p.start()
    with pytest.raises(ConfigError, match="unknown event kind 'quote'"):
        p.offer("quote")
    p.stop()


def test_measured_mode_refuses_a_virtual_clock():
    with pytest.raises(ConfigError, match="simulate"):
        EventProcessor(clock=VirtualClock())


def test_context_manager_stops_and_drains():
    with EventProcessor(workers=2, batch_size=50, flush_interval_ns=10_000_000) as p:
        for _ in range(30):
            p.offer("trade")
    s = p.stats()
    assert (s.processed, s.pending) == (30, 0)
