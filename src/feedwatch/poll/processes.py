"""Feed bodies read (poll/reading.py) on every core, in worker processes.

feedparser holds the GIL for the whole of a document, so polling threads parse one at a
time and a cold cycle over hundreds of feeds is bound by one core. A body goes to a worker
process when it is long, or when another body is being read already (a burst of polls, where
the polling threads would queue for the GIL); a short one at a quiet moment, which costs less
to read than to send there and back, is read in the calling thread, as is every body on a
machine with one core. The first worker starts with the first body sent, so a cycle of 304s
never pays for it, and another whenever every worker has reads waiting behind the one it is
on, up to one per core.

Each worker has a pipe of its own. The polling thread pickles its read into the pipe of the
worker with the fewest reads outstanding, and a thread per worker hands each answer to the
read waiting for it. Reads queue in the pipe, so a worker goes from one document to the next
without waiting for this process, whose threads may all be busy, to give it work: a pool
with a shallow queue (concurrent.futures keeps one read ahead per process) leaves the
workers idle for as long as the GIL takes to come round. A cold cycle of bench/poll.py's
short feeds takes about a quarter less time this way than read in the threads, for 10-25%
more CPU in all.

A worker that dies (killed, out of memory) costs only the documents it held, which are read
in the calling threads instead; the next read sent starts a new one. Workers left unused for
IDLE_STOP seconds are stopped (Readers.stop_if_idle, which the daemon calls at each tick), so
a daemon between bursts does not keep their memory. Workers ignore SIGINT and SIGTERM, which
a terminal or a service manager sends the whole process group: the daemon decides when they
stop, by close(), or they end when their pipe does, at its death.
"""

from __future__ import annotations

import functools
import itertools
import logging
import multiprocessing.util
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from datetime import datetime
from typing import TYPE_CHECKING

from feedwatch import logs
from feedwatch.errors import AbandonedError, ParseError
from feedwatch.poll import reading
from feedwatch.poll.reading import Reading

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import SpawnContext, SpawnProcess

log = logging.getLogger(__name__)

_DIED = "a process reading feeds ended unexpectedly"

# From this size a body is always read in a worker: bench/poll.py's 100 KB feeds poll 2.5x as
# fast that way. A shorter one is read here unless a read is under way already.
SMALL_BODY = 16 * 1024

# Another worker is started, up to `processes`, when every one has this many reads waiting
# (the one it is on and one behind it): reads that come one at a time keep one worker.
QUEUED = 2

# Workers unused this long are stopped: 29 MB each, against about half a second of CPU to
# start one again when the next burst comes.
IDLE_STOP = 300.0


def sent_to_worker(size: int, busy: bool) -> bool:
    """Whether a body of `size` bytes is read in a worker (when there are workers), `busy`
    saying whether another read is under way already."""
    return busy or size >= SMALL_BODY


class _Ended(Exception):
    """The worker died, or was stopped, before answering."""


