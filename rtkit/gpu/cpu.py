"""CPU counterparts of the GPU kernels: numba ``parallel=True`` loops over ``prange``.

Each function computes exactly what its kernel in :mod:`rtkit.gpu.kernels`
computes, into a caller-provided output array (no allocation on the hot
path), so the ``"cpu"`` back end runs the same workloads for real and the
lesson can *measure* the batching trade-off on this machine. Numba splits
each ``prange`` over the cores (two here); the tests check results only,
never timings.

Invariant: every function writes all of ``out`` and nothing else; inputs are
read-only. Runtime complexity is that of the reference: O(n) for
element-wise work, O(n*w) for windows, O(m*n*k) for matrix multiply.

Compiled with ``cache=True``: the first call in a fresh environment pays
numba's compile (about a second per function); later processes load it
from ``__pycache__``.

Example:
    >>> import numpy as np
    >>> out = np.empty(3, np.float32)
    >>> saxpy(np.float32(2.0), np.ones(3, np.float32), np.arange(3, dtype=np.float32), out)
    >>> out.tolist()
    [2.0, 3.0, 4.0]
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "histogram",
    "matmul",
    "matmul_rows",
    "moving_average",
    "reduce_sum",
    "saxpy",
    "scan",
    "vector_add",
    "vector_add_rows",
    "vwap",
]


@njit(parallel=True, cache=True)
def vector_add(a, b, out):  # pragma: no cover - compiled
    """``out[i] = a[i] + b[i]``."""
    for i in prange(out.shape[0]):
        out[i] = a[i] + b[i]


@njit(parallel=True, cache=True)
def saxpy(alpha, x, y, out):  # pragma: no cover - compiled
    """``out[i] = alpha * x[i] + y[i]``."""
    for i in prange(out.shape[0]):
        out[i] = alpha * x[i] + y[i]


@njit(parallel=True, cache=True)
def matmul(a, b, out):  # pragma: no cover - compiled
    """``out = a @ b``, one output row per parallel iteration."""
    for i in prange(a.shape[0]):
        for j in range(b.shape[1]):
            acc = 0.0
            for k in range(a.shape[1]):
                acc += a[i, k] * b[k, j]
            out[i, j] = acc


@njit(parallel=True, cache=True)
def reduce_sum(x):  # pragma: no cover - compiled
    """Sum of ``x`` in float64 (numba turns the ``prange`` sum into a parallel reduction)."""
    acc = 0.0
    for i in prange(x.shape[0]):
        acc += x[i]
    return acc


@njit(parallel=True, cache=True)
def histogram(values, lo, width, out):  # pragma: no cover - compiled
    """Clamped fixed-width bins: per-chunk private counts, then a merge (as per-block bins)."""
    nbins = out.shape[0]
    n = values.shape[0]
    chunks = 8
    size = (n + chunks - 1) // chunks
    partial = np.zeros((chunks, nbins), np.int64)
    for c in prange(chunks):
        for i in range(c * size, min(n, (c + 1) * size)):
            b = (values[i] - lo) // width
            b = min(max(b, 0), nbins - 1)
            partial[c, b] += 1
    for b in range(nbins):
        out[b] = 0
        for c in range(chunks):
            out[b] += partial[c, b]


@njit(cache=True)
def scan(x, out):  # pragma: no cover - compiled
    """Inclusive prefix sum. Sequential: a scan is a chain of dependent adds on the CPU."""
    out[0] = x[0]
    for i in range(1, x.shape[0]):
        out[i] = out[i - 1] + x[i]


@njit(parallel=True, cache=True)
def moving_average(x, window, out):  # pragma: no cover - compiled
    """``out[i] = mean(x[i : i + window])`` for each full window."""
    for i in prange(out.shape[0]):
        acc = 0.0
        for j in range(window):
            acc += x[i + j]
        out[i] = acc / window


@njit(parallel=True, cache=True)
def vwap(price, volume, window, out):  # pragma: no cover - compiled
    """Volume-weighted average price of each full window of ``window`` trades."""
    for i in prange(out.shape[0]):
        pv = 0.0
        v = 0.0
        for j in range(window):
            pv += price[i + j] * volume[i + j]
            v += volume[i + j]
        out[i] = pv / v if v > 0 else np.nan


@njit(parallel=True, cache=True)
def vector_add_rows(batch, out):  # pragma: no cover - compiled
    """Each row is ``[a | b]``; ``out[r] = a + b`` (the processor's batched vector add)."""
    m = out.shape[1]
    for r in prange(out.shape[0]):
        for j in range(m):
            out[r, j] = batch[r, j] + batch[r, m + j]


@njit(parallel=True, cache=True)
def matmul_rows(batch, out):  # pragma: no cover - compiled
    """Each row is two m×m matrices ``[A | B]`` flattened; ``out[r] = (A @ B)`` flattened."""
    mm = out.shape[1]
    m = int(np.sqrt(mm) + 0.5)
    for r in prange(out.shape[0]):
        for i in range(m):
            for j in range(m):
                acc = 0.0
                for k in range(m):
                    acc += batch[r, i * m + k] * batch[r, mm + k * m + j]
                out[r, i * m + j] = acc
