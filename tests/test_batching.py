"""GroupWriter: items handed over while a batch is written are written together, next."""

from __future__ import annotations

import threading
import time

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
    time.sleep(0.2)  # all three queued behind the write of "a"
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
    time.sleep(0.2)
    write.release.set()
    for thread in first + others:
        thread.join(5)
    assert [len(batch) for batch in write.batches] == [1, 2, 2]
    assert sorted(item for batch in write.batches for item in batch) == list("abcde")
    assert len(results) == 5


def test_a_failed_write_is_raised_in_each_thread_of_its_batch_and_the_next_batch_is_written():
    write = Recorder(fail_on="c")
    writer = GroupWriter(write, take=lambda queue: min(len(queue), 2))
    results: dict[str, object] = {}
    first = hand_over(writer, ["a"], results)
    assert write.started.wait(5)
    others = hand_over(writer, ["b", "c"], results)
    time.sleep(0.2)
    write.release.set()
    for thread in first + others:
        thread.join(5)
    assert isinstance(results["b"], ValueError) and isinstance(results["c"], ValueError)
    assert results["a"] == "A"
    assert writer.write("d") == "D"  # the writer goes on
