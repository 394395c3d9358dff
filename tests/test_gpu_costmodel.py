"""Tests for rtkit.gpu.costmodel against cases computed by hand.

Round parameters make the arithmetic checkable on paper: 1 GB/s means one
byte per nanosecond, 1 GFLOP/s one flop per nanosecond.
"""

from __future__ import annotations

import itertools
import math

import pytest

from rtkit.errors import ConfigError
from rtkit.gpu.costmodel import LABEL, CostModel, KernelCost, PipelineState

# launch 1000, sync 500, copy latency 100 (+200 pageable), 1 byte/ns pinned,
# 0.5 byte/ns pageable, 1 flop/ns, 10 bytes/ns device memory.
ROUND = CostModel(
    launch_ns=1_000,
    sync_ns=500,
    copy_latency_ns=100,
    pageable_extra_ns=200,
    pinned_gbps=1.0,
    pageable_gbps=0.5,
    peak_gflops=1.0,
    device_gbps=10.0,
    copy_engines=2,
)
TASK = KernelCost("t", bytes_in=1_000, bytes_out=500, flops=2_000, device_bytes=1_500)


def test_breakdown_of_one_batch_by_hand():
    b = ROUND.breakdown(TASK, batch=2)
    # h2d: 100 + 2*1000/1; kernel: 1000 + max(2*2000/1, 2*1500/10); d2h: 100 + 2*500/1
    assert (b.h2d_ns, b.kernel_ns, b.d2h_ns, b.sync_ns) == (2_100, 5_000, 1_100, 500)
    assert b.total_ns == 8_700
    assert b.label == LABEL == "modelled"


def test_memory_bound_kernel_uses_device_bandwidth():
    mem = KernelCost("m", 0, 0, flops=10, device_bytes=100_000)
    assert ROUND.kernel_ns(mem, batch=1) == 1_000 + 10_000  # 100 000 bytes / 10 bytes/ns


def test_pageable_copies_pay_staging_latency_and_half_bandwidth():
    assert ROUND.transfer_ns(1_000, pinned=True) == 1_100
    assert ROUND.transfer_ns(1_000, pinned=False) == 100 + 200 + 2_000
    assert ROUND.transfer_ns(0) == 100  # an empty copy still costs its latency


def test_durations_round_up_to_whole_nanoseconds():
    assert ROUND.with_(pinned_gbps=3.0).transfer_ns(10) == 100 + 4  # 3.33 ns -> 4
    assert CostModel().transfer_ns(1_000) == 3_000 + 40  # exact: 1000 / 25


def test_task_latency_adds_the_wait_for_a_batch_to_fill():
    t = ROUND.task_latency(TASK, batch=4, interval_ns=3_000)
    b = ROUND.breakdown(TASK, 4)
    # total = 1 700 fixed (launch, sync, two copy latencies) + 3 500 per task
    assert t.batch_ns == b.total_ns == 1_700 + 4 * 3_500 == 15_700
    assert t.fill_wait_worst_ns == 9_000 and t.fill_wait_mean_ns == 4_500
    assert t.worst_ns == 9_000 + 15_700 and t.mean_ns == 4_500 + 15_700
    assert not t.stable  # one stream: 15 700 ns per batch, but 4 tasks arrive every 12 000


def test_stability_compares_the_batch_period_with_the_arrivals():
    # One stream: period 15 700 ns for 4 tasks; they arrive in 4 * 3 000 = 12 000 ns.
    assert not ROUND.task_latency(TASK, 4, 3_000, streams=1).stable
    assert ROUND.task_latency(TASK, 4, 4_000, streams=1).stable
    # Four streams: the busiest engine is the kernel, 9 000 ns, and total / 4 = 3 925.
    assert ROUND.batch_period_ns(TASK, 4, streams=4) == 9_000
    assert ROUND.task_latency(TASK, 4, 3_000, streams=4).stable


def test_one_copy_engine_serialises_copies_in_both_directions():
    copy_bound = KernelCost("c", 10_000, 10_000, 0, 0)
    two = ROUND.batch_period_ns(copy_bound, 1, streams=8)
    one = ROUND.with_(copy_engines=1).batch_period_ns(copy_bound, 1, streams=8)
    assert two == 10_100  # the busier copy engine
    assert one == 20_200  # both copies share it


def test_batch_for_deadline_is_the_smallest_stable_batch_within_the_deadline():
    # Compare with a brute-force search written from the definition.
    def by_definition(deadline):
        for k in range(1, 200):
            t = ROUND.task_latency(TASK, k, 3_000)
            if t.stable and t.worst_ns <= deadline:
                return k
        return None

    for deadline in (10_000, 40_000, 80_000, 200_000, 10**7):
        assert ROUND.batch_for_deadline(TASK, deadline, 3_000, max_batch=199) == by_definition(
            deadline
        )


def test_batch_for_deadline_by_hand():
    # A batch of k costs 1 700 + 3 500 k ns (1 500 of copies and 2 000 of kernel per task).
    # Stable on one stream iff 1 700 + 3 500 k <= 5 000 k, i.e. k >= 1.13 -> k = 2.
    # Worst latency at k = 2: 1 * 5 000 + 1 700 + 7 000 = 13 700.
    assert not ROUND.task_latency(TASK, 1, 5_000).stable
    assert ROUND.task_latency(TASK, 2, 5_000).worst_ns == 13_700
    assert ROUND.batch_for_deadline(TASK, 13_700, 5_000) == 2
    assert ROUND.batch_for_deadline(TASK, 13_699, 5_000) is None


