"""benchmarks/quality.py --heldout-speakers: the held-out speakers found in one or more
corpora (speaker folders, Kaldi data dirs), the enrollment split, and the identification
and aggregation of clones and real recordings, on synthetic voices with stand-in judges
(no Whisper, no DNSMOS, no resemblyzer)."""

import numpy as np
import pytest
from test_gmm_ubm import SPEAKERS, voice

from benchmarks.quality import (
    aggregate,
    heldout_recordings,
    heldout_tables,
    heldout_voices,
    id_aggregate,
    identify,
    judge_heldout,
    per_speaker,
)
from edgevc.errors import InputError
from edgevc.export.judges import unit

SR = 16000


def test_identify_names_the_nearest_speaker_by_each_judge():
    speakers = ["a", "b", "c"]
    ref = np.eye(3)
    enroll = np.eye(3)
    emb = unit(np.array([0.5, 0.8, 0.1]))  # nearer b than a, by either centroid
    got = identify(0, emb, np.array([0.3, -0.1, 0.0]), speakers, enroll, ref, ref[0])
    assert got["secs"] == pytest.approx(emb[0]) and got["best_other_secs"] == pytest.approx(emb[1])
    assert got["best_other"] == "b" and got["secs_above_best_other"] is False
    assert (got["id_embedding"], got["id_embedding_hit"]) == ("b", False)
    assert (got["id_gmm"], got["id_gmm_hit"]) == ("a", True)
    # a real cut of a speaker with no other cut has no SECS; an unscorable clip is a GMM miss
    got = identify(1, emb, None, speakers, enroll, ref, None)
    assert got["secs"] is None and got["secs_above_best_other"] is None
    assert got["best_other"] == "a" and got["id_embedding_hit"] is True
    assert got["id_gmm"] is None and got["id_gmm_hit"] is False


def test_shares_count_clips_and_skip_what_was_not_judged():
    rows: list[dict] = [
        {"secs_above_best_other": True, "id_embedding_hit": True, "id_gmm_hit": False,
         "best_other_secs": 0.5},
        {"secs_above_best_other": None, "id_embedding_hit": False, "id_gmm_hit": False,
         "best_other_secs": 0.7},
        {"secs_above_best_other": False, "id_embedding_hit": True, "id_gmm_hit": True,
         "best_other_secs": 0.6}]
    a = id_aggregate(rows)
    assert a["secs_above_best_other"] == 0.5  # of the two clips that had a SECS
    assert a["top1_embedding"] == pytest.approx(2 / 3) and a["top1_gmm"] == pytest.approx(1 / 3)
    assert a["best_other_secs"] == pytest.approx(0.6)
    assert id_aggregate(rows, gmm=False)["top1_gmm"] is None


