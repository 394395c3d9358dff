"""Journal: an append-only log of records in a real memory-mapped file.

Seed 000 section 4 calls a ``make([]byte, size)`` behind a mutex a
"memory-mapped file for high-performance I/O" (S000-47): no file, no mmap,
nothing survives the process. Its bounds check lets a negative offset through
and can overflow (S000-48). This journal maps a real file with :mod:`mmap`,
frames every record so a crash can be detected, and checks every bound before
doing arithmetic that could run past the mapping. The order book engine
journals its commands with it; lesson 04 studies it.

File layout (little-endian, records 8-byte aligned)::

    0    header, 16 bytes: magic b"RTKJRNL\\0" | version u32 | crc32 of the 12 bytes before
    16   record: length u32 | crc32 u32 over (length bytes + payload) | payload | zeros to 8
    ...  more records, then zeros up to the end of the file

A length of 0 is never a record, so never-written (zero) space ends a replay.
There is no "committed length" in the header: it would need its own write
ordering and would be stale after a crash anyway; the scan is the truth.

Invariant (``_check``): every record between the header and ``size`` has a
non-zero length and a matching CRC, and every byte from ``size`` to
``capacity`` is zero. The zero tail matters: if bytes of a torn record were
left after ``size``, a shorter record appended over it could be followed by
old bytes that happen to frame as a record, and replay would resurrect them.
So opening a journal zeroes whatever follows its last valid record.

Durability (``flush``): ``mmap.flush`` is ``msync(MS_SYNC)``. When it returns,
the kernel has written the records to the device and asked it to flush its
write cache, so they survive a power cut or a kernel crash (on Linux with a
file system that issues cache flushes; macOS needs ``F_FULLFSYNC``, and a drive
that lies about its cache defeats everything). Flushing is not what makes
records visible: other processes see them at once, through the page cache, and
a process killed with ``SIGKILL`` loses nothing it wrote into the mapping.
Flushing is about the machine dying, not the process.
Growing the file changes its size, which is metadata: growth ``fsync``\\s the
file before any record is written into the new space.

Example:
    >>> import os, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "orders.journal")
    >>> with Journal(path) as j:
    ...     j.append(b"buy 10 @ 101"), j.append(b"sell 5 @ 102")
    ...     j.flush()
    (16, 40)
    >>> with Journal(path) as j:       # reopening recovers and keeps appending
    ...     list(j.replay())
    [(16, b'buy 10 @ 101'), (40, b'sell 5 @ 102')]
    >>> tmp.cleanup()
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from rtkit.errors import Closed, ConfigError, IncompatibleError, StateError, check_int

__all__ = ["HEADER_BYTES", "Journal", "JournalStats"]

MAGIC = b"RTKJRNL\0"
VERSION = 1
HEADER_BYTES = 16
FRAME_BYTES = 8  # length u32 + crc32 u32
ALIGN = 8
PAGE_BYTES = mmap.ALLOCATIONGRANULARITY  # mmap offsets and msync ranges start on these
MAX_RECORD_LIMIT = 2**32 - 1  # the length field is a u32
_HEAD = struct.Struct("<8sII")
_FRAME = struct.Struct("<II")
_LENGTH = struct.Struct("<I")
_SCAN_CHUNK = 1 << 20


@dataclass(frozen=True)
class JournalStats:
    """A snapshot of a journal's counters (all sizes in bytes)."""

    records: int  # valid records in the file
    bytes_used: int  # header + framed records: where the next record goes
    capacity: int  # file size == mapping size
    flushes: int  # msync calls made by flush()
    remaps: int  # times the file grew and was mapped again
    durable_bytes: int  # bytes_used when the last flush (or the open) returned
    discarded_bytes: int  # torn or corrupt tail zeroed when the journal was opened


def _padded(nbytes: int) -> int:
    return (nbytes + ALIGN - 1) // ALIGN * ALIGN


def _round_to_pages(nbytes: int) -> int:
    return (nbytes + PAGE_BYTES - 1) // PAGE_BYTES * PAGE_BYTES


def _read_record(buf: mmap.mmap, pos: int, limit: int) -> bytes | None:
    """The payload of the record at ``pos`` if it is whole and valid, else ``None``.

    Bounds are compared as ``length > room`` with ``room`` computed from known
    small numbers, never as ``pos + length > limit`` (S000-48).
    """
    if pos < HEADER_BYTES or limit - pos < FRAME_BYTES:
        return None
    length, crc = _FRAME.unpack_from(buf, pos)
    if length == 0 or _padded(FRAME_BYTES + length) > limit - pos:
        return None
    payload = buf[pos + FRAME_BYTES : pos + FRAME_BYTES + length]
    if zlib.crc32(payload, zlib.crc32(buf[pos : pos + 4])) != crc:
        return None
    return payload


