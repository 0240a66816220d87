"""End-to-end check of a quantized bundle: its speech against the same bundle run on its
fp32 graphs, through the field's judges (export/judges.py, the `[eval]` extra).

Both chains speak the same fixed sentences (numbers, money, times, abbreviations; none of
them in the calibration text) in the default voice. Reported per chain: corpus WER,
mean SECS against the default voice's conditioning embedding (a GE2E embedding, the
judge's own space) and mean DNSMOS OVRL; and the change int8 - fp32 against its limit.
"""

import logging
from pathlib import Path

import numpy as np

from edgevc.errors import EdgevcError
from edgevc.export.judges import Judges, unit

log = logging.getLogger(__name__)

# allowed change of the quantized chain against fp32 (issue targets: WER +1 point,
# SECS -0.02, DNSMOS OVRL -0.1)
LIMITS = {"wer": 0.01, "secs": -0.02, "ovrl_mos": -0.10}
SENTENCES = [
    "Your table for four is ready at 7:45, near the window.",
    "The total comes to $23.50, including a 15% tip.",
    "Dr. Lee moved the meeting to Friday, June 12th.",
    "Please keep your ticket until you leave the station.",
    "It is 18 degrees outside, with light rain after 3 pm.",
    "Turn left on Main St. and park behind the blue building.",
    "We received 1,250 orders this week, twice as many as last year.",
    "Press the green button twice to reset the coffee machine.",
    "The library closes early on holidays, so plan ahead.",
    "Flight 208 to Boston now boards at gate 14.",
    "Thank you for waiting; an agent will be with you shortly.",
    "The package weighs 3.2 kg and arrives in two days.",
    # 12 more: with 12 sentences (about 130 words) two words flipped by chance moved WER
    # by 1.4 points, past the 1-point limit; 24 halve that noise.
    "Your prescription will be ready after 4:30 this afternoon.",
    "The museum charges $12 for adults and $6 for children.",
    "Mr. Brown called twice about the invoice from March 2nd.",
    "Keep the door closed so the cat does not get out.",
    "Bus 47 runs every 20 minutes until midnight.",
    "Our office is on the 3rd floor, next to the elevator.",
    "Remember to water the plants while we are away.",
    "The battery is at 15%; please plug in the charger.",
    "Mrs. Garcia won first prize in the baking contest.",
    "The train to Chicago leaves from platform 9 at 6:05.",
    "Please speak slowly and clearly after the tone.",
    "Add two cups of flour and a pinch of salt.",
]


def _aggregate(rows):
    words = sum(r["ref_words"] for r in rows if "ref_words" in r)
    out = {"n": len(rows)}
    if words:
        out["wer"] = sum(r["word_edits"] for r in rows) / words
    secs = [r["secs"] for r in rows if r.get("secs") is not None]
    mos = [r["ovrl_mos"] for r in rows if r.get("ovrl_mos") is not None]
    out["secs"] = float(np.mean(secs)) if secs else None
    out["ovrl_mos"] = float(np.mean(mos)) if mos else None
    return out


def judge_against_fp32(bundle_dir: Path, fp32_dir: Path, n_sentences: int) -> dict:
    """{"int8"|precision: figures, "fp32": figures, "delta": ..., "limits": ..., "passed"}
    or {"skipped": why} when no judge loads. Raises EdgevcError past a limit."""
    import dataclasses

    from edgevc.runtime.backends import create_session
    from edgevc.runtime.bundle import Bundle
    from edgevc.runtime.profiles import load_profile
    from edgevc.runtime.synthesizer import Synthesizer

    judges = Judges()
    if not (judges.asr or judges.secs or judges.dnsmos):
        return {"skipped": "no judge available (pip install 'edgevc[eval]')", "judges": judges.notes}
    profile = dataclasses.replace(load_profile("generic-x86"), threads=1)
    bundle = Bundle.load(bundle_dir)
    quantized = Synthesizer(bundle, profile)
    fp32 = Synthesizer(bundle, profile)
    for role, entry in bundle.models.items():
        if role in fp32.sessions:
            fp32.sessions[role] = create_session(str(fp32_dir / entry.path.name), ["onnx-cpu"], 1)
    target = unit(quantized.default_speaker.astype(np.float64))
    result, sentences = {}, SENTENCES[:n_sentences]
    for name, synth in (("quantized", quantized), ("fp32", fp32)):
        rows = []
        for i, text in enumerate(sentences):
            row, emb = judges.judge(f"s{i + 1:02d}", text, synth.synthesize(text))
            row["secs"] = float(emb @ target) if emb is not None else None
            rows.append(row)
        result[name] = _aggregate(rows)
        log.info("judged %s: %s", name, result[name])
    delta = {k: result["quantized"][k] - result["fp32"][k] for k in LIMITS
             if result["quantized"].get(k) is not None and result["fp32"].get(k) is not None}
    failed = [k for k, d in delta.items() if (d > LIMITS[k] if k == "wer" else d < LIMITS[k])]
    result.update(delta=delta, limits=LIMITS, sentences=len(sentences), judges=judges.notes,
                  passed=not failed)
    if failed:
        parts = ", ".join(f"{k} {delta[k]:+.3f} (limit {LIMITS[k]:+.2f})" for k in failed)
        raise EdgevcError(f"end-to-end check failed: the quantized chain against fp32: {parts}")
    return result
