"""Journal: framing, growth by remapping, recovery of torn tails, SIGKILL at random moments."""

from __future__ import annotations

import gc
import os
import random
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from journal_child import make_record, sequence_of

from rtkit.errors import Closed, ConfigError, IncompatibleError, StateError
from rtkit.journal import HEADER_BYTES, PAGE_BYTES, Journal

CHILD = Path(__file__).with_name("journal_child.py")


def records_of(journal: Journal) -> list[bytes]:
    return [payload for _, payload in journal.replay()]


def flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0x5A]))


def write_at(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def frame(payload: bytes) -> bytes:
    length = struct.pack("<I", len(payload))
    return length + struct.pack("<I", zlib.crc32(payload, zlib.crc32(length))) + payload


# -- the basics ----------------------------------------------------------------


def test_round_trip_returns_every_record_at_increasing_aligned_offsets(tmp_path):
    data = [b"a", b"bc" * 7, bytes(range(256)), b"\0\0\0\0", b"x" * 1000]
    with Journal(tmp_path / "j") as j:
        offsets = []
        for d in data:
            offsets.append(j.append(d))
            j._check()
        assert offsets[0] == HEADER_BYTES
        assert offsets == sorted(set(offsets)) and all(o % 8 == 0 for o in offsets)
        assert list(j.replay()) == list(zip(offsets, data, strict=True))
        assert list(j.replay(offsets[2])) == list(zip(offsets[2:], data[2:], strict=True))
        assert len(j) == 5 and j.size == j.stats().bytes_used
        j.flush()
        j._check()


def test_reopen_replays_the_same_records_and_appends_after_them(tmp_path):
    path = tmp_path / "j"
    with Journal(path) as j:
        first = [j.append(b"one"), j.append(b"two")]
    with Journal(path) as j:
        j._check()
        assert len(j) == 2 and j.stats().discarded_bytes == 0
        third = j.append(b"three")
        assert third > first[-1]
        j._check()
    with Journal(path) as j:
        assert list(j.replay()) == [(first[0], b"one"), (first[1], b"two"), (third, b"three")]


def test_any_contiguous_or_strided_bytes_like_object_is_accepted(tmp_path):
    array = np.arange(6, dtype=np.int32).reshape(2, 3)
    with Journal(tmp_path / "j") as j:
        j.append(array)
        j.append(memoryview(b"abcdef")[::2])
        j.append(bytearray(b"ba"))
        assert records_of(j) == [array.tobytes(), b"ace", b"ba"]
        j._check()


def test_flush_syncs_only_when_something_was_appended(tmp_path):
    with Journal(tmp_path / "j") as j:
        j.flush()
        assert j.stats().flushes == 0
        j.append(b"x")
        assert j.stats().durable_bytes == HEADER_BYTES
        j.flush()
        j.flush()
        s = j.stats()
        assert (s.flushes, s.durable_bytes) == (1, s.bytes_used)
        j._check()


def test_growth_remaps_several_times_and_keeps_every_record(tmp_path):
    path = tmp_path / "j"
    data = [bytes([i % 251]) * (1500 + 97 * i) for i in range(40)]
    with Journal(path, initial_size=1, max_record_bytes=10_000) as j:
        assert j.capacity == PAGE_BYTES
        for d in data:
            j.append(d)
            j._check()
        s = j.stats()
        assert s.remaps >= 4 and s.capacity % PAGE_BYTES == 0
        assert s.capacity == os.path.getsize(path)
        assert records_of(j) == data
    with Journal(path) as j:
        assert records_of(j) == data


def test_a_record_bigger_than_the_whole_file_grows_it_in_one_step(tmp_path):
    with Journal(tmp_path / "j", initial_size=4096, max_record_bytes=100_000) as j:
        j.append(b"z" * 100_000)
        assert j.stats().remaps == 1 and j.capacity >= 100_000 + HEADER_BYTES
        j._check()


def test_prefault_touches_every_page_without_changing_the_file(tmp_path):
    path = tmp_path / "j"
    with Journal(path, initial_size=5 * PAGE_BYTES) as j:
        j.append(b"q" * (PAGE_BYTES + 10))
        j.flush()
        before = path.read_bytes()
        assert j.prefault() == 5
        j._check()
        j.flush()
        assert path.read_bytes() == before


def test_an_empty_existing_file_becomes_a_new_journal(tmp_path):
    path = tmp_path / "j"
    path.touch()
    with Journal(path) as j:
        assert len(j) == 0
        j.append(b"x")
        j._check()


# -- recovery --------------------------------------------------------------------


def test_a_corrupt_byte_stops_replay_and_reopen_never_resurrects_what_followed(tmp_path):
    path = tmp_path / "j"
    data = [bytes([65 + i]) * 100 for i in range(10)]
    with Journal(path) as j:
        offsets = [j.append(d) for d in data]
        j.flush()
        flip_byte(path, offsets[5] + 8 + 50)  # through another descriptor: same page cache
        assert records_of(j) == data[:5]
    with Journal(path) as j:
        j._check()
        assert records_of(j) == data[:5]
        assert j.stats().discarded_bytes == offsets[9] + 8 + 100 - offsets[5]
        # The same size as the corrupt record: without zeroing, records 6..9
        # would follow it intact and replay would bring them back.
        replacement = b"R" * 100
        assert j.append(replacement) == offsets[5]
        j._check()
    with Journal(path) as j:
        assert records_of(j) == [*data[:5], replacement]
        assert path.read_bytes()[j.size :] == bytes(j.capacity - j.size)


TORN_TAILS = {
    "half a frame header": struct.pack("<H", 7),
    "a frame with no payload": frame(b"lost payload")[:8],
    "a payload cut short": frame(b"p" * 300)[:150],
    "a length past the end of the file": struct.pack("<II", 0xFFFF_FFF0, 0),
    "a crc mismatch": frame(b"bad")[:4] + b"\0\0\0\0" + b"bad",
    "a payload whose frame was never written": bytes(16) + frame(b"a ghost record"),
}


@pytest.mark.parametrize("tail", TORN_TAILS.values(), ids=TORN_TAILS.keys())
def test_a_torn_tail_is_zeroed_on_reopen_and_appending_continues(tmp_path, tail):
    path = tmp_path / "j"
    with Journal(path) as j:
        good = [j.append(b"g" * n) for n in (5, 50, 500)]
        end = j.size
    write_at(path, end, tail)
    with Journal(path) as j:
        j._check()
        s = j.stats()
        assert (s.records, s.bytes_used) == (3, end)
        assert s.discarded_bytes == len(tail.rstrip(b"\0"))
        assert j.append(b"after") == end
        assert list(j.replay(good[-1])) == [(good[-1], b"g" * 500), (end, b"after")]
        j._check()
    with Journal(path) as j:  # nothing of the torn tail comes back after "after"
        assert records_of(j) == [b"g" * 5, b"g" * 50, b"g" * 500, b"after"]
        assert j.stats().discarded_bytes == 0


# -- bad input changes nothing -------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ("text", "record must be bytes-like"),
        (7, "record must be bytes-like"),
        (None, "record must be bytes-like"),
        ([1, 2], "record must be bytes-like"),
        (b"", "must not be empty"),
        (bytearray(), "must not be empty"),
        (memoryview(b"abc")[3:], "must not be empty"),
        (b"x" * 4097, "record of 4097 bytes is larger than max_record_bytes=4096"),
    ],
)
def test_a_bad_record_gets_a_clear_error_and_leaves_the_file_unchanged(tmp_path, data, match):
    path = tmp_path / "j"
    with Journal(path, initial_size=4096, max_record_bytes=4096) as j:
        j.append(b"kept")
        j.flush()
        before, stats = path.read_bytes(), j.stats()
        with pytest.raises(ConfigError, match=match):
            j.append(data)
        j._check()
        assert j.stats() == stats
        j.flush()
        assert path.read_bytes() == before
        assert records_of(j) == [b"kept"]


