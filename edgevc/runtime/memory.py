"""Process-level memory settings for long-running speech.

glibc gives each thread that allocates its own malloc arena. The synthesis thread
(edgevc/playback/player.py) frees its chunk buffers into its arena and the main thread into
another, and each arena keeps what it has freed, so the process holds both high-water
marks. One arena holds one.
Peak RSS of `edgevc speak` over 10,000 words, 128-frame chunks, one run each of
benchmarks/speed.py's measure_peak_rss: 97.4 MiB without, 95.4 MiB with.
The threads barely contend: one synthesizes, the other only copies audio to the sink.
"""

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)
_M_ARENA_MAX = -8  # glibc malloc.h


def single_malloc_arena() -> bool:
    """Ask glibc for one malloc arena; call before starting threads. False where there is
    no glibc (musl, macOS, Windows): nothing changes there."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, 1))
    except (OSError, AttributeError) as e:
        log.debug("mallopt unavailable: %s", e)
        return False
