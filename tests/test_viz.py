"""Tests for rtkit.viz: scales, curves, labels and units of every plot."""

import io

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from rtkit.errors import ConfigError
from rtkit.latency import LatencyHistogram
from rtkit.viz import (
    format_ns,
    latency_panel,
    plot_cdf,
    plot_latency_histogram,
    plot_percentile_spectrum,
    plot_samples,
    plot_sweep,
)

matplotlib.use("Agg")  # no display needed; switches even if pyplot is already loaded

HIST_PLOTS = [plot_latency_histogram, plot_percentile_spectrum, plot_cdf]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def lognormal(median_ns: float, n: int = 5_000, seed: int = 0) -> LatencyHistogram:
    h = LatencyHistogram()
    rng = np.random.default_rng(seed)
    h.record_many(rng.lognormal(np.log(median_ns), 0.5, n).astype(np.int64))
    return h


def fresh_ax():
    return Figure().add_subplot()


@pytest.mark.parametrize("plot", HIST_PLOTS)
def test_histogram_plots_use_a_log_latency_axis_and_return_the_given_ax(plot):
    ax = fresh_ax()
    assert plot(lognormal(20_000), ax=ax) is ax
    assert ax.get_xscale() == "log"


@pytest.mark.parametrize("plot", HIST_PLOTS)
def test_a_mapping_draws_one_labelled_curve_per_histogram(plot):
    hists = {"fast": lognormal(5_000), "slow": lognormal(50_000, seed=1), "mid": lognormal(9_000)}
    ax = plot(hists, ax=fresh_ax())
    assert len(ax.get_lines()) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["fast", "slow", "mid"]


@pytest.mark.parametrize("plot", HIST_PLOTS)
def test_one_histogram_without_label_has_no_legend(plot):
    ax = plot(lognormal(5_000), ax=fresh_ax())
    assert len(ax.get_lines()) == 1
    assert ax.get_legend() is None


def test_label_of_a_single_histogram_goes_in_the_legend():
    ax = plot_latency_histogram(lognormal(5_000), ax=fresh_ax(), label="fifo")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["fifo"]


@pytest.mark.parametrize(("unit", "symbol"), [("ns", "ns"), ("us", "µs"), ("ms", "ms"), ("s", "s")])
def test_unit_scales_the_axis_and_names_it(unit, symbol):
    h = LatencyHistogram()
    h.record_many([2_000_000] * 10)
    ax = plot_cdf(h, ax=fresh_ax(), unit=unit)
    assert ax.get_xlabel() == f"latency ({symbol})"
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[unit]
    x = ax.get_lines()[0].get_xdata()
    assert x[-1] == pytest.approx(h.cdf()[0][-1] / scale)


def test_spectrum_has_latency_on_y_in_the_unit():
    ax = plot_percentile_spectrum(lognormal(20_000), ax=fresh_ax(), unit="ms")
    assert ax.get_ylabel() == "latency (ms)"


@pytest.mark.parametrize(
    "call",
    [
        lambda h: plot_latency_histogram(h, unit="µs"),
        lambda h: plot_percentile_spectrum(h, unit="sec"),
        lambda h: plot_cdf(h, unit="US"),
        lambda h: latency_panel(h, unit="minutes"),
        lambda h: plot_samples([0, 1], [1, 2], unit=None),
        lambda h: plot_sweep([1, 2], throughput=[1, 2], unit="h"),
    ],
)
def test_bad_unit_is_rejected(call):
    with pytest.raises(ConfigError, match=r"unit must be one of 'ns', 'us', 'ms', 's'"):
        call(lognormal(1_000))


def test_bad_unit_does_not_create_a_figure():
    before = plt.get_fignums()
    with pytest.raises(ConfigError):
        latency_panel(lognormal(1_000), unit="min")
    assert plt.get_fignums() == before


@pytest.mark.parametrize("plot", HIST_PLOTS)
def test_empty_histogram_draws_nothing_and_says_so(plot):
    ax = plot(LatencyHistogram(), ax=fresh_ax())
    assert ax.get_lines() == []
    assert [t.get_text() for t in ax.texts] == ["no samples recorded"]
    ax.figure.savefig(io.BytesIO(), format="png")