@pytest.mark.parametrize("start", [-1, 3, HEADER_BYTES + 4, 10**9, 2.5, True])
def test_replay_from_a_bad_start_is_refused(tmp_path, start):
    with Journal(tmp_path / "j") as j:
        j.append(b"x")
        with pytest.raises(ConfigError, match="start"):
            j.replay(start)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"initial_size": 0}, "initial_size must be >= 1"),
        ({"max_record_bytes": 0}, "max_record_bytes must be >= 1"),
        ({"max_record_bytes": 2**32}, "max_record_bytes must be <= 4294967295"),
        ({"max_record_bytes": 1.5}, "max_record_bytes must be an integer"),
    ],
)
def test_bad_parameters_are_refused_before_the_file_is_created(tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Journal(tmp_path / "j", **kwargs)
    assert not (tmp_path / "j").exists()


def _header(version: int) -> bytes:
    head = b"RTKJRNL\0" + struct.pack("<I", version)
    return head + struct.pack("<I", zlib.crc32(head))


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"just some text file\n" * 300, "not an rtkit journal"),
        (b"RTKJ", "not an rtkit journal"),
        (_header(1)[:12] + b"\0\0\0\0" + bytes(4080), "corrupt journal header"),
        (_header(2) + bytes(4080), "journal version 2 is not supported"),
    ],
)
def test_a_file_that_is_not_a_journal_is_refused_and_left_untouched(tmp_path, content, match):
    path = tmp_path / "j"
    path.write_bytes(content)
    with pytest.raises(IncompatibleError, match=match):
        Journal(path)
    assert path.read_bytes() == content


