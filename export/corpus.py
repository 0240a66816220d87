"""Corpus readers: every layout yields the same Utterance records.

Layouts, detected by `read_corpus`:
- LJSpeech: `metadata.csv` of `id|text[|normalized]` beside `wavs/`;
- VCTK: `txt/<spk>/<utt>.txt` and `wav48*/<spk>/<utt>[_mic1].{wav,flac}`;
- LibriTTS: `<subset>/<spk>/<chapter>/<utt>.wav` + `<utt>.normalized.txt` (or `.original.txt`);
- Kaldi data directories (`wav.scp`, `text`, `utt2spk`): the folder itself or its
  sub-folders (`train/`, `test/`), audio paths relative to the corpus root; speakers are
  named `<corpus>-<speaker>` so they cannot collide with another corpus's numbers;
- a plain folder of speakers: `speaker/utt.wav` + `speaker/utt.txt`;
- untranscribed speech (`speaker/*.flac`, text None) for the models that need no text.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

AUDIO_EXTS = (".wav", ".flac", ".ogg")


@dataclass(frozen=True)
class Utterance:
    id: str
    speaker: str
    audio: Path
    text: str | None


def find_audio(folder: Path, stem: str) -> Path | None:
    """folder/stem with the first of AUDIO_EXTS that exists, else None."""
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
        audio = find_audio(wav_dir, parts[0])
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


def read_vctk(root: Path, mic: str = "mic1") -> list[Utterance]:
    """VCTK: transcripts in `txt/`, audio in the first `wav*` folder. Of the two microphones
    of VCTK 0.92 (`_mic1`, `_mic2`) only `mic` is read."""
    root = Path(root)
    wav_root = next(p for p in sorted(root.iterdir()) if p.is_dir() and p.name.startswith("wav"))
    out = []
    for txt in sorted((root / "txt").glob("*/*.txt")):
        spk, stem = txt.parent.name, txt.stem
        audio = find_audio(wav_root / spk, f"{stem}_{mic}") or find_audio(wav_root / spk, stem)
        text = txt.read_text(encoding="utf-8").strip()
        if audio is not None and text:
            out.append(Utterance(f"{spk}/{stem}", spk, audio, text))
    return out


def read_libritts(root: Path) -> list[Utterance]:
    """LibriTTS: `<spk>/<chapter>/<utt>.wav` with `<utt>.normalized.txt`, under `root`
    or any subset folder in it (`train-clean-100`, ...)."""
    out = []
    for audio in sorted(Path(root).rglob("*.wav")):
        for suffix in (".normalized.txt", ".original.txt"):
            txt = audio.with_name(audio.stem + suffix)
            if txt.exists():
                text = txt.read_text(encoding="utf-8").strip()
                if text:
                    spk = audio.parent.parent.name
                    out.append(Utterance(f"{spk}/{audio.stem}", spk, audio, text))
                break
    return out


def _kaldi_table(path: Path) -> dict[str, str]:
    """A Kaldi `key value...` file as {key: rest of the line}."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split(maxsplit=1)  # key, then the rest, after spaces or a tab
        if parts:
            out[parts[0]] = parts[1].strip() if len(parts) > 1 else ""
    return out


def kaldi_dirs(root: Path) -> list[Path]:
    """The Kaldi data directories at `root`: itself, or its immediate sub-folders."""
    if (root / "wav.scp").is_file():
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "wav.scp").is_file())


def _spoken_case(text: str) -> str:
    # Kaldi transcripts are usually all capitals; the front end would spell them as acronyms.
    return text.lower() if text.isupper() else text


def read_kaldi(root: Path) -> list[Utterance]:
    root = Path(root)
    out = []
    for d in kaldi_dirs(root):
        texts = _kaldi_table(d / "text") if (d / "text").is_file() else {}
        spk = _kaldi_table(d / "utt2spk") if (d / "utt2spk").is_file() else {}
        for uid, where in _kaldi_table(d / "wav.scp").items():
            if where.endswith("|"):
                log.warning("%s: %s is a command, not a file; skipped", d / "wav.scp", uid)
                continue
            audio = next((p for p in (root / where, d / where, d.parent / where) if p.is_file()), None)
            if audio is None:
                continue
            speaker = f"{root.name}-{spk.get(uid, uid)}"
            text = texts.get(uid)
            out.append(Utterance(f"{speaker}/{uid}", speaker, audio, _spoken_case(text) if text else None))
    return out


def detect_layout(root: Path) -> str:
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {root}")
    if (root / "metadata.csv").exists():
        return "ljspeech"
    if kaldi_dirs(root):
        return "kaldi"
    if (root / "txt").is_dir() and any(p.is_dir() and p.name.startswith("wav") for p in root.iterdir()):
        return "vctk"
    if next(root.rglob("*.normalized.txt"), None) is not None:
        return "libritts"
    return "folders"


def read_corpus(root: Path, require_text: bool = True,
                speaker_per_utterance: bool = False) -> list[Utterance]:
    """Detect the layout of `root` and read it."""
    layout = detect_layout(root)
    if layout == "ljspeech":
        return read_ljspeech(root, speaker_per_utterance=speaker_per_utterance)
    if layout == "vctk":
        return read_vctk(root)
    if layout == "libritts":
        return read_libritts(root)
    if layout == "kaldi":
        utts = read_kaldi(root)
        return [u for u in utts if u.text] if require_text else utts
    return read_speaker_folders(root, require_text=require_text)
