"""Matrix multiply: a naive kernel and a tiled one that stages tiles in shared memory.

The naive kernel gives each thread one output element and reads a row of
``a`` and a column of ``b`` from global memory: ``2k`` global loads per
output. The tiled kernel lets a ``TILE × TILE`` block cooperatively load one
tile of ``a`` and one of ``b`` into shared memory, synchronise, and reuse
each loaded value ``TILE`` times: global traffic falls by a factor of
``TILE`` (the CUDA C++ Programming Guide's shared-memory example). Seed
002's ``matrixMultiplyKernel`` is a 50 µs sleep (S002-44).

Both use grid-stride loops (2-D): the naive one over output elements, the
tiled one over output tiles, so any grid computes the whole product. In the
tiled kernel every thread of a block runs the same loop trip counts, which
is what makes its ``cuda.syncthreads()`` calls safe.

Invariant: ``c[i, j] = sum_k a[i, k] * b[k, j]``, accumulated in float64.
The explicit ``float64(...)`` casts matter in the simulator, which runs the
kernel as Python: there ``0.0 + float32`` stays float32 (NumPy 2, NEP 50),
while the compiled kernel would promote to float64.
Runtime complexity: O(m·n·k) work.

Example:
    >>> import numpy as np
    >>> a = np.arange(6, dtype=np.float32).reshape(2, 3)
    >>> matmul(a, a.T.copy(), backend="cpu").tolist()
    [[5.0, 14.0], [14.0, 50.0]]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import float32, float64

from rtkit.errors import ConfigError, IncompatibleError, check_choice, check_int
from rtkit.gpu import cpu
from rtkit.gpu.kernels._base import (
    KernelSpec,
    check_array,
    check_blocks,
    resolve_backend,
    run_kernel,
)

__all__ = ["MATMUL_NAIVE", "MATMUL_TILED", "matmul", "matmul_reference"]

cuda: Any = None  # numba.cuda, bound on first GPU use (see _base.bind_cuda)
_NUMBA_TYPES = {"float32": float32, "float64": float64}


def _matmul_naive_kernel(a, b, c):  # pragma: no cover - runs on the device
    x0, y0 = cuda.grid(2)
    sx, sy = cuda.gridsize(2)
    for i in range(y0, c.shape[0], sy):
        for j in range(x0, c.shape[1], sx):
            acc = 0.0
            for k in range(a.shape[1]):
                acc += float64(a[i, k]) * float64(b[k, j])
            c[i, j] = acc


def _build_tiled(tile: int = 16, dtype: str = "float32"):
    """The tiled kernel for ``tile × tile`` blocks; ``tile`` and ``dtype`` are compile-time."""
    TILE = tile
    DT = _NUMBA_TYPES[dtype]

    def _matmul_tiled_kernel(a, b, c):  # pragma: no cover - runs on the device
        sa = cuda.shared.array((TILE, TILE), DT)
        sb = cuda.shared.array((TILE, TILE), DT)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        m, inner = a.shape
        n = b.shape[1]
        tiles_y = (m + TILE - 1) // TILE
        tiles_x = (n + TILE - 1) // TILE
        tiles_k = (inner + TILE - 1) // TILE
        for by in range(cuda.blockIdx.y, tiles_y, cuda.gridDim.y):
            for bx in range(cuda.blockIdx.x, tiles_x, cuda.gridDim.x):
                row = by * TILE + ty
                col = bx * TILE + tx
                acc = 0.0
                for t in range(tiles_k):
                    k_a = t * TILE + tx
                    k_b = t * TILE + ty
                    sa[ty, tx] = a[row, k_a] if row < m and k_a < inner else 0
                    sb[ty, tx] = b[k_b, col] if k_b < inner and col < n else 0
                    cuda.syncthreads()  # the whole tile is loaded before anyone reads it
                    for k in range(TILE):
                        acc += float64(sa[ty, k]) * float64(sb[k, tx])
                    cuda.syncthreads()  # nobody overwrites the tile while others read it
                if row < m and col < n:
                    c[row, col] = acc

    return _matmul_tiled_kernel


_SIGS_2D = tuple((t[:, ::1], t[:, ::1], t[:, ::1]) for t in (float32, float64))
MATMUL_NAIVE = KernelSpec("matmul_naive", globals(), lambda: _matmul_naive_kernel, _SIGS_2D)
MAX_TILE = 32  # a 32 x 32 block is 1024 threads, the most a block may have
MATMUL_TILED = KernelSpec(
    "matmul_tiled",
    globals(),
    _build_tiled,
    ptx_signatures=(_SIGS_2D[0],),
    ptx_params={"tile": 16, "dtype": "float32"},
    # two tile x tile arrays of the dtype: 16 KiB at the largest tile in float64
    shared_bytes=lambda tile=16, dtype="float32": 2 * tile * tile * np.dtype(dtype).itemsize,
    ptx_extra=(
        ({"tile": 16, "dtype": "float64"}, (_SIGS_2D[1],)),  # float64 is launched too
        ({"tile": MAX_TILE, "dtype": "float32"}, (_SIGS_2D[0],)),
        ({"tile": MAX_TILE, "dtype": "float64"}, (_SIGS_2D[1],)),
    ),
)


def matmul_reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """NumPy reference: ``a @ b`` computed in float64, returned in ``a``'s dtype."""
    return (a.astype(np.float64) @ b.astype(np.float64)).astype(a.dtype)


