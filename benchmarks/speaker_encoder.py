"""Speaker encoder on held-out real speakers: student vs GE2E teacher.

    python -m benchmarks.speaker_encoder --speech ../shared/data/speech/librispeech-251 \
        [--bundle DIR] [--checkpoint export/checkpoints/speaker_encoder.pt] [--out benchmarks/results]

Speakers come from export/heldout.txt (no model trains on them). Each held-out recording
is cut into 3 s segments; every segment is embedded by
- the teacher (resemblyzer's GE2E, the `[eval]` extra) on the same 1.6 s windows,
- the student as shipped (the bundle's int8 ONNX graph, through the runtime's Enroller),
- optionally the float PyTorch student (`--checkpoint`, needs the `[export]` extra).
Reported: cosine(student, teacher) per segment, and the speaker-verification equal error
rate of each encoder over all segment pairs (same speaker vs different speakers).

The teacher's embedding moves with loudness (export/speaker_teacher.py); the student's does
not. "cos to teacher" asks the teacher about each window at the level it is distilled at
(-20 dBFS RMS); "as recorded" asks it about the peak-normalised segment as it is, which is
how this benchmark measured before session 6.
Writes <out>/speaker_encoder.{json,md}.
"""

import argparse
import json
import logging
from itertools import combinations
from pathlib import Path

import numpy as np

from benchmarks.machine import command
from edgevc.audio.io import load_audio
from edgevc.audio.processing import normalize_peak, trim_silence
from edgevc.export.heldout import HeldOut
from edgevc.runtime.bundle import Bundle
from edgevc.runtime.enroll import Enroller
from edgevc.runtime.profiles import load_profile

log = logging.getLogger("speaker_encoder")
SR = 16000
SEGMENT_S = 3.0


def segments(folder: Path, speakers: list[str]) -> list[tuple[str, np.ndarray]]:
    out = []
    for spk in speakers:
        for f in sorted((folder / spk).rglob("*.flac")) + sorted((folder / spk).rglob("*.wav")):
            wav = normalize_peak(trim_silence(load_audio(f, SR)))
            n = int(SEGMENT_S * SR)
            out += [(spk, wav[s:s + n]) for s in range(0, len(wav) - n + 1, n)]
    return out


def eer(scores: np.ndarray, same: np.ndarray) -> float:
    """Equal error rate: where false acceptances equal false rejections."""
    order = np.argsort(-scores)
    same = same[order]
    tp = np.cumsum(same)
    fp = np.cumsum(~same)
    frr = 1 - tp / same.sum()
    far = fp / (~same).sum()
    k = int(np.argmin(np.abs(frr - far)))
    return float((frr[k] + far[k]) / 2)


def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def verification(embs: np.ndarray, labels: list[str]) -> float:
    pairs = list(combinations(range(len(labels)), 2))
    scores = np.array([embs[i] @ embs[j] for i, j in pairs])
    same = np.array([labels[i] == labels[j] for i, j in pairs])
    return eer(scores, same)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--speech", type=Path, required=True, help="folder with the held-out speakers")
    ap.add_argument("--bundle", type=Path, default=None)
    ap.add_argument("--checkpoint", type=Path, default=None, help="float student .pt to compare too")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import torch
    from resemblyzer import VoiceEncoder
    from resemblyzer.audio import wav_to_mel_spectrogram

    from edgevc.export.speaker_teacher import Teacher

    speakers = sorted(s for s in HeldOut.load().speakers if (a.speech / s).is_dir())
    segs = segments(a.speech, speakers)
    labels = [s for s, _ in segs]
    bundle = Bundle.load(a.bundle)
    enroller = Enroller(bundle, load_profile("generic-x86"))
    teacher = VoiceEncoder("cpu", verbose=False)
    leveled_teacher = Teacher()

    def windows_mean(per_window):
        return unit(np.stack([unit(per_window(w).mean(0)) for _, w in segs]))

    def teacher_windows(wav):
        mel = wav_to_mel_spectrogram(wav.astype(np.float32))
        W, H = bundle.window_frames, bundle.window_hop
        wins = np.stack([mel[s:s + W] for s in range(0, len(mel) - W + 1, H)])
        with torch.no_grad():
            return teacher(torch.from_numpy(wins)).numpy()

    as_recorded = windows_mean(teacher_windows)
    embs = {"teacher (GE2E)": windows_mean(leveled_teacher.window_embeddings),
            "teacher (GE2E), as recorded": as_recorded,
            "student, int8 ONNX (bundle)": windows_mean(enroller.embed_wav)}
    if a.checkpoint:
        from edgevc.export.checkpoint_io import load_model_file
        model = load_model_file(a.checkpoint, "speaker_encoder")[0]

        def student_windows(wav):
            with torch.no_grad():
                return model(torch.from_numpy(enroller.windows(wav).astype(np.float32))).numpy()
        embs["student, float PyTorch"] = windows_mean(student_windows)

    t = embs["teacher (GE2E)"]
    rows = []
    for name, e in embs.items():
        cos = (e * t).sum(1)
        rows.append({"encoder": name, "eer": verification(e, labels),
                     "cos_to_teacher_mean": float(cos.mean()), "cos_to_teacher_min": float(cos.min()),
                     "cos_to_teacher_as_recorded": float((e * as_recorded).sum(1).mean())})
    result = {"command": command("speaker_encoder"),
              "speakers": len(speakers), "segments": len(segs), "segment_seconds": SEGMENT_S,
              "bundle": str(bundle.root), "rows": rows}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "speaker_encoder.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Speaker encoder on held-out speakers\n", f"`{result['command']}`\n",
             f"{len(speakers)} held-out LibriSpeech readers (export/heldout.txt), "
             f"{len(segs)} segments of {SEGMENT_S:g} s, embeddings averaged over 1.6 s windows.\n",
             "| encoder | EER | cos to teacher (mean) | cos to teacher (min) | cos to teacher as recorded |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['encoder']} | {100 * r['eer']:.1f}% | {r['cos_to_teacher_mean']:.3f} "
                     f"| {r['cos_to_teacher_min']:.3f} | {r['cos_to_teacher_as_recorded']:.3f} |")
    (a.out / "speaker_encoder.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