@pytest.mark.parametrize("plot", HIST_PLOTS)
def test_empty_histogram_in_a_mapping_is_skipped_and_colours_stay_put(plot):
    hists = {"empty": LatencyHistogram(), "full": lognormal(3_000)}
    ax = plot(hists, ax=fresh_ax())
    (line,) = ax.get_lines()
    assert line.get_label() == "full"
    assert line.get_color() == "C1"


def test_non_histogram_input_is_rejected():
    with pytest.raises(ConfigError, match="hists must be a LatencyHistogram or a mapping"):
        plot_cdf([1, 2, 3])
    with pytest.raises(ConfigError, match=r"hists\['a'\] must be a LatencyHistogram"):
        plot_cdf({"a": [1, 2]})


def test_spectrum_x_is_one_over_one_minus_fraction():
    h = LatencyHistogram()
    h.record_many(np.arange(1, 1_001) * 1_000)
    ax = plot_percentile_spectrum(h, ax=fresh_ax(), unit="ns", max_nines=5)
    values, fractions = h.cdf()
    x, y = ax.get_lines()[0].get_xdata(), ax.get_lines()[0].get_ydata()
    assert x[0] == 1.0 and y[0] == values[0]  # p = 0 starts at the lowest bucket
    below = fractions < 1
    np.testing.assert_allclose(x[1:][below], 1 / (1 - fractions[below]))
    np.testing.assert_array_equal(y[1:], values)
    assert x[-1] == 1e5  # the max (fraction 1) sits at the right edge
    assert ax.get_xlim() == (1.0, 1e5)


def test_spectrum_ticks_are_percentiles_up_to_max_nines():
    ax = plot_percentile_spectrum(lognormal(5_000), ax=fresh_ax(), max_nines=4)
    assert ax.get_xscale() == "log"
    assert list(ax.get_xticks()) == [2, 10, 100, 1_000, 10_000]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["50%", "90%", "99%", "99.9%", "99.99%"]


@pytest.mark.parametrize("bad", [0, 10, 2.5])
def test_spectrum_rejects_bad_max_nines(bad):
    with pytest.raises(ConfigError, match="max_nines"):
        plot_percentile_spectrum(lognormal(5_000), ax=fresh_ax(), max_nines=bad)


def test_cdf_y_is_the_cumulative_fraction_and_ends_at_one():
    h = lognormal(8_000)
    ax = plot_cdf(h, ax=fresh_ax())
    y = ax.get_lines()[0].get_ydata()
    np.testing.assert_array_equal(y[1:], h.cdf()[1])
    assert y[0] == 0 and y[-1] == 1.0
    assert ax.get_ylabel() == "cumulative fraction"


def test_histogram_bins_are_log_spaced_and_keep_every_count():
    h = lognormal(20_000, n=10_000)
    ax = plot_latency_histogram(h, ax=fresh_ax(), unit="ns", bins_per_decade=20)
    x, y = ax.get_lines()[0].get_xdata(), ax.get_lines()[0].get_ydata()
    edges = x[1:]
    np.testing.assert_allclose(np.diff(np.log10(edges)), 1 / 20)
    assert y.sum() == h.count
    assert y[0] == 0 and y[-1] == 0


def test_histogram_density_sums_to_one():
    ax = plot_latency_histogram(lognormal(20_000), ax=fresh_ax(), density=True)
    assert ax.get_lines()[0].get_ydata().sum() == pytest.approx(1.0)
    assert ax.get_ylabel() == "fraction of samples"


def test_histogram_counts_a_zero_ns_sample_in_the_lowest_bin():
    h = LatencyHistogram()
    h.record_many([0, 1, 5])
    ax = plot_latency_histogram(h, ax=fresh_ax(), unit="ns")
    x, y = ax.get_lines()[0].get_xdata(), ax.get_lines()[0].get_ydata()
    assert x.min() == 1.0
    assert y.sum() == 3


