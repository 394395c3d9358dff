"""Plausible wrong answers to lesson 05's exercises, the seed's own mistakes among them.

Merged into ``tests/test_exercise_content.py``'s ``WRONG``: each must fail at least one
public test (with a message naming the call, never the expected value) and one hidden test.
"""

from __future__ import annotations

import time
from fractions import Fraction

# -- 05.grid-stride ----------------------------------------------------------------------


def _seed_sleep(block_idx, thread_idx, block_dim, grid_dim, a, x, y, out):
    time.sleep(0)  # vectorAddKernel (S002-44): "simulate" the kernel, touch nothing


def _one_element_per_thread(block_idx, thread_idx, block_dim, grid_dim, a, x, y, out):
    i = block_idx * block_dim + thread_idx  # assumes the grid covers the array
    if i < len(out):
        out[i] = a * x[i] + y[i]


def _thread_index_only(block_idx, thread_idx, block_dim, grid_dim, a, x, y, out):
    for i in range(thread_idx, len(out), block_dim * grid_dim):  # every block does block 0's work
        out[i] = a * x[i] + y[i]


def _block_stride(block_idx, thread_idx, block_dim, grid_dim, a, x, y, out):
    for i in range(block_idx * block_dim + thread_idx, len(out), block_dim):  # repeats work
        out[i] = a * x[i] + y[i]


def _contiguous_chunks(block_idx, thread_idx, block_dim, grid_dim, a, x, y, out):
    threads = block_dim * grid_dim  # right values, once each, but uncoalesced accesses
    chunk = -(-len(out) // threads)
    g = block_idx * block_dim + thread_idx
    for i in range(g * chunk, min(len(out), (g + 1) * chunk)):
        out[i] = a * x[i] + y[i]


def _inclusive_end(block_idx, thread_idx, block_dim, grid_dim, a, x, y, out):
    i = block_idx * block_dim + thread_idx
    while i <= len(out):  # one step too far
        out[i] = a * x[i] + y[i]
        i += block_dim * grid_dim


# -- 05.batch-for-deadline ---------------------------------------------------------------


def _trip(m, batch, copy_back=True, launch_per_item=False):
    copies = Fraction(batch * m["item_bytes"], m["h2d_bytes_per_ns"])
    if copy_back:
        copies += Fraction(batch * m["item_bytes"], m["d2h_bytes_per_ns"])
    fixed = m["launch_ns"] + m["kernel_ns"] + m["sync_ns"]
    if launch_per_item:
        fixed *= batch
    return fixed + batch * m["kernel_ns_per_item"] + copies


def _batch_range(
    fill_wait=lambda b, period: (b - 1) * period,
    keeps_up=True,
    meets=lambda latency, deadline: latency <= deadline,
    **trip,
):
    def batch_range(model, period_ns, deadline_ns):
        feasible = []
        for batch in range(1, 20_000):
            t = _trip(model, batch, **trip)
            if t > deadline_ns + 10 * period_ns and fill_wait(batch, period_ns) > deadline_ns:
                break
            stable = t <= batch * period_ns or not keeps_up
            if stable and meets(fill_wait(batch, period_ns) + t, deadline_ns):
                feasible.append(batch)
        return (feasible[0], feasible[-1]) if feasible else None

    return batch_range


# -- 05.tree-reduction -------------------------------------------------------------------


def _load(tid, x, shared):
    shared[tid] = x[tid] if tid < len(x) else 0


def _no_sync_after_load(tid, block_dim, x, shared):
    _load(tid, x, shared)  # no barrier: a neighbour's cell may not be stored yet
    stride = block_dim // 2
    while stride > 0:
        if tid < stride:
            shared[tid] += shared[tid + stride]
        yield
        stride //= 2


def _sync_inside_if(tid, block_dim, x, shared):
    _load(tid, x, shared)
    yield
    stride = block_dim // 2
    while stride > 0:
        if tid < stride:
            shared[tid] += shared[tid + stride]
            yield  # only the active threads reach this barrier
        stride //= 2


def _no_zero_fill(tid, block_dim, x, shared):
    if tid < len(x):
        shared[tid] = x[tid]  # the spare threads leave garbage in their cells
    yield
    stride = block_dim // 2
    while stride > 0:
        if tid < stride:
            shared[tid] += shared[tid + stride]
        yield
        stride //= 2


def _stride_from_len(tid, block_dim, x, shared):
    _load(tid, x, shared)
    yield
    stride = len(x) // 2  # drops a value whenever a step has an odd count
    while stride > 0:
        if tid < stride:
            shared[tid] += shared[tid + stride]
        yield
        stride //= 2
    if len(x) == 0:
        shared[tid] = 0


def _interleaved_modulo(tid, block_dim, x, shared):
    _load(tid, x, shared)
    yield
    step = 1
    while step < block_dim:
        if tid % (2 * step) == 0:  # scattered active threads: every warp diverges
            shared[tid] += shared[tid + step]
        yield
        step *= 2


def _interleaved_index(tid, block_dim, x, shared):
    _load(tid, x, shared)
    yield
    step = 1
    while step < block_dim:
        index = 2 * step * tid  # active threads packed, but strided addresses: bank conflicts
        if index < block_dim:
            shared[index] += shared[index + step]
        yield
        step *= 2


def _thread_zero_sums(tid, block_dim, x, shared):
    _load(tid, x, shared)
    yield
    if tid == 0:  # right, race-free, and serial: block_dim - 1 additions in one thread
        for i in range(1, block_dim):
            shared[0] += shared[i]
    yield


def _not_a_generator(tid, block_dim, x, shared):
    _load(tid, x, shared)  # cuda.syncthreads() left out altogether
    stride = block_dim // 2
    while stride > 0:
        if tid < stride:
            shared[tid] += shared[tid + stride]
        stride //= 2


WRONG: dict[str, dict[str, object]] = {
    "05.grid-stride": {
        "seed-sleep": _seed_sleep,
        "one-element-per-thread": _one_element_per_thread,
        "thread-index-only": _thread_index_only,
        "block-stride": _block_stride,
        "contiguous-chunks": _contiguous_chunks,
        "inclusive-end": _inclusive_end,
    },
    "05.batch-for-deadline": {
        "no-fill-wait": _batch_range(fill_wait=lambda b, period: 0),
        "ignores-keeping-up": _batch_range(keeps_up=False),
        "waits-whole-batch": _batch_range(fill_wait=lambda b, period: b * period),
        "strict-deadline": _batch_range(meets=lambda latency, deadline: latency < deadline),
        "no-copy-back": _batch_range(copy_back=False),
        "launch-per-item": _batch_range(launch_per_item=True),
    },
    "05.tree-reduction": {
        "no-sync-after-load": _no_sync_after_load,
        "sync-inside-if": _sync_inside_if,
        "no-zero-fill": _no_zero_fill,
        "stride-from-len": _stride_from_len,
        "interleaved-modulo": _interleaved_modulo,
        "interleaved-index": _interleaved_index,
        "thread-zero-sums": _thread_zero_sums,
        "not-a-generator": _not_a_generator,
    },
}