def matmul(
    a: np.ndarray,
    b: np.ndarray,
    *,
    method: str = "tiled",
    tile: int | None = None,
    backend: str | None = None,
    blocks: tuple[int, int] | None = None,
) -> np.ndarray:
    """Return ``a @ b`` from the ``"naive"`` or ``"tiled"`` kernel on ``backend``.

    ``a`` is m×k and ``b`` k×n, both float32 or both float64. ``tile`` (the
    tiled kernel's block edge, 1..32 so a block has at most 1024 threads)
    defaults to 16 on a GPU and 4 in the simulator, where each thread costs
    about 80 µs. ``blocks`` is the 2-D grid; by default enough to cover the
    output, capped (grid-stride loops do the rest).

    Example:
        >>> import numpy as np
        >>> matmul(np.ones((2, 3), np.float32), np.ones((2, 3), np.float32), backend="cpu")
        Traceback (most recent call last):
        ...
        rtkit.errors.IncompatibleError: a is 2x3 and b is 2x3: inner dimensions must match
    """
    a = check_array("a", a, ndim=2)
    b = check_array("b", b, ndim=2)
    if a.shape[1] != b.shape[0]:
        raise IncompatibleError(
            f"a is {a.shape[0]}x{a.shape[1]} and b is {b.shape[0]}x{b.shape[1]}: "
            "inner dimensions must match"
        )
    if a.dtype != b.dtype:
        raise IncompatibleError(f"a and b must have the same dtype, got {a.dtype} and {b.dtype}")
    method = check_choice("method", method, ("naive", "tiled"))
    if tile is not None and not 1 <= check_int("tile", tile) <= MAX_TILE:
        raise ConfigError(
            f"tile must be 1..{MAX_TILE} (at most 1024 threads per block), got {tile}"
        )
    grid = None if blocks is None else check_blocks(blocks, ndim=2)  # on every back end
    name = resolve_backend(backend)
    out = np.empty((a.shape[0], b.shape[1]), a.dtype)
    if name == "cpu":
        cpu.matmul(a, b, out)
        return out
    if method == "naive":
        block = (16, 16) if name == "cuda" else (4, 4)
        grid = grid or _grid(out.shape, block, cap=64 if name == "cuda" else 2)
        return run_kernel(MATMUL_NAIVE, grid, block, (a, b, out))[0]
    edge = (16 if name == "cuda" else 4) if tile is None else tile
    grid = grid or _grid(out.shape, (edge, edge), cap=64 if name == "cuda" else 2)
    return run_kernel(MATMUL_TILED, grid, (edge, edge), (a, b, out), tile=edge, dtype=a.dtype.name)[
        0
    ]


def _grid(shape: tuple[int, int], block: tuple[int, int], cap: int) -> tuple[int, int]:
    """Blocks along (x = columns, y = rows) to cover ``shape``, each capped at ``cap``."""
    return (
        min(math.ceil(shape[1] / block[0]), cap),
        min(math.ceil(shape[0] / block[1]), cap),
    )
