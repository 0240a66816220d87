"""The sound card for `"play": true` requests, opened per utterance.

Outputs are tried in order: the one asked for (--device), the device profile's
`audio.device`, then the system default. When the first fails and a later one works, the
server plays there and says so in /health; when none works, play requests are refused
(503) and /health carries the error, and the next play request tries again (a USB card
plugged back in comes back without a restart).
"""

from __future__ import annotations

import logging
import threading
import time

from edgevc.errors import EdgevcError

log = logging.getLogger(__name__)


class OutputUnavailable(EdgevcError):
    pass


class AudioOutput:
    def __init__(self, sample_rate: int, frames_per_buffer: int, device: str | None,
                 profile_device: str, open_sink=None):
        """open_sink(device_name) -> sink; the default opens PyAudio (edgevc[device])."""
        self.sample_rate = sample_rate
        self.frames_per_buffer = frames_per_buffer
        names = [n for n in (device, profile_device, "") if n is not None]
        self.candidates = list(dict.fromkeys(names))  # in order, without repeats
        self._open = open_sink or self._open_pyaudio
        self._lock = threading.Lock()
        self.status: dict = {"ok": None, "device": self._label(self.candidates[0]),
                             "fallback": False, "error": None, "checked": None}

    @staticmethod
    def _label(name: str) -> str:
        return name or "default"

    def _open_pyaudio(self, name: str):
        from edgevc.playback.sinks import PyAudioSink
        from edgevc.runtime.devices import output_device_index

        return PyAudioSink(self.sample_rate, self.frames_per_buffer, output_device_index(name))

    def open(self):
        """A sink on the first output that opens; OutputUnavailable when none does."""
        errors = []
        with self._lock:
            for i, name in enumerate(self.candidates):
                try:
                    sink = self._open(name)
                except Exception as e:
                    errors.append(f"{self._label(name)}: {e}")
                    continue
                if i:
                    log.warning("audio output %s failed; playing on %s (%s)",
                                self._label(self.candidates[0]), self._label(name), errors[0])
                self._set(True, name, i > 0, "; ".join(errors) or None)
                return sink
            msg = "no audio output works (" + "; ".join(errors) + ")"
            self._set(False, self.candidates[0], False, msg)
        raise OutputUnavailable(msg)

    def _set(self, ok: bool, name: str, fallback: bool, error: str | None) -> None:
        self.status = {"ok": ok, "device": self._label(name), "fallback": fallback,
                       "error": error, "checked": round(time.time(), 3)}
