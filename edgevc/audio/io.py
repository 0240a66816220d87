"""Audio files in and out: decode anything soundfile reads to 16 kHz mono float32,
resample in numpy, and write 16-bit PCM WAV atomically."""

from __future__ import annotations

import logging
import math
import os
import tempfile
import wave
from functools import lru_cache
from pathlib import Path

import numpy as np

from edgevc.errors import InputError

log = logging.getLogger(__name__)

# Resampler design. 32 zero crossings each side and a Kaiser window with beta 10 give a
# stopband below -90 dB; the 0.92 roll-off puts most of the transition band under the new
# Nyquist so what is above it cannot alias back.
_ZERO_CROSSINGS = 32
_ROLLOFF = 0.92
_KAISER_BETA = 10.0
# Output samples computed per matrix product; bounds the temporary (rows x taps) copy.
_BLOCK = 32768


def load_audio(path: str | os.PathLike, target_sr: int = 16000,
               max_seconds: float | None = None) -> np.ndarray:
    """Read WAV/FLAC/OGG (any rate, channels, sample format) as float32 mono at target_sr.

    Channels are averaged. Float files that peak above 1 are scaled down to peak 1 rather
    than clipped, so loud recordings keep their shape. With `max_seconds`, a longer file is
    refused from its header, before its samples are read.
    """
    import soundfile as sf  # imported here so the module loads without libsndfile

    p = Path(path)
    if not p.exists():
        raise InputError(f"audio file {p}: not found")
    if not p.is_file():
        raise InputError(f"audio file {p}: not a regular file")
    try:
        if max_seconds is not None:
            info = sf.info(str(p))
            if info.frames > max_seconds * info.samplerate:
                raise InputError(f"audio file {p}: {info.frames / info.samplerate:.0f} s long; "
                                 f"at most {max_seconds:.0f} s are read")
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError) as e:
        # libsndfile's message is multi-line for some formats; keep the first line.
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"audio file {p}: cannot decode ({reason})") from e
    if data.size == 0:
        raise InputError(f"audio file {p}: contains no samples")
    if not np.all(np.isfinite(data)):
        raise InputError(f"audio file {p}: contains NaN or infinite samples")
    wav = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    peak = float(np.max(np.abs(wav)))
    if peak > 1.0:
        log.debug("%s peaks at %.3f; scaling to 1.0", p, peak)
        wav = wav / peak
    wav = resample(wav, int(sr), int(target_sr))
    # The band-limited filter can overshoot a full-scale signal slightly.
    return np.clip(wav, -1.0, 1.0, out=wav).astype(np.float32, copy=False)


@lru_cache(maxsize=16)
def _polyphase_filters(up: int, down: int) -> tuple[np.ndarray, int]:
    """Filter bank for resampling by up/down: row r holds the taps for output phase r.

    The continuous kernel is a Kaiser-windowed sinc in units of input samples with cutoff
    fc (cycles per input sample); row r samples it at offsets frac_r - o, where frac_r is
    the fractional input position of outputs in that phase. Returns (bank, half) with bank
    of shape (up, 2 * half), taps ordered o = -half + 1 ... half.
    """
    fc = 0.5 * min(1.0, up / down) * _ROLLOFF
    width = _ZERO_CROSSINGS / (2.0 * fc)  # kernel half-width in input samples
    half = int(math.ceil(width))
    offsets = np.arange(-half + 1, half + 1, dtype=np.float64)
    frac = (np.arange(up, dtype=np.int64) * down % up) / up
    t = frac[:, None] - offsets[None, :]
    kernel = 2.0 * fc * np.sinc(2.0 * fc * t)
    inside = np.abs(t) <= width
    window = np.zeros_like(t)
    window[inside] = np.i0(_KAISER_BETA * np.sqrt(1.0 - (t[inside] / width) ** 2)) / np.i0(_KAISER_BETA)
    bank = kernel * window
    # Unit DC gain in every phase, so a constant stays constant with no phase ripple.
    bank /= bank.sum(axis=1, keepdims=True)
    return bank.astype(np.float32), half


