"""GPU support: back-end detection now; kernels, a processor and a cost model later.

GPU code runs on a real CUDA GPU, in numba's CUDA simulator, or falls back
to the CPU (DESIGN convention 7); :func:`backend` says which. Importing this
package is cheap: numba and CuPy are imported only when a function is called.

Detection lives in :mod:`rtkit.gpu.detect`; its functions are re-exported here.

Example:
    >>> from rtkit.gpu import backend
    >>> backend() in ("cuda", "cudasim", "cpu")
    True
"""

from __future__ import annotations

from rtkit.gpu.detect import array_module, backend, cupy_available, describe

__all__ = ["array_module", "backend", "cupy_available", "describe"]
