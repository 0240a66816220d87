"""Where synthesized audio goes: a WAV file, raw PCM on a stream, or a PyAudio device.

Every sink has the same small interface:
    sink.sample_rate, sink.block_size (preferred samples per write)
    sink.write(samples: float32 ndarray)
    sink.close(ok=True)  -> finish normally (drain / publish the file)
    sink.close(ok=False) -> abort (stop at once / leave no file)
    with sink: ...       -> close(ok=exception is None)
close() may be called more than once; only the first call counts.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import wave
from pathlib import Path
from typing import BinaryIO

import numpy as np

from edgevc.audio.io import _new_file_mode, float_to_pcm16, temp_path_for, write_error
from edgevc.errors import EdgevcError

log = logging.getLogger(__name__)

DEFAULT_BLOCK = 1024


class Sink:
    """Base class: context management and idempotent close."""

    sample_rate: int
    block_size: int = DEFAULT_BLOCK
    underruns: int = 0
    _closed: bool = False

    def write(self, samples: np.ndarray) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def _finish(self, ok: bool) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self, ok: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        self._finish(ok)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(ok=exc_type is None)


class WavSink(Sink):
    """Streams 16-bit mono PCM into a hidden temp file; renames it to `path` on a clean close.

    An abort removes the temp file, so a half-written WAV never appears at `path` and an
    existing file there is untouched.
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int, block_size: int = 4096):
        self.path = Path(path)
        self.sample_rate = int(sample_rate)
        self.block_size = int(block_size)
        fd, self._tmp = temp_path_for(self.path)
        self._file = os.fdopen(fd, "wb")
        try:
            self._wav = wave.open(self._file, "wb")
            self._wav.setnchannels(1)
            self._wav.setsampwidth(2)
            self._wav.setframerate(self.sample_rate)
        except BaseException:
            self._file.close()
            os.unlink(self._tmp)
            raise

    def write(self, samples: np.ndarray) -> None:
        if self._closed:
            raise EdgevcError(f"write to closed WAV sink {self.path}")
        try:
            self._wav.writeframes(float_to_pcm16(samples))
        except OSError as e:  # a full disk: one line, and the abort removes the temp file
            raise write_error(self.path, e) from None

    def _finish(self, ok: bool) -> None:
        published = False
        try:
            if ok:
                self._wav.close()  # patches the RIFF sizes in the header
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
                os.chmod(self._tmp, _new_file_mode(self.path))
                os.replace(self._tmp, self.path)
                published = True
                log.debug("wrote %s", self.path)
        except OSError as e:
            raise write_error(self.path, e) from None
        finally:
            if not published:
                # Closing flushes buffered bytes, which fails again on a full disk; each
                # step is tried on its own so the temp file is always removed.
                for close in (self._wav.close, self._file.close, self._remove_tmp):
                    try:
                        close()
                    except (OSError, ValueError):
                        pass

    def _remove_tmp(self) -> None:
        try:
            os.unlink(self._tmp)
        except OSError:
            pass


class RawSink(Sink):
    """16-bit little-endian mono PCM to a binary stream (e.g. sys.stdout.buffer), flushed
    per write so a downstream player (aplay, ffplay) hears audio as it is made.

    If the reader goes away (BrokenPipeError) the sink goes quiet: further writes are
    dropped and `broken` turns True, so the player can stop synthesizing.
    """

    def __init__(self, stream: BinaryIO, sample_rate: int = 16000, block_size: int = DEFAULT_BLOCK):
        self.stream = stream
        self.sample_rate = int(sample_rate)
        self.block_size = int(block_size)
        self.broken = False

    def write(self, samples: np.ndarray) -> None:
        if self.broken or self._closed:
            return
        try:
            self.stream.write(float_to_pcm16(samples))
            self.stream.flush()
        except BrokenPipeError:
            self._on_broken_pipe()

    def _on_broken_pipe(self) -> None:
        self.broken = True
        log.debug("output pipe closed by reader; discarding the rest")
        if self.stream is getattr(sys.stdout, "buffer", None):
            # Python flushes stdout again at exit and would print "Exception ignored ...
            # BrokenPipeError"; point the descriptor at /dev/null so that flush is silent.
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self.stream.fileno())
                os.close(devnull)
            except (OSError, ValueError):
                pass

    def _finish(self, ok: bool) -> None:
        if self.broken:
            return
        try:
            self.stream.flush()
        except BrokenPipeError:
            self._on_broken_pipe()
        except (OSError, ValueError):
            pass


