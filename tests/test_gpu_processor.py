"""Tests for rtkit.gpu.processor (and its cache and scenarios): end to end on every back end.

Measured mode runs on the simulator (tests/conftest.py switches it on) and
on the CPU counterparts, with tiny batches; simulated mode runs on the cost
model and a virtual clock, so its numbers are asserted exactly. No test
asserts a wall-clock time.
"""

from __future__ import annotations

import numpy as np
import pytest

from rtkit.clock import VirtualClock, WallClock
from rtkit.errors import Closed, ConfigError, StateError, ValueRangeError
from rtkit.gpu import SEED_SCENARIOS, CostModel, KernelCache, LowLatencyProcessor, backend
from rtkit.gpu.kernels import BATCH_KERNELS, validate
from rtkit.gpu.scenarios import run_scenario

FAR = 10**12  # a deadline no test run reaches


def _measured_run(backend_name, kernel, task_elems, n_tasks=5):
    rng = np.random.default_rng(7)
    p = LowLatencyProcessor(kernel, task_elems, batch_size=2, streams=2, backend=backend_name)
    p._check()
    p.start()
    p._check()
    now = p.clock.now_ns()
    inputs = {}
    for k in range(n_tasks):
        data = rng.standard_normal(task_elems).astype(np.float32)
        tid = p.submit(data, deadline_ns=now + FAR, arrival_ns=now + k * 1_000)
        inputs[tid] = data
        data[:] = 0  # the processor owns a copy: the caller may reuse its array
        p._check()
    results = p.run()
    p._check()
    return p, results, inputs


@pytest.mark.parametrize("backend_name", ["cudasim", "cpu"])
@pytest.mark.parametrize(("kernel", "task_elems"), [("vector_add", 8), ("matmul", 8)])
def test_processor_end_to_end_on_a_backend(backend_name, kernel, task_elems):
    if backend_name == "cudasim" and backend() != "cudasim":
        pytest.skip("needs numba's CUDA simulator")
    rng = np.random.default_rng(7)
    expected = {k: rng.standard_normal(task_elems).astype(np.float32) for k in range(5)}
    p, results, _ = _measured_run(backend_name, kernel, task_elems)
    assert sorted(r.task_id for r in results) == list(range(5))
    reference = BATCH_KERNELS[kernel].reference
    for r in results:
        assert r.outcome == "completed" and not r.missed
        assert r.latency_ns == r.completion_ns - r.arrival_ns >= 0
        validate(r.output, reference(expected[r.task_id][None, :])[0])
    s = p.stats()
    assert (s.completed, s.rejected, s.failed, s.queued) == (5, 0, 0, 0)
    assert s.batches >= 3  # five tasks in batches of at most two
    assert s.backend == backend_name and s.timing == "clock"
    assert s.label == f"measured on {backend_name}" and s.pinned is False
    assert s.compile_ns is not None and s.first_batch_ns is not None
    assert s.wcet_source == "measured" and s.wcet_ns >= 1
    assert p.latency.count == 5
    cache = p.cache.stats()
    assert cache.misses == 1 and cache.hits >= s.batches  # compiled once, then reused
    p.close()
    p._check()


