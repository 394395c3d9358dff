"""Tests for rtkit.viz.plot_gantt: bars, arrows and miss marks for a Schedule."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
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


def bar_collections(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def test_gantt_draws_one_bar_per_segment_and_arrows_per_job():
    s = simulate(CLASSIC, "edf")
    ax = Figure().add_subplot()
    assert plot_gantt(s, ax=ax) is ax
    bars = bar_collections(ax)
    assert len(bars) == 2  # one collection per row
    assert sum(len(c.get_paths()) for c in bars) == len(s.segments)  # one bar per segment
    starts = sorted(float(p.vertices[:, 0].min()) for c in bars for p in c.get_paths())
    assert starts == sorted(s.segments["start"].tolist())
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


def test_a_long_schedule_costs_a_few_artists_not_one_per_segment():
    s = simulate(CLASSIC, "rm", horizon=3_500)  # 1,200 jobs, late parts included
    ax = plot_gantt(s, ax=Figure().add_subplot())
    bars = bar_collections(ax)
    assert len(s.segments) > 1_000 and len(bars) <= 2 * len(CLASSIC)
    late = [c for c in bars if c.get_hatch()]
    late_units = int(
        sum(
            max(0, e - max(st, d))
            for st, e, d in zip(
                s.segments["start"].tolist(),
                s.segments["end"].tolist(),
                s.jobs["deadline"][s.segments["job"]].tolist(),
                strict=True,
            )
        )
    )
    widths = [np.ptp(p.vertices[:, 0]) for c in late for p in c.get_paths()]
    assert late_units > 0 and sum(widths) == pytest.approx(late_units)


def test_gantt_by_cpu_marks_releases_deadlines_and_misses():
    # Dhall's effect: the heavy task misses on two cpus under global EDF.
    tasks = [Task("l1", 2, 10), Task("l2", 2, 10), Task("heavy", 10, 11)]
    s = simulate(tasks, "edf", cpus=2, horizon=44)
    assert s.misses > 0
    ax = plot_gantt(s, ax=Figure().add_subplot(), by="cpu")
    lines = lines_by_gid(ax)
    assert len(lines["releases"].get_xdata()) == len(s.jobs)
    due = s.jobs[s.jobs["deadline"] <= 44]
    assert len(lines["deadlines"].get_xdata()) == int((~due["missed"]).sum())
    assert sorted(lines["misses"].get_xdata().tolist()) == sorted(
        due["deadline"][due["missed"]].tolist()
    )
    assert lines["misses"].get_color() == "red"
    # Each cross sits on the row of the cpu where the late job last ran.
    seg = s.segments
    expected = []
    for row in np.flatnonzero(s.jobs["missed"] & (s.jobs["deadline"] <= 44)).tolist():
        mine = seg[seg["job"] == row]
        expected.append((int(s.jobs["deadline"][row]), -int(mine["cpu"][np.argmax(mine["end"])])))
    crosses = lines["miss_crosses"]
    got = zip(crosses.get_xdata().tolist(), crosses.get_ydata().tolist(), strict=True)
    assert sorted(got) == sorted(expected)
    assert len(bar_collections(ax)) <= 2 * s.cpus


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
