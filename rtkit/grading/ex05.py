"""Exercises for lesson 05 (GPU real-time processing): a grid-stride loop, a batch size, a tree.

Each exercise is registered in the catalog at import and is about defects of
seed 002's GPU module (ids from SEED_NOTES): its "kernels" are ``sleep``
calls that touch no data (S002-44), here replaced by the body of a real
grid-stride kernel; its latency targets come from no cost estimate (S002-2,
S002-52), here derived from the round-trip cost model; and a block's
shared-memory tree reduction, with the barrier (``cuda.syncthreads()``) that
the seed's stage ordering never has (S002-21).

Kernels are written as plain Python functions of the thread's coordinates,
which the tests run for every thread of a grid (or, for the reduction, every
thread of a block in lock step, a ``yield`` standing for the barrier), so the
exercises need neither a GPU nor the CUDA simulator. The tests record which
thread touched which element, so they catch what a right-looking result
hides: an element written twice, neighbouring threads far apart in memory,
a data race between two barriers, a barrier some threads never reach.

Messages name the call and the kind of mistake, never the expected value;
calls of the learner's code are guarded (:mod:`rtkit.grading._checks`).

Example:
    >>> from rtkit.grading import catalog
    >>> for e in catalog.all_exercises("05"):
    ...     print(e.difficulty, e.id, e.target)
    1 05.grid-stride saxpy_thread
    2 05.batch-for-deadline batch_range
    3 05.tree-reduction block_sum
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from rtkit.grading._checks import guarded_call, is_int
from rtkit.grading.catalog import Exercise, register, test

__all__: list[str] = []


def _call(what: str, fn: Callable, *args: object, advice: str = "") -> object:
    """``fn(*args)``, guarded (:func:`~rtkit.grading._checks.guarded_call`), naming ``what``.

    An AssertionError from inside the call is a failed check, not a crash of the
    learner's code: it passes through with its own message.
    """
    return guarded_call(
        what, fn, *args, advice=advice, qualified=True, let_through=(AssertionError,)
    )


# -- 05.grid-stride --------------------------------------------------------------------

SAXPY = "saxpy_thread"


class _Traced(np.ndarray):
    """An output array that records which thread wrote each element, and how often."""

    writers: list[list[int]]
    current: list[int]

    def __array_finalize__(self, obj: object) -> None:
        if getattr(obj, "writers", None) is not None:
            self.writers, self.current = obj.writers, obj.current  # type: ignore[union-attr]

    def __setitem__(self, key: object, value: object) -> None:
        base = np.asarray(self)
        touched = np.arange(base.size).reshape(base.shape)[key]  # raises as numpy would
        super().__setitem__(key, value)
        for index in np.atleast_1d(touched).ravel():
            self.writers[int(index)].append(self.current[0])


def _grid_call(blocks: int, threads: int, n: int) -> str:
    return (
        f"{SAXPY}(block_idx, thread_idx, {threads}, {blocks}, a, x, y, out) for every thread of "
        f"a grid of {blocks} block{'s' if blocks > 1 else ''} of {threads} threads, on "
        f"{n} element{'s' if n != 1 else ''}"
    )


_OUT_OF_RANGE = (
    ": a thread indexed past the end of the arrays; a thread whose index is already past n "
    "must do nothing, and the loop must stop before n"
)


def _run_grid(
    f: Callable, blocks: int, threads: int, n: int, order: str = "in order", a: float = 3.0
) -> tuple[str, np.ndarray, list[list[int]]]:
    """Run ``f`` for every thread of the grid; return (description, out, writers).

    ``order`` is ``"in order"``, ``"reversed"`` or ``"shuffled"`` (seeded): a kernel's
    threads run in no order a kernel may rely on.
    """
    call = _grid_call(blocks, threads, n)
    rng = np.random.default_rng(n * 7919 + blocks * 31 + threads)
    x = rng.integers(-1000, 1000, size=n).astype(np.float64)
    y = rng.integers(-1000, 1000, size=n).astype(np.float64)
    x0, y0 = x.copy(), y.copy()
    out = np.full(n, np.nan).view(_Traced)
    out.writers, out.current = [[] for _ in range(n)], [0]
    coords = [(b, t) for b in range(blocks) for t in range(threads)]
    if order == "reversed":
        coords.reverse()
    elif order == "shuffled":
        coords = [coords[i] for i in rng.permutation(len(coords))]
    for b, t in coords:
        out.current[0] = b * threads + t
        _call(call, f, b, t, threads, blocks, a, x, y, out, advice=_OUT_OF_RANGE)
    if not (np.array_equal(x, x0) and np.array_equal(y, y0)):
        raise AssertionError(f"{call} changed x or y: a kernel reads them and writes only out")
    got = np.asarray(out)
    if np.isnan(got).any():
        raise AssertionError(
            f"{call} left elements of out unwritten: together the threads must cover every "
            "element, however many there are"
        )
    if not np.array_equal(got, a * x0 + y0):
        raise AssertionError(f"{call} wrote values into out that are not a * x[i] + y[i]")
    return call, got, out.writers


def _once_each(call: str, writers: list[list[int]]) -> None:
    if any(len(w) > 1 for w in writers):
        raise AssertionError(
            f"{call} wrote some elements more than once: each element belongs to exactly one "
            "thread, so no work is repeated"
        )


@test("one thread per element: out is a * x + y")
def _grid_exact(f):
    for blocks, threads in ((1, 8), (4, 32), (3, 64)):
        call, _, writers = _run_grid(f, blocks, threads, blocks * threads)
        _once_each(call, writers)


@test("more elements than threads: every thread loops, a grid's width at a time")
def _grid_more(f):
    for blocks, threads, n in ((2, 32, 1000), (1, 8, 70), (3, 4, 13), (1, 1, 9)):
        call, _, writers = _run_grid(f, blocks, threads, n)
        _once_each(call, writers)


@test("fewer elements than threads: the spare threads do nothing")
def _grid_fewer(f):
    for blocks, threads, n in ((4, 32, 5), (2, 64, 100), (8, 8, 1), (2, 4, 0)):
        call, _, writers = _run_grid(f, blocks, threads, n)
        _once_each(call, writers)


def _grid_stride_owners(call: str, writers: list[list[int]], stride: int) -> None:
    _once_each(call, writers)
    if any(w != [i % stride] for i, w in enumerate(writers)):
        raise AssertionError(
            f"{call}: an element was written by a thread other than the one the grid-stride "
            "rule gives it. In each pass neighbouring threads must touch neighbouring "
            "elements (so their memory accesses coalesce): thread g handles g, g + stride, "
            "g + 2 * stride, ..., where g counts threads across the whole grid"
        )


@test("each element is written once, by the thread the grid-stride rule gives it")
def _grid_owner(f):
    for blocks, threads, n in ((2, 32, 200), (3, 8, 50), (4, 4, 16), (2, 16, 7)):
        call, _, writers = _run_grid(f, blocks, threads, n, order="reversed")
        _grid_stride_owners(call, writers, blocks * threads)


register(
    Exercise(
        id="05.grid-stride",
        lesson="05",
        title="A grid-stride SAXPY kernel body",
        difficulty=1,
        target=SAXPY,
        hints=(
            "A thread knows only its block's number, its own number within the block, and the "
            "sizes of both. From those, which element should it handle first, and how many "
            "threads are there in the whole grid?",
            "The first element is the thread's index across the whole grid: block_idx times "
            "block_dim plus thread_idx (numba's cuda.grid(1)). The stride is the number of "
            "threads in the grid, block_dim times grid_dim (cuda.gridsize(1)).",
            "Loop with range(first, len(out), stride): a thread whose first index is already "
            "past the end does nothing, and the loop stops before the end for every thread. In "
            "the loop, set out[i] to a times x[i] plus y[i]; write nothing else.",
        ),
        tests=(_grid_exact, _grid_more, _grid_fewer, _grid_owner),
        seed_ids=("S002-44",),
    )
)


# -- 05.batch-for-deadline ------------------------------------------------------------

BATCH = "batch_range"

#: A modelled pinned-memory PCIe round trip (numbers of the order of a PCIe 4.0 card):
#: 1 GB/s is one byte per nanosecond.
MODEL = {
    "launch_ns": 5_000,
    "sync_ns": 3_000,
    "kernel_ns": 2_000,
    "kernel_ns_per_item": 10,
    "item_bytes": 4_096,
    "h2d_bytes_per_ns": 16,
    "d2h_bytes_per_ns": 16,
}


def round_trip_ns(model: dict, batch: int) -> Fraction:
    """The modelled time of one batch: launch, copy in, kernel, copy out, synchronise.

    Example:
        >>> round_trip_ns(MODEL, 1)
        Fraction(10522, 1)
    """
    m = model
    copy_in = Fraction(batch * m["item_bytes"], m["h2d_bytes_per_ns"])
    copy_out = Fraction(batch * m["item_bytes"], m["d2h_bytes_per_ns"])
    kernel = m["kernel_ns"] + batch * m["kernel_ns_per_item"]
    return m["launch_ns"] + copy_in + kernel + copy_out + m["sync_ns"]


def _reference_range(model: dict, period_ns: int, deadline_ns: int) -> tuple[int, int] | None:
    """Brute force over batch sizes: small enough to read, exact (Fractions)."""
    feasible = []
    batch = 1
    while (batch - 1) * period_ns <= deadline_ns:
        t = round_trip_ns(model, batch)
        if t <= batch * period_ns and (batch - 1) * period_ns + t <= deadline_ns:
            feasible.append(batch)
        batch += 1
    return (feasible[0], feasible[-1]) if feasible else None


def _model_repr(model: dict) -> str:
    return "MODEL" if model == MODEL else repr(model)


def _expect_range(f: Callable, model: dict, period_ns: int, deadline_ns: int) -> None:
    call = f"{BATCH}({_model_repr(model)}, {period_ns}, {deadline_ns})"
    got = _call(call, f, dict(model), period_ns, deadline_ns)
    expected = _reference_range(model, period_ns, deadline_ns)
    if expected is None:
        if got is not None:
            raise AssertionError(
                f"{call} returned a range, but no batch size meets both conditions here: "
                "return None"
            )
        return
    if got is None:
        raise AssertionError(
            f"{call} returned None, but some batch size keeps up with the arrivals and meets "
            "the deadline"
        )
    if not isinstance(got, tuple) or len(got) != 2 or not all(is_int(b) for b in got):
        raise AssertionError(f"{call} did not return a pair (smallest, largest) of ints, or None")
    smallest, largest = got
    if smallest > largest:
        raise AssertionError(f"{call} returned a pair whose first batch size is above its second")
    for which, got_b, right in (
        ("smallest", smallest, expected[0]),
        ("largest", largest, expected[1]),
    ):
        if got_b == right:
            continue
        t = round_trip_ns(model, got_b) if got_b >= 1 else None
        if t is None:
            raise AssertionError(f"{call}: the {which} batch size is below 1")
        if t > got_b * period_ns:
            raise AssertionError(
                f"{call}: the {which} batch size returned cannot keep up: a batch of that many "
                "tasks takes longer to process than its tasks take to arrive, so the queue "
                "grows without bound"
            )
        if (got_b - 1) * period_ns + t > deadline_ns:
            raise AssertionError(
                f"{call}: with the {which} batch size returned, the first task of a batch "
                "misses the deadline: it waits for the rest of its batch to arrive, then for "
                "the whole round trip"
            )
        side = "smaller" if which == "smallest" else "larger"
        raise AssertionError(
            f"{call}: the {which} batch size returned is not the {which}: a {side} batch size "
            "also keeps up and meets the deadline"
        )


@test("returns (smallest, largest) batch size meeting the deadline under MODEL")
def _batch_default(f):
    for period_ns, deadline_ns in ((2_000, 60_000), (1_000, 100_000), (5_000, 40_000)):
        _expect_range(f, MODEL, period_ns, deadline_ns)


@test("the first task of a batch waits for the rest of the batch to arrive")
def _batch_fill_wait(f):
    for period_ns, deadline_ns in ((10_000, 100_000), (20_000, 50_000), (4_000, 30_000)):
        _expect_range(f, MODEL, period_ns, deadline_ns)


@test("a batch too small to keep up with the arrivals is never chosen")
def _batch_keep_up(f):
    for period_ns, deadline_ns in ((600, 80_000), (300, 200_000), (800, 40_000)):
        _expect_range(f, MODEL, period_ns, deadline_ns)


@test("every stage counts: launch, both copies, kernel, synchronise")
def _batch_stages(f):
    slow_back = {**MODEL, "d2h_bytes_per_ns": 4, "launch_ns": 20_000}
    fat_kernel = {**MODEL, "kernel_ns_per_item": 300, "sync_ns": 15_000, "item_bytes": 512}
    for model, period_ns, deadline_ns in (
        (slow_back, 5_000, 100_000),
        (fat_kernel, 1_000, 90_000),
        (slow_back, 2_000, 60_000),
    ):
        _expect_range(f, model, period_ns, deadline_ns)


@test("a deadline met exactly counts as met; an impossible one gives None")
def _batch_edges(f):
    exact = {**MODEL, "item_bytes": 1_024}  # a batch of one: exactly 10_138 ns
    for model, period_ns, deadline_ns in (
        (exact, 20_000, 10_138),
        (exact, 20_000, 10_137),
        (MODEL, 2_000, 10_000),  # the round trip alone is over the deadline
        (MODEL, 200, 1_000_000),  # no batch ever keeps up with one task every 200 ns
        (exact, 10_000, 20_276),
    ):
        _expect_range(f, model, period_ns, deadline_ns)


register(
    Exercise(
        id="05.batch-for-deadline",
        lesson="05",
        title="The batch sizes that keep up and meet a deadline",
        difficulty=2,
        target=BATCH,
        hints=(
            "Follow the first task of a batch: how long does it wait before its batch is "
            "complete, and how long does the round trip take after that? And can the GPU finish "
            "one batch before the next one has arrived?",
            "A batch of B tasks takes round trip t(B): launch, B times the item size over each "
            "copy bandwidth, the kernel's fixed and per-item time, and the synchronisation. "
            "It keeps up when t(B) is at most B periods; its first task meets the deadline when "
            "(B - 1) periods plus t(B) is at most the deadline.",
            "Try batch sizes from 1 upwards, while (B - 1) times the period is still within the "
            "deadline (beyond that the first task cannot make it). Compute t(B) exactly (a "
            "Fraction, or floats with care) and keep every B that passes both tests; return the "
            "first and last kept as a pair, or None when none passes.",
        ),
        tests=(_batch_default, _batch_fill_wait, _batch_keep_up, _batch_stages, _batch_edges),
        seed_ids=("S002-2", "S002-52"),
    )
)


# -- 05.tree-reduction ----------------------------------------------------------------

REDUCE = "block_sum"
WARP = 32  # threads of a warp, and banks of shared memory
_GARBAGE = 7_777_777  # what shared memory holds before the block runs: anything


class _Shared:
    """A block's shared memory that records every access: phase, thread, kind, address."""

    def __init__(self, size: int) -> None:
        self._cells = [_GARBAGE] * size
        self.thread = 0
        self.phase = 0
        self.log: list[tuple[int, int, str, int]] = []

    def __len__(self) -> int:
        return len(self._cells)

    def _index(self, key: object) -> int:
        if not is_int(key):
            raise TypeError("shared memory is indexed by one int at a time")
        index = int(key)  # type: ignore[arg-type]
        if not 0 <= index < len(self._cells):
            raise IndexError("shared memory index out of range")
        return index

    def __getitem__(self, key: object) -> int:
        index = self._index(key)
        self.log.append((self.phase, self.thread, "r", index))
        return self._cells[index]

    def __setitem__(self, key: object, value: object) -> None:
        index = self._index(key)
        self.log.append((self.phase, self.thread, "w", index))
        self._cells[index] = value  # type: ignore[assignment]

    def result(self) -> object:
        return self._cells[0]


