"""numba.cuda kernels, each with a NumPy reference, a validator and a CPU counterpart.

Every kernel function (``vector_add``, ``saxpy``, ``matmul``, ``reduce_sum``,
``histogram``, ``scan``, ``moving_average``, ``vwap``, ``fft``) checks its
input, then runs on the process's back end (:func:`rtkit.gpu.backend`) or
the one named by ``backend=``:

* ``"cuda"`` / ``"cudasim"``: the ``cuda.jit`` kernel (grid-stride loops),
  copied in and out explicitly;
* ``"cpu"``: its numba ``parallel=True`` counterpart in :mod:`rtkit.gpu.cpu`.

Each ``X`` has ``X_reference`` (NumPy) and every result can be checked with
:func:`validate`. The ``KernelSpec`` constants (``VECTOR_ADD``, ...) list
the kernels and their production signatures, which the tests compile to
PTX for compute capability 8.0 and 9.0 (:data:`KERNEL_SPECS`).

Importing this package does not import ``numba.cuda``.

Example:
    >>> import numpy as np
    >>> x = np.arange(8, dtype=np.float64)
    >>> validate(scan(x, backend="cpu"), scan_reference(x))
    >>> reduce_sum(x, backend="cpu")
    28.0
"""

from __future__ import annotations

from rtkit.gpu.kernels._base import (
    KernelSpec,
    LaunchConfig,
    launch_config,
    tolerances,
    validate,
)
from rtkit.gpu.kernels.basic import (
    SAXPY,
    VECTOR_ADD,
    saxpy,
    saxpy_reference,
    vector_add,
    vector_add_reference,
)
from rtkit.gpu.kernels.batch import BATCH_KERNELS, MATMUL_ROWS, VECTOR_ADD_ROWS, BatchKernel
from rtkit.gpu.kernels.fft import fft, fft_engine, fft_reference
from rtkit.gpu.kernels.histogram import HISTOGRAM, histogram, histogram_reference
from rtkit.gpu.kernels.matmul import MATMUL_NAIVE, MATMUL_TILED, matmul, matmul_reference
from rtkit.gpu.kernels.reduce import REDUCE_SUM, reduce_sum, reduce_sum_reference
from rtkit.gpu.kernels.scan import SCAN, SCAN_INT, scan, scan_reference
from rtkit.gpu.kernels.stream import (
    MOVING_AVERAGE,
    VWAP,
    moving_average,
    moving_average_reference,
    vwap,
    vwap_reference,
)

#: Every numba.cuda kernel in the package, by name (the PTX test compiles them all).
KERNEL_SPECS: dict[str, KernelSpec] = {
    spec.name: spec
    for spec in (
        VECTOR_ADD,
        SAXPY,
        MATMUL_NAIVE,
        MATMUL_TILED,
        REDUCE_SUM,
        HISTOGRAM,
        SCAN,
        SCAN_INT,
        MOVING_AVERAGE,
        VWAP,
        VECTOR_ADD_ROWS,
        MATMUL_ROWS,
    )
}

__all__ = [
    "BATCH_KERNELS",
    "KERNEL_SPECS",
    "BatchKernel",
    "KernelSpec",
    "LaunchConfig",
    "fft",
    "fft_engine",
    "fft_reference",
    "histogram",
    "histogram_reference",
    "launch_config",
    "matmul",
    "matmul_reference",
    "moving_average",
    "moving_average_reference",
    "reduce_sum",
    "reduce_sum_reference",
    "saxpy",
    "saxpy_reference",
    "scan",
    "scan_reference",
    "tolerances",
    "validate",
    "vector_add",
    "vector_add_reference",
    "vwap",
    "vwap_reference",
]
