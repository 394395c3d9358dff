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
  next releases and a heap of ready jobs keyed by (deadline, job number),
  preemptive, recording jobs and segments as parallel lists of ints: as fast
  as a minimal pure-Python simulator gets, so that the ratio means something.
* ``simso`` (PyPI 0.8.5, ``simso.schedulers.EDF_mono``): SimSo pins SimPy
  2.3.1, so it lives in its own virtual environment, ``benchmarks/.venv-simso``,
  created on the first run (``python -m venv`` + ``pip install simso``) and
  run in a subprocess that times ``Model.run_model()`` only. If it cannot be
  installed or run, the benchmark says so and still reports the rest.

Agreement, checked on the workload and on an overloaded variant (U about
1.1, horizon/10, so that EDF misses deadlines and the miss counts are a real
check): rtkit and heapq, which break deadline ties the same way, must produce
the same schedule job by job (task, release, deadline, start, finish) and
segment by segment; all contenders must agree on the number of jobs released
before the horizon and on the number of deadline misses. The exit status is 1
if they do not. Not part of the test suite; ``make bench`` runs it. Usage:

    python benchmarks/bench_sched.py [--horizon 1000000] [--repeat 3] [--seed 7]
        [--ref-fraction 50] [--overload-fraction 10] [--no-simso]
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


def heapq_edf(tasks: list[Task], horizon: int) -> tuple[list[list[int]], list[list[int]]]:
    """Minimal preemptive EDF on a heap of releases and a heap of ready jobs.

    Returns the jobs as parallel lists ``[task, release, deadline, start, finish]``
    (in release order, ties by task: the order of rtkit's job table) and the
    segments as parallel lists ``[job, start, end]``. Parallel lists of ints,
    bound methods and ``heapreplace`` are what make it fast in plain Python.
    """
    push, pop, replace = heapq.heappush, heapq.heappop, heapq.heapreplace
    wcet = [t.wcet for t in tasks]
    period = [t.period for t in tasks]
    rel_deadline = [t.deadline for t in tasks]
    releases = [(t.phase, i) for i, t in enumerate(tasks) if t.phase < horizon]
    heapq.heapify(releases)
    # Jobs are numbered in (release, task) order, so (deadline, job) breaks
    # deadline ties exactly as rtkit's (deadline, release, task) does.
    ready: list[tuple[int, int]] = []
    task_of: list[int] = []
    release_of: list[int] = []
    deadline_of: list[int] = []
    start: list[int] = []
    finish: list[int] = []
    remaining: list[int] = []
    seg_job: list[int] = []
    seg_start: list[int] = []
    seg_end: list[int] = []
    now = seg_open = 0
    running = -1
    while True:
        while releases and releases[0][0] <= now:  # admit every release due by now
            r, i = releases[0]
            if r + period[i] < horizon:
                replace(releases, (r + period[i], i))
            else:
                pop(releases)
            job = len(task_of)
            d = r + rel_deadline[i]
            task_of.append(i)
            release_of.append(r)
            deadline_of.append(d)
            start.append(-1)
            finish.append(-1)
            remaining.append(wcet[i])
            push(ready, (d, job))
        if now >= horizon:
            break
        top = ready[0][1] if ready else -1  # earliest deadline runs
        if top != running:
            if running >= 0:  # preempted: close its segment
                seg_job.append(running)
                seg_start.append(seg_open)
                seg_end.append(now)
            running, seg_open = top, now
            if top >= 0 and start[top] < 0:
                start[top] = now
        nxt = releases[0][0] if releases else horizon
        if nxt > horizon:
            nxt = horizon
        if running >= 0:
            done = now + remaining[running]
            if done <= nxt:  # finishes before anything else happens
                now = finish[running] = done
                pop(ready)
                seg_job.append(running)
                seg_start.append(seg_open)
                seg_end.append(now)
                running, seg_open = -1, now
                continue
            remaining[running] -= nxt - now
        now = nxt
    if running >= 0:
        seg_job.append(running)
        seg_start.append(seg_open)
        seg_end.append(horizon)
    return [task_of, release_of, deadline_of, start, finish], [seg_job, seg_start, seg_end]


def heapq_misses(jobs: list[list[int]], horizon: int) -> int:
    """Finished after the deadline, or unfinished at a deadline within the horizon."""
    _, _, deadline, _, finish = jobs
    late = (f > d if f >= 0 else d <= horizon for d, f in zip(deadline, finish, strict=True))
    return sum(late)


