"""Bounded concurrency for polls: so many tasks at once overall, and so many per host.

A task whose host is busy waits in the queue while tasks for other hosts go ahead, so one slow
site never holds up the rest. The pools only schedule: the per-host limit itself is kept by
HostSlots, which the one Fetcher of a process holds around every request, feed or page.
Workers are daemon threads: a process told to stop can leave after a grace period even when a
request hangs, and nothing half-done is committed because every store write is its own
transaction. Prefetch's reading threads are not, but a read has no network to hang on: one in
a worker process ends when the workers are stopped, one in the thread when its parse does.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit

from feedwatch.models import FetchResult, Validators

T = TypeVar("T")
R_co = TypeVar("R_co", covariant=True)


def host_of(url: str) -> str:
    """The host a per-host limit counts against: the URL's host name, lower case."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


class HostSlots:
    """At most `per_host` holders per host at once, whichever thread or pool asks."""

    def __init__(self, per_host: int | None = None) -> None:
        self._per_host = per_host
        self._changed = threading.Condition()
        self._held: Counter[str] = Counter()

    def set_limit(self, per_host: int | None) -> None:
        """A new limit (None: none); holders carry on, waiters go ahead as it allows."""
        if per_host is not None and per_host < 1:
            raise ValueError("per_host must be at least 1")
        with self._changed:
            self._per_host = per_host
            self._changed.notify_all()

    @contextmanager
    def hold(self, host: str) -> Iterator[None]:
        """One of `host`'s slots for the `with` block, waiting for one if need be."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._per_host is None or self._held[host] < self._per_host
            )
            self._held[host] += 1
        try:
            yield
        finally:
            with self._changed:
                self._held[host] -= 1
                if not self._held[host]:
                    del self._held[host]
                self._changed.notify_all()


@dataclass(eq=False)
class _Task:
    host: str
    call: Callable[[], Any]
    future: Future[Any] = field(default_factory=Future)
    holds_slot: bool = True  # until it ends, or gives its slot up early (HostPool.release)


class HostPool:
    """Runs submitted calls in threads: at most `concurrency` at once, `per_host` per host.

    A call may give its slots up before it ends (release()): from then on it counts against
    neither limit, and the next ready call starts beside it.
    """

    def __init__(self, concurrency: int, per_host: int, *, name: str = "poll") -> None:
        if concurrency < 1 or per_host < 1:
            raise ValueError("concurrency and per_host must be at least 1")
        self._concurrency = concurrency
        self._per_host = per_host
        self._name = name
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queue: deque[_Task] = deque()
        self._running: dict[str, int] = {}  # calls holding slots, per host
        self._current: dict[int, _Task] = {}  # the call each thread runs, by thread ident
        self._closed = False
        self._started = 0

    @property
    def running(self) -> int:
        with self._lock:
            return sum(self._running.values())

    @property
    def released(self) -> int:
        """Calls still running that gave their slots up (release())."""
        with self._lock:
            return self._released()

    @property
    def calls(self) -> int:
        """Calls running, whether they still hold their slots or gave them up."""
        with self._lock:
            return sum(self._running.values()) + self._released()

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

    def release(self) -> None:
        """Give up the slots of the call running in this thread, overall and on its host, and
        start what that lets start; the call goes on. Outside a call, or again, nothing."""
        with self._lock:
            task = self._current.get(threading.get_ident())
            if task is None or not task.holds_slot:
                return
            self._free(task)
            if not self._closed:
                self._start_ready()

    def shutdown(self, timeout: float | None = None) -> bool:
        """Cancel what is queued, wait up to `timeout` seconds for what runs (calls that
        gave their slots up included).

        True when nothing is running any more; False when tasks were still running at the
        deadline (they go on in their daemon threads until the process exits).
        """
        with self._lock:
            self._closed = True
            while self._queue:
                self._queue.popleft().future.cancel()
            return self._idle.wait_for(lambda: not self._running and not self._current, timeout)

    def _start_ready(self) -> None:
        """Start every queued task the limits allow, in queue order. Caller holds the lock."""
        while (task := self._next_ready()) is not None:
            self._started += 1
            threading.Thread(
                target=self._work, args=(task,), name=f"{self._name}-{self._started}", daemon=True
            ).start()

    def _next_ready(self) -> _Task | None:
        """The first queued task the limits let start now, counted as running; None when there
        is none. Drops cancelled tasks on the way. Caller holds the lock."""
        if sum(self._running.values()) >= self._concurrency:
            return None
        index = 0
        while index < len(self._queue):
            task = self._queue[index]
            if task.future.cancelled():
                del self._queue[index]
            elif self._running.get(task.host, 0) >= self._per_host:
                index += 1
            else:
                del self._queue[index]
                self._running[task.host] = self._running.get(task.host, 0) + 1
                return task
        return None

    def _work(self, task: _Task) -> None:
        # A worker goes on with the next ready task rather than end and leave it to a new
        # thread: starting a thread costs more than many a task, and waits for the new thread
        # to get the GIL. A finished task frees one slot overall and one on its host, so one
        # worker can take up whatever that lets start. It ends when nothing is ready.
        me = threading.get_ident()
        next_task: _Task | None = task
        while next_task is not None:
            with self._lock:
                self._current[me] = next_task
            self._run(next_task)
            with self._lock:
                del self._current[me]
                if next_task.holds_slot:
                    self._free(next_task)
                next_task = None if self._closed else self._next_ready()
                self._idle.notify_all()

    def _released(self) -> int:
        """Caller holds the lock."""
        return sum(not task.holds_slot for task in self._current.values())

    def _free(self, task: _Task) -> None:
        """`task`'s slots are free. Caller holds the lock."""
        task.holds_slot = False
        self._running[task.host] -= 1
        if not self._running[task.host]:
            del self._running[task.host]

    @staticmethod
    def _run(task: _Task) -> None:
        if task.future.set_running_or_notify_cancel():
            try:
                result = task.call()
            except BaseException as exc:  # handed to whoever waits on the future
                task.future.set_exception(exc)
            else:
                task.future.set_result(result)


