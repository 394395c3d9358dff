"""The measured path of the processor: per-stream buffers, the cached kernel, one batch.

One :class:`BatchRunner` owns, per stream, a buffer set allocated once at
start: host input/output buffers (page-locked with ``cuda.pinned_array`` on a
real GPU: DMA needs pinned pages, and allocating them per task is slow and
serialises streams, S002-30) and device input/output buffers. A batch is
packed into the stream's host input, copied in, run and copied out, all on
that stream, so CUDA orders the three (S002-21); it is synchronised later,
before the stream's buffers are reused, so batches on different streams
overlap (see :class:`BatchRunner`).

Stage timing: CUDA events recorded on the stream around each stage on a
real GPU (host clocks around async calls would time the enqueueing, not the
work: S002-25); the injected clock around each (synchronous) stage
elsewhere. On ``"cpu"`` the "copies" are the memcpys into and out of the
batch buffers.

What a task is, in both of the processor's modes: :func:`allowed_task_elems`
(a ``[a | b]`` row for the vector add, two m×m matrices for the matrix
multiply), checked by :func:`check_task_elems` with the nearest allowed sizes
in the error.

Warm-up (:func:`warm_up_until_steady`, S002-45): the first call after the
compile, then batches until ``k`` consecutive ones are within ``factor`` of
the running median, bounded by a count and a time, then a steady-state
sample that the processor's WCET estimate is taken from.

CPU back end, serial or parallel. Numba's ``parallel=True`` loops fork and
join worker threads of its threading layer (``numba.threading_layer()``:
``"omp"`` with GNU libgomp on Linux wheels, ``"workqueue"`` where no OpenMP
or TBB runtime is found; ``numba.get_num_threads()`` workers). Measured on
a shared two-core machine with the ``omp`` layer, a 4 × 64-float vector add
took about 4 µs back to back while the machine was quiet, and 8–24 ms for
the first few dozen calls and again after idle spells of 0.1–10 ms; serial
code for the same batch took 0.5–45 µs throughout. The cause is not the
loop's work but the join: it waits for *every* worker, and a worker that has
parked (libgomp spins for a while, ``GOMP_SPINCOUNT``, then sleeps on a
futex) or has been preempted must be scheduled again; on cores busy with
other processes that takes one or more scheduler ticks (4 ms at 250 Hz).
Under steady contention even back-to-back calls paid it. ``workqueue``
never pays ticks but costs about 50–70 µs a call, whatever the thread
count. A keep-warm thread calling the kernel would only hide this by
burning a core that other work needs (``OMP_WAIT_POLICY=active`` does the
same), and still loses its core to preemption. The engineering answer is
not to fork for a batch whose work is a few microseconds: below
:data:`PARALLEL_MIN_FLOPS` of batch work the runner uses a serial
compilation of the same loop (``prange`` runs as ``range``), and the
parallel one above it, where the work dwarfs the join.

Invariant: buffers are never reallocated after :meth:`allocate`; a batch
never holds more than ``batch_size`` rows. Runtime complexity: O(batch) per
batch plus the kernel.
"""

from __future__ import annotations

import itertools
import math
import statistics
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rtkit.clock import Clock
from rtkit.errors import ConfigError, check_choice, check_int
from rtkit.gpu.cache import KernelCache
from rtkit.gpu.kernels._base import launch_config
from rtkit.gpu.kernels.batch import BatchKernel

__all__ = [
    "PARALLEL_MIN_FLOPS",
    "BatchRunner",
    "WarmupPolicy",
    "WarmupReport",
    "allowed_task_elems",
    "check_task_elems",
    "warm_up_until_steady",
]

STAGES = ("h2d", "kernel", "d2h")

#: Batch work (flops, :class:`~rtkit.gpu.costmodel.KernelCost`) from which the CPU back end
#: forks: about a millisecond of serial work, against a join of 5-50 µs on idle cores and
#: milliseconds on busy ones.
PARALLEL_MIN_FLOPS = 1 << 20

_TASK_SHAPES = {
    "vector_add": "an even number of elements >= 2 ([a | b])",
    "matmul": "2*m*m elements (two m x m matrices [A | B])",
    "fft": "at least 2 elements",
}


