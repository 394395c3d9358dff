"""Hidden tests for lesson 05's exercises. Instructors only: never ship this file.

``rtkit grade ... --hidden-tests instructor/hidden_tests`` runs them after the
public tests. They reuse the public tests' runners (one definition of how a
grid or a block is run and what counts as right) on larger, seeded cases: many
grid shapes in shuffled thread order, other values of ``a``; hundreds of random
cost models, periods and deadlines, and deadlines met to the nanosecond at every
batch size; every input length for blocks of up to 64 threads, and blocks of up
to 1,024. Messages say what was called and what kind of result was wrong, never
the expected value.
"""

from __future__ import annotations

import numpy as np

from rtkit.grading.catalog import PublicTest, test

# The public tests' runners and reference: one definition of the expected result.
from rtkit.grading.ex05 import (
    _expect_range,
    _expect_sum,
    _grid_stride_owners,
    _is_sequential,
    _is_tree,
    _run_grid,
    round_trip_ns,
)

# -- 05.grid-stride ----------------------------------------------------------------------


@test("60 seeded grid shapes and sizes, threads in shuffled order")
def _h05_grid_shapes(f):
    rng = np.random.default_rng(5_005)
    for _ in range(60):
        blocks = int(rng.integers(1, 6))
        threads = int(rng.choice([1, 2, 3, 7, 32, 33]))
        n = int(rng.integers(0, 4 * blocks * threads + 3))
        call, _, writers = _run_grid(f, blocks, threads, n, order="shuffled")
        _grid_stride_owners(call, writers, blocks * threads)


@test("other values of a, and a grid far wider than the array")
def _h05_grid_a(f):
    for a, blocks, threads, n in (
        (0.5, 2, 8, 37),
        (-2.0, 1, 4, 9),
        (0.0, 3, 5, 16),
        (1.0, 16, 32, 3),
    ):
        call, _, writers = _run_grid(f, blocks, threads, n, order="reversed", a=a)
        _grid_stride_owners(call, writers, blocks * threads)


# -- 05.batch-for-deadline ---------------------------------------------------------------


def _h05_random_model(rng):
    return {
        "launch_ns": int(rng.integers(1_000, 20_000)),
        "sync_ns": int(rng.integers(500, 10_000)),
        "kernel_ns": int(rng.integers(0, 20_000)),
        "kernel_ns_per_item": int(rng.integers(0, 500)),
        "item_bytes": int(rng.choice([64, 256, 1_000, 4_096, 65_536])),
        "h2d_bytes_per_ns": int(rng.choice([3, 6, 12, 16, 25])),
        "d2h_bytes_per_ns": int(rng.choice([3, 6, 12, 16, 25])),
    }


@test("300 seeded random models, periods and deadlines")
def _h05_batch_random(f):
    rng = np.random.default_rng(5_052)
    for _ in range(300):
        model = _h05_random_model(rng)
        period_ns = int(rng.integers(200, 50_000))
        deadline_ns = int(rng.integers(5_000, 400_000))
        _expect_range(f, model, period_ns, deadline_ns)


@test("deadlines met to the nanosecond, at batch sizes from 1 to 40")
def _h05_batch_exact(f):
    rng = np.random.default_rng(5_053)
    for batch in range(1, 41):
        model = _h05_random_model(rng)
        model["item_bytes"] = 240 * int(rng.integers(1, 50))  # divisible by every bandwidth
        model["h2d_bytes_per_ns"] = model["d2h_bytes_per_ns"] = int(rng.choice([3, 6, 12, 16]))
        t = round_trip_ns(model, batch)
        period_ns = int(t) // batch + int(rng.integers(0, 3_000))  # keeps up, or nearly
        for slack in (0, -1):
            deadline_ns = int((batch - 1) * period_ns + t) + slack
            _expect_range(f, model, period_ns, deadline_ns)


# -- 05.tree-reduction -------------------------------------------------------------------


@test("blocks of 1 to 64 threads, every input length, values of any size")
def _h05_tree_lengths(f):
    rng = np.random.default_rng(5_054)
    for block_dim in (1, 2, 4, 8, 16, 32, 64):
        for n in range(block_dim + 1):
            x = [int(v) * 10**15 for v in rng.integers(-(10**6), 10**6, size=n)]
            call, shared, barriers = _expect_sum(f, block_dim, x)
            _is_tree(call, shared, barriers, block_dim)


@test("blocks of 512 and 1,024 threads: a tree, sequential, conflict-free")
def _h05_tree_big(f):
    rng = np.random.default_rng(5_055)
    for block_dim, n in ((512, 512), (512, 300), (1_024, 1_000)):
        x = [int(v) for v in rng.integers(-1_000, 1_000, size=n)]
        call, shared, barriers = _expect_sum(f, block_dim, x)
        _is_tree(call, shared, barriers, block_dim)
        _is_sequential(call, shared)


HIDDEN: dict[str, list[PublicTest]] = {
    "05.grid-stride": [_h05_grid_shapes, _h05_grid_a],
    "05.batch-for-deadline": [_h05_batch_random, _h05_batch_exact],
    "05.tree-reduction": [_h05_tree_lengths, _h05_tree_big],
}