def _scan(buf: mmap.mmap, limit: int) -> tuple[int, int]:
    """``(end, records)``: where the run of valid records from the header stops."""
    pos, records = HEADER_BYTES, 0
    while (payload := _read_record(buf, pos, limit)) is not None:
        pos += _padded(FRAME_BYTES + len(payload))
        records += 1
    return pos, records


def _dirty_end(buf: mmap.mmap, start: int, limit: int) -> int:
    """One past the last non-zero byte in ``[start, limit)``, or ``start`` if all zero."""
    last = start
    for chunk_start in range(start, limit, _SCAN_CHUNK):
        kept = buf[chunk_start : min(chunk_start + _SCAN_CHUNK, limit)].rstrip(b"\0")
        if kept:
            last = chunk_start + len(kept)
    return last


def _as_payload(data: object) -> memoryview:
    try:
        view = memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        raise ConfigError(
            f"record must be bytes-like (bytes, bytearray, memoryview), got {type(data).__name__}"
        ) from None
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    try:
        return view.cast("B")
    except TypeError:  # a format cast refuses: copy instead
        return memoryview(view.tobytes())


def _extend(fd: int, old_size: int, new_size: int) -> None:
    """Grow the file to ``new_size`` with its blocks reserved, or leave it as it was.

    ``posix_fallocate`` reserves the blocks now, so a full disk is an
    ``OSError`` here rather than a ``SIGBUS`` later, when a store into a hole
    of a sparse file finds no block to allocate.
    """
    try:
        if not hasattr(os, "posix_fallocate"):
            os.ftruncate(fd, new_size)
            return
        try:
            os.posix_fallocate(fd, old_size, new_size - old_size)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise
            os.ftruncate(fd, new_size)
    except BaseException:
        os.ftruncate(fd, old_size)
        raise


