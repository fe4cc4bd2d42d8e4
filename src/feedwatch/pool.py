"""Bounded concurrency for polls: so many tasks at once overall, and so many per host.

A task whose host is busy waits in the queue while tasks for other hosts go ahead, so one slow
site never holds up the rest. Workers are daemon threads: a process told to stop can leave
after a grace period even when a request hangs, and nothing half-done is committed because
every store write is its own transaction.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from feedwatch.models import FetchResult, Validators

T = TypeVar("T")


def host_of(url: str) -> str:
    """The host a per-host limit counts against: the URL's host name, lower case."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


@dataclass(eq=False)
class _Task:
    host: str
    call: Callable[[], Any]
    future: Future[Any] = field(default_factory=Future)


class HostPool:
    """Runs submitted calls in threads: at most `concurrency` at once, `per_host` per host."""

    def __init__(self, concurrency: int, per_host: int, *, name: str = "poll") -> None:
        if concurrency < 1 or per_host < 1:
            raise ValueError("concurrency and per_host must be at least 1")
        self._concurrency = concurrency
        self._per_host = per_host
        self._name = name
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queue: deque[_Task] = deque()
        self._running: dict[str, int] = {}
        self._closed = False
        self._started = 0

    @property
    def running(self) -> int:
        with self._lock:
            return sum(self._running.values())

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._queue)

    def set_limits(self, concurrency: int, per_host: int) -> None:
        """New limits; running tasks carry on, queued ones start as the new limits allow."""
        if concurrency < 1 or per_host < 1:
            raise ValueError("concurrency and per_host must be at least 1")
        with self._lock:
            self._concurrency, self._per_host = concurrency, per_host
            self._start_ready()

    def submit(self, host: str, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue fn(*args); the future can be cancelled while it is still queued."""
        task = _Task(host, lambda: fn(*args))
        with self._lock:
            if self._closed:
                raise RuntimeError("the pool is shut down")
            self._queue.append(task)
            self._start_ready()
        return task.future

    def shutdown(self, timeout: float | None = None) -> bool:
        """Cancel what is queued, wait up to `timeout` seconds for what runs.

        True when nothing is running any more; False when tasks were still running at the
        deadline (they go on in their daemon threads until the process exits).
        """
        with self._lock:
            self._closed = True
            while self._queue:
                self._queue.popleft().future.cancel()
            return self._idle.wait_for(lambda: not self._running, timeout)

    def _start_ready(self) -> None:
        """Start every queued task the limits allow, in queue order. Caller holds the lock."""
        total = sum(self._running.values())
        waiting: deque[_Task] = deque()
        while self._queue and total < self._concurrency:
            task = self._queue.popleft()
            if task.future.cancelled():
                continue
            if self._running.get(task.host, 0) >= self._per_host:
                waiting.append(task)
                continue
            self._running[task.host] = self._running.get(task.host, 0) + 1
            total += 1
            self._started += 1
            threading.Thread(
                target=self._run, args=(task,), name=f"{self._name}-{self._started}", daemon=True
            ).start()
        waiting.extend(self._queue)
        self._queue = waiting

    def _run(self, task: _Task) -> None:
        try:
            if task.future.set_running_or_notify_cancel():
                try:
                    result = task.call()
                except BaseException as exc:  # handed to whoever waits on the future
                    task.future.set_exception(exc)
                else:
                    task.future.set_result(result)
        finally:
            with self._lock:
                self._running[task.host] -= 1
                if not self._running[task.host]:
                    del self._running[task.host]
                if not self._closed:
                    self._start_ready()
                self._idle.notify_all()


class _Fetches(Protocol):
    def fetch(self, url: str, validators: Validators | None = None) -> FetchResult: ...


class Prefetch:
    """Fetches ahead, within a HostPool's limits, what a loop will ask for in a known order.

    It stands in for the Fetcher: fetch() returns the response fetched ahead for that very
    request (or raises its error), waiting for it if need be; anything not requested ahead
    is fetched there and then. Leaving the `with` block drops what was never asked for.
    """

    def __init__(self, fetcher: _Fetches, concurrency: int, per_host: int) -> None:
        self._fetcher = fetcher
        self._pool = HostPool(concurrency, per_host, name="fetch")
        self._ahead: dict[tuple[str, Validators], deque[Future[FetchResult]]] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown()

    def request(self, url: str, validators: Validators) -> None:
        future = self._pool.submit(host_of(url), self._fetcher.fetch, url, validators)
        with self._lock:
            self._ahead.setdefault((url, validators), deque()).append(future)

    def fetch(self, url: str, validators: Validators | None = None) -> FetchResult:
        key = (url, validators or Validators())
        with self._lock:
            waiting = self._ahead.get(key)
            future = waiting.popleft() if waiting else None
        if future is None:
            return self._fetcher.fetch(url, validators)
        return future.result()