def _usable_cores() -> int:
    """How many cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


class _Worker:
    """One worker process, the pipe reads go to it through and the one answers come back by."""

    def __init__(self, context: SpawnContext) -> None:
        # A pipe each way, not one duplex: closing its end of the reads' pipe is how the
        # worker is told to stop, while a thread here still waits on the answers' pipe.
        reads, self._reads = context.Pipe(duplex=False)
        try:
            self._answers, answers = context.Pipe(duplex=False)
        except BaseException:
            reads.close()
            self._reads.close()
            raise
        self.process: SpawnProcess = context.Process(
            target=_serve, args=(reads, answers), name="feedwatch-reader", daemon=True
        )
        try:
            self.process.start()
        except BaseException:
            self._reads.close()
            self._answers.close()
            raise
        finally:
            reads.close()
            answers.close()
        # At exit, multiprocessing signals its children (SIGTERM, which they ignore) and
        # joins them without a timeout: a process that never called close() would wait for
        # ever. Its finalizers of priority 0 and up run before that, whatever the order of
        # atexit hooks: this one ends the worker's pipe, so the worker ends by itself.
        self._close_reads = multiprocessing.util.Finalize(self, self._reads.close, exitpriority=0)
        # Two locks: a thread blocked sending into a full pipe must not keep the answers,
        # which the worker has to send before it reads more, from being taken.
        self._sending = threading.Lock()
        self._lock = threading.Lock()  # _waiting, _ended and _stopped
        self._waiting: dict[int, Future[Reading]] = {}
        self._numbers = itertools.count()
        self._ended = False  # it answers no more reads
        self._stopped = False  # by stop(): its end was not unexpected
        receiver = threading.Thread(
            target=self._receive, name=f"reader-{self.process.pid}", daemon=True
        )
        try:
            receiver.start()
        except BaseException:  # no thread can be started: nor can this worker be used
            self._close_reads()
            self.process.kill()
            self.process.join()
            self._answers.close()
            raise

    @property
    def outstanding(self) -> int:
        return len(self._waiting)

    @property
    def died(self) -> bool:
        """Whether it ended without being stopped (killed, out of memory)."""
        return self._ended and not self._stopped

    def submit(self, call: Callable[[], Reading]) -> Future[Reading]:
        """Send `call` to the worker. The future, or this call, raises _Ended if the worker
        dies or is stopped before it answers."""
        future: Future[Reading] = Future()
        with self._lock:
            if self._ended:
                raise _Ended
            number = next(self._numbers)
            self._waiting[number] = future
        try:
            with self._sending:
                self._reads.send((number, call))
        except OSError:
            pass  # it has died, or stop() came: the future is failed by whichever noticed
        except BaseException:  # not sent (a call that does not pickle): no answer will come
            with self._lock:
                self._waiting.pop(number, None)
            raise
        return future

    def stop(self, *, wait: float) -> None:
        """Stop the worker, once, whichever threads ask: reads still waiting end in _Ended,
        and it is killed at once if it had any (their answers would go nowhere, and a
        thread may be blocked sending it more), else after `wait` seconds of not ending by
        itself (it does when its reads' pipe closes)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = self._ended = True
            waiting = bool(self._waiting)
        self._fail()
        if waiting:
            self.process.kill()
        with self._sending:
            self._close_reads()
        self.process.join(wait)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()

    def _receive(self) -> None:
        while True:
            try:
                number, ok, pickled = self._answers.recv()
            except (EOFError, OSError):  # the worker has ended
                break
            with self._lock:
                future = self._waiting.pop(number, None)
            if future is None:  # failed by stop() already
                continue
            try:
                value = pickle.loads(pickled)
            except Exception as exc:  # a bug, but one feed's: this thread goes on
                ok, value = False, _unreadable(exc)
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        with self._lock:
            self._ended = True
        self._answers.close()
        self._fail()

    def _fail(self) -> None:
        with self._lock:
            futures = list(self._waiting.values())
            self._waiting.clear()
        for future in futures:
            future.set_exception(_Ended())


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
        self._workers: list[_Worker] = []
        self._closed = False
        self._reading = 0  # reads under way, here or in a worker
        self._last_used = clock()  # when a read in a worker last ended

    def read(
        self,
        content: bytes,
        headers: Mapping[str, str],
        url: str,
        *,
        max_entries: int,
        now: datetime,
    ) -> Reading:
        """reading.read, in a worker process when that gains (see the module's docstring).

        Raises ParseError as reading.read does, and AbandonedError once close() is called.
        """
        here = functools.partial(
            reading.read, content, dict(headers), url, max_entries=max_entries, now=now
        )
        with self._lock:
            busy = self._reading > 0
            self._reading += 1
        worker = None
        try:
            worker = self._worker(url) if sent_to_worker(len(content), busy) else None
            if worker is None:
                return here()
            return self._in(worker, url, here)
        finally:
            with self._lock:
                self._reading -= 1
                if worker is not None:
                    self._last_used = self._clock()

    def stop_if_idle(self) -> bool:
        """Stop the workers if no read has used them for idle_stop seconds; whether it did."""
        with self._lock:
            idle = self._clock() - self._last_used >= self.idle_stop
            if not self._workers or self._reading or not idle:
                return False
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop(wait=5)
        log.debug("stopped the processes reading feeds: unused for %.0f s", self.idle_stop)
        return True

    def close(self) -> None:
        """Stop the workers; reads waiting for one end in AbandonedError."""
        with self._lock:
            self._closed = True
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop(wait=1)

    def _worker(self, url: str) -> _Worker | None:
        """The worker with the fewest reads outstanding, or a new one when every worker has
        QUEUED (see there); None when reads are not sent to workers."""
        with self._lock:
            if self.processes < 1 or self._closed:
                return None
            died: list[_Worker] = []
            live: list[_Worker] = []
            for worker in self._workers:
                (died if worker.died else live).append(worker)
            self._workers = live
            refused = None
            chosen = min(live, key=lambda worker: worker.outstanding) if live else None
            if len(live) < self.processes and (chosen is None or chosen.outstanding >= QUEUED):
                # Spawned, not forked: the polling threads may hold locks at the moment of a
                # fork, and a forked child would inherit them held.
                try:
                    chosen = _Worker(multiprocessing.get_context("spawn"))
                    self._workers.append(chosen)
                # No process or thread can be started (a limit on them, memory): the
                # workers there are go on, and no more are tried.
                except (OSError, RuntimeError) as exc:
                    self.processes, refused = len(live), exc
        for worker in died:
            log.warning("%s (pid %s)", _DIED, worker.process.pid)
            worker.stop(wait=1)
        if refused is not None:
            if self.processes:
                why = f"no more processes to read feeds can be started ({refused})"
                log.warning("%s: %s: reading in the %d there are", url, why, self.processes)
            else:
                why = f"no process to read feeds can be started ({refused})"
                log.warning("%s: %s: read here from now on", url, why)
        return chosen

    def _in(self, worker: _Worker, url: str, here: Callable[[], Reading]) -> Reading:
        """Read in `worker`, or here when it has died."""
        try:
            return worker.submit(here).result()
        except _Ended:
            if self._closed:
                raise AbandonedError(url) from None
            log.warning("%s: %s; read here instead", url, _DIED)
            return here()


def _serve(reads: Connection, answers: Connection) -> None:
    """A worker's life: answer each read that comes through `reads`, until that pipe ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        try:
            number, call = reads.recv()
        except (EOFError, OSError):  # closed by the daemon, or by its death
            return
        try:
            ok, value = True, call()
        except Exception as exc:
            ok, value = False, exc
        # Pickled apart from its number, so that an answer that cannot make the trip, either
        # way, fails its own read and nothing else.
        try:
            pickled = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            ok, pickled = False, pickle.dumps(_unreadable(exc))
        try:
            answers.send((number, ok, pickled))
        except OSError:
            return


def _unreadable(exc: Exception) -> ParseError:
    """The error of a read whose answer could not be sent back: a bug, but one feed's."""
    return ParseError(f"unreadable ({logs.described(exc)})")