_BLOCK_ADVICE = (
    ": each thread indexes shared memory with single ints within the block, and reads x[tid] "
    "only when tid < len(x)"
)


def _block_call(block_dim: int, x: list) -> str:
    shown = repr(x) if len(x) <= 8 else f"a list of {len(x)} ints"
    return f"{REDUCE}(tid, {block_dim}, x, shared) for every tid in range({block_dim}), x = {shown}"


def _run_block(f: Callable, block_dim: int, x: list) -> tuple[str, _Shared, int]:
    """Run one block in lock step; return (description, shared memory, barriers passed)."""
    call = _block_call(block_dim, x)
    shared = _Shared(block_dim)
    threads = []
    for tid in range(block_dim):
        shared.thread = tid
        gen = _call(call, f, tid, block_dim, list(x), shared, advice=_BLOCK_ADVICE)
        if not inspect.isgenerator(gen):
            raise AssertionError(
                f"{call}: {REDUCE} is not a generator: write yield wherever the kernel calls "
                "cuda.syncthreads(), so that the threads can run in lock step"
            )
        threads.append(gen)
    limit = 2 * max(1, block_dim).bit_length() + 8
    running = list(range(block_dim))
    while running:
        if shared.phase > limit:
            raise AssertionError(
                f"{call}: the threads passed far more barriers than a tree needs (a loop that "
                "never ends?)"
            )
        finished = []
        for tid in running:
            shared.thread = tid
            try:
                next(threads[tid])
            except StopIteration:
                finished.append(tid)
            except (NotImplementedError, AssertionError):
                raise
            except Exception as exc:
                raise AssertionError(f"{call} raised {type(exc).__name__}{_BLOCK_ADVICE}") from None
        if finished and len(finished) != len(running):
            raise AssertionError(
                f"{call}: some threads finished while others waited at a barrier: every thread "
                "of a block must reach every cuda.syncthreads() (one inside an if that only "
                "some threads enter hangs or corrupts a real GPU)"
            )
        running = [] if finished else running
        shared.phase += 1
    _no_race(call, shared)
    return call, shared, shared.phase - 1


