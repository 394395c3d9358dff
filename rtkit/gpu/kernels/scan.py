"""Inclusive prefix sum (scan): one block for short arrays, three phases over many blocks.

Within a tile of ``t`` values, a block runs a Hillis–Steele scan in shared
memory: at step ``d`` each thread adds the value ``2**d`` places to its
left, so after ``log2(t)`` steps every slot holds the sum of its prefix.
Two ``syncthreads`` per step keep readers and writers apart.

Short arrays (at most :data:`SINGLE_BLOCK_TILES` tiles) take one launch: a
single block walks the array a tile at a time, a ``carry`` in shared memory
adding the total of the tiles already done. That is what a latency-bound
stream needs: one launch, no intermediate arrays. Longer arrays want every
SM busy, so they take the classic three-phase scan:

1. ``"blocks"``: every block scans its own tile and writes the tile's total
   to ``sums[block]``;
2. ``sums`` is scanned in place, by the same two paths (so recursively,
   until it fits one block: ``log_t(n)`` levels in all, see :func:`scan_levels`);
3. ``"add"``: every block but the first adds ``sums[block - 1]``, the total
   of all tiles before it, to its tile.

Everything between the copy in and the copy out stays on the device. CUB's
single-pass decoupled look-back does the same in one launch (an exercise).

Invariant: ``out[i] == sum(x[:i + 1])``. Runtime complexity: O(n log t)
work for t threads per block (Hillis–Steele is not work-efficient; Blelloch's
scan is O(n)); ``2L + 1`` launches for ``L = len(scan_levels(n, t)) - 1``
multi-block levels, each O(log t) steps.

Example:
    >>> import numpy as np
    >>> scan(np.arange(1, 6, dtype=np.int64), backend="cpu").tolist()
    [1, 3, 6, 10, 15]
    >>> scan_levels(300, 8)  # 38 tiles, whose 38 totals take 5 tiles, whose 5 fit one block
    (300, 38, 5)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import float64, int64

from rtkit.errors import check_int
from rtkit.gpu import cpu
from rtkit.gpu.kernels._base import (
    MAX_THREADS_PER_BLOCK,
    KernelSpec,
    bind_cuda,
    check_array,
    check_launch,
    check_threads,
    resolve_backend,
)

__all__ = ["SCAN", "SCAN_INT", "SINGLE_BLOCK_TILES", "scan", "scan_levels", "scan_reference"]

cuda: Any = None  # numba.cuda, bound on first GPU use (see _base.bind_cuda)
_NUMBA_TYPES = {"float64": float64, "int64": int64}

#: Arrays of at most this many tiles are scanned by one block in one launch.
#: Below it, the two extra launches of the three-phase scan (a few µs each on
#: a GPU) cost more than the tiles one block walks through serially.
SINGLE_BLOCK_TILES = 4


def _build_scan(tpb: int = 256, dtype: str = "float64", phase: str = "single"):
    """One of the scan's kernels for blocks of ``tpb`` threads over ``dtype`` values.

    ``phase`` is ``"single"`` (one block walks the whole array), ``"blocks"``
    (each block scans its tile and writes its total) or ``"add"`` (each
    block adds the scanned total of the tiles before it).
    """
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

    # The tile scan below repeats _scan_kernel's on purpose: as a cuda.jit(device=True)
    # function it would need a CUDA context to compile, and the PTX check must run without one.
    def _scan_blocks_kernel(x, out, sums):  # pragma: no cover - runs on the device
        s = cuda.shared.array(TPB, DT)
        t = cuda.threadIdx.x
        b = cuda.blockIdx.x
        i = b * TPB + t
        n = x.shape[0]
        # zero padding past the end, so the last (ragged) tile's total is right
        s[t] = x[i] if i < n else 0
        cuda.syncthreads()
        offset = 1
        while offset < TPB:
            left = s[t - offset] if t >= offset else 0
            cuda.syncthreads()  # everyone has read before anyone writes
            s[t] += left
            cuda.syncthreads()
            offset *= 2
        # x and out may be the same array: thread t reads x[i] before it writes out[i]
        if i < n:
            out[i] = s[t]
        if t == TPB - 1:
            sums[b] = s[t]

    def _scan_add_kernel(out, sums):  # pragma: no cover - runs on the device
        b = cuda.blockIdx.x
        i = b * TPB + cuda.threadIdx.x
        if b > 0 and i < out.shape[0]:  # the first tile has nothing before it
            out[i] += sums[b - 1]

    return {"single": _scan_kernel, "blocks": _scan_blocks_kernel, "add": _scan_add_kernel}[phase]


def _shared_bytes(tpb: int = 256, dtype: str = "float64", phase: str = "single") -> int:
    """Static shared memory of a block: the tile, plus the carry of the one-block kernel."""
    return {"single": 8 * (tpb + 1), "blocks": 8 * tpb, "add": 0}[phase]


def _spec(name: str, dtype: str, nt: Any) -> KernelSpec:
    big = MAX_THREADS_PER_BLOCK
    return KernelSpec(
        name,
        globals(),
        _build_scan,
        ptx_signatures=((nt[::1], nt[::1]),),
        ptx_params={"tpb": 256, "dtype": dtype},
        shared_bytes=_shared_bytes,
        ptx_extra=(
            ({"tpb": big, "dtype": dtype}, ((nt[::1], nt[::1]),)),
            ({"tpb": big, "dtype": dtype, "phase": "blocks"}, ((nt[::1], nt[::1], nt[::1]),)),
            ({"tpb": big, "dtype": dtype, "phase": "add"}, ((nt[::1], nt[::1]),)),
        ),
    )


#: The float64 scan's three kernels (``phase=`` ``"single"``, ``"blocks"``, ``"add"``).
SCAN = _spec("scan", "float64", float64)
#: The int64 scan's three kernels.
SCAN_INT = _spec("scan_int64", "int64", int64)


def scan_reference(x: np.ndarray) -> np.ndarray:
    """NumPy reference: ``np.cumsum(x)``."""
    return np.cumsum(x, dtype=x.dtype)


def scan_levels(n: int, threads_per_block: int) -> tuple[int, ...]:
    """The lengths scanned at each level for ``n`` values: ``n``, its tile totals, theirs, ...

    The last length is scanned by one block (at most :data:`SINGLE_BLOCK_TILES`
    tiles, or any length with one thread per block, whose tiles would never
    shrink); every earlier one by the three phases. Cost: O(log n).

    Example:
        >>> scan_levels(64, 32), scan_levels(129, 32), scan_levels(100, 1)
        ((64,), (129, 5), (100,))
    """
    n = check_int("n", n, minimum=1)
    tpb = check_threads("threads_per_block", threads_per_block, power_of_two=True)
    levels = [n]
    while tpb > 1 and levels[-1] > SINGLE_BLOCK_TILES * tpb:
        levels.append(-(-levels[-1] // tpb))
    return tuple(levels)


def _launch(spec: KernelSpec, grid: int, tpb: int, phase: str, *args: Any) -> None:
    """Check, then launch one of ``spec``'s kernels on device arrays."""
    params = {"tpb": tpb, "dtype": spec.ptx_params["dtype"], "phase": phase}
    grid_t, block_t = check_launch(grid, tpb, _shared_bytes(**params))
    spec.kernel(**params)[grid_t, block_t](*args)


