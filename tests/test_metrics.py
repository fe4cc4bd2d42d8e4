"""What Metrics reports about the store: problems in health(), errors counted in /metrics."""

from __future__ import annotations

from feedwatch.metrics import Metrics


def test_store_problems_are_reported_until_that_operation_works_again():
    metrics = Metrics()
    metrics.store_failed("read", "cannot read the schedule: database is locked")
    metrics.store_failed("write", "cannot record a poll: disk I/O error")
    assert metrics.health()["problems"] == [
        "cannot read the schedule: database is locked",
        "cannot record a poll: disk I/O error",
    ]
    metrics.store_ok("read")  # a read working says nothing about writes
    assert metrics.health()["problems"] == ["cannot record a poll: disk I/O error"]
    metrics.store_ok("write")
    assert metrics.health()["problems"] == []


def test_store_errors_are_counted_by_operation():
    metrics = Metrics()
    metrics.store_failed("read", "x")
    metrics.store_failed("read", "y")
    metrics.publish_failed("database: disk full", store=True)
    metrics.publish_failed("cannot write digest out/digest.xml: No space left on device")
    text = metrics.exposition()[0].decode()
    assert 'feedwatch_store_errors_total{operation="read"} 2.0' in text
    assert 'feedwatch_store_errors_total{operation="publish"} 1.0' in text
    assert "feedwatch_publish_errors_total 2.0" in text
