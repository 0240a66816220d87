"""A kiosk's FIFO: every line written to it is queued to be spoken on the sound card in the
default voice, as `echo "Now boarding." > /run/edgevc/say` did with `edgevc speak -`.

The FIFO is created (owner reads, group writes) when missing and opened read-write, so
the server never sees end-of-file when a writer closes. Lines over the text limit, and
lines that find the queue full, are logged and dropped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat

from edgevc.errors import EdgevcError, InputError
from edgevc.serve.service import Service, SpeakRequest

log = logging.getLogger(__name__)


def open_fifo(path: str) -> int:
    """A non-blocking read-write descriptor on the FIFO at `path`, made when missing."""
    try:
        if not os.path.exists(path):
            os.mkfifo(path, 0o620)
        elif not stat.S_ISFIFO(os.stat(path).st_mode):
            raise InputError(f"--fifo {path}: exists and is not a FIFO")
        return os.open(path, os.O_RDWR | os.O_NONBLOCK)
    except OSError as e:
        raise InputError(f"--fifo {path}: {e.strerror or e}") from None


def split_lines(buf: bytearray, data: bytes, limit: int, state: dict) -> list[bytes]:
    """Append `data` to `buf` and take out the complete lines. A line longer than `limit`
    is dropped whole (its start now, the rest up to its newline as it comes)."""
    buf += data
    lines: list[bytes] = []
    while True:
        i = buf.find(b"\n")
        if i < 0:
            if len(buf) > limit:
                if not state.get("skipping"):
                    log.warning("fifo: a line over %d bytes was dropped", limit)
                state["skipping"] = True
                del buf[:]
            return lines
        line = bytes(buf[:i])
        del buf[:i + 1]
        if state.pop("skipping", False):
            continue
        if len(line) > limit:
            log.warning("fifo: a line over %d bytes was dropped", limit)
            continue
        lines.append(line)


async def read_fifo(service: Service, fd: int) -> None:
    loop = asyncio.get_running_loop()
    limit = service.config.max_request_bytes
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                os.fdopen(fd, "rb", buffering=0))
    buf = bytearray()
    state: dict[str, bool] = {}
    try:
        while True:
            data = await reader.read(4096)
            if not data:
                return
            for raw in split_lines(buf, data, limit, state):
                text = raw.decode("utf-8", "replace").strip()
                if not text:
                    continue
                try:
                    req = SpeakRequest(text=text, config=service.defaults)
                    service.submit(service.make_job(req), req)
                except EdgevcError as e:
                    log.warning("fifo: line dropped: %s", e)
    finally:
        transport.close()