def allowed_task_elems(kernel: str, near: int) -> tuple[int, ...]:
    """The task sizes (float32 elements) ``kernel`` accepts nearest ``near``: itself if allowed.

    Example:
        >>> allowed_task_elems("matmul", 256), allowed_task_elems("matmul", 242)
        ((242, 288), (242,))
        >>> allowed_task_elems("vector_add", 65)
        (64, 66)
    """
    kernel = check_choice("kernel", kernel, tuple(_TASK_SHAPES))
    near = check_int("near", near, minimum=1)
    if kernel == "matmul":
        m = math.isqrt(near // 2)
        sizes = (near,) if 2 * m * m == near else (2 * m * m, 2 * (m + 1) ** 2)
    elif kernel == "vector_add":
        sizes = (near - near % 2, near + near % 2) if near >= 2 else (2,)
    else:
        sizes = (max(near, 2),)
    return tuple(sorted({n for n in sizes if n >= 2}))


def check_task_elems(kernel: str, task_elems: int) -> int:
    """``task_elems`` if ``kernel`` takes tasks of that size, else a ConfigError naming sizes."""
    allowed = allowed_task_elems(kernel, task_elems)
    if allowed != (task_elems,):
        nearest = " or ".join(str(n) for n in allowed)
        raise ConfigError(
            f"{kernel} tasks need {_TASK_SHAPES[kernel]}; nearest allowed: {nearest}, "
            f"got {task_elems}"
        )
    return task_elems


@dataclass(frozen=True)
class WarmupPolicy:
    """When warm-up is over, and how large the steady-state sample is.

    Warm-up runs at least ``min_batches`` batches of zeros, and then until
    ``k`` consecutive batch times lie within ``factor`` of the median of the
    last ``4 k`` (the running median), or until ``max_batches`` batches or
    ``max_ns`` have gone by (then it is reported as not steady). Then up to
    ``samples`` more batches, within another ``max_ns``, are the
    steady-state sample. The minimum is there because a run of slow first
    calls is itself "steady" by the median test: numba's parallel loops were
    seen to pay milliseconds a call for the first few dozen calls.
    """

    k: int = 8
    min_batches: int = 32
    factor: float = 4.0
    max_batches: int = 300
    max_ns: int = 300_000_000
    samples: int = 100

    def __post_init__(self) -> None:
        check_int("k", self.k, minimum=1)
        check_int("min_batches", self.min_batches, minimum=1)
        check_int("max_batches", self.max_batches, minimum=max(self.k, self.min_batches))
        check_int("max_ns", self.max_ns, minimum=1)
        check_int("samples", self.samples, minimum=1)
        if not (isinstance(self.factor, (int, float)) and self.factor > 1.0):
            raise ConfigError(f"factor must be > 1.0, got {self.factor!r}")


@dataclass(frozen=True)
class WarmupReport:
    """What warming up cost: the first call, the warm-up batches, and the steady sample (ns)."""

    first_ns: int
    batches: int
    warmup_ns: int
    steady: bool
    samples: tuple[int, ...]


def warm_up_until_steady(
    time_batch: Callable[[], int], policy: WarmupPolicy, clock: Clock
) -> WarmupReport:
    """Time batches with ``time_batch()`` (returns ns) until steady, then take the sample.

    The first call is reported on its own (``first_ns``); ``batches`` counts
    it and every warm-up batch after it, ``warmup_ns`` is their total time.

    Example:
        >>> from rtkit.clock import VirtualClock
        >>> times = iter([9_000_000, 8_000_000, 7_000] + [5_000] * 200)
        >>> policy = WarmupPolicy(k=3, min_batches=3, samples=4)
        >>> r = warm_up_until_steady(lambda: next(times), policy, VirtualClock())
        >>> r.first_ns, r.batches, r.steady, r.samples
        (9000000, 5, True, (5000, 5000, 5000, 5000))
    """
    first = time_batch()
    seen: list[int] = []
    t0 = clock.now_ns()
    steady = False
    while len(seen) + 1 < policy.max_batches:
        seen.append(time_batch())
        if len(seen) + 1 >= policy.min_batches and len(seen) >= policy.k:
            median = statistics.median(seen[-4 * policy.k :])
            lo, hi = median / policy.factor, median * policy.factor
            if all(lo <= t <= hi for t in seen[-policy.k :]):
                steady = True
                break
        if clock.now_ns() - t0 >= policy.max_ns:
            break
    samples: list[int] = []
    t1 = clock.now_ns()
    while len(samples) < policy.samples:
        samples.append(time_batch())
        if clock.now_ns() - t1 >= policy.max_ns:
            break
    return WarmupReport(first, 1 + len(seen), first + sum(seen), steady, tuple(samples))


class BatchRunner:
    """Buffers and kernel launches for one processor in measured mode.

    A batch is :meth:`submit`-ted to a stream (packed, copied in, launched,
    copied out: all enqueued on that stream, none waited for) and later
    :meth:`sync`-ed, which waits for the stream, surfaces any asynchronous
    error (S002-26) and hands back the output rows. The caller must sync a
    stream before submitting to it again (its buffers are in use until
    then); :meth:`poll` says, without blocking, whether a stream's batch is
    known to be done and since when.

    Where the work really runs asynchronously differs by back end:

    * ``"cuda"``: copies and kernel are asynchronous on the stream; an event
      recorded after the copy out marks completion, and :meth:`poll` queries
      it. Stages are timed with events.
    * ``"cudasim"``: the same calls, but the simulator executes each one
      before it returns: the batch is done when :meth:`submit` returns, and
      :meth:`sync` is the real ``stream.synchronize()`` call.
    * ``"cpu"``: synchronous (:attr:`synchronous` is True): :meth:`submit`
      does the whole batch, there is nothing to overlap, and the processor
      syncs at once.

    ``parallel`` (CPU back end only) picks numba's parallel loop or its
    serial compilation; None picks by the batch's work against
    :data:`PARALLEL_MIN_FLOPS`. ``allocations`` counts the arrays this
    runner ever allocated: four per stream, all in :meth:`allocate`.
    """

    def __init__(
        self,
        backend: str,
        kernel: BatchKernel,
        task_elems: int,
        out_elems: int,
        batch_size: int,
        streams: int,
        clock: Clock,
        cache: KernelCache,
        parallel: bool | None = None,
    ) -> None:
        self.backend = backend
        self.kernel = kernel
        self.task_elems = task_elems
        self.out_elems = out_elems
        self.batch_size = batch_size
        self.n_streams = streams
        self.clock = clock
        self.cache = cache
        self.pinned = False
        self.synchronous = backend == "cpu"
        self.allocations = 0
        self.buffers: list[dict[str, Any]] = []
        if backend != "cpu":
            self.parallel: bool | None = None
        elif parallel is None:
            self.parallel = batch_size * kernel.cost(task_elems).flops >= PARALLEL_MIN_FLOPS
        else:
            self.parallel = bool(parallel)

    def allocate(self) -> None:
        """Allocate every stream's buffer set (once)."""
        if self.buffers:
            raise ConfigError("buffers are allocated once, at start")
        k, n_in, n_out = self.batch_size, self.task_elems, self.out_elems
        if self.backend == "cpu":
            for _ in range(self.n_streams):
                self.buffers.append(
                    {
                        "host_in": np.zeros((k, n_in), np.float32),
                        "host_out": np.zeros((k, n_out), np.float32),
                        "dev_in": np.zeros((k, n_in), np.float32),
                        "dev_out": np.zeros((k, n_out), np.float32),
                        "pending": None,
                        "fault": None,
                    }
                )
                self.allocations += 4
            return
        from numba import cuda

        # Real page-locked memory only on a GPU; the simulator's pinned_array is plain NumPy.
        self.pinned = self.backend == "cuda"
        for _ in range(self.n_streams):
            s = cuda.stream()
            self.buffers.append(
                {
                    "stream": s,
                    "host_in": cuda.pinned_array((k, n_in), np.float32),
                    "host_out": cuda.pinned_array((k, n_out), np.float32),
                    "dev_in": cuda.device_array((k, n_in), np.float32, stream=s),
                    "dev_out": cuda.device_array((k, n_out), np.float32, stream=s),
                    "events": [cuda.event() for _ in range(4)] if self.pinned else None,
                    "pending": None,
                    "fault": None,
                }
            )
            self.allocations += 4

    def release(self) -> None:
        """Drop the buffers (numba frees device and pinned memory when they are collected)."""
        self.buffers = []

    def kernel_entry(self) -> tuple[Any, Any]:
        """The cached compiled kernel for this batch shape and its launch configuration."""
        bk = self.kernel
        cfg = launch_config(self.batch_size * self.out_elems, self.backend)
        if self.backend == "cpu":  # the CPU's "launch configuration": fork or not
            sig = "(float32[:, ::1], float32[:, ::1])"
            variant = "parallel" if self.parallel else "serial"
            entry = self.cache.get(bk.name, lambda _s: _compile_cpu(bk.cpu, variant), sig, variant)
            return entry, cfg
        sig = "(float32[:, ::1], int64, ...)"
        launch = (cfg.blocks, cfg.threads_per_block)
        backend = self.backend
        entry = self.cache.get(bk.name, lambda _s: _compile_cuda(bk.spec, backend), sig, launch)
        return entry, cfg

    def warm_up(self, policy: WarmupPolicy) -> tuple[int, WarmupReport]:
        """Compile, then warm up on batches of zeros: ``(compile_ns, report)``.

        The first batch still pays one-off costs (on a GPU: context and module
        load; on the CPU: the threading layer's start-up and cold caches); the
        warm-up runs until batch times settle (:func:`warm_up_until_steady`).
        """
        t0 = self.clock.now_ns()
        self.kernel_entry()
        compile_ns = self.clock.now_ns() - t0
        zeros = [np.zeros(self.task_elems, np.float32)] * self.batch_size
        streams = itertools.count()

        def time_batch() -> int:  # every stream's buffers get warm, in turn
            t = self.clock.now_ns()
            self.run_batch(next(streams) % self.n_streams, zeros)
            return self.clock.now_ns() - t

        return compile_ns, warm_up_until_steady(time_batch, policy, self.clock)

    def inject_fault(self, stream: int, message: str) -> None:
        """Make the next :meth:`sync` of ``stream`` fail, as an asynchronous kernel error would.

        On a GPU an illegal address or a failed copy is reported by the
        stream's next synchronise, not by the launch (S002-26); this puts
        such an error there, for tests and for the lesson.
        """
        self.buffers[stream]["fault"] = str(message)

    def busy(self, stream: int) -> bool:
        """Whether ``stream`` holds a submitted batch that has not been synced."""
        return self.buffers[stream]["pending"] is not None

    def submit(self, stream: int, rows: list[np.ndarray]) -> None:
        """Pack ``rows`` and enqueue copy in, kernel and copy out on ``stream`` (no wait).

        Copies move only the ``len(rows)`` rows in use, not the whole
        ``batch_size`` buffers. Raises ConfigError if the stream's previous
        batch has not been synced (its buffers are still in use).
        """
        buf = self.buffers[stream]
        if buf["pending"] is not None:
            raise ConfigError(f"stream {stream} still holds a batch: sync it before reuse")
        n = len(rows)
        if not 1 <= n <= self.batch_size:
            raise ConfigError(f"a batch has 1..{self.batch_size} rows, got {n}")
        host_in, host_out = buf["host_in"], buf["host_out"]
        for r, row in enumerate(rows):
            host_in[r] = row
        entry, cfg = self.kernel_entry()
        clock = self.clock
        if self.backend == "cpu":
            t0 = clock.now_ns()
            np.copyto(buf["dev_in"][:n], host_in[:n])
            t1 = clock.now_ns()
            entry.compiled(buf["dev_in"][:n], buf["dev_out"][:n])
            t2 = clock.now_ns()
            np.copyto(host_out[:n], buf["dev_out"][:n])
            t3 = clock.now_ns()
            buf["pending"] = {"n": n, "times": (t0, t1, t2, t3), "done_ns": t3}
            return
        s = buf["stream"]
        events = buf["events"]
        args = self.kernel.extra_args(self.task_elems)
        t0 = clock.now_ns()
        if events:
            events[0].record(s)
        buf["dev_in"][:n].copy_to_device(host_in[:n], stream=s)  # only the rows in use
        if events:
            events[1].record(s)
        t1 = clock.now_ns()
        launch = entry.compiled[cfg.blocks, cfg.threads_per_block, s]  # same stream as copies
        launch(buf["dev_in"], n, *args, buf["dev_out"])
        if events:
            events[2].record(s)
        t2 = clock.now_ns()
        buf["dev_out"][:n].copy_to_host(host_out[:n], stream=s)
        if events:
            events[3].record(s)
        t3 = clock.now_ns()
        # The simulator has run every call by the time it returns: done now. A GPU: unknown.
        buf["pending"] = {"n": n, "times": (t0, t1, t2, t3), "done_ns": None if events else t3}

    def poll(self, stream: int) -> int | None:
        """When ``stream``'s submitted batch is known to have finished, or None (no blocking)."""
        pending = self.buffers[stream]["pending"]
        if pending is None:
            return None
        done_event = self.buffers[stream]["events"]
        if pending["done_ns"] is None and done_event[3].query():  # pragma: no cover - a GPU
            pending["done_ns"] = self.clock.now_ns()
        return pending["done_ns"]

    def sync(self, stream: int) -> tuple[dict[str, int], np.ndarray, int]:
        """Wait for ``stream``; return stage times (ns), the output rows and the completion time.

        Asynchronous copy and kernel errors surface here (S002-26) and are
        raised; the stream's buffers are free again either way.
        """
        buf = self.buffers[stream]
        pending = buf["pending"]
        if pending is None:
            raise ConfigError(f"stream {stream} holds no batch to sync")
        buf["pending"] = None
        if not self.synchronous:
            buf["stream"].synchronize()  # async copy and kernel errors surface here
        fault, buf["fault"] = buf["fault"], None
        if fault is not None:
            raise RuntimeError(f"stream {stream}: {fault}")
        done = pending["done_ns"]
        if done is None:  # pragma: no cover - needs a GPU
            done = self.clock.now_ns()
        n = pending["n"]
        events = buf.get("events")
        if events:  # pragma: no cover - needs a GPU
            ms = [events[i].elapsed_time(events[i + 1]) for i in range(3)]
            stages = dict(zip(STAGES, (int(m * 1e6) for m in ms), strict=True))
        else:
            t = pending["times"]
            stages = dict(zip(STAGES, (t[1] - t[0], t[2] - t[1], t[3] - t[2]), strict=True))
        return stages, buf["host_out"][:n], done

    def run_batch(self, stream: int, rows: list[np.ndarray]) -> tuple[dict[str, int], np.ndarray]:
        """Submit and sync at once: stage times (ns) and the output rows (warm-up uses this)."""
        self.submit(stream, rows)
        stages, out, _ = self.sync(stream)
        return stages, out


def _compile_cpu(func: Any, variant: str) -> Any:
    """Compile the CPU counterpart (parallel, or serial) for float32 2-d C arrays now.

    The serial variant compiles the same Python function without
    ``parallel=True``, under its own name: numba's on-disk cache names files
    by qualified name and does not key them by the parallel flag, so the two
    variants must not share one.
    """
    from numba import float32, njit

    if variant == "serial":
        py = func.py_func
        clone = types.FunctionType(
            py.__code__, py.__globals__, f"{py.__name__}_serial", py.__defaults__, py.__closure__
        )
        clone.__qualname__ = f"{py.__qualname__}_serial"
        clone.__module__ = py.__module__
        func = njit(cache=True)(clone)
    func.compile((float32[:, ::1], float32[:, ::1]))
    return func


def _compile_cuda(spec: Any, backend: str) -> Any:
    """The batch kernel's dispatcher; compiled eagerly for its signature on a real GPU."""
    if backend == "cuda":  # pragma: no cover - needs a GPU
        from numba import cuda

        return cuda.jit(spec.ptx_signatures[0])(spec.py_func())
    return spec.kernel()