class Journal:
    """An append-only journal of byte records in a memory-mapped file, one writer.

    Opening a path creates the journal if the file is missing or empty, and
    otherwise recovers it: the records are scanned from the header, the scan
    stops at the first torn or corrupt one (length 0, length past the end of
    the file, CRC mismatch), everything from there on is zeroed, and appends
    continue after the last valid record. Records after a corrupt one are
    discarded: without a valid frame there is no trustworthy way to find the
    next one. Opening reads the whole file once (O(capacity)) and ``fsync``\\s
    it: records a killed writer left in the page cache unflushed become
    durable before anything is appended after them, otherwise a later flush
    could make a new record durable behind older ones that are not.

    One writer: an exclusive ``flock`` makes a second :class:`Journal` on the
    same file (in this process or another) fail with
    :class:`~rtkit.errors.StateError`. The lock is advisory and dies with the
    process, so a killed writer never leaves the journal locked. The object is
    not thread-safe; serialise calls from several threads yourself.

    Args:
        path: the journal file.
        initial_size: bytes to map when the journal is created (rounded up to
            whole pages); ignored when the file exists. Size it so the hot path
            never grows the file.
        max_record_bytes: the largest payload :meth:`append` accepts (at most
            ``2**32 - 1``). Replay does not use it, so reopening with a smaller
            limit never discards records.

    Raises:
        ConfigError: a parameter is out of range.
        IncompatibleError: the file is not an rtkit journal (bad magic, corrupt
            header, unknown version); the file is left untouched.
        StateError: another writer has the journal open.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        initial_size: int = 64 * 1024,
        max_record_bytes: int = 1 << 20,
    ) -> None:
        self._closed = True  # until the file is open and recovered
        try:
            self.path = os.fspath(path)
        except TypeError:
            raise ConfigError(f"path must be a str or os.PathLike, got {path!r}") from None
        initial_size = check_int("initial_size", initial_size, minimum=1)
        self.max_record_bytes = check_int("max_record_bytes", max_record_bytes, minimum=1)
        if self.max_record_bytes > MAX_RECORD_LIMIT:
            raise ConfigError(
                f"max_record_bytes must be <= {MAX_RECORD_LIMIT}, got {self.max_record_bytes}"
            )
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        mm = None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StateError(f"journal {self.path} is already open by another writer") from None
            capacity = os.fstat(fd).st_size
            if capacity == 0:
                capacity = self._create(fd, initial_size)
            else:
                self._check_header(fd)
            mm = mmap.mmap(fd, capacity)
            end, records = _scan(mm, capacity)
            dirty_end = _dirty_end(mm, end, capacity)
            for start in range(end, dirty_end, _SCAN_CHUNK):
                stop = min(start + _SCAN_CHUNK, dirty_end)
                mm[start:stop] = bytes(stop - start)
            os.fsync(fd)
        except BaseException:
            if mm is not None:
                mm.close()
            os.close(fd)
            raise
        self._fd, self._mm = fd, mm
        self._capacity, self._end, self._records = capacity, end, records
        self._durable = end
        self._discarded = dirty_end - end
        self._flushes = self._remaps = 0
        self._closed = False

    def _create(self, fd: int, initial_size: int) -> int:
        # Header first, then the size: a crash in between leaves a valid, empty journal.
        header = _HEAD.pack(MAGIC, VERSION, 0)[:12]
        os.pwrite(fd, header + _LENGTH.pack(zlib.crc32(header)), 0)
        capacity = _round_to_pages(max(initial_size, HEADER_BYTES))
        _extend(fd, HEADER_BYTES, capacity)
        os.fsync(fd)
        dir_fd = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # a new directory entry is metadata too
        finally:
            os.close(dir_fd)
        return capacity

    def _check_header(self, fd: int) -> None:
        head = os.pread(fd, HEADER_BYTES, 0)
        if len(head) < HEADER_BYTES or head[:8] != MAGIC:
            raise IncompatibleError(f"{self.path} is not an rtkit journal (bad magic)")
        _, version, crc = _HEAD.unpack(head)
        if zlib.crc32(head[:12]) != crc:
            raise IncompatibleError(f"{self.path} has a corrupt journal header")
        if version != VERSION:
            raise IncompatibleError(
                f"journal version {version} is not supported, only version {VERSION}"
            )

    # -- the write path ---------------------------------------------------

    def append(self, data: bytes | bytearray | memoryview) -> int:
        """Append one record and return its offset; durable only after :meth:`flush`.

        Any C-contiguous bytes-like object is accepted. An empty record is
        refused (a zero length marks the end of the journal), as is one longer
        than ``max_record_bytes``; either way the journal is unchanged.

        Runtime complexity: O(len(data)); amortised O(len(data)) when the file
        has to grow (doubling, see :meth:`stats` ``remaps``), but the append
        that grows it pays an ``fallocate``, an ``fsync`` and a new mapping:
        a latency spike that ``initial_size`` exists to avoid.
        """
        self._require_open()
        payload = _as_payload(data)
        length = payload.nbytes
        if length == 0:
            raise ConfigError("record must not be empty: a zero length marks the end")
        if length > self.max_record_bytes:
            raise ConfigError(
                f"record of {length} bytes is larger than max_record_bytes={self.max_record_bytes}"
            )
        pos = self._end
        new_end = pos + _padded(FRAME_BYTES + length)
        if new_end > self._capacity:
            self._grow(new_end)
        crc = zlib.crc32(payload, zlib.crc32(_LENGTH.pack(length)))
        mm = self._mm
        # Payload first, frame last: a process killed in between leaves a zero
        # length, which replay reads as the end. A power cut can write pages
        # back in any order; the CRC catches that.
        mm[pos + FRAME_BYTES : pos + FRAME_BYTES + length] = payload
        _FRAME.pack_into(mm, pos, length, crc)
        self._end = new_end
        self._records += 1
        return pos

    def _grow(self, needed: int) -> None:
        capacity = self._capacity
        while capacity < needed:
            capacity *= 2
        capacity = _round_to_pages(capacity)
        _extend(self._fd, self._capacity, capacity)
        os.fsync(self._fd)  # the new size must be durable before records live in it
        try:
            new_mm = mmap.mmap(self._fd, capacity)
        except BaseException:
            os.ftruncate(self._fd, self._capacity)  # the new space holds nothing yet
            raise
        # Unmapping does not drop the old mapping's dirty pages: they belong to
        # the file's page cache, and the next msync of their range writes them.
        self._mm.close()
        self._mm, self._capacity = new_mm, capacity
        self._remaps += 1

    def flush(self) -> None:
        """Make every record appended so far durable (``msync(MS_SYNC)``).

        Only the pages written since the last flush are synced. See the module
        docstring for what durable does and does not mean. Writing a page back
        write-protects it (on disk file systems), so the next store into each
        synced page takes a minor fault to mark it dirty again.

        Runtime complexity: O(bytes appended since the last flush), plus the
        device's write latency.
        """
        self._require_open()
        if self._end > self._durable:
            low = self._durable // PAGE_BYTES * PAGE_BYTES
            self._mm.flush(low, self._end - low)
            self._flushes += 1
            self._durable = self._end

    def prefault(self) -> int:
        """Fault in every page of the mapping now, and return how many were touched.

        The latency trap: mapping a file costs nothing up front, because the
        kernel maps each page on its first touch. That page fault is minor
        when the page is already cached (around a microsecond, more when the
        file system must allocate its block), major when it must be read from
        the device (a disk seek), and it lands on whichever append first
        crosses into the page: in the hot path. ``prefault`` moves the cost to
        start-up. It asks for read-ahead (``madvise(MADV_WILLNEED)``), reads
        each fully used page and writes a zero into the free part of each other
        page (zero over zero: contents unchanged), so the write faults are
        taken too. ``MAP_POPULATE`` would populate the page tables at map time
        but does not take the write faults. Pages can still be evicted under
        memory pressure; ``mlock`` would pin them, but Python's :mod:`mmap`
        does not expose it (it needs ``ctypes`` and a ``RLIMIT_MEMLOCK`` large
        enough). Growth maps new, cold pages: call ``prefault`` again after it,
        or size ``initial_size`` so the file never grows while it matters.

        Runtime complexity: O(capacity / page size) touches.
        """
        self._require_open()
        mm, end = self._mm, self._end
        if hasattr(mmap, "MADV_WILLNEED"):
            mm.madvise(mmap.MADV_WILLNEED)
        pages = 0
        for page in range(0, self._capacity, PAGE_BYTES):
            spare = max(page, end)  # the first free byte in this page, if any
            if spare < min(page + PAGE_BYTES, self._capacity):
                mm[spare] = 0
            else:
                _ = mm[page]
            pages += 1
        return pages

    # -- the read path ----------------------------------------------------

    def replay(self, start: int = 0) -> Iterator[tuple[int, bytes]]:
        """Yield ``(offset, payload)`` for each valid record from ``start``, in order.

        ``start`` is 0 (the first record) or an offset :meth:`append` returned.
        Replay stops cleanly at the first torn or corrupt record, or at the
        end; records appended while iterating are included. Payloads are
        copies: the journal never lends out views of its mapping, so it can
        remap at any time.

        Runtime complexity: O(bytes replayed).
        """
        self._require_open()
        start = check_int("start", start, minimum=0)
        pos = HEADER_BYTES if start == 0 else start
        if not HEADER_BYTES <= pos <= self._end or pos % ALIGN:
            raise ConfigError(
                f"start must be 0 or a record offset in [{HEADER_BYTES}, {self._end}], got {start}"
            )
        return self._replay_from(pos)

    def _replay_from(self, pos: int) -> Iterator[tuple[int, bytes]]:
        while True:
            self._require_open()
            payload = _read_record(self._mm, pos, self._end)
            if payload is None:
                return
            yield pos, payload
            pos += _padded(FRAME_BYTES + len(payload))

    # -- introspection and lifecycle ---------------------------------------

    def __len__(self) -> int:
        """The number of records. Runtime complexity: O(1)."""
        return self._records

    @property
    def size(self) -> int:
        """Bytes in use (header and framed records): the offset of the next record."""
        return self._end

    @property
    def capacity(self) -> int:
        """The file's size in bytes, which is also the mapping's."""
        return self._capacity

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    def stats(self) -> JournalStats:
        """A snapshot of the counters; still answers after :meth:`close`."""
        return JournalStats(
            records=self._records,
            bytes_used=self._end,
            capacity=self._capacity,
            flushes=self._flushes,
            remaps=self._remaps,
            durable_bytes=self._durable,
            discarded_bytes=self._discarded,
        )

    def close(self) -> None:
        """Flush, unmap and close the file; idempotent. Later calls raise ``Closed``."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._mm.close()
            os.close(self._fd)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            warnings.warn(
                f"journal {self.path} was not closed", ResourceWarning, stacklevel=2, source=self
            )
            self._closed = True
            self._mm.close()
            os.close(self._fd)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self._records} records"
        return f"Journal({self.path!r}, {state}, {self._end}/{self._capacity} bytes)"

    def _require_open(self) -> None:
        if self._closed:
            raise Closed(f"journal {self.path} is closed")

    def _check(self) -> None:
        """Assert the invariants; tests call this after every operation. O(capacity)."""
        if self._closed:
            return
        mm, end, capacity = self._mm, self._end, self._capacity
        assert HEADER_BYTES <= self._durable <= end <= capacity, "offsets out of order"
        assert end % ALIGN == 0, "end not aligned"
        assert capacity == len(mm) == os.fstat(self._fd).st_size, "mapping and file sizes differ"
        assert capacity % PAGE_BYTES == 0 or self._remaps == 0, "grown to a partial page"
        self._check_header(self._fd)
        pos, records = _scan(mm, end)
        assert pos == end, f"valid records stop at {pos}, before the end {end}"
        assert records == self._records, "record count differs from the file"
        assert _dirty_end(mm, end, capacity) == end, "non-zero bytes after the end"