def test_a_closed_journal_refuses_work_but_still_reports_stats(tmp_path):
    j = Journal(tmp_path / "j")
    j.append(b"x")
    pending = j.replay()
    j.close()
    j.close()
    j._check()
    for call in (lambda: j.append(b"y"), j.flush, j.replay, j.prefault, lambda: next(pending)):
        with pytest.raises(Closed, match="is closed"):
            call()
    assert j.closed and j.stats().records == 1 and len(j) == 1
    assert "closed" in repr(j)


def test_a_second_writer_is_refused_until_the_first_closes(tmp_path):
    path = tmp_path / "j"
    with Journal(path) as j:
        j.append(b"x")
        with pytest.raises(StateError, match="already open by another writer"):
            Journal(path)
    with Journal(path) as j:
        assert records_of(j) == [b"x"]


def test_a_journal_dropped_without_close_warns(tmp_path):
    j = Journal(tmp_path / "j")
    with pytest.warns(ResourceWarning, match="was not closed"):
        del j
        gc.collect()


# -- properties and a seeded stress --------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=9000), max_size=25), st.integers(0, 2**32))
def test_random_record_sizes_round_trip_through_a_reopen(tmp_path_factory, sizes, seed):
    rng = random.Random(seed)
    data = [rng.randbytes(n) for n in sizes]
    path = tmp_path_factory.mktemp("h") / "j"
    with Journal(path, initial_size=4096, max_record_bytes=9000) as j:
        offsets = [j.append(d) for d in data]
        j._check()
    with Journal(path) as j:
        j._check()
        assert list(j.replay()) == list(zip(offsets, data, strict=True))


