"""Benchmark: rtkit.sched.simulate against a minimal heapq simulator and SimSo.

Workload (issue 7): EDF on one processor, 10 periodic tasks with utilisation
about 0.9 (UUniFast, log-uniform periods in [10, 1000], seeded), simulated
for 1,000,000 time units, every job and every execution segment recorded.

Contenders:

* ``rtkit simulate``: :func:`rtkit.sched.simulate` with its compiled core,
  returning the full :class:`~rtkit.sched.Schedule` (job table and segment
  table as structured arrays). Its first call (numba compile or cache load)
  is timed on its own and excluded.
* ``rtkit reference``: the same call with ``engine="reference"``, the
  readable event-driven simulator, on a shorter horizon (rates are per job).
  For scale only; no goal applies to it.
* ``heapq EDF``, written below: the careful learner's simulator, a heap of
  next releases and a heap of ready jobs keyed (deadline, release, task),
  preemptive, recording jobs and segments as Python lists.
* ``simso`` (PyPI 0.8.5, ``simso.schedulers.EDF_mono``): SimSo pins SimPy
  2.3.1, so it lives in its own virtual environment, ``benchmarks/.venv-simso``,
  created on the first run (``python -m venv`` + ``pip install simso``) and
  run in a subprocess that times ``Model.run_model()`` only. If it cannot be
  installed or run, the benchmark says so and still reports the rest.

All contenders must agree on the number of jobs released before the horizon
and on the number of deadline misses; rtkit and heapq, which break ties the
same way, must also agree on the number of segments. The exit status is 1 if
they do not. Not part of the test suite; ``make bench`` runs it. Usage:

    python benchmarks/bench_sched.py [--horizon 1000000] [--repeat 3] [--seed 7] [--no-simso]
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np

from rtkit.sched import Task, random_taskset, simulate, utilisation

HERE = Path(__file__).resolve().parent
SIMSO_VENV = HERE / ".venv-simso"

GOAL_VS_HEAPQ = 2.0
GOAL_VS_SIMSO = 300.0


def heapq_edf(tasks: list[Task], horizon: int) -> tuple[list[list[int]], list[tuple]]:
    """Minimal preemptive EDF: jobs as [task, release, deadline, start, finish], segments."""
    releases = [(t.phase, i) for i, t in enumerate(tasks) if t.phase < horizon]
    heapq.heapify(releases)
    ready: list[tuple[int, int, int, int]] = []  # (deadline, release, task, job)
    jobs: list[list[int]] = []
    remaining: list[int] = []
    segments: list[tuple[int, int, int, int]] = []  # (task, job, start, end)
    now = 0
    running = -1
    seg_start = 0
    while True:
        while releases and releases[0][0] <= now:
            r, i = heapq.heappop(releases)
            t = tasks[i]
            job = len(jobs)
            jobs.append([i, r, r + t.deadline, -1, -1])
            remaining.append(t.wcet)
            heapq.heappush(ready, (r + t.deadline, r, i, job))
            if r + t.period < horizon:
                heapq.heappush(releases, (r + t.period, i))
        if now >= horizon:
            break
        top = ready[0][3] if ready else -1
        if top != running:
            if running >= 0:
                segments.append((jobs[running][0], running, seg_start, now))
            running, seg_start = top, now
            if top >= 0 and jobs[top][3] < 0:
                jobs[top][3] = now
        nxt = releases[0][0] if releases else horizon
        nxt = min(nxt, horizon)
        if running >= 0:
            nxt = min(nxt, now + remaining[running])
            remaining[running] -= nxt - now
        now = nxt
        if running >= 0 and remaining[running] == 0:
            jobs[running][4] = now
            heapq.heappop(ready)
            segments.append((jobs[running][0], running, seg_start, now))
            running, seg_start = -1, now
    if running >= 0:
        segments.append((jobs[running][0], running, seg_start, horizon))
    return jobs, segments


def heapq_misses(jobs: list[list[int]], horizon: int) -> int:
    return sum(1 for _, _, d, _, f in jobs if (f > d if f >= 0 else d <= horizon))


SIMSO_SCRIPT = r"""
import json, sys, time
from simso.configuration import Configuration
from simso.core import Model

spec = json.load(sys.stdin)
conf = Configuration()
conf.duration = spec["horizon"] * conf.cycles_per_ms
for k, (name, wcet, period, deadline) in enumerate(spec["tasks"], start=1):
    conf.add_task(name=name, identifier=k, period=period, activation_date=0,
                  wcet=wcet, deadline=deadline, abort_on_miss=False)
conf.add_processor(name="CPU 1", identifier=1)
conf.scheduler_info.clas = "simso.schedulers.EDF_mono"
conf.check_all()
model = Model(conf)
t0 = time.perf_counter()
model.run_model()
seconds = time.perf_counter() - t0
horizon = spec["horizon"]
jobs = [j for t in model.task_list for j in t.jobs if j.activation_date < horizon]
def missed(j):
    if j.end_date is not None:  # end_date is in cycles, whatever its docstring says
        return j.exceeded_deadline
    return j.absolute_deadline <= horizon
