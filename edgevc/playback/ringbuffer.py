"""A bounded, thread-safe FIFO of float32 samples between the synthesizer and the sink.

One numpy array is allocated up front and reused as a circular buffer, so memory stays at
`capacity` samples however long the text is; a producer that is ahead simply waits.
"""

from __future__ import annotations

import threading

import numpy as np


class BufferCancelled(RuntimeError):
    """Raised in a reader or writer after cancel(): playback is being aborted."""


class RingBuffer:
    """Single-producer / single-consumer sample FIFO with blocking write and read."""

    def __init__(self, capacity: int):
        if int(capacity) < 1:
            raise ValueError(f"ring buffer capacity must be >= 1, got {capacity}")
        self._buf = np.zeros(int(capacity), dtype=np.float32)
        self._cap = int(capacity)
        self._head = 0  # index of the oldest sample
        self._size = 0
        self._peak = 0
        self._finished = False
        self._cancelled = False
        self._cond = threading.Condition()

    @property
    def capacity(self) -> int:
        return self._cap

    @property
    def peak_fill(self) -> int:
        """Most samples ever held at once."""
        return self._peak

    @property
    def fill(self) -> int:
        return self._size

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def write(self, samples: np.ndarray) -> None:
        """Append samples, blocking while the buffer is full; writes in pieces as space frees.

        Raises BufferCancelled after cancel(), RuntimeError after finish().
        """
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        pos = 0
        while pos < x.shape[0]:
            with self._cond:
                while self._size == self._cap and not self._cancelled:
                    self._cond.wait()
                if self._cancelled:
                    raise BufferCancelled("ring buffer cancelled")
                if self._finished:
                    raise RuntimeError("write to a finished ring buffer")
                k = min(self._cap - self._size, x.shape[0] - pos)
                tail = (self._head + self._size) % self._cap
                first = min(k, self._cap - tail)
                self._buf[tail:tail + first] = x[pos:pos + first]
                self._buf[:k - first] = x[pos + first:pos + k]
                self._size += k
                self._peak = max(self._peak, self._size)
                pos += k
                self._cond.notify_all()

    def read(self, n: int, timeout: float | None = None) -> np.ndarray:
        """Take up to n samples (a new array), oldest first.

        Blocks until at least one sample is there or the producer has finished. Returns an
        empty array at end of stream. Raises TimeoutError if `timeout` seconds pass with
        nothing to read, BufferCancelled after cancel().
        """
        if n < 1:
            raise ValueError(f"read size must be >= 1, got {n}")
        with self._cond:
            ready = self._cond.wait_for(
                lambda: self._size > 0 or self._finished or self._cancelled, timeout)
            if self._cancelled:
                raise BufferCancelled("ring buffer cancelled")
            if not ready:
                raise TimeoutError(f"no samples within {timeout} s")
            k = min(n, self._size)
            out = np.empty(k, dtype=np.float32)
            first = min(k, self._cap - self._head)
            out[:first] = self._buf[self._head:self._head + first]
            out[first:] = self._buf[:k - first]
            self._head = (self._head + k) % self._cap
            self._size -= k
            self._cond.notify_all()
            return out

    def finish(self) -> None:
        """Producer side: no more data. Readers drain what is left, then get end of stream."""
        with self._cond:
            self._finished = True
            self._cond.notify_all()

    def cancel(self) -> None:
        """Abort: wake every waiting reader and writer; they raise BufferCancelled."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()
