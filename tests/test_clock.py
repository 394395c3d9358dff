"""Tests for rtkit.clock: VirtualClock, WallClock and resolve_clock.

Wall-clock tests only assert lower bounds and ordering: the time a real wait
takes on a shared machine has no upper bound worth asserting.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from rtkit.clock import (
    NS_PER_MS,
    NS_PER_S,
    NS_PER_US,
    Clock,
    VirtualClock,
    WallClock,
    resolve_clock,
)
from rtkit.errors import ConfigError, StateError

NON_INTS = [1.5, 2.0, "3", None, True]

# -- VirtualClock ----------------------------------------------------------


def test_unit_constants():
    assert (NS_PER_US, NS_PER_MS, NS_PER_S) == (1_000, 1_000_000, 1_000_000_000)


def test_virtual_clock_starts_at_start_ns():
    assert VirtualClock().now_ns() == 0
    clock = VirtualClock(start_ns=1_234)
    assert clock.now_ns() == 1_234
    assert isinstance(clock.now_ns(), int)
    assert repr(clock) == "VirtualClock(now_ns=1234)"


def test_virtual_clock_does_not_move_on_its_own():
    clock = VirtualClock(start_ns=50)
    assert [clock.now_ns() for _ in range(1_000)] == [50] * 1_000


def test_advance_returns_the_new_time():
    clock = VirtualClock(start_ns=10)
    assert clock.advance(5) == 15
    assert clock.advance(0) == 15
    assert clock.advance(10**15) == 10**15 + 15
    assert clock.now_ns() == 10**15 + 15


def test_advance_backwards_raises_state_error_and_leaves_time_alone():
    clock = VirtualClock(start_ns=100)
    with pytest.raises(StateError, match=r"cannot go backwards \(delta_ns=-1\)"):
        clock.advance(-1)
    assert clock.now_ns() == 100


def test_sleep_until_jumps_forward_to_the_deadline():
    clock = VirtualClock()
    assert clock.sleep_until(1_500) is None
    assert clock.now_ns() == 1_500
    clock.sleep_until(1_500)
    assert clock.now_ns() == 1_500


def test_sleep_until_a_past_deadline_never_moves_time_backwards():
    clock = VirtualClock(start_ns=10)
    clock.advance(5)
    clock.sleep_until(12)
    assert clock.now_ns() == 15
    clock.sleep_until(-1_000)
    assert clock.now_ns() == 15


def test_sleep_jumps_forward_by_duration():
    clock = VirtualClock(start_ns=7)
    clock.sleep(3)
    assert clock.now_ns() == 10
    clock.sleep(0)
    assert clock.now_ns() == 10
    with pytest.raises(StateError, match="cannot go backwards"):
        clock.sleep(-1)
    assert clock.now_ns() == 10


def test_set_ns_jumps_forward_or_stays():
    clock = VirtualClock(start_ns=5)
    clock.set_ns(5)
    assert clock.now_ns() == 5
    clock.set_ns(900)
    assert clock.now_ns() == 900


def test_set_ns_backwards_raises_state_error_and_leaves_time_alone():
    clock = VirtualClock(start_ns=900)
    with pytest.raises(StateError, match="cannot go backwards: now 900, asked 899"):
        clock.set_ns(899)
    assert clock.now_ns() == 900


def test_virtual_time_is_monotonic_under_a_seeded_mix_of_calls():
    rng = random.Random(7)
    clock = VirtualClock()
    last = clock.now_ns()
    for _ in range(2_000):
        action = rng.choice(["advance", "sleep_until", "set_ns", "sleep"])
        target = last + rng.randint(-1_000, 1_000)
        if action == "advance":
            delta = target - last
            if delta < 0:
                with pytest.raises(StateError):
                    clock.advance(delta)
            else:
                assert clock.advance(delta) == target
        elif action == "sleep_until":
            clock.sleep_until(target)
            assert clock.now_ns() == max(last, target)
        elif action == "set_ns":
            if target < last:
                with pytest.raises(StateError):
                    clock.set_ns(target)
            else:
                clock.set_ns(target)
        else:
            clock.sleep(abs(target - last))
        now = clock.now_ns()
        assert now >= last
        last = now


@pytest.mark.parametrize("bad", NON_INTS)
def test_virtual_clock_start_ns_must_be_an_integer(bad):
    with pytest.raises(ConfigError, match="start_ns must be an integer"):
        VirtualClock(start_ns=bad)


def test_virtual_clock_start_ns_must_not_be_negative():
    with pytest.raises(ConfigError, match="start_ns must be >= 0, got -1"):
        VirtualClock(start_ns=-1)


@pytest.mark.parametrize("bad", NON_INTS)
def test_advance_and_set_ns_reject_non_integers_and_leave_time_alone(bad):
    clock = VirtualClock(start_ns=10)
    with pytest.raises(ConfigError, match="delta_ns must be an integer"):
        clock.advance(bad)
    with pytest.raises(ConfigError, match="t_ns must be an integer"):
        clock.set_ns(bad)
    with pytest.raises(ConfigError, match="delta_ns must be an integer"):
        clock.sleep(bad)
    assert clock.now_ns() == 10


@pytest.mark.parametrize("bad", [1.5, 20.5, True])
def test_virtual_sleep_until_rejects_non_integer_deadline(bad):
    # A float deadline is truncated today: sleep_until(20.5) leaves now_ns() at 20,
    # before the deadline, breaking the Clock contract "return once now_ns() >= deadline".
    clock = VirtualClock(start_ns=0)
    with pytest.raises(ConfigError, match="deadline_ns must be an integer"):
        clock.sleep_until(bad)
    assert clock.now_ns() == 0


def test_numpy_integers_are_accepted_and_time_stays_a_python_int():
    clock = VirtualClock(start_ns=np.int64(5))
    clock.advance(np.int64(5))
    clock.sleep_until(np.int64(20))
    clock.set_ns(np.uint32(30))
    assert clock.now_ns() == 30
    assert type(clock.now_ns()) is int


# -- WallClock -------------------------------------------------------------


def test_wall_clock_now_ns_is_an_int_and_never_decreases():
    clock = WallClock()
    reads = [clock.now_ns() for _ in range(20_000)]
    assert all(type(t) is int for t in reads)
    assert all(b >= a for a, b in itertools.pairwise(reads))


@pytest.mark.parametrize("spin_ns", [0, 200_000, 10**9])
def test_wall_sleep_until_returns_at_or_after_the_deadline(spin_ns):
    # Only the lower bound is asserted: how late a real wait wakes is not ours to pin.
    clock = WallClock(spin_ns=spin_ns)
    for wait_ns in (0, 1, 50_000, 300_000):
        deadline = clock.now_ns() + wait_ns
        clock.sleep_until(deadline)
        assert clock.now_ns() >= deadline


def test_wall_sleep_until_a_past_deadline_returns():
    clock = WallClock()
    before = clock.now_ns()
    clock.sleep_until(before - 10**9)
    clock.sleep_until(0)
    assert clock.now_ns() >= before


def test_wall_sleep_waits_at_least_the_duration():
    clock = WallClock()
    start = clock.now_ns()
    clock.sleep(250_000)
    assert clock.now_ns() - start >= 250_000


@pytest.mark.parametrize(
    ("spin_ns", "message"),
    [(-1, "spin_ns must be >= 0, got -1"), (1.5, "spin_ns must be an integer"), (None, "integer")],
)
def test_wall_clock_rejects_bad_spin_ns(spin_ns, message):
    with pytest.raises(ConfigError, match=message):
        WallClock(spin_ns=spin_ns)


def test_wall_clock_repr_names_spin():
    assert repr(WallClock(spin_ns=5)) == "WallClock(spin_ns=5)"


# -- Clock protocol and resolve_clock --------------------------------------


@pytest.mark.parametrize("clock", [WallClock(), VirtualClock()], ids=["wall", "virtual"])
def test_both_clocks_satisfy_the_clock_protocol(clock):
    assert isinstance(clock, Clock)


def test_objects_without_the_clock_methods_do_not_satisfy_the_protocol():
    class OnlyNow:
        def now_ns(self) -> int:
            return 0

    assert not isinstance(object(), Clock)
    assert not isinstance(OnlyNow(), Clock)


def test_resolve_clock_none_gives_a_fresh_wall_clock():
    a, b = resolve_clock(None), resolve_clock(None)
    assert isinstance(a, WallClock) and isinstance(b, WallClock)
    assert a is not b


@pytest.mark.parametrize("clock", [WallClock(), VirtualClock(start_ns=3)], ids=["wall", "virtual"])
def test_resolve_clock_returns_a_given_clock_unchanged(clock):
    assert resolve_clock(clock) is clock


def test_resolve_clock_accepts_any_object_with_the_clock_methods():
    class TickClock:
        def now_ns(self) -> int:
            return 42

        def sleep_until(self, deadline_ns: int) -> None:
            pass

    tick = TickClock()
    assert resolve_clock(tick) is tick


@pytest.mark.parametrize(
    ("bad", "name"), [(object(), "object"), (42, "int"), ("wall", "str"), ([], "list")]
)
def test_resolve_clock_rejects_objects_that_are_not_clocks(bad, name):
    with pytest.raises(
        ConfigError, match=f"clock must have now_ns\\(\\) and sleep_until\\(\\), got {name}"
    ):
        resolve_clock(bad)
