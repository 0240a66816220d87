"""Corpus readers: every layout yields the same Utterance records.

Layouts: LJSpeech-style (`metadata.csv` of `id|text[|normalized]` beside `wavs/`), a
folder of speakers (`speaker/utt.wav` + `speaker/utt.txt`), and untranscribed speech
(`speaker/*.flac`, text None) for the models that need no text.
"""

from dataclasses import dataclass
from pathlib import Path

AUDIO_EXTS = (".wav", ".flac", ".ogg")


@dataclass(frozen=True)
class Utterance:
    id: str
    speaker: str
    audio: Path
    text: str | None


def _find_audio(folder: Path, stem: str) -> Path | None:
    for ext in AUDIO_EXTS:
        p = folder / (stem + ext)
        if p.exists():
            return p
    return None


def read_ljspeech(root: Path, speaker: str | None = None,
                  speaker_per_utterance: bool = False) -> list[Utterance]:
    """`speaker_per_utterance`: each id is its own voice (a folder of many voices reading
    one text, e.g. the mimic3 samples)."""
    root = Path(root)
    speaker = speaker or root.name
    wav_dir = root / "wavs" if (root / "wavs").is_dir() else root
    out = []
    for line in (root / "metadata.csv").read_text(encoding="utf-8").splitlines():
        parts = line.split("|")
        if len(parts) < 2 or not parts[1].strip():
            continue
        text = parts[2] if len(parts) > 2 and parts[2].strip() else parts[1]
        audio = _find_audio(wav_dir, parts[0])
        if audio is not None:
            spk = parts[0] if speaker_per_utterance else speaker
            out.append(Utterance(f"{spk}/{parts[0]}", spk, audio, text.strip()))
    return out


def read_speaker_folders(root: Path, require_text: bool = True) -> list[Utterance]:
    """`root/speaker/utt.{wav,flac}` with optional `utt.txt` beside it."""
    root = Path(root)
    out = []
    for spk_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for audio in sorted(p for p in spk_dir.rglob("*") if p.suffix.lower() in AUDIO_EXTS):
            txt = audio.with_suffix(".txt")
            text = txt.read_text(encoding="utf-8").strip() if txt.exists() else None
            if require_text and not text:
                continue
            out.append(Utterance(f"{spk_dir.name}/{audio.stem}", spk_dir.name, audio, text))
    return out


def read_corpus(root: Path, require_text: bool = True,
                speaker_per_utterance: bool = False) -> list[Utterance]:
    """Detect the layout of `root` and read it."""
    root = Path(root)
    if (root / "metadata.csv").exists():
        return read_ljspeech(root, speaker_per_utterance=speaker_per_utterance)
    return read_speaker_folders(root, require_text=require_text)
