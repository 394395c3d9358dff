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
* ``"cpu"``: no GPU and no simulator. The kernels run their numba CPU
  counterparts (:mod:`rtkit.gpu.cpu`, ``parallel=True`` loops), checked
  against each kernel's NumPy reference.

No GPU figure is ever printed as measured unless it was measured on a real
GPU: on ``"cudasim"`` and ``"cpu"`` a lesson shows the simulated or modelled
number and says so.

Every function here is safe on a machine with no driver and no CUDA packages:
it answers ``"cpu"``, ``False`` or ``None`` rather than raising. In
particular ``numba.cuda.detect()`` is never called, because it raises when
there is no driver; ``numba.cuda.is_available()`` is asked instead.

Seed 002's "GPU kernels" are ``sleep`` calls; the lesson on GPU processing
starts from :func:`select_backend` and :func:`describe` to show what this
machine really has.

Choosing the back end: numba decides between the real ``numba.cuda`` and the
simulator once, when ``numba.cuda`` is first imported. Importing ``rtkit``
already imports numba (the latency histogram is compiled with it), but not
``numba.cuda``, so :func:`select_backend` can still switch the simulator on
as long as it runs before anything touches ``numba.cuda``. It probes the CUDA
driver with ``ctypes`` rather than through numba, because asking
``numba.cuda.is_available()`` would itself fix the choice.

Example:
    >>> backend() in ("cuda", "cudasim", "cpu")
    True
    >>> sorted(describe())
    ['backend', 'cuda_available', 'cudasim', 'cupy', 'device_name', 'numba_cuda_version']
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import os
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from rtkit.errors import ConfigError, StateError, check_choice

__all__ = [
    "BACKENDS",
    "BackendChoice",
    "array_module",
    "backend",
    "cupy_available",
    "describe",
    "select_backend",
]

BACKENDS: tuple[str, ...] = ("cuda", "cudasim", "cpu")

# Set by select_backend("cpu"): from then on backend() answers "cpu" without
# importing numba.cuda at all, so a CPU-only run never loads a CUDA library.
_forced: str | None = None


def _cudasim_enabled() -> bool:
    """True when numba's CUDA target is (or will be, on import) the simulator."""
    cuda = sys.modules.get("numba.cuda")
    if cuda is not None:
        # Once numba.cuda is imported, what it *is* decides, whatever the
        # environment says now.
        return getattr(cuda, "simulator", None) is not None and "simulator" in getattr(
            cuda.is_available, "__module__", ""
        )
    try:
        import numba
    except Exception:
        return False
    # numba reads the environment at import (and again before it compiles),
    # so ask numba, not os.environ.
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
    if _forced is not None:
        return _forced
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


def _driver_device_count() -> int:
    """Number of CUDA devices the driver reports, read with ctypes; 0 on any failure.

    Loads ``libcuda`` directly (``cuInit`` then ``cuDeviceGetCount``), so it
    works before ``numba.cuda`` is imported and never fixes numba's choice.
    """
    names = ("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1", "libcuda.so")
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        try:
            if lib.cuInit(0) != 0:
                return 0
            count = ctypes.c_int(0)
            if lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
                return 0
            return int(count.value)
        except Exception:
            return 0
    return 0


@dataclass(frozen=True)
class BackendChoice:
    """What :func:`select_backend` chose, and why.

    ``backend`` is one of :data:`BACKENDS`; ``reason`` says how it was decided;
    ``env_set`` is True when this call set ``NUMBA_ENABLE_CUDASIM=1``.
    """

    backend: str
    reason: str
    env_set: bool

    def __str__(self) -> str:
        return f"backend {self.backend!r}: {self.reason}"


def select_backend(want: str = "auto") -> BackendChoice:
    """Pick where GPU code runs in this process, once, before any kernel is used.

    ``want="auto"`` (the default) chooses ``"cuda"`` when the driver reports a
    device, else the simulator (``"cudasim"``), setting
    ``NUMBA_ENABLE_CUDASIM=1`` if ``numba.cuda`` has not been imported yet.
    ``want="cpu"`` keeps every kernel on its numba CPU counterpart and never
    imports ``numba.cuda``. ``want="cudasim"`` forces the simulator even on a
    GPU machine; ``want="cuda"`` raises :class:`~rtkit.errors.ConfigError`
    when there is no GPU.

    If ``numba.cuda`` was already imported, its mode cannot change: asking for
    the other one raises :class:`~rtkit.errors.StateError` (restart the kernel
    and call this first). Calling it again with the same answer is harmless.

    A notebook calls it in its first code cell (``rtkit.gpu.select_backend()``)
    and prints the returned :class:`BackendChoice`, which says what was done.

    Example:
        >>> print(BackendChoice("cudasim", "no CUDA GPU found", env_set=True))
        backend 'cudasim': no CUDA GPU found
        >>> select_backend("gpu")
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: want must be one of 'auto', 'cuda', 'cudasim', 'cpu', got 'gpu'
    """
    global _forced
    want = check_choice("want", want, ("auto", *BACKENDS))
    if want == "cpu":
        _forced = "cpu"
        return BackendChoice("cpu", "asked for: kernels run on numba CPU counterparts", False)
    _forced = None
    imported = "numba.cuda" in sys.modules
    if imported:
        current = "cudasim" if _cudasim_enabled() else ("cuda" if _real_gpu_available() else "cpu")
        if want not in ("auto", current) and not (want == "cuda" and current == "cpu"):
            raise StateError(
                f"numba.cuda is already imported as {current!r}; restart the process "
                f"and call select_backend({want!r}) before anything imports numba.cuda"
            )
        if want == "cuda" and current != "cuda":
            raise ConfigError("no CUDA GPU found; use 'cudasim' or 'cpu'")
        return BackendChoice(current, "numba.cuda was already imported; kept as it was", False)
    if want == "cuda" or (want == "auto" and not _cudasim_enabled()):
        if _driver_device_count() > 0:
            return BackendChoice("cuda", "the CUDA driver reports a device", False)
        if want == "cuda":
            raise ConfigError("no CUDA GPU found; use 'cudasim' or 'cpu'")
    env_set = os.environ.get("NUMBA_ENABLE_CUDASIM") != "1"
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    if "numba" in sys.modules:
        # numba already read its configuration; make it read it again so that
        # numba.config.ENABLE_CUDASIM agrees with the environment.
        from numba.core import config

        config.reload_config()
    from numba import cuda  # noqa: F401  (fixes the choice for this process)

    reason = (
        "no CUDA GPU found: kernels run in numba's CUDA simulator "
        "(correct results, about 80 µs per simulated thread, no GPU timing)"
        if want == "auto"
        else "asked for: kernels run in numba's CUDA simulator"
    )
    return BackendChoice("cudasim", reason, env_set)
