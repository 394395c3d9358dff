"""Tests for rtkit.gpu.kernels: every kernel against its NumPy reference.

In the simulator (tests/conftest.py switches it on) with tiny grids, since a
simulated thread costs about 80 µs; on the CPU counterparts; and compiled to
PTX for compute capability 8.0 and 9.0 in one child process without the
simulator, so that a kernel a real GPU would reject fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rtkit.errors import ConfigError, IncompatibleError
from rtkit.gpu import backend, kernels
from rtkit.gpu.kernels import validate
from rtkit.gpu.kernels._base import launch_config

needs_sim = pytest.mark.skipif(
    backend() != "cudasim", reason="needs numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1)"
)
FLOATS = [np.float32, np.float64]


def _run_child(code: str, *, cudasim: bool) -> str:
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    if cudasim:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(20260)


# -- the simulator ----------------------------------------------------------


@needs_sim
@pytest.mark.parametrize("dtype", FLOATS)
def test_vector_add_and_saxpy_match_numpy_in_the_simulator(rng, dtype):
    a = rng.standard_normal(77).astype(dtype)  # not a multiple of the grid: the stride loop
    b = rng.standard_normal(77).astype(dtype)
    validate(kernels.vector_add(a, b, backend="cudasim"), kernels.vector_add_reference(a, b))
    got = kernels.saxpy(-1.5, a, b, backend="cudasim")
    assert got.dtype == dtype
    validate(got, kernels.saxpy_reference(-1.5, a, b))


@needs_sim
def test_one_thread_grid_still_covers_the_whole_array(rng):
    a = rng.standard_normal(10)
    cfg = kernels.LaunchConfig(blocks=1, threads_per_block=1)
    validate(kernels.vector_add(a, a, backend="cudasim", config=cfg), 2 * a)


@needs_sim
@pytest.mark.parametrize("method", ["naive", "tiled"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_matmul_matches_numpy_in_the_simulator(rng, method, dtype):
    a = rng.standard_normal((9, 6)).astype(dtype)  # ragged edges: 9, 6, 7 are not tile multiples
    b = rng.standard_normal((6, 7)).astype(dtype)
    got = kernels.matmul(a, b, method=method, backend="cudasim", blocks=(1, 2))
    validate(got, kernels.matmul_reference(a, b))


@needs_sim
@pytest.mark.parametrize("dtype", FLOATS)
def test_reduce_sum_matches_numpy_in_the_simulator(rng, dtype):
    x = rng.standard_normal(150).astype(dtype)
    got = kernels.reduce_sum(x, backend="cudasim", threads_per_block=16, blocks=2)
    validate(np.float64(got), np.float64(kernels.reduce_sum_reference(x)))


@needs_sim
def test_histogram_matches_numpy_in_the_simulator_and_keeps_every_value(rng):
    values = rng.integers(-50, 1_200, 200)
    got = kernels.histogram(values, bins=12, lo=0, width=100, backend="cudasim", blocks=2)
    validate(got, kernels.histogram_reference(values, 12, 0, 100))
    assert got.sum() == values.size


@needs_sim
@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_scan_matches_numpy_in_the_simulator(rng, dtype):
    x = (rng.standard_normal(21) * 10).astype(dtype)  # three tiles of 8, the last ragged
    validate(kernels.scan(x, backend="cudasim", threads_per_block=8), kernels.scan_reference(x))


@needs_sim
@pytest.mark.parametrize("dtype", FLOATS)
def test_moving_average_and_vwap_match_numpy_in_the_simulator(rng, dtype):
    price = (100 + rng.standard_normal(40)).astype(dtype)
    volume = rng.integers(0, 3, 40).astype(dtype)  # some windows have zero volume
    validate(
        kernels.moving_average(price, 5, backend="cudasim"),
        kernels.moving_average_reference(price, 5),
    )
    got = kernels.vwap(price, volume, 3, backend="cudasim")
    validate(got, kernels.vwap_reference(price, volume, 3))


@needs_sim
def test_fft_in_the_simulator_uses_numpy_and_says_so(rng):
    x = rng.standard_normal(32)
    assert kernels.fft_engine("cudasim") == "numpy.fft"
    validate(kernels.fft(x, backend="cudasim"), kernels.fft_reference(x))


@needs_sim
def test_batch_kernels_match_their_references_in_the_simulator(rng):
    from rtkit.gpu.kernels._base import run_kernel

    for name, n_in in (("vector_add", 6), ("matmul", 8)):
        bk = kernels.BATCH_KERNELS[name]
        batch = rng.standard_normal((3, n_in)).astype(np.float32)
        out = np.zeros((3, bk.out_width(n_in)), np.float32)
        args = (batch, 3, *bk.extra_args(n_in), out)
        validate(run_kernel(bk.spec, 1, 16, args)[0], bk.reference(batch))


# -- the CPU counterparts -----------------------------------------------------


def test_cpu_counterparts_match_numpy(rng):
    a = rng.standard_normal(101).astype(np.float32)
    b = rng.standard_normal(101).astype(np.float32)
    validate(kernels.vector_add(a, b, backend="cpu"), kernels.vector_add_reference(a, b))
    validate(kernels.saxpy(2.5, a, b, backend="cpu"), kernels.saxpy_reference(2.5, a, b))
    m = rng.standard_normal((7, 5)).astype(np.float32)
    n = rng.standard_normal((5, 3)).astype(np.float32)
    validate(kernels.matmul(m, n, backend="cpu"), kernels.matmul_reference(m, n))
    x = rng.standard_normal(1_000)
    validate(np.float64(kernels.reduce_sum(x, backend="cpu")), kernels.reduce_sum_reference(x))
    v = rng.integers(-10, 10_000, 5_000)
    validate(
        kernels.histogram(v, bins=64, lo=0, width=150, backend="cpu"),
        kernels.histogram_reference(v, 64, 0, 150),
    )
    validate(kernels.scan(x, backend="cpu"), kernels.scan_reference(x))
    price, volume = 100 + x, np.abs(x)
    validate(
        kernels.moving_average(price, 9, backend="cpu"), kernels.moving_average_reference(price, 9)
    )
    validate(
        kernels.vwap(price, volume, 9, backend="cpu"), kernels.vwap_reference(price, volume, 9)
    )
    validate(kernels.fft(x, backend="cpu"), kernels.fft_reference(x))


def test_cpu_batch_kernels_match_their_references(rng):
    for name, n_in in (("vector_add", 10), ("matmul", 18)):
        bk = kernels.BATCH_KERNELS[name]
        batch = rng.standard_normal((4, n_in)).astype(np.float32)
        out = np.zeros((4, bk.out_width(n_in)), np.float32)
        bk.cpu(batch, out)
        validate(out, bk.reference(batch))


# -- bad input ------------------------------------------------------------------


def test_mismatched_shapes_are_refused():
    with pytest.raises(IncompatibleError, match="same shape"):
        kernels.vector_add(np.ones(3), np.ones(4), backend="cpu")
    with pytest.raises(IncompatibleError, match="inner dimensions"):
        kernels.matmul(np.ones((2, 3)), np.ones((2, 3)), backend="cpu")
    with pytest.raises(IncompatibleError, match="same dtype"):
        kernels.saxpy(1.0, np.ones(3, np.float32), np.ones(3), backend="cpu")


def test_wrong_dtypes_empty_arrays_and_bad_parameters_are_refused():
    with pytest.raises(ConfigError, match="dtype float32 or float64, got int64"):
        kernels.vector_add(np.ones(3, np.int64), np.ones(3, np.int64), backend="cpu")
    with pytest.raises(ConfigError, match="must not be empty"):
        kernels.reduce_sum(np.ones(0), backend="cpu")
    with pytest.raises(ConfigError, match="numpy array"):
        kernels.scan([1.0, 2.0], backend="cpu")
    with pytest.raises(ConfigError, match="2-d"):
        kernels.matmul(np.ones(3), np.ones(3), backend="cpu")
    with pytest.raises(ConfigError, match="dtype int64"):
        kernels.histogram(np.ones(3), bins=2, lo=0, width=1, backend="cpu")
    with pytest.raises(ConfigError, match=r"bins must be 1\.\.4096"):
        kernels.histogram(np.ones(3, np.int64), bins=5_000, lo=0, width=1, backend="cpu")
    with pytest.raises(ConfigError, match="window must be >= 1"):
        kernels.moving_average(np.ones(3), 0, backend="cpu")
    with pytest.raises(ConfigError, match="volume must be >= 0"):
        kernels.vwap(np.ones(3), np.array([1.0, -1.0, 1.0]), 2, backend="cpu")
    with pytest.raises(ConfigError, match="power of two"):
        kernels.reduce_sum(np.ones(4), threads_per_block=12, backend="cpu")
    with pytest.raises(ConfigError, match="backend must be one of"):
        kernels.vector_add(np.ones(3), np.ones(3), backend="gpu")


def test_asking_for_a_backend_this_process_does_not_run_is_refused():
    other = "cuda" if backend() != "cuda" else "cudasim"
    with pytest.raises(ConfigError, match=f"backend '{other}' needs"):
        kernels.vector_add(np.ones(3), np.ones(3), backend=other)


def test_launch_config_caps_blocks_and_checks_threads():
    assert launch_config(10_000, "cuda") == kernels.LaunchConfig(40, 256)
    assert launch_config(10**9, "cuda").blocks == 1024
    assert launch_config(5, "cudasim") == kernels.LaunchConfig(1, 32)
    with pytest.raises(ConfigError, match=r"threads_per_block must be 1\.\.1024"):
        launch_config(10, "cuda", threads_per_block=0)
    with pytest.raises(ConfigError, match="n must be >= 1"):
        launch_config(0, "cuda")


def test_validate_checks_shape_and_tolerance_by_dtype():
    validate(np.float32([1.0]), np.float32([1.0 + 1e-7]))
    with pytest.raises(AssertionError):
        validate(np.float64([1.0]), np.float64([1.0 + 1e-9]))
    with pytest.raises(AssertionError, match="shape"):
        validate(np.zeros(2), np.zeros(3))
    with pytest.raises(AssertionError):
        validate(np.int64([3]), np.int64([4]))


# -- laziness and PTX -------------------------------------------------------------


def test_importing_the_kernels_and_running_on_cpu_never_imports_numba_cuda():
    code = (
        "import sys, rtkit.gpu, rtkit.gpu.kernels, rtkit.gpu.processor; "
        "import numpy as np; from rtkit.gpu import select_backend, kernels; "
        "print(select_backend('cpu').backend, rtkit.gpu.backend(), end=' '); "
        "kernels.vector_add(np.ones(2), np.ones(2)); "
        "print('numba.cuda' in sys.modules)"
    )
    assert _run_child(code, cudasim=False) == "cpu cpu False"


PTX_CHILD = """
import json
from rtkit.gpu.kernels import KERNEL_SPECS
report = {}
for name, spec in KERNEL_SPECS.items():
    for cc in ((8, 0), (9, 0)):
        ptx = spec.compile_ptx(cc)
        report[f"{name}@{cc[0]}{cc[1]}"] = {
            "signatures": len(spec.ptx_signatures),
            "ptx": len(ptx),
            "target": all(f".target sm_{cc[0]}{cc[1]}" in p for p in ptx),
            "entry": all(".entry" in p for p in ptx),
        }
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def ptx_report():
    return json.loads(_run_child(PTX_CHILD, cudasim=False))


def test_every_kernel_compiles_to_ptx_for_cc_80_and_90(ptx_report):
    expected = {f"{name}@{cc}" for name in kernels.KERNEL_SPECS for cc in ("80", "90")}
    assert set(ptx_report) == expected
    for key, row in ptx_report.items():
        assert row["ptx"] == row["signatures"] >= 1, key
        assert row["target"] and row["entry"], key


def test_shared_memory_kernels_are_in_the_ptx_set():
    for name in ("matmul_tiled", "reduce_sum", "histogram", "scan"):
        spec = kernels.KERNEL_SPECS[name]
        assert spec.ptx_params, f"{name} must compile its production block size"
    assert kernels.KERNEL_SPECS["matmul_tiled"].ptx_params["tile"] ** 2 <= 1024


def test_compile_ptx_refuses_to_run_in_the_simulator():
    if backend() != "cudasim":
        pytest.skip("only meaningful in the simulator")
    with pytest.raises(ConfigError, match="without the simulator"):
        kernels.KERNEL_SPECS["saxpy"].compile_ptx((8, 0))
