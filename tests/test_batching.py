"""GroupWriter: items handed over while a batch is written are written together, next."""

from __future__ import annotations

import threading
import time

import pytest

from feedwatch.batching import GroupWriter


class Recorder:
    """A write that notes each batch; the first one waits until `release` is set."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on

    def __call__(self, items):
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.started.set()
            self.release.wait(5)
        if self.fail_on in items:
            raise ValueError(f"cannot write {self.fail_on}")
        return [item.upper() for item in items]


def hand_over(writer, items, results):
    """Each item from a thread of its own; results[item] is what it got (or raised)."""

    def one(item):
        try:
            results[item] = writer.write(item)
        except ValueError as exc:
            results[item] = exc

    threads = [threading.Thread(target=one, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return threads


def queued(writer, count):
    """Wait until `count` items wait behind the batch being written (on a loaded machine a
    thread may take a while to get there)."""
    deadline = time.monotonic() + 5
    while len(writer._queue) < count:
        assert time.monotonic() < deadline, "the threads never queued"
        time.sleep(0.01)


def test_a_lone_item_is_written_at_once_and_gets_its_result():
    write = Recorder()
    write.release.set()
    assert GroupWriter(write).write("a") == "A"
    assert write.batches == [["a"]]


def test_items_handed_over_during_a_write_go_together_in_the_next_batch():
    write = Recorder()
    writer = GroupWriter(write)
    results: dict[str, object] = {}
    first = hand_over(writer, ["a"], results)
    assert write.started.wait(5)
    others = hand_over(writer, ["b", "c", "d"], results)
    queued(writer, 3)  # all three behind the write of "a"
    write.release.set()
    for thread in first + others:
        thread.join(5)
    assert write.batches[0] == ["a"]
    assert sorted(write.batches[1]) == ["b", "c", "d"]
    assert results == {"a": "A", "b": "B", "c": "C", "d": "D"}


def test_take_bounds_a_batch_and_the_rest_follow():
    write = Recorder()
    writer = GroupWriter(write, take=lambda queue: min(len(queue), 2))
    results: dict[str, object] = {}
    first = hand_over(writer, ["a"], results)
    assert write.started.wait(5)
    others = hand_over(writer, ["b", "c", "d", "e"], results)
    queued(writer, 4)
    write.release.set()
    for thread in first + others:
        thread.join(5)
    assert [len(batch) for batch in write.batches] == [1, 2, 2]
    assert sorted(item for batch in write.batches for item in batch) == list("abcde")
    assert len(results) == 5


def test_a_batch_that_fails_is_written_again_an_item_at_a_time_and_only_the_bad_one_fails():
    write = Recorder(fail_on="c")
    writer = GroupWriter(write, take=lambda queue: min(len(queue), 2))
    results: dict[str, object] = {}
    first = hand_over(writer, ["a"], results)
    assert write.started.wait(5)
    others = hand_over(writer, ["b", "c"], results)
    queued(writer, 2)
    write.release.set()
    for thread in first + others:
        thread.join(5)
    assert results["a"] == "A" and results["b"] == "B"
    assert isinstance(results["c"], ValueError)
    assert write.batches[1:] in ([["b", "c"], ["b"], ["c"]], [["c", "b"], ["c"], ["b"]])
    assert writer.write("d") == "D"  # the writer goes on


def test_a_take_that_raises_leaves_the_writer_usable():
    write = Recorder()
    write.release.set()
    calls = []

    def take(queue):
        calls.append(len(queue))
        if len(calls) == 1:
            raise ValueError("bad take")
        return len(queue)

    writer = GroupWriter(write, take=take)
    with pytest.raises(ValueError, match="bad take"):
        writer.write("a")
    assert writer.write("b") == "B"
