"""Pipeline: operators, threads and simulation from one definition, policies, accounting."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rtkit.errors import Closed, ConfigError, QueueFull, StateError
from rtkit.loadgen import constant_rate
from rtkit.streaming import Pipeline, Window, count, partition, total
from rtkit.streaming.operators import SKIP, Operator, StageFailure, fuse

TIMEOUT_S = 30.0  # a safety net against hangs, never an assertion about speed


pytestmark = pytest.mark.usefixtures("no_leaked_threads")  # tests/conftest.py


def _mixed(sink):
    return (
        Pipeline(capacity=64)
        .map(lambda x: x * 3)
        .filter(lambda x: x % 2 == 0)
        .map(lambda x: x + 1)
        .sink(sink)
    )


# -- operator chaining -----------------------------------------------------------


def test_fused_chain_applies_stages_in_order_and_counts_filtered_items():
    ops = [
        Operator("map", "a", fn=lambda x: x + 1),
        Operator("filter", "b", fn=lambda x: x % 2 == 0),
        Operator("map", "c", fn=lambda x: -x),
    ]
    fused, filtered = fuse(ops)
    assert [fused(x) for x in range(4)] == [SKIP, -2, SKIP, -4]
    assert filtered == [0, 2, 0]


def test_fused_chain_names_the_stage_that_raised():
    fused, _ = fuse([Operator("map", "a", fn=abs), Operator("map", "b", fn=lambda x: 1 / x)])
    with pytest.raises(StageFailure) as info:
        fused(0)
    assert info.value.index == 1 and isinstance(info.value.error, ZeroDivisionError)


# -- threads ----------------------------------------------------------------------


def test_threads_deliver_the_right_values_and_per_stage_counts():
    out = []
    p = _mixed(out.append)
    result = p.run(range(10_000), timeout_s=TIMEOUT_S)
    p._check()
    assert out == [3 * x + 1 for x in range(10_000) if (3 * x) % 2 == 0]
    s = result.stats()
    assert [st.name for st in s.stages] == ["ingest", "map", "filter", "map2", "sink"]
    assert (s.stage("filter").received, s.stage("filter").filtered) == (10_000, 5_000)
    assert s.stage("sink").emitted == s.delivered == len(out) == result.latency.count
    assert result.throughput > 0 and result.mode == "threads"


def test_an_error_in_a_stage_is_counted_and_the_pipeline_goes_on():
    out = []
    p = Pipeline().map(lambda x: 10 // x).sink(out.append)
    result = p.run([1, 0, 2, 0, 5], timeout_s=TIMEOUT_S)
    assert out == [10, 5, 2]
    st = result.stats().stage("map")
    assert st.errors == 2 and st.last_error.startswith("ZeroDivisionError")
    p._check()


def test_a_raising_sink_is_isolated_and_counted():
    def sink(x):
        if x == 3:
            raise RuntimeError("disk full")

    result = Pipeline().sink(sink).run([1, 2, 3, 4, 5], timeout_s=TIMEOUT_S)
    assert result.stats().stage("sink").errors == 1 and result.delivered == 4


def test_lossless_policy_at_twice_the_sustainable_rate_delivers_all_in_order_threads():
    # The sink sustains about one event per 100 µs; events are offered every 50 µs.
    out = []

    def slow_sink(x):
        time.sleep(0.0001)
        out.append(x)

    p = Pipeline(capacity=16, policy="block").sink(slow_sink)
    arrivals = constant_rate(20_000, 400)
    result = p.run(range(400), arrivals_ns=arrivals, timeout_s=TIMEOUT_S)
    assert out == list(range(400))
    assert result.dropped == 0 and result.delivered == 400
    assert result.stats().stage("ingest").high_water == 16  # it did push back


@pytest.mark.parametrize("policy", ["drop_newest", "drop_oldest", "error"])
def test_drop_policies_account_for_every_event_on_threads(policy):
    out = []

    def slow_sink(x):
        time.sleep(0.0002)
        out.append(x)

    p = Pipeline(capacity=8, policy=policy).sink(slow_sink)
    p.start()
    refused = 0
    for x in range(300):
        try:
            p.push(x)
        except QueueFull:
            refused += 1
    result = p.close(TIMEOUT_S)
    p._check()
    s = result.stats()
    assert s.published == 300
    assert s.delivered + s.dropped == 300 and s.dropped > 0
    assert out == sorted(out) and len(out) == s.delivered
    if policy == "error":
        assert refused == s.dropped
    if policy == "drop_oldest":
        assert out[-1] == 299


def test_close_under_load_drains_everything_accepted():
    out = []

    def slow_sink(x):
        time.sleep(0.00002)
        out.append(x)

    p = Pipeline(capacity=32).map(lambda x: x).sink(slow_sink).start()
    accepted = []
    stop = threading.Event()

    def producer():
        x = 0
        while not stop.is_set():
            try:
                p.push(x)
            except Closed:
                return
            accepted.append(x)
            x += 1

    t = threading.Thread(target=producer)
    t.start()
    time.sleep(0.05)
    result = p.close(TIMEOUT_S)
    stop.set()
    t.join(TIMEOUT_S)
    assert out == accepted  # every push that returned was delivered, in order
    assert result.delivered == len(out) and result.stats().in_flight == 0
    p._check()
    with pytest.raises(StateError):
        p.push(1)


def test_batch_closes_on_flush_interval_without_waiting_for_size_or_close():
    got = []
    p = Pipeline().batch(1_000, flush_ns=2_000_000).sink(got.append).start()
    for x in range(5):
        p.push(x)
    deadline = time.perf_counter() + TIMEOUT_S
    while not got and time.perf_counter() < deadline:
        time.sleep(0.001)
    assert got == [[0, 1, 2, 3, 4]]  # closed by age while the pipeline was still open
    p.close(TIMEOUT_S)


def test_keyed_workers_keep_per_key_order_and_windows():
    events = [(k % 3, i) for i, k in enumerate(range(3_000))]
    out = []
    lock = threading.Lock()

    def sink(e):
        with lock:
            out.append(e)

    p = Pipeline().map(lambda e: e).sink(sink)
    p.run(events, workers=3, key=lambda e: e[0], timeout_s=TIMEOUT_S)
    for key in range(3):
        seq = [i for k, i in out if k == key]
        assert seq == sorted(seq) and len(seq) == 1_000


def test_a_numpy_micro_batch_is_one_item_with_one_stamp():
    batches = [np.arange(i, i + 1024) for i in range(0, 8192, 1024)]
    sums = []
    result = Pipeline().map(lambda a: a * 2).sink(lambda a: sums.append(int(a.sum()))).run(batches)
    assert sums == [int((2 * b).sum()) for b in batches]
    assert result.latency.count == 8


# -- simulation ---------------------------------------------------------------------


def test_simulation_and_threads_give_the_same_outputs_and_stage_counts():
    def build():
        out = []
        p = _mixed(out.append)
        return p, out

    p1, out1 = build()
    r1 = p1.run(range(2_000), timeout_s=TIMEOUT_S)
    p2, out2 = build()
    r2 = p2.simulate(constant_rate(1_000_000, 2_000), range(2_000))
    assert out1 == out2
    strip = [(s.name, s.received, s.emitted, s.filtered) for s in r1.stats().stages]
    assert strip == [(s.name, s.received, s.emitted, s.filtered) for s in r2.stats().stages]


def test_simulation_is_deterministic_for_a_seed():
    arrivals = constant_rate(500_000, 5_000)

    def sim(seed):
        p = Pipeline(capacity=64, policy="drop_oldest").batch(8, flush_ns=20_000)
        p.sink(lambda b: None, overhead_ns=3_000, cost_ns=200)
        r = p.simulate(arrivals, service="exponential", seed=seed)
        return r.latency.percentiles((50, 99)), r.dropped, r.delivered

    assert sim(1) == sim(1)
    assert sim(1) != sim(2)


def test_simulated_latency_matches_the_service_model_exactly():
    # Each event: map 300 ns, sink 200 ns + 1 µs overhead; arrivals 10 µs apart (no queueing).
    p = Pipeline().map(abs, cost_ns=300).sink(lambda x: None, cost_ns=200, overhead_ns=1_000)
    r = p.simulate(np.arange(0, 100_000, 10_000))
    assert r.latency.min == r.latency.max == 1_500 and r.delivered == 10


def test_lossless_policy_at_twice_the_sustainable_rate_in_simulation():
    # Sustainable: one event per 2 µs. Offered: one per 1 µs, with a 4-deep buffer.
    out = []
    p = Pipeline(capacity=4, policy="block").sink(out.append, cost_ns=2_000)
    r = p.simulate(constant_rate(1_000_000, 1_000), range(1_000))
    p._check()
    assert out == list(range(1_000)) and r.dropped == 0
    # Latency grows linearly: the producer is held back, event k waits ~k µs.
    assert r.latency.max >= 990_000 and r.elapsed_ns >= 2_000 * 1_000


@pytest.mark.parametrize("policy", ["drop_newest", "drop_oldest", "error"])
def test_drop_policies_account_exactly_in_simulation(policy):
    out = []
    p = Pipeline(capacity=4, policy=policy).sink(out.append, cost_ns=2_000)
    r = p.simulate(constant_rate(1_000_000, 1_000), range(1_000))
    p._check()
    s = r.stats()
    assert s.published == 1_000 and s.delivered + s.dropped == 1_000
    assert 400 <= s.dropped <= 600  # half the offered load cannot be served
    assert out == sorted(out) and len(out) == s.delivered
    if policy == "drop_oldest":
        assert out[-1] == 999
    else:
        assert out[0] == 0


def test_batching_amortises_the_per_call_cost_and_adds_waiting_time():
    arrivals = constant_rate(400_000, 4_000)

    def sim(size):
        p = Pipeline().batch(size, flush_ns=10_000_000)
        p.sink(lambda b: None, overhead_ns=3_000, cost_ns=100)
        return p.simulate(arrivals)

    one, sixteen, big = sim(1), sim(16), sim(512)
    assert one.throughput < 0.9 * 400_000 <= sixteen.throughput  # per-event calls fall behind
    assert sixteen.latency.percentile(50) < one.latency.percentile(50)
    assert big.latency.percentile(50) > sixteen.latency.percentile(50)  # waiting for the batch


def test_simulated_workers_share_the_load():
    arrivals = constant_rate(1_000_000, 2_000)

    def sim(workers):
        p = Pipeline(capacity=10_000).sink(lambda x: None, cost_ns=1_500)
        return p.simulate(arrivals, workers=workers)

    one, two = sim(1), sim(2)
    assert two.latency.percentile(99) < one.latency.percentile(99)
    assert one.delivered == two.delivered == 2_000


def test_processing_time_windows_fire_on_the_worker_clock_in_simulation():
    p = Pipeline().window(10_000, time="processing").aggregate(count())
    r = p.simulate(np.arange(0, 50_000, 1_000))
    assert [(w.start, w.value) for w in r.outputs] == [(s, 10) for s in range(0, 50_000, 10_000)]


def test_partition_is_stable_and_within_range():
    assert partition(10, 3) == 1
    assert all(0 <= partition(f"k{i}", 4) < 4 for i in range(50))
    assert partition(("a", 1), 7) == partition(("a", 1), 7)


# -- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda p: p.batch(0), ConfigError, "size must be >= 1, got 0"),
        (lambda p: p.batch(4, flush_ns=-1), ConfigError, "flush_ns must be >= 0"),
        (lambda p: p.window(-5), ConfigError, "size must be >= 1, got -5"),
        (lambda p: p.window(0, by="count"), ConfigError, "size must be >= 1, got 0"),
        (lambda p: p.window(10, slide=20), ConfigError, "slide must be <= size"),
        (lambda p: p.window(10, by="rows"), ConfigError, "by must be one of"),
        (lambda p: p.window(10, allowed_lateness_ns=-1), ConfigError, "allowed_lateness_ns"),
        (lambda p: p.window(10, time_of=2.5), ConfigError, "time_of must be"),
        (lambda p: p.window(10, by="count", max_out_of_order_ns=5), ConfigError, "count windows"),
        (lambda p: p.map(3), ConfigError, "map needs a callable"),
        (lambda p: p.aggregate(None), ConfigError, "aggregate needs a callable"),
        (lambda p: p.map(abs, cost_ns=-1), ConfigError, "cost_ns must be >= 0"),
        (lambda p: p.sink(print).map(abs), ConfigError, "nothing can follow it"),
    ],
)
def test_bad_stages_raise_clear_errors_and_leave_the_pipeline_unchanged(build, error, match):
    p = Pipeline().map(abs)
    with pytest.raises(error, match=match):
        build(p)
    assert [op.name for op in p.ops] in (["map"], ["map", "sink"])
    assert p.run([-1, -2], timeout_s=TIMEOUT_S).delivered == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"capacity": 0}, "capacity must be >= 1, got 0"),
        ({"policy": "spill"}, "policy must be one of 'block'"),
    ],
)
def test_bad_pipeline_settings_are_refused(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Pipeline(**kwargs)


def test_bad_run_arguments_are_refused_before_any_thread_starts():
    p = Pipeline().window(10)
    with pytest.raises(ConfigError, match="workers must be >= 1"):
        p.run([1], workers=0)
    with pytest.raises(ConfigError, match="need key="):
        p.run([1], workers=2)
    with pytest.raises(ConfigError, match="arrivals_ns must be"):
        p.simulate(np.array([3, 1]))
    with pytest.raises(ConfigError, match="items has 1 entries"):
        p.simulate(np.array([1, 2]), [5])
    with pytest.raises(ConfigError, match="service must be one of"):
        p.simulate(np.array([1]), service="gamma")
    assert p.stats().published == 0


def test_lifecycle_errors():
    p = Pipeline().map(abs)
    with pytest.raises(StateError, match="not running"):
        p.push(1)
    with pytest.raises(StateError, match="not running"):
        p.close()
    p.start()
    with pytest.raises(StateError, match="already running"):
        p.start()
    with pytest.raises(StateError, match="running pipeline"):
        p.map(abs)
    p.close(TIMEOUT_S)


def test_aggregate_applies_to_windows_and_to_batches():
    r = Pipeline().batch(3).aggregate(total()).run([1, 2, 3, 4], timeout_s=TIMEOUT_S)
    assert r.outputs == [6, 4]
    events = [{"t_ns": t} for t in (1, 2, 11)]
    r = Pipeline().window(10, time_of="t_ns").aggregate(count()).run(events)
    assert r.outputs == [Window(0, 10, 2, 2), Window(10, 20, 1, 1)]
