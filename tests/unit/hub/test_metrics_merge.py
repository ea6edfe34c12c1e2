"""Metric merging across instances: counters and histograms summed and never going
backwards (resets, exits, delta temporality), gauges one series per instance."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flext_otel.hub.ingest import ReceivedMetricPoint
from flext_otel.hub.metrics import MetricMerger

CUMULATIVE, DELTA = 2, 1


def _point(kind: str = "sum", value: float = 0, **fields: Any) -> ReceivedMetricPoint:
    base = ReceivedMetricPoint(
        name="requests",
        kind=kind,  # type: ignore[arg-type]
        unit="1",
        attributes={"route": "/"},
        value=value if kind in ("sum", "gauge") else None,
        count=None,
        sum=None,
        bucket_counts=(),
        explicit_bounds=(),
        is_monotonic=True if kind == "sum" else None,
        time_ns=1,
        resource={},
        scope="app",
        temporality=CUMULATIVE if kind != "gauge" else 0,
        start_time_ns=100,
    )
    return replace(base, **fields)


def _total(merger: MetricMerger, name: str = "requests") -> list[Any]:
    data = merger.metrics_data("svc")
    return [
        point
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def test_cumulative_counters_are_summed_over_instances() -> None:
    """Two instances' cumulative counters add up; a newer point replaces the older."""
    merger = MetricMerger()
    merger.add("svc", "a", [_point(value=3)])
    merger.add("svc", "b", [_point(value=4)])
    merger.add("svc", "a", [_point(value=5)])
    assert [p.value for p in _total(merger)] == [9]


def test_a_counter_reset_never_makes_the_total_decrease() -> None:
    """A restarted aggregation (lower value, new start) keeps what was counted before."""
    merger = MetricMerger()
    merger.add("svc", "a", [_point(value=10)])
    merger.add("svc", "a", [_point(value=2, start_time_ns=200)])
    assert [p.value for p in _total(merger)] == [12]


def test_a_retired_instance_keeps_its_last_count() -> None:
    """An exited instance's last cumulative value stays in the sum; its gauge goes."""
    merger = MetricMerger()
    merger.add("svc", "a", [_point(value=7), _point("gauge", 1.5, name="temp")])
    merger.add("svc", "b", [_point(value=1)])
    merger.retire("a")
    merger.add("svc", "c", [_point(value=2)])
    assert [p.value for p in _total(merger)] == [10]
    assert _total(merger, "temp") == []


def test_stale_instances_are_folded_into_the_base() -> None:
    """retire_stale() folds instances silent for longer than the window."""
    merger = MetricMerger(retire_after_s=0)
    merger.add("svc", "a", [_point(value=7)])
    assert merger.retire_stale() == ["a"]
    assert [p.value for p in _total(merger)] == [7]


def test_delta_points_accumulate() -> None:
    """Delta temporality: every point adds to the total."""
    merger = MetricMerger()
    for value in (1, 2, 3):
        merger.add("svc", "a", [_point(value=value, temporality=DELTA)])
    merger.add("svc", "b", [_point(value=4, temporality=DELTA)])
    assert [p.value for p in _total(merger)] == [10]


def test_histograms_are_summed_bucket_by_bucket() -> None:
    """Histogram counts, sums and buckets add up over instances."""
    hist = _point(
        "histogram",
        count=3,
        sum=1.5,
        bucket_counts=(1, 2, 0),
        explicit_bounds=(0.1, 1.0),
        is_monotonic=None,
    )
    merger = MetricMerger()
    merger.add("svc", "a", [hist])
    merger.add("svc", "b", [replace(hist, count=1, sum=2.0, bucket_counts=(0, 0, 1))])
    [point] = _total(merger)
    assert (point.count, point.sum, list(point.bucket_counts)) == (4, 3.5, [1, 2, 1])


def test_gauges_keep_one_series_per_instance() -> None:
    """Gauges are not summed: each instance's own series, labelled with its ID."""
    merger = MetricMerger()
    merger.add("svc", "a", [_point("gauge", 1.0, name="temp")])
    merger.add("svc", "b", [_point("gauge", 2.0, name="temp")])
    points = _total(merger, "temp")
    assert sorted((p.attributes["service.instance.id"], p.value) for p in points) == [
        ("a", 1.0),
        ("b", 2.0),
    ]


def test_one_instance_can_be_shown_alone() -> None:
    """metrics_data(instance=...) shows that instance's own state."""
    merger = MetricMerger()
    merger.add("svc", "a", [_point(value=3)])
    merger.add("svc", "b", [_point(value=4)])
    data = merger.metrics_data("svc", "b")
    values = [
        p.value
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        for p in m.data.data_points
    ]
    assert values == [4]


def test_series_beyond_the_bound_are_refused_and_counted() -> None:
    """A cardinality bomb cannot grow the merger past max_series."""
    merger = MetricMerger(max_series=2)
    points = [_point(value=1, attributes={"i": i}) for i in range(5)]
    assert merger.add("svc", "a", points) == 3
    assert merger.series_count() == 2
    assert merger.refused == 3
