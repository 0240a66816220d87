import threading
import time

import numpy as np
import pytest

from edgevc.playback.ringbuffer import BufferCancelled, RingBuffer


def test_order_preserved_and_capacity_respected_with_fast_producer():
    rb = RingBuffer(100)
    data = np.arange(5000, dtype=np.float32)
    fills = []

    def produce():
        for i in range(0, len(data), 37):  # odd chunk size: forces wrap-around
            rb.write(data[i:i + 37])
            fills.append(rb.fill)
        rb.finish()

    t = threading.Thread(target=produce)
    t.start()
    got = []
    while True:
        time.sleep(0.0005)  # slow consumer
        x = rb.read(64, timeout=5)
        if x.size == 0:
            break
        assert x.size <= 64
        got.append(x)
    t.join(5)
    assert np.array_equal(np.concatenate(got), data)
    assert rb.peak_fill <= rb.capacity == 100
    assert max(fills) <= 100
    assert rb.peak_fill == 100  # the producer really was ahead


def test_end_of_stream_after_drain():
    rb = RingBuffer(10)
    rb.write(np.ones(3, np.float32))
    rb.finish()
    assert rb.read(10).tolist() == [1, 1, 1]
    assert rb.read(10).size == 0
    assert rb.read(10).size == 0
    with pytest.raises(RuntimeError):
        rb.write(np.ones(1, np.float32))


def test_read_timeout():
    rb = RingBuffer(10)
    t = time.perf_counter()
    with pytest.raises(TimeoutError):
        rb.read(4, timeout=0.05)
    assert time.perf_counter() - t < 1.0


def test_cancel_unblocks_writer_quickly():
    rb = RingBuffer(8)
    rb.write(np.zeros(8, np.float32))
    result = {}

    def blocked_writer():
        try:
            rb.write(np.zeros(4, np.float32))
            result["outcome"] = "returned"
        except BufferCancelled:
            result["outcome"] = "cancelled"
        result["t"] = time.perf_counter()

    t = threading.Thread(target=blocked_writer)
    t.start()
    time.sleep(0.05)
    assert t.is_alive()  # really blocked on a full buffer
    t0 = time.perf_counter()
    rb.cancel()
    t.join(1)
    assert result["outcome"] == "cancelled"
    assert result["t"] - t0 < 0.1


def test_cancel_unblocks_reader():
    rb = RingBuffer(8)
    out = {}

    def reader():
        try:
            rb.read(4)
        except BufferCancelled:
            out["ok"] = True

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.05)
    rb.cancel()
    t.join(1)
    assert out.get("ok") and not t.is_alive()


def test_storage_is_preallocated():
    rb = RingBuffer(16)
    buf = rb._buf
    for _ in range(10):
        rb.write(np.ones(10, np.float32))
        rb.read(10)
    assert rb._buf is buf and buf.size == 16


def test_bad_capacity():
    with pytest.raises(ValueError):
        RingBuffer(0)
