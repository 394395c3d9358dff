"""Tests for rtkit.gpu.kernels: every kernel against its NumPy reference.

In the simulator (tests/conftest.py switches it on) with tiny grids, since a
simulated thread costs about 80 µs; on the CPU counterparts; and compiled to
PTX for compute capability 8.0 and 9.0 in one child process without the
simulator, so that a kernel a real GPU would reject fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import pairwise

import numpy as np
import pytest

from rtkit.errors import ConfigError, IncompatibleError
from rtkit.gpu import backend, kernels
from rtkit.gpu.kernels import validate
from rtkit.gpu.kernels._base import check_launch, launch_config, run_kernel
from rtkit.gpu.kernels.histogram import MAX_BINS

needs_sim = pytest.mark.skipif(
    backend() != "cudasim", reason="needs numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1)"
)
FLOATS = [np.float32, np.float64]


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(20260)


def _at_least_three_steps(items, threads):
    """Every thread of the grid takes >= 3 grid-stride steps, so a wrong stride shows."""
    assert items >= 3 * threads, f"{items} items for {threads} threads: too few steps"


# -- the simulator ----------------------------------------------------------


@needs_sim
@pytest.mark.parametrize("dtype", FLOATS)
def test_vector_add_and_saxpy_match_numpy_in_the_simulator(rng, dtype):
    a = rng.standard_normal(77).astype(dtype)  # not a multiple of the grid: the stride loop
    b = rng.standard_normal(77).astype(dtype)
    cfg = kernels.LaunchConfig(blocks=2, threads_per_block=8)
    _at_least_three_steps(a.size, cfg.threads)
    got = kernels.vector_add(a, b, backend="cudasim", config=cfg)
    validate(got, kernels.vector_add_reference(a, b))
    got = kernels.saxpy(-1.5, a, b, backend="cudasim", config=cfg)
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
    # 13 x 14 output, 4 x 4 blocks (or tiles) on a 1 x 1 grid: >= 3 steps along each axis;
    # ragged edges: 13, 6 and 14 are not multiples of the tile
    a = rng.standard_normal((13, 6)).astype(dtype)
    b = rng.standard_normal((6, 14)).astype(dtype)
    _at_least_three_steps(13, 4)
    got = kernels.matmul(a, b, method=method, backend="cudasim", blocks=(1, 1))
    validate(got, kernels.matmul_reference(a, b))


@needs_sim
@pytest.mark.parametrize("dtype", FLOATS)
def test_reduce_sum_matches_numpy_in_the_simulator(rng, dtype):
    x = rng.standard_normal(150).astype(dtype)
    _at_least_three_steps(x.size, 2 * 16)
    got = kernels.reduce_sum(x, backend="cudasim", threads_per_block=16, blocks=2)
    validate(np.float64(got), np.float64(kernels.reduce_sum_reference(x)))


@needs_sim
def test_histogram_matches_numpy_in_the_simulator_and_keeps_every_value(rng):
    values = rng.integers(-50, 1_200, 200)
    _at_least_three_steps(values.size, 2 * 32)
    got = kernels.histogram(values, bins=12, lo=0, width=100, backend="cudasim", blocks=2)
    validate(got, kernels.histogram_reference(values, 12, 0, 100))
    assert got.sum() == values.size


@needs_sim
@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_scan_matches_numpy_in_the_simulator(rng, dtype):
    x = (rng.standard_normal(21) * 10).astype(dtype)  # three tiles of 8, the last ragged
    assert -(-x.size // 8) == 3  # the block's loop over tiles runs three times
    validate(kernels.scan(x, backend="cudasim", threads_per_block=8), kernels.scan_reference(x))


def _scan_module():
    return sys.modules["rtkit.gpu.kernels.scan"]  # kernels.scan is the function


@needs_sim
@pytest.mark.parametrize(
    ("n", "tpb", "levels"),
    [(33, 8, 2), (70, 4, 3)],  # one past the one-block limit; totals of totals; both ragged
)
@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_multi_block_scan_matches_numpy_in_the_simulator(rng, monkeypatch, n, tpb, levels, dtype):
    mod = _scan_module()
    assert n % tpb != 0 and n > mod.SINGLE_BLOCK_TILES * tpb
    plan = mod.scan_levels(n, tpb)
    assert len(plan) == levels
    launches = []
    real_launch = mod._launch

    def recording_launch(spec, grid, threads, phase, *args):
        launches.append((phase, grid, args[0].shape[0]))
        real_launch(spec, grid, threads, phase, *args)

    monkeypatch.setattr(mod, "_launch", recording_launch)
    x = (rng.standard_normal(n) * 10).astype(dtype)
    validate(kernels.scan(x, backend="cudasim", threads_per_block=tpb), kernels.scan_reference(x))
    # down the levels (one block per tile), one block for the last, back up adding offsets
    down = [("blocks", -(-m // tpb), m) for m in plan[:-1]]
    assert launches == [*down, ("single", 1, plan[-1]), *(("add", g, m) for _, g, m in down[::-1])]


def test_scan_levels_shrink_by_the_block_until_one_block_is_enough():
    mod = _scan_module()
    limit = mod.SINGLE_BLOCK_TILES
    for tpb in (2, 8, 256, 1024):
        for n in (1, limit * tpb, limit * tpb + 1, 10**6 + 3, 2**40):
            plan = mod.scan_levels(n, tpb)
            assert plan[0] == n and plan[-1] <= limit * tpb
            assert all(b == -(-a // tpb) for a, b in pairwise(plan))
            assert len(plan) == 1 or plan[-2] > limit * tpb  # no level more than needed
    assert mod.scan_levels(10**6, 1) == (10**6,)  # one-thread tiles never shrink: one block
    assert len(mod.scan_levels(2**40, 1024)) == 4
    with pytest.raises(ConfigError, match="power of two"):
        mod.scan_levels(10, 12)
    with pytest.raises(ConfigError, match="n must be >= 1"):
        mod.scan_levels(0, 8)


@needs_sim
@pytest.mark.parametrize("dtype", FLOATS)
def test_moving_average_and_vwap_match_numpy_in_the_simulator(rng, dtype):
    price = (100 + rng.standard_normal(104)).astype(dtype)
    volume = rng.integers(0, 3, 104).astype(dtype)  # some windows have zero volume
    _at_least_three_steps(104 - 5 + 1, 32)  # one block of 32 threads
    validate(
        kernels.moving_average(price, 5, backend="cudasim", blocks=1),
        kernels.moving_average_reference(price, 5),
    )
    got = kernels.vwap(price, volume, 3, backend="cudasim", blocks=1)
    validate(got, kernels.vwap_reference(price, volume, 3))


@needs_sim
def test_fft_in_the_simulator_uses_numpy_and_says_so(rng):
    x = rng.standard_normal(32)
    assert kernels.fft_engine("cudasim") == "numpy.fft"
    validate(kernels.fft(x, backend="cudasim"), kernels.fft_reference(x))


@needs_sim
def test_batch_kernels_match_their_references_in_the_simulator(rng):
    for name, n_in in (("vector_add", 6), ("matmul", 8)):  # 12 outputs each, 4 threads
        bk = kernels.BATCH_KERNELS[name]
        rows = 4 if name == "vector_add" else 3
        batch = rng.standard_normal((rows, n_in)).astype(np.float32)
        out = np.zeros((rows, bk.out_width(n_in)), np.float32)
        _at_least_three_steps(out.size, 4)
        args = (batch, rows, *bk.extra_args(n_in), out)
        validate(run_kernel(bk.spec, 1, 4, args)[0], bk.reference(batch))


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
    with pytest.raises(ConfigError, match="blocks x must be"):
        launch_config(10, "cuda", max_blocks=0)
    with pytest.raises(ConfigError, match="n must be >= 1"):
        launch_config(0, "cuda")


@pytest.mark.parametrize(
    ("grid", "block", "shared", "message"),
    [
        (1, 2048, 0, r"block x must be 1\.\.1024, got 2048"),
        (0, 32, 0, r"grid x must be 1\.\.2147483647, got 0"),
        ((1, 70_000), (4, 4), 0, r"grid y must be 1\.\.65535, got 70000"),
        (1, (32, 33), 0, r"at most 1024 threads, got 1056 \(32 x 33\)"),
        (1, (1, 1, 65), 0, r"block z must be 1\.\.64, got 65"),
        (1, 256, 48 * 1024 + 1, "static shared memory must be <= 49152"),
        (1, True, 0, "block x must be an integer"),
        ((1, 1, 1, 1), 32, 0, "1 to 3 dimensions"),
    ],
)
def test_launches_a_gpu_would_refuse_are_refused(grid, block, shared, message):
    with pytest.raises(ConfigError, match=message):
        check_launch(grid, block, shared)


def test_every_launch_path_is_validated_before_anything_runs():
    x = np.arange(40, dtype=np.float32)
    with pytest.raises(ConfigError, match=r"block x must be 1\.\.1024, got 2048"):
        kernels.vector_add(x, x, config=kernels.LaunchConfig(1, 2048))
    with pytest.raises(ConfigError, match="grid x must be"):
        kernels.LaunchConfig(0, 32)
    with pytest.raises(ConfigError, match="config must be a LaunchConfig"):
        kernels.vector_add(x, x, backend="cpu", config=(1, 32))
    m = np.ones((3, 3), np.float32)
    for b in ("cpu", backend()):  # the same refusal on every back end
        with pytest.raises(ConfigError, match=r"blocks x must be 1\.\.2147483647, got 0"):
            kernels.matmul(m, m, method="naive", blocks=(0, 1), backend=b)
        with pytest.raises(ConfigError, match="blocks must have 2 dimension"):
            kernels.matmul(m, m, blocks=3, backend=b)
    # run_kernel itself checks grid, block and the build's shared memory (64 KiB of bins)
    counts = np.zeros(16_384, np.int64)
    args = (np.arange(8, dtype=np.int64), np.int64(0), np.int64(1), counts)
    with pytest.raises(ConfigError, match="static shared memory must be <= 49152 bytes"):
        run_kernel(kernels.HISTOGRAM, 1, 32, args, bins=16_384)
    with pytest.raises(ConfigError, match="grid x must be"):
        run_kernel(kernels.VECTOR_ADD, 0, 32, (x, x, np.empty_like(x)))


@pytest.mark.parametrize("backend_name", ["cpu", "cudasim"])
def test_bad_parameters_are_refused_identically_on_every_backend(backend_name):
    if backend_name == "cudasim" and backend() != "cudasim":
        pytest.skip("needs numba's CUDA simulator")
    x = np.ones(8, np.float64)
    f32 = np.ones(8, np.float32)
    cases = [
        (lambda: kernels.reduce_sum(x, threads_per_block=2048, backend=backend_name),
         "power of two in 1..1024, got 2048"),
        (lambda: kernels.reduce_sum(x, threads_per_block=True, backend=backend_name),
         "threads_per_block must be an integer, got True"),
        (lambda: kernels.reduce_sum(x, blocks=0, backend=backend_name), "blocks x must be"),
        (lambda: kernels.scan(x, threads_per_block=3, backend=backend_name),
         "power of two in 1..1024, got 3"),
        (lambda: kernels.saxpy(1e40, f32, f32, backend=backend_name),
         "alpha must be within \\+-3.403e\\+38 to fit float32, got 1e\\+40"),
        (lambda: kernels.saxpy(10**400, x, x, backend=backend_name), "an integer of 401 digits"),
        (lambda: kernels.saxpy(1 + 2j, f32, f32, backend=backend_name), "alpha must be a real"),
        (lambda: kernels.saxpy(np.complex64(1), f32, f32, backend=backend_name),
         "alpha must be a real"),
        (lambda: kernels.histogram(np.ones(3, np.int64), bins=2, lo=0, width=1,
                                   threads_per_block=0, backend=backend_name),
         "threads_per_block must be 1..1024"),
        (lambda: kernels.moving_average(x, 2, blocks=-1, backend=backend_name), "blocks x must"),
        (lambda: kernels.vwap(x, x, 2, blocks=0, backend=backend_name), "blocks x must"),
        (lambda: kernels.matmul(np.ones((2, 2)), np.ones((2, 2)), tile=0, backend=backend_name),
         "tile must be 1..32"),
    ]  # fmt: skip
    for call, message in cases:
        with pytest.raises(ConfigError, match=message):
            call()
    assert kernels.saxpy(np.float64(2.0), f32, f32, backend=backend_name).dtype == np.float32


def test_histogram_refuses_ranges_whose_width_overflows_int64_and_the_reference_is_exact():
    values = np.array([2**62, -(2**62), 0])
    with pytest.raises(ConfigError, match="values - lo must fit in int64"):
        kernels.histogram(values, bins=4, lo=-(2**62), width=2**61, backend="cpu")
    with pytest.raises(ConfigError, match="lo and width must fit in int64"):
        kernels.histogram(values, bins=4, lo=2**63, width=1, backend="cpu")
    # wrapping would put 2**62 in bin 0; exactly, it lies beyond the last edge
    ref = kernels.histogram_reference(values, 4, -(2**62), 2**61)
    assert ref.tolist() == [1, 0, 1, 1]
    # near the edges of int64 without overflow, the kernel and the reference agree
    edge = np.array([np.iinfo(np.int64).max, 0, 5], np.int64)
    got = kernels.histogram(edge, bins=3, lo=0, width=2**62, backend="cpu")
    validate(got, kernels.histogram_reference(edge, 3, 0, 2**62))
    assert got.tolist() == [2, 1, 0]


def test_validate_checks_shape_and_tolerance_by_dtype():
    validate(np.float32([1.0]), np.float32([1.0 + 1e-7]))
    with pytest.raises(AssertionError):
        validate(np.float64([1.0]), np.float64([1.0 + 1e-9]))
    with pytest.raises(AssertionError, match="shape"):
        validate(np.zeros(2), np.zeros(3))
    with pytest.raises(AssertionError):
        validate(np.int64([3]), np.int64([4]))


# -- laziness and PTX -------------------------------------------------------------


def test_importing_the_kernels_and_running_on_cpu_never_imports_numba_cuda(run_python):
    code = (
        "import sys, rtkit.gpu, rtkit.gpu.kernels, rtkit.gpu.processor; "
        "import numpy as np; from rtkit.gpu import select_backend, kernels; "
        "print(select_backend('cpu').backend, rtkit.gpu.backend(), end=' '); "
        "kernels.vector_add(np.ones(2), np.ones(2)); "
        "print('numba.cuda' in sys.modules)"
    )
    assert run_python(code) == "cpu cpu False"


PTX_CHILD = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
from numba import cuda, int8
from rtkit.gpu.kernels import KERNEL_SPECS, REDUCE_SUM
from rtkit.gpu.kernels._base import assemble_ptx, find_ptxas
cc = (int(sys.argv[1]), int(sys.argv[2]))
ptxas = find_ptxas()
ptxs = [(label, ptx) for spec in KERNEL_SPECS.values() for label, ptx in spec.compile_ptx(cc)]
def assemble(item):
    return assemble_ptx(item[1], cc, ptxas) if ptxas else (None, "")
with ThreadPoolExecutor(2) as pool:
    assembled = list(pool.map(assemble, ptxs))
report = {"ptxas": ptxas is not None, "builds": {}}
for (label, ptx), (ok, msg) in zip(ptxs, assembled):
    report["builds"][label] = {"target": f".target sm_{cc[0]}{cc[1]}" in ptx,
                               "entry": ".entry" in ptx, "ptxas": ok, "msg": msg[-300:]}
# negative controls: the check must be able to fail
def int8_atomic(a, out):
    cuda.atomic.add(out, 0, a[cuda.grid(1)])
try:
    cuda.compile_ptx(int8_atomic, (int8[::1], int8[::1]), cc=cc)
    report["bad_type"] = "compiled"
except Exception as exc:
    report["bad_type"] = type(exc).__name__
huge = REDUCE_SUM.build(tpb=16_384)  # 128 KiB of float64 shared memory
ptx = cuda.compile_ptx(huge, REDUCE_SUM.ptx_signatures[0], cc=cc)[0]
report["oversize_shared"] = assemble_ptx(ptx, cc, ptxas) if ptxas else None
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def ptx_reports(child_env):
    """PTX for cc 8.0 and 9.0, compiled and assembled in two child processes at once."""
    env = child_env()
    children = {
        cc: subprocess.Popen(
            [sys.executable, "-W", "error", "-c", PTX_CHILD, *cc],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cc in (("8", "0"), ("9", "0"))
    }
    reports = {}
    for cc, child in children.items():
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, err
        reports["".join(cc)] = json.loads(out)
    return reports


def _expected_labels():
    return {
        f"{spec.name}{params or ''}{tuple(str(t) for t in sig)}"
        for spec in kernels.KERNEL_SPECS.values()
        for params, sigs in spec.ptx_builds()
        for sig in sigs
    }


def test_every_kernel_build_compiles_to_ptx_for_cc_80_and_90(ptx_reports):
    for cc, report in ptx_reports.items():
        assert set(report["builds"]) == _expected_labels(), cc
        for label, row in report["builds"].items():
            assert row["target"] and row["entry"], (cc, label)


def test_ptxas_assembles_every_build_for_sm_80_and_sm_90(ptx_reports):
    if not ptx_reports["80"]["ptxas"]:
        pytest.skip("ptxas not found: install nvidia-cuda-nvcc-cu12 (numba-cuda[cu12]) for it")
    for cc, report in ptx_reports.items():
        for label, row in report["builds"].items():
            assert row["ptxas"] is True, (cc, label, row["msg"])


def test_the_ptx_checks_fail_for_bad_kernels(ptx_reports):
    for cc, report in ptx_reports.items():
        assert report["bad_type"] == "TypingError", cc  # no atomic add on int8
        if report["ptxas"]:  # 128 KiB of shared memory: fine as PTX, refused by ptxas
            accepted, message = report["oversize_shared"]
            assert not accepted and "shared" in message.lower(), (cc, message)


def test_the_ptx_set_holds_the_largest_configurations_and_every_launched_dtype():
    builds = {n: s.ptx_builds() for n, s in kernels.KERNEL_SPECS.items()}
    tiled = [(p["tile"], p["dtype"]) for p, _ in builds["matmul_tiled"]]
    assert {(32, "float32"), (32, "float64"), (16, "float64")} <= set(tiled)
    assert max(p["tpb"] for p, _ in builds["reduce_sum"]) == 1024
    assert max(p["bins"] for p, _ in builds["histogram"]) == MAX_BINS
    assert max(p["tpb"] for p, _ in builds["scan"]) == max(
        p["tpb"] for p, _ in builds["scan_int64"]
    )
    for name in ("scan", "scan_int64"):  # each of the three phases at 1024 threads
        phases = {p.get("phase", "single") for p, _ in builds[name] if p["tpb"] == 1024}
        assert phases == {"single", "blocks", "add"}, name
    for spec in kernels.KERNEL_SPECS.values():  # every build fits a block's shared memory
        for params, _ in spec.ptx_builds():
            check_launch(1, 1, spec.shared_bytes(**params))
    # ... and one step beyond each is refused before any launch
    one = np.ones((2, 2), np.float32)
    with pytest.raises(ConfigError, match=r"tile must be 1\.\.32"):
        kernels.matmul(one, one, tile=33, backend="cpu")
    with pytest.raises(ConfigError, match=r"power of two in 1\.\.1024, got 2048"):
        kernels.reduce_sum(np.ones(4), threads_per_block=2048, backend="cpu")
    with pytest.raises(ConfigError, match=r"bins must be 1\.\.4096"):
        kernels.histogram(np.ones(3, np.int64), bins=4097, lo=0, width=1, backend="cpu")


def test_compile_ptx_refuses_to_run_in_the_simulator():
    if backend() != "cudasim":
        pytest.skip("only meaningful in the simulator")
    with pytest.raises(ConfigError, match="without the simulator"):
        kernels.KERNEL_SPECS["saxpy"].compile_ptx((8, 0))
