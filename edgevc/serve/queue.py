"""The speech queue: requests are spoken one at a time, in the order they came, by one
worker thread (synthesis gets one core; the event loop only moves bytes).

Bounded: a full queue refuses new requests (QueueFull) instead of growing. Barge-in:
`stop()` stops the job being spoken (its stop Event is set; playback drops what the sound
card holds) and drops the waiting jobs, or keeps them when asked. A priority job stops the
current one and goes to the front.

Jobs that stream audio back to a client hand their chunks to the event loop through a
ChunkChannel, which holds at most a few chunks: a client that reads slowly slows only its
own job, and one that goes away stops it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edgevc.errors import EdgevcError
from edgevc.voice import SynthesisConfig

log = logging.getLogger(__name__)

_ids = itertools.count(1)


class QueueFull(EdgevcError):
    pass


class Closed(EdgevcError):
    pass


@dataclass(frozen=True)
class End:
    """The last item of a channel: error None when the job finished, else why not."""

    error: str | None = None
    code: str | None = None


class ChunkChannel:
    """From the worker thread to one asyncio consumer; at most `max_pending` chunks wait."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_pending: int = 8,
                 stall_s: float = 30.0):
        self._loop = loop
        self._q: asyncio.Queue = asyncio.Queue()
        self._room = threading.Semaphore(max_pending)
        self._stall_s = stall_s
        self._ended = False

    def _send(self, item) -> bool:
        try:
            self._loop.call_soon_threadsafe(self._q.put_nowait, item)
            return True
        except RuntimeError:  # the loop is closed: nobody is listening any more
            return False

    def put(self, item: bytes, stop: threading.Event) -> bool:
        """Worker side: False when the job should stop (stopped, or the reader stalled)."""
        deadline = time.monotonic() + self._stall_s
        while not self._room.acquire(timeout=0.02):
            if stop.is_set():
                return False
            if time.monotonic() > deadline:
                log.warning("client stopped reading for %.0f s; stopping its job", self._stall_s)
                return False
        return not stop.is_set() and self._send(item)

    def end(self, error: str | None = None, code: str | None = None) -> None:
        """Either side; only the first call counts."""
        if not self._ended:
            self._ended = True
            self._send(End(error, code))

    async def get(self):
        """bytes, or an End."""
        item = await self._q.get()
        if not isinstance(item, End):
            self._room.release()
        return item


@dataclass(eq=False)
class Job:
    text: str
    speaker: np.ndarray | None
    config: SynthesisConfig
    voice: str
    channel: ChunkChannel | None = None  # None: play on the sound card
    id: int = field(default_factory=lambda: next(_ids))
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    state: str = "queued"  # queued | speaking | done | stopped | failed
    error: str | None = None

    @property
    def plays(self) -> bool:
        return self.channel is None


class SpeechQueue:
    """Runs `run(job)` for each submitted job in a worker thread, in order."""

    def __init__(self, run: Callable[[Job], None], max_queue: int):
        self._run = run
        self.max_queue = max_queue
        self._pending: deque[Job] = deque()
        self._current: Job | None = None
        self._cond = threading.Condition()
        self._closed = False
        self.spoken = 0
        self.failed = 0
        self._worker = threading.Thread(target=self._work, name="edgevc-serve-worker", daemon=True)
        self._worker.start()

    @property
    def current(self) -> Job | None:
        return self._current

    def __len__(self) -> int:
        return len(self._pending)

    def submit(self, job: Job, priority: bool = False, drop_queue: bool = False) -> int:
        """Queue `job`; returns how many jobs are ahead of it (0: next, or now). A priority
        job stops the current one and goes first; drop_queue also drops the waiting ones.
        QueueFull when max_queue jobs wait already (a priority job instead bumps the newest)."""
        dropped: list[Job] = []
        with self._cond:
            if self._closed:
                raise Closed("the server is shutting down")
            if priority:
                if drop_queue:
                    dropped, self._pending = list(self._pending), deque()
                elif len(self._pending) >= self.max_queue:
                    dropped.append(self._pending.pop())
                if self._current is not None:
                    self._current.stop.set()
                self._pending.appendleft(job)
                ahead = 0
            else:
                if len(self._pending) >= self.max_queue:
                    raise QueueFull(f"the speech queue is full ({self.max_queue} waiting); "
                                    "try again later")
                ahead = len(self._pending) + (self._current is not None)
                self._pending.append(job)
            self._cond.notify_all()
        for j in dropped:
            _finish(j, "stopped", "dropped from the queue by a priority request")
        return ahead

    def stop(self, drop_queue: bool = True) -> dict:
        """Barge-in: stop what is being spoken; drop the waiting jobs unless told to keep them."""
        with self._cond:
            cur = self._current
            if cur is not None:
                cur.stop.set()
            dropped = []
            if drop_queue:
                dropped, self._pending = list(self._pending), deque()
        for j in dropped:
            _finish(j, "stopped", "stopped before it was spoken")
        return {"stopped": cur is not None, "dropped": len(dropped), "kept": len(self._pending)}

    def cancel(self, job: Job) -> None:
        """The job's client went away: forget it, or stop it if it is being spoken."""
        job.stop.set()
        with self._cond:
            try:
                self._pending.remove(job)
            except ValueError:
                return
        _finish(job, "stopped", "the client went away")

    def close(self) -> None:
        with self._cond:
            self._closed = True
            if self._current is not None:
                self._current.stop.set()
            dropped, self._pending = list(self._pending), deque()
            self._cond.notify_all()
        for j in dropped:
            _finish(j, "stopped", "the server is shutting down")
        self._worker.join(5)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._current = self._pending.popleft()
                job.state = "speaking"
            try:
                self._run(job)
                _finish(job, "stopped" if job.stop.is_set() else "done", None)
                self.spoken += 1
            except Exception as e:  # one line for the client and the log; keep serving
                self.failed += 1
                msg = str(e) if isinstance(e, EdgevcError) else f"{type(e).__name__}: {e}"
                if not isinstance(e, EdgevcError):
                    log.exception("job %d failed", job.id)
                _finish(job, "failed", msg)
            finally:
                with self._cond:
                    self._current = None


def _finish(job: Job, state: str, error: str | None) -> None:
    if job.done.is_set():
        return
    job.state, job.error = state, error
    if job.channel is not None:
        code = {"stopped": "stopped", "failed": "failed"}.get(state)
        job.channel.end(error if state != "done" else None, code)
    job.done.set()
