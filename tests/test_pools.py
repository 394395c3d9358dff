"""ObjectPool, BufferArena and gc_paused: accounting, misuse that changes nothing, GC state."""

from __future__ import annotations

import gc
import random
import sys
import threading
import time

import numpy as np
import pytest

from rtkit.errors import ConfigError, QueueEmpty, StateError
from rtkit.pools import EMPTY_POLICIES, BufferArena, ObjectPool, gc_paused


class Order:
    """A pooled object with some state to reset."""

    def __init__(self) -> None:
        self.price = 0
        self.tags: list[str] = []

    def reset(self) -> None:
        self.price = 0
        self.tags.clear()


def order_pool(capacity: int = 3, **kwargs) -> ObjectPool[Order]:
    return ObjectPool(Order, Order.reset, capacity, **kwargs)


# -- construction -----------------------------------------------------------------------


@pytest.mark.parametrize("capacity", [0, -1, 2.5, True])
def test_capacity_must_be_a_positive_integer(capacity):
    with pytest.raises(ConfigError, match="capacity"):
        order_pool(capacity)


def test_unknown_policy_is_rejected_with_the_allowed_ones_named():
    with pytest.raises(ConfigError, match="on_empty must be one of 'raise', 'grow', 'block'"):
        order_pool(on_empty="spill")


def test_factory_and_reset_must_be_callable():
    with pytest.raises(ConfigError, match="factory must be callable"):
        ObjectPool(None, None, 2)
    with pytest.raises(ConfigError, match="reset must be callable or None"):
        ObjectPool(list, "clear", 2)


def test_a_factory_that_returns_the_same_object_is_refused():
    shared = []
    with pytest.raises(ConfigError, match="factory must build a new object on each call"):
        ObjectPool(lambda: shared, None, 2)
    pool = ObjectPool(lambda: shared, None, 1, on_empty="grow")
    pool.acquire()
    before = pool.stats()
    with pytest.raises(ConfigError, match="new object"):
        pool.acquire()  # growing would hand out the object already in use
    assert (pool.stats().in_use, pool.stats().grown) == (before.in_use, 0)


def test_every_object_is_built_at_construction_and_acquire_builds_nothing():
    built = []
    pool = ObjectPool(lambda: built.append(Order()) or built[-1], Order.reset, 4)
    assert len(built) == 4
    got = [pool.acquire() for _ in range(4)]
    assert len(built) == 4 and {id(o) for o in got} == {id(o) for o in built}
    s = pool.stats()
    assert (s.capacity, s.size, s.free, s.in_use, s.hits, s.misses) == (4, 4, 0, 4, 4, 0)
    pool._check()


# -- acquire, release, policies ---------------------------------------------------------


def test_reset_runs_on_release_not_on_acquire():
    calls = []
    pool = ObjectPool(Order, lambda o: calls.append(o) or o.reset(), 1)
    obj = pool.acquire()
    assert calls == []
    obj.price, obj.tags = 101, ["ioc"]
    pool.release(obj)
    assert calls == [obj] and (obj.price, obj.tags) == (0, [])
    assert pool.acquire() is obj and calls == [obj]


def test_the_free_list_is_a_stack_the_last_released_goes_out_first():
    pool = order_pool(3)
    a, b = pool.acquire(), pool.acquire()
    pool.release(a)
    pool.release(b)
    assert pool.acquire() is b
    pool._check()


def test_raise_policy_fails_fast_counts_the_miss_and_changes_nothing_else():
    pool = order_pool(2)
    held = [pool.acquire(), pool.acquire()]
    before = pool.stats()
    with pytest.raises(
        QueueEmpty, match=r"pool exhausted: all 2 objects in use \(on_empty='raise'\)"
    ):
        pool.acquire()
    after = pool.stats()
    assert after.misses == before.misses + 1
    assert after == type(before)(**{**before.__dict__, "misses": before.misses + 1})
    pool.release(held[0])
    assert pool.acquire() is held[0]
    pool._check()


