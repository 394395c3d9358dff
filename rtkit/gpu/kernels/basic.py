"""Element-wise kernels: vector add and SAXPY, with grid-stride loops.

The first kernels of lesson 05, and the replacement for seed 002's
``vectorAddKernel``, which is ``time.Sleep(10 * time.Microsecond)`` and
touches no data (S002-44). Each thread starts at its global index
``cuda.grid(1)`` and steps by the grid's total thread count
``cuda.gridsize(1)``, so any grid covers any length: the launch
configuration becomes a tuning knob, not a correctness condition.

Invariant: ``out[i]`` is written by exactly one thread, for every ``i``.
Runtime complexity: O(n) work, O(n / threads) steps per thread.

Example:
    >>> import numpy as np
    >>> a = np.arange(4, dtype=np.float32)
    >>> vector_add(a, a, backend="cpu").tolist()
    [0.0, 2.0, 4.0, 6.0]
    >>> saxpy(2.0, a, a, backend="cpu").tolist()
    [0.0, 3.0, 6.0, 9.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import float32, float64

from rtkit.errors import ConfigError
from rtkit.gpu import cpu
from rtkit.gpu.kernels._base import (
    KernelSpec,
    LaunchConfig,
    check_array,
    check_same,
    launch_config,
    resolve_backend,
    run_kernel,
)

__all__ = [
    "SAXPY",
    "VECTOR_ADD",
    "saxpy",
    "saxpy_reference",
    "vector_add",
    "vector_add_reference",
]

cuda: Any = None  # numba.cuda, bound on first GPU use (see _base.bind_cuda)


def _vector_add_kernel(a, b, out):  # pragma: no cover - runs on the device
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        out[i] = a[i] + b[i]


def _saxpy_kernel(alpha, x, y, out):  # pragma: no cover - runs on the device
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        out[i] = alpha * x[i] + y[i]


VECTOR_ADD = KernelSpec(
    "vector_add",
    globals(),
    lambda: _vector_add_kernel,
    ptx_signatures=(
        (float32[::1], float32[::1], float32[::1]),
        (float64[::1], float64[::1], float64[::1]),
    ),
)
SAXPY = KernelSpec(
    "saxpy",
    globals(),
    lambda: _saxpy_kernel,
    ptx_signatures=(
        (float32, float32[::1], float32[::1], float32[::1]),
        (float64, float64[::1], float64[::1], float64[::1]),
    ),
)


def _check_config(config: object) -> None:
    if config is not None and not isinstance(config, LaunchConfig):
        raise ConfigError(f"config must be a LaunchConfig, got {type(config).__name__}")


def _check_alpha(alpha: object, dtype: np.dtype) -> np.floating:
    """``alpha`` in ``dtype``, if it is a real, finite number that ``dtype`` can hold."""
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(
        alpha, (int, float, np.integer, np.floating)
    ):
        raise ConfigError(f"alpha must be a real number, got {alpha!r}")
    if not isinstance(alpha, (int, np.integer)) and not np.isfinite(alpha):
        raise ConfigError(f"alpha must be a finite number, got {alpha}")
    limit = float(np.finfo(dtype).max)
    if abs(alpha) > limit:  # exact for Python ints of any size, too
        if isinstance(alpha, (int, np.integer)):
            shown = f"an integer of {len(str(abs(int(alpha))))} digits"
        else:
            shown = f"{alpha:.4g}"
        raise ConfigError(f"alpha must be within +-{limit:.4g} to fit {dtype}, got {shown}")
    return dtype.type(alpha)


def vector_add_reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """NumPy reference: ``a + b``."""
    return a + b


def saxpy_reference(alpha: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """NumPy reference: ``alpha * x + y`` in the dtype of ``x``."""
    return (x.dtype.type(alpha) * x + y).astype(x.dtype)


def vector_add(
    a: np.ndarray,
    b: np.ndarray,
    *,
    backend: str | None = None,
    config: LaunchConfig | None = None,
) -> np.ndarray:
    """Return ``a + b`` computed by the vector-add kernel on ``backend``.

    ``a`` and ``b``: 1-d float32 or float64 arrays of the same shape and dtype.
    ``backend`` defaults to :func:`rtkit.gpu.backend`; ``config`` to
    :func:`~rtkit.gpu.kernels.launch_config` for ``a.size``.

    Example:
        >>> import numpy as np
        >>> vector_add(np.ones(2), np.ones(3), backend="cpu")
        Traceback (most recent call last):
        ...
        rtkit.errors.IncompatibleError: a and b must have the same shape, got (2,) and (3,)
    """
    a, b = check_array("a", a), check_array("b", b)
    check_same("a and b", a, b)
    _check_config(config)
    name = resolve_backend(backend)
    out = np.empty_like(a)
    if name == "cpu":
        cpu.vector_add(a, b, out)
        return out
    cfg = config or launch_config(a.size, name)
    return run_kernel(VECTOR_ADD, cfg.blocks, cfg.threads_per_block, (a, b, out))[0]


def saxpy(
    alpha: float,
    x: np.ndarray,
    y: np.ndarray,
    *,
    backend: str | None = None,
    config: LaunchConfig | None = None,
) -> np.ndarray:
    """Return ``alpha * x + y`` (single-precision a·x plus y, the BLAS classic).

    ``alpha`` is converted to the arrays' dtype: it must be a real, finite
    number that the dtype can hold (``1e40`` overflows float32 to inf, and a
    complex alpha would lose its imaginary part), on every back end.

    Example:
        >>> import numpy as np
        >>> saxpy(float("nan"), np.ones(2), np.ones(2), backend="cpu")
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: alpha must be a finite number, got nan
        >>> saxpy(1e40, np.ones(2, np.float32), np.ones(2, np.float32), backend="cpu")
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: alpha must be within +-3.403e+38 to fit float32, got 1e+40
    """
    x, y = check_array("x", x), check_array("y", y)
    check_same("x and y", x, y)
    a = _check_alpha(alpha, x.dtype)
    _check_config(config)
    name = resolve_backend(backend)
    out = np.empty_like(x)
    if name == "cpu":
        cpu.saxpy(a, x, y, out)
        return out
    cfg = config or launch_config(x.size, name)
    return run_kernel(SAXPY, cfg.blocks, cfg.threads_per_block, (a, x, y, out))[0]