def test_processor_refuses_bad_configuration_and_bad_tasks():
    with pytest.raises(ConfigError, match="batch_size must be >= 1, got 0"):
        LowLatencyProcessor("vector_add", 8, batch_size=0, mode="simulated")
    with pytest.raises(ConfigError, match="streams must be >= 1"):
        LowLatencyProcessor("vector_add", 8, streams=0, mode="simulated")
    with pytest.raises(ConfigError, match="kernel must be one of"):
        LowLatencyProcessor("fft", 8, backend="cpu")  # no numba FFT kernel to measure
    with pytest.raises(ConfigError, match="2\\*m\\*m elements"):
        LowLatencyProcessor("matmul", 10, backend="cpu")
    with pytest.raises(ConfigError, match="needs a VirtualClock"):
        LowLatencyProcessor("vector_add", 8, mode="simulated", clock=WallClock())
    with pytest.raises(ConfigError, match=r"wcet_margin must be >= 1\.0"):
        LowLatencyProcessor("vector_add", 8, mode="simulated", wcet_margin=0.5)

    p = LowLatencyProcessor("vector_add", 8, backend="cpu")
    with pytest.raises(StateError, match="call start\\(\\) first"):
        p.run()
    p.start()
    now = p.clock.now_ns()
    bad = [
        (np.ones(8, np.float64), ConfigError, "dtype float32"),
        (np.ones(7, np.float32), ConfigError, "shape \\(8,\\)"),
        ([1.0] * 8, ConfigError, "numpy array"),
    ]
    for data, exc, message in bad:
        with pytest.raises(exc, match=message):
            p.submit(data, deadline_ns=now + FAR)
    with pytest.raises(ValueRangeError, match="deadline already passed"):
        p.submit(np.ones(8, np.float32), deadline_ns=1, arrival_ns=0)
    with pytest.raises(ValueRangeError, match="after arrival_ns"):
        p.submit(np.ones(8, np.float32), deadline_ns=now + 5, arrival_ns=now + 5)
    assert p.stats().submitted == 0  # every refused call left the processor unchanged
    p._check()
    with pytest.raises(StateError, match="start\\(\\) on a processor that is running"):
        p.start()
    p.close()
    with pytest.raises(Closed):
        p.submit(np.ones(8, np.float32), deadline_ns=now + FAR)


def _simulated(**kw):
    kw.setdefault("clock", VirtualClock())
    p = LowLatencyProcessor("vector_add", 64, mode="simulated", **kw)
    p.start()
    return p


def test_simulated_mode_dispatches_in_earliest_deadline_first_order():
    p = _simulated(batch_size=1, streams=1)
    deadlines = [900_000, 300_000, 700_000, 500_000, 800_000]
    for d in deadlines:
        p.submit(None, deadline_ns=d, arrival_ns=0)
        p._check()
    results = p.run()
    p._check()
    assert [r.deadline_ns for r in results] == sorted(deadlines)
    one = CostModel().breakdown(BATCH_KERNELS["vector_add"].cost(64), 1).total_ns
    assert [r.completion_ns for r in results] == [one * (i + 1) for i in range(5)]
    assert p.stats().label == "modelled" and p.stats().timing == "modelled"


def test_simulated_runs_are_deterministic():
    def once():
        p = _simulated(batch_size=3, streams=2, batch_timeout_ns=20_000)
        for k in range(40):
            p.submit(None, deadline_ns=k * 7_000 + 150_000, arrival_ns=k * 7_000)
        return [(r.task_id, r.outcome, r.completion_ns, r.stream) for r in p.run()]

    assert once() == once()


def test_admission_rejects_what_the_wcet_says_cannot_finish_and_keeps_it_out_of_latency():
    p = _simulated(batch_size=1, streams=1)
    one = p.wcet_ns()
    assert p.stats().wcet_source == "modelled"
    p.submit(None, deadline_ns=one, arrival_ns=0)  # exactly feasible
    p.submit(None, deadline_ns=one + 1, arrival_ns=0)  # would finish at 2 * one
    results = p.run()
    p._check()
    by_id = {r.task_id: r for r in results}
    assert by_id[0].outcome == "completed" and not by_id[0].missed
    assert by_id[1].outcome == "rejected" and by_id[1].reason == "infeasible"
    assert by_id[1].latency_ns is None
    s = p.stats()
    assert (s.completed, s.rejected_infeasible, s.missed, p.latency.count) == (1, 1, 0, 1)