def scan(
    x: np.ndarray,
    *,
    backend: str | None = None,
    threads_per_block: int | None = None,
) -> np.ndarray:
    """Return the inclusive prefix sum of the 1-d float64 or int64 array ``x``, any length.

    ``threads_per_block`` (per block, every phase) must be a power of two,
    1..1024; default 256 on a GPU, 32 in the simulator. Arrays of at most
    :data:`SINGLE_BLOCK_TILES` tiles take one launch of one block; longer
    ones the three-phase scan over :func:`scan_levels`. Float sums may
    differ from NumPy's in the last places (another order of additions).

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
    levels = scan_levels(x.size, tpb)
    grids = [-(-n // tpb) for n in levels[:-1]]  # one block per tile at each multi-block level
    # the largest grid is checked before anything is copied; _launch checks every launch
    check_launch(grids[0] if grids else 1, tpb, _shared_bytes(tpb))
    cuda = bind_cuda(globals())
    # Every level is scanned in place (each thread reads its value before writing it), so
    # the device holds x once plus the tile totals of each level: about n / (t - 1) more.
    bufs = [cuda.to_device(x), *(cuda.device_array(m, x.dtype) for m in levels[1:])]
    for k, grid in enumerate(grids):
        _launch(spec, grid, tpb, "blocks", bufs[k], bufs[k], bufs[k + 1])
    _launch(spec, 1, tpb, "single", bufs[-1], bufs[-1])
    for k in reversed(range(len(grids))):
        _launch(spec, grids[k], tpb, "add", bufs[k], bufs[k + 1])
    bufs[0].copy_to_host(out)
    return out
