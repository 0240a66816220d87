"""Where the acoustic model loses words: Whisper WER of the same utterances through the
bundle's vocoder as more of the acoustic model's own predictions replace the truth.

    python -m benchmarks.acoustic_ablation --cache CACHE --durations DURS \
        [--acoustic export/checkpoints/acoustic.pt] [--bundle DIR] [--speaker kokoro-af_heart] \
        [--exclude-cache TRAIN_CACHE] [--limit 20] [--secs] [--out benchmarks/results] [--name acoustic_ablation]

Rows, each vocoded by the bundle's vocoder and judged by the Whisper judge (quality.py's):

1. the recording's own mel (what the vocoder alone loses);
2. the acoustic model with the true durations, pitch and energy (its decoder's loss:
   ground-truth-aligned synthesis);
3. the true durations and the model's own pitch and energy;
4. everything predicted, conditioned on the utterance's own embedding;
5. everything predicted, conditioned on `--speaker-vector` (default: the shipped default
   speaker), as `edgevc speak` runs.

With `--secs` every row also gets the resemblyzer cosine between its audio and the recording
it re-speaks (same words, same speaker): how much of the voice each step keeps. `--speaker`
repeats; a speaker other than the default voice is conditioned in row 5 on the mean of its
utterances' embeddings in the cache (what `release --default-speaker` would make of it).

The gaps between rows say which part to work on. `CACHE` is a feature cache from
`edgevc.export.prepare` and `DURS` its durations from `train_aligner --extract`; with
`--exclude-cache` the utterances the model trained on are left out, so the figures are on
unseen sentences. Runs in fp32 torch (the toolchain), so it isolates the model, not int8.
Writes OUT/NAME.json and OUT/NAME.md.
"""

import argparse
import json
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from benchmarks.copy_synthesis import JUDGE_PEAK, inverse
from benchmarks.machine import command, cpu_name
from edgevc.errors import InputError
from edgevc.export.checkpoint_io import load_model_or_exit, shipped_dir
from edgevc.export.judges import Judges
from edgevc.export.models.acoustic import expand
from edgevc.export.prepare import FeatureCache
from edgevc.export.train_acoustic import VarianceTargets, load_durations
from edgevc.runtime.backends import create_session
from edgevc.runtime.bundle import Bundle

log = logging.getLogger("acoustic_ablation")
DEFAULT_VOICE = "kokoro-af_heart"
ROWS = ("recording's mel", "true durations, pitch, energy", "true durations, predicted pitch/energy",
        "all predicted, utterance embedding", "all predicted, speaker vector")


def speaker_mean(cache: FeatureCache, speaker: str) -> np.ndarray:
    """The unit mean of `speaker`'s utterance embeddings in the cache."""
    rows = [cache.emb[i] for i in range(len(cache)) if cache.spk[i] == speaker]
    emb = np.asarray([e for e in rows if np.isfinite(e).all()], np.float64)
    if not len(emb):
        raise InputError(f"no embedding of {speaker} in the cache")
    mean = emb.mean(0)
    return (mean / np.linalg.norm(mean)).astype(np.float32)


def pick_utterances(cache: FeatureCache, speaker: str | None, limit: int,
                    exclude: set[str]) -> list[int]:
    """The first `limit` transcribed utterances of `speaker` (any, if None) not in `exclude`."""
    out = []
    for i in range(len(cache)):
        if len(out) >= limit:
            break
        if cache.has_text(i) and (speaker is None or cache.spk[i] == speaker) \
                and str(cache.utt[i]) not in exclude:
            out.append(i)
    if not out:
        raise InputError(f"no transcribed utterance of {speaker or 'any speaker'} left in the cache")
    return out


def recording_audio(cache: FeatureCache, i: int) -> np.ndarray:
    """Utterance i's recording as the cache holds it (16 kHz, trimmed), for the SECS target."""
    return np.asarray(cache.wav(i), np.float32)


