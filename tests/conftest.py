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
environment explicitly, with the ``child_env`` and ``run_python`` fixtures.

Shared fixtures: ``no_leaked_threads`` (opted into by the modules whose
components start threads), ``child_env`` and ``run_python`` (fresh
interpreters for the GPU back-end tests).
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

# The variable is set before anything else is imported, whatever that imports.
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest


@pytest.fixture
def no_leaked_threads():
    """Fail a test that leaves one of rtkit's threads (named ``rtkit-...``) running.

    Modules whose components start threads opt in with
    ``pytestmark = pytest.mark.usefixtures("no_leaked_threads")``.
    """
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.name.startswith("rtkit-")]
    assert not leaked, f"threads left running: {leaked}"


def _child_env(cudasim: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    if cudasim is not None:
        env["NUMBA_ENABLE_CUDASIM"] = cudasim
    return env


@pytest.fixture(scope="session")
def child_env() -> Callable[..., dict[str, str]]:
    """``child_env(cudasim=None)``: this environment for a child process, with
    NUMBA_ENABLE_CUDASIM removed, or set to ``cudasim`` when that is given."""
    return _child_env


@pytest.fixture(scope="session")
def run_python() -> Callable[..., str]:
    """``run_python(code, cudasim=None)``: run ``code`` in a fresh interpreter, return its output.

    numba reads NUMBA_ENABLE_CUDASIM once, at import, so a test of that choice
    needs a new process; its environment is :func:`child_env`'s. The child runs
    with ``-W error`` (a warning fails it) and must exit 0; the timeout is only
    a safety net against hangs.
    """

    def run(code: str, *, cudasim: str | None = None, timeout: float = 300) -> str:
        result = subprocess.run(
            [sys.executable, "-W", "error", "-c", code],
            env=_child_env(cudasim),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    return run
