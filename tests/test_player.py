import io
import threading
import time

import numpy as np
import pytest

from edgevc.playback.player import play
from edgevc.playback.sinks import RawSink


class ListSink:
    def __init__(self, block_size=100, delay=0.0, interrupt_after=None):
        self.sample_rate = 16000
        self.block_size = block_size
        self.delay = delay
        self.interrupt_after = interrupt_after
        self.chunks = []
        self.closed_ok = None
        self.underruns = 0

    def write(self, x):
        if self.interrupt_after is not None and len(self.chunks) >= self.interrupt_after:
            raise KeyboardInterrupt
        if self.delay:
            time.sleep(self.delay)
        self.chunks.append(np.array(x))

    def close(self, ok=True):
        if self.closed_ok is None:
            self.closed_ok = ok


def chunks_of(data, size):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def test_plays_everything_in_order_within_buffer():
    data = np.arange(20000, dtype=np.float32)
    sink = ListSink(block_size=256, delay=0.0005)
    stats = play(chunks_of(data, 3000), sink, buffer_samples=4000)
    got = np.concatenate(sink.chunks)
    assert np.array_equal(got, data)
    assert all(c.size <= 256 for c in sink.chunks)
    assert stats.samples_played == 20000
    assert stats.peak_buffer_fill <= 4000 == stats.buffer_capacity
    assert stats.first_audio_latency_s is not None and 0 <= stats.first_audio_latency_s < 2
    assert stats.underruns == 0
    assert sink.closed_ok is None  # left open for the caller


def test_underruns_come_from_the_sink():
    class Counting(ListSink):
        def write(self, x):
            super().write(x)
            self.underruns += 1

    sink = Counting()
    sink.underruns = 5  # earlier utterances do not count
    stats = play(chunks_of(np.zeros(300, np.float32), 100), sink, 1000)
    assert stats.underruns == 3


def test_producer_error_is_reraised_in_caller():
    def bad():
        yield np.zeros(10, np.float32)
        raise ValueError("vocoder exploded")

    with pytest.raises(ValueError, match="vocoder exploded"):
        play(bad(), ListSink(), 100)


def test_keyboard_interrupt_aborts_sink_and_stops_producer():
    produced = []
    closed = threading.Event()

    def endless():
        try:
            while True:
                produced.append(1)
                yield np.zeros(500, np.float32)
        finally:
            closed.set()

    sink = ListSink(block_size=100, interrupt_after=3)
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        play(endless(), sink, buffer_samples=1000)
    assert time.perf_counter() - t0 < 2
    assert sink.closed_ok is False
    assert closed.wait(1)  # the generator was closed in the producer thread
    assert not any(t.name == "edgevc-synth" for t in threading.enumerate())
    assert len(produced) < 10  # bounded by the ring buffer, not run away


def test_empty_input():
    stats = play(iter([]), ListSink(), 100)
    assert stats.samples_played == 0 and stats.first_audio_latency_s is None


def test_broken_pipe_stops_synthesis():
    class Broken(io.RawIOBase):
        def writable(self):
            return True

        def write(self, b):
            raise BrokenPipeError

    count = []

    def endless():
        while True:
            count.append(1)
            yield np.zeros(100, np.float32)

    stats = play(endless(), RawSink(Broken()), 500)
    assert stats.samples_played > 0
    assert len(count) < 50