def test_seeded_stress_of_weighted_random_actions_keeps_the_invariants(tmp_path):
    rng = random.Random(4)
    path = tmp_path / "j"
    model: list[tuple[int, bytes]] = []
    j = Journal(path, initial_size=4096, max_record_bytes=20_000)
    try:
        actions = ["append", "flush", "replay", "reopen", "prefault", "bad"]
        for _ in range(600):
            action = rng.choices(actions, weights=[60, 12, 8, 4, 2, 6])[0]
            if action == "append":
                data = rng.randbytes(rng.choice([1, 7, 8, 100, 4000, 12_000]))
                model.append((j.append(data), data))
            elif action == "flush":
                j.flush()
            elif action == "replay":
                start_index = rng.randrange(len(model) + 1)
                start = model[start_index][0] if start_index < len(model) else 0
                expected = model[start_index:] if start else model
                assert list(j.replay(start)) == expected
            elif action == "reopen":
                j.close()
                j = Journal(path, max_record_bytes=20_000)
            elif action == "prefault":
                j.prefault()
            else:
                with pytest.raises(ConfigError):
                    j.append(rng.choice([b"", "s", b"x" * 20_001]))
            j._check()
            assert len(j) == len(model)
        assert list(j.replay()) == model
    finally:
        j.close()


# -- SIGKILL at random moments ---------------------------------------------------------


def run_child_until_killed(path: Path, seed: int, wait_ready: bool, delay_s: float) -> list[str]:
    """Start the writer, SIGKILL it after ``delay_s`` (counted from "ready" if asked),
    and return the complete lines it printed."""
    lines: list[str] = []
    ready = threading.Event()
    command = [sys.executable, str(CHILD), str(path), str(seed)]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:

        def read() -> None:
            for line in proc.stdout:
                lines.append(line)
                ready.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        if wait_ready:
            ready.wait(timeout=30)
        time.sleep(delay_s)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reader.join()
        errors = proc.stderr.read()
    assert proc.returncode == -signal.SIGKILL, f"the writer died on its own:\n{errors}"
    return [line for line in lines if line.endswith("\n")]


@pytest.mark.slow
def test_sigkill_at_random_moments_never_loses_a_flushed_record_nor_returns_a_corrupt_one(
    tmp_path,
):
    rng = random.Random(20_240_604)
    path = tmp_path / "killed.journal"
    promised = -1  # the highest sequence number whose flush() had returned
    planted_last: int | None = None  # the last valid record before a corruption we planted
    natural_discards = early_kills = plants_recovered = 0
    rounds = 24
    for round_no in range(rounds):
        # Most kills come after the writer is ready; the others may land in open/recovery.
        wait_ready = rng.random() < 0.8 or planted_last is not None
        lines = run_child_until_killed(path, round_no, wait_ready, rng.uniform(0.0, 0.2))
        early_kills += not lines
        if planted_last is not None:
            last, discarded = map(int, lines[0].split()[1:])
            assert (last, discarded > 0) == (planted_last, True), "torn tail not truncated"
            plants_recovered += 1
        if len(lines) > 1:
            promised = max(promised, int(lines[-1]))
        if not path.exists():  # killed before it even created the file
            continue
        with Journal(path) as j:
            j._check()
            natural_discards += j.stats().discarded_bytes > 0
            count = 0
            for count, (_, record) in enumerate(j.replay(), start=1):
                seq = count - 1
                assert sequence_of(record) == seq, "records out of order or missing"
                assert record == make_record(seq), f"record {seq} is corrupt"
            assert count > promised, f"flushed records {count}..{promised} were lost"
            # The recovered journal takes appends, and replays them.
            offset = j.append(make_record(count))
            j.flush()
            assert list(j.replay(offset)) == [(offset, make_record(count))]
            j._check()
        promised, planted_last = count, None
        if round_no % 4 == 3 and round_no < rounds - 1:
            # Plant a torn record, as a power cut could leave one: corrupt the
            # record just appended, and stop counting it as promised.
            flip_byte(path, offset + 8 + len(make_record(count)) // 2)
            promised = planted_last = count - 1
    assert plants_recovered == 5
    print(
        f"{rounds} kills ({early_kills} before the writer was ready), {promised + 1} records, "
        f"{natural_discards} torn tails from the kills themselves, {path.stat().st_size} bytes"
    )
