"""Which of the three GPU back ends this process runs on, found without raising.

GPU code in rtkit runs in three places (DESIGN convention 7):

* ``"cuda"``: a real CUDA GPU, through ``numba.cuda`` (and CuPy when it is
  installed and can see a device). Only here are GPU timings real.
* ``"cudasim"``: numba's CUDA simulator, switched on by setting
  ``NUMBA_ENABLE_CUDASIM=1`` *before* numba is imported (numba reads it once,
  at import). Kernels run as Python threads, about 80 µs per simulated thread,
  so only small grids are practical. Tests use it to check that a kernel is
  *correct* on a machine without a GPU; it says nothing about how fast the
  kernel would be.
* ``"cpu"``: no GPU and no simulator. GPU lessons fall back to the NumPy
  reference of each kernel.

No GPU figure is ever printed as measured unless it was measured on a real
GPU: on ``"cudasim"`` and ``"cpu"`` a lesson shows the simulated or modelled
number and says so.

Every function here is safe on a machine with no driver and no CUDA packages:
it answers ``"cpu"``, ``False`` or ``None`` rather than raising. In
particular ``numba.cuda.detect()`` is never called, because it raises when
there is no driver; ``numba.cuda.is_available()`` is asked instead.

Seed 002's "GPU kernels" are ``sleep`` calls; the lesson on GPU processing
starts from :func:`describe` to show what this machine really has.

Example:
    >>> backend() in ("cuda", "cudasim", "cpu")
    True
    >>> sorted(describe())
    ['backend', 'cuda_available', 'cudasim', 'cupy', 'device_name', 'numba_cuda_version']
"""

from __future__ import annotations

import importlib.metadata
from types import ModuleType
from typing import Any

__all__ = ["array_module", "backend", "cupy_available", "describe"]

BACKENDS: tuple[str, ...] = ("cuda", "cudasim", "cpu")


def _cudasim_enabled() -> bool:
    """True when numba was imported with ``NUMBA_ENABLE_CUDASIM=1``."""
    try:
        import numba
    except Exception:
        return False
    # numba reads the environment once, at import: setting os.environ later
    # does not switch the simulator on, so ask numba, not the environment.
    return bool(getattr(numba.config, "ENABLE_CUDASIM", 0))


def _real_gpu_available() -> bool:
    """True when ``numba.cuda`` finds a driver and a device (simulator excluded)."""
    if _cudasim_enabled():
        # The simulator's is_available() always says True: it cannot tell us
        # whether a real GPU is present, so we do not ask it.
        return False
    try:
        from numba import cuda

        # is_available() catches the driver's own "no driver" error and
        # returns False; the outer try covers a broken or partial CUDA
        # install (e.g. numba-cuda without its libraries). Checked with numba
        # 0.68 on a machine without a driver: it emits no warning, and tests
        # run with filterwarnings=error, so a new warning would surface.
        return bool(cuda.is_available())
    except Exception:
        return False


def backend() -> str:
    """Return where GPU code runs in this process: ``"cuda"``, ``"cudasim"`` or ``"cpu"``.

    The simulator wins when it is switched on, even on a machine with a GPU,
    because numba then replaces ``numba.cuda`` with the simulator. Never
    raises. Cost: the first call imports numba and may load the CUDA driver;
    later calls take about a microsecond.

    Example:
        >>> backend() in BACKENDS
        True
    """
    if _cudasim_enabled():
        return "cudasim"
    if _real_gpu_available():
        return "cuda"
    return "cpu"


def cupy_available() -> bool:
    """Return True when CuPy imports and can see at least one CUDA device.

    CuPy can be installed on a machine without a GPU (it imports fine and
    fails on first use), so importing is not enough: the device count is
    asked too. Any failure means False.

    Example:
        >>> isinstance(cupy_available(), bool)
        True
    """
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount()) > 0
    except Exception:
        return False


def array_module() -> ModuleType:
    """Return ``cupy`` on a real GPU where CuPy is usable, else ``numpy``.

    Code written as ``xp = array_module(); xp.asarray(...)`` runs unchanged on
    both. The simulator gets NumPy: CuPy needs a real device.

    Example:
        >>> xp = array_module()
        >>> xp.__name__ in ("numpy", "cupy")
        True
        >>> int(xp.arange(4).sum())
        6
    """
    if backend() == "cuda" and cupy_available():
        import cupy

        return cupy
    import numpy

    return numpy


def _device_name() -> str | None:
    """Name of CUDA device 0, or None when there is no real GPU."""
    if not _real_gpu_available():
        return None
    try:
        from numba import cuda

        # list_devices() reads the name from the driver without creating a
        # context, so asking costs no GPU memory.
        name = cuda.list_devices()[0].name
    except Exception:
        return None
    if isinstance(name, bytes):  # older numba returns the raw C string
        name = name.decode(errors="replace")
    return str(name)


def _numba_cuda_version() -> str | None:
    """Version of the out-of-tree ``numba-cuda`` package, or None if absent."""
    try:
        return importlib.metadata.version("numba-cuda")
    except importlib.metadata.PackageNotFoundError:
        return None


def describe() -> dict[str, Any]:
    """Return what this process knows about GPUs, as a JSON-ready dict.

    Keys: ``backend`` (as :func:`backend`), ``cuda_available`` (a real GPU,
    never the simulator), ``cudasim``, ``cupy`` (CuPy usable),
    ``device_name`` (None without a real GPU) and ``numba_cuda_version``
    (None when the ``numba-cuda`` package is not installed). Never raises.

    Example:
        >>> info = describe()
        >>> info["backend"] in BACKENDS
        True
        >>> info["cuda_available"] == (info["backend"] == "cuda")
        True
    """
    name = backend()
    return {
        "backend": name,
        "cuda_available": name == "cuda",
        "cudasim": name == "cudasim",
        "cupy": cupy_available(),
        "device_name": _device_name(),
        "numba_cuda_version": _numba_cuda_version(),
    }