@torch.no_grad()
def acoustic_mel(model, ids: np.ndarray, spk: np.ndarray, durations: np.ndarray | None,
                 pitch: np.ndarray | None = None, energy: np.ndarray | None = None) -> np.ndarray:
    """The model's mel for one utterance; None for durations/pitch/energy: its own predictions."""
    t_ids = torch.from_numpy(ids)[None]
    t_spk = torch.from_numpy(spk.astype(np.float32))[None]
    p = None if pitch is None else torch.from_numpy(pitch)[None]
    e = None if energy is None else torch.from_numpy(energy)[None]
    h, logdur, _, _ = model.encode_with_variance(t_ids, t_spk, None, p, e)
    if durations is None:  # as the runtime rounds them
        d = torch.clamp(torch.round(torch.expm1(logdur)), min=1).long()
    else:
        d = torch.from_numpy(durations)[None]
    frames, mask = expand(h, d)
    return model.decode(frames, t_spk, mask)[0].numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--durations", type=Path, required=True)
    ap.add_argument("--acoustic", type=Path, default=shipped_dir() / "acoustic.pt")
    ap.add_argument("--bundle", type=Path, help="bundle whose vocoder is used (default: the shipped one)")
    ap.add_argument("--speaker", action="append", metavar="NAME",
                    help="cache speaker to judge, repeatable; '' for any (default: kokoro-af_heart)")
    ap.add_argument("--speaker-vector", type=Path, default=shipped_dir() / "default_speaker.npy",
                    help="row 5's condition for the default voice (kokoro-af_heart or '')")
    ap.add_argument("--secs", action="store_true",
                    help="also the speaker similarity of each row to the recording it re-speaks")
    ap.add_argument("--exclude-cache", type=Path, help="leave out the utterances this cache holds")
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--name", default="acoustic_ablation")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    torch.set_num_threads(1)
    for what, path in (("cache", args.cache), ("durations", args.durations)):
        if not path.is_file():
            raise InputError(f"{what} {path}: not found")
    bundle = Bundle.load(args.bundle)
    vocoder = create_session(str(bundle.models["vocoder"].path), ["onnx-cpu"], 1)
    model = load_model_or_exit(args.acoustic, "acoustic").eval()
    cache = FeatureCache(str(args.cache))
    durs = load_durations(str(args.durations), cache)
    exclude = set(map(str, FeatureCache(str(args.exclude_cache)).utt)) if args.exclude_cache else set()
    speakers = args.speaker or [DEFAULT_VOICE]
    chosen = [i for spk in speakers for i in pick_utterances(cache, spk or None, args.limit, exclude)]
    variance = VarianceTargets(cache, durs, chosen) if model.config.get("variance") else None
    default_vector = np.load(args.speaker_vector, allow_pickle=False).astype(np.float32).reshape(-1)
    vectors = {spk: default_vector if spk in ("", DEFAULT_VOICE) else speaker_mean(cache, spk)
               for spk in speakers}
    judges = Judges(pocketsphinx=False)
    judges.dnsmos = None
    if not args.secs:
        judges.secs = None  # intelligibility only

    def vocode(mel: np.ndarray) -> np.ndarray:
        real, imag = vocoder.run({"mel": mel[None].astype(np.float32)})
        wav = inverse(real[0].astype(np.float64) + 1j * imag[0], bundle.synth_mel)
        return (wav * (JUDGE_PEAK / max(1e-9, float(np.abs(wav).max())))).astype(np.float32)

    rows: dict[str, list[dict]] = {r: [] for r in ROWS}
    for i in chosen:
        uid, text, ids, emb = str(cache.utt[i]), str(cache.z["text"][i]), cache.ids(i), cache.emb[i]
        spk_vector = vectors.get(str(cache.spk[i]), vectors.get("", default_vector))
        pitch = variance.pitch[i] if variance else None
        energy = variance.energy[i] if variance else None
        mels = (cache.mel(i), acoustic_mel(model, ids, emb, durs[i], pitch, energy),
                acoustic_mel(model, ids, emb, durs[i]), acoustic_mel(model, ids, emb, None),
                acoustic_mel(model, ids, spk_vector, None))
        target = judges.embed(recording_audio(cache, i)) if args.secs else None
        for name, mel in zip(ROWS, mels):
            row, emb_row = judges.judge(uid, text, vocode(mel))
            row["speaker"] = str(cache.spk[i])
            if target is not None:
                row["secs"] = float(emb_row @ target)
            rows[name].append(row)
        log.info("%s: %s", uid, " / ".join(f"{rows[r][-1]['wer']:.2f}" for r in ROWS))
    table = {r: sum(x["word_edits"] for x in rs) / max(1, sum(x["ref_words"] for x in rs))
             for r, rs in rows.items()}
    res = {"command": command("acoustic_ablation"),
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpu": cpu_name(),
           "acoustic": str(args.acoustic), "bundle": str(bundle.root), "utterances": len(chosen),
           "judges": judges.notes, "wer": table, "rows": rows}
    secs = {r: float(np.mean([x["secs"] for x in rs])) for r, rs in rows.items()} if args.secs else {}
    res["secs"] = secs or None
    if secs:
        md = ["| acoustic model's input | Whisper WER | SECS to the recording |", "|---|---|---|"]
        md += [f"| {r} | {w:.1%} | {secs[r]:.3f} |" for r, w in table.items()]
    else:
        md = ["| acoustic model's input | Whisper WER |", "|---|---|"]
        md += [f"| {r} | {w:.1%} |" for r, w in table.items()]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(res, indent=2) + "\n")
    (args.out / f"{args.name}.md").write_text(
        f"# Where the acoustic model loses words\n\n`{res['command']}`, {res['date']}, {res['cpu']}\n\n"
        f"{len(chosen)} utterances of `{args.cache}` ({', '.join(s or 'any speaker' for s in speakers)}), "
        f"acoustic model `{args.acoustic}` (fp32), the vocoder of `{bundle.root}`.\n\n"
        + "\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    try:
        main()
    except InputError as e:
        sys.exit(f"acoustic_ablation.py: {e}")
