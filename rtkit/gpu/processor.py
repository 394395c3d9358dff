"""LowLatencyProcessor: deadline-aware batched GPU offload, measured or modelled.

Seed 002's ``UltraLowLatencyProcessor`` done right. What changes, defect by defect:

* an explicit lifecycle: :meth:`start` allocates and warms up, :meth:`close`
  releases; nothing is silently refused (S002-17, S002-32);
* admission from a WCET estimate *before* work starts: a task is admitted
  iff ``start + wcet <= deadline``, else rejected with a counted reason
  (S002-18, S002-27); rejected tasks never enter the latency histogram
  (S002-19); in measured mode ``start`` is the clock read as each task is
  admitted and again as the batch starts, so the dispatcher's own time
  (Python, a few µs a task) is never assumed away;
* tasks are dispatched in earliest-deadline-first order from one ready
  heap, to the stream whose buffers free up first, the least recently used
  on a tie (S002-20, S002-39);
* one buffer set per stream, allocated once: pinned host buffers
  (``cuda.pinned_array`` on a GPU) and device buffers; the kernel runs on
  the same stream as its copies (S002-21, S002-24, S002-30); input and
  output buffers are separate (S002-22); sizes are checked (S002-23);
* stages (H2D, kernel, D2H) are timed separately: CUDA events on a real
  GPU, the clock elsewhere (S002-10, S002-25); errors surface at the
  stream sync and fail the batch (S002-26);
* compiled kernels come from a :class:`~rtkit.gpu.cache.KernelCache`; the
  compile, the first call and the warm-up are each reported apart from the
  steady state (S002-45, S002-51);
* per-task latency runs from the task's arrival (intended) time to its
  completion (S002-28) into a :class:`~rtkit.LatencyHistogram`; deadline
  misses are counted (S002-33), and how late they were goes into a second
  histogram, ``lateness``: one histogram per outcome.

Two modes (DESIGN convention 2):

* ``mode="measured"``: kernels really run, on the back end
  (``"cuda"``, ``"cudasim"`` or ``"cpu"``). Only on ``"cuda"`` are the
  numbers GPU timings; on ``"cudasim"`` they are the simulator's Python
  speed, on ``"cpu"`` the CPU counterpart's (``timing`` in :meth:`stats`
  says which).
* ``mode="simulated"``: nothing runs; a :class:`~rtkit.gpu.costmodel.CostModel`
  gives each stage's duration and a :class:`~rtkit.clock.VirtualClock`
  advances, so results are deterministic and labelled ``"modelled"``.

The WCET used for admission (S002-52: deadlines from WCET plus margin):

* simulated: the model's time for a full batch (or, without ``wcet_ns``,
  the exact modelled finish time with engines and streams);
* measured: :meth:`start` compiles, times the first batch, then warms up
  until batch times are steady (``k`` consecutive batches within a factor
  of the running median, bounded in count and time:
  :class:`~rtkit.gpu._device.WarmupPolicy`), then times a steady-state
  sample. The estimate is the ``wcet_percentile`` (99) of that sample
  times ``wcet_margin`` (1.5, i.e. 50 % margin), and stays fixed for the
  run. A batch's time runs from packing its inputs to the end of its sync;
  the run's batch times go into the ``service`` histogram, and a batch that
  took longer than the estimate is counted as a WCET overrun
  (``wcet_overruns``): a percentile is not a bound. (Re-estimating from the
  run would ratchet: one estimate above the deadlines admits nothing more,
  and with nothing admitted there is nothing to lower it.) ``wcet_ns=``
  overrides the estimate with a given budget.

A task is ``float32`` elements of one fixed size, the same in both modes
(:func:`allowed_task_elems` lists the sizes near a given one):
``"vector_add"``: an even number, ``[a | b]``; ``"matmul"``: ``2 m²``, two
m×m matrices ``[A | B]``; ``"fft"`` (simulated only): at least 2 points.

In measured mode the dispatcher synchronises each batch before it
dispatches the next, so every stream's buffers are free at each dispatch
and the streams simply rotate (least recently used first): they never
overlap, and stage times add up to the batch's time. Copy/compute overlap
is shown by the model only (:meth:`~rtkit.gpu.costmodel.CostModel.timeline`
and simulated mode). Overlapping for real needs completion tracking per
stream (events polled by the dispatcher), which only pays, and can only be
tested, on a GPU. On the ``"cpu"`` back end a batch with little work runs a
serial compilation of the kernel, one with much work the parallel one
(why: :mod:`rtkit.gpu._device`).

Batching: up to ``batch_size`` ready tasks go in one launch. With
``batch_timeout_ns > 0`` the dispatcher waits up to that long after the
oldest ready task arrived for a batch to fill; with 0 it launches what is
ready. A deadline already passed at :meth:`submit` is an error
(:class:`~rtkit.errors.ValueRangeError`); one that passes while the task
waits is a counted reject (``"expired"``).

Invariant (``_check``): ``submitted == queued + completed + rejected +
failed``; ``missed <= completed``; the histogram holds exactly the
completed tasks. Runtime complexity: O(log n) per task for the EDF heap,
plus the batch's copies and kernel.

Example:
    >>> from rtkit.clock import VirtualClock
    >>> p = LowLatencyProcessor("vector_add", task_elems=64, batch_size=4,
    ...                         mode="simulated", clock=VirtualClock())
    >>> p.start()
    >>> for k in range(8):
    ...     _ = p.submit(None, deadline_ns=k * 10_000 + 200_000, arrival_ns=k * 10_000)
    >>> results = p.run()
    >>> s = p.stats()
    >>> s.completed, s.rejected, s.missed, s.label
    (8, 0, 0, 'modelled')
    >>> p.close()
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from rtkit.clock import Clock, VirtualClock, resolve_clock
from rtkit.errors import Closed, ConfigError, StateError, ValueRangeError, check_choice, check_int
from rtkit.gpu._device import (
    BatchRunner,
    WarmupPolicy,
    WarmupReport,
    allowed_task_elems,
    check_task_elems,
)
from rtkit.gpu.cache import KernelCache
from rtkit.gpu.costmodel import LABEL, CostModel, KernelCost, PipelineState
from rtkit.gpu.kernels._base import resolve_backend
from rtkit.gpu.kernels.batch import BATCH_KERNELS
from rtkit.latency import LatencyHistogram

__all__ = [
    "LowLatencyProcessor",
    "ProcessorStats",
    "TaskResult",
    "WarmupPolicy",
    "allowed_task_elems",
]

MODES = ("measured", "simulated")
REJECT_REASONS = ("expired", "infeasible")
_COUNTERS = ("submitted", "completed", *REJECT_REASONS, "failed", "missed", "batches", "overruns")


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


class LowLatencyProcessor:
    """Batched, deadline-aware offload of small tasks to a GPU (or its stand-ins).

    Args:
        kernel: a key of :data:`~rtkit.gpu.kernels.BATCH_KERNELS`
            (``"vector_add"``, ``"matmul"``); in simulated mode also ``"fft"``.
        task_elems: float32 elements per task input, the same in both modes
            (:func:`allowed_task_elems`).
        batch_size: tasks per launch (>= 1).
        streams: CUDA streams, each with its own buffer set (>= 1).
        mode: ``"measured"`` or ``"simulated"``.
        backend: measured mode's back end (default :func:`rtkit.gpu.backend`).
        clock: a :class:`~rtkit.clock.VirtualClock` (simulated mode: required
            kind) or a :class:`~rtkit.clock.WallClock` (the default, measured).
        cost_model: the model for simulated mode (default :class:`CostModel`).
        pinned: model pinned (True) or pageable host memory in simulated mode.
        wcet_ns: a given WCET budget per batch, overriding the estimate: by
            default the model's (simulated), or ``wcet_percentile`` of the
            steady-state batch times times ``wcet_margin`` (measured).
        wcet_margin: the measured estimate's margin factor (>= 1).
        wcet_percentile: the measured estimate's percentile (50 to 100).
        batch_timeout_ns: how long a ready task may wait for its batch to fill.
        warmup: when measured warm-up is over (default :class:`WarmupPolicy`).
        cpu_parallel: on the CPU back end, the parallel (True) or serial
            (False) kernel; None picks by the batch's work.
    """

    def __init__(
        self,
        kernel: str = "vector_add",
        task_elems: int = 64,
        batch_size: int = 1,
        streams: int = 2,
        *,
        mode: str = "measured",
        backend: str | None = None,
        clock: Clock | None = None,
        cost_model: CostModel | None = None,
        pinned: bool = True,
        wcet_ns: int | None = None,
        wcet_margin: float = 1.5,
        wcet_percentile: float = 99.0,
        batch_timeout_ns: int = 0,
        warmup: WarmupPolicy | None = None,
        cpu_parallel: bool | None = None,
    ) -> None:
        self.mode = check_choice("mode", mode, MODES)
        kernels = (*BATCH_KERNELS, "fft") if self.mode == "simulated" else tuple(BATCH_KERNELS)
        self.kernel_name = check_choice("kernel", kernel, kernels)
        self.task_elems = check_int("task_elems", task_elems, minimum=1)
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.n_streams = check_int("streams", streams, minimum=1)
        self.batch_timeout_ns = check_int("batch_timeout_ns", batch_timeout_ns, minimum=0)
        if wcet_ns is not None:
            wcet_ns = check_int("wcet_ns", wcet_ns, minimum=1)
        if not (isinstance(wcet_margin, (int, float)) and wcet_margin >= 1.0):
            raise ConfigError(f"wcet_margin must be >= 1.0, got {wcet_margin!r}")
        if not (isinstance(wcet_percentile, (int, float)) and 50 <= wcet_percentile <= 100):
            raise ConfigError(f"wcet_percentile must be in [50, 100], got {wcet_percentile!r}")
        check_task_elems(self.kernel_name, self.task_elems)  # one task, one size, both modes
        self._batch_kernel = BATCH_KERNELS.get(self.kernel_name)
        self.out_elems = self._cost().bytes_out // 4  # == the batch kernel's output width
        if self.mode == "simulated":
            self.clock: Clock = VirtualClock() if clock is None else resolve_clock(clock)
            if not isinstance(self.clock, VirtualClock):
                raise ConfigError("simulated mode needs a VirtualClock")
            self.backend = "model"
            self.model = cost_model or CostModel()
            self.timing = "modelled"
        else:
            self.clock = resolve_clock(clock)
            self.backend = resolve_backend(backend)
            self.model = cost_model
            self.timing = "cuda-events" if self.backend == "cuda" else "clock"
        self.pinned = bool(pinned)
        self._wcet_given = wcet_ns
        self._wcet_margin = float(wcet_margin)
        self._wcet_percentile = float(wcet_percentile)
        self._wcet_measured = 1
        self.warmup_policy = warmup or WarmupPolicy()
        self._cpu_parallel = cpu_parallel
        self._warmup: WarmupReport | None = None
        self.service = LatencyHistogram()  # measured: the run's batch times, packing to sync
        self.cache = KernelCache(self.clock if self.mode == "measured" else VirtualClock())
        self.latency = LatencyHistogram()  # completed tasks only, from arrival
        self.lateness = LatencyHistogram()  # missed tasks only: completion - deadline
        self._state = "new"
        self._pending: list[tuple[int, int, _Task]] = []  # by arrival
        self._ready: list[tuple[int, int, _Task]] = []  # by deadline (EDF)
        self._next_id = 0
        self._counts = dict.fromkeys(_COUNTERS, 0)
        self._stage_ns = {"h2d": 0, "kernel": 0, "d2h": 0}
        self._compile_ns: int | None = None
        self._failed_batches = 0
        self._stream_free = [0] * self.n_streams  # measured mode: always free (batches sync)
        self._stream_last_used = [0] * self.n_streams
        self._pipeline: PipelineState | None = None
        self._runner: BatchRunner | None = None

    # -- lifecycle --------------------------------------------------------

    def start(self) -> None:
        """Allocate per-stream buffers once; in measured mode compile, warm up, estimate the WCET.

        Raises :class:`~rtkit.errors.StateError` if already started or closed.
        """
        if self._state != "new":
            raise StateError(f"start() on a processor that is {self._state}")
        if self.mode == "simulated":
            self._pipeline = PipelineState(self.model, self.n_streams)
        else:
            self._runner = BatchRunner(
                self.backend,
                self._batch_kernel,
                self.task_elems,
                self.out_elems,
                self.batch_size,
                self.n_streams,
                self.clock,
                self.cache,
                parallel=self._cpu_parallel,
            )
            self._runner.allocate()
            self.pinned = self._runner.pinned
            self._compile_ns, self._warmup = self._runner.warm_up(self.warmup_policy)
            sample = LatencyHistogram()
            sample.record_many(self._warmup.samples)  # warm-up batches are not in the sample
            p = sample.percentile(self._wcet_percentile)
            self._wcet_measured = max(1, math.ceil(p * self._wcet_margin))
        self._state = "running"

    def close(self) -> None:
        """Release buffers and streams. Queued tasks stay counted as queued. Idempotent."""
        if self._runner is not None:
            self._runner.release()
        self._state = "closed"

    def __enter__(self) -> LowLatencyProcessor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- submitting -------------------------------------------------------

    def submit(
        self, data: np.ndarray | None, deadline_ns: int, arrival_ns: int | None = None
    ) -> int:
        """Queue one task; return its id. ``arrival_ns`` defaults to now.

        ``data`` is a 1-d float32 array of ``task_elems`` values (measured
        mode; None is allowed in simulated mode). A deadline not after the
        arrival, or already past now, raises
        :class:`~rtkit.errors.ValueRangeError` and queues nothing.
        """
        if self._state == "closed":
            raise Closed("processor is closed")
        now = self.clock.now_ns()
        arrival = now if arrival_ns is None else check_int("arrival_ns", arrival_ns, minimum=0)
        deadline = check_int("deadline_ns", deadline_ns)
        if deadline <= arrival:
            raise ValueRangeError(
                f"deadline_ns must be after arrival_ns ({arrival}), got {deadline}"
            )
        if deadline <= now:
            raise ValueRangeError(f"deadline already passed: deadline_ns {deadline} <= now {now}")
        if self.mode == "measured" or data is not None:
            data = self._check_data(data)
        task = _Task(self._next_id, data, arrival, deadline)
        self._next_id += 1
        heapq.heappush(self._pending, (arrival, task.task_id, task))
        self._counts["submitted"] += 1
        return task.task_id

    def _check_data(self, data: object) -> np.ndarray:
        if not isinstance(data, np.ndarray):
            raise ConfigError(f"data must be a numpy array, got {type(data).__name__}")
        if data.dtype != np.float32:
            raise ConfigError(f"data must have dtype float32, got {data.dtype}")
        if data.shape != (self.task_elems,):
            raise ConfigError(f"data must have shape ({self.task_elems},), got {data.shape}")
        return data.copy()  # the caller may reuse its array: the task owns this copy

    # -- running ----------------------------------------------------------

    def run(self) -> list[TaskResult]:
        """Process every submitted task; return their results in completion order.

        Waits (on the clock) for future arrivals: an open-loop run.
        """
        if self._state != "running":
            raise StateError(f"run() on a processor that is {self._state}; call start() first")
        results: list[TaskResult] = []
        while self._pending or self._ready:
            now = self.clock.now_ns()
            while self._pending and self._pending[0][0] <= now:
                _, tid, task = heapq.heappop(self._pending)
                heapq.heappush(self._ready, (task.deadline_ns, tid, task))
            if not self._ready:
                self.clock.sleep_until(self._pending[0][0])
                continue
            stream = min(
                range(self.n_streams),
                key=lambda s: (self._stream_free[s], self._stream_last_used[s]),
            )
            if self._stream_free[stream] > now:
                self.clock.sleep_until(self._stream_free[stream])
                continue
            wait_until = self._batch_wait_until(now)
            if wait_until > now:
                self.clock.sleep_until(wait_until)
                continue
            results.extend(self._dispatch(stream, now))
        return results

    def _batch_wait_until(self, now: int) -> int:
        """When to launch a batch that is not full yet (``now`` means: launch now)."""
        if self.batch_timeout_ns == 0 or len(self._ready) >= self.batch_size or not self._pending:
            return now
        give_up = min(t.arrival_ns for _, _, t in self._ready) + self.batch_timeout_ns
        return min(give_up, self._pending[0][0]) if give_up > now else now

    def wcet_ns(self) -> int:
        """The current per-batch WCET estimate used for admission (ns)."""
        if self._wcet_given is not None:
            return self._wcet_given
        if self.mode == "simulated":
            return self.model.breakdown(self._cost(), self.batch_size, self.pinned).total_ns
        return self._wcet_measured

    def _wcet_source(self) -> str:
        if self._wcet_given is not None:
            return "given"
        return "modelled" if self.mode == "simulated" else "measured"

    def _cost(self) -> KernelCost:
        return KernelCost.for_kernel(self.kernel_name, 4 * self.task_elems)

    def _dispatch(self, stream: int, now: int) -> list[TaskResult]:
        """Admit up to ``batch_size`` ready tasks in EDF order and run them as one batch."""
        if self.mode == "simulated" and self._wcet_given is None:
            # The exact modelled finish time, engines and streams included.
            trial = self._pipeline.copy()
            b = self.model.breakdown(self._cost(), self.batch_size, self.pinned)
            finish = trial.schedule(stream, now, b)[-1].end_ns
        else:
            finish = now + self.wcet_ns()
        measured = self.mode == "measured"
        results: list[TaskResult] = []
        batch: list[_Task] = []
        while self._ready and len(batch) < self.batch_size:
            _, _, task = heapq.heappop(self._ready)
            if measured:  # the wall clock moves while the dispatcher works: admit against it
                now = self.clock.now_ns()
                finish = now + self.wcet_ns()
            if task.deadline_ns <= now:
                reason = "expired"
            elif finish > task.deadline_ns:
                reason = "infeasible"  # would finish after its deadline: shed it before starting
            else:
                reason = ""
            if reason:
                self._counts[reason] += 1
                results.append(_result(task, "rejected", reason=reason))
            else:
                batch.append(task)
        if measured and batch:  # the batch starts now: shed what can no longer make it
            finish = self.clock.now_ns() + self.wcet_ns()
            for t in (t for t in batch if finish > t.deadline_ns):
                self._counts["infeasible"] += 1
                results.append(_result(t, "rejected", reason="infeasible"))
            batch = [t for t in batch if finish <= t.deadline_ns]
        if not batch:
            return results
        batch_id = self._counts["batches"]
        self._counts["batches"] += 1
        self._stream_last_used[stream] = batch_id + 1
        try:
            completion, outputs = self._execute(stream, batch, now)
        except Exception as exc:  # async errors surface at sync: fail the batch, loudly counted
            self._counts["failed"] += len(batch)
            self._failed_batches += 1
            reason = f"{type(exc).__name__}: {exc}"
            for t in batch:
                results.append(
                    _result(t, "failed", stream=stream, batch_id=batch_id, reason=reason)
                )
            return results
        for row, t in enumerate(batch):
            latency = completion - t.arrival_ns
            missed = completion > t.deadline_ns
            self.latency.record(latency)
            if missed:
                self.lateness.record(completion - t.deadline_ns)
            self._counts["completed"] += 1
            self._counts["missed"] += missed
            out = None if outputs is None else outputs[row].copy()
            results.append(
                _result(
                    t,
                    "completed",
                    completion_ns=completion,
                    latency_ns=latency,
                    missed=missed,
                    stream=stream,
                    batch_id=batch_id,
                    output=out,
                )
            )
        return results

    def _execute(self, stream: int, batch: list[_Task], now: int) -> tuple[int, np.ndarray | None]:
        """Run one batch on ``stream``; return (completion time, output rows or None)."""
        if self.mode == "simulated":
            b = self.model.breakdown(self._cost(), len(batch), self.pinned)
            index = self._counts["batches"] - 1
            segments = self._pipeline.schedule(stream, now, b, batch_index=index)
            for seg in segments[:3]:
                self._stage_ns[seg.stage] += seg.end_ns - seg.start_ns
            done = segments[-1].end_ns
            self._stream_free[stream] = done
            return done, None
        t0 = self.clock.now_ns()
        stages, outputs = self._runner.run_batch(stream, [t.data for t in batch])
        for name, ns in stages.items():
            self._stage_ns[name] += ns
        done = self.clock.now_ns()
        self.service.record(done - t0)  # packing to sync, as warm-up timed it
        self._counts["overruns"] += done - t0 > self.wcet_ns()
        return done, outputs

    # -- reporting --------------------------------------------------------

    def _label(self) -> str:
        """``"modelled"``, ``"measured"`` (a real GPU) or ``"measured on cudasim|cpu"``."""
        if self.mode == "simulated":
            return LABEL
        return "measured" if self.backend == "cuda" else f"measured on {self.backend}"

    def stats(self) -> ProcessorStats:
        """A snapshot of counters, stage totals, warm-up costs and the WCET in use."""
        c = self._counts
        w = self._warmup
        return ProcessorStats(
            mode=self.mode,
            backend=self.backend,
            timing=self.timing,
            label=self._label(),
            kernel=self.kernel_name,
            batch_size=self.batch_size,
            streams=self.n_streams,
            pinned=self.pinned,
            submitted=c["submitted"],
            queued=len(self._pending) + len(self._ready),
            completed=c["completed"],
            rejected_expired=c["expired"],
            rejected_infeasible=c["infeasible"],
            failed=c["failed"],
            missed=c["missed"],
            batches=c["batches"],
            h2d_ns=self._stage_ns["h2d"],
            kernel_ns=self._stage_ns["kernel"],
            d2h_ns=self._stage_ns["d2h"],
            compile_ns=self._compile_ns,
            first_batch_ns=None if w is None else w.first_ns,
            warmup_batches=None if w is None else w.batches,
            warmup_ns=None if w is None else w.warmup_ns,
            warmup_steady=None if w is None else w.steady,
            steady_batch_ns=None if w is None else int(np.median(w.samples)),
            wcet_ns=self.wcet_ns(),
            wcet_source=self._wcet_source(),
            wcet_percentile=self._wcet_percentile,
            wcet_margin=self._wcet_margin,
            wcet_samples=0 if w is None else len(w.samples),
            wcet_overruns=c["overruns"],
            cpu_parallel=None if self._runner is None else self._runner.parallel,
        )

    def _check(self) -> None:
        """Assert the invariants; tests call this after every operation."""
        s = self.stats()
        assert s.submitted == s.queued + s.completed + s.rejected + s.failed, "a task was lost"
        assert 0 <= s.missed <= s.completed, "more misses than completions"
        assert self.latency.count == s.completed, "histogram holds something other than completions"
        assert self.lateness.count == s.missed, "lateness holds something other than misses"
        assert s.completed + s.failed <= s.batches * s.batch_size, "a batch above batch_size"
        assert all(v >= 0 for v in self._stage_ns.values()), "negative stage time"
        assert self._state in ("new", "running", "closed"), "unknown state"
        if self._state == "running" and self.mode == "measured":
            assert len(self._runner.buffers) == self.n_streams, "one buffer set per stream"
            ok_batches = s.batches - self._failed_batches
            assert self.service.count == ok_batches, "a batch untimed"
            assert s.wcet_overruns <= ok_batches, "more overruns than batches"
            assert s.warmup_batches >= 1 and s.wcet_ns >= 1, "no warm-up or no estimate"


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