def same_schedule(sched, jobs: list[list[int]], segs: list[list[int]]) -> str:
    """'' if rtkit's schedule and heapq's agree job by job and segment by segment."""
    j = sched.jobs
    for name, col in zip(("task", "release", "deadline", "start", "finish"), jobs, strict=True):
        theirs = np.asarray(col, dtype=np.int64)
        if len(theirs) != len(j) or not np.array_equal(j[name], theirs):
            bad = np.flatnonzero(j[name][: len(theirs)] != theirs[: len(j)])
            where = f"first at job {bad[0]}" if len(bad) else f"{len(j)} vs {len(theirs)} jobs"
            return f"{name} differs ({where})"
    seg = np.sort(sched.segments, order=["start", "cpu"])
    for name, col in zip(("job", "start", "end"), segs, strict=True):
        if not np.array_equal(seg[name], np.asarray(col, dtype=np.int64)):
            return f"segment {name} differs"
    return ""


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
    parser.add_argument("--overload-fraction", type=int, default=10, help="overload runs horizon/N")
    parser.add_argument("--no-simso", action="store_true", help="skip simso")
    args = parser.parse_args(argv)
    if min(args.horizon, args.repeat, args.ref_fraction, args.overload_fraction) < 1:
        parser.error("horizon, repeat, ref-fraction and overload-fraction must be >= 1")

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
    h_jobs, h_misses = len(h_jobs_list[0]), heapq_misses(h_jobs_list, horizon)
    rate_heapq = line("heapq EDF", h_jobs, h_times, f"  ({len(h_segs[0]):,} segments)")
    diff = same_schedule(sched, h_jobs_list, h_segs)

    python, simso_what = (None, "skipped (--no-simso)")
    if not args.no_simso:
        python, simso_what = ensure_simso()
    simso_result: dict | str = simso_what
    if python is not None:
        simso_result = run_simso(python, tasks, horizon)
    rate_simso = None
    if isinstance(simso_result, dict):
        rate_simso = line("simso EDF_mono", simso_result["jobs"], [simso_result["seconds"]])
    else:
        print(f"  simso: {simso_result}")

    # Overload: with U about 1.1 EDF misses deadlines, so the miss counts are a
    # real check of the three simulators (at U 0.92 all three trivially say 0).
    over = random_taskset(10, 1.1, periods=(10, 1000), seed=args.seed)
    o_h = max(1, horizon // args.overload_fraction)
    print()
    print(f"overload: {len(over)} tasks, U = {utilisation(over):.4f}, horizon {o_h:,}, EDF")
    o_times, o_sched = timed(lambda: simulate(over, "edf", horizon=o_h), args.repeat)
    line("rtkit simulate", len(o_sched.jobs), o_times, f"  ({len(o_sched.segments):,} segments)")
    oh_times, (o_jobs, o_segs) = timed(lambda: heapq_edf(over, o_h), args.repeat)
    line("heapq EDF", len(o_jobs[0]), oh_times, f"  ({len(o_segs[0]):,} segments)")
    o_diff = same_schedule(o_sched, o_jobs, o_segs)
    o_simso: dict | str = simso_what
    if python is not None:
        o_simso = run_simso(python, over, o_h)
    if isinstance(o_simso, dict):
        line("simso EDF_mono", o_simso["jobs"], [o_simso["seconds"]])
    else:
        print(f"  simso: {o_simso}")

    print()
    agree = not diff and not o_diff and same
    o_counts = (len(o_sched.jobs), o_sched.misses)
    tables = {
        "workload": ({"rtkit": (r_jobs, r_misses), "heapq": (h_jobs, h_misses)}, simso_result),
        "overload": (
            {"rtkit": o_counts, "heapq": (len(o_jobs[0]), heapq_misses(o_jobs, o_h))},
            o_simso,
        ),
    }
    for label, (rows, result) in tables.items():
        if isinstance(result, dict):
            rows["simso"] = (result["jobs"], result["misses"])
        for name, (j, m) in rows.items():
            print(f"  {label}  {name:<6} jobs {j:>9,}  misses {m:>9,}")
        agree = agree and len(set(rows.values())) == 1
    print(f"  rtkit reference = rtkit compiled (horizon {short:,}): {'yes' if same else 'NO'}")
    for label, d in (("workload", diff), ("overload", o_diff)):
        verdict = "yes" if not d else "NO: " + d
        print(
            f"  {label}: rtkit = heapq job by job (start, finish) and segment by segment: {verdict}"
        )
    print(
        f"  agreement on jobs and misses (all contenders, both loads): {'yes' if agree else 'NO'}"
    )
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