def test_grow_policy_builds_one_more_counts_the_miss_and_keeps_it():
    pool = order_pool(1, on_empty="grow")
    a = pool.acquire()
    b = pool.acquire()
    s = pool.stats()
    assert (s.hits, s.misses, s.grown, s.size, s.in_use, s.high_water) == (1, 1, 1, 2, 2, 2)
    pool.release(a)
    pool.release(b)
    assert {id(pool.acquire()), id(pool.acquire())} == {id(a), id(b)}
    s = pool.stats()
    assert (s.hits, s.misses, s.grown, s.capacity, s.size) == (3, 1, 1, 1, 2)
    pool._check()


def test_block_policy_waits_for_a_release_from_another_thread():
    pool = order_pool(1, on_empty="block")
    held = pool.acquire()
    got = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire(timeout=10)), daemon=True)
    waiter.start()
    waiter.join(timeout=0.05)
    assert got == []  # still waiting: nothing has been released
    pool.release(held)
    waiter.join(timeout=10)
    assert got == [held]
    s = pool.stats()
    assert (s.hits, s.misses, s.in_use) == (1, 1, 1)
    pool._check()


def test_block_policy_times_out_with_a_clear_error():
    pool = order_pool(1, on_empty="block")
    pool.acquire()
    with pytest.raises(QueueEmpty, match=r"no object released within 0.01 s \(1 in use\)"):
        pool.acquire(timeout=0.01)
    pool._check()


# -- misuse changes nothing -------------------------------------------------------------


def test_double_release_is_an_error_and_leaves_the_pool_unchanged():
    pool = order_pool(2)
    obj = pool.acquire()
    pool.release(obj)
    before = pool.stats()
    with pytest.raises(StateError, match="double release: Order is already free"):
        pool.release(obj)
    assert pool.stats() == before
    pool._check()


def test_releasing_an_object_the_pool_never_gave_out_is_an_error_and_changes_nothing():
    pool = ObjectPool(list, list.clear, 2)
    pool.acquire()
    before = pool.stats()
    with pytest.raises(ConfigError, match="release of a list this pool never gave out"):
        pool.release([])  # equal to a pooled empty list, but not one of them
    assert pool.stats() == before
    pool._check()


def test_a_reset_that_raises_leaves_the_object_in_use():
    def reset(order: Order) -> None:
        if order.price < 0:
            raise ValueError("cannot reset a negative price")
        order.reset()

    pool = ObjectPool(Order, reset, 1)
    obj = pool.acquire()
    obj.price = -1
    before = pool.stats()
    with pytest.raises(ValueError, match="negative price"):
        pool.release(obj)
    assert pool.stats() == before
    obj.price = 5
    pool.release(obj)
    assert pool.stats().free == 1
    pool._check()


def test_borrow_releases_even_when_the_body_raises():
    pool = order_pool(1)
    with pytest.raises(KeyError), pool.borrow() as obj:
        obj.price = 7
        raise KeyError("boom")
    s = pool.stats()
    assert (s.free, s.in_use) == (1, 0) and obj.price == 0
    with pool.borrow() as again:
        assert again is obj
    pool._check()


# -- threads ----------------------------------------------------------------------------


