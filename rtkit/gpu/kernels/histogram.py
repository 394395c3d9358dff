"""Histogram with per-block bins in shared memory: how to count latencies on a GPU.

Counting straight into global memory makes every thread that hits the same
bin contend for one atomic. Instead each block keeps private bins in
shared memory (fast atomics, contention only within the block), and at the
end adds each non-empty bin to the global result once: ``blocks × bins``
global atomics instead of ``n``. The same privatise-then-merge idea makes
:class:`rtkit.LatencyHistogram` mergeable across threads.

Bins are fixed-width over integer values (latencies in nanoseconds): value
``v`` lands in bin ``(v - lo) // width``, clamped to ``[0, bins - 1]``, so
nothing is dropped silently (the edge bins also count what lies beyond).

``values - lo`` must fit in int64 for every value (the kernels subtract in
int64): a range whose width overflows, such as ``2**62`` with ``lo =
-2**62``, is refused rather than wrapped into the wrong bin. The reference
subtracts in uint64 above ``lo``, where the difference is exact.

Invariant: ``counts.sum() == values.size``. Runtime complexity: O(n + blocks × bins).

Example:
    >>> import numpy as np
    >>> histogram(np.array([0, 5, 10, 99, -3]), bins=4, lo=0, width=5, backend="cpu").tolist()
    [2, 1, 1, 1]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import int32, int64

from rtkit.errors import ConfigError, check_int
from rtkit.gpu import cpu
from rtkit.gpu.kernels._base import (
    KernelSpec,
    check_array,
    check_blocks,
    check_threads,
    launch_config,
    resolve_backend,
    run_kernel,
)

__all__ = ["HISTOGRAM", "MAX_BINS", "histogram", "histogram_reference"]

cuda: Any = None  # numba.cuda, bound on first GPU use (see _base.bind_cuda)
MAX_BINS = 4096  # 16 KiB of int32 shared memory per block: fits every GPU's 48 KiB


def _build_histogram(bins: int = 256):
    """The kernel for ``bins`` shared-memory bins (a compile-time constant)."""
    NBINS = bins

    def _histogram_kernel(values, lo, width, counts):  # pragma: no cover - device
        local = cuda.shared.array(NBINS, int32)
        t = cuda.threadIdx.x
        for b in range(t, NBINS, cuda.blockDim.x):
            local[b] = 0
        cuda.syncthreads()
        for i in range(cuda.grid(1), values.shape[0], cuda.gridsize(1)):
            b = (values[i] - lo) // width
            b = min(max(b, 0), NBINS - 1)
            cuda.atomic.add(local, b, 1)
        cuda.syncthreads()
        for b in range(t, NBINS, cuda.blockDim.x):
            if local[b] != 0:
                cuda.atomic.add(counts, b, int64(local[b]))

    return _histogram_kernel


HISTOGRAM = KernelSpec(
    "histogram",
    globals(),
    _build_histogram,
    ptx_signatures=((int64[::1], int64, int64, int64[::1]),),
    ptx_params={"bins": 256},
    shared_bytes=lambda bins=256: 4 * bins,  # int32 bins
    ptx_extra=(({"bins": MAX_BINS}, ((int64[::1], int64, int64, int64[::1]),)),),
)
_INT64 = np.iinfo(np.int64)


def histogram_reference(values: np.ndarray, bins: int, lo: int, width: int) -> np.ndarray:
    """NumPy reference: clamped fixed-width bin counts (int64), exact for any int64 range.

    Values below ``lo`` go to bin 0; above it, ``values - lo`` is computed in
    uint64, where it cannot wrap (it lies in ``[0, 2**64)``).

    Example:
        >>> histogram_reference(np.array([2**62, -2**62]), 4, -2**62, 2**61).tolist()
        [1, 0, 0, 1]
    """
    values = np.asarray(values, np.int64)
    below = values < lo
    diff = values.view(np.uint64) - np.int64(lo).view(np.uint64)  # modulo 2**64: exact here
    idx = np.minimum(diff // np.uint64(width), np.uint64(bins - 1)).astype(np.int64)
    idx[below] = 0
    return np.bincount(idx, minlength=bins).astype(np.int64)


def histogram(
    values: np.ndarray,
    *,
    bins: int,
    lo: int,
    width: int,
    backend: str | None = None,
    threads_per_block: int | None = None,
    blocks: int | None = None,
) -> np.ndarray:
    """Count int64 ``values`` into ``bins`` bins of ``width`` starting at ``lo``.

    ``bins`` is 1..4096, ``width`` >= 1; ``lo`` and ``width`` are int64 and
    ``values - lo`` must not overflow int64. Returns int64 counts.

    Example:
        >>> import numpy as np
        >>> histogram(np.ones(3, np.int64), bins=4, lo=0, width=0, backend="cpu")
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: width must be >= 1, got 0
    """
    values = check_array("values", values, dtypes=(np.int64,))
    bins = check_int("bins", bins, minimum=1)
    if bins > MAX_BINS:
        raise ConfigError(f"bins must be 1..{MAX_BINS} (shared memory per block), got {bins}")
    lo = check_int("lo", lo)
    width = check_int("width", width, minimum=1)
    if not (_INT64.min <= lo <= _INT64.max and width <= _INT64.max):
        raise ConfigError(f"lo and width must fit in int64, got lo={lo}, width={width}")
    lowest, highest = int(values.min()) - lo, int(values.max()) - lo  # Python ints: exact
    if lowest < _INT64.min or highest > _INT64.max:
        raise ConfigError(
            f"values - lo must fit in int64, got a range of {lowest}..{highest} for lo={lo}"
        )
    if threads_per_block is not None:  # checked on every back end, before dispatch
        check_threads("threads_per_block", threads_per_block)
    if blocks is not None:
        check_blocks(blocks)
    name = resolve_backend(backend)
    counts = np.zeros(bins, np.int64)
    if name == "cpu":
        cpu.histogram(values, np.int64(lo), np.int64(width), counts)
        return counts
    cfg = launch_config(values.size, name, threads_per_block, blocks)
    args = (values, np.int64(lo), np.int64(width), counts)
    return run_kernel(HISTOGRAM, cfg.blocks, cfg.threads_per_block, args, bins=bins)[0]
