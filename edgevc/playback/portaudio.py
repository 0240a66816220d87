"""Starting PortAudio without its native noise on stderr.

While PortAudio probes host APIs, libasound and libjack print dozens of lines ("ALSA lib
pcm.c: Unknown PCM cards.pcm.rear", "jack server is not running") straight to file
descriptor 2, bypassing Python. They describe devices that are absent, not errors of
ours, and would bury edgevc's own one-line messages. Real failures still surface: as
the exception PyAudio raises. With logging at DEBUG the noise is let through.
"""

import contextlib
import logging
import os
import sys

log = logging.getLogger(__name__)


@contextlib.contextmanager
def quiet_native_stderr():
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (embedded interpreters): nothing to hide
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def start_portaudio():
    """pyaudio.PyAudio() with host-API probing kept off stderr (ImportError if absent)."""
    import pyaudio

    with quiet_native_stderr():
        return pyaudio.PyAudio()
