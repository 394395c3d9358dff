"""What every kernel shares: lazy numba.cuda, launch configurations, input checks, validation.

A kernel module defines its CUDA kernels as plain Python functions that use
a module-level name ``cuda``. That name is ``None`` until a kernel is first
compiled or launched on ``"cuda"`` or ``"cudasim"``: :func:`bind_cuda` then
sets it to ``numba.cuda``. So importing a kernel module never imports
``numba.cuda`` (which would fix numba's choice between the real target and
the simulator, see :func:`rtkit.gpu.select_backend`), and the ``"cpu"`` back
end never touches CUDA at all.

Every launch is validated before it happens (:func:`check_launch`): grid
dimensions 1..2^31-1 (x) and 1..65 535 (y, z), block dimensions within
(1024, 1024, 64) and at most 1 024 threads in all, static shared memory at
most 48 KiB. A GPU refuses such a launch at run time; the simulator would
run it (a 2 048-thread block) or launch nothing and return uninitialised
memory (a zero-block grid), so the check is what makes the simulator's
answers hold on a GPU. These limits are the same for every compute
capability from 2.0 to 9.0 (CUDA C++ Programming Guide, "Features and
Technical Specifications"). The PTX test then proves types and resources:
every kernel's PTX, including its largest allowed configuration, is
assembled by ``ptxas`` for the real architecture (:func:`find_ptxas`).

Invariant: a :class:`KernelSpec` builds each configuration once per process
(compiled kernels are cached by their build parameters); nothing is
launched that :func:`check_launch` refuses.

Example:
    >>> launch_config(1_000, "cpu")
    LaunchConfig(blocks=4, threads_per_block=256)
    >>> tolerances(np.dtype(np.float32))
    (1e-05, 1e-06)
    >>> check_launch(4, (32, 33))
    Traceback (most recent call last):
    ...
    rtkit.errors.ConfigError: a block must have at most 1024 threads, got 1056 (32 x 33)
"""

from __future__ import annotations

import math
import os
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from rtkit.errors import ConfigError, IncompatibleError, check_choice, check_int
from rtkit.gpu import detect

__all__ = [
    "CUDA_BACKENDS",
    "MAX_BLOCK_DIMS",
    "MAX_GRID_DIMS",
    "MAX_SHARED_BYTES",
    "KernelSpec",
    "LaunchConfig",
    "assemble_ptx",
    "bind_cuda",
    "check_array",
    "check_blocks",
    "check_launch",
    "check_threads",
    "find_ptxas",
    "launch_config",
    "resolve_backend",
    "run_kernel",
    "tolerances",
    "validate",
]

CUDA_BACKENDS = ("cuda", "cudasim")
MAX_THREADS_PER_BLOCK = 1024  # every CUDA GPU since compute capability 2.0
MAX_BLOCK_DIMS = (1024, 1024, 64)  # x, y, z
MAX_GRID_DIMS = (2**31 - 1, 65_535, 65_535)  # x, y, z (compute capability >= 3.0)
MAX_SHARED_BYTES = 48 * 1024  # static shared memory per block (more needs dynamic opt-in)
# Grid sizes by back end. On a GPU, a grid-stride loop wants a few waves of
# blocks per SM; 1024 blocks covers any current GPU. In the simulator every
# thread costs about 80 µs of Python, so a tiny grid keeps tests fast: the
# grid-stride loop makes the result independent of the grid size.
_DEFAULT_THREADS = {"cuda": 256, "cudasim": 32, "cpu": 256}
_MAX_BLOCKS = {"cuda": 1024, "cudasim": 2, "cpu": 1024}


def bind_cuda(module_globals: dict[str, Any]) -> ModuleType:
    """Import ``numba.cuda`` and bind it as ``cuda`` in a kernel module's globals.

    Kernels look ``cuda`` up at compile time (numba) or at run time (the
    simulator, which swaps it for its fake module while a kernel runs), so
    binding the global late is enough.
    """
    from numba import cuda

    if module_globals.get("cuda") is not cuda:
        module_globals["cuda"] = cuda
    return cuda