def test_sweep_draws_latency_on_log_y_and_throughput_on_a_twin_axis():
    ax = plot_sweep(
        [1, 2, 4, 8],
        throughput=[1e5, 2e5, 3.5e5, 4e5],
        latency={"p50": [1e3, 1.2e3, 2e3, 5e3], "p99": [5e3, 8e3, 2e4, 1e5]},
        ax=fresh_ax(),
        xlabel="workers",
        log_x=True,
        unit="us",
    )
    fig_axes = ax.figure.axes
    assert len(fig_axes) == 2 and fig_axes[0] is ax
    twin = fig_axes[1]
    assert ax.get_yscale() == "log" and ax.get_xscale() == "log"
    assert ax.get_ylabel() == "latency (µs)" and ax.get_xlabel() == "workers"
    assert twin.get_ylabel() == "throughput (events/s)"
    assert [line.get_label() for line in ax.get_lines()] == ["p50", "p99"]
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [5, 8, 20, 100])
    np.testing.assert_allclose(twin.get_lines()[0].get_ydata(), [1e5, 2e5, 3.5e5, 4e5])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["p50", "p99", "throughput"]


def test_sweep_with_throughput_only_uses_the_primary_axis():
    ax = plot_sweep([1, 2, 3], throughput=[10, 20, 25], ax=fresh_ax())
    assert len(ax.figure.axes) == 1
    assert ax.get_ylabel() == "throughput (events/s)"


def test_sweep_rejects_missing_or_mismatched_series():
    with pytest.raises(ConfigError, match="needs throughput= or latency="):
        plot_sweep([1, 2])
    with pytest.raises(ConfigError, match=r"latency\['p99'\] must have one value per x \(2\)"):
        plot_sweep([1, 2], latency={"p99": [1, 2, 3]}, ax=fresh_ax())
    with pytest.raises(ConfigError, match="latency must be a non-empty mapping"):
        plot_sweep([1, 2], latency=[1, 2], ax=fresh_ax())


def test_samples_plot_time_since_start_against_latency():
    t = np.array([5_000_000, 6_000_000, 8_000_000])
    ax = plot_samples(t, [1_000, 90_000, 2_000], ax=fresh_ax(), unit="us")
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), [0, 1, 3])
    np.testing.assert_allclose(line.get_ydata(), [1, 90, 2])
    assert ax.get_xlabel() == "time since start (ms)"
    assert line.get_linestyle() == "None"  # markers only: a line would hide a stall


def test_samples_rejects_mismatched_lengths_and_handles_none():
    with pytest.raises(ConfigError, match="values_ns must have one value per x"):
        plot_samples([1, 2, 3], [1, 2], ax=fresh_ax())
    ax = plot_samples([], [], ax=fresh_ax())
    assert ax.get_lines() == [] and ax.texts


def test_latency_panel_has_three_panels_and_one_legend():
    fig = latency_panel({"a": lognormal(5_000), "b": lognormal(9_000)}, title="run")
    assert [ax.get_title() for ax in fig.axes] == ["distribution", "percentile spectrum", "CDF"]
    assert fig.get_suptitle() == "run"
    assert [ax.get_legend() is not None for ax in fig.axes] == [True, False, False]
    assert all(len(ax.get_lines()) == 2 for ax in fig.axes)


def test_latency_panel_redraws_into_a_given_figure():
    fig = Figure()
    fig.add_subplot().plot([1, 2])
    before = plt.get_fignums()
    assert latency_panel(lognormal(5_000), fig=fig) is fig
    assert len(fig.axes) == 3
    assert plt.get_fignums() == before


def test_plots_without_ax_make_a_new_figure():
    ax = plot_cdf(lognormal(5_000))
    assert ax.figure.number in plt.get_fignums()


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0 ns"),
        (950, "950 ns"),
        (12.5, "12.5 ns"),
        (999.4, "999 ns"),
        (999.6, "1.00 µs"),
        (1_500, "1.50 µs"),
        (999_994, "999.99 µs"),
        (2_500_000, "2.50 ms"),
        (3_000_000_000, "3.00 s"),
        (-1_500, "-1.50 µs"),
        (np.int64(42), "42 ns"),
    ],
)
def test_format_ns(ns, text):
    assert format_ns(ns) == text


def test_format_ns_rejects_non_numbers():
    with pytest.raises(ConfigError, match="value_ns must be a number"):
        format_ns("12")
    with pytest.raises(ConfigError, match="value_ns must be a number"):
        format_ns(True)
