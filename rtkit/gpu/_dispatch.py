"""How the processor dispatches: stream choice, admission, batches in flight, completion.

The dispatching half of :class:`~rtkit.gpu.processor.LowLatencyProcessor`
(a mixin it inherits; the state lives on the processor). Simulated mode
places each batch on the cost model's pipeline
(:class:`~rtkit.gpu.costmodel.PipelineState`); measured mode submits it to
a stream of the :class:`~rtkit.gpu._device.BatchRunner` and synchronises
that stream only before reusing its buffers, when there is nothing ready to
send, and at the end of a run, so batches on different streams overlap.

Invariant: a stream holds at most one batch in flight; a batch's tasks are
completed or failed exactly once, when its stream is synchronised.
Runtime complexity: O(log n) per task (the EDF heap) plus O(streams) per
batch.
"""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np

from rtkit.errors import ConfigError, StateError, check_int
from rtkit.gpu._records import TaskResult, _result, _Task

__all__ = ["Dispatcher"]


class Dispatcher:
    """Dispatch methods of the processor (see the module docstring); not used on its own."""

    # Set by LowLatencyProcessor.__init__; declared here for readers and type checkers.
    mode: str
    batch_size: int
    batch_timeout_ns: int
    n_streams: int
    _ready: list[tuple[int, int, _Task]]
    _pending: list[tuple[int, int, _Task]]
    _in_flight: list[tuple[list[_Task], int, int] | None]
    _stream_free: list[int]
    _stream_last_used: list[int]
    _counts: dict[str, int]
    _stage_ns: dict[str, int]
    _runner: Any
    _pipeline: Any
    _max_in_flight: int
    _failed_batches: int

    def _choose_stream(self) -> int:
        """Simulated: the stream free first, then the least recently used.

        Measured: a stream whose buffers are free (no batch in flight), the
        least recently used first; if none is free, the least recently used,
        which is synced before reuse.
        """
        if self.mode == "simulated":
            key = lambda s: (self._stream_free[s], self._stream_last_used[s])  # noqa: E731
        else:
            key = lambda s: (self._in_flight[s] is not None, self._stream_last_used[s])  # noqa: E731
        return min(range(self.n_streams), key=key)

    def _busy_streams(self) -> list[int]:
        """Streams holding a batch not yet synced, oldest batch first (measured mode)."""
        busy = [s for s in range(self.n_streams) if self._in_flight[s] is not None]
        return sorted(busy, key=lambda s: self._in_flight[s][1])

    def _drain(self) -> list[TaskResult]:
        """Synchronise every stream with a batch in flight, oldest first."""
        results: list[TaskResult] = []
        for stream in self._busy_streams():
            results.extend(self._finish(stream))
        return results

    def _batch_wait_until(self, now: int) -> int:
        """When to launch a batch that is not full yet (``now`` means: launch now)."""
        if self.batch_timeout_ns == 0 or len(self._ready) >= self.batch_size or not self._pending:
            return now
        give_up = min(t.arrival_ns for _, _, t in self._ready) + self.batch_timeout_ns
        return min(give_up, self._pending[0][0]) if give_up > now else now

    def _admission_finish(self, stream: int, now: int) -> int:
        """When a batch dispatched on ``stream`` at ``now`` is budgeted to finish."""
        if self.mode == "simulated" and self._wcet_given is None:
            # The exact modelled finish time, engines and streams included.
            trial = self._pipeline.copy()
            b = self.model.breakdown(self._cost(), self.batch_size, self.pinned)
            return trial.schedule(stream, now, b)[-1].end_ns
        if self.mode == "simulated":
            return now + self.wcet_ns()
        # Batches still running on other streams share the engines: budget them too.
        running = sum(
            1 for s in self._busy_streams() if s != stream and self._runner.poll(s) is None
        )
        return now + (1 + running) * self.wcet_ns()

    def _dispatch(self, stream: int, now: int) -> list[TaskResult]:
        """Admit up to ``batch_size`` ready tasks in EDF order and run them as one batch."""
        measured = self.mode == "measured"
        results: list[TaskResult] = []
        if measured and self._in_flight[stream] is not None:
            results.extend(self._finish(stream))  # sync before its buffers are reused
            now = self.clock.now_ns()
        finish = self._admission_finish(stream, now)
        batch: list[_Task] = []
        while self._ready and len(batch) < self.batch_size:
            _, _, task = heapq.heappop(self._ready)
            if measured:  # the wall clock moves while the dispatcher works: admit against it
                now = self.clock.now_ns()
                finish = self._admission_finish(stream, now)
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
            finish = self._admission_finish(stream, self.clock.now_ns())
            for t in (t for t in batch if finish > t.deadline_ns):
                self._counts["infeasible"] += 1
                results.append(_result(t, "rejected", reason="infeasible"))
            batch = [t for t in batch if finish <= t.deadline_ns]
        if not batch:
            return results
        batch_id = self._counts["batches"]
        self._counts["batches"] += 1
        self._stream_last_used[stream] = batch_id + 1
        if not measured:
            done = self._schedule_modelled(stream, len(batch), now)
            return results + self._complete(batch, done, None, stream, batch_id)
        t0 = self.clock.now_ns()
        try:
            self._runner.submit(stream, [t.data for t in batch])
        except Exception as exc:  # a launch that fails at once: fail the batch, counted
            return results + self._fail(batch, exc, stream, batch_id)
        self._in_flight[stream] = (batch, batch_id, t0)
        self._max_in_flight = max(self._max_in_flight, len(self._busy_streams()))
        if self._runner.synchronous:  # the CPU back end: done when the call returns
            results.extend(self._finish(stream))
        return results

    def _schedule_modelled(self, stream: int, n: int, now: int) -> int:
        """Simulated mode: place a batch of ``n`` on the pipeline model; its completion time."""
        b = self.model.breakdown(self._cost(), n, self.pinned)
        index = self._counts["batches"] - 1
        segments = self._pipeline.schedule(stream, now, b, batch_index=index)
        for seg in segments[:3]:
            self._stage_ns[seg.stage] += seg.end_ns - seg.start_ns
        done = segments[-1].end_ns
        self._stream_free[stream] = done
        return done

    def _finish(self, stream: int) -> list[TaskResult]:
        """Synchronise ``stream`` and complete (or fail) the batch it holds."""
        batch, batch_id, t0 = self._in_flight[stream]
        self._in_flight[stream] = None
        try:
            stages, outputs, done = self._runner.sync(stream)
        except Exception as exc:  # async errors surface at sync: fail the batch, counted
            return self._fail(batch, exc, stream, batch_id)
        for name, ns in stages.items():
            self._stage_ns[name] += ns
        self.service.record(done - t0)  # packing to completion, as warm-up timed it
        self._counts["overruns"] += done - t0 > self.wcet_ns()
        return self._complete(batch, done, outputs, stream, batch_id)

    def _fail(
        self, batch: list[_Task], exc: Exception, stream: int, batch_id: int
    ) -> list[TaskResult]:
        self._counts["failed"] += len(batch)
        self._failed_batches += 1
        reason = f"{type(exc).__name__}: {exc}"
        return [
            _result(t, "failed", stream=stream, batch_id=batch_id, reason=reason) for t in batch
        ]

    def _complete(
        self,
        batch: list[_Task],
        completion: int,
        outputs: np.ndarray | None,
        stream: int,
        batch_id: int,
    ) -> list[TaskResult]:
        results = []
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

    def inject_fault(self, stream: int, message: str = "illegal memory access") -> None:
        """Measured mode: make ``stream``'s next synchronise fail, as an async GPU error would.

        The batch then on that stream is failed and counted (S002-26).
        """
        if self._runner is None:
            raise StateError("inject_fault needs a started processor in measured mode")
        stream = check_int("stream", stream, minimum=0)
        if stream >= self.n_streams:
            raise ConfigError(f"stream must be 0..{self.n_streams - 1}, got {stream}")
        self._runner.inject_fault(stream, message)
