"""The compiled simulator core: one cpu, EDF / RM / DM / FP, preemptive or not.

It follows the reference simulator's steps (:mod:`rtkit.sched._simref`)
exactly, but does constant work per event where the reference looks at every
task, and writes the :class:`~rtkit.sched.schedule.Schedule`'s tables as it
goes instead of building them afterwards:

* releases come from a binary heap of the tasks keyed by (next release,
  task), a k-way merge of their release lists, so jobs arrive in (release,
  task) order, which is the job table's row order: a job's row is its
  arrival number;
* the jobs pending for task i are the contiguous range ``[head[i],
  released[i])`` of its job list (jobs of a task finish in release order),
  so only the n queue heads compete, and the best head is kept up to date
  rather than searched for: a release can only beat it (one comparison), and
  only when the best head leaves (finishes or is aborted) are the n heads
  scanned again, which for the usual ten-odd tasks is faster than any heap;
* every job row is written whole at its release and then updated in place
  (start, finish, executed time, preemptions, miss flags), and every segment
  row when its segment closes: no flat per-job arrays copied into the
  tables afterwards, no pass over the segments to count preemptions (a
  segment closed by a dispatch is one), and about half the memory touched.

Partitioned multiprocessor runs call it once per cpu, each on its own tasks'
jobs, writing into the shared job table at rows the caller gives.
:func:`fill_tables` builds the same tables from the reference engine's flat
arrays.

Runtime complexity: O(jobs x (tasks + log tasks)); with ``on_miss="abort"``,
O(events x tasks). Memory O(jobs + segments).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rtkit.sched._simref import SimInput
from rtkit.sched.schedule import SEGMENT_DTYPE

__all__ = ["fill_tables", "simulate_into"]


@njit(cache=True, inline="always")
def _sift_down(heap, size, pos, nxt, release):  # pragma: no cover - compiled
    """Restore the heap of tasks keyed by (release of their next job, task) below ``pos``."""
    item = heap[pos]
    r = release[nxt[item]]
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        c = heap[child]
        rc = release[nxt[c]]
        if child + 1 < size:
            d = heap[child + 1]
            rd = release[nxt[d]]
            if rd < rc or (rd == rc and d < c):
                child, c, rc = child + 1, d, rd
        if rc < r or (rc == r and c < item):
            heap[pos] = c
            pos = child
        else:
            break
    heap[pos] = item


@njit(cache=True, inline="always")
def _before(a, b, head, edf, key, release, deadline):  # pragma: no cover - compiled
    """Whether the head of task a ranks before the head of task b: (key, release, task)."""
    ja = head[a]
    jb = head[b]
    ka = deadline[ja] if edf else key[a]
    kb = deadline[jb] if edf else key[b]
    if ka != kb:
        return ka < kb
    if release[ja] != release[jb]:
        return release[ja] < release[jb]
    return a < b


@njit(cache=True)
def _best_head(head, released, edf, key, release, deadline):  # pragma: no cover - compiled
    """The task whose queue head ranks first, or -1 if every queue is empty."""
    best = -1
    for i in range(len(head)):
        if head[i] < released[i] and (
            best == -1 or _before(i, best, head, edf, key, release, deadline)
        ):
            best = i
    return best


@njit(cache=True, inline="always")
def _close(seg, n_seg, jobs, cpu, task, row, start, end):  # pragma: no cover - compiled
    """Record segment ``[start, end)`` of the job at ``row``; return the new segment count."""
    s = seg[n_seg]
    s.cpu = cpu
    s.task = task
    s.job = row
    s.start = start
    s.end = end
    jobs[row].executed += end - start
    return n_seg + 1


@njit(cache=True, inline="always")
def _new_row(jobs, row, task, index, release, deadline, horizon):  # pragma: no cover
    """A released job's row: not started, and missed iff its deadline falls in the horizon."""
    r = jobs[row]
    r.task = task
    r.index = index
    r.release = release
    r.deadline = deadline
    r.start = -1
    r.finish = -1
    r.executed = 0
    r.response = -1
    r.missed = deadline <= horizon  # until it finishes in time
    r.aborted = False
    r.preemptions = 0
    r.migrations = 0


@njit(cache=True, inline="always")
def _release_next(
    heap,
    size,
    released,
    offset,
    release,
    deadline,
    rows,
    assign_rows,
    arrivals,
    jobs,
    task_id,
    horizon,
):  # pragma: no cover - compiled
    """Release the earliest pending job (the next one of the heap's first task), write its row.

    ``arrivals`` is the job's row when ``assign_rows`` (rows in release order).
    Returns ``(task, job, heap size after the release)``.
    """
    i = heap[0]
    j = released[i]
    released[i] += 1
    if released[i] >= offset[i + 1]:  # the task has no job left: drop it from the heap
        size -= 1
        heap[0] = heap[size]
    if size > 0:
        _sift_down(heap, size, 0, released, release)
    if assign_rows:
        rows[j] = arrivals
    _new_row(jobs, rows[j], task_id[i], j - offset[i], release[j], deadline[j], horizon)
    return i, j, size


