"""A released acoustic model names the corpora it learned from, and the bundle's manifest
credits their licences."""

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("torch")

from edgevc.export.bundle_writer import TRAINING_DATA, training_data
from edgevc.export.release import corpus_tags


def test_corpus_tags_come_from_the_cache_speakers():
    cache = SimpleNamespace(spk=np.array(["kathleen", "kokoro-af_heart", "kokoro-mix003", "speechocean762-0001"]))
    assert corpus_tags(cache) == ["kokoro-teacher-corpus", "speechocean762"]
    assert corpus_tags(SimpleNamespace(spk=np.array(["kathleen", "allison"]))) == []


def test_manifest_credits_the_tagged_corpora_only():
    assert training_data({}) == TRAINING_DATA
    got = training_data({"acoustic": {"corpora": ["kokoro-teacher-corpus", "unknown-tag"]}})
    assert got[:len(TRAINING_DATA)] == TRAINING_DATA and len(got) == len(TRAINING_DATA) + 1
    assert "Kokoro-82M" in got[-1]["name"] and "Apache-2.0" in got[-1]["licence"]
