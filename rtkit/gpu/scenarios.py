"""Seed 002's three latency benchmark scenarios, run honestly: modelled or measured, rate or burst.

The seed's ``benchmarkLatency`` (l.734–977) names three scenarios, "High
Frequency Small", "Medium Frequency Medium" and "Low Frequency Large", but
starts all N goroutines at once (a burst, not a frequency: S002-49), counts
refused tasks as results (S002-50), and times sleeps instead of kernels
(S002-44). Here a scenario is fed to a :class:`LowLatencyProcessor` in one
of two declared arrival patterns:

* ``arrivals="open"``: an open-loop rate, task ``k`` at ``t0 + k ×
  interval`` (S002-48), whatever the processor is doing;
* ``arrivals="burst"``: what the seed really offers, all N tasks at ``t0``.

and in one of two modes: ``mode="simulated"`` (the cost model on a virtual
clock: deterministic, labelled ``"modelled"``) or ``mode="measured"`` (the
kernels really run on ``backend``, on the wall clock, labelled ``"measured
on cpu"`` and so on). In measured mode every task is submitted before the
first arrival (``t0`` lies 10 ms + 50 µs per task ahead), so submitting
never delays one, and latency runs from each task's intended arrival. Only
``"vector_add"`` and ``"matmul"`` have batch kernels to measure; run the
FFT scenario's arrivals with one of them via ``dataclasses.replace(scenario,
kernel="vector_add")``.

Deadlines are the seed's fixed 500 µs after arrival (S002-52: not derived
from any WCET; the report's ``wcet_ns`` shows the estimate they face). The
matrix-multiply task is two 11×11 float32 matrices, 968 bytes, the nearest
task to the seed's 1 KiB that the kernel can run (a task is the same thing
in both modes: :func:`~rtkit.gpu.processor.allowed_task_elems`).

Reported per scenario: tasks, completed, rejected, failed, missed (and the
miss percentage of completed tasks), mean, P50, P95, P99 and max latency of
completed tasks, and throughput = completed / (last completion − first
arrival), with the processor's :class:`~rtkit.gpu.processor.ProcessorStats`.

Invariant: ``completed + rejected + failed == tasks`` (simulated mode never
fails a batch). Runtime complexity: O(n log n) per scenario, plus the
kernels when measured.

Example:
    >>> report = run_scenario(SEED_SCENARIOS[0], batch_size=4)
    >>> report.label, report.tasks, report.completed + report.rejected
    ('modelled', 1000, 1000)
    >>> burst = run_scenario(SEED_SCENARIOS[0], batch_size=1, arrivals="burst")
    >>> burst.rejected > burst.completed, burst.missed
    (True, 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rtkit.clock import Clock, VirtualClock, WallClock
from rtkit.errors import ConfigError, check_choice, check_int
from rtkit.gpu.costmodel import LABEL, CostModel
from rtkit.gpu.processor import LowLatencyProcessor, ProcessorStats

__all__ = ["ARRIVALS", "SEED_SCENARIOS", "Scenario", "ScenarioReport", "run_scenario"]

ARRIVALS = ("open", "burst")


@dataclass(frozen=True)
class Scenario:
    """A workload: ``tasks`` tasks of ``task_bytes``, one every ``interval_ns`` when open loop."""

    name: str
    tasks: int
    task_bytes: int
    interval_ns: int
    kernel: str
    deadline_ns: int = 500_000

    @property
    def task_elems(self) -> int:
        """float32 elements per task."""
        return self.task_bytes // 4

    def arrival_times(self, arrivals: str = "open", t0: int = 0) -> np.ndarray:
        """Each task's intended arrival (ns): ``t0 + k × interval``, or all ``t0`` for a burst.

        Example:
            >>> SEED_SCENARIOS[0].arrival_times("open")[:3].tolist()
            [0, 10000, 20000]
            >>> SEED_SCENARIOS[0].arrival_times("burst", t0=5)[:3].tolist()
            [5, 5, 5]
        """
        arrivals = check_choice("arrivals", arrivals, ARRIVALS)
        k = np.arange(self.tasks, dtype=np.int64)
        return t0 + (k * self.interval_ns if arrivals == "open" else 0 * k)


#: The seed's scenarios (l.884–888): count, size, "frequency" (read as an interval), kernel.
SEED_SCENARIOS: tuple[Scenario, ...] = (
    Scenario("High Frequency Small", 1000, 256, 10_000, "vector_add"),
    Scenario("Medium Frequency Medium", 500, 968, 50_000, "matmul"),  # the seed's 1 KiB: 2×11²
    Scenario("Low Frequency Large", 100, 4096, 200_000, "fft"),
)


@dataclass(frozen=True)
class ScenarioReport:
    """Results of one scenario; latencies in ns, of completed tasks only."""

    name: str
    batch_size: int
    streams: int
    tasks: int
    completed: int
    rejected: int
    missed: int
    miss_pct: float
    mean_ns: float
    p50_ns: int
    p95_ns: int
    p99_ns: int
    max_ns: int
    throughput_per_s: float
    label: str = LABEL
    arrivals: str = "open"
    failed: int = 0
    stats: ProcessorStats | None = None

    def row(self) -> str:
        """One line for a table, in µs: tasks offered, and completed (the percentiles' n)."""
        return (
            f"{self.name:<24} offered={self.tasks:<5} completed={self.completed:<5} "
            f"rejected={self.rejected:<4} missed={self.missed:<4} ({self.miss_pct:.1f}%) "
            f"mean={self.mean_ns / 1e3:.1f}µs p50={self.p50_ns / 1e3:.1f}µs "
            f"p95={self.p95_ns / 1e3:.1f}µs p99={self.p99_ns / 1e3:.1f}µs "
            f"max={self.max_ns / 1e3:.1f}µs {self.throughput_per_s:,.0f} tasks/s [{self.label}]"
        )


def run_scenario(
    scenario: Scenario,
    batch_size: int = 1,
    streams: int = 4,
    model: CostModel | None = None,
    pinned: bool = True,
    batch_timeout_ns: int = 0,
    *,
    arrivals: str = "open",
    mode: str = "simulated",
    backend: str | None = None,
    clock: Clock | None = None,
    seed: int = 0,
    **options: Any,
) -> ScenarioReport:
    """Run ``scenario`` on a :class:`LowLatencyProcessor` and summarise it.

    ``arrivals`` is ``"open"`` (a rate) or ``"burst"`` (all at once);
    ``mode`` ``"simulated"`` (deterministic, the default) or ``"measured"``
    on ``backend``; ``seed`` seeds the measured tasks' data; ``options`` go
    to the processor (``wcet_ns``, ``wcet_margin``, ``warmup``,
    ``cpu_parallel``, ...).

    Example:
        >>> r = run_scenario(SEED_SCENARIOS[2])
        >>> r.rejected, r.missed, r.p99_ns <= 500_000
        (0, 0, True)
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    arrivals = check_choice("arrivals", arrivals, ARRIVALS)
    if mode == "simulated":
        clock = VirtualClock() if clock is None else clock
    elif mode == "measured":
        clock = WallClock() if clock is None else clock
        if model is not None:
            raise ConfigError("model is for simulated mode; measured mode runs the kernels")
    p = LowLatencyProcessor(
        scenario.kernel,
        task_elems=scenario.task_elems,
        batch_size=batch_size,
        streams=streams,
        mode=mode,
        backend=backend,
        clock=clock,
        cost_model=model,
        pinned=pinned,
        batch_timeout_ns=batch_timeout_ns,
        **options,
    )
    p.start()
    try:
        data = None
        t0 = clock.now_ns()
        if p.mode == "measured":
            data = np.random.default_rng(seed).standard_normal(scenario.task_elems)
            data = data.astype(np.float32)
            t0 += 10_000_000 + 50_000 * scenario.tasks  # submit it all before the first arrival
        times = scenario.arrival_times(arrivals, t0).tolist()
        for arrival in times:
            p.submit(data, deadline_ns=arrival + scenario.deadline_ns, arrival_ns=arrival)
        results = p.run()
    finally:
        p.close()
    s = p.stats()
    h = p.latency
    done = [r.completion_ns for r in results if r.outcome == "completed"]
    span = max(done) - t0 if done else 0
    return ScenarioReport(
        name=scenario.name,
        batch_size=batch_size,
        streams=streams,
        tasks=scenario.tasks,
        completed=s.completed,
        rejected=s.rejected,
        missed=s.missed,
        miss_pct=100.0 * s.missed / s.completed if s.completed else 0.0,
        mean_ns=h.mean if h.count else 0.0,
        p50_ns=h.percentile(50) if h.count else 0,
        p95_ns=h.percentile(95) if h.count else 0,
        p99_ns=h.percentile(99) if h.count else 0,
        max_ns=h.max if h.count else 0,
        throughput_per_s=s.completed * 1e9 / span if span else 0.0,
        label=s.label,
        arrivals=arrivals,
        failed=s.failed,
        stats=s,
    )
