"""Batched task kernels for the processor: k tasks, one launch.

The processor packs ``k`` tasks into the rows of a ``(k, n_in)`` float32
buffer and launches once; each kernel here treats a row as one task, in a
grid-stride loop over every output element of the batch. Launch overhead
and copy latency are then paid once per batch instead of once per task,
which is the whole point of batching (and the cost: a task may wait for
its batch).

* ``"vector_add"``: a row is ``[a | b]`` (``n_in = 2m``); the output row is
  ``a + b`` (``m`` values). Seed 002's "High Frequency Small" kernel.
* ``"matmul"``: a row is two m×m matrices ``[A | B]`` flattened (``n_in =
  2m²``); the output row is ``A @ B`` flattened. "Medium Frequency Medium".

(Seed 002's third kernel, the FFT, goes through cuFFT, not a numba kernel;
the processor models it in simulated mode only.)

Invariant: output row ``r`` depends only on input row ``r``.
Runtime complexity: O(k·m) and O(k·m³) work.

Example:
    >>> import numpy as np
    >>> kernel = BATCH_KERNELS["vector_add"]
    >>> kernel.out_width(6)
    3
    >>> kernel.reference(np.arange(6, dtype=np.float32).reshape(1, 6)).tolist()
    [[3.0, 5.0, 7.0]]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import float32, float64, int64

from rtkit.errors import ConfigError
from rtkit.gpu import cpu
from rtkit.gpu.costmodel import KernelCost
from rtkit.gpu.kernels._base import KernelSpec

__all__ = ["BATCH_KERNELS", "BatchKernel"]

cuda: Any = None  # numba.cuda, bound on first GPU use (see _base.bind_cuda)


def _vector_add_rows_kernel(batch, rows, out):  # pragma: no cover - runs on the device
    m = out.shape[1]
    for idx in range(cuda.grid(1), rows * m, cuda.gridsize(1)):
        r = idx // m
        j = idx - r * m
        out[r, j] = batch[r, j] + batch[r, m + j]


def _matmul_rows_kernel(batch, rows, m, out):  # pragma: no cover - runs on the device
    mm = m * m
    for idx in range(cuda.grid(1), rows * mm, cuda.gridsize(1)):
        r = idx // mm
        rest = idx - r * mm
        i = rest // m
        j = rest - i * m
        acc = 0.0
        for k in range(m):
            acc += float64(batch[r, i * m + k]) * float64(batch[r, mm + k * m + j])
        out[r, i * m + j] = acc


VECTOR_ADD_ROWS = KernelSpec(
    "vector_add_rows",
    globals(),
    lambda: _vector_add_rows_kernel,
    ptx_signatures=((float32[:, ::1], int64, float32[:, ::1]),),
)
MATMUL_ROWS = KernelSpec(
    "matmul_rows",
    globals(),
    lambda: _matmul_rows_kernel,
    ptx_signatures=((float32[:, ::1], int64, int64, float32[:, ::1]),),
)


def _vector_add_width(n_in: int) -> int:
    if n_in < 2 or n_in % 2:
        raise ConfigError(f"vector_add tasks need an even number of elements >= 2, got {n_in}")
    return n_in // 2


def _matmul_side(n_in: int) -> int:
    m = math.isqrt(n_in // 2)
    if n_in < 2 or 2 * m * m != n_in:
        raise ConfigError(f"matmul tasks need 2*m*m elements (two m x m matrices), got {n_in}")
    return m


def _vector_add_reference(batch: np.ndarray) -> np.ndarray:
    m = batch.shape[1] // 2
    return batch[:, :m] + batch[:, m:]


def _matmul_reference(batch: np.ndarray) -> np.ndarray:
    m = _matmul_side(batch.shape[1])
    a = batch[:, : m * m].reshape(-1, m, m).astype(np.float64)
    b = batch[:, m * m :].reshape(-1, m, m).astype(np.float64)
    return (a @ b).reshape(batch.shape[0], m * m).astype(batch.dtype)


@dataclass(frozen=True)
class BatchKernel:
    """A task kernel the processor can batch: GPU spec, CPU counterpart, reference, cost."""

    name: str
    spec: KernelSpec
    cpu: Callable[[np.ndarray, np.ndarray], None]
    reference: Callable[[np.ndarray], np.ndarray]
    out_width: Callable[[int], int]

    def extra_args(self, n_in: int) -> tuple[int, ...]:
        """Scalar arguments after ``(batch, rows)`` in the GPU kernel's signature."""
        return (_matmul_side(n_in),) if self.name == "matmul" else ()

    def cost(self, n_in: int) -> KernelCost:
        """Per-task cost for the cost model (float32 input of ``n_in`` elements)."""
        return KernelCost.for_kernel(self.name, 4 * n_in)


BATCH_KERNELS: dict[str, BatchKernel] = {
    "vector_add": BatchKernel(
        "vector_add", VECTOR_ADD_ROWS, cpu.vector_add_rows, _vector_add_reference, _vector_add_width
    ),
    "matmul": BatchKernel(
        "matmul",
        MATMUL_ROWS,
        cpu.matmul_rows,
        _matmul_reference,
        lambda n: _matmul_side(n) ** 2,
    ),
}
