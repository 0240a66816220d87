"""The vocoder alone: real recordings -> their log-mel -> the bundle's vocoder -> judges.

    python -m benchmarks.copy_synthesis --real DIR [--bundle DIR] [--limit 20]
        [--out benchmarks/results]

Analysis-synthesis isolates the vocoder from the acoustic model: whatever it loses here,
synthesized speech loses too. To tell magnitude from phase, two hybrids are judged beside
it: the vocoder's magnitude with the recording's own STFT phase, and the recording's
magnitude with the vocoder's phase (both through the same inverse STFT). When the bundle
carries a voicing model, two more rows give the vocoder's magnitude with the runtime's
excitation phase and with its hybrid phase (`edgevc speak --phase excitation|hybrid`,
edgevc/audio/excitation.py). `DIR` holds
`metadata.csv` (`id|text`) and `wavs/ID.flac|wav`, like quality.py's `--real`.

Every signal is trimmed and peak-normalised as the training data is, then scaled to the
same peak (0.3) before judging: DNSMOS moves with level alone (real recordings at peak 0.9
score about 0.35 lower than at 0.3), and this compares signals, not loudness.
Writes <out>/copy_synthesis.json and .md.
"""

import argparse
import json
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks.machine import command
from edgevc.audio.excitation import HYBRID_BAND_HZ, HYBRID_MARGIN, ExcitationPhase
from edgevc.audio.features import log_mel, stft
from edgevc.audio.io import load_audio
from edgevc.audio.istft import StreamingISTFT
from edgevc.audio.processing import normalize_peak, trim_silence
from edgevc.errors import InputError
from edgevc.export.judges import MOS_KEYS, Judges, read_recordings
from edgevc.runtime.backends import create_session
from edgevc.runtime.bundle import Bundle

log = logging.getLogger("copy_synthesis")
JUDGE_PEAK = 0.3
SYSTEMS = ("recording", "vocoder", "vocoder magnitude + true phase", "true magnitude + vocoder phase")
EXCITATION = "vocoder magnitude + excitation phase"
HYBRID = "vocoder magnitude + hybrid phase"


def inverse(spec: np.ndarray, params) -> np.ndarray:
    ist = StreamingISTFT(params)
    return np.concatenate([ist.push(spec.real, spec.imag), ist.finish()])


def signals(wav: np.ndarray, vocoder, params, voicing=None, band_hz: float = HYBRID_BAND_HZ,
            margin: float = HYBRID_MARGIN) -> dict[str, np.ndarray]:
    mel = log_mel(wav, params).astype(np.float32)
    real, imag = vocoder.run({"mel": mel[None]})
    voc = real[0].astype(np.float64) + 1j * imag[0]
    true = stft(wav, params)[:len(voc)]
    out = dict(zip(SYSTEMS, (
        wav, inverse(voc, params),
        inverse(np.abs(voc) * np.exp(1j * np.angle(true)), params),
        inverse(np.abs(true) * np.exp(1j * np.angle(voc)), params))))
    if voicing is not None:
        for name, band, m in ((EXCITATION, None, 0.0), (HYBRID, band_hz, margin)):
            stage = ExcitationPhase(params, voicing, band_hz=band, margin=m)
            head, tail = stage.push(real[0], imag[0]), stage.finish()
            exc = np.concatenate([head[0], tail[0]]) + 1j * np.concatenate([head[1], tail[1]])
            out[name] = inverse(exc, params)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, required=True, help="folder with metadata.csv and wavs/")
    ap.add_argument("--bundle", type=Path, help="bundle folder (default: the shipped one)")
    ap.add_argument("--limit", type=int, default=20, help="recordings to judge (default 20)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    bundle = Bundle.load(args.bundle)
    params = bundle.synth_mel
    vocoder = create_session(str(bundle.models["vocoder"].path), ["onnx-cpu"], 1)
    judges = Judges()
    recordings = read_recordings(args.real, args.limit)
    rows = {name: [] for name in SYSTEMS + ((EXCITATION, HYBRID) if bundle.voicing else ())}
    for uid, text, path in recordings:
        log.info("%s", uid)
        wav = normalize_peak(trim_silence(load_audio(path, params.sample_rate)))
        for name, sig in signals(wav, vocoder, params, bundle.voicing, bundle.band_hz,
                                     bundle.voiced_margin).items():
            sig = sig * (JUDGE_PEAK / max(1e-9, float(np.abs(sig).max())))
            row, _ = judges.judge(uid, text, sig.astype(np.float32))
            rows[name].append(row)
    table = {name: {k: float(np.mean([r[k] for r in rs])) for k in ("wer", "cer", *MOS_KEYS)
                    if rs and k in rs[0]} for name, rs in rows.items()}
    res = {"command": command("copy_synthesis"),
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "bundle": str(bundle.root), "vocoder_precision": bundle.models["vocoder"].precision,
           "recordings": len(recordings), "judges": judges.notes, "systems": table, "rows": rows}
    md = ["| signal | WER | CER | DNSMOS OVRL | SIG | BAK |", "|---|---|---|---|---|---|"]
    for name, agg in table.items():
        md.append(f"| {name} | {agg.get('wer', float('nan')):.1%} | {agg.get('cer', float('nan')):.1%} | "
                  f"{agg.get('ovrl_mos', float('nan')):.2f} | {agg.get('sig_mos', float('nan')):.2f} | "
                  f"{agg.get('bak_mos', float('nan')):.2f} |")
    text = "\n".join(md)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "copy_synthesis.json").write_text(json.dumps(res, indent=2) + "\n")
    (args.out / "copy_synthesis.md").write_text(
        f"# edgevc vocoder, analysis-synthesis\n\n`{res['command']}`, {res['date']}\n\n"
        f"{len(recordings)} recordings of `{args.real}`, vocoder {res['vocoder_precision']}, every signal "
        f"judged at peak {JUDGE_PEAK}.\n\n{text}\n")
    print(text)


if __name__ == "__main__":
    try:
        main()
    except InputError as e:  # bad --real folder, bundle, ...: one line
        sys.exit(f"copy_synthesis.py: {e}")
