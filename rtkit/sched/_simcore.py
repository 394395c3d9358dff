"""The compiled simulator core: one cpu, EDF / RM / DM / FP, preemptive or not.

It follows the reference simulator's steps (:mod:`rtkit.sched._simref`)
exactly, with two simplifications that one cpu and fixed keys allow: the jobs
pending for task i are the contiguous range ``[head[i], released[i])`` of
its job list (jobs of a task finish in release order), and choosing the next
job is a scan of the n queue heads, which for the usual ten-odd tasks is
faster than any heap. Partitioned multiprocessor runs call it once per cpu.

Runtime complexity: O((jobs + preemptions) x tasks); memory O(jobs).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rtkit.sched._simref import SimInput, SimOutput


@njit(cache=True)
def _run(wcet, key, offset, release, deadline, horizon, edf, preemptive, abort):  # pragma: no cover
    n = len(wcet)
    n_jobs = len(release)
    remaining = np.empty(n_jobs, dtype=np.int64)
    for i in range(n):
        for j in range(offset[i], offset[i + 1]):
            remaining[j] = wcet[i]
    start = np.full(n_jobs, -1, dtype=np.int64)
    finish = np.full(n_jobs, -1, dtype=np.int64)
    aborted = np.zeros(n_jobs, dtype=np.bool_)
    released = offset[:-1].copy()
    head = offset[:-1].copy()
    cap = 3 * n_jobs + 2  # a segment ends at a finish, an abort, a release or the horizon
    seg_job = np.empty(cap, dtype=np.int64)
    seg_start = np.empty(cap, dtype=np.int64)
    seg_end = np.empty(cap, dtype=np.int64)
    n_seg = 0
    running = -1
    run_task = -1
    seg_open = 0
    t = 0
    while True:
        for i in range(n):
            while released[i] < offset[i + 1] and release[released[i]] <= t:
                released[i] += 1
        if abort:
            for i in range(n):
                while head[i] < released[i] and deadline[head[i]] <= t:
                    j = head[i]
                    aborted[j] = True
                    head[i] += 1
                    if j == running:
                        if t > seg_open:
                            seg_job[n_seg] = j
                            seg_start[n_seg] = seg_open
                            seg_end[n_seg] = t
                            n_seg += 1
                        running = -1
                        run_task = -1
                        seg_open = t
        if t >= horizon:
            break
        if preemptive or running == -1:
            best = -1
            best_task = -1
            bk = 0
            br = 0
            for i in range(n):
                if head[i] < released[i]:
                    j = head[i]
                    k = deadline[j] if edf else key[i]
                    r = release[j]
                    if best == -1 or k < bk or (k == bk and r < br):
                        best = j
                        best_task = i
                        bk = k
                        br = r
            if best != running:
                if running != -1 and t > seg_open:
                    seg_job[n_seg] = running
                    seg_start[n_seg] = seg_open
                    seg_end[n_seg] = t
                    n_seg += 1
                running = best
                run_task = best_task
                seg_open = t
                if best != -1 and start[best] < 0:
                    start[best] = t
        nxt = horizon
        for i in range(n):
            if released[i] < offset[i + 1] and release[released[i]] < nxt:
                nxt = release[released[i]]
        if running != -1 and t + remaining[running] < nxt:
            nxt = t + remaining[running]
        if abort:
            for i in range(n):
                if head[i] < released[i] and deadline[head[i]] < nxt:
                    nxt = deadline[head[i]]
        if running != -1:
            remaining[running] -= nxt - t
        t = nxt
        if running != -1 and remaining[running] == 0:
            finish[running] = t
            head[run_task] += 1
            seg_job[n_seg] = running
            seg_start[n_seg] = seg_open
            seg_end[n_seg] = t
            n_seg += 1
            running = -1
            run_task = -1
            seg_open = t
    if running != -1 and horizon > seg_open:
        seg_job[n_seg] = running
        seg_start[n_seg] = seg_open
        seg_end[n_seg] = horizon
        n_seg += 1
    executed = np.empty(n_jobs, dtype=np.int64)
    for i in range(n):
        for j in range(offset[i], offset[i + 1]):
            executed[j] = wcet[i] - remaining[j]
    return start, finish, executed, aborted, seg_job[:n_seg], seg_start[:n_seg], seg_end[:n_seg]


def simulate_fast(inp: SimInput, policy: str, preemptive: bool, abort: bool) -> SimOutput:
    """Run the compiled core on one cpu; ``policy`` is ``"edf"``, ``"rm"``, ``"dm"`` or ``"fp"``."""
    start, finish, executed, aborted, seg_job, seg_start, seg_end = _run(
        inp.wcet,
        inp.key,
        inp.offset,
        inp.release,
        inp.deadline,
        np.int64(inp.horizon),
        policy == "edf",
        preemptive,
        abort,
    )
    return SimOutput(
        start=start,
        finish=finish,
        executed=executed,
        aborted=aborted,
        seg_cpu=np.zeros(len(seg_job), dtype=np.int64),
        seg_job=seg_job,
        seg_start=seg_start,
        seg_end=seg_end,
    )


@njit(cache=True)
def fill_tables(  # pragma: no cover - compiled
    jobs,
    seg,
    order,
    task,
    first_job,
    release,
    deadline,
    start,
    finish,
    executed,
    aborted,
    migrations,
    seg_order,
    seg_cpu,
    seg_job,
    seg_start,
    seg_end,
    horizon,
):
    """Write the Schedule's job rows (in ``order``) and segment rows (in ``seg_order``).

    Row by row in compiled code: writing a structured array column by column
    from numpy costs more than the whole simulation at a million jobs.
    """
    n_jobs = len(order)
    preemptions = np.zeros(n_jobs, dtype=np.int32)
    for s in range(len(seg_job)):
        j = seg_job[s]
        life = finish[j] if finish[j] >= 0 else horizon
        if aborted[j]:
            life = deadline[j]
        if seg_end[s] < life:  # stopped before its end of life: preempted
            preemptions[j] += 1
    row_of = np.empty(n_jobs, dtype=np.int64)
    for k in range(n_jobs):
        j = order[k]
        row_of[j] = k
        i = task[j]
        r = jobs[k]
        r.task = i
        r.index = j - first_job[i]
        r.release = release[j]
        r.deadline = deadline[j]
        r.start = start[j]
        r.finish = finish[j]
        r.executed = executed[j]
        if finish[j] >= 0:
            r.response = finish[j] - release[j]
            late = finish[j] > deadline[j]
        else:
            r.response = -1
            late = deadline[j] <= horizon
        r.missed = late or aborted[j]
        r.aborted = aborted[j]
        r.preemptions = preemptions[j]
        r.migrations = migrations[j]
    for k in range(len(seg_order)):
        s = seg_order[k]
        r = seg[k]
        r.cpu = seg_cpu[s]
        r.task = task[seg_job[s]]
        r.job = row_of[seg_job[s]]
        r.start = seg_start[s]
        r.end = seg_end[s]
