"""Feed bodies read (poll/reading.py) on every core, in a pool of worker processes.

feedparser holds the GIL for the whole of a document, so polling threads parse one at a
time and a cold cycle over hundreds of long feeds is bound by one core. A large body goes to
a worker process instead; a small one, which costs less to read than to send there and back,
is read in the calling thread, as is every body on a machine with one core. The pool starts
with the first large body, so a cycle of 304s never pays for it.

A worker that dies (killed, out of memory) costs only its document, which is read in the
calling thread instead; the next large body starts a new pool. A pool left unused for
IDLE_STOP seconds is stopped (Readers.stop_if_idle, which the daemon calls at each tick), so
a daemon between bursts of long feeds does not keep their memory. Workers ignore SIGINT and
SIGTERM, which a terminal or a service manager sends the whole process group: the daemon
decides when they stop, by close(), or they end within a second of its death.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import BrokenExecutor, CancelledError
from datetime import datetime
from typing import TYPE_CHECKING

from feedwatch.errors import AbandonedError
from feedwatch.poll import reading
from feedwatch.poll.reading import Reading

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger(__name__)

_ENDED = "a process reading feeds ended unexpectedly; read here instead"

# Below this a body is read in the calling thread: sent to workers, bench/poll.py's simple
# feeds (5 KB) cost 18% more CPU in all and polled no faster; its 100 KB ones poll 2.5x as fast.
SMALL_BODY = 16 * 1024

# A pool unused this long is stopped: 29 MB a worker, against about half a second of CPU to
# start one again when the next burst of long feeds comes.
IDLE_STOP = 300.0


def _usable_cores() -> int:
    """How many cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


class Readers:
    """Reads feed bodies in `processes` worker processes (default: one per usable core, none
    on a machine with one), safe to share between polling threads."""

    def __init__(
        self,
        processes: int | None = None,
        *,
        idle_stop: float = IDLE_STOP,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        cores = _usable_cores()
        self.processes = (cores if cores > 1 else 0) if processes is None else processes
        self.idle_stop = idle_stop
        self._clock = clock
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False
        self._in_pool = 0  # reads sent to the pool and not answered yet
        self._last_used = clock()

    def read(
        self,
        content: bytes,
        headers: Mapping[str, str],
        url: str,
        *,
        max_entries: int,
        now: datetime,
    ) -> Reading:
        """reading.read, in a worker process when the body is large enough to gain from it.

        Raises ParseError as reading.read does, and AbandonedError once close() is called.
        """
        here = functools.partial(
            reading.read, content, dict(headers), url, max_entries=max_entries, now=now
        )
        pool = self._started() if len(content) >= SMALL_BODY else None
        if pool is None:
            return here()
        try:
            return self._in(pool, url, here)
        finally:
            with self._lock:
                self._in_pool -= 1
                self._last_used = self._clock()

    def stop_if_idle(self) -> bool:
        """Stop the pool if no read has used it for idle_stop seconds; whether it was."""
        with self._lock:
            pool = self._pool
            idle = self._clock() - self._last_used >= self.idle_stop
            if pool is None or self._in_pool or not idle:
                return False
            self._pool = None
        pool.shutdown(wait=True)
        log.debug("stopped the processes reading feeds: unused for %.0f s", self.idle_stop)
        return True

    def _in(self, pool: ProcessPoolExecutor, url: str, here: Callable[[], Reading]) -> Reading:
        """Read in `pool`, or here when it cannot."""
        try:
            future = pool.submit(here)
        except BrokenExecutor:
            return self._instead(pool, url, here, _ENDED)
        except OSError as exc:  # no process can be started (a limit on processes, memory)
            self.processes = 0
            why = f"no process to read feeds can be started ({exc}): read here from now on"
            return self._instead(pool, url, here, why)
        except RuntimeError:
            if self._closed:  # submitted after close() shut the pool down
                raise AbandonedError(url) from None
            raise
        try:
            return future.result()
        except CancelledError:  # still queued when close() came
            raise AbandonedError(url) from None
        except BrokenExecutor:
            return self._instead(pool, url, here, _ENDED)

    def close(self) -> None:
        """Stop the workers; reads waiting for one end in AbandonedError."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _started(self) -> ProcessPoolExecutor | None:
        """The pool, started if need be, counting the read about to use it (_in_pool)."""
        if self.processes < 1:
            return None
        with self._lock:
            if self._closed:
                return None
            if self._pool is None:
                # Imported here: a warm cycle, and a one-core machine, never need them.
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                # Spawned, not forked: the polling threads may hold locks at the moment of a
                # fork, and a forked child would inherit them held.
                self._pool = ProcessPoolExecutor(
                    self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(os.getpid(),),
                )
            self._in_pool += 1
            return self._pool

    def _instead(
        self, broken: ProcessPoolExecutor, url: str, here: Callable[[], Reading], why: str
    ) -> Reading:
        """Read in this thread what the pool could not, and let the pool go."""
        if self._closed:
            raise AbandonedError(url)
        log.warning("%s: %s", url, why)
        with self._lock:
            if self._pool is broken:
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)
        return here()


def _start_worker(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_end_with, args=(parent,), daemon=True).start()


def _end_with(parent: int) -> None:
    """End this worker once the process that started it is gone: killed with -9, that
    process closes nothing, and the worker's own end of its queue keeps it waiting forever."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)