print(json.dumps({"seconds": seconds, "jobs": len(jobs), "misses": sum(map(missed, jobs))}))
"""


def ensure_simso() -> tuple[Path | None, str]:
    """The venv's python with simso importable, or None and the reason."""
    python = SIMSO_VENV / "bin" / "python"
    try:
        if not python.exists():
            print(f"creating {SIMSO_VENV} for simso (first run only) ...", flush=True)
            subprocess.run([sys.executable, "-m", "venv", str(SIMSO_VENV)], check=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", "simso"],
                check=True,
                timeout=900,
            )
        probe = subprocess.run(
            [str(python), "-c", "import simso.core, simso.configuration; print(simso.__version__)"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"could not install simso: {exc}"
    if probe.returncode != 0:
        return None, "simso does not import: " + probe.stderr.strip().splitlines()[-1]
    return python, f"simso {probe.stdout.strip()}"


def run_simso(python: Path, tasks: list[Task], horizon: int) -> dict | str:
    spec = {
        "horizon": horizon,
        "tasks": [(t.name, t.wcet, t.period, t.deadline) for t in tasks],
    }
    try:
        done = subprocess.run(
            [str(python), "-c", SIMSO_SCRIPT],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=3600,
        )
    except subprocess.SubprocessError as exc:
        return f"simso run failed: {exc}"
    if done.returncode != 0:
        return "simso run failed: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(done.stdout.strip().splitlines()[-1])


def timed(fn, repeat: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def line(name: str, jobs: int, times: list[float], extra: str = "") -> float:
    med = statistics.median(times)
    rate = jobs / min(times)  # best of the repeats: the least disturbed by other load
    print(
        f"  {name:<18} {jobs:>9,} jobs  min {min(times) * 1e3:9.1f} ms  median {med * 1e3:9.1f} ms"
        f"  max {max(times) * 1e3:9.1f} ms  best {rate / 1e6:7.3f} M jobs/s{extra}"
    )
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizon", type=int, default=1_000_000, help="time units simulated")
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats (rtkit, heapq)")
    parser.add_argument("--seed", type=int, default=7, help="task-set seed")
    parser.add_argument("--ref-fraction", type=int, default=50, help="reference runs horizon/N")
    parser.add_argument("--no-simso", action="store_true", help="skip simso")
    args = parser.parse_args(argv)
    if min(args.horizon, args.repeat, args.ref_fraction) < 1:
        parser.error("horizon, repeat and ref-fraction must be >= 1")

    tasks = random_taskset(10, 0.9, periods=(10, 1000), seed=args.seed)
    horizon = args.horizon
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print("rtkit.sched.simulate vs peers: EDF, one cpu, full schedule recorded")
    print(
        f"environment: python {platform.python_version()}, numpy {np.__version__}, "
        f"numba {numba.__version__}, {os.cpu_count()} CPUs ({platform.machine()}, "
        f"{platform.system()}), load average {load}"
    )
    print(
        f"workload: {len(tasks)} tasks, U = {utilisation(tasks):.4f}, periods "
        f"{min(t.period for t in tasks)}..{max(t.period for t in tasks)}, horizon {horizon:,}, "
        f"seed {args.seed}"
    )
    print()

    t0 = time.perf_counter()
    simulate(tasks, "edf", horizon=1_000)
    print(f"  rtkit first call (compile or cache load): {(time.perf_counter() - t0) * 1e3:.0f} ms")
    times, sched = timed(lambda: simulate(tasks, "edf", horizon=horizon), args.repeat)
    assert sched.engine == "fast"
    r_jobs, r_misses, r_segs = len(sched.jobs), sched.misses, len(sched.segments)
    rate_rtkit = line("rtkit simulate", r_jobs, times, f"  ({r_segs:,} segments)")

    short = max(1, horizon // args.ref_fraction)
    ref_times, ref = timed(lambda: simulate(tasks, "edf", horizon=short, engine="reference"), 1)
    short_fast = simulate(tasks, "edf", horizon=short)
    same = np.array_equal(ref.jobs, short_fast.jobs) and np.array_equal(
        ref.segments, short_fast.segments
    )
    line("rtkit reference", len(ref.jobs), ref_times, f"  (horizon {short:,}; identical: {same})")

    h_times, (h_jobs_list, h_segs) = timed(lambda: heapq_edf(tasks, horizon), args.repeat)
    h_jobs, h_misses = len(h_jobs_list), heapq_misses(h_jobs_list, horizon)
    rate_heapq = line("heapq EDF", h_jobs, h_times, f"  ({len(h_segs):,} segments)")

    simso_result: dict | str = "skipped (--no-simso)"
    if not args.no_simso:
        python, what = ensure_simso()
        simso_result = what if python is None else run_simso(python, tasks, horizon)
    rate_simso = None
    if isinstance(simso_result, dict):
        rate_simso = line("simso EDF_mono", simso_result["jobs"], [simso_result["seconds"]])
    else:
        print(f"  simso: {simso_result}")

    print()
    counts = {"rtkit": (r_jobs, r_misses), "heapq": (h_jobs, h_misses)}
    if isinstance(simso_result, dict):
        counts["simso"] = (simso_result["jobs"], simso_result["misses"])
    for name, (j, m) in counts.items():
        print(f"  {name:<6} jobs {j:,}  misses {m}")
    agree = len(set(counts.values())) == 1 and r_segs == len(h_segs) and same
    print(f"  agreement on jobs and misses (and rtkit/heapq segments): {'yes' if agree else 'NO'}")
    print()
    ratio_h = rate_rtkit / rate_heapq
    verdict_h = "met" if ratio_h >= GOAL_VS_HEAPQ else "NOT met"
    print(f"  rtkit / heapq: {ratio_h:6.1f}x  (goal >= {GOAL_VS_HEAPQ:g}x: {verdict_h})")
    if rate_simso is not None:
        ratio_s = rate_rtkit / rate_simso
        verdict_s = "met" if ratio_s >= GOAL_VS_SIMSO else "NOT met"
        print(f"  rtkit / simso: {ratio_s:6.0f}x  (goal >= {GOAL_VS_SIMSO:g}x: {verdict_s})")
    else:
        print("  rtkit / simso: not measured (see above)")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
