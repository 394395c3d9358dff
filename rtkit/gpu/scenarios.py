"""Seed 002's three latency benchmark scenarios, run honestly on the modelled processor.

The seed's ``benchmarkLatency`` (l.734–977) names three scenarios, "High
Frequency Small", "Medium Frequency Medium" and "Low Frequency Large", but
starts all N goroutines at once (a burst, not a frequency: S002-49), counts
refused tasks as results (S002-50), and times sleeps instead of kernels
(S002-44). Here each scenario is an open-loop arrival stream, task ``k`` at
``k × interval`` (S002-48), fed to a :class:`LowLatencyProcessor` in
simulated mode, so every figure is deterministic and labelled
``"modelled"``. Deadlines are the seed's fixed 500 µs after arrival
(S002-52: not derived from any WCET, which the report makes visible).

Reported per scenario: tasks, completed, rejected, missed (and the miss
percentage of completed tasks), mean, P50, P95, P99 and max latency of
completed tasks, and throughput = completed / (last completion − first
arrival).

Invariant: ``completed + rejected == tasks`` (simulated mode never fails a
batch). Runtime complexity: O(n log n) per scenario.

Example:
    >>> report = run_scenario(SEED_SCENARIOS[0], batch_size=4)
    >>> report.label, report.tasks, report.completed + report.rejected
    ('modelled', 1000, 1000)
"""

from __future__ import annotations

from dataclasses import dataclass

from rtkit.clock import VirtualClock
from rtkit.errors import check_int
from rtkit.gpu.costmodel import LABEL, CostModel
from rtkit.gpu.processor import LowLatencyProcessor

__all__ = ["SEED_SCENARIOS", "Scenario", "ScenarioReport", "run_scenario"]


@dataclass(frozen=True)
class Scenario:
    """An open-loop workload: ``tasks`` tasks of ``task_bytes`` each, one every ``interval_ns``."""

    name: str
    tasks: int
    task_bytes: int
    interval_ns: int
    kernel: str
    deadline_ns: int = 500_000


#: The seed's scenarios (l.884–888): count, size, "frequency" (read as an interval), kernel.
SEED_SCENARIOS: tuple[Scenario, ...] = (
    Scenario("High Frequency Small", 1000, 256, 10_000, "vector_add"),
    Scenario("Medium Frequency Medium", 500, 1024, 50_000, "matmul"),
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

    def row(self) -> str:
        """One line for a table, in µs."""
        return (
            f"{self.name:<24} n={self.tasks:<5} done={self.completed:<5} "
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
) -> ScenarioReport:
    """Run ``scenario`` on the modelled processor and summarise it (deterministic).

    Example:
        >>> r = run_scenario(SEED_SCENARIOS[2])
        >>> r.rejected, r.missed, r.p99_ns <= 500_000
        (0, 0, True)
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    clock = VirtualClock()
    p = LowLatencyProcessor(
        scenario.kernel,
        task_elems=scenario.task_bytes // 4,
        batch_size=batch_size,
        streams=streams,
        mode="simulated",
        clock=clock,
        cost_model=model,
        pinned=pinned,
        batch_timeout_ns=batch_timeout_ns,
    )
    p.start()
    for k in range(scenario.tasks):
        arrival = k * scenario.interval_ns
        p.submit(None, deadline_ns=arrival + scenario.deadline_ns, arrival_ns=arrival)
    results = p.run()
    p.close()
    s = p.stats()
    h = p.latency
    done = [r.completion_ns for r in results if r.outcome == "completed"]
    span = max(done) if done else 0  # the first arrival is at 0
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
    )
