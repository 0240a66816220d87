import dataclasses
import json
import shutil

import numpy as np
import pytest

from edgevc.errors import InputError
from edgevc.runtime.bundle import Bundle
from edgevc.runtime.profiles import load_profile
from edgevc.runtime.synthesizer import Synthesizer, chunk_bounds

TEXT = "The museum opens at 10:30 on Saturdays. Please buy tickets in advance."


@pytest.fixture(scope="module")
def bundle():
    return Bundle.load()


def synth_with_chunk(bundle, chunk, largest=256):
    return Synthesizer(bundle, dataclasses.replace(load_profile("generic-x86"), chunk_frames=chunk,
                                                   max_chunk_frames=max(chunk, largest)))


def test_chunks_start_small_then_double_up_to_the_largest():
    spans = list(chunk_bounds(100, 4, 16))
    assert spans == [(0, 4), (4, 12), (12, 28), (28, 44), (44, 60), (60, 76), (76, 92), (92, 100)]
    assert list(chunk_bounds(3, 4, 16)) == [(0, 3)]
    assert list(chunk_bounds(0, 4, 16)) == []


@pytest.fixture(scope="module")
def float_bundle(tmp_path_factory):
    """The shipped checkpoints exported without quantization."""
    pytest.importorskip("torch")
    from edgevc.export.bundle_writer import build_bundle
    out = tmp_path_factory.mktemp("fp32") / "bundle"
    build_bundle(out, "none", progress=False)
    return Bundle.load(out)


def test_chunked_output_equals_whole_sentence_output(float_bundle):
    """With enough context per chunk, chunking changes nothing (float graphs: exactly,
    up to float rounding)."""
    whole = synth_with_chunk(float_bundle, 100000).synthesize(TEXT)
    for chunk, largest in ((4, 4), (4, 16), (17, 256), (32, 256)):
        chunks = list(synth_with_chunk(float_bundle, chunk, largest).stream(TEXT))
        assert len(chunks) > 2
        np.testing.assert_allclose(np.concatenate(chunks), whole, atol=1e-5)


def test_chunked_int8_output_matches_whole_within_rounding(bundle):
    """int8 graphs: a last-bit float difference between GEMM sizes can flip an int8
    rounding, so chunked audio matches whole audio to within quantization noise."""
    whole = synth_with_chunk(bundle, 100000).synthesize(TEXT)
    chunked = np.concatenate(list(synth_with_chunk(bundle, 17).stream(TEXT)))
    assert chunked.shape == whole.shape
    snr_db = 10 * np.log10(np.sum(whole ** 2) / np.sum((whole - chunked) ** 2))
    assert snr_db > 35, snr_db


def test_length_follows_the_text(bundle):
    s = synth_with_chunk(bundle, 32)
    short = s.synthesize("Hello there.")
    long = s.synthesize("Hello there. " * 4)
    assert 3.0 < len(long) / len(short) < 5.0
    assert np.isfinite(long).all()


def test_the_speaker_changes_the_audio(bundle):
    s = synth_with_chunk(bundle, 32)
    rng = np.random.default_rng(3)
    other = rng.normal(size=bundle.embedding_dim).astype(np.float32)
    a = s.synthesize("Good morning.")
    b = s.synthesize("Good morning.", other / np.linalg.norm(other))
    n = min(len(a), len(b))
    assert not np.allclose(a[:n], b[:n], atol=1e-3)


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "*** ///"])
def test_unspeakable_text_is_an_input_error(bundle, text):
    with pytest.raises(InputError):
        synth_with_chunk(bundle, 32).sentences(text)


def test_first_audio_does_not_wait_for_the_rest_of_the_text(bundle, monkeypatch):
    """Sentences are phonemized as their turn comes: a long text is never held phonemized
    whole, and its first chunk leaves after its first sentence."""
    import sys
    ph = sys.modules["edgevc.text.phonemize"]  # the package re-exports a function of that name
    calls = []
    real = ph.phonemize
    monkeypatch.setattr(ph, "phonemize", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    text = " ".join(f"This is sentence number {i}." for i in range(1, 41))
    chunks = synth_with_chunk(bundle, 32).stream(text)
    assert next(chunks).size > 0
    assert len(calls) == 1
    chunks.close()


@pytest.mark.parametrize("phase", ["excitation", "hybrid"])
def test_the_excitation_phases_stream_like_the_vocoder_phase(float_bundle, phase):
    """Chunked equals whole with the excitation and hybrid phases too; both keep the length."""
    def synth(chunk, largest):
        prof = dataclasses.replace(load_profile("generic-x86"), chunk_frames=chunk,
                                   max_chunk_frames=max(chunk, largest))
        return Synthesizer(float_bundle, prof, phase=phase)
    whole = synth(100000, 100000).synthesize(TEXT)
    assert len(whole) == len(synth_with_chunk(float_bundle, 100000).synthesize(TEXT))
    for chunk, largest in ((4, 16), (17, 256)):
        chunks = list(synth(chunk, largest).stream(TEXT))
        assert len(chunks) > 2
        np.testing.assert_allclose(np.concatenate(chunks), whole, atol=1e-4)


def test_phase_option_is_checked(bundle, tmp_path):
    with pytest.raises(InputError, match="phase 'istft'"):
        Synthesizer(bundle, load_profile("generic-x86"), phase="istft")
    old = tmp_path / "old"
    shutil.copytree(bundle.root, old)
    manifest = old / "manifest.json"
    m = json.loads(manifest.read_text())
    m.pop("phase", None)  # a bundle from before the excitation phase
    manifest.write_text(json.dumps(m))
    for phase in ("excitation", "hybrid"):
        with pytest.raises(InputError, match="has no voicing model"):
            Synthesizer(Bundle.load(old), load_profile("generic-x86"), phase=phase)
