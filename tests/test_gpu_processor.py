"""Tests for rtkit.gpu.processor (and its cache and scenarios): end to end on every back end.

Measured mode runs on the simulator (tests/conftest.py switches it on) and
on the CPU counterparts, with tiny batches; simulated mode runs on the cost
model and a virtual clock, so its numbers are asserted exactly. No test
asserts a wall-clock time.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rtkit.clock import VirtualClock, WallClock
from rtkit.errors import Closed, ConfigError, StateError, ValueRangeError
from rtkit.gpu import SEED_SCENARIOS, CostModel, KernelCache, LowLatencyProcessor, backend
from rtkit.gpu._device import PARALLEL_MIN_FLOPS, BatchRunner, warm_up_until_steady
from rtkit.gpu.kernels import BATCH_KERNELS, validate
from rtkit.gpu.processor import WarmupPolicy, allowed_task_elems
from rtkit.gpu.scenarios import Scenario, run_scenario

needs_sim = pytest.mark.skipif(
    backend() != "cudasim", reason="needs numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1)"
)

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


@pytest.mark.parametrize("backend_name", ["cudasim", "cpu"])
def test_a_failed_stream_sync_fails_its_batch_counted_not_as_latency(backend_name):
    # S002-26: async errors surface at the stream's synchronise; the seed ignored its result.
    if backend_name == "cudasim" and backend() != "cudasim":
        pytest.skip("needs numba's CUDA simulator")
    p = LowLatencyProcessor("vector_add", 8, batch_size=2, streams=2, backend=backend_name,
                            warmup=WarmupPolicy(samples=5))  # fmt: skip
    p.start()
    p.inject_fault(0, "illegal memory access")
    now = p.clock.now_ns()
    for _ in range(6):
        p.submit(np.ones(8, np.float32), deadline_ns=now + FAR, arrival_ns=now)
    results = p.run()
    p._check()
    failed = [r for r in results if r.outcome == "failed"]
    assert len(failed) == 2 and {r.stream for r in failed} == {0}  # the batch on stream 0
    assert all("illegal memory access" in r.reason and r.latency_ns is None for r in failed)
    s = p.stats()
    assert (s.failed, s.completed, s.in_flight, p.latency.count) == (2, 4, 0, 4)
    assert all(r.output.tolist() == [2.0] * 4 for r in results if r.outcome == "completed")
    with pytest.raises(ConfigError, match=r"stream must be 0\.\.1"):
        p.inject_fault(2)
    p.close()


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


def test_a_compile_that_raises_leaves_the_cache_unchanged():
    cache = KernelCache(clock=VirtualClock())
    cache.get("k", lambda sig: "ok", "f4", None)

    def broken(sig):
        raise RuntimeError("ptxas: too much shared data")

    before = cache.stats()
    with pytest.raises(RuntimeError, match="too much shared data"):
        cache.get("k", broken, "f8", None)
    cache._check()  # still one entry per miss: the failed compile was not counted
    assert cache.stats() == before and ("k", "f8", None) not in cache
    assert cache.get("k", lambda sig: "now it compiles", "f8", None).compiled == "now it compiles"
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
        row = a.row()  # offered and completed both shown: the percentiles' n is the latter
        assert f"offered={a.tasks} " in row and f"completed={a.completed} " in row


def test_an_overloaded_stream_sheds_load_instead_of_missing_deadlines():
    # One stream, batch 1: ~15 µs per task against one every 10 µs. Admission rejects.
    r = run_scenario(SEED_SCENARIOS[0], batch_size=1, streams=1)
    assert r.rejected > 0 and r.missed == 0
    # Batching lets the same stream keep up.
    b = run_scenario(SEED_SCENARIOS[0], batch_size=4, streams=1)
    assert b.rejected == 0 and b.completed == b.tasks


# -- warm-up until steady, and the measured WCET --------------------------------------


def _scripted(clock, times):
    """A ``time_batch`` that takes the next scripted duration on ``clock``."""
    it = iter(times)

    def time_batch():
        d = next(it)
        clock.advance(d)
        return d

    return time_batch


def test_warm_up_runs_until_k_batches_are_steady_and_reports_the_first_call_apart():
    clock = VirtualClock()
    slow, fast = [12_000_000] * 30, [4_000] * 500  # the threading layer's first calls, then µs
    policy = WarmupPolicy(k=8, factor=4.0, max_batches=300, max_ns=10**12, samples=50)
    r = warm_up_until_steady(_scripted(clock, [20_000_000, *slow, *fast]), policy, clock)
    assert r.first_ns == 20_000_000 and r.steady
    # 30 slow calls are not a steady state (min_batches); fast ones follow until 8 in a row
    # sit near the running median of the last 32
    assert 1 + 30 + 8 <= r.batches <= 1 + 30 + 4 * 8
    assert r.warmup_ns == 20_000_000 + sum(slow) + 4_000 * (r.batches - 31)
    assert r.samples == (4_000,) * 50  # the steady-state sample holds no warm-up batch


def test_warm_up_is_bounded_and_says_when_it_never_settled():
    clock = VirtualClock()
    jitter = [1_000, 100_000] * 1_000  # never k batches within a factor 4 of the median
    policy = WarmupPolicy(k=4, min_batches=4, max_batches=40, max_ns=10**12, samples=10)
    r = warm_up_until_steady(_scripted(clock, jitter), policy, clock)
    assert (r.batches, r.steady, len(r.samples)) == (40, False, 10)
    clock = VirtualClock()
    timed = WarmupPolicy(k=4, min_batches=4, max_batches=10_000, max_ns=1_000_000, samples=1_000)
    r = warm_up_until_steady(_scripted(clock, jitter), timed, clock)
    assert not r.steady and r.batches < 40 and len(r.samples) < 40  # the time bound stopped both
    with pytest.raises(ConfigError, match=r"factor must be > 1\.0"):
        WarmupPolicy(factor=1.0)
    with pytest.raises(ConfigError, match="max_batches must be >= 32"):
        WarmupPolicy(k=8, max_batches=20)


@pytest.fixture
def scripted_runner(monkeypatch):
    """Measured mode's batches take scripted durations on the processor's clock, as on a GPU.

    ``submit`` returns at once; a batch runs on one engine after the batches
    submitted before it (on any stream); ``poll`` says whether it is done by
    now; ``sync`` waits for it. ``log`` records every submit and sync.
    """
    script = {"times": iter(()), "log": []}
    original_allocate = BatchRunner.allocate

    def allocate(self):
        original_allocate(self)
        self.synchronous = False  # the CPU back end's buffers, driven asynchronously
        self.engine_free = 0

    def submit(self, stream, rows):
        buf = self.buffers[stream]
        assert buf["pending"] is None, "buffers reused before their sync"
        d = next(script["times"])
        start = max(self.clock.now_ns(), self.engine_free)
        self.engine_free = start + d
        times = (start, start + d // 4, start + d // 4 + d // 2, start + d)
        buf["pending"] = {"n": len(rows), "times": times, "done_ns": start + d}
        script["log"].append(("submit", stream, self.clock.now_ns()))

    def poll(self, stream):
        pending = self.buffers[stream]["pending"]
        if pending is None or self.clock.now_ns() < pending["done_ns"]:
            return None
        return pending["done_ns"]

    def sync(self, stream):
        pending = self.buffers[stream]["pending"]
        self.buffers[stream]["pending"] = None
        self.clock.sleep_until(max(self.clock.now_ns(), pending["done_ns"]))
        script["log"].append(("sync", stream, self.clock.now_ns()))
        t = pending["times"]
        stages = {"h2d": t[1] - t[0], "kernel": t[2] - t[1], "d2h": t[3] - t[2]}
        return stages, np.zeros((pending["n"], self.out_elems), np.float32), pending["done_ns"]

    monkeypatch.setattr(BatchRunner, "allocate", allocate)
    monkeypatch.setattr(BatchRunner, "submit", submit)
    monkeypatch.setattr(BatchRunner, "poll", poll)
    monkeypatch.setattr(BatchRunner, "sync", sync)
    return script


def test_measured_wcet_is_a_percentile_of_steady_batches_plus_margin_not_the_first_calls(
    scripted_runner,
):
    # The first calls cost milliseconds, steady batches 4-6 µs: the estimate must admit
    # 500 µs deadlines, and the first calls must be reported, not used.
    steady = [4_000, 5_000, 6_000] * 40
    scripted_runner["times"] = iter([25_000_000] + [12_000_000] * 20 + steady + [5_000] * 50)
    policy = WarmupPolicy(k=8, samples=100, max_ns=10**12)
    clock = VirtualClock()
    p = LowLatencyProcessor("vector_add", 8, batch_size=2, clock=clock, backend="cpu",
                            warmup=policy)  # fmt: skip
    p.start()
    p._check()
    s = p.stats()
    assert s.first_batch_ns == 25_000_000 and s.warmup_steady
    assert s.warmup_batches >= 21 and s.warmup_ns >= 25_000_000 + 20 * 12_000_000
    assert s.wcet_samples == 100 and s.wcet_source == "measured"
    # P99 of the sample (6 µs, to the histogram's 3 significant digits), 50 % margin
    assert 6_000 * 1.5 <= s.wcet_ns <= math.ceil(6_000 * 1.001 * 1.5)
    assert s.steady_batch_ns == 5_000
    now = clock.now_ns()
    for k in range(10):
        p.submit(np.ones(8, np.float32), deadline_ns=now + k * 100_000 + 500_000,
                 arrival_ns=now + k * 100_000)  # fmt: skip
    results = p.run()
    p._check()
    assert [r.outcome for r in results] == ["completed"] * 10
    assert p.stats().wcet_overruns == 0 and p.service.count == p.stats().batches


def test_batches_above_the_wcet_are_counted_as_overruns_and_misses(scripted_runner):
    scripted_runner["times"] = iter([50_000] + [5_000] * 200)
    clock = VirtualClock()
    p = LowLatencyProcessor("vector_add", 8, batch_size=1, streams=1, clock=clock,
                            backend="cpu", warmup=WarmupPolicy(samples=50))  # fmt: skip
    p.start()
    scripted_runner["times"] = iter([5_000, 2_000_000, 5_000])  # the run's batches
    now = clock.now_ns()
    for _ in range(3):
        p.submit(np.ones(8, np.float32), deadline_ns=now + 1_000_000, arrival_ns=now)
    results = p.run()
    p._check()
    s = p.stats()
    assert 7_500 <= s.wcet_ns <= 7_510 and s.wcet_overruns == 1  # the 2 ms batch
    assert [r.outcome for r in results] == ["completed", "completed", "rejected"]
    assert results[1].missed and results[2].reason == "expired"
    assert s.missed == 1 and p.service.max >= 2_000_000


def test_a_given_wcet_overrides_the_measured_estimate(scripted_runner):
    scripted_runner["times"] = iter([5_000] * 500)
    p = LowLatencyProcessor("vector_add", 8, clock=VirtualClock(), backend="cpu",
                            wcet_ns=100_000, warmup=WarmupPolicy(samples=20))  # fmt: skip
    p.start()
    s = p.stats()
    assert (s.wcet_ns, s.wcet_source, s.wcet_samples) == (100_000, "given", 20)
    with pytest.raises(ConfigError, match=r"wcet_percentile must be in \[50, 100\]"):
        LowLatencyProcessor("vector_add", 8, backend="cpu", wcet_percentile=120)


# -- the CPU back end: serial for little work, parallel for much ------------------------


def test_the_cpu_backend_forks_only_for_batches_with_enough_work():
    small = BatchRunner("cpu", BATCH_KERNELS["vector_add"], 128, 64, 4, 1, WallClock(),
                        KernelCache())  # fmt: skip
    big_batch = 2 * PARALLEL_MIN_FLOPS // 64
    big = BatchRunner("cpu", BATCH_KERNELS["vector_add"], 128, 64, big_batch, 1, WallClock(),
                      KernelCache())  # fmt: skip
    assert (small.parallel, big.parallel) == (False, True)
    sim = BatchRunner("cudasim", BATCH_KERNELS["vector_add"], 128, 64, 4, 1, WallClock(),
                      KernelCache())  # fmt: skip
    assert sim.parallel is None


@pytest.mark.parametrize("parallel", [False, True])
def test_serial_and_parallel_cpu_kernels_compute_the_same_and_are_cached_apart(parallel):
    p, _, _ = _measured_run("cpu", "matmul", 8)
    ref = BATCH_KERNELS["matmul"].reference
    q = LowLatencyProcessor("matmul", 8, batch_size=2, backend="cpu", cpu_parallel=parallel,
                            warmup=WarmupPolicy(samples=5))  # fmt: skip
    q.start()
    now = q.clock.now_ns()
    data = np.random.default_rng(3).standard_normal(8).astype(np.float32)
    q.submit(data, deadline_ns=now + FAR)
    (r,) = q.run()
    q._check()
    validate(r.output, ref(data[None, :])[0])
    assert q.stats().cpu_parallel is parallel and p.stats().cpu_parallel is False
    (key,) = q.cache.compile_ns()
    assert key[2] == ("parallel" if parallel else "serial")
    q.close()
    p.close()


# -- one task size in both modes ------------------------------------------------------------


def test_both_modes_agree_on_task_sizes_and_name_the_allowed_ones():
    assert allowed_task_elems("matmul", 256) == (242, 288)
    assert allowed_task_elems("matmul", 242) == (242,)
    assert allowed_task_elems("vector_add", 65) == (64, 66)
    assert allowed_task_elems("fft", 1) == (2,)
    for mode, extra in (("simulated", {}), ("measured", {"backend": "cpu"})):
        with pytest.raises(ConfigError, match="nearest allowed: 242 or 288, got 256"):
            LowLatencyProcessor("matmul", 256, mode=mode, **extra)
        with pytest.raises(ConfigError, match=r"even number.*nearest allowed: 64 or 66, got 65"):
            LowLatencyProcessor("vector_add", 65, mode=mode, **extra)
        p = LowLatencyProcessor("matmul", 242, mode=mode, **extra)  # two 11 x 11 matrices
        assert p.out_elems == 121
    matmul = next(s for s in SEED_SCENARIOS if s.kernel == "matmul")
    assert allowed_task_elems("matmul", matmul.task_elems) == (matmul.task_elems,)


# -- scenarios: bursts and rates, modelled and measured -------------------------------------


def test_a_burst_is_offered_all_at_once_and_batching_clears_it():
    s = SEED_SCENARIOS[0]
    assert s.arrival_times("burst", t0=7).tolist() == [7] * s.tasks
    assert np.diff(s.arrival_times("open")).tolist() == [s.interval_ns] * (s.tasks - 1)
    one = run_scenario(s, batch_size=1, streams=2, arrivals="burst")
    assert one.arrivals == "burst" and one.completed + one.rejected == s.tasks
    assert one.rejected > one.completed and one.missed == 0  # shed at admission, not run late
    assert one.max_ns <= s.deadline_ns
    big = run_scenario(s, batch_size=64, streams=2, arrivals="burst")
    assert big.completed == s.tasks and big.rejected == 0
    assert run_scenario(s, batch_size=64, streams=2, arrivals="burst") == big
    with pytest.raises(ConfigError, match="arrivals must be one of"):
        run_scenario(s, arrivals="closed")


@pytest.mark.parametrize("arrivals", ["open", "burst"])
def test_scenarios_run_measured_on_the_cpu_backend(arrivals):
    # A deadline no busy machine misses, so every task must complete whatever the timing.
    scenario = Scenario("small", 12, 968, 200_000, "matmul", deadline_ns=10**10)
    r = run_scenario(scenario, batch_size=4, streams=2, mode="measured", backend="cpu",
                     arrivals=arrivals, warmup=WarmupPolicy(samples=10))  # fmt: skip
    assert r.label == "measured on cpu" and r.arrivals == arrivals
    assert (r.completed, r.rejected, r.failed, r.missed) == (12, 0, 0, 0)
    assert r.stats.wcet_source == "measured" and r.stats.first_batch_ns is not None
    assert r.stats.cpu_parallel is False and r.throughput_per_s > 0
    assert 0 < r.p50_ns <= r.p99_ns <= r.max_ns * 1.001  # 3 significant digits
    with pytest.raises(ConfigError, match="kernel must be one of"):
        run_scenario(SEED_SCENARIOS[2], mode="measured", backend="cpu")  # no FFT batch kernel
    with pytest.raises(ConfigError, match="model is for simulated mode"):
        run_scenario(scenario, mode="measured", backend="cpu", model=CostModel())


# -- streams in measured mode ----------------------------------------------------------------


def test_measured_mode_overlaps_streams_and_syncs_a_stream_only_before_reusing_it(
    scripted_runner,
):
    scripted_runner["times"] = iter([7_000] * 1_000)
    clock = VirtualClock()
    p = LowLatencyProcessor("vector_add", 8, batch_size=2, streams=3, clock=clock,
                            backend="cpu", warmup=WarmupPolicy(samples=10))  # fmt: skip
    p.start()
    buffers = [id(b["host_in"]) for b in p._runner.buffers]
    scripted_runner["log"].clear()
    now = clock.now_ns()
    for k in range(12):  # deadlines in reverse arrival order: EDF must reorder them
        p.submit(np.ones(8, np.float32), deadline_ns=now + 10**9 - k, arrival_ns=now)
    results = p.run()
    p._check()
    assert [id(b["host_in"]) for b in p._runner.buffers] == buffers  # allocated once
    assert p.stats().buffer_allocations == 4 * 3
    by_batch = {}
    for r in results:
        by_batch.setdefault(r.batch_id, []).append(r)
    # earliest deadline first, batch by batch
    assert [r.task_id for b in sorted(by_batch) for r in by_batch[b]] == list(range(11, -1, -1))
    streams = [by_batch[b][0].stream for b in sorted(by_batch)]
    assert streams == [0, 1, 2, 0, 1, 2]
    log = scripted_runner["log"]
    # three batches go out before anything is synced: the streams overlap
    assert [e[:2] for e in log[:3]] == [("submit", 0), ("submit", 1), ("submit", 2)]
    held = set()
    for event, stream, _ in log:  # a stream is submitted to again only after its sync
        assert (event == "submit") != (stream in held), log
        (held.add if event == "submit" else held.discard)(stream)
    assert not held  # drained at the end
    done = sorted(r.completion_ns for r in results)
    assert done[-1] - now == 6 * 7_000  # one engine, back to back: no gaps between batches
    s = p.stats()
    assert s.max_in_flight_batches == 3 and s.in_flight == 0 and s.completed == 12
    assert s.h2d_ns + s.kernel_ns + s.d2h_ns == 6 * 7_000


def test_measured_admission_budgets_the_batches_still_running_on_other_streams(
    scripted_runner,
):
    scripted_runner["times"] = iter([10_000] * 400)
    clock = VirtualClock()
    p = LowLatencyProcessor("vector_add", 8, batch_size=1, streams=2, clock=clock,
                            backend="cpu", wcet_ns=10_000,
                            warmup=WarmupPolicy(samples=5))  # fmt: skip
    p.start()
    now = clock.now_ns()
    p.submit(np.ones(8, np.float32), deadline_ns=now + 10_000, arrival_ns=now)  # alone: fits
    p.submit(np.ones(8, np.float32), deadline_ns=now + 15_000, arrival_ns=now)  # 2 x wcet: no
    p.submit(np.ones(8, np.float32), deadline_ns=now + 20_000, arrival_ns=now)  # 2 x wcet: fits
    results = p.run()
    p._check()
    outcome = {r.task_id: (r.outcome, r.reason, r.missed) for r in results}
    assert outcome == {
        0: ("completed", "", False),
        1: ("rejected", "infeasible", False),
        2: ("completed", "", False),
    }
    assert {r.task_id: r.completion_ns - now for r in results if r.outcome == "completed"} == {
        0: 10_000,
        2: 20_000,  # queued behind task 0 on the one engine, as budgeted
    }


@needs_sim
def test_cudasim_defers_syncs_and_copies_only_the_rows_in_use():
    p = LowLatencyProcessor("vector_add", 8, batch_size=4, streams=2, backend="cudasim",
                            warmup=WarmupPolicy(k=1, min_batches=1, samples=2))  # fmt: skip
    p.start()
    runner = p._runner
    calls = []
    for name in ("submit", "sync"):
        method = getattr(runner, name)

        def spy(stream, *args, _name=name, _method=method):
            calls.append((_name, stream))
            return _method(stream, *args)

        setattr(runner, name, spy)
    rng = np.random.default_rng(11)
    now = p.clock.now_ns()
    data = {}
    for k in range(10):  # a burst: batches of 4, 4 and 2
        x = rng.standard_normal(8).astype(np.float32)
        data[p.submit(x, deadline_ns=now + FAR - k, arrival_ns=now)] = x
    results = p.run()
    p._check()
    assert calls == [("submit", 0), ("submit", 1), ("sync", 0), ("submit", 0), ("sync", 1),
                     ("sync", 0)]  # fmt: skip
    ref = BATCH_KERNELS["vector_add"].reference
    for r in results:
        validate(r.output, ref(data[r.task_id][None, :])[0])
    assert [r.task_id for r in results] == list(range(9, -1, -1))  # EDF, in batch order
    assert p.stats().max_in_flight_batches == 2
    buf = runner.buffers[0]  # a one-row batch copies one row each way, not batch_size rows
    buf["host_in"][:] = 7.0
    buf["dev_in"].copy_to_device(np.zeros((4, 8), np.float32))
    buf["host_out"][:] = -1.0
    runner.submit(0, [np.ones(8, np.float32)])
    _, out, _ = runner.sync(0)
    assert out.tolist() == [[2.0] * 4]
    assert (buf["dev_in"].copy_to_host()[1:] == 0).all() and (buf["host_out"][1:] == -1).all()
    p.close()


def test_the_cpu_backend_stays_synchronous():
    p = LowLatencyProcessor("vector_add", 8, batch_size=1, streams=2, backend="cpu",
                            warmup=WarmupPolicy(samples=5))  # fmt: skip
    p.start()
    now = p.clock.now_ns()
    for _ in range(4):
        p.submit(np.ones(8, np.float32), deadline_ns=now + FAR, arrival_ns=now)
    p.run()
    p._check()
    assert p._runner.synchronous and p.stats().max_in_flight_batches == 1
    p.close()


class _TickingClock(VirtualClock):
    """A virtual clock that moves 1 µs at every reading, as a wall clock does under a dispatcher."""

    def now_ns(self) -> int:
        self.advance(1_000)
        return super().now_ns()


def test_measured_admission_uses_the_clock_at_batch_start_not_a_stale_reading(scripted_runner):
    scripted_runner["times"] = iter([5_000] * 500)
    clock = _TickingClock()
    p = LowLatencyProcessor("vector_add", 8, batch_size=16, streams=1, clock=clock,
                            backend="cpu", warmup=WarmupPolicy(samples=10))  # fmt: skip
    p.start()
    t = clock.now_ns() + 100_000
    for k in range(16):  # admitting sixteen tasks takes the dispatcher time: deadlines near it
        p.submit(np.ones(8, np.float32), deadline_ns=t + 15_000 + 3_000 * k, arrival_ns=t)
    results = p.run()
    p._check()
    s = p.stats()
    assert s.completed >= 1 and s.rejected_infeasible >= 1 and s.completed + s.rejected == 16
    assert s.missed == 0 and s.wcet_overruns == 0  # no overrun, so no admitted task is late
    assert all(r.completion_ns <= r.deadline_ns for r in results if r.outcome == "completed")
