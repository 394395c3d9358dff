"""Streaming analytics over a trade stream: a moving average and a windowed VWAP.

Each output is one thread's work in a grid-stride loop: thread ``i`` sums
the ``window`` values ending at position ``i + window - 1`` (O(window) per
output, but every output independent, which is what a GPU wants; the
running-sum version is O(1) per output but sequential). Seed 000's "moving
average" is not one (S000-37); these are the real thing, checked against
NumPy. The lesson feeds them a synthetic trade stream.

* ``moving_average(x, window)[i] = mean(x[i : i + window])``
* ``vwap(price, volume, window)[i] = sum(p·v) / sum(v)`` over the same
  window (NaN when the window's volume is zero).

Invariant: the output has ``n - window + 1`` values, one per full window.
Accumulation is in float64. Runtime complexity: O(n · window) work.

Example:
    >>> import numpy as np
    >>> moving_average(np.arange(5, dtype=np.float64), 2, backend="cpu").tolist()
    [0.5, 1.5, 2.5, 3.5]
    >>> vwap(np.array([10.0, 11.0]), np.array([1.0, 3.0]), 2, backend="cpu").tolist()
    [10.75]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import float32, float64, int64

from rtkit.errors import ConfigError, check_int
from rtkit.gpu import cpu
from rtkit.gpu.kernels._base import (
    KernelSpec,
    check_array,
    check_blocks,
    check_same,
    launch_config,
    resolve_backend,
    run_kernel,
)

__all__ = [
    "MOVING_AVERAGE",
    "VWAP",
    "moving_average",
    "moving_average_reference",
    "vwap",
    "vwap_reference",
]

cuda: Any = None  # numba.cuda, bound on first GPU use (see _base.bind_cuda)


def _moving_average_kernel(x, window, out):  # pragma: no cover - runs on the device
    for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        acc = 0.0
        for j in range(window):
            acc += float64(x[i + j])
        out[i] = acc / window


def _vwap_kernel(price, volume, window, out):  # pragma: no cover - runs on the device
    for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        pv = 0.0
        v = 0.0
        for j in range(window):
            pv += float64(price[i + j]) * float64(volume[i + j])
            v += float64(volume[i + j])
        out[i] = pv / v if v > 0 else np.nan


MOVING_AVERAGE = KernelSpec(
    "moving_average",
    globals(),
    lambda: _moving_average_kernel,
    ptx_signatures=tuple((t[::1], int64, t[::1]) for t in (float32, float64)),
)
VWAP = KernelSpec(
    "vwap",
    globals(),
    lambda: _vwap_kernel,
    ptx_signatures=tuple((t[::1], t[::1], int64, t[::1]) for t in (float32, float64)),
)


def _windows(x: np.ndarray, window: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), window)


def moving_average_reference(x: np.ndarray, window: int) -> np.ndarray:
    """NumPy reference: the mean of each full window, in ``x``'s dtype."""
    return _windows(x, window).mean(axis=1).astype(x.dtype)


def vwap_reference(price: np.ndarray, volume: np.ndarray, window: int) -> np.ndarray:
    """NumPy reference: ``sum(p·v) / sum(v)`` per full window (NaN for zero volume)."""
    pv = _windows(price * volume.astype(np.float64), window).sum(axis=1)
    v = _windows(volume, window).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(v > 0, pv / np.where(v > 0, v, 1.0), np.nan)
    return out.astype(price.dtype)


def _check_window(window: int, n: int) -> int:
    window = check_int("window", window, minimum=1)
    if window > n:
        raise ConfigError(f"window must be <= the number of values ({n}), got {window}")
    return window


def moving_average(
    x: np.ndarray, window: int, *, backend: str | None = None, blocks: int | None = None
) -> np.ndarray:
    """Mean of every full window of ``window`` values of the 1-d float array ``x``.

    Example:
        >>> import numpy as np
        >>> moving_average(np.ones(3), 4, backend="cpu")
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: window must be <= the number of values (3), got 4
    """
    x = check_array("x", x)
    window = _check_window(window, x.size)
    if blocks is not None:  # checked on every back end, before dispatch
        check_blocks(blocks)
    name = resolve_backend(backend)
    out = np.empty(x.size - window + 1, x.dtype)
    if name == "cpu":
        cpu.moving_average(x, window, out)
        return out
    cfg = launch_config(out.size, name, max_blocks=blocks)
    return run_kernel(MOVING_AVERAGE, cfg.blocks, cfg.threads_per_block, (x, window, out))[0]


def vwap(
    price: np.ndarray,
    volume: np.ndarray,
    window: int,
    *,
    backend: str | None = None,
    blocks: int | None = None,
) -> np.ndarray:
    """Volume-weighted average price of every full window of ``window`` trades.

    ``price`` and ``volume``: 1-d float arrays of the same shape and dtype;
    volumes must be >= 0.

    Example:
        >>> import numpy as np
        >>> vwap(np.ones(2), -np.ones(2), 1, backend="cpu")
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: volume must be >= 0, got -1.0 at index 0
    """
    price, volume = check_array("price", price), check_array("volume", volume)
    check_same("price and volume", price, volume)
    negative = np.flatnonzero(volume < 0)
    if negative.size:
        i = int(negative[0])
        raise ConfigError(f"volume must be >= 0, got {volume[i]} at index {i}")
    window = _check_window(window, price.size)
    if blocks is not None:
        check_blocks(blocks)
    name = resolve_backend(backend)
    out = np.empty(price.size - window + 1, price.dtype)
    if name == "cpu":
        cpu.vwap(price, volume, window, out)
        return out
    cfg = launch_config(out.size, name, max_blocks=blocks)
    return run_kernel(VWAP, cfg.blocks, cfg.threads_per_block, (price, volume, window, out))[0]