def test_curve_reports_throughput_per_second():
    [p1, p4] = ROUND.curve(TASK, [1, 4], interval_ns=10_000)
    assert p1.throughput_per_s == pytest.approx(1e9 / 5_200)  # 1 task per 5 200 ns
    assert p4.throughput_per_s == pytest.approx(4e9 / 15_700)
    assert p1.label == p4.label == "modelled"


def test_timeline_of_two_streams_overlaps_copies_with_the_kernel():
    copy_bound = KernelCost("c", 1_000, 1_000, 1_000, 0)  # h2d 1100, kernel 2000, d2h 1100
    segs = ROUND.timeline(copy_bound, batch=1, n_batches=3, streams=2)
    table = [(s.stream, s.batch_index, s.stage, s.start_ns, s.end_ns) for s in segs]
    assert table == [
        (0, 0, "h2d", 0, 1_100),
        (0, 0, "kernel", 1_100, 3_100),
        (0, 0, "d2h", 3_100, 4_200),
        (0, 0, "sync", 4_200, 4_700),
        (1, 1, "h2d", 1_100, 2_200),  # overlaps batch 0's kernel
        (1, 1, "kernel", 3_100, 5_100),  # waits for the compute engine
        (1, 1, "d2h", 5_100, 6_200),
        (1, 1, "sync", 6_200, 6_700),
        (0, 2, "h2d", 4_700, 5_800),  # stream 0 is FIFO: after batch 0 completes
        (0, 2, "kernel", 5_800, 7_800),
        (0, 2, "d2h", 7_800, 8_900),
        (0, 2, "sync", 8_900, 9_400),
    ]
    assert all(s.label == "modelled" for s in segs)


def test_one_stream_timeline_is_serial():
    segs = ROUND.timeline(TASK, batch=1, n_batches=2, streams=1)
    total = ROUND.breakdown(TASK, 1).total_ns
    assert segs[-1].end_ns == 2 * total
    for a, b in itertools.pairwise(segs):
        assert b.start_ns >= a.end_ns


def test_pipeline_copy_is_independent():
    state = PipelineState(ROUND, 2)
    trial = state.copy()
    trial.schedule(0, 0, ROUND.breakdown(TASK, 1))
    assert state.stream_free == [0, 0] and trial.stream_free[0] > 0


def test_kernel_costs_of_the_seed_scenarios():
    v = KernelCost.for_kernel("vector_add", 256)
    assert (v.bytes_in, v.bytes_out, v.flops) == (256, 128, 32)
    m = KernelCost.for_kernel("matmul", 1024)  # m = isqrt(128) = 11
    assert (m.flops, m.bytes_out) == (2 * 11**3, 4 * 121)
    f = KernelCost.for_kernel("fft", 4096)  # 1024 points
    assert f.flops == 5 * 1024 * 10 and f.bytes_out == 8192


def test_default_round_trip_is_microseconds_not_nanoseconds():
    # S002-2: a GPU round trip cannot be sub-microsecond.
    b = CostModel().breakdown(KernelCost.for_kernel("vector_add", 256), 1)
    assert b.total_ns > 10_000
    assert b.total_ns - b.kernel_ns > math.prod((2, 3_000))  # two copy latencies alone


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pinned_gbps": 0}, "pinned_gbps must be > 0"),
        ({"launch_ns": -1}, "launch_ns must be >= 0"),
        ({"copy_engines": 3}, "copy_engines must be 1 or 2"),
        ({"peak_gflops": True}, "peak_gflops must be > 0"),
    ],
)
def test_bad_parameters_are_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        CostModel(**changes)


def test_bad_arguments_are_refused():
    with pytest.raises(ConfigError, match="batch must be >= 1"):
        ROUND.breakdown(TASK, 0)
    with pytest.raises(ConfigError, match="interval_ns must be >= 1"):
        ROUND.task_latency(TASK, 1, 0)
    with pytest.raises(ConfigError, match="name must be one of"):
        KernelCost.for_kernel("sleep", 256)
    with pytest.raises(ConfigError, match="flops must be >= 0"):
        KernelCost("x", 1, 1, -1, 1)


def test_the_seeds_unordered_launch_lets_the_kernel_start_before_its_input_lands():
    # S002-21: the seed's kernel takes no stream, so nothing orders it after the copy in.
    model, cost = CostModel(), KernelCost("k", 25_000, 25_000, 19_500_000, 0)  # 5 µs kernel
    seed = {s.stage: s for s in model.timeline(cost, 1, 1, 1, ordered=False)}
    ours = {s.stage: s for s in model.timeline(cost, 1, 1, 1)}
    assert seed["kernel"].start_ns < seed["h2d"].end_ns  # reads the buffer before it arrives
    assert seed["d2h"].start_ns < seed["kernel"].end_ns  # copies back before the kernel ends
    assert ours["kernel"].start_ns >= ours["h2d"].end_ns
    assert ours["d2h"].start_ns >= ours["kernel"].end_ns
    # the sync waits for every stage either way
    assert seed["sync"].start_ns == max(seed[k].end_ns for k in ("h2d", "kernel", "d2h"))