class PyAudioSink(Sink):
    """Blocking-mode PyAudio output stream, int16 mono.

    Pacing: a write hands PortAudio only as many frames as the host buffer has room for
    and otherwise sleeps a few milliseconds. The calling thread is therefore never stuck
    inside Pa_WriteStream for a whole period (64-128 ms at the profiles' sizes), where
    Python cannot run its Ctrl-C / SIGTERM handlers; an abort starts within ~_MAX_SLEEP_S.

    Ending: PortAudio's ALSA host API (v19.6) drops, not drains, queued audio in
    Pa_StopStream, and starts a stream only once a whole period is queued. A clean close
    therefore appends one period of silence and waits until the real audio has left the
    host buffer before stopping. An abort closes at once: Pa_CloseStream discards what is
    queued, so the sound stops.

    Underruns: before each write, if the host buffer is entirely free although the device
    has had time to play everything we queued, it ran dry: one underrun. The time check
    keeps devices that take audio faster than real time (ALSA null or file PCMs) from
    counting every write. It is a lower bound (a starve and refill between two writes is
    seen once). In `speak -` a pause between input lines also counts: the device did run dry.
    """

    _MAX_SLEEP_S = 0.02  # longest sleep while waiting for room: bounds the stop latency
    _DRAIN_SLACK_S = 0.5  # extra time allowed for the device to play out at close

    def __init__(self, sample_rate: int = 16000, frames_per_buffer: int = DEFAULT_BLOCK,
                 device_index: int | None = None):
        try:
            import pyaudio  # optional extra [device]; imported only when playing
        except ImportError as e:
            raise EdgevcError("audio playback needs PyAudio: pip install 'edgevc[device]'") from e
        self.sample_rate = int(sample_rate)
        self.block_size = int(frames_per_buffer)
        self.device_index = device_index
        self.underruns = 0
        self._started = False
        self._empty_at = 0.0  # monotonic time by which the device will have played all we queued
        from edgevc.playback.portaudio import start_portaudio

        self._pa = start_portaudio()
        try:
            self._stream = self._pa.open(format=pyaudio.paInt16, channels=1, rate=self.sample_rate,
                                         output=True, frames_per_buffer=self.block_size,
                                         output_device_index=device_index)
        except Exception as e:  # PortAudio raises OSError / ValueError with a code
            self._pa.terminate()
            where = "default output" if device_index is None else f"output device {device_index}"
            raise EdgevcError(f"cannot open {where} at {self.sample_rate} Hz: {e}") from e
        try:
            self._host_frames = int(self._stream.get_write_available())  # nothing queued yet
        except Exception:
            self._host_frames = 0  # unknown: no pacing, no underrun counting
        log.debug("audio output open: %d Hz, %d frames per buffer, host buffer %d frames",
                  self.sample_rate, self.block_size, self._host_frames)

    def write(self, samples: np.ndarray) -> None:
        if self._closed:
            raise EdgevcError("write to closed audio output")
        data = float_to_pcm16(samples)
        total = len(data) // 2
        try:
            if self._host_frames <= 0:
                self._stream.write(data, total)
            else:
                if self._started and self._stream.get_write_available() >= self._host_frames \
                        and time.monotonic() >= self._empty_at:
                    self.underruns += 1
                self._write_paced(data, total)
        except OSError as e:  # PortAudio: device gone, host error
            raise EdgevcError(f"audio output failed: {e}") from e
        self._started = True

    def _write_paced(self, data: bytes, total: int) -> None:
        # Write in pieces of at least a quarter period (unless less is left), so the
        # wake-ups stay few while no single write blocks for long.
        min_piece = max(1, min(self.block_size // 4, self._host_frames))
        pos = 0
        while pos < total:
            want = min(total - pos, min_piece)
            avail = self._stream.get_write_available()
            if avail < want:
                time.sleep(min(self._MAX_SLEEP_S, max(0.002, (want - avail) / self.sample_rate)))
                continue
            n = min(total - pos, avail)
            self._stream.write(data[2 * pos:2 * (pos + n)], n)
            pos += n
            queued = self._host_frames - avail + n
            self._empty_at = time.monotonic() + queued / self.sample_rate

    def _play_out(self) -> None:
        """Pad one period of silence and wait until everything before it has played."""
        pad = self.block_size
        self._write_paced(bytes(2 * pad), pad)
        deadline = time.monotonic() + self._host_frames / self.sample_rate + self._DRAIN_SLACK_S
        while self._host_frames - self._stream.get_write_available() > pad:
            if time.monotonic() > deadline:
                log.debug("audio output did not play out in time; stopping anyway")
                return
            time.sleep(0.005)

    def _finish(self, ok: bool) -> None:
        try:
            try:
                if ok:
                    if self._started and self._host_frames > 0:
                        self._play_out()
                    self._stream.stop_stream()
            finally:
                # Closing an active stream discards what is queued, as Pa_AbortStream does.
                self._stream.close()
        finally:
            self._pa.terminate()
        if self.underruns:
            log.warning("audio output underran %d time(s): synthesis fell behind playback",
                        self.underruns)


def open_sink(out: str | None, sample_rate: int = 16000, frames_per_buffer: int = DEFAULT_BLOCK,
              device_index: int | None = None) -> Sink:
    """None -> the sound card (PyAudio); "-" -> raw PCM on stdout; anything else -> a WAV path."""
    if out is None:
        return PyAudioSink(sample_rate, frames_per_buffer, device_index)
    if out == "-":
        return RawSink(sys.stdout.buffer, sample_rate, frames_per_buffer)
    return WavSink(out, sample_rate)
