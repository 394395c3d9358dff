"""rtkit: a Jupyter kit for learning and measuring real-time and low-latency systems.

The package is the source of truth; the lesson notebooks import it. The names
most lessons need are re-exported here.

Example:
    >>> import rtkit
    >>> h = rtkit.LatencyHistogram()
    >>> h.record(1_000)
    >>> h.percentile(50)
    1000
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from rtkit.clock import VirtualClock, WallClock
from rtkit.events import EventProcessor, ProcessorConfig, make_workload, simulate
from rtkit.latency import LatencyHistogram

try:
    __version__ = version("rtkit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "EventProcessor",
    "LatencyHistogram",
    "ProcessorConfig",
    "VirtualClock",
    "WallClock",
    "__version__",
    "make_workload",
    "simulate",
]
