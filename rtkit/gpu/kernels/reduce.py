"""Sum reduction: per-thread grid-stride sums, a shared-memory tree per block, then atomics.

Three levels, each the right tool for its scale: a thread adds up its
grid-stride share in a register (no synchronisation at all); a block
combines its threads' partial sums in shared memory by halving the active
threads each step (``log2(threads_per_block)`` steps, a ``syncthreads``
between them); and one thread per block adds the block's total to the
result with ``cuda.atomic.add``: one global atomic per block, not per
element.

Invariant: the result is the float64 sum of every element, each counted
once. ``threads_per_block`` must be a power of two (the tree halves it).
Runtime complexity: O(n) work, O(n / threads + log threads) steps.

Floating-point addition is not associative: the GPU adds in a different
order from NumPy, and atomics make the order of the block totals vary from
run to run, so the validator allows a relative error of about 1e-12.

Example:
    >>> import numpy as np
    >>> reduce_sum(np.arange(10, dtype=np.float32), backend="cpu")
    45.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import float32, float64

from rtkit.gpu import cpu
from rtkit.gpu.kernels._base import (
    MAX_THREADS_PER_BLOCK,
    KernelSpec,
    check_array,
    check_blocks,
    check_threads,
    launch_config,
    resolve_backend,
    run_kernel,
)

__all__ = ["REDUCE_SUM", "reduce_sum", "reduce_sum_reference"]

cuda: Any = None  # numba.cuda, bound on first GPU use (see _base.bind_cuda)


def _build_reduce(tpb: int = 256):
    """The reduction kernel for blocks of ``tpb`` threads (a compile-time constant)."""
    TPB = tpb

    def _reduce_sum_kernel(x, out):  # pragma: no cover - runs on the device
        partial = cuda.shared.array(TPB, float64)
        t = cuda.threadIdx.x
        acc = 0.0
        for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
            # float64(): in the simulator acc + float32 would stay float32 (NEP 50)
            acc += float64(x[i])
        partial[t] = acc
        cuda.syncthreads()
        step = TPB // 2
        while step > 0:
            if t < step:
                partial[t] += partial[t + step]
            cuda.syncthreads()
            step //= 2
        if t == 0:
            cuda.atomic.add(out, 0, partial[0])

    return _reduce_sum_kernel


REDUCE_SUM = KernelSpec(
    "reduce_sum",
    globals(),
    _build_reduce,
    ptx_signatures=((float32[::1], float64[::1]), (float64[::1], float64[::1])),
    ptx_params={"tpb": 256},
    shared_bytes=lambda tpb=256: 8 * tpb,  # one float64 partial sum per thread
    ptx_extra=(({"tpb": MAX_THREADS_PER_BLOCK}, ((float32[::1], float64[::1]),)),),
)


def reduce_sum_reference(x: np.ndarray) -> float:
    """NumPy reference: ``x.sum()`` in float64."""
    return float(np.sum(x, dtype=np.float64))


def reduce_sum(
    x: np.ndarray,
    *,
    backend: str | None = None,
    threads_per_block: int | None = None,
    blocks: int | None = None,
) -> float:
    """Return the float64 sum of the 1-d float32/float64 array ``x``.

    ``threads_per_block`` must be a power of two, 1..1024 (default 256 on a
    GPU, 32 in the simulator).

    Example:
        >>> import numpy as np
        >>> reduce_sum(np.ones(4, np.float32), threads_per_block=48, backend="cpu")
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: threads_per_block must be a power of two in 1..1024, got 48
    """
    x = check_array("x", x)
    if threads_per_block is not None:  # checked on every back end, before dispatch
        check_threads("threads_per_block", threads_per_block, power_of_two=True)
    if blocks is not None:
        check_blocks(blocks)
    name = resolve_backend(backend)
    if name == "cpu":
        return float(cpu.reduce_sum(x))
    cfg = launch_config(x.size, name, threads_per_block, blocks)
    out = np.zeros(1, np.float64)
    run_kernel(REDUCE_SUM, cfg.blocks, cfg.threads_per_block, (x, out), tpb=cfg.threads_per_block)
    return float(out[0])
