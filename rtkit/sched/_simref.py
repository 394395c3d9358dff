"""The reference simulator: event-driven, readable, every policy, any number of cpus.

This is the teaching version: time jumps from one *event* to the next (a
release, a completion, a deadline abort, a quantum expiry, a laxity crossing
under LLF, the horizon), and at every event the scheduler decides again which
jobs run. Between events nothing changes, so a schedule is a list of
segments and costs O(events x tasks), not O(horizon).

At an instant ``t`` the steps are always, in this order:

1. jobs released at or before ``t`` join their task's queue (jobs of one task
   run in release order, so only the *head* of each queue is a candidate);
2. with ``on_miss="abort"``, a head whose deadline is ``<= t`` is dropped;
3. *dispatch*: the policy picks the winners and each gets a cpu (a job that
   keeps running keeps its cpu; a resumed job prefers the cpu it last used);
4. find the next event and advance every running job to it;
5. jobs whose remaining work reached zero finish there.

The compiled core (:mod:`rtkit.sched._simcore`) follows the same steps for one
cpu and the fixed-key policies, and a differential test holds the two to
identical schedules.

Runtime complexity: O((jobs + preemptions) x tasks) for the priority policies;
O(horizon / quantum x tasks) for stride and lottery.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from rtkit.sched.policies import STRIDE1


@dataclass
class SimInput:
    """Jobs laid out task by task: job ``offset[i] + k`` is job k of task i."""

    wcet: np.ndarray  # int64[n]
    key: np.ndarray  # int64[n]: the fixed-priority key (rm, dm, fp); unused otherwise
    weight: np.ndarray  # int64[n]
    offset: np.ndarray  # int64[n + 1]
    release: np.ndarray  # int64[jobs]
    deadline: np.ndarray  # int64[jobs], absolute
    horizon: int


@dataclass
class SimOutput:
    """Per job (same layout as the input) and per segment, as flat arrays."""

    start: np.ndarray
    finish: np.ndarray
    executed: np.ndarray
    aborted: np.ndarray
    seg_cpu: np.ndarray
    seg_job: np.ndarray
    seg_start: np.ndarray
    seg_end: np.ndarray


def simulate_reference(
    inp: SimInput,
    policy: str,
    cpus: int,
    preemptive: bool,
    abort: bool,
    quantum: int,
    rng: np.random.Generator,
) -> SimOutput:
    """Run the event-driven simulation; see the module docstring for the steps."""
    n = len(inp.wcet)
    horizon = inp.horizon
    n_jobs = len(inp.release)
    task_of = np.repeat(np.arange(n), np.diff(inp.offset))
    remaining = inp.wcet[task_of].astype(np.int64)
    start = np.full(n_jobs, -1, dtype=np.int64)
    finish = np.full(n_jobs, -1, dtype=np.int64)
    aborted = np.zeros(n_jobs, dtype=bool)
    last_cpu = np.full(n_jobs, -1, dtype=np.int64)
    next_job = inp.offset[:-1].copy()  # next job of each task to be released
    queue: list[deque[int]] = [deque() for _ in range(n)]
    running: list[int | None] = [None] * cpus
    seg_open = [0] * cpus  # start of the segment running on each cpu
    quantum_end = [0] * cpus
    passes = [0] * n  # stride pass values
    segments: list[tuple[int, int, int, int]] = []
    proportional = policy in ("stride", "lottery")

    def key(j: int, t: int) -> tuple[int, int, int]:
        i = int(task_of[j])
        if policy == "edf":
            primary = int(inp.deadline[j])
        elif policy == "llf":
            primary = int(inp.deadline[j]) - t - int(remaining[j])
        else:
            primary = int(inp.key[i])
        return (primary, int(inp.release[j]), i)

    def switch(cpu: int, job: int | None, t: int) -> None:
        old = running[cpu]
        if old == job:
            return
        if old is not None and t > seg_open[cpu]:
            segments.append((cpu, old, seg_open[cpu], t))
        running[cpu] = job
        seg_open[cpu] = t
        if job is not None:
            if start[job] < 0:
                start[job] = t
            last_cpu[job] = cpu

    def assign(winners: list[int], deciding: list[int], t: int) -> None:
        kept = {cpu for cpu in deciding if running[cpu] in winners}
        free = [cpu for cpu in deciding if cpu not in kept]
        for job in winners:
            if job in (running[c] for c in kept):
                continue
            cpu = int(last_cpu[job]) if last_cpu[job] in free else free[0]
            free.remove(cpu)
            switch(cpu, job, t)
        for cpu in free:
            switch(cpu, None, t)

    def pick_share(eligible: list[int]) -> int:
        """Stride: smallest (pass, task); lottery: a draw weighted by tickets."""
        tasks = [int(task_of[j]) for j in eligible]
        if policy == "stride":
            best = min(range(len(eligible)), key=lambda k: (passes[tasks[k]], tasks[k]))
            return eligible[best]
        tickets = [int(inp.weight[i]) for i in tasks]
        draw = int(rng.integers(sum(tickets)))
        for j, w in zip(eligible, tickets, strict=True):
            if draw < w:
                return j
            draw -= w
        raise AssertionError("lottery draw out of range")

    def dispatch(t: int) -> None:
        heads = [q[0] for q in queue if q]
        if proportional:
            deciding = [
                c for c in range(cpus) if running[c] is None or (preemptive and t >= quantum_end[c])
            ]
            busy = {running[c] for c in range(cpus) if c not in deciding}
            eligible = [j for j in heads if j not in busy]
            winners = []
            for _ in deciding:
                if not eligible:
                    break
                winners.append(pick_share(eligible))
                eligible.remove(winners[-1])
            assign(winners, deciding, t)
            for c in deciding:
                quantum_end[c] = t + quantum
        elif preemptive:
            winners = sorted(heads, key=lambda j: key(j, t))[:cpus]
            assign(winners, list(range(cpus)), t)
        else:
            idle = [c for c in range(cpus) if running[c] is None]
            waiting = [j for j in heads if j not in running]
            assign(sorted(waiting, key=lambda j: key(j, t))[: len(idle)], idle, t)

    def next_event(t: int) -> int:
        nxt = horizon
        for i in range(n):
            if next_job[i] < inp.offset[i + 1]:
                nxt = min(nxt, int(inp.release[next_job[i]]))
        for c in range(cpus):
            job = running[c]
            if job is not None:
                nxt = min(nxt, t + int(remaining[job]))
                if proportional and preemptive:
                    nxt = min(nxt, quantum_end[c])
        if abort:
            for q in queue:
                if q:
                    nxt = min(nxt, int(inp.deadline[q[0]]))
        if policy == "llf" and preemptive and None not in running:
            # A waiting job's laxity falls by one per time unit while a running
            # job's stays put: the scheduler must look again when they cross.
            waiting = [q[0] for q in queue if q and q[0] not in running]
            if waiting:
                w = min(waiting, key=lambda j: key(j, t))
                r = max((j for j in running if j is not None), key=lambda j: key(j, t))
                (lw, *tie_w), (lr, *tie_r) = key(w, t), key(r, t)
                d = lw - lr if tie_w < tie_r else lw - lr + 1
                nxt = min(nxt, t + max(1, d))
        return nxt

    t = 0
    while True:
        for i in range(n):  # 1. releases
            while next_job[i] < inp.offset[i + 1] and inp.release[next_job[i]] <= t:
                if not queue[i] and policy == "stride":
                    others = [passes[k] for k in range(n) if queue[k] and k != i]
                    if others:
                        passes[i] = max(passes[i], min(others))
                queue[i].append(int(next_job[i]))
                next_job[i] += 1
        if abort:  # 2. aborts at the deadline
            for i in range(n):
                while queue[i] and inp.deadline[queue[i][0]] <= t:
                    job = queue[i].popleft()
                    aborted[job] = True
                    for c in range(cpus):
                        if running[c] == job:
                            switch(c, None, t)
        if t >= horizon:
            break
        dispatch(t)  # 3.
        nxt = next_event(t)  # 4.
        for c in range(cpus):
            job = running[c]
            if job is not None:
                remaining[job] -= nxt - t
                if policy == "stride":
                    passes[task_of[job]] += (STRIDE1 // int(inp.weight[task_of[job]])) * (nxt - t)
        t = nxt
        for c in range(cpus):  # 5. completions
            job = running[c]
            if job is not None and remaining[job] == 0:
                finish[job] = t
                queue[task_of[job]].popleft()
                switch(c, None, t)
    for c in range(cpus):
        switch(c, None, horizon)

    seg = np.array(segments, dtype=np.int64).reshape(-1, 4)
    executed = inp.wcet[task_of] - remaining
    return SimOutput(
        start=start,
        finish=finish,
        executed=executed,
        aborted=aborted,
        seg_cpu=seg[:, 0],
        seg_job=seg[:, 1],
        seg_start=seg[:, 2],
        seg_end=seg[:, 3],
    )
