"""Tests for rtkit.gpu.detect: detection that never raises, on any machine."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import sys
import types

import numpy as np
import pytest

from rtkit.gpu import array_module, backend, cupy_available, describe

backend_module = importlib.import_module("rtkit.gpu.detect")


def _real_gpu() -> bool:
    try:
        from numba import cuda

        return bool(cuda.is_available()) and not backend_module._cudasim_enabled()
    except Exception:
        return False


needs_gpu = pytest.mark.skipif(not _real_gpu(), reason="needs a CUDA GPU; none on this machine")


def test_backend_is_one_of_the_three_places_gpu_code_runs():
    assert backend() in backend_module.BACKENDS


def test_cudasim_env_var_selects_the_simulator(run_python):
    out = run_python("from rtkit.gpu import backend; print(backend())", cudasim="1")
    assert out == "cudasim"


def test_simulator_is_not_reported_as_a_real_gpu(run_python):
    code = "import json; from rtkit.gpu import describe; print(json.dumps(describe()))"
    info = json.loads(run_python(code, cudasim="1"))
    assert info["backend"] == "cudasim"
    assert info["cudasim"] is True
    assert info["cuda_available"] is False
    assert info["device_name"] is None


def test_without_simulator_backend_is_cuda_only_when_numba_finds_a_gpu(run_python):
    code = (
        "from numba import cuda; from rtkit.gpu import backend; "
        "print(backend(), cuda.is_available())"
    )
    name, available = run_python(code).split()
    assert name == ("cuda" if available == "True" else "cpu")


def test_importing_rtkit_gpu_does_not_initialise_numba_cuda(run_python):
    # numba.cuda reads NUMBA_ENABLE_CUDASIM and looks for a driver when first
    # imported; that must happen when detection is asked for, not on import.
    code = "import sys, rtkit.gpu; print('numba.cuda' in sys.modules)"
    assert run_python(code) == "False"


def test_backend_is_cpu_when_numba_cuda_raises(monkeypatch):
    from numba import cuda

    def broken() -> bool:
        raise RuntimeError("driver exploded")

    monkeypatch.setattr(backend_module, "_cudasim_enabled", lambda: False)
    monkeypatch.setattr(cuda, "is_available", broken)
    assert backend() == "cpu"
    info = describe()
    assert info["cuda_available"] is False
    assert info["device_name"] is None


def test_describe_has_the_documented_keys_and_types():
    info = describe()
    assert set(info) == {
        "backend",
        "cuda_available",
        "cudasim",
        "cupy",
        "device_name",
        "numba_cuda_version",
    }
    assert info["backend"] == backend()
    assert info["cuda_available"] == (info["backend"] == "cuda")
    assert info["cudasim"] == (info["backend"] == "cudasim")
    assert isinstance(info["cupy"], bool)
    assert info["device_name"] is None or isinstance(info["device_name"], str)
    json.dumps(info)  # the doctor prints it as JSON


def test_describe_reports_numba_cuda_version_or_none():
    try:
        expected = importlib.metadata.version("numba-cuda")
    except importlib.metadata.PackageNotFoundError:
        expected = None
    assert describe()["numba_cuda_version"] == expected


def test_cupy_unavailable_when_it_cannot_be_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise
    assert cupy_available() is False


def _fake_cupy(device_count) -> types.ModuleType:
    def get_device_count() -> int:
        if isinstance(device_count, Exception):
            raise device_count
        return device_count

    cupy = types.ModuleType("cupy")
    cupy.cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=get_device_count)
    )
    return cupy


@pytest.mark.parametrize(
    ("device_count", "expected"),
    [(RuntimeError("cudaErrorNoDevice"), False), (0, False), (1, True)],
)
def test_cupy_usable_only_when_it_sees_a_device(monkeypatch, device_count, expected):
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(device_count))
    assert cupy_available() is expected


def test_array_module_is_numpy_without_a_real_gpu(monkeypatch):
    monkeypatch.setattr(backend_module, "backend", lambda: "cpu")
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(1))
    assert array_module() is np


def test_array_module_is_numpy_in_the_simulator(monkeypatch):
    monkeypatch.setattr(backend_module, "backend", lambda: "cudasim")
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(1))
    assert array_module() is np


def test_array_module_is_cupy_on_a_gpu_with_cupy(monkeypatch):
    fake = _fake_cupy(1)
    monkeypatch.setattr(backend_module, "backend", lambda: "cuda")
    monkeypatch.setitem(sys.modules, "cupy", fake)
    assert array_module() is fake


def test_array_module_falls_back_to_numpy_when_cupy_sees_no_device(monkeypatch):
    monkeypatch.setattr(backend_module, "backend", lambda: "cuda")
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(0))
    assert array_module() is np


@needs_gpu
def test_real_gpu_is_detected_and_named():
    info = describe()
    assert info["backend"] == "cuda"
    assert info["cuda_available"] is True
    assert isinstance(info["device_name"], str) and info["device_name"]