class _Downloads(Protocol[R_co]):
    def request(self, url: str, validators: Validators | None = None) -> FetchResult: ...
    def read(self, result: FetchResult) -> R_co: ...


class Prefetch(Generic[T]):
    """Fetches ahead, within a HostPool's limits, what a loop will ask for in a known order.

    It stands in for the downloads: fetch() returns what read() made of request()'s answer to
    that very request, done ahead (or raises their error), waiting for it if need be; anything
    not requested ahead is fetched there and then. Leaving the `with` block drops what was
    never asked for. An answer with a body is read in threads of its own, outside the
    HostPool, so the request's slot goes to the next request while the answer is parsed. Up
    to `concurrency` answers are read at once; when that many are, a request with another
    waits in its slot until one is done: reading, when it is what holds the loop up, holds
    the requests up too, and at most 2 x `concurrency` bodies are held.
    """

    def __init__(self, downloads: _Downloads[T], concurrency: int, per_host: int) -> None:
        self._downloads = downloads
        self._pool = HostPool(concurrency, per_host, name="fetch")
        self._reads = ThreadPoolExecutor(concurrency, thread_name_prefix="read")
        self._unread = threading.BoundedSemaphore(concurrency)
        self._ahead: dict[tuple[str, Validators], deque[Future[Future[T]]]] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Prefetch[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._pool.shutdown()
        finally:
            self._reads.shutdown(cancel_futures=True)

    def request(self, url: str, validators: Validators) -> None:
        future = self._pool.submit(host_of(url), self._request, url, validators)
        with self._lock:
            self._ahead.setdefault((url, validators), deque()).append(future)

    def fetch(self, url: str, validators: Validators | None = None) -> T:
        key = (url, validators or Validators())
        with self._lock:
            waiting = self._ahead.get(key)
            future = waiting.popleft() if waiting else None
        if future is None:
            return self._downloads.read(self._downloads.request(url, validators))
        return future.result().result()

    def _request(self, url: str, validators: Validators) -> Future[T]:
        result = self._downloads.request(url, validators)
        if not result.not_modified:
            self._unread.acquire()
            return self._reads.submit(self._read, result)
        # Nothing to read in a 304: handing it to another thread would cost more than that.
        done: Future[T] = Future()
        done.set_result(self._downloads.read(result))
        return done

    def _read(self, result: FetchResult) -> T:
        try:
            return self._downloads.read(result)
        finally:
            self._unread.release()