@pytest.fixture
def frequent_thread_switches():
    """Make CPython switch threads every microsecond, so borrowers really overlap."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("frequent_thread_switches")
def test_threads_never_share_an_object_and_every_object_comes_back():
    pool = order_pool(2, on_empty="block")
    owners: dict[int, str] = {}
    errors: list[str] = []
    guard = threading.Lock()

    def work(name: str) -> None:
        for _ in range(500):
            with pool.borrow(timeout=10) as obj:
                with guard:
                    if id(obj) in owners:
                        errors.append(f"{name} got an object {owners[id(obj)]} holds")
                    owners[id(obj)] = name
                obj.tags.append(name)
                time.sleep(0)  # let another thread run while this one holds the object
                with guard:
                    del owners[id(obj)]

    threads = [threading.Thread(target=work, args=(f"t{i}",), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "workers did not finish"
    assert errors == []
    s = pool.stats()
    assert (s.free, s.in_use, s.size, s.hits + s.misses) == (2, 0, 2, 2_000)
    assert s.high_water <= 2
    pool._check()


# -- seeded random actions --------------------------------------------------------------


@pytest.mark.parametrize("policy", EMPTY_POLICIES)
def test_seeded_random_actions_keep_the_invariants_and_match_an_oracle(policy):
    rng = random.Random(f"pool-{policy}")
    pool = order_pool(4, on_empty=policy)
    held: list[Order] = []
    released: list[Order] = []
    hits = misses = 0
    actions = ["acquire"] * 5 + ["release"] * 4 + ["double", "foreign", "borrow_raise"]
    for _ in range(3_000):
        action = rng.choice(actions)
        before = pool.stats()
        if action == "acquire":
            if before.free or policy == "grow":
                obj = pool.acquire(timeout=0)
                assert obj.price == 0 and obj not in held
                obj.price = rng.randrange(1, 100)
                held.append(obj)
                hits, misses = (hits + 1, misses) if before.free else (hits, misses + 1)
            else:
                with pytest.raises(QueueEmpty):
                    pool.acquire(timeout=0)
                misses += 1
        elif action == "release" and held:
            obj = held.pop(rng.randrange(len(held)))
            pool.release(obj)
            assert obj.price == 0
            released.append(obj)
        elif action == "double" and released and released[-1] not in held:
            with pytest.raises(StateError):
                pool.release(released[-1])
            assert pool.stats() == before
        elif action == "foreign":
            with pytest.raises(ConfigError):
                pool.release(Order())
            assert pool.stats() == before
        elif action == "borrow_raise" and before.free:
            with pytest.raises(RuntimeError), pool.borrow():
                raise RuntimeError
            hits += 1
        pool._check()
        s = pool.stats()
        assert (s.in_use, s.hits, s.misses) == (len(held), hits, misses)
        assert s.free == s.size - len(held)


# -- BufferArena ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, 4), "n_buffers must be >= 1"),
        ((2, 0), "shape must be >= 1"),
        ((2, (4, -1)), "shape must be >= 1"),
        ((2, 2.5), "shape must be an integer"),
        ((2, ()), "shape must have at least one dimension"),
        ((2, 4, "not a dtype"), "dtype must be a numpy dtype"),
        ((2, 4, object), "dtype must be a fixed-size numeric dtype"),
    ],
)
def test_arena_bad_parameters_are_clear_errors(args, match):
    with pytest.raises(ConfigError, match=match):
        BufferArena(*args)


def test_arena_cannot_grow():
    with pytest.raises(ConfigError, match="on_empty must be one of 'raise', 'block'"):
        BufferArena(2, 4, on_empty="grow")


def test_arena_buffers_do_not_alias_each_other():
    arena = BufferArena(4, (2, 3), np.int32)
    bufs = [arena.acquire() for _ in range(4)]
    assert [arena.index_of(b) for b in bufs] == [0, 1, 2, 3]
    for i, a in enumerate(bufs):
        assert a.shape == (2, 3) and a.dtype == np.int32 and a.flags.writeable
        for b in bufs[i + 1 :]:
            assert not np.shares_memory(a, b)
    bufs[1][:] = 9
    assert [int(b.sum()) for b in bufs] == [0, 54, 0, 0]
    s = arena.stats()
    assert (s.n_buffers, s.buffer_shape, s.dtype, s.buffer_nbytes) == (4, (2, 3), "int32", 24)
    arena._check()


def test_arena_released_buffers_are_cleared_and_reused():
    arena = BufferArena(2, 3, np.float64)
    a = arena.acquire()
    a[:] = 1.5
    arena.release(a)
    again = arena.acquire()
    assert again is a and again.tolist() == [0.0, 0.0, 0.0]
    s = arena.stats()
    assert (s.hits, s.in_use, s.high_water) == (2, 1, 1)
    arena._check()


def test_arena_without_zeroing_keeps_the_data():
    arena = BufferArena(1, 2, np.int64, zero_on_release=False)
    with arena.borrow() as buf:
        buf[:] = 7
    assert arena.acquire().tolist() == [7, 7]


def test_arena_misuse_is_an_error_and_changes_nothing():
    arena = BufferArena(2, 4, np.int64)
    a = arena.acquire()
    b = arena.acquire()
    arena.release(b)
    before = arena.stats()
    with pytest.raises(ConfigError, match="not a slice or view of it"):
        arena.release(a[:2])
    with pytest.raises(ConfigError, match="not a slice or view of it"):
        arena.release(a.view())
    with pytest.raises(ConfigError, match="never gave out"):
        arena.release(np.zeros(4, np.int64))
    with pytest.raises(StateError, match="double release"):
        arena.release(b)
    with pytest.raises(ConfigError, match="not a buffer of this arena"):
        arena.index_of(np.zeros(4, np.int64))
    assert arena.stats() == before
    arena._check()


def test_arena_exhaustion_raises_and_block_waits():
    arena = BufferArena(1, 4)
    arena.acquire()
    with pytest.raises(QueueEmpty, match="pool exhausted"):
        arena.acquire()
    blocking = BufferArena(1, 4, on_empty="block")
    blocking.acquire()
    with pytest.raises(QueueEmpty, match="no object released within"):
        blocking.acquire(timeout=0.01)
    arena._check()
    blocking._check()


# -- gc_paused --------------------------------------------------------------------------


@pytest.fixture
def gc_state():
    """Start from an enabled, unfrozen collector and put it back whatever the test does."""
    if gc.get_freeze_count():
        pytest.skip("something else froze the collector")
    was_enabled = gc.isenabled()
    gc.enable()
    yield
    gc.unfreeze()
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.usefixtures("gc_state")
def test_gc_paused_disables_and_freezes_then_restores():
    with gc_paused():
        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("gc_state")
def test_gc_paused_without_freeze_only_disables():
    with gc_paused(freeze=False):
        assert not gc.isenabled()
        assert gc.get_freeze_count() == 0
    assert gc.isenabled()


@pytest.mark.usefixtures("gc_state")
def test_gc_paused_leaves_a_disabled_collector_disabled():
    gc.disable()
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


@pytest.mark.usefixtures("gc_state")
def test_gc_paused_does_not_unfreeze_what_it_did_not_freeze():
    gc.freeze()
    frozen = gc.get_freeze_count()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


@pytest.mark.usefixtures("gc_state")
def test_gc_paused_nests_and_only_the_outermost_exit_restores():
    with gc_paused(freeze=False):
        with gc_paused():
            assert gc.get_freeze_count() > 0
        assert not gc.isenabled()
        with gc_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("gc_state")
def test_gc_paused_restores_on_exception_and_lets_it_propagate():
    with pytest.raises(ZeroDivisionError), gc_paused(), gc_paused():
        raise ZeroDivisionError
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("gc_state")
def test_gc_paused_sections_may_overlap_across_threads():
    a_inside, b_inside, a_left = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a() -> None:
        with gc_paused():
            a_inside.set()
            b_inside.wait(10)
        a_left.set()

    def b() -> None:
        a_inside.wait(10)
        with gc_paused():
            b_inside.set()
            a_left.wait(10)
            seen["enabled after a left"] = gc.isenabled()

    threads = [threading.Thread(target=f, daemon=True) for f in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    assert seen == {"enabled after a left": False}
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
