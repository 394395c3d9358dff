"""The processor's records: one task's result, the counters' snapshot, a queued task.

Kept apart from :mod:`rtkit.gpu.processor` so that the processor module
holds only its logic. Invariant: every record is immutable once made,
except the internal :class:`_Task`. Runtime complexity: O(1) each.

Example:
    >>> t = _Task(3, None, arrival_ns=0, deadline_ns=10)
    >>> _result(t, "rejected", reason="expired").outcome
    'rejected'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ProcessorStats", "TaskResult"]


@dataclass(frozen=True)
class TaskResult:
    """What happened to one task. ``outcome`` is ``"completed"``, ``"rejected"`` or ``"failed"``.

    ``latency_ns`` (completion − arrival) is None unless completed;
    ``reason`` says why a task was rejected or failed; ``output`` is the
    task's output row (None in simulated mode or when not completed).
    """

    task_id: int
    outcome: str
    arrival_ns: int
    deadline_ns: int
    completion_ns: int | None
    latency_ns: int | None
    missed: bool
    stream: int | None
    batch_id: int | None
    reason: str = ""
    output: np.ndarray | None = None


@dataclass(frozen=True)
class ProcessorStats:
    """A snapshot of the processor's counters; stage totals are summed over batches (ns).

    Measured mode only (None when simulated): ``compile_ns`` (the kernel
    cache's compile), ``first_batch_ns`` (the first call), ``warmup_batches``
    and ``warmup_ns`` (the first call and the warm-up batches after it,
    until steady), ``warmup_steady`` (False if the bounds ran out first),
    ``steady_batch_ns`` (median of the steady-state sample). ``wcet_samples``
    is how many batch times the measured estimate is a percentile of,
    ``wcet_overruns`` how many of the run's batches took longer than the
    WCET in use; ``cpu_parallel`` says which CPU kernel ran (None off the CPU).
    ``in_flight`` is the number of tasks submitted to a stream and not yet
    synchronised, ``max_in_flight_batches`` the most batches that were ever
    in flight at once (above 1: streams overlapped), ``buffer_allocations``
    the arrays the measured path ever allocated (four per stream, all at
    :meth:`~LowLatencyProcessor.start`; None when simulated).
    """

    mode: str
    backend: str
    timing: str
    label: str
    kernel: str
    batch_size: int
    streams: int
    pinned: bool
    submitted: int
    queued: int
    completed: int
    rejected_expired: int
    rejected_infeasible: int
    failed: int
    missed: int
    batches: int
    h2d_ns: int
    kernel_ns: int
    d2h_ns: int
    compile_ns: int | None
    first_batch_ns: int | None
    warmup_batches: int | None
    warmup_ns: int | None
    warmup_steady: bool | None
    steady_batch_ns: int | None
    wcet_ns: int
    wcet_source: str
    wcet_percentile: float
    wcet_margin: float
    wcet_samples: int
    wcet_overruns: int
    cpu_parallel: bool | None
    in_flight: int
    max_in_flight_batches: int
    buffer_allocations: int | None

    @property
    def rejected(self) -> int:
        """All rejected tasks, whatever the reason."""
        return self.rejected_expired + self.rejected_infeasible


@dataclass
class _Task:
    task_id: int
    data: np.ndarray | None
    arrival_ns: int
    deadline_ns: int


def _result(task: _Task, outcome: str, **fields: Any) -> TaskResult:
    """A :class:`TaskResult` for ``task``; unspecified fields take their "did not run" values."""
    base: dict[str, Any] = {
        "completion_ns": None,
        "latency_ns": None,
        "missed": False,
        "stream": None,
        "batch_id": None,
    }
    base.update(fields)
    return TaskResult(task.task_id, outcome, task.arrival_ns, task.deadline_ns, **base)