class FakeJudges:
    """Stands in for Judges: an 'embedding' from the long-term average spectrum (enough to
    tell these synthetic voices apart), no MOS, no ASR."""
    def __init__(self):
        self.notes: dict = {}
        self.secs = True

    @staticmethod
    def embed(wav):
        spec = np.abs(np.fft.rfft(wav[: len(wav) // 512 * 512].reshape(-1, 512), axis=1)).mean(0)
        bands = np.log(np.add.reduceat(spec, np.arange(0, 256, 8)) + 1e-6)
        return unit(bands - bands.mean())

    def mos(self, uid, wav):
        return {}


def test_clones_and_real_recordings_get_top1_by_both_judges_per_speaker():
    """Three speakers; b's "clone" speaks in c's voice: b's clips are misidentified, as c,
    by both judges, the others are right, and the real recordings are all right."""
    names = ["low", "mid", "child"]
    params = {n: SPEAKERS[n] for n in names}
    voices = [(n, [voice(*params[n], 3.0, seed=10 * k + i) for i in range(2)],
               [voice(*params[n], 3.0, seed=10 * k + 5 + i) for i in range(2)])
              for k, n in enumerate(names)]
    judges = FakeJudges()
    clones = []
    for k, n in enumerate(names):
        who = "child" if n == "mid" else n
        wavs = [voice(*params[who], 2.0, seed=100 + 10 * k + i) for i in range(3)]
        rows = [{"id": f"s{i + 1:02d}", "text": "t", "wer": 0.1 * k, "word_edits": k,
                 "ref_words": 10, "cer": 0.0, "char_edits": 0, "ref_chars": 40}
                for i in range(3)]
        clones.append((rows, [judges.embed(w) for w in wavs], wavs))
    systems = judge_heldout(judges, voices, clones, 30.0, components=8)
    clone, real = systems
    assert clone["speakers"] == names and clone["enroll_seconds"]["mid"] == 6.0
    assert clone["reference_segments"] == {n: 2 for n in names}
    assert "GMM-UBM" in judges.notes["gmm_ubm"]
    for s in systems:
        s["aggregate"] = {**aggregate(s["rows"]), **id_aggregate(s["rows"])}
        s["per_speaker"] = per_speaker(s)
    mid = [r for r in clone["rows"] if r["speaker"] == "mid"]
    assert [r["id"] for r in mid] == ["mid/s01", "mid/s02", "mid/s03"]
    assert all(r["id_gmm"] == "child" and r["id_embedding"] == "child" for r in mid)
    ps = clone["per_speaker"]
    assert ps["mid"]["top1_gmm"] == 0 and ps["mid"]["top1_embedding"] == 0
    assert ps["low"]["top1_gmm"] == 1 and ps["child"]["top1_embedding"] == 1
    assert ps["mid"]["wer"] == pytest.approx(0.1)  # corpus WER of the speaker's clips
    assert clone["aggregate"]["top1_gmm"] == pytest.approx(2 / 3)
    assert clone["aggregate"]["top1_embedding"] == pytest.approx(2 / 3)
    assert real["aggregate"]["top1_gmm"] == 1 and real["aggregate"]["top1_embedding"] == 1
    assert real["aggregate"]["secs_above_best_other"] == 1 and real["aggregate"]["n"] == 6
    assert [r["id"] for r in real["rows"][:2]] == ["low/ref01", "low/ref02"]
    md = heldout_tables(systems)
    assert "| mid | 6.0 | 6.0 |" in md and "identification among 3" in md


def test_heldout_voices_enrolls_the_first_half_of_each_speaker_at_most_the_cap(tmp_path):
    import soundfile as sf
    # speakers of export/heldout.txt; 'x' is not held out and is ignored
    lengths = {"39": 16.0, "125": 10.0, "211": 7.0, "x": 20.0}
    for k, (spk, seconds) in enumerate(lengths.items()):
        (tmp_path / spk).mkdir()
        sf.write(tmp_path / spk / "a.flac", voice(140.0, 0.9, seconds, seed=k), SR)
    split = {spk: (len(e), len(r)) for spk, e, r in heldout_voices(tmp_path, 30.0)}
    assert split == {"125": (2, 1), "39": (3, 2)}  # 211: under 9 s of speech, left out
    split = {spk: (len(e), len(r)) for spk, e, r in heldout_voices(tmp_path)}
    assert split == {"125": (2, 1), "39": (2, 3)}  # default 6 s: two cuts, as before
    assert {spk: len(e) for spk, e, _ in heldout_voices(tmp_path, 3.0)} == {"125": 1, "39": 1}


def write_kaldi(root, splits: dict[str, dict[str, list[np.ndarray]]]) -> None:
    """A speechocean762-like Kaldi tree at `root`: per split folder (train/, test/) the
    speakers' clips as root/WAVE/SPEAKERxxxx/<utt>.WAV, listed in wav.scp (relative to the
    corpus root, newest first, so listing order is not path order), text and utt2spk."""
    import soundfile as sf

    for split, speakers in splits.items():
        scp, text, utt2spk = [], [], []
        for spk, clips in speakers.items():
            (root / "WAVE" / f"SPEAKER{spk}").mkdir(parents=True, exist_ok=True)
            for i, clip in enumerate(clips):
                uid = f"0{spk}{i:04d}"
                sf.write(root / "WAVE" / f"SPEAKER{spk}" / f"{uid}.WAV", clip, SR, format="WAV")
                scp.append(f"{uid}\tWAVE/SPEAKER{spk}/{uid}.WAV")
                text.append(f"{uid}\tTHREE TWO ONE")
                utt2spk.append(f"{uid} {spk}")
        (root / split).mkdir(parents=True)
        for name, lines in (("wav.scp", scp), ("text", text), ("utt2spk", utt2spk)):
            (root / split / name).write_text("\n".join(reversed(lines)) + "\n")


def test_heldout_speakers_of_a_kaldi_tree_and_speaker_folders_are_found_together(tmp_path):
    """Two corpora at once: LibriSpeech-style speaker folders and a speechocean762 Kaldi
    tree (short clips, speakers named as `prepare` names them); only export/heldout.txt's
    speakers, in name order, each one's clips in path order whatever wav.scp's order."""
    import soundfile as sf

    (tmp_path / "ls" / "39").mkdir(parents=True)
    (tmp_path / "ls" / "x").mkdir()  # not held out
    sf.write(tmp_path / "ls" / "39" / "a.flac", voice(*SPEAKERS["low"], 16.0, seed=0), SR)
    sf.write(tmp_path / "ls" / "x" / "a.flac", voice(*SPEAKERS["low"], 16.0, seed=1), SR)
    so = tmp_path / "speechocean762"
    write_kaldi(so, {
        "train": {"1064": [voice(*SPEAKERS["mid"], 3.5, seed=10 + i) for i in range(6)],
                  "0001": [voice(*SPEAKERS["deep"], 3.5, seed=20 + i) for i in range(6)]},
        "test": {"0563": [voice(*SPEAKERS["child"], 2.5, seed=30 + i) for i in range(5)],
                 "0092": [voice(*SPEAKERS["high"], 2.0, seed=40 + i) for i in range(4)]}})
    found = heldout_recordings([tmp_path / "ls", so])
    assert list(found) == ["39", "speechocean762-0092", "speechocean762-0563",
                           "speechocean762-1064"]
    assert found["39"] == [tmp_path / "ls" / "39" / "a.flac"]
    assert found["speechocean762-1064"] == [so / "WAVE" / "SPEAKER1064" / f"01064{i:04d}.WAV"
                                            for i in range(6)]
    assert len(found["speechocean762-0563"]) == 5
    # one folder alone; the same folder twice adds nothing
    assert heldout_recordings(so) == {k: v for k, v in found.items() if k != "39"}
    assert heldout_recordings([so, so, tmp_path / "ls"]) == found
    # 0092: 8 s of speech, left out; 0563: 12.5 s, four 3 s cuts; 1064: 21 s, seven
    split = {spk: (len(e), len(r)) for spk, e, r in heldout_voices([tmp_path / "ls", so], 30.0)}
    assert split == {"39": (3, 2), "speechocean762-0563": (2, 2), "speechocean762-1064": (4, 3)}
    with pytest.raises(InputError, match="not a folder"):
        heldout_recordings([so, tmp_path / "missing"])


@pytest.mark.parametrize("two_corpora", [False, True])
def test_main_writes_both_rows_and_the_per_speaker_tables(tmp_path, monkeypatch, two_corpora):
    """`--heldout-speakers` end to end with the shipped bundle and stand-in judges: the
    output files keep their names and hold the clones, the real reference row and the
    per-speaker figures. With `two_corpora`, the third speaker comes from a Kaldi tree in
    short clips through a second `--heldout-speakers`, and is identified among all three."""
    import json
    import sys

    import soundfile as sf

    import benchmarks.quality as quality

    third = "speechocean762-0563" if two_corpora else "229"
    for k, (spk, name) in enumerate([("39", "low"), ("125", "mid"), ("229", "child")]):
        wav = voice(*SPEAKERS[name], 13.0, seed=k)
        if spk == "229" and two_corpora:  # the same 13 s, in four clips
            write_kaldi(tmp_path / "speechocean762", {"test": {"0563": np.split(wav, 4)}})
            continue
        (tmp_path / "ls" / spk).mkdir(parents=True)
        sf.write(tmp_path / "ls" / spk / "a.flac", wav, SR)
    (tmp_path / "s.txt").write_text("Hello there.\nThe shop opens at nine.\n")
    corpora = ["--heldout-speakers", str(tmp_path / "ls")]
    if two_corpora:
        corpora += ["--heldout-speakers", str(tmp_path / "speechocean762")]

    class Judges(FakeJudges):
        def __init__(self, *args, **kwargs):
            super().__init__()

        def judge(self, uid, text, wav):
            return {"id": uid, "text": text}, self.embed(wav)

    monkeypatch.setattr(quality, "Judges", Judges)
    monkeypatch.setattr(sys, "argv", [
        "quality.py", "--sentences", str(tmp_path / "s.txt"), "--out", str(tmp_path / "out"),
        *corpora, "--clone-sentences", "1"])
    quality.main()
    res = json.loads((tmp_path / "out" / "quality.json").read_text())
    clone, real = [s for s in res["systems"] if "speakers" in s]
    assert clone["enroll_seconds_max"] == 30 and clone["enroll_seconds"]["39"] == 6.0
    assert clone["speakers"] == sorted(["39", "125", third])
    assert set(clone["per_speaker"]) == {"39", "125", third} and clone["aggregate"]["n"] == 3
    assert clone["enroll_seconds"][third] == 6.0 and clone["reference_segments"][third] == 2
    assert real["aggregate"]["n"] == 6 and real["aggregate"]["top1_gmm"] == 1.0
    assert all(r["id_gmm"] in ("39", "125", third) for r in clone["rows"])
    md = (tmp_path / "out" / "quality.md").read_text()
    assert "### Per speaker: real recordings of the 3 held-out speakers" in md
    assert "at most 30 s" in md and "top-1 GMM-UBM" in md


def test_speakers_from_a_file_replace_the_heldout_list(tmp_path):
    import soundfile as sf
    for k, spk in enumerate(("39", "x")):  # 39 is held out, x is not
        (tmp_path / "corpus" / spk).mkdir(parents=True)
        sf.write(tmp_path / "corpus" / spk / "a.flac", voice(140.0, 0.9, 12.0, seed=k), SR)
    listed = tmp_path / "seen.txt"
    listed.write_text("# training speakers\nspeaker x\n")
    assert list(heldout_recordings(tmp_path / "corpus", listed)) == ["x"]
    assert [spk for spk, _, _ in heldout_voices(tmp_path / "corpus", speaker_file=listed)] == ["x"]
    assert list(heldout_recordings(tmp_path / "corpus")) == ["39"]
    for text, problem in (("text a sentence\n", "no 'speaker NAME' line"), ("what\n", "expected")):
        listed.write_text(text)
        with pytest.raises(InputError, match=problem):
            heldout_recordings(tmp_path / "corpus", listed)


@pytest.mark.parametrize("rate", ["0.3", "2.5"])
def test_quality_refuses_a_rate_edgevc_speak_would_refuse(rate):
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "benchmarks.quality", "--rate", rate],
                         capture_output=True, timeout=120)
    assert res.returncode == 2 and b"--rate" in res.stderr and b"from 0.5 to 2" in res.stderr