def resolve_backend(backend: str | None) -> str:
    """``backend``, or the process's back end (:func:`rtkit.gpu.backend`) when None.

    Example:
        >>> resolve_backend("cpu")
        'cpu'
    """
    if backend is None:
        return detect.backend()
    name = check_choice("backend", backend, detect.BACKENDS)
    if name == "cuda" and detect.backend() != "cuda":
        raise ConfigError(
            f"backend 'cuda' needs a CUDA GPU; this process runs {detect.backend()!r}"
        )
    if name == "cudasim" and detect.backend() != "cudasim":
        raise ConfigError(
            "backend 'cudasim' needs NUMBA_ENABLE_CUDASIM=1 before numba.cuda is imported "
            "(call rtkit.gpu.select_backend('cudasim') first)"
        )
    return name


def _dims(name: str, value: object, limits: tuple[int, int, int]) -> tuple[int, ...]:
    dims = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if not 1 <= len(dims) <= 3:
        raise ConfigError(f"{name} must have 1 to 3 dimensions, got {value!r}")
    out = []
    for axis, d, limit in zip("xyz", dims, limits, strict=False):
        d = check_int(f"{name} {axis}", d)
        if not 1 <= d <= limit:
            raise ConfigError(f"{name} {axis} must be 1..{limit}, got {d}")
        out.append(d)
    return tuple(out)


