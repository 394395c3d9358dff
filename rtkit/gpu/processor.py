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

Overlap in measured mode: a batch is dispatched to a stream whose buffers
are free, without synchronising the other streams, so with two or more
streams the copies and kernels of different batches overlap on a GPU
(S002-3). A stream is synchronised only before its buffers are reused (the
least recently used stream, when none is free), when the dispatcher has
nothing ready to send (nothing to overlap with) and at the end of
:meth:`run`; a failed synchronise fails that stream's batch, counted
(S002-26). Completion is recorded per stream: an event polled without
blocking on a GPU; on ``"cudasim"`` the simulator has run each call before
it returns, so the batch is done when it is submitted, and the same code
path runs (deferred syncs included). The ``"cpu"`` back end stays
synchronous: a batch is done when its call returns, so there is nothing to
overlap. Admission allows for the batches still running on other streams
(they share the GPU's engines): a batch admitted with ``r`` of them running
is budgeted ``(r + 1) × wcet``. On ``"cpu"`` a batch with little work runs
a serial compilation of the kernel, one with much work the parallel one
(why: :mod:`rtkit.gpu._device`).

Batching: up to ``batch_size`` ready tasks go in one launch. With
``batch_timeout_ns > 0`` the dispatcher waits up to that long after the
oldest ready task arrived for a batch to fill; with 0 it launches what is
ready. A deadline already passed at :meth:`submit` is an error
(:class:`~rtkit.errors.ValueRangeError`); one that passes while the task
waits is a counted reject (``"expired"``).

Invariant (``_check``): ``submitted == queued + in_flight + completed +
rejected + failed``; a stream holds at most one batch; ``missed <=
completed``; the histogram holds exactly the completed tasks. Runtime
complexity: O(log n) per task for the EDF heap, plus the batch's copies and
kernel.

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
from rtkit.gpu._dispatch import Dispatcher
from rtkit.gpu._records import ProcessorStats, TaskResult, _Task
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


class LowLatencyProcessor(Dispatcher):
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
        self._stream_free = [0] * self.n_streams  # simulated mode: when each stream frees up
        self._stream_last_used = [0] * self.n_streams
        # measured mode: per stream, the batch submitted and not yet synced (tasks, id, start)
        self._in_flight: list[tuple[list[_Task], int, int] | None] = [None] * self.n_streams
        self._max_in_flight = 0
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
                if self._busy_streams():  # nothing to send, so nothing to overlap: drain
                    results.extend(self._drain())
                else:
                    self.clock.sleep_until(self._pending[0][0])
                continue
            stream = self._choose_stream()
            if self._stream_free[stream] > now:  # simulated mode: wait for the stream
                self.clock.sleep_until(self._stream_free[stream])
                continue
            wait_until = self._batch_wait_until(now)
            if wait_until > now:
                if self._busy_streams():
                    results.extend(self._drain())
                else:
                    self.clock.sleep_until(wait_until)
                continue
            results.extend(self._dispatch(stream, now))
        results.extend(self._drain())
        return results

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
            in_flight=sum(len(f[0]) for f in self._in_flight if f is not None),
            max_in_flight_batches=self._max_in_flight,
            buffer_allocations=None if self._runner is None else self._runner.allocations,
        )

    def _check(self) -> None:
        """Assert the invariants; tests call this after every operation."""
        s = self.stats()
        total = s.queued + s.in_flight + s.completed + s.rejected + s.failed
        assert s.submitted == total, "a task was lost"
        assert s.max_in_flight_batches <= s.streams, "a stream holds two batches"
        assert 0 <= s.missed <= s.completed, "more misses than completions"
        assert self.latency.count == s.completed, "histogram holds something other than completions"
        assert self.lateness.count == s.missed, "lateness holds something other than misses"
        assert s.completed + s.failed <= s.batches * s.batch_size, "a batch above batch_size"
        assert all(v >= 0 for v in self._stage_ns.values()), "negative stage time"
        assert self._state in ("new", "running", "closed"), "unknown state"
        if self._state == "running" and self.mode == "measured":
            assert len(self._runner.buffers) == self.n_streams, "one buffer set per stream"
            assert s.buffer_allocations == 4 * self.n_streams, "buffers allocated after start"
            for stream, f in enumerate(self._in_flight):
                assert (f is not None) == self._runner.busy(stream), "in-flight record out of step"
            in_flight = sum(f is not None for f in self._in_flight)
            ok_batches = s.batches - self._failed_batches - in_flight
            assert self.service.count == ok_batches, "a batch untimed"
            assert s.wcet_overruns <= ok_batches, "more overruns than batches"
            assert s.warmup_batches >= 1 and s.wcet_ns >= 1, "no warm-up or no estimate"
