"""Tests for rtkit.viz.plot_gantt: bars, arrows and miss marks for a Schedule."""

import matplotlib
import matplotlib.pyplot as plt
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from rtkit.errors import ConfigError
from rtkit.sched import Task, simulate
from rtkit.viz import plot_gantt

matplotlib.use("Agg")

CLASSIC = [Task("t1", 2, 5), Task("t2", 4, 7)]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def lines_by_gid(ax):
    return {line.get_gid(): line for line in ax.get_lines()}


def test_gantt_draws_one_bar_per_segment_and_arrows_per_job():
    s = simulate(CLASSIC, "edf")
    ax = Figure().add_subplot()
    assert plot_gantt(s, ax=ax) is ax
    bars = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bars) == len(s.segments)
    lines = lines_by_gid(ax)
    assert len(lines["releases"].get_xdata()) == len(s.jobs)
    assert len(lines["deadlines"].get_xdata()) == len(s.jobs)  # all deadlines <= horizon
    assert len(lines["misses"].get_xdata()) == 0
    assert [t.get_text() for t in ax.get_yticklabels()] == ["t1", "t2"]
    assert "0 missed" in ax.get_title()


def test_gantt_marks_misses_in_red_and_hatches_late_execution():
    s = simulate(CLASSIC, "rm")
    ax = plot_gantt(s, ax=Figure().add_subplot(), end=14)
    lines = lines_by_gid(ax)
    assert lines["misses"].get_xdata().tolist() == [7]
    assert lines["misses"].get_color() == "red"
    hatched = [c for c in ax.collections if c.get_hatch()]
    assert len(hatched) == 1  # t2's first job ran 7..8 after its deadline
    assert [float(x) for x in ax.get_xlim()] == [0.0, 14.0]
    assert len(lines["releases"].get_xdata()) == int((s.jobs["release"] < 14).sum())


def test_gantt_by_cpu_has_a_row_per_cpu_and_a_task_legend():
    s = simulate([Task("x", 1, 2), Task("y", 1, 2), Task("z", 3, 4)], "edf", cpus=2)
    ax = plot_gantt(s, ax=Figure().add_subplot(), by="cpu", title="two cpus")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cpu 0", "cpu 1"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["x", "y", "z"]
    assert ax.get_title() == "two cpus"


def test_gantt_rejects_bad_options():
    s = simulate(CLASSIC, "edf")
    with pytest.raises(ConfigError, match="by must be one of"):
        plot_gantt(s, by="job")
    with pytest.raises(ConfigError, match="end must be >= 6"):
        plot_gantt(s, start=5, end=5)
