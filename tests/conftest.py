"""Test-session set-up shared by every test file.

The GPU tests run kernels in numba's CUDA simulator. numba chooses between
the real ``numba.cuda`` and the simulator once, from ``NUMBA_ENABLE_CUDASIM``,
so the variable is set here, when pytest loads this file and before any
test module imports numba. ``setdefault`` keeps an explicit choice
(``NUMBA_ENABLE_CUDASIM=0 pytest`` runs the GPU tests against a real GPU;
simulator-only tests then skip).

Nothing else in the suite uses ``numba.cuda``; ``@njit`` code is unaffected.
Child processes inherit the variable; tests that need a process without the
simulator (PTX compilation, detection) remove it from the child's
environment explicitly.
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
