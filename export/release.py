"""Collect finished training runs into release checkpoints that `edgevc export` reads.

    python -m edgevc.export.release --encoder-run runs/encoder --acoustic-run runs/acoustic \
        --vocoder-run runs/vocoder --cache cache.npz --default-speaker kathleen -o export/checkpoints

Writes speaker_encoder.pt, acoustic.pt, vocoder.pt, g2p.pt (weights and config, no optimizer state;
a distilled student also names its teacher), acoustic_teacher.pt and default_speaker.npy: the mean conditioning embedding of the named speaker. Each run is
optional, so one improved model can be released without touching the others.
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from edgevc.export.checkpoint_io import ACOUSTIC_TEACHER, DEFAULT_SPEAKER, half_weights
from edgevc.export.prepare import FeatureCache


def release_run(run: Path, key: str, dst: Path, source: str | None = None) -> None:
    """RUN/last.pt's model `source` (default `key`) as the release checkpoint of `key` at
    `dst` (fp16, no optimizer)."""
    source = source or key
    state = torch.load(Path(run) / "last.pt", map_location="cpu", weights_only=True)
    if source not in state["model"]:
        raise SystemExit(f"error: {run}/last.pt holds no '{source}' model"
                         + (" (train it with --ema)" if source.endswith("_ema") else ""))
    out = {"config": state["config"][source], "step": state["step"],
           "model": half_weights(state["model"][source])}
    out.update(state.get("meta", {}).get(source, {}))  # e.g. the teacher a student learnt from
    tmp = dst.with_suffix(".tmp")
    torch.save(out, tmp)
    tmp.replace(dst)


# Speaker-name prefixes of corpora whose licences a bundle must credit beyond the base list
# (export/bundle_writer.py TRAINING_DATA): the tag release writes into acoustic.pt.
CORPUS_TAGS = {"kokoro-": "kokoro-teacher-corpus", "speechocean762-": "speechocean762"}


def corpus_tags(cache: FeatureCache) -> list[str]:
    speakers = set(map(str, cache.spk))
    return sorted({tag for prefix, tag in CORPUS_TAGS.items() if any(s.startswith(prefix) for s in speakers)})


def default_speaker(cache: FeatureCache, speaker: str) -> np.ndarray:
    rows = cache.emb[cache.spk == speaker]
    rows = rows[np.isfinite(rows).all(axis=1)]
    if not len(rows):
        raise SystemExit(f"no utterances of speaker {speaker!r} in the cache")
    v = rows.mean(axis=0)
    return (v / np.linalg.norm(v)).astype(np.float32)


def main(argv: list[str] | None = None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoder-run")
    ap.add_argument("--acoustic-run")
    ap.add_argument("--acoustic-ema", action="store_true",
                    help="release the acoustic run's moving average of the weights "
                    "(train_acoustic --ema) instead of its last weights")
    ap.add_argument("--vocoder-run")
    ap.add_argument("--acoustic-teacher-run",
                    help="the acoustic teacher's run (train_acoustic), released as "
                         "acoustic_teacher.pt; --acoustic-run then names its distilled student")
    ap.add_argument("--g2p-run", help="run of edgevc.export.train_g2p")
    ap.add_argument("--cache", help="feature cache (with --default-speaker)")
    ap.add_argument("--default-speaker", help="speaker whose mean embedding becomes the default voice")
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args(argv)
    runs = {"speaker_encoder": a.encoder_run, "acoustic": a.acoustic_run, "vocoder": a.vocoder_run,
            "g2p": a.g2p_run}
    if not any(runs.values()) and not a.default_speaker and not a.acoustic_teacher_run:
        ap.error("nothing to release: give at least one --*-run or --default-speaker")
    if bool(a.cache) != bool(a.default_speaker):
        ap.error("--default-speaker and --cache go together")
    if a.acoustic_ema and not a.acoustic_run:
        ap.error("--acoustic-ema needs --acoustic-run")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = FeatureCache(a.cache) if a.cache else None
    for key, run in runs.items():
        if run:
            source = "acoustic_ema" if key == "acoustic" and a.acoustic_ema else key
            release_run(Path(run), key, out / f"{key}.pt", source)
    if cache is not None and a.acoustic_run:  # what the bundle's manifest must credit
        tagged = torch.load(out / "acoustic.pt", map_location="cpu", weights_only=True)
        tagged["corpora"] = corpus_tags(cache)
        torch.save(tagged, out / "acoustic.pt.tmp")
        (out / "acoustic.pt.tmp").replace(out / "acoustic.pt")
    if a.acoustic_teacher_run:
        release_run(Path(a.acoustic_teacher_run), "acoustic", out / ACOUSTIC_TEACHER)
    if a.default_speaker:
        v = default_speaker(cache, a.default_speaker)
        tmp = out / (DEFAULT_SPEAKER + ".tmp")
        with open(tmp, "wb") as f:
            np.save(f, v, allow_pickle=False)
        tmp.replace(out / DEFAULT_SPEAKER)


if __name__ == "__main__":
    main()
