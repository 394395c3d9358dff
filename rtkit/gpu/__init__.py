"""GPU real-time processing: back ends, kernels, a low-latency processor and a cost model.

Seed 002's GPU module is pseudo-code whose kernels are ``sleep`` calls and
whose every latency is invented (S002-44). This package makes it real, in a
form that runs and is tested on machines without a GPU. GPU code runs in
three places (DESIGN convention 7), and :func:`backend` says which:

* ``"cuda"``: a real GPU through ``numba.cuda`` (and CuPy for the FFT);
* ``"cudasim"``: numba's CUDA simulator: correct results, Python speed
  (about 80 µs per simulated thread), no GPU timing;
* ``"cpu"``: the numba ``parallel=True`` counterparts in :mod:`rtkit.gpu.cpu`.

What is where:

* :mod:`rtkit.gpu.detect`: :func:`select_backend` (call it first),
  :func:`backend`, :func:`describe`, :func:`array_module`;
* :mod:`rtkit.gpu.kernels`: vector add, SAXPY, matrix multiply (naive and
  tiled), reduction, histogram, scan, moving average, VWAP, FFT; each with a
  ``*_reference`` and :func:`~rtkit.gpu.kernels.validate`;
* :mod:`rtkit.gpu.processor`: :class:`LowLatencyProcessor`, measured (on the
  back end) or simulated (cost model on a virtual clock);
* :mod:`rtkit.gpu.costmodel`: :class:`CostModel` (launch, PCIe, roofline
  kernel, sync, overlap), every result labelled ``"modelled"``;
* :mod:`rtkit.gpu.scenarios`: seed 002's three benchmark scenarios, open-loop or
  burst, modelled or measured;
* :mod:`rtkit.gpu.cache`: :class:`KernelCache`, compile cost kept apart.

Importing this package is cheap and does not import ``numba.cuda``, so
:func:`select_backend` can still switch the simulator on.

Worked example (as in lesson 05)::

    import numpy as np
    import rtkit.gpu as gpu
    print(gpu.select_backend())          # backend 'cudasim': no CUDA GPU found: ...
    from rtkit.gpu import kernels
    x = np.arange(64, dtype=np.float32)
    kernels.validate(kernels.saxpy(2.0, x, x), kernels.saxpy_reference(2.0, x, x))

Run in this process's back end, that is a real kernel launch (simulated
threads on a machine without a GPU). The modelled side needs no GPU at all:

Example:
    >>> import numpy as np
    >>> from rtkit.gpu import CostModel, KernelCost, LowLatencyProcessor, kernels
    >>> x = np.arange(8, dtype=np.float32)
    >>> y = kernels.saxpy(2.0, x, x, backend="cpu")
    >>> kernels.validate(y, kernels.saxpy_reference(2.0, x, x))
    >>> model = CostModel()
    >>> cost = KernelCost.for_kernel("vector_add", 256)
    >>> model.breakdown(cost, batch=1).total_ns      # one small task: launch + copies + sync
    15018
    >>> model.batch_for_deadline(cost, deadline_ns=100_000, interval_ns=2_000)
    8
    >>> p = LowLatencyProcessor("vector_add", task_elems=64, batch_size=8, mode="simulated")
    >>> p.start()
    >>> for k in range(100):
    ...     _ = p.submit(None, deadline_ns=k * 2_000 + 100_000, arrival_ns=k * 2_000)
    >>> _ = p.run()
    >>> s = p.stats()
    >>> (s.completed, s.rejected, s.missed, s.label)
    (100, 0, 0, 'modelled')
"""

from __future__ import annotations

from rtkit.gpu.cache import KernelCache
from rtkit.gpu.costmodel import CostModel, KernelCost
from rtkit.gpu.detect import (
    BACKENDS,
    BackendChoice,
    array_module,
    backend,
    cupy_available,
    describe,
    select_backend,
)
from rtkit.gpu.processor import (
    LowLatencyProcessor,
    ProcessorStats,
    TaskResult,
    WarmupPolicy,
    allowed_task_elems,
)
from rtkit.gpu.scenarios import SEED_SCENARIOS, Scenario, ScenarioReport, run_scenario

__all__ = [
    "BACKENDS",
    "SEED_SCENARIOS",
    "BackendChoice",
    "CostModel",
    "KernelCache",
    "KernelCost",
    "LowLatencyProcessor",
    "ProcessorStats",
    "Scenario",
    "ScenarioReport",
    "TaskResult",
    "WarmupPolicy",
    "allowed_task_elems",
    "array_module",
    "backend",
    "cupy_available",
    "describe",
    "run_scenario",
    "select_backend",
]
