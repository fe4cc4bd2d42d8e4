"""Group commit: what several threads each hand over to be written is written together.

While one batch is being written, what the other threads hand over meanwhile queues up and
goes in the next batch: a lone item is written at once, and a burst of them (a daemon's
start, every feed due at once) in a few transactions rather than one each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupWriter(Generic[T, R]):
    """Hands each thread's item to `write` together with those of the threads that came while
    a batch was being written.

    `write` takes a batch and returns one result per item, in order; `take` says how many of
    the queue's first items make a batch (at least one). The thread that finds no batch being
    written writes the next one, its own item in it or in one it writes after; the others
    wait for theirs. A batch whose write raises is written again an item at a time, so that
    what one item raises is raised for that item alone.
    """

    def __init__(
        self,
        write: Callable[[Sequence[T]], Sequence[R]],
        take: Callable[[Sequence[T]], int] = len,
    ) -> None:
        self._write = write
        self._take = take
        self._queue: list[_Pending[T, R]] = []
        self._writing = False
        self._changed = threading.Condition()

    def write(self, item: T) -> R:
        """`item`'s result, once written; raises what writing its batch raised."""
        pending: _Pending[T, R] = _Pending(item)
        with self._changed:
            self._queue.append(pending)
            while not pending.done:
                if self._writing:
                    self._changed.wait()
                    continue
                self._writing = True
                try:
                    size = max(1, self._take([queued.item for queued in self._queue]))
                    batch = self._queue[:size]
                    del self._queue[:size]
                    self._changed.release()
                    try:
                        _write_batch(self._write, batch)
                    finally:
                        self._changed.acquire()
                finally:
                    self._writing = False
                    self._changed.notify_all()
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[return-value]


@dataclass(slots=True)
class _Pending(Generic[T, R]):
    """An item waiting in GroupWriter's queue, then what writing it gave."""

    item: T
    done: bool = False
    result: R | None = None
    error: BaseException | None = None


def _write_batch(write: Callable[[Sequence[T]], Sequence[R]], batch: list[_Pending[T, R]]) -> None:
    """Write `batch`, and mark each of its items done, whatever happens."""
    try:
        results = list(write([pending.item for pending in batch]))
        if len(results) != len(batch):
            raise RuntimeError(f"{len(results)} results written for {len(batch)} items")
    except Exception as exc:
        if len(batch) == 1:
            batch[0].error, batch[0].done = exc, True
            return
        for pending in batch:
            _write_batch(write, [pending])
        return
    except BaseException as exc:  # KeyboardInterrupt, SystemExit: every waiter learns of it
        for pending in batch:
            pending.error, pending.done = exc, True
        raise
    for pending, result in zip(batch, results, strict=True):
        pending.result, pending.done = result, True
