"""GcMonitor and frozen_heap: collections are seen, per generation; freezing is undone."""

from __future__ import annotations

import gc

import pytest

from rtkit.gcstats import GcMonitor, frozen_heap


def test_monitor_records_each_collection_in_its_generation():
    with GcMonitor() as monitor:
        gc.collect(0)
        gc.collect(1)
        gc.collect(2)
    counts = monitor.collections
    assert counts[0] >= 1 and counts[1] >= 1 and counts[2] >= 1
    assert monitor.longest_ns == max(h.max for h in monitor.pauses.values()) > 0


def test_monitor_sees_nothing_outside_its_section_and_removes_its_callback():
    monitor = GcMonitor()
    before = list(gc.callbacks)
    with monitor:
        assert len(gc.callbacks) == len(before) + 1
    gc.collect()
    assert gc.callbacks == before
    assert monitor.collections == (0, 0, 0)


def test_monitor_removes_its_callback_after_an_exception():
    before = list(gc.callbacks)
    with pytest.raises(RuntimeError), GcMonitor():
        raise RuntimeError("boom")
    assert gc.callbacks == before


def test_frozen_heap_freezes_for_the_section_and_unfreezes_after():
    gc.unfreeze()
    keep = [[i] for i in range(1_000)]
    with frozen_heap():
        assert gc.get_freeze_count() >= len(keep)
        assert gc.isenabled()  # the collector keeps running
    assert gc.get_freeze_count() == 0
    with pytest.raises(ValueError), frozen_heap():
        raise ValueError("boom")
    assert gc.get_freeze_count() == 0
