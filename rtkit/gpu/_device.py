"""The measured path of the processor: per-stream buffers, the cached kernel, one batch.

One :class:`BatchRunner` owns, per stream, a buffer set allocated once at
start: host input/output buffers (page-locked with ``cuda.pinned_array`` on a
real GPU: DMA needs pinned pages, and allocating them per task is slow and
serialises streams, S002-30) and device input/output buffers. A batch is
packed into the stream's host input, copied in, run, copied out and
synchronised, all on that stream, so CUDA orders the three (S002-21).

Stage timing: CUDA events recorded on the stream around each stage on a
real GPU (host clocks around async calls would time the enqueueing, not the
work: S002-25); the injected clock around each (synchronous) stage
elsewhere. On ``"cpu"`` the "copies" are the memcpys into and out of the
batch buffers.

Invariant: buffers are never reallocated after :meth:`allocate`; a batch
never holds more than ``batch_size`` rows. Runtime complexity: O(batch) per
batch plus the kernel.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rtkit.clock import Clock
from rtkit.gpu.cache import KernelCache
from rtkit.gpu.kernels._base import launch_config
from rtkit.gpu.kernels.batch import BatchKernel

__all__ = ["BatchRunner"]

STAGES = ("h2d", "kernel", "d2h")


class BatchRunner:
    """Buffers and kernel launches for one processor in measured mode."""

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
        self.buffers: list[dict[str, Any]] = []

    def allocate(self) -> None:
        """Allocate every stream's buffer set (once)."""
        k, n_in, n_out = self.batch_size, self.task_elems, self.out_elems
        if self.backend == "cpu":
            for _ in range(self.n_streams):
                self.buffers.append(
                    {
                        "host_in": np.zeros((k, n_in), np.float32),
                        "host_out": np.zeros((k, n_out), np.float32),
                        "dev_in": np.zeros((k, n_in), np.float32),
                        "dev_out": np.zeros((k, n_out), np.float32),
                    }
                )
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
                }
            )

    def release(self) -> None:
        """Drop the buffers (numba frees device and pinned memory when they are collected)."""
        self.buffers = []

    def kernel_entry(self) -> tuple[Any, Any]:
        """The cached compiled kernel for this batch shape and its launch configuration."""
        bk = self.kernel
        cfg = launch_config(self.batch_size * self.out_elems, self.backend)
        if self.backend == "cpu":
            sig = "(float32[:, ::1], float32[:, ::1])"
            return self.cache.get(bk.name, lambda _s: _compile_cpu(bk.cpu), sig, None), cfg
        sig = "(float32[:, ::1], int64, ...)"
        launch = (cfg.blocks, cfg.threads_per_block)
        backend = self.backend
        entry = self.cache.get(bk.name, lambda _s: _compile_cuda(bk.spec, backend), sig, launch)
        return entry, cfg

    def warm_up(self) -> tuple[int, int, int]:
        """Compile, then run two batches of zeros: ``(compile_ns, first_ns, steady_ns)``.

        The first batch still pays one-off costs (on a GPU: context and module
        load; on the CPU: thread-pool start-up); the second is steady state.
        """
        t0 = self.clock.now_ns()
        self.kernel_entry()
        compile_ns = self.clock.now_ns() - t0
        zeros = [np.zeros(self.task_elems, np.float32)] * self.batch_size
        t1 = self.clock.now_ns()
        self.run_batch(0, zeros)
        first_ns = self.clock.now_ns() - t1
        t2 = self.clock.now_ns()
        self.run_batch(0, zeros)
        return compile_ns, first_ns, self.clock.now_ns() - t2

    def run_batch(self, stream: int, rows: list[np.ndarray]) -> tuple[dict[str, int], np.ndarray]:
        """Pack, copy in, launch, copy out, sync; return stage times (ns) and the output rows."""
        buf = self.buffers[stream]
        n = len(rows)
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
            return dict(zip(STAGES, (t1 - t0, t2 - t1, t3 - t2), strict=True)), host_out[:n]
        s = buf["stream"]
        events = buf["events"]
        args = self.kernel.extra_args(self.task_elems)
        t0 = clock.now_ns()
        if events:
            events[0].record(s)
        buf["dev_in"].copy_to_device(host_in, stream=s)
        if events:
            events[1].record(s)
        t1 = clock.now_ns()
        launch = entry.compiled[cfg.blocks, cfg.threads_per_block, s]  # same stream as copies
        launch(buf["dev_in"], n, *args, buf["dev_out"])
        if events:
            events[2].record(s)
        t2 = clock.now_ns()
        buf["dev_out"].copy_to_host(host_out, stream=s)
        if events:
            events[3].record(s)
        s.synchronize()  # async copy and kernel errors surface here (S002-26)
        t3 = clock.now_ns()
        if events:  # pragma: no cover - needs a GPU
            ms = [events[i].elapsed_time(events[i + 1]) for i in range(3)]
            return dict(zip(STAGES, (int(m * 1e6) for m in ms), strict=True)), host_out[:n]
        return dict(zip(STAGES, (t1 - t0, t2 - t1, t3 - t2), strict=True)), host_out[:n]


def _compile_cpu(func: Any) -> Any:
    """Compile the CPU counterpart for float32 2-d C arrays now, not at the first task."""
    from numba import float32

    func.compile((float32[:, ::1], float32[:, ::1]))
    return func


def _compile_cuda(spec: Any, backend: str) -> Any:
    """The batch kernel's dispatcher; compiled eagerly for its signature on a real GPU."""
    if backend == "cuda":  # pragma: no cover - needs a GPU
        from numba import cuda

        return cuda.jit(spec.ptx_signatures[0])(spec.py_func())
    return spec.kernel()
