"""Tests for rtkit.gpu.select_backend: choosing the back end after ``import rtkit``.

Each case runs in a fresh interpreter, because numba fixes its choice when
``numba.cuda`` is first imported; the child's environment has no
NUMBA_ENABLE_CUDASIM unless the case sets it.
"""

from __future__ import annotations

import json

import pytest

from rtkit.errors import ConfigError
from rtkit.gpu import detect


@pytest.fixture
def child(run_python):
    """``child(code, env_cudasim=None)``: ``code`` run after ``import rtkit`` in a fresh
    interpreter, NUMBA_ENABLE_CUDASIM set to ``env_cudasim`` or unset; the JSON it printed last.
    """
    prelude = "import json, os, sys, rtkit\nfrom rtkit.gpu import backend, select_backend\n"

    def run(code: str, env_cudasim: str | None = None) -> dict:
        out = run_python(prelude + code, cudasim=env_cudasim)
        return json.loads(out.splitlines()[-1])

    return run


def _gpu_here() -> bool:
    return detect._driver_device_count() > 0


@pytest.mark.skipif(_gpu_here(), reason="this machine has a GPU: auto picks cuda")
def test_auto_switches_the_simulator_on_after_rtkit_imported_numba(child):
    out = child(
        "assert 'numba' in sys.modules and 'numba.cuda' not in sys.modules\n"
        "c = select_backend()\n"
        "print(json.dumps({'backend': c.backend, 'env_set': c.env_set, 'now': backend(),\n"
        "  'env': os.environ.get('NUMBA_ENABLE_CUDASIM'), 'reason': c.reason}))"
    )
    assert out["backend"] == out["now"] == "cudasim"
    assert out["env_set"] is True and out["env"] == "1"
    assert "no CUDA GPU found" in out["reason"]


def test_asking_again_after_numba_cuda_was_imported_keeps_the_choice_or_refuses(child):
    out = child(
        "from numba import cuda\n"
        "c = select_backend()\n"
        "try:\n"
        "    select_backend('cudasim'); refused = False\n"
        "except Exception as exc:\n"
        "    refused = type(exc).__name__ + ': ' + str(exc)\n"
        "print(json.dumps({'backend': c.backend, 'reason': c.reason, 'refused': refused}))"
    )
    assert out["backend"] in ("cuda", "cpu")
    assert "already imported" in out["reason"]
    assert out["refused"].startswith("StateError: numba.cuda is already imported")


@pytest.mark.skipif(_gpu_here(), reason="this machine has a GPU")
def test_asking_for_cuda_without_a_gpu_is_a_config_error(child):
    out = child(
        "try:\n"
        "    select_backend('cuda'); refused = ''\n"
        "except Exception as exc:\n"
        "    refused = type(exc).__name__ + ': ' + str(exc)\n"
        "print(json.dumps({'refused': refused, 'cuda': 'numba.cuda' in sys.modules}))"
    )
    assert out == {
        "refused": "ConfigError: no CUDA GPU found; use 'cudasim' or 'cpu'",
        "cuda": False,
    }


def test_an_explicit_environment_variable_is_respected(child):
    out = child("c = select_backend()\nprint(json.dumps({'b': c.backend, 'set': c.env_set}))", "1")
    assert out == {"b": "cudasim", "set": False}


def test_select_backend_in_process_agrees_with_backend(monkeypatch):
    monkeypatch.setattr(detect, "_forced", None)
    choice = detect.select_backend()
    assert choice.backend == detect.backend()
    assert str(choice).startswith(f"backend {choice.backend!r}: ")
    detect.select_backend("cpu")
    assert detect.backend() == "cpu"
    with pytest.raises(ConfigError, match="want must be one of"):
        detect.select_backend("tpu")
    assert detect.backend() == "cpu"  # a refused call changes nothing