def test_an_optimistic_wcet_admits_work_that_then_misses_or_expires():
    p = _simulated(batch_size=1, streams=1, wcet_ns=1)  # "it takes 1 ns": wrong
    for _ in range(3):
        p.submit(None, deadline_ns=20_000, arrival_ns=0)
    results = p.run()
    p._check()
    outcomes = [(r.outcome, r.missed, r.reason) for r in results]
    assert outcomes == [
        ("completed", False, ""),  # done at ~15 µs
        ("completed", True, ""),  # admitted at 15 µs, done at ~30 µs: a miss
        ("rejected", False, "expired"),  # its deadline passed while it waited
    ]
    s = p.stats()
    assert (s.missed, s.rejected_expired, s.wcet_source) == (1, 1, "given")
    assert p.lateness.count == 1 and p.lateness.max == results[1].completion_ns - 20_000


def test_batch_timeout_fills_batches_and_streams_share_the_work():
    p = _simulated(batch_size=4, streams=2, batch_timeout_ns=1_000_000)
    for k in range(16):
        p.submit(None, deadline_ns=10**9, arrival_ns=k * 1_000)
    results = p.run()
    p._check()
    s = p.stats()
    assert s.batches == 4 and s.completed == 16
    assert {r.stream for r in results} == {0, 1}
    assert {r.batch_id for r in results} == {0, 1, 2, 3}
    assert s.h2d_ns > 0 and s.kernel_ns > 0 and s.d2h_ns > 0


def test_a_failing_batch_is_counted_as_failed_not_as_latency(monkeypatch):
    p = LowLatencyProcessor("vector_add", 8, batch_size=2, backend="cpu")
    p.start()

    def broken(stream, rows):
        raise RuntimeError("illegal address")

    monkeypatch.setattr(p._runner, "run_batch", broken)
    now = p.clock.now_ns()
    for _ in range(3):
        p.submit(np.ones(8, np.float32), deadline_ns=now + FAR)
    results = p.run()
    p._check()
    assert [r.outcome for r in results] == ["failed"] * 3
    assert "illegal address" in results[0].reason
    assert p.stats().failed == 3 and p.latency.count == 0


# -- the kernel cache ---------------------------------------------------------------


def test_kernel_cache_compiles_once_per_key_and_times_the_compile():
    clock = VirtualClock()
    calls = []

    def compile_fn(sig):
        calls.append(sig)
        clock.advance(5_000)  # a compile that takes 5 µs of virtual time
        return f"compiled {sig}"

    cache = KernelCache(clock=clock)
    a = cache.get("k", compile_fn, "f4", (1, 32))
    cache._check()
    assert a.compile_ns == 5_000 and a.compiled == "compiled f4"
    assert cache.get("k", compile_fn, "f4", (1, 32)) is a
    b = cache.get("k", compile_fn, "f4", (2, 32))  # another launch configuration: another entry
    cache._check()
    assert calls == ["f4", "f4"] and b is not a
    s = cache.stats()
    assert (s.entries, s.lookups, s.hits, s.misses, s.compile_ns_total) == (2, 3, 1, 2, 10_000)
    with pytest.raises(ConfigError, match="not cached"):
        cache.get("other", None, "f4", None)
    assert cache.stats() == s  # a refused lookup changes nothing
    cache._check()


# -- the seed's scenarios -------------------------------------------------------------


def test_seed_scenarios_are_modelled_deterministic_and_account_for_every_task():
    for scenario in SEED_SCENARIOS:
        a = run_scenario(scenario, batch_size=2, streams=2)
        assert a == run_scenario(scenario, batch_size=2, streams=2)
        assert a.label == "modelled"
        assert a.completed + a.rejected == a.tasks == scenario.tasks
        assert a.p50_ns <= a.p95_ns <= a.p99_ns and a.max_ns <= scenario.deadline_ns + 1
        assert a.throughput_per_s > 0


def test_an_overloaded_stream_sheds_load_instead_of_missing_deadlines():
    # One stream, batch 1: ~15 µs per task against one every 10 µs. Admission rejects.
    r = run_scenario(SEED_SCENARIOS[0], batch_size=1, streams=1)
    assert r.rejected > 0 and r.missed == 0
    # Batching lets the same stream keep up.
    b = run_scenario(SEED_SCENARIOS[0], batch_size=4, streams=1)
    assert b.rejected == 0 and b.completed == b.tasks
