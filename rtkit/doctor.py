"""``rtkit doctor``: what this machine offers a real-time experiment.

Before a learner trusts a latency figure they should know what it was
measured on: how fine the clock is and what one read of it costs, how late
the operating system wakes a sleeping thread (timer slack), how many CPUs
the process may really use, whether the garbage collector and the GIL are
in play, and whether a GPU exists (DESIGN convention 7: no GPU figure is
printed as measured unless measured on one).

:func:`collect` gathers it as a JSON-ready dict; :func:`report` lays it out
as aligned text. Values read from the system (versions, counts, the clock's
reported resolution) are facts; values marked *measured* come from a short
experiment run just now and differ from run to run (DESIGN convention 2).

Neither function ever raises: each probe runs on its own, and one that
fails is reported as ``"unavailable (reason)"`` while the rest still run.
Everything takes well under a second, most of it importing numba for the
GPU probe.

Example:
    >>> info = collect()
    >>> info["clock"]["measured_resolution_ns"] > 0
    True
    >>> "resolution (measured)" in report(info)
    True
"""

from __future__ import annotations

import gc
import importlib.metadata
import itertools
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["collect", "report", "rtkit_version"]

PACKAGES: tuple[str, ...] = ("numpy", "numba", "matplotlib", "ipywidgets")
CLOCK_READS = 10_000
SLEEP_REQUEST_NS = 100_000  # time.sleep(0.0001): 100 µs
SLEEPS = 20


def rtkit_version() -> str:
    """Return the installed rtkit version, or ``"unknown"`` when not installed.

    Example:
        >>> rtkit_version() != ""
        True
    """
    try:
        return importlib.metadata.version("rtkit")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _package_version(name: str) -> str | None:
    # Read from the installed metadata rather than importing: importing
    # matplotlib alone would spend a good part of the time budget.
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _probe_python() -> dict[str, Any]:
    """Python version, implementation and interpreter path."""
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
    }


def _probe_platform() -> str:
    """Operating system, kernel and architecture in one string."""
    return platform.platform()


def _probe_packages() -> dict[str, str | None]:
    """Versions of the packages rtkit leans on; None for one not installed."""
    return {name: _package_version(name) for name in PACKAGES}


def _probe_cpus() -> dict[str, int | None]:
    """Logical CPUs in the machine, and those this process may run on."""
    # A container or taskset can pin the process to fewer CPUs than the
    # machine has; a worker pool sized from os.cpu_count() then oversubscribes.
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"count": os.cpu_count(), "usable": usable}


def _probe_clock(reads: int = CLOCK_READS) -> dict[str, Any]:
    """perf_counter_ns: resolution as reported and as measured, and read cost."""
    info = time.get_clock_info("perf_counter")
    now = time.perf_counter_ns
    stamps = [now() for _ in range(reads)]
    steps = [b - a for a, b in itertools.pairwise(stamps)]
    # Two reads closer together than the clock's tick return the same value,
    # so the smallest non-zero step is the finest difference the clock can
    # show. It can never look smaller than one read costs, however fine the
    # underlying counter is.
    ticks = [step for step in steps if step > 0]
    return {
        "function": "time.perf_counter_ns",
        "implementation": info.implementation,
        "monotonic": info.monotonic,
        "adjustable": info.adjustable,
        "reported_resolution_ns": round(info.resolution * 1e9, 3),
        "measured_resolution_ns": min(ticks) if ticks else None,
        # The gap between consecutive reads: one read plus the loop around it.
        "measured_read_cost_ns": statistics.median_low(steps),
        "reads": reads,
    }


def _probe_sleep(sleeps: int = SLEEPS, request_ns: int = SLEEP_REQUEST_NS) -> dict[str, int]:
    """How late time.sleep(100 µs) wakes: the timer slack a deadline must absorb."""
    now = time.perf_counter_ns
    late = []
    for _ in range(sleeps):
        start = now()
        time.sleep(request_ns / 1e9)
        late.append(now() - start - request_ns)
    return {
        "requested_ns": request_ns,
        "sleeps": sleeps,
        "measured_median_late_ns": statistics.median_low(late),
        "measured_max_late_ns": max(late),
    }


def _probe_gc() -> dict[str, Any]:
    """Whether the cyclic garbage collector runs, and when it triggers."""
    return {"enabled": gc.isenabled(), "thresholds": list(gc.get_threshold())}