def resample(wav: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Band-limited resampling of a 1-D signal from sr_in to sr_out (numpy only).

    Polyphase windowed-sinc for the rational ratio sr_out/sr_in reduced by their gcd; the
    anti-aliasing cutoff sits just below min(sr_in, sr_out) / 2. Output sample m lies at
    input time m * sr_in / sr_out, and the length is round(len(wav) * sr_out / sr_in).
    """
    x = np.asarray(wav, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"resample expects a 1-D signal, got shape {x.shape}")
    if sr_in <= 0 or sr_out <= 0:
        raise ValueError(f"sample rates must be positive, got {sr_in} -> {sr_out}")
    if sr_in == sr_out:
        return x.copy()
    g = math.gcd(int(sr_in), int(sr_out))
    up, down = int(sr_out) // g, int(sr_in) // g
    n = x.shape[0]
    n_out = (n * up + down // 2) // down
    out = np.zeros(n_out, dtype=np.float32)
    if n_out == 0:
        return out
    bank, half = _polyphase_filters(up, down)
    taps = 2 * half
    # Zero padding: xp[i + half] == x[i]; enough on the right for the last output's window.
    last_base = ((n_out - 1) * down) // up
    right = max(0, last_base + half + 1 - n) + 1
    xp = np.concatenate([np.zeros(half, np.float32), x, np.zeros(right, np.float32)])
    windows = np.lib.stride_tricks.sliding_window_view(xp, taps)
    # Outputs m = r + j*up share the fractional position of phase r and their first input
    # index advances by exactly `down` per j, so each phase is one strided matrix-vector
    # product over a view of the padded signal.
    for r in range(min(up, n_out)):
        count = (n_out - r + up - 1) // up
        start = (r * down) // up + 1  # first tap of output r in xp: base - half + 1 + half
        h = bank[r]
        for j0 in range(0, count, _BLOCK):
            j1 = min(count, j0 + _BLOCK)
            rows = windows[start + j0 * down: start + (j1 - 1) * down + 1: down]
            out[r + j0 * up: r + j1 * up: up] = np.ascontiguousarray(rows) @ h
    return out


def float_to_pcm16(wav: np.ndarray) -> bytes:
    """Float samples in [-1, 1] -> little-endian int16 bytes (clipped, rounded; NaN -> 0)."""
    x = np.nan_to_num(np.asarray(wav, dtype=np.float32).ravel(), nan=0.0, posinf=1.0, neginf=-1.0)
    x = np.clip(x, -1.0, 1.0) * 32767.0
    return np.rint(x).astype("<i2").tobytes()


def _new_file_mode(path: Path) -> int:
    # mkstemp makes 0600 files; give the result the mode the user would expect instead:
    # the old file's mode when replacing one, else 0644.
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o644


# Temp files handed out and maybe not yet renamed or removed: a process stopped by a signal
# while another thread writes one removes them on its way out (remove_pending_temps).
_pending_temps: set[str] = set()


def remove_pending_temps() -> None:
    """Unlink every temp file still in progress (those already renamed are gone)."""
    for tmp in list(_pending_temps):
        try:
            os.unlink(tmp)
        except OSError:
            pass
        _pending_temps.discard(tmp)


def temp_path_for(path: Path) -> tuple[int, str]:
    """Open a hidden temp file next to `path` (same file system, so os.replace is atomic)."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"output file {path}: is a folder")
    for done in [t for t in _pending_temps if not os.path.exists(t)]:
        _pending_temps.discard(done)
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        _pending_temps.add(tmp)
        return fd, tmp
    except (FileNotFoundError, NotADirectoryError) as e:
        raise InputError(f"output file {path}: folder {folder} does not exist") from e
    except PermissionError as e:
        raise InputError(f"output file {path}: no permission to write in {folder}") from e
    except OSError as e:  # a read-only file system, a full disk, ...
        raise write_error(path, e) from None


def write_error(path, e: OSError) -> InputError:
    """The one-line error for an output that cannot be written (full disk, read-only)."""
    return InputError(f"output file {path}: cannot write ({e.strerror or e})")


def write_wav(path: str | os.PathLike, wav: np.ndarray, sr: int = 16000) -> None:
    """Write mono 16-bit PCM WAV atomically: a temp file in the same folder, then os.replace.

    On any error the temp file is removed and an existing file at `path` is left as it was.
    """
    p = Path(path)
    pcm = float_to_pcm16(wav)
    fd, tmp = temp_path_for(p)
    try:
        with os.fdopen(fd, "wb") as f:
            with wave.open(f, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(int(sr))
                w.writeframes(pcm)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _new_file_mode(p))
        os.replace(tmp, p)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise write_error(p, e) from None
        raise