def _no_race(call: str, shared: _Shared) -> None:
    writers: dict[tuple[int, int], set[int]] = {}
    readers: dict[tuple[int, int], set[int]] = {}
    for phase, tid, kind, index in shared.log:
        (writers if kind == "w" else readers).setdefault((phase, index), set()).add(tid)
    for key, who in writers.items():
        if len(who) > 1 or readers.get(key, set()) - who:
            raise AssertionError(
                f"{call}: a data race: between two barriers, one thread wrote a cell of shared "
                "memory that another thread also read or wrote. Put a barrier (yield) between "
                "writing a cell and another thread's use of it"
            )


def _expect_sum(f: Callable, block_dim: int, x: list) -> tuple[str, _Shared, int]:
    call, shared, barriers = _run_block(f, block_dim, x)
    got = shared.result()
    if got == _GARBAGE and sum(x) != _GARBAGE:
        raise AssertionError(f"{call}: shared[0] was never written; the block's sum goes there")
    if got != sum(x):
        raise AssertionError(f"{call}: shared[0] does not hold the sum of x when the block ends")
    return call, shared, barriers


def _values(n: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    return [int(v) for v in rng.integers(-50, 100, size=n)]


@test("a full block: shared[0] ends up holding the sum")
def _tree_full(f):
    for block_dim in (1, 2, 8, 32):
        _expect_sum(f, block_dim, _values(block_dim, block_dim))


@test("fewer values than threads: the missing ones count as zero")
def _tree_short(f):
    for block_dim in (8, 16):
        for n in range(block_dim):
            _expect_sum(f, block_dim, _values(n, 100 + n))


@test("no thread skips a barrier, and no two threads race between barriers")
def _tree_barriers(f):
    for block_dim in (2, 4, 16, 64):
        _run_block(f, block_dim, _values(block_dim, 7))
        _run_block(f, block_dim, _values(block_dim // 2 + 1, 8))


def _is_tree(call: str, shared: _Shared, barriers: int, block_dim: int) -> None:
    steps = block_dim.bit_length() - 1
    reads = [0] * block_dim
    for _, tid, kind, _ in shared.log:
        reads[tid] += kind == "r"
    if max(reads) > 2 * steps + 2 or barriers > steps + 2:
        raise AssertionError(
            f"{call}: one thread did far more of the additions than a tree gives it: halve "
            "the number of active threads at each step, each adding one pair"
        )


@test("a tree: about log2(block_dim) steps, not one thread adding everything")
def _tree_shape(f):
    for block_dim in (16, 64, 128):
        _is_tree(*_expect_sum(f, block_dim, _values(block_dim, 3)), block_dim)


def _warp_groups(shared: _Shared) -> dict[tuple[int, int, str, int], list[int]]:
    """Accesses that one instruction of one warp makes: the k-th read (or write) of a phase."""
    seen: dict[tuple[int, int, str], int] = {}
    groups: dict[tuple[int, int, str, int], list[int]] = {}
    for phase, tid, kind, index in shared.log:
        k = seen.get((phase, tid, kind), 0)
        seen[(phase, tid, kind)] = k + 1
        groups.setdefault((phase, tid // WARP, kind, k), []).append(index)
    return groups


def _is_sequential(call: str, shared: _Shared) -> None:
    adders: dict[int, set[int]] = {}
    for phase, tid, kind, _ in shared.log:
        if kind == "r":
            adders.setdefault(phase, set()).add(tid)
    for active in adders.values():
        if active != set(range(len(active))):
            raise AssertionError(
                f"{call}: at some step the threads doing the additions were scattered "
                "across the block (tid % (2 * stride) == 0, say): every warp then has work, "
                "and its threads diverge. Keep the active threads the lowest-numbered ones"
            )
    for indices in _warp_groups(shared).values():
        banks: dict[int, int] = {}
        for index in indices:
            if banks.setdefault(index % WARP, index) != index:
                raise AssertionError(
                    f"{call}: the threads of one warp touched different addresses in the "
                    "same bank of shared memory at once (a bank conflict: the accesses are "
                    "serialised). Neighbouring threads should touch neighbouring cells"
                )


@test("active threads are the lowest-numbered, and a warp never hits one bank twice")
def _tree_sequential(f):
    for block_dim in (64, 128, 256):
        call, shared, _ = _expect_sum(f, block_dim, _values(block_dim, 9))
        _is_sequential(call, shared)


register(
    Exercise(
        id="05.tree-reduction",
        lesson="05",
        title="A block's shared-memory tree reduction, with its barriers",
        difficulty=3,
        target=REDUCE,
        hints=(
            "First every thread puts one value into shared memory. Then, step after step, half "
            "of the threads still working add a partner's cell into their own. Which threads "
            "should do the adding at each step, which partner's cell, and when must every "
            "thread wait for the others?",
            "Thread tid stores x[tid], or 0 when tid is not below len(x), into shared[tid], then "
            "waits (yield). Then the stride starts at block_dim // 2 and halves down to 1; at "
            "each step the threads with tid below the stride add shared[tid + stride] into "
            "shared[tid].",
            "Every thread, active or not, must pass the same barriers: put the yield after the "
            "if, inside the loop, not inside the if. A while loop on the stride (while stride "
            "is above 0, stride //= 2 at the end) with one yield per pass, plus the one after "
            "the load, is the whole kernel.",
        ),
        tests=(_tree_full, _tree_short, _tree_barriers, _tree_shape, _tree_sequential),
        seed_ids=("S002-21", "S002-44"),
    )
)