def check_launch(
    grid: object, block: object, shared_bytes: int = 0
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Return ``(grid, block)`` as tuples if a GPU would accept the launch, else ConfigError.

    Limits: :data:`MAX_GRID_DIMS`, :data:`MAX_BLOCK_DIMS`, at most 1 024
    threads per block, ``shared_bytes`` (the kernel's static shared memory)
    at most :data:`MAX_SHARED_BYTES`. Cost: O(1).

    Example:
        >>> check_launch(2, 32)
        ((2,), (32,))
        >>> check_launch((0, 1), (4, 4))
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: grid x must be 1..2147483647, got 0
        >>> check_launch(1, 256, shared_bytes=64 * 1024)
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: static shared memory must be <= 49152 bytes per block, got 65536
    """
    g = _dims("grid", grid, MAX_GRID_DIMS)
    b = _dims("block", block, MAX_BLOCK_DIMS)
    threads = math.prod(b)
    if threads > MAX_THREADS_PER_BLOCK:
        shape = " x ".join(map(str, b))
        raise ConfigError(
            f"a block must have at most {MAX_THREADS_PER_BLOCK} threads, got {threads} ({shape})"
        )
    shared = check_int("shared_bytes", shared_bytes, minimum=0)
    if shared > MAX_SHARED_BYTES:
        raise ConfigError(
            f"static shared memory must be <= {MAX_SHARED_BYTES} bytes per block, got {shared}"
        )
    return g, b


@dataclass(frozen=True)
class LaunchConfig:
    """A 1-D launch configuration: ``kernel[blocks, threads_per_block]``, checked at creation.

    Example:
        >>> LaunchConfig(1, 2048)
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: block x must be 1..1024, got 2048
    """

    blocks: int
    threads_per_block: int

    def __post_init__(self) -> None:
        check_launch(self.blocks, self.threads_per_block)

    @property
    def threads(self) -> int:
        """Total threads in the grid."""
        return self.blocks * self.threads_per_block


def launch_config(
    n: int,
    backend: str,
    threads_per_block: int | None = None,
    max_blocks: int | None = None,
) -> LaunchConfig:
    """Choose ``(blocks, threads_per_block)`` for ``n`` work items on ``backend``.

    Enough blocks to give each thread one item, capped at ``max_blocks``
    (grid-stride loops do the rest). On ``"cpu"`` the answer is only
    informational. Cost: O(1).

    Example:
        >>> launch_config(100, "cudasim")
        LaunchConfig(blocks=2, threads_per_block=32)
        >>> launch_config(10, "cuda", threads_per_block=2048)
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: threads_per_block must be 1..1024, got 2048
    """
    n = check_int("n", n, minimum=1)
    tpb = _DEFAULT_THREADS[backend] if threads_per_block is None else threads_per_block
    tpb = check_threads("threads_per_block", tpb)
    cap = _MAX_BLOCKS[backend] if max_blocks is None else check_blocks(max_blocks)[0]
    return LaunchConfig(min(math.ceil(n / tpb), cap), tpb)


def check_blocks(value: object, ndim: int = 1) -> tuple[int, ...]:
    """``value`` (an int, or a tuple of ``ndim`` ints) as a grid a GPU accepts, else ConfigError.

    Example:
        >>> check_blocks((2, 0), ndim=2)
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: blocks y must be 1..65535, got 0
    """
    dims = _dims("blocks", value, MAX_GRID_DIMS)
    if len(dims) != ndim:
        raise ConfigError(f"blocks must have {ndim} dimension(s), got {value!r}")
    return dims


def check_threads(name: str, value: object, power_of_two: bool = False) -> int:
    """``value`` if it is a valid threads-per-block count (1..1024, a power of two if asked).

    Example:
        >>> check_threads("threads_per_block", 48, power_of_two=True)
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: threads_per_block must be a power of two in 1..1024, got 48
    """
    tpb = check_int(name, value)
    ok = 1 <= tpb <= MAX_THREADS_PER_BLOCK and (not power_of_two or tpb & (tpb - 1) == 0)
    if not ok:
        kind = "a power of two in " if power_of_two else ""
        raise ConfigError(f"{name} must be {kind}1..{MAX_THREADS_PER_BLOCK}, got {tpb}")
    return tpb


def check_array(
    name: str,
    x: object,
    dtypes: Sequence[type] | None = (np.float32, np.float64),
    ndim: int = 1,
) -> np.ndarray:
    """Return ``x`` as a C-contiguous array after checking type, dtype, rank and size.

    Raises :class:`~rtkit.errors.ConfigError` naming ``name``; nothing is
    converted silently (an int64 array given to a float kernel is a bug).

    Example:
        >>> check_array("a", np.zeros(3, np.int64))
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: a must have dtype float32 or float64, got int64
    """
    if not isinstance(x, np.ndarray):
        raise ConfigError(f"{name} must be a numpy array, got {type(x).__name__}")
    if dtypes is not None and x.dtype not in [np.dtype(d) for d in dtypes]:
        allowed = " or ".join(np.dtype(d).name for d in dtypes)
        raise ConfigError(f"{name} must have dtype {allowed}, got {x.dtype}")
    if x.ndim != ndim:
        raise ConfigError(f"{name} must be {ndim}-d, got shape {x.shape}")
    if x.size == 0:
        raise ConfigError(f"{name} must not be empty, got shape {x.shape}")
    return np.ascontiguousarray(x)


def check_same(names: str, *arrays: np.ndarray) -> None:
    """Raise :class:`~rtkit.errors.IncompatibleError` unless shapes and dtypes all match."""
    first = arrays[0]
    for other in arrays[1:]:
        if other.shape != first.shape:
            raise IncompatibleError(
                f"{names} must have the same shape, got {first.shape} and {other.shape}"
            )
        if other.dtype != first.dtype:
            raise IncompatibleError(
                f"{names} must have the same dtype, got {first.dtype} and {other.dtype}"
            )


def tolerances(dtype: np.dtype) -> tuple[float, float]:
    """``(rtol, atol)`` for comparing a kernel's output of ``dtype`` with its reference.

    Integers must match exactly. Floats differ from NumPy by summation order
    and fused multiply-add, so a few units in the last place are allowed.

    Example:
        >>> tolerances(np.dtype(np.int64))
        (0.0, 0.0)
    """
    dtype = np.dtype(dtype)
    if dtype.kind in "iub":
        return 0.0, 0.0
    if dtype == np.float32:
        return 1e-5, 1e-6
    return 1e-12, 1e-12


def validate(
    result: np.ndarray,
    reference: np.ndarray,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Assert that ``result`` matches ``reference`` (shape, then values within tolerance).

    Tolerances default to :func:`tolerances` of the result's dtype. Raises
    ``AssertionError`` (from :func:`numpy.testing.assert_allclose`) saying
    how many elements differ and by how much.

    Example:
        >>> validate(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
        >>> validate(np.array([1.0]), np.array([1.5]))
        Traceback (most recent call last):
        ...
        AssertionError: ...
    """
    result = np.asarray(result)
    reference = np.asarray(reference)
    if result.shape != reference.shape:
        raise AssertionError(f"shape {result.shape} != reference shape {reference.shape}")
    d_rtol, d_atol = tolerances(result.dtype)
    np.testing.assert_allclose(
        result,
        reference,
        rtol=d_rtol if rtol is None else rtol,
        atol=d_atol if atol is None else atol,
    )


@dataclass
class KernelSpec:
    """One CUDA kernel: its Python source, how to build it, its shared memory and PTX builds.

    ``build(**params)`` returns the Python function to compile; ``params``
    are compile-time constants such as the threads per block of a shared
    memory kernel. ``shared_bytes(**params)`` is the static shared memory a
    block of that build declares (checked by :func:`check_launch` at every
    launch). ``ptx_params`` and ``ptx_signatures`` are the production build;
    ``ptx_extra`` adds ``(params, signatures)`` builds the API can also
    launch: its largest configuration and every other dtype. The PTX test
    compiles all of them (:meth:`ptx_builds`) for compute capability 8.0 and
    9.0 and assembles each with ``ptxas``.
    """

    name: str
    module_globals: dict[str, Any]
    build: Callable[..., Callable[..., None]]
    ptx_signatures: tuple[tuple[Any, ...], ...]
    ptx_params: dict[str, Any] = field(default_factory=dict)
    shared_bytes: Callable[..., int] = field(default=lambda **_: 0, repr=False)
    ptx_extra: tuple[tuple[dict[str, Any], tuple[tuple[Any, ...], ...]], ...] = ()
    _compiled: dict[tuple[tuple[str, Any], ...], Any] = field(default_factory=dict, repr=False)

    def py_func(self, **params: Any) -> Callable[..., None]:
        """The kernel as a plain Python function, with ``cuda`` bound."""
        bind_cuda(self.module_globals)
        return self.build(**params)

    def kernel(self, **params: Any) -> Any:
        """The ``cuda.jit`` dispatcher for ``params``, built once (lazily compiled)."""
        key = tuple(sorted(params.items()))
        if key not in self._compiled:
            cuda = bind_cuda(self.module_globals)
            self._compiled[key] = cuda.jit(self.build(**params))
        return self._compiled[key]

    def ptx_builds(self) -> list[tuple[dict[str, Any], tuple[tuple[Any, ...], ...]]]:
        """Every ``(params, signatures)`` build the PTX test compiles: production first."""
        return [(dict(self.ptx_params), self.ptx_signatures), *self.ptx_extra]

    def compile_ptx(self, cc: tuple[int, int]) -> list[tuple[str, str]]:
        """``(label, ptx)`` for every build and signature, for compute capability ``cc``.

        Needs the real ``numba.cuda`` (not the simulator); works without a GPU.
        """
        cuda = bind_cuda(self.module_globals)
        if detect._cudasim_enabled():
            raise ConfigError("compile_ptx needs numba.cuda without the simulator")
        out = []
        for params, signatures in self.ptx_builds():
            func = self.build(**params)
            for sig in signatures:
                label = f"{self.name}{params or ''}{tuple(str(t) for t in sig)}"
                out.append((label, cuda.compile_ptx(func, sig, cc=cc)[0]))
        return out


def find_ptxas() -> Path | None:
    """The ``ptxas`` assembler of the ``nvidia-cuda-nvcc`` wheel, or None if not installed.

    ``ptxas`` turns PTX into machine code for one architecture and checks
    what PTX cannot: registers and shared memory against the real chip.
    """
    try:
        import nvidia.cuda_nvcc as nvcc
    except ImportError:
        return None
    for root in getattr(nvcc, "__path__", []):
        path = Path(root) / "bin" / "ptxas"
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


def assemble_ptx(ptx: str, cc: tuple[int, int], ptxas: Path) -> tuple[bool, str]:
    """Assemble ``ptx`` for ``sm_XY`` with ``ptxas -v``; return (accepted, ptxas's messages)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "k.ptx"
        src.write_text(ptx)
        result = subprocess.run(
            [str(ptxas), f"-arch=sm_{cc[0]}{cc[1]}", "-v", str(src), "-o", str(Path(tmp) / "k")],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    return result.returncode == 0, (result.stderr + result.stdout).strip()


def run_kernel(
    spec: KernelSpec,
    grid: int | tuple[int, ...],
    block: int | tuple[int, ...],
    args: Sequence[Any],
    outputs: Sequence[int] = (-1,),
    **params: Any,
) -> list[np.ndarray]:
    """Copy the array ``args`` to the device, launch, copy ``args[i]`` for ``i in outputs`` back.

    The one-shot path used by the kernel functions: explicit ``to_device``
    copies (a host array handed straight to a kernel is copied both ways on
    every launch). The processor keeps its buffers on the device instead.
    The launch is checked first (:func:`check_launch`, with the build's
    shared memory): nothing a GPU would refuse is launched anywhere.
    Returns the host arrays named by ``outputs``, filled in place.
    """
    grid_t, block_t = check_launch(grid, block, spec.shared_bytes(**params))
    kernel = spec.kernel(**params)
    cuda = spec.module_globals["cuda"]
    device = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
    kernel[grid_t, block_t](*device)
    results = []
    for i in outputs:
        device[i].copy_to_host(args[i])
        results.append(args[i])
    return results
