"""benchmarks/acoustic_ablation.py: which utterances it judges and what each row feeds the
acoustic model."""


import numpy as np
import pytest

torch = pytest.importorskip("torch")

from benchmarks.acoustic_ablation import acoustic_mel, pick_utterances  # noqa: E402
from edgevc.errors import InputError  # noqa: E402
from edgevc.export.models.acoustic import AcousticModel  # noqa: E402


class _Cache:
    def __init__(self, speakers, texts):
        self.spk = np.array(speakers)
        self.utt = np.array([f"{s}/u{i}" for i, s in enumerate(speakers)])
        self._texts = texts

    def __len__(self):
        return len(self.spk)

    def has_text(self, i):
        return bool(self._texts[i])


def test_it_picks_the_speakers_transcribed_utterances_the_model_did_not_train_on():
    cache = _Cache(["a", "b", "a", "a", "a"], ["x", "y", "", "z", "w"])
    assert pick_utterances(cache, "a", 10, set()) == [0, 3, 4]
    assert pick_utterances(cache, "a", 2, {"a/u0"}) == [3, 4]
    assert pick_utterances(cache, None, 2, set()) == [0, 1]
    with pytest.raises(InputError, match="no transcribed utterance of c"):
        pick_utterances(cache, "c", 5, set())


def test_true_durations_set_the_length_and_true_pitch_changes_the_mel():
    torch.manual_seed(0)
    model = AcousticModel(dim=32, hidden=64, variance=True).eval()
    ids = np.array([3, 7, 9, 4], np.int64)
    spk = np.ones(model.config["spk_dim"], np.float32) / np.sqrt(model.config["spk_dim"])
    durs = np.array([2, 3, 1, 4], np.int64)
    own = acoustic_mel(model, ids, spk, durs)
    assert own.shape == (10, model.config["n_mels"])
    high = acoustic_mel(model, ids, spk, durs, np.full(4, 2.0, np.float32), np.zeros(4, np.float32))
    assert high.shape == own.shape and not np.allclose(high, own)
    assert acoustic_mel(model, ids, spk, None).shape[1] == model.config["n_mels"]


def test_a_speakers_vector_is_the_unit_mean_of_its_finite_embeddings():
    from benchmarks.acoustic_ablation import speaker_mean

    cache = _Cache(["a", "b", "a", "a"], ["x", "y", "z", "w"])
    cache.emb = np.array([[3.0, 0.0], [0.0, 1.0], [1.0, 0.0], [np.nan, 1.0]], np.float32)
    assert np.allclose(speaker_mean(cache, "a"), [1.0, 0.0])   # b and the NaN row left out
    with pytest.raises(InputError, match="no embedding of c"):
        speaker_mean(cache, "c")
