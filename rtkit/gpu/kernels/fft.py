"""FFT: ``cupy.fft`` on a GPU where CuPy works, ``numpy.fft`` everywhere else.

An FFT is not a kernel to write by hand for a lesson: cuFFT (behind
``cupy.fft``) is what production code calls. Seed 002's ``fftKernel`` is a
25 µs sleep (S002-44). Here the same call runs cuFFT on a real GPU and
NumPy's pocketfft otherwise; :func:`fft_engine` says which, so a notebook
never presents a NumPy timing as a GPU one. The simulator has no cuFFT, so
``"cudasim"`` uses NumPy too.

Invariant: the result equals ``numpy.fft.fft`` of the input, within
floating-point tolerance. Runtime complexity: O(n log n).

Example:
    >>> import numpy as np
    >>> np.round(fft(np.array([1.0, 0.0, 0.0, 0.0]), backend="cpu").real, 6).tolist()
    [1.0, 1.0, 1.0, 1.0]
    >>> fft_engine("cpu")
    'numpy.fft'
"""

from __future__ import annotations

import numpy as np

from rtkit.gpu import detect
from rtkit.gpu.kernels._base import check_array, resolve_backend

__all__ = ["fft", "fft_engine", "fft_reference"]


def fft_engine(backend: str | None = None) -> str:
    """``"cupy.fft"`` on a real GPU with CuPy, else ``"numpy.fft"``."""
    name = resolve_backend(backend)
    return "cupy.fft" if name == "cuda" and detect.cupy_available() else "numpy.fft"


def fft_reference(x: np.ndarray) -> np.ndarray:
    """NumPy reference: ``numpy.fft.fft(x)``."""
    return np.fft.fft(x)


def fft(x: np.ndarray, *, backend: str | None = None) -> np.ndarray:
    """Discrete Fourier transform of the 1-d float or complex array ``x`` (a NumPy array back).

    Example:
        >>> import numpy as np
        >>> fft(np.array([], np.float64), backend="cpu")
        Traceback (most recent call last):
        ...
        rtkit.errors.ConfigError: x must not be empty, got shape (0,)
    """
    x = check_array("x", x, dtypes=(np.float32, np.float64, np.complex64, np.complex128))
    if fft_engine(backend) == "cupy.fft":  # pragma: no cover - needs a GPU with CuPy
        import cupy

        return cupy.asnumpy(cupy.fft.fft(cupy.asarray(x)))
    return np.fft.fft(x)
