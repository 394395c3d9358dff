"""An analytic cost model of a GPU offload pipeline: copy in, kernel, copy out, sync.

No machine here has a GPU, so the lesson explores batching and overlap with
a model, and every number this module returns carries ``label ==
"modelled"`` so that no one mistakes it for a measurement (DESIGN
convention 7). Seed 002 promises "< 1 µs" GPU latency (S002-2); this model
shows why a round trip costs several microseconds before any work is done,
and the batch size at which offloading starts to pay.

One batch of ``k`` tasks, each moving ``bytes_in`` to the device and
``bytes_out`` back, costs::

    h2d    = copy_latency + k * bytes_in  / bandwidth(pinned or pageable, H2D)
    kernel = launch       + max(k * flops / peak_flops, k * device_bytes / device_bandwidth)
    d2h    = copy_latency + k * bytes_out / bandwidth(pinned or pageable, D2H)
    total  = h2d + kernel + d2h + sync

(bytes / (GB/s) is nanoseconds; durations are rounded up to whole ns.)
The kernel term is a roofline: compute-bound or memory-bound, whichever is
slower. With ``n`` streams and two copy engines, H2D of one batch, the
kernel of another and D2H of a third overlap; :func:`timeline` schedules it.

Default parameters (an A100-class GPU on PCIe 4.0 x16), with their sources
or, where no published figure could be found, labelled **assumption**
together with how to measure the value on a real machine:

=====================  =========  ================================================
parameter              default    source / basis
=====================  =========  ================================================
``launch_ns``          4 000      published launch overheads of a few µs: about
                                  4-6 µs of driver and runtime calls per kernel
                                  submission, measured on an RTX 5070 Ti with
                                  CUDA 13 ("pegainfer (3): From Launch Overhead to
                                  CUDA Graph", susun-blog.com); NVIDIA's "Getting
                                  Started with CUDA Graphs" (A. Gray, 2019)
                                  describes the same per-kernel overhead. For an
                                  A100 it is an **assumption**; measure it with an
                                  empty kernel launched in a loop and timed with
                                  CUDA events, or with nvbench.
``sync_ns``            5 000      **assumption**: a stream synchronise as the
                                  host sees it. Measure: empty kernels in a loop
                                  with and without a sync after each.
``pinned_gbps``        25.0       PCIe 4.0 x16 is 16 GT/s × 16 lanes × 128/130 / 8
                                  = 31.5 GB/s per direction (PCI-SIG). Pinned DMA
                                  reaches most of a link's peak: "greater than
                                  5 GBps" on PCIe x16 Gen2 (peak 8 GB/s), CUDA C
                                  Best Practices Guide, "Pinned Memory". 25 GB/s
                                  (79 % of 31.5) is an **assumption** in that
                                  range; measure with ``bandwidthTest
                                  --memory=pinned``.
``pageable_gbps``      12.0       **assumption**: pageable copies are staged
                                  through a pinned buffer (NVIDIA Technical Blog,
                                  "How to Optimize Data Transfers in CUDA C/C++",
                                  M. Harris, 2012: "higher bandwidth is possible
                                  ... when using page-locked memory"); how much
                                  lower varies by host. Measure with
                                  ``bandwidthTest --memory=pageable``.
``copy_latency_ns``    3 000      **assumption**: fixed cost per pinned async copy
                                  (API call and DMA set-up). The same blog:
                                  "batching many small transfers into one larger
                                  transfer performs much better because it
                                  eliminates most of the per-transfer overhead".
                                  Measure with ``bandwidthTest --mode=shmoo``
                                  (time of the smallest copies) or nvbench.
``pageable_extra_ns``  3 000      **assumption**: extra fixed cost of a pageable
                                  copy (staging); measured as ``copy_latency_ns``.
``peak_gflops``        19 500     NVIDIA A100 datasheet: 19.5 TFLOPS FP32.
``device_gbps``        1 555      NVIDIA A100 40 GB datasheet: 1 555 GB/s HBM2.
``copy_engines``       2          CUDA C++ Programming Guide, "Concurrent Data
                                  Transfers": with asyncEngineCount == 2, copies in
                                  both directions overlap each other and kernels.
=====================  =========  ================================================

The assumptions are the ones to change first: the dashboard exposes them.
The CUDA C++ Best Practices Guide's own example of the host–device gap
(16 GB/s PCIe 3.0 x16 against 898 GB/s of V100 device memory) is why
batching small transfers pays.

One more **assumption**: :class:`PipelineState` counts ``launch_ns`` as
compute-engine time; on a GPU a launch is host work that can overlap the
previous kernel, so the model's "compute engine busy" is an upper bound.

Invariant: every duration is a non-negative integer number of nanoseconds;
every result has ``label == "modelled"``. Runtime complexity: O(1) per
breakdown, O(batches) for a timeline.

Example:
    >>> model = CostModel()
    >>> b = model.breakdown(KernelCost.for_kernel("vector_add", 256), batch=1)
    >>> b.total_ns, b.label
    (15018, 'modelled')
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from rtkit.errors import ConfigError, check_choice, check_int

__all__ = [
    "LABEL",
    "Breakdown",
    "CostModel",
    "CurvePoint",
    "KernelCost",
    "PipelineState",
    "Segment",
    "TaskLatency",
]

LABEL = "modelled"
STAGES = ("h2d", "kernel", "d2h")


@dataclass(frozen=True)
class KernelCost:
    """Per-task cost of a kernel: bytes copied each way, flops, device-memory bytes.

    Example:
        >>> KernelCost.for_kernel("matmul", 1024)
        KernelCost(name='matmul', bytes_in=1024, bytes_out=484, flops=2662, device_bytes=1508)
    """

    name: str
    bytes_in: int
    bytes_out: int
    flops: int
    device_bytes: int

    def __post_init__(self) -> None:
        for field in ("bytes_in", "bytes_out", "flops", "device_bytes"):
            check_int(field, getattr(self, field), minimum=0)

    @classmethod
    def for_kernel(cls, name: str, task_bytes: int) -> KernelCost:
        """Cost of one of seed 002's three task kernels on ``task_bytes`` of float32 input.

        * ``"vector_add"``: the input is ``[a | b]``; ``n = task_bytes / 8``
          additions; output ``task_bytes / 2``.
        * ``"matmul"``: the input is two square m×m matrices, ``m =
          isqrt(task_bytes / 8)``; ``2 m³`` flops; output ``4 m²`` bytes.
        * ``"fft"``: ``n = task_bytes / 4`` real points, ``5 n log2 n`` flops
          (the usual FFT operation count), complex64 output (``2 ×`` input).
        """
        name = check_choice("name", name, ("vector_add", "matmul", "fft"))
        task_bytes = check_int("task_bytes", task_bytes, minimum=8)
        if name == "vector_add":
            out = task_bytes // 2
            return cls(name, task_bytes, out, task_bytes // 8, task_bytes + out)
        if name == "matmul":
            m = math.isqrt(task_bytes // 8)
            out = 4 * m * m
            return cls(name, task_bytes, out, 2 * m**3, task_bytes + out)
        n = task_bytes // 4
        out = 2 * task_bytes
        return cls(name, task_bytes, out, math.ceil(5 * n * math.log2(max(n, 2))), task_bytes + out)


@dataclass(frozen=True)
class Breakdown:
    """Modelled time of one batch, stage by stage (ns)."""

    batch: int
    h2d_ns: int
    kernel_ns: int
    d2h_ns: int
    sync_ns: int
    total_ns: int
    label: str = LABEL


@dataclass(frozen=True)
class TaskLatency:
    """Modelled per-task latency when tasks arrive every ``interval_ns`` and wait for a batch.

    ``worst_ns`` is the first task of a batch (it waits for ``batch - 1``
    more arrivals); ``mean_ns`` averages over positions. ``stable`` is False
    when batches take longer than their tasks take to arrive: the queue, and
    the latency, then grow without bound.
    """

    batch: int
    fill_wait_worst_ns: int
    fill_wait_mean_ns: float
    batch_ns: int
    worst_ns: int
    mean_ns: float
    stable: bool
    label: str = LABEL


@dataclass(frozen=True)
class CurvePoint:
    """One point of the throughput/latency curve."""

    batch: int
    throughput_per_s: float
    worst_ns: int
    mean_ns: float
    stable: bool
    label: str = LABEL


@dataclass(frozen=True)
class Segment:
    """One stage of one batch on the overlap timeline (a bar of a Gantt chart)."""

    stream: int
    batch_index: int
    stage: str
    start_ns: int
    end_ns: int
    label: str = LABEL


def _ceil_ns(x: float) -> int:
    return math.ceil(x - 1e-9)  # guard against 40.000000000001 from float division


@dataclass(frozen=True)
class CostModel:
    """Parameters of the pipeline model; see the module docstring for their sources.

    Example:
        >>> CostModel(pinned_gbps=0)
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: pinned_gbps must be > 0, got 0
    """

    launch_ns: int = 4_000
    sync_ns: int = 5_000
    copy_latency_ns: int = 3_000
    pageable_extra_ns: int = 3_000
    pinned_gbps: float = 25.0
    pageable_gbps: float = 12.0
    peak_gflops: float = 19_500.0
    device_gbps: float = 1_555.0
    copy_engines: int = 2
    label: str = LABEL

    def __post_init__(self) -> None:
        for field in ("launch_ns", "sync_ns", "copy_latency_ns", "pageable_extra_ns"):
            check_int(field, getattr(self, field), minimum=0)
        for field in ("pinned_gbps", "pageable_gbps", "peak_gflops", "device_gbps"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"{field} must be > 0, got {value}")
        if check_int("copy_engines", self.copy_engines, minimum=1) > 2:
            raise ConfigError(f"copy_engines must be 1 or 2, got {self.copy_engines}")

    def with_(self, **changes: object) -> CostModel:
        """A copy with some parameters changed (validated)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    # -- one batch --------------------------------------------------------

    def transfer_ns(self, nbytes: int, pinned: bool = True) -> int:
        """Modelled time of one host<->device copy of ``nbytes``.

        Example:
            >>> CostModel().transfer_ns(1_000)   # 3000 + 1000 / 25
            3040
        """
        nbytes = check_int("nbytes", nbytes, minimum=0)
        if pinned:
            return self.copy_latency_ns + _ceil_ns(nbytes / self.pinned_gbps)
        fixed = self.copy_latency_ns + self.pageable_extra_ns
        return fixed + _ceil_ns(nbytes / self.pageable_gbps)

    def kernel_ns(self, cost: KernelCost, batch: int) -> int:
        """Launch overhead plus the roofline time of ``batch`` tasks.

        Example:
            >>> CostModel().kernel_ns(KernelCost("k", 0, 0, 19_500, 0), batch=2)
            4002
        """
        batch = check_int("batch", batch, minimum=1)
        compute = batch * cost.flops / self.peak_gflops
        memory = batch * cost.device_bytes / self.device_gbps
        return self.launch_ns + _ceil_ns(max(compute, memory))

    def breakdown(self, cost: KernelCost, batch: int, pinned: bool = True) -> Breakdown:
        """Stage-by-stage modelled time of one batch of ``batch`` tasks."""
        batch = check_int("batch", batch, minimum=1)
        h2d = self.transfer_ns(batch * cost.bytes_in, pinned)
        kernel = self.kernel_ns(cost, batch)
        d2h = self.transfer_ns(batch * cost.bytes_out, pinned)
        total = h2d + kernel + d2h + self.sync_ns
        return Breakdown(batch, h2d, kernel, d2h, self.sync_ns, total)

    def batch_period_ns(
        self, cost: KernelCost, batch: int, streams: int = 1, pinned: bool = True
    ) -> float:
        """Steady-state time between batch completions with ``streams`` streams.

        One stream runs batches back to back: the period is the whole batch.
        With more streams the stages overlap, and the period is the busiest
        engine's time per batch, but never less than ``total / streams``
        (too few streams cannot fill the pipeline).

        Example:
            >>> m, c = CostModel(), KernelCost("k", 25_000, 25_000, 0, 0)
            >>> m.batch_period_ns(c, 1, streams=1), m.batch_period_ns(c, 1, streams=4)
            (17000.0, 4250.0)
        """
        streams = check_int("streams", streams, minimum=1)
        b = self.breakdown(cost, batch, pinned)
        if streams == 1:
            return float(b.total_ns)
        copies = [b.h2d_ns, b.d2h_ns] if self.copy_engines == 2 else [b.h2d_ns + b.d2h_ns]
        busiest = max([b.kernel_ns, *copies])
        return max(float(busiest), b.total_ns / streams)

    # -- per task ---------------------------------------------------------

    def task_latency(
        self, cost: KernelCost, batch: int, interval_ns: int, streams: int = 1, pinned: bool = True
    ) -> TaskLatency:
        """Per-task latency when one task arrives every ``interval_ns`` and ``batch`` make a launch.

        Example:
            >>> t = CostModel().task_latency(KernelCost.for_kernel("vector_add", 256), 4, 10_000)
            >>> t.fill_wait_worst_ns, t.worst_ns, t.stable
            (30000, 45063, True)
        """
        interval_ns = check_int("interval_ns", interval_ns, minimum=1)
        b = self.breakdown(cost, batch, pinned)
        worst_wait = (batch - 1) * interval_ns
        mean_wait = (batch - 1) * interval_ns / 2
        stable = self.batch_period_ns(cost, batch, streams, pinned) <= batch * interval_ns
        return TaskLatency(
            batch=batch,
            fill_wait_worst_ns=worst_wait,
            fill_wait_mean_ns=mean_wait,
            batch_ns=b.total_ns,
            worst_ns=worst_wait + b.total_ns,
            mean_ns=mean_wait + b.total_ns,
            stable=stable,
        )

    def curve(
        self,
        cost: KernelCost,
        batches: Iterable[int],
        interval_ns: int,
        streams: int = 1,
        pinned: bool = True,
    ) -> list[CurvePoint]:
        """Throughput (tasks/s the pipeline can sustain) and latency for each batch size."""
        points = []
        for k in batches:
            t = self.task_latency(cost, k, interval_ns, streams, pinned)
            period = self.batch_period_ns(cost, k, streams, pinned)
            points.append(CurvePoint(k, k * 1e9 / period, t.worst_ns, t.mean_ns, t.stable))
        return points

    def batch_for_deadline(
        self,
        cost: KernelCost,
        deadline_ns: int,
        interval_ns: int,
        streams: int = 1,
        pinned: bool = True,
        max_batch: int = 4096,
    ) -> int | None:
        """Smallest batch that keeps up with the arrivals and meets ``deadline_ns``; else None.

        The model is deterministic: the first task of a batch always waits
        longest, so meeting the deadline at ``worst_ns`` meets it at P99 and
        at the max. A batch too small cannot keep up (the backlog grows
        without bound); a batch too large makes its first task wait too long.

        Example:
            >>> m, c = CostModel(), KernelCost.for_kernel("vector_add", 256)
            >>> m.batch_for_deadline(c, deadline_ns=100_000, interval_ns=2_000)
            8
            >>> m.batch_for_deadline(c, deadline_ns=20_000, interval_ns=2_000) is None
            True
        """
        deadline_ns = check_int("deadline_ns", deadline_ns, minimum=1)
        max_batch = check_int("max_batch", max_batch, minimum=1)
        for k in range(1, max_batch + 1):
            t = self.task_latency(cost, k, interval_ns, streams, pinned)
            if t.stable and t.worst_ns <= deadline_ns:
                return k
            if t.stable and t.worst_ns > deadline_ns:
                return None  # stable from here on, and worst_ns only grows with k
        return None

    # -- overlap ----------------------------------------------------------

    def timeline(
        self,
        cost: KernelCost,
        batch: int,
        n_batches: int,
        streams: int,
        pinned: bool = True,
        ordered: bool = True,
    ) -> list[Segment]:
        """Schedule ``n_batches`` back-to-back batches over ``streams`` streams (Gantt data).

        ``ordered=False`` schedules seed 002's unordered kernel launch
        (S002-21, see :meth:`PipelineState.schedule`): its kernels start
        before their input has arrived.

        Batch ``i`` goes to stream ``i % streams``. A stage starts when the
        batch's previous stage is done, its engine is free (one H2D and one
        D2H copy engine, or one shared, and one compute engine) and, for H2D,
        when the stream's previous batch has completed (work in a stream is
        FIFO, and its buffers are reused). Segments include a ``"sync"``
        stage of ``sync_ns`` on the host after each D2H.

        Example:
            >>> m, c = CostModel(), KernelCost("k", 25_000, 25_000, 0, 0)
            >>> [(s.stage, s.start_ns, s.end_ns) for s in m.timeline(c, 1, 1, 1)]
            [('h2d', 0, 4000), ('kernel', 4000, 8000), ('d2h', 8000, 12000), ('sync', 12000, 17000)]
            >>> [(s.stage, s.start_ns) for s in m.timeline(c, 1, 1, 1, ordered=False)][:3]
            [('h2d', 0), ('kernel', 0), ('d2h', 4000)]
        """
        n_batches = check_int("n_batches", n_batches, minimum=1)
        state = PipelineState(self, streams)
        b = self.breakdown(cost, batch, pinned)
        segments: list[Segment] = []
        for i in range(n_batches):
            segments.extend(state.schedule(i % streams, 0, b, batch_index=i, ordered=ordered))
        return segments


