"""A journal writer that test_journal.py kills with SIGKILL at random moments.

Usage: ``python journal_child.py PATH SEED``

It opens (and so recovers) the journal at PATH, reads the last sequence number
in it and prints ``ready LAST DISCARDED_BYTES``. Then, forever: it appends a
batch of records with the next sequence numbers, calls ``flush()``, and once
``flush()`` has returned prints the sequence number of the last record in the
batch. A printed number is therefore a promise: that record and every one
before it are durable.

Record ``seq`` is ``make_record(seq)``: the sequence number followed by bytes
derived from it, of a size derived from it (mostly small, sometimes several
pages, so the file keeps growing and remapping), so a reader can check every
byte of every record from its sequence number alone.
"""

from __future__ import annotations

import os
import random
import struct
import sys
import types

SEQ = struct.Struct("<Q")


def record_size(seq: int) -> int:
    rng = random.Random(seq)
    roll = rng.random()
    if roll < 0.02:
        return rng.randint(5_000, 20_000)
    if roll < 0.12:
        return rng.randint(200, 3_000)
    return rng.randint(0, 200)


def make_record(seq: int) -> bytes:
    return SEQ.pack(seq) + random.Random(~seq).randbytes(record_size(seq))


def sequence_of(record: bytes) -> int:
    return SEQ.unpack_from(record)[0]


def main(path: str, seed: int) -> None:
    # Import the journal without running rtkit/__init__.py, which loads numba
    # for other lessons: half a second per start, and the kill test starts this
    # program more than twenty times.
    package = types.ModuleType("rtkit")
    package.__path__ = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rtkit")]
    sys.modules["rtkit"] = package
    from rtkit.journal import Journal

    rng = random.Random(seed)
    with Journal(path, initial_size=4096, max_record_bytes=1 << 16) as journal:
        last = -1
        for _, record in journal.replay():
            last = sequence_of(record)
        print(f"ready {last} {journal.stats().discarded_bytes}", flush=True)
        seq = last + 1
        while True:
            for _ in range(rng.randint(1, 8)):
                journal.append(make_record(seq))
                seq += 1
            journal.flush()
            print(seq - 1, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
