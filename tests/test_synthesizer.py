import dataclasses

import numpy as np
import pytest

from edgevc.errors import InputError
from edgevc.runtime.bundle import Bundle
from edgevc.runtime.profiles import load_profile
from edgevc.runtime.synthesizer import Synthesizer

TEXT = "The museum opens at 10:30 on Saturdays. Please buy tickets in advance."


@pytest.fixture(scope="module")
def bundle():
    return Bundle.load()


def synth_with_chunk(bundle, chunk):
    return Synthesizer(bundle, dataclasses.replace(load_profile("generic-x86"), chunk_frames=chunk))


def test_chunked_output_equals_whole_sentence_output(bundle):
    whole = synth_with_chunk(bundle, 100000).synthesize(TEXT)
    for chunk in (4, 17, 32):
        s = synth_with_chunk(bundle, chunk)
        chunks = list(s.stream(TEXT))
        assert len(chunks) > 2
        np.testing.assert_allclose(np.concatenate(chunks), whole, atol=2e-4)


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