class PipelineState:
    """Engine and stream availability, for scheduling batches one after another.

    Used by :meth:`CostModel.timeline` and by the processor's simulated mode,
    so that both schedule identically.

    Example:
        >>> m = CostModel()
        >>> state = PipelineState(m, streams=2)
        >>> b = m.breakdown(KernelCost("k", 25_000, 25_000, 0, 0), 1)
        >>> state.schedule(0, 0, b)[-1].end_ns, state.schedule(1, 0, b)[0].start_ns
        (17000, 4000)
    """

    def __init__(self, model: CostModel, streams: int) -> None:
        self.model = model
        self.streams = check_int("streams", streams, minimum=1)
        self.stream_free = [0] * self.streams
        self.engine_free = {"h2d": 0, "kernel": 0, "d2h": 0}

    def schedule(
        self,
        stream: int,
        ready_ns: int,
        b: Breakdown,
        batch_index: int = 0,
        ordered: bool = True,
    ) -> list[Segment]:
        """Place one batch on ``stream``, no earlier than ``ready_ns``; return its segments.

        ``ordered`` (the default, rtkit's way): copy in, kernel and copy out
        on one stream, each stage after the previous one. ``ordered=False``
        is seed 002's ordering (S002-21): the copies on ``stream`` but the
        kernel on no stream at all, so nothing makes the kernel wait for the
        copy in, or the copy out for the kernel: each starts as soon as its
        engine is free.
        """
        d2h_engine = "d2h" if self.model.copy_engines == 2 else "h2d"
        first = max(ready_ns, self.stream_free[stream], self.engine_free["h2d"])
        start = first
        segments = []
        for stage, engine, duration in (
            ("h2d", "h2d", b.h2d_ns),
            ("kernel", "kernel", b.kernel_ns),
            ("d2h", d2h_engine, b.d2h_ns),
        ):
            if not ordered and stage == "kernel":
                start = first  # launched on another stream: it does not wait for the copy
            elif not ordered and stage == "d2h":
                start = segments[0].end_ns  # same stream as the copy in, not the kernel
            start = max(start, self.engine_free[engine])
            end = start + duration
            self.engine_free[engine] = end
            segments.append(Segment(stream, batch_index, stage, start, end))
            start = end
        start = max(seg.end_ns for seg in segments)
        done = start + b.sync_ns
        segments.append(Segment(stream, batch_index, "sync", start, done))
        self.stream_free[stream] = done
        return segments

    def copy(self) -> PipelineState:
        """An independent copy (for a trial schedule that must not change this one)."""
        other = PipelineState(self.model, self.streams)
        other.stream_free = list(self.stream_free)
        other.engine_free = dict(self.engine_free)
        return other

    def earliest_stream(self) -> int:
        """The stream that becomes free first (lowest index on ties)."""
        return min(range(self.streams), key=lambda s: (self.stream_free[s], s))