@njit(cache=True)
def _simulate(
    jobs,
    seg,
    wcet,
    key,
    offset,
    release,
    deadline,
    task_id,
    rows,
    assign_rows,
    cpu,
    horizon,
    edf,
    preemptive,
    abort,
):  # pragma: no cover - compiled
    n = len(wcet)
    released = offset[:-1].copy()  # next job of each task to be released
    head = offset[:-1].copy()  # first unfinished, unaborted job of each task
    heap = np.empty(n, dtype=np.int64)  # tasks with jobs still to release
    size = 0
    for i in range(n):
        if released[i] < offset[i + 1]:
            heap[size] = i
            size += 1
    for root in range(size // 2 - 1, -1, -1):
        _sift_down(heap, size, root, released, release)
    arrivals = 0
    best = -1  # task whose head ranks first among the waiting jobs
    running = -1  # task whose head is running
    left = 0  # work left of the running job
    seg_open = 0
    n_seg = 0
    t = 0
    while True:
        # 1. releases; a job that lands in an empty queue is a new head.
        while size > 0 and release[released[heap[0]]] <= t:
            i, j, size = _release_next(
                heap,
                size,
                released,
                offset,
                release,
                deadline,
                rows,
                assign_rows,
                arrivals,
                jobs,
                task_id,
                horizon,
            )
            arrivals += 1
            if head[i] == j and (best == -1 or _before(i, best, head, edf, key, release, deadline)):
                best = i
        # 2. aborts at the deadline.
        if abort:
            dropped = False
            for i in range(n):
                while head[i] < released[i] and deadline[head[i]] <= t:
                    r = rows[head[i]]
                    jobs[r].aborted = True
                    jobs[r].missed = True
                    if i == running:
                        if t > seg_open:
                            n_seg = _close(seg, n_seg, jobs, cpu, task_id[i], r, seg_open, t)
                        running = -1
                        seg_open = t
                    head[i] += 1
                    dropped = True
            if dropped:
                best = _best_head(head, released, edf, key, release, deadline)
        if t >= horizon:
            break
        # 3. dispatch: the best head runs (non-preemptive: once the cpu is free).
        if (preemptive or running == -1) and best != running:
            if running != -1 and t > seg_open:  # preempted before its end of life
                r = rows[head[running]]
                n_seg = _close(seg, n_seg, jobs, cpu, task_id[running], r, seg_open, t)
                jobs[r].preemptions += 1
            running = best
            seg_open = t
            if best != -1:
                r = rows[head[best]]
                if jobs[r].start < 0:
                    jobs[r].start = t
                left = wcet[best] - jobs[r].executed
        # 4. the next event: a release, the running job's completion, a deadline.
        nxt = horizon
        if size > 0 and release[released[heap[0]]] < nxt:
            nxt = release[released[heap[0]]]
        if running != -1 and t + left < nxt:
            nxt = t + left
        if abort:
            for i in range(n):
                if head[i] < released[i] and deadline[head[i]] < nxt:
                    nxt = deadline[head[i]]
        if running != -1:
            left -= nxt - t
        t = nxt
        # 5. completion; the next job of its task, if queued, becomes a head.
        if running != -1 and left == 0:
            i = running
            j = head[i]
            r = rows[j]
            jobs[r].finish = t
            jobs[r].response = t - release[j]
            jobs[r].missed = t > deadline[j]
            n_seg = _close(seg, n_seg, jobs, cpu, task_id[i], r, seg_open, t)
            head[i] += 1
            running = -1
            seg_open = t
            if best == i:
                best = _best_head(head, released, edf, key, release, deadline)
            elif head[i] < released[i] and _before(i, best, head, edf, key, release, deadline):
                best = i
    if running != -1 and horizon > seg_open:
        r = rows[head[running]]
        n_seg = _close(seg, n_seg, jobs, cpu, task_id[running], r, seg_open, horizon)
    while size > 0:  # released at or after the horizon (none from the simulator): never ran
        _, _, size = _release_next(
            heap,
            size,
            released,
            offset,
            release,
            deadline,
            rows,
            assign_rows,
            arrivals,
            jobs,
            task_id,
            horizon,
        )
        arrivals += 1
    return n_seg


def simulate_into(
    jobs: np.ndarray,
    inp: SimInput,
    policy: str,
    preemptive: bool,
    abort: bool,
    *,
    task_id: np.ndarray | None = None,
    rows: np.ndarray | None = None,
    cpu: int = 0,
) -> np.ndarray:
    """Run ``inp`` on one cpu, write its jobs into ``jobs`` and return its segment rows.

    ``policy`` is ``"edf"``, ``"rm"``, ``"dm"`` or ``"fp"``. ``task_id`` maps
    ``inp``'s tasks to the task numbers written in the tables (default: the
    same); ``rows`` gives the job-table row of each of ``inp``'s jobs
    (default: (release, task) order, so ``jobs`` is exactly ``inp``'s table).
    The segments are in time order, tagged with ``cpu``.
    """
    n_jobs = len(inp.release)
    assign = rows is None
    if task_id is None:
        task_id = np.arange(len(inp.wcet), dtype=np.int64)
    if rows is None:
        rows = np.empty(n_jobs, dtype=np.int64)
    # At most one segment per job ends by a finish, an abort or the horizon,
    # and every other one by a preemption, which needs a release to cause it.
    seg = np.empty(2 * n_jobs + 1, dtype=SEGMENT_DTYPE)
    n_seg = _simulate(
        jobs,
        seg,
        inp.wcet,
        inp.key,
        inp.offset,
        inp.release,
        inp.deadline,
        np.asarray(task_id, dtype=np.int64),
        rows,
        assign,
        np.int64(cpu),
        np.int64(inp.horizon),
        policy == "edf",
        preemptive,
        abort,
    )
    # A view, not a copy: the unused tail was never touched, so it costs no memory.
    return seg[:n_seg]


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