def _probe_gil() -> bool:
    """Whether the GIL is held: always True before Python 3.13's free-threaded build."""
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return True if is_gil_enabled is None else bool(is_gil_enabled())


def _probe_gpu() -> dict[str, Any]:
    """Back end, CUDA, simulator, CuPy and device, from rtkit.gpu."""
    # Imported here: it pulls in numba, which `rtkit --help` should not pay for.
    from rtkit.gpu.detect import describe

    return describe()


def _unavailable(exc: BaseException) -> str:
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return f"unavailable ({reason})"


def _guard(probe: Callable[[], Any]) -> Any:
    """Run one probe; turn any failure into ``"unavailable (reason)"``."""
    try:
        return probe()
    except Exception as exc:
        return _unavailable(exc)


def collect() -> dict[str, Any]:
    """Run every probe and return the results as a JSON-ready dict.

    Top-level keys: ``rtkit``, ``python``, ``platform``, ``packages``,
    ``cpus``, ``clock``, ``sleep``, ``gc``, ``gil_enabled``, ``gpu``. Keys
    starting ``measured_`` hold values measured just now, in nanoseconds. A
    probe that fails leaves the string ``"unavailable (reason)"`` in place of
    its value. Never raises. Cost: about half a second, mostly importing numba.

    Example:
        >>> info = collect()
        >>> sorted(info)  # doctest: +NORMALIZE_WHITESPACE
        ['clock', 'cpus', 'gc', 'gil_enabled', 'gpu', 'packages', 'platform',
         'python', 'rtkit', 'sleep']
        >>> info["python"]["version"] == platform.python_version()
        True
    """
    # Each probe is looked up by name at call time, one _guard per probe, so
    # one failure (or a probe replaced in a test) costs only its own line.
    return {
        "rtkit": _guard(rtkit_version),
        "python": _guard(_probe_python),
        "platform": _guard(_probe_platform),
        "packages": _guard(_probe_packages),
        "cpus": _guard(_probe_cpus),
        "clock": _guard(_probe_clock),
        "sleep": _guard(_probe_sleep),
        "gc": _guard(_probe_gc),
        "gil_enabled": _guard(_probe_gil),
        "gpu": _guard(_probe_gpu),
    }


# --- text report -------------------------------------------------------------


def _fmt_ns(ns: float | None) -> str:
    """Format nanoseconds in the unit a reader takes in at a glance."""
    if ns is None:
        return "none"
    if abs(ns) < 1_000:
        return f"{ns:g} ns"
    if abs(ns) < 1_000_000:
        us = ns / 1_000
        # Three significant figures is all a run-to-run figure deserves.
        return f"{us:.0f} µs" if abs(us) >= 100 else f"{us:.1f} µs"
    return f"{ns / 1_000_000:.2f} ms"


def _yes_no(flag: object) -> str:
    return "yes" if flag else "no"


Row = tuple[str, str]


def _rows_main(info: dict[str, Any]) -> list[Row]:
    py = info["python"]
    rows: list[Row] = [("rtkit", str(info["rtkit"]))]
    if isinstance(py, dict):
        rows.append(("python", f"{py['version']} ({py['implementation']}), {py['executable']}"))
    else:
        rows.append(("python", str(py)))
    rows.append(("platform", str(info["platform"])))
    packages = info["packages"]
    if isinstance(packages, dict):
        rows += [(name, version or "not installed") for name, version in packages.items()]
    else:
        rows.append(("packages", str(packages)))
    cpus = info["cpus"]
    if isinstance(cpus, dict):
        usable = cpus["usable"]
        usable_text = "not reported on this platform" if usable is None else str(usable)
        rows.append(("CPUs", f"{cpus['count']} (usable CPUs: {usable_text})"))
    else:
        rows.append(("CPUs", str(cpus)))
    return rows


def _noted(value: str, note: str) -> str:
    """A short value, then what it means, lined up with the other measured rows."""
    return f"{value:<10} {note}"


def _rows_clock(clock: dict[str, Any]) -> list[Row]:
    traits = [
        "monotonic" if clock["monotonic"] else "NOT monotonic",
        "adjustable" if clock["adjustable"] else "not adjustable",
    ]
    reads = f"{clock['reads']:,} reads"
    resolution = clock["measured_resolution_ns"]
    if resolution is None:
        resolution_text = f"no tick in {reads}: the clock ticks more slowly than they took"
    else:
        note = f"smallest step in {reads}: the finest you can time"
        resolution_text = _noted(_fmt_ns(resolution), note)
    return [
        ("implementation", f"{clock['implementation']}, {', '.join(traits)}"),
        ("resolution (reported)", _fmt_ns(clock["reported_resolution_ns"])),
        ("resolution (measured)", resolution_text),
        (
            "read cost (measured)",
            _noted(
                _fmt_ns(clock["measured_read_cost_ns"]), "median gap between reads, loop included"
            ),
        ),
    ]


