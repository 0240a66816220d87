"""The held-out split: speakers and sentences that no model ever trains on.

`export/heldout.txt` lists them explicitly (made once by `python -m edgevc.export.heldout
--make`), so the split never drifts when code or data change:

- `speaker <name>`: every recording of that speaker is held out (real LibriSpeech readers;
  the quality benchmark clones them and judges against their other recordings);
- `text <normalized text>`: every take of that sentence by any speaker is held out (real
  recordings of the training voices to judge the default voice against).

`prepare` drops both; `benchmarks/quality.py` reads the same file.
"""

import argparse
import hashlib
import re
from pathlib import Path

HELDOUT_FILE = Path(__file__).with_name("heldout.txt")


def text_key(text: str) -> str:
    """Sentence identity across takes: lower case, letters, digits and single spaces."""
    return " ".join(re.sub(r"[^a-z0-9']+", " ", text.lower()).split())


def _rank(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


class HeldOut:
    def __init__(self, speakers=(), texts=()):
        self.speakers = set(speakers)
        self.texts = {text_key(t) for t in texts}

    @classmethod
    def load(cls, path: Path | str = HELDOUT_FILE) -> "HeldOut":
        speakers, texts = [], []
        for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            kind, _, value = line.partition(" ")
            if kind == "speaker":
                speakers.append(value.strip())
            elif kind == "text":
                texts.append(value.strip())
            else:
                raise ValueError(f"{path}:{n}: expected 'speaker NAME' or 'text SENTENCE'")
        return cls(speakers, texts)

    def holds(self, speaker: str, text: str | None) -> bool:
        return speaker in self.speakers or (text is not None and text_key(text) in self.texts)


def make(librispeech: Path, transcribed: list[Path], n_per_sex: int = 10,
         text_fraction: float = 0.04, kaldi: tuple[Path, ...] = ()) -> str:
    """Pick the split deterministically: by hash, `n_per_sex` LibriSpeech readers of each sex,
    `text_fraction` of each transcribed corpus's distinct sentences, and from each Kaldi
    corpus (speechocean762) 5 adults and 5 children of both sexes."""
    from edgevc.export.corpus import read_corpus

    sex = {}
    for line in (librispeech / "SPEAKERS.TXT").read_text(encoding="utf-8").splitlines():
        if line.startswith(";"):
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) > 1:
            sex[parts[0]] = parts[1]
    present = sorted(p.name for p in librispeech.iterdir() if p.is_dir())
    lines = ["# Held out of all training (see export/heldout.py). One entry per line."]
    for s in ("F", "M"):
        for spk in sorted((p for p in present if sex.get(p) == s), key=_rank)[:n_per_sex]:
            lines.append(f"speaker {spk}")
    for corpus in transcribed:
        keys = sorted({text_key(u.text) for u in read_corpus(corpus)}, key=_rank)
        lines += [f"text {k}" for k in keys[: max(1, round(text_fraction * len(keys)))]]
    for root in kaldi:
        lines += [f"speaker {s}" for s in pick_kaldi_speakers(root)]
    return "\n".join(lines) + "\n"


# speechocean762 (Kaldi data dirs): children are 6-15 years old, adults 19-43; none between.
ADULT_AGE = 18


def pick_kaldi_speakers(root: Path, adults: tuple[int, int] = (3, 2),
                        children: tuple[int, int] = (2, 3)) -> list[str]:
    """Speakers of a Kaldi corpus (`spk2gender`, `spk2age` in its data dirs) to hold out, by
    hash: (female, male) counts of adults and of children. Named as `prepare` names them,
    `<corpus folder>-<speaker>` (e.g. speechocean762-0005)."""
    from edgevc.export.corpus import _kaldi_table, kaldi_dirs

    gender, age = {}, {}
    for d in kaldi_dirs(root):
        gender.update(_kaldi_table(d / "spk2gender"))
        age.update(_kaldi_table(d / "spk2age"))
    picked = []
    for (n_f, n_m), is_adult in ((adults, True), (children, False)):
        for sex, n in (("f", n_f), ("m", n_m)):
            pool = [s for s in gender if gender[s].lower() == sex and s in age
                    and (int(age[s]) >= ADULT_AGE) == is_adult]
            if len(pool) < n:
                raise ValueError(f"{root}: only {len(pool)} {'adult' if is_adult else 'child'} "
                                 f"speakers of sex {sex}, need {n}")
            picked += sorted(pool, key=_rank)[:n]
    return [f"{root.name}-{s}" for s in picked]


def link_heldout_recordings(corpus: Path, out: Path, heldout: HeldOut) -> int:
    """Gather an LJSpeech-layout corpus's held-out takes, as `prepare` decides them, into
    `out` (metadata.csv and links to the audio under wavs/): the `--real` folder of
    benchmarks/quality.py. Returns how many."""
    from edgevc.export.corpus import read_ljspeech

    held = [u for u in read_ljspeech(corpus) if heldout.holds(u.speaker, u.text)]
    (out / "wavs").mkdir(parents=True, exist_ok=True)
    for u in held:
        dst = out / "wavs" / u.audio.name
        if not dst.exists():
            dst.symlink_to(u.audio.resolve())
    lines = "".join(f"{u.audio.stem}|{u.text}\n" for u in held)
    (out / "metadata.csv").write_text(lines, encoding="utf-8")
    return len(held)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--make", action="store_true", help="write export/heldout.txt")
    ap.add_argument("--librispeech", type=Path, help="with --make or alone: the readers to pick from")
    ap.add_argument("--corpus", type=Path, action="append", default=[])
    ap.add_argument("--kaldi", type=Path, action="append", default=[],
                    help="a Kaldi corpus (speechocean762) to hold 5 adults and 5 children of")
    ap.add_argument("--recordings", type=Path, metavar="CORPUS",
                    help="instead: link an LJSpeech-layout corpus's held-out takes into --out "
                         "(for benchmarks/quality.py --real)")
    ap.add_argument("--out", type=Path, help="with --recordings: the folder to write")
    a = ap.parse_args()
    if a.recordings:
        if a.out is None:
            ap.error("--recordings needs --out")
        try:
            n = link_heldout_recordings(a.recordings, a.out, HeldOut.load())
        except (OSError, UnicodeDecodeError) as e:
            raise SystemExit(f"heldout: {a.recordings}: {type(e).__name__}: {e}") from None
        print(f"{n} held-out recordings of {a.recordings} in {a.out}")
        return
    if a.librispeech is None:
        ap.error("--librispeech is required (or --recordings CORPUS --out DIR)")
    text = make(a.librispeech, a.corpus, kaldi=tuple(a.kaldi))
    if a.make:
        HELDOUT_FILE.write_text(text, encoding="utf-8")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
