"""Stream synthesized chunks to a sink through a bounded ring buffer.

A producer thread runs the synthesizer (the chunk iterator) and fills the buffer; the
calling thread drains it into the sink. Keeping the sink in the calling thread means
Ctrl-C (KeyboardInterrupt, which Python delivers to the main thread) stops playback at
once instead of landing inside the synthesizer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from edgevc.playback.ringbuffer import BufferCancelled, RingBuffer

log = logging.getLogger(__name__)

# How often the main thread wakes while waiting for audio, so it notices a broken sink
# and stays responsive to signals on platforms where a blocking lock wait is not.
_POLL_S = 0.1
# How long an aborted play() waits for the producer to let go of the synthesizer.
_JOIN_S = 5.0
_SIGNAL_JOIN_S = 0.02


@dataclass(frozen=True)
class PlaybackStats:
    samples_played: int
    sample_rate: int
    first_audio_latency_s: float | None  # call -> first sink write; None if nothing played
    elapsed_s: float
    peak_buffer_fill: int  # samples
    buffer_capacity: int  # samples
    underruns: int  # from the sink (PyAudio); 0 for sinks that cannot underrun

    @property
    def audio_seconds(self) -> float:
        return self.samples_played / self.sample_rate if self.sample_rate else 0.0


def play(chunks: Iterable[np.ndarray], sink, buffer_samples: int) -> PlaybackStats:
    """Play every chunk from `chunks` into `sink`, buffering at most `buffer_samples`.

    The sink is left open on success so one device stream can serve many utterances; the
    caller closes it (normally with `with sink:`). If the calling thread is interrupted
    (KeyboardInterrupt) or the sink fails, the buffer is cancelled, the sink is aborted
    (close(ok=False), no draining), the producer is joined and the exception re-raised.
    An exception in the producer is re-raised here; the sink is then left to the caller.
    """
    t0 = time.perf_counter()
    rb = RingBuffer(buffer_samples)
    errors: list[BaseException] = []
    under0 = int(getattr(sink, "underruns", 0) or 0)

    def produce() -> None:
        it = iter(chunks)
        try:
            for chunk in it:
                rb.write(chunk)
        except BufferCancelled:
            pass  # the consumer is aborting; just stop
        except BaseException as e:  # handed to the main thread
            errors.append(e)
            rb.cancel()
            return
        finally:
            close = getattr(it, "close", None)
            if close is not None:  # let a generator run its cleanup in this thread
                try:
                    close()
                except Exception as e:  # pragma: no cover - cleanup failure is secondary
                    log.debug("closing the chunk iterator failed: %s", e)
        rb.finish()

    producer = threading.Thread(target=produce, name="edgevc-synth", daemon=True)
    block = max(1, int(getattr(sink, "block_size", 1024)))
    played = 0
    first_write: float | None = None
    producer.start()
    try:
        while True:
            try:
                samples = rb.read(block, timeout=_POLL_S)
            except TimeoutError:
                if getattr(sink, "broken", False):
                    break
                continue
            except BufferCancelled:
                break  # the producer failed; its error is raised below
            if samples.size == 0:
                break  # end of stream
            if first_write is None:
                first_write = time.perf_counter()
            sink.write(samples)
            played += samples.size
            if getattr(sink, "broken", False):
                log.debug("sink closed by its reader; stopping synthesis")
                break
    except BaseException as e:
        rb.cancel()
        try:
            sink.close(ok=False)
        finally:
            # Ctrl-C / SIGTERM end the process: do not wait out a producer busy inside a
            # long normalization or inference call (a daemon, it dies with the process).
            _join(producer, _JOIN_S if isinstance(e, Exception) else _SIGNAL_JOIN_S)
        raise
    rb.cancel()  # wakes a producer still writing after a broken sink
    _join(producer)
    if errors:
        raise errors[0]
    return PlaybackStats(
        samples_played=played,
        sample_rate=int(getattr(sink, "sample_rate", 0) or 0),
        first_audio_latency_s=None if first_write is None else first_write - t0,
        elapsed_s=time.perf_counter() - t0,
        peak_buffer_fill=rb.peak_fill,
        buffer_capacity=rb.capacity,
        underruns=int(getattr(sink, "underruns", 0) or 0) - under0,
    )


def _join(producer: threading.Thread, timeout: float = _JOIN_S) -> None:
    producer.join(timeout)
    if producer.is_alive():
        # It is inside one long inference call; as a daemon it will not block exit.
        log.debug("synthesis thread still busy after %.2f s; not waiting", timeout)
