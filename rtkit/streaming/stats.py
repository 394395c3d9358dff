"""Frozen snapshots of a stream's subscribers and a pipeline's stages.

Every stateful part of :mod:`rtkit.streaming` reports through one of these
records (DESIGN convention 4). They are plain frozen dataclasses: cheap to
take, safe to keep, easy to print in a notebook.

Conservation laws they let a test (or a learner) check:

* a subscriber: ``published == delivered + dropped + depth + in_flight``,
  and after :meth:`~rtkit.streaming.Stream.close` ``published == delivered +
  dropped``;
* a pipeline, counted in *events* (ingest stamps), for every shape of
  pipeline: ``published == delivered + dropped + late + filtered +
  error_events + in_flight``. A batch or window stage turns many events into
  one item, so a stage's ``received``, ``emitted``, ``filtered`` and
  ``errors`` count *items*, and ``filtered_events`` and ``error_events``
  count the events those items carried: one failed batch of 64 is one error
  and 64 lost events.

Example:
    >>> s = StageStats("sink", "sink", received=2, emitted=1, errors=1, error_events=64)
    >>> s.received == s.emitted + s.errors, s.error_events
    (True, 64)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rtkit.clock import NS_PER_S
from rtkit.latency import LatencyHistogram

if TYPE_CHECKING:
    from rtkit.streaming.chain import Chain

__all__ = [
    "PipelineResult",
    "PipelineStats",
    "StageStats",
    "StreamStats",
    "SubscriberStats",
    "build_stats",
]


@dataclass(frozen=True)
class SubscriberStats:
    """One subscriber of a :class:`~rtkit.streaming.Stream`.

    ``published`` counts the items that passed its filter and were offered to
    its buffer; ``filtered`` those its filter refused. ``delivered`` counts
    items handed to its callback (``errors`` of them raised); ``dropped``
    those its policy discarded or refused (``drop_newest``, ``drop_oldest``,
    ``error``). ``depth`` is what waits in its buffer now, ``high_water`` the
    most that ever waited, ``in_flight`` the item its callback is handling
    (0 or 1), ``last_error`` the ``repr`` of the last exception its callback
    raised.
    """

    name: str
    policy: str
    capacity: int
    published: int
    filtered: int
    delivered: int
    dropped: int
    errors: int
    depth: int
    high_water: int
    in_flight: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class StreamStats(Mapping[str, SubscriberStats]):
    """A :class:`~rtkit.streaming.Stream`: its name, whether it is closed, its subscribers.

    ``subscribers`` holds one :class:`SubscriberStats` per current
    subscriber, in subscription order. The record is also a read-only
    mapping from subscriber name to its stats, so ``stats["quotes"]``,
    ``list(stats)`` and ``stats.items()`` work.

    Example:
        >>> a = SubscriberStats("a", "block", 8, 3, 0, 3, 0, 0, 0, 1)
        >>> st = StreamStats("quotes", False, (a,))
        >>> st["a"].delivered, list(st), "b" in st
        (3, ['a'], False)
    """

    name: str
    closed: bool
    subscribers: tuple[SubscriberStats, ...] = ()

    def __getitem__(self, name: str) -> SubscriberStats:
        for s in self.subscribers:
            if s.name == name:
                return s
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return (s.name for s in self.subscribers)

    def __len__(self) -> int:
        return len(self.subscribers)


@dataclass(frozen=True)
class StageStats:
    """One stage of a :class:`~rtkit.streaming.Pipeline`, summed over its workers.

    ``received`` and ``emitted`` count items in and out (events, or batches
    and windows after a batch or window stage); ``filtered`` the items a
    filter refused; ``dropped`` what a full ingest buffer discarded or
    refused; ``late`` events that came after their windows were closed for
    good; ``errors`` items on which the stage's function raised (the item
    goes no further); ``filtered_events`` and ``error_events`` the events
    (ingest stamps) those refused or failed items carried; ``depth`` items
    held now (queued, or not yet emitted from an open batch or window) and
    ``high_water`` the most ever held by one worker.
    """

    name: str
    kind: str
    received: int = 0
    emitted: int = 0
    filtered: int = 0
    dropped: int = 0
    late: int = 0
    errors: int = 0
    depth: int = 0
    high_water: int = 0
    last_error: str | None = None
    filtered_events: int = 0
    error_events: int = 0


@dataclass(frozen=True)
class PipelineStats:
    """All stages of a pipeline, ingest first, and the end-to-end totals in events.

    ``published`` events were offered to the pipeline, ``delivered`` reached
    the end of it (its sink, or its outputs list), ``dropped`` were discarded
    by a full ingest buffer, ``late`` by a window, ``filtered`` refused by a
    filter (with the batch or window carrying them), ``error_events`` lost
    with an item on which some stage raised (``errors`` counts those items),
    and ``in_flight`` events are still held inside (queued, or in a batch or
    window not yet emitted). Every event is in exactly one of these:
    ``published == delivered + dropped + late + filtered + error_events +
    in_flight``.
    """

    stages: tuple[StageStats, ...] = field(default_factory=tuple)
    published: int = 0
    delivered: int = 0
    dropped: int = 0
    late: int = 0
    errors: int = 0
    in_flight: int = 0
    filtered: int = 0
    error_events: int = 0

    def stage(self, name: str) -> StageStats:
        """The stage called ``name`` (KeyError if there is none).

        Example:
            >>> stats = PipelineStats((StageStats("ingest", "ingest", received=1),))
            >>> stats.stage("ingest").received
            1
        """
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    def table(self) -> str:
        """The stages as an aligned text table (``hwm``: high-water mark), for notebooks.

        Example:
            >>> print(PipelineStats((StageStats("sink", "sink", received=2, emitted=2),)).table())
            stage            in      out filtered  dropped     late   errors    depth      hwm
            sink              2        2        0        0        0        0        0        0
        """
        cols = (
            "received",
            "emitted",
            "filtered",
            "dropped",
            "late",
            "errors",
            "depth",
            "high_water",
        )
        heads = ("in", "out", "filtered", "dropped", "late", "errors", "depth", "hwm")
        rows = [f"{'stage':<10}" + "".join(f"{h:>9}" for h in heads)]
        for s in self.stages:
            rows.append(f"{s.name:<10}" + "".join(f"{getattr(s, c):>9}" for c in cols))
        return "\n".join(rows)


@dataclass(frozen=True)
class PipelineResult:
    """What one run or simulation of a pipeline produced.

    ``latency`` holds every delivered event's end-to-end latency (ingest
    stamp, or intended time under ``arrivals_ns``, to the end of the sink);
    ``elapsed_ns`` runs from the first event offered to the last one
    handled; ``outputs`` holds what reached the end when the pipeline has no
    sink (per worker, in order, worker after worker).
    """

    mode: str
    latency: LatencyHistogram
    elapsed_ns: int
    snapshot: PipelineStats
    outputs: list[Any] = field(default_factory=list)

    def stats(self) -> PipelineStats:
        """Per-stage counters and totals at the end of the run."""
        return self.snapshot

    @property
    def throughput(self) -> float:
        """Delivered events per second over ``elapsed_ns`` (0.0 if no time passed)."""
        return self.snapshot.delivered * NS_PER_S / self.elapsed_ns if self.elapsed_ns else 0.0

    @property
    def delivered(self) -> int:
        """Events that reached the end of the pipeline."""
        return self.snapshot.delivered

    @property
    def dropped(self) -> int:
        """Events a full ingest buffer discarded or refused."""
        return self.snapshot.dropped

    @property
    def late(self) -> int:
        """Events that came after their windows had closed for good."""
        return self.snapshot.late


def build_stats(ingest: list[tuple[int, int, int, int, int]], chains: list[Chain]) -> PipelineStats:
    """Sum per-worker counters into one :class:`PipelineStats` (ingest first)."""
    offered = sum(i[0] for i in ingest)
    dropped = sum(i[2] for i in ingest)
    depth = sum(i[3] for i in ingest)
    stages = [
        StageStats(
            "ingest",
            "ingest",
            received=offered,
            emitted=sum(i[1] for i in ingest),
            dropped=dropped,
            depth=depth,
            high_water=max((i[4] for i in ingest), default=0),
        )
    ]
    per_worker = [c.stats() for c in chains]
    for column in zip(*per_worker, strict=True):
        first = column[0]
        errors = [s.last_error for s in column if s.last_error]
        stages.append(
            StageStats(
                first.name,
                first.kind,
                received=sum(s.received for s in column),
                emitted=sum(s.emitted for s in column),
                filtered=sum(s.filtered for s in column),
                late=sum(s.late for s in column),
                errors=sum(s.errors for s in column),
                depth=sum(s.depth for s in column),
                high_water=max(s.high_water for s in column),
                last_error=errors[-1] if errors else None,
                filtered_events=sum(s.filtered_events for s in column),
                error_events=sum(s.error_events for s in column),
            )
        )
    return PipelineStats(
        stages=tuple(stages),
        published=offered,
        delivered=sum(c.terminal.delivered for c in chains),
        dropped=dropped,
        late=sum(s.late for s in stages),
        errors=sum(s.errors for s in stages),
        in_flight=depth + sum(c.in_flight for c in chains),
        filtered=sum(s.filtered_events for s in stages),
        error_events=sum(s.error_events for s in stages),
    )
