"""Inclusive prefix sum (scan): one block walks the array a tile at a time.

Within a tile, the block runs a Hillis–Steele scan in shared memory: at step
``d`` each thread adds the value ``2**d`` places to its left, so after
``log2(threads_per_block)`` steps every slot holds the sum of its prefix.
A ``carry`` in shared memory adds the total of the tiles already done. Two
``syncthreads`` per step keep readers and writers apart.

One block is the simplest correct scan, and it is what a latency-bound
stream needs for short arrays; long arrays want every SM busy, with a
reduce-then-scan over blocks or CUB's single-pass decoupled look-back (an
exercise). The loop over tiles is the block-level form of a grid-stride loop.

Invariant: ``out[i] == sum(x[:i + 1])``. Runtime complexity: O(n log t)
work for t threads per block (Hillis–Steele is not work-efficient; Blelloch's
scan is O(n)), O(n / t · log t) steps.

Example:
    >>> import numpy as np
    >>> scan(np.arange(1, 6, dtype=np.int64), backend="cpu").tolist()
    [1, 3, 6, 10, 15]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import float64, int64

from rtkit.gpu import cpu
from rtkit.gpu.kernels._base import (
    MAX_THREADS_PER_BLOCK,
    KernelSpec,
    check_array,
    check_threads,
    resolve_backend,
    run_kernel,
)

__all__ = ["SCAN", "scan", "scan_reference"]

cuda: Any = None  # numba.cuda, bound on first GPU use (see _base.bind_cuda)
_NUMBA_TYPES = {"float64": float64, "int64": int64}


def _build_scan(tpb: int = 256, dtype: str = "float64"):
    """The scan kernel for one block of ``tpb`` threads over ``dtype`` values."""
    TPB = tpb
    DT = _NUMBA_TYPES[dtype]

    def _scan_kernel(x, out):  # pragma: no cover - runs on the device
        s = cuda.shared.array(TPB, DT)
        carry = cuda.shared.array(1, DT)
        t = cuda.threadIdx.x
        n = x.shape[0]
        if t == 0:
            carry[0] = 0
        cuda.syncthreads()
        for base in range(0, n, TPB):
            i = base + t
            s[t] = x[i] if i < n else 0
            cuda.syncthreads()
            offset = 1
            while offset < TPB:
                left = s[t - offset] if t >= offset else 0
                cuda.syncthreads()  # everyone has read before anyone writes
                s[t] += left
                cuda.syncthreads()
                offset *= 2
            if i < n:
                out[i] = s[t] + carry[0]
            cuda.syncthreads()  # everyone has read carry before it moves on
            if t == 0:
                carry[0] += s[TPB - 1]
            cuda.syncthreads()

    return _scan_kernel


SCAN = KernelSpec(
    "scan",
    globals(),
    _build_scan,
    ptx_signatures=((float64[::1], float64[::1]),),
    ptx_params={"tpb": 256, "dtype": "float64"},
    shared_bytes=lambda tpb=256, dtype="float64": 8 * (tpb + 1),  # the tile and the carry
    ptx_extra=(
        ({"tpb": MAX_THREADS_PER_BLOCK, "dtype": "float64"}, ((float64[::1], float64[::1]),)),
    ),
)
SCAN_INT = KernelSpec(
    "scan_int64",
    globals(),
    _build_scan,
    ptx_signatures=((int64[::1], int64[::1]),),
    ptx_params={"tpb": 256, "dtype": "int64"},
    shared_bytes=lambda tpb=256, dtype="int64": 8 * (tpb + 1),
    ptx_extra=(({"tpb": MAX_THREADS_PER_BLOCK, "dtype": "int64"}, ((int64[::1], int64[::1]),)),),
)


def scan_reference(x: np.ndarray) -> np.ndarray:
    """NumPy reference: ``np.cumsum(x)``."""
    return np.cumsum(x, dtype=x.dtype)


def scan(
    x: np.ndarray,
    *,
    backend: str | None = None,
    threads_per_block: int | None = None,
) -> np.ndarray:
    """Return the inclusive prefix sum of the 1-d float64 or int64 array ``x``.

    ``threads_per_block`` (one block) must be a power of two, 1..1024;
    default 256 on a GPU, 32 in the simulator.

    Example:
        >>> import numpy as np
        >>> scan(np.ones(3, np.float32), backend="cpu")
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: x must have dtype float64 or int64, got float32
    """
    x = check_array("x", x, dtypes=(np.float64, np.int64))
    if threads_per_block is not None:  # checked on every back end, before dispatch
        check_threads("threads_per_block", threads_per_block, power_of_two=True)
    name = resolve_backend(backend)
    out = np.empty_like(x)
    if name == "cpu":
        cpu.scan(x, out)
        return out
    tpb = (256 if name == "cuda" else 32) if threads_per_block is None else threads_per_block
    spec = SCAN if x.dtype == np.float64 else SCAN_INT
    return run_kernel(spec, 1, tpb, (x, out), tpb=tpb, dtype=x.dtype.name)[0]