def _rows_sleep(sleep: dict[str, Any]) -> list[Row]:
    late = _fmt_ns(sleep["measured_median_late_ns"])
    worst = _fmt_ns(sleep["measured_max_late_ns"])
    return [
        (
            f"sleep({_fmt_ns(sleep['requested_ns'])}) (measured)",
            _noted(late, f"late: median of {sleep['sleeps']} sleeps, worst {worst}"),
        )
    ]


def _rows_runtime(info: dict[str, Any]) -> list[Row]:
    collector = info["gc"]
    if isinstance(collector, dict):
        state = "enabled" if collector["enabled"] else "disabled"
        thresholds = ", ".join(str(t) for t in collector["thresholds"])
        gc_text = f"{state}, thresholds ({thresholds})"
    else:
        gc_text = str(collector)
    gil = info["gil_enabled"]
    gil_text = ("enabled" if gil else "disabled") if isinstance(gil, bool) else str(gil)
    return [("gc", gc_text), ("GIL", gil_text)]


def _rows_gpu(gpu: dict[str, Any]) -> list[Row]:
    return [
        ("backend", str(gpu["backend"])),
        ("CUDA available", _yes_no(gpu["cuda_available"])),
        ("cudasim", _yes_no(gpu["cudasim"])),
        ("CuPy usable", _yes_no(gpu["cupy"])),
        ("device", gpu["device_name"] or "none"),
        ("numba-cuda", gpu["numba_cuda_version"] or "not installed"),
    ]


def _section(
    title: str, value: Any, build: Callable[[Any], list[Row]], label: str
) -> tuple[str, list[Row]]:
    """Build one section's rows; a failed probe, or entry that will not format, is one row."""
    if isinstance(value, str):  # the probe failed: value is "unavailable (...)"
        return title, [(label, value)]
    try:
        return title, build(value)
    except Exception as exc:
        return title, [(label, _unavailable(exc))]


def report(info: dict[str, Any] | None = None) -> str:
    """Return ``info`` (default: a fresh :func:`collect`) as an aligned text block.

    Lines marked ``(measured)`` come from experiments run just now. Never
    raises: a missing or malformed entry shows as ``unavailable (reason)``.

    Example:
        >>> text = report()
        >>> text.splitlines()[0]
        'rtkit doctor: this machine, as a real-time experiment sees it'
        >>> "CUDA available" in text
        True
    """
    if info is None:
        info = collect()
    sections = [
        _section("", info, _rows_main, "system"),
        _section("clock: time.perf_counter_ns", info.get("clock"), _rows_clock, "clock"),
        _section("timer slack", info.get("sleep"), _rows_sleep, "sleep"),
        _section("runtime", info, _rows_runtime, "runtime"),
        _section("gpu", info.get("gpu"), _rows_gpu, "gpu"),
    ]
    width = max(len(label) for _, rows in sections for label, _ in rows)
    lines = ["rtkit doctor: this machine, as a real-time experiment sees it"]
    for title, rows in sections:
        lines.append("")
        if title:
            lines.append(title)
        lines += [f"  {label:<{width}}  {value}" for label, value in rows]
    lines += ["", "(measured): from a short run just now; expect different figures next time."]
    lines.append(_gpu_note(info.get("gpu")))
    return "\n".join(lines)


def _gpu_note(gpu: Any) -> str:
    """One line on what GPU figures in the lessons will mean on this machine."""
    backend = gpu.get("backend") if isinstance(gpu, dict) else None
    if backend == "cuda":
        return "GPU lessons run on the device above: their GPU timings are measured."
    if backend == "cudasim":
        return (
            "GPU kernels run in numba's CUDA simulator: results are checked,\n"
            "but no GPU timing is measured."
        )
    return (
        "No GPU: rtkit.gpu.select_backend() (lesson 05's first cell) runs the kernels\n"
        "in numba's CUDA simulator, or on their CPU counterparts if asked;\n"
        "no GPU timing is measured."
    )
