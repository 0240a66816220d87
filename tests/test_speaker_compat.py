"""Speaker files survive a re-export: `edgevc export --previous-bundle`."""

import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edgevc.errors import EdgevcError, InputError  # noqa: E402
from edgevc.export.bundle_writer import build_bundle  # noqa: E402
from edgevc.export.checkpoint_io import save_model  # noqa: E402
from edgevc.export.models.acoustic import AcousticModel  # noqa: E402
from edgevc.runtime.bundle import Bundle  # noqa: E402
from edgevc.runtime.enroll import Enroller  # noqa: E402
from edgevc.runtime.profiles import load_profile  # noqa: E402
from edgevc.runtime.speaker import save_speaker  # noqa: E402
from edgevc.runtime.synthesizer import Synthesizer  # noqa: E402


def _with_new_acoustic_model(ckpt, dst, seed=1):
    """A copy of the checkpoints with another acoustic model: what a release changes."""
    shutil.copytree(ckpt, dst)
    torch.manual_seed(seed)
    save_model(dst / "acoustic.pt", AcousticModel(dim=32, hidden=64, variance=True, film_rank=8), 6)
    return dst


def _enrolled(bundle_dir, wav, out):
    enroller = Enroller(Bundle.load(bundle_dir), load_profile("generic-x86"))
    vec, info = enroller.enroll([wav])
    save_speaker(out, vec, info)
    return out


def _loads(bundle_dir, speaker):
    return Synthesizer(Bundle.load(bundle_dir), load_profile("generic-x86")).load_speaker(speaker)


def test_a_reexport_keeps_the_speaker_files_of_the_bundle_it_replaces(tmp_path, tiny_checkpoints,
                                                                      speech_like):
    a = tmp_path / "a"
    build_bundle(a, "int8", tiny_checkpoints, progress=False)
    me = _enrolled(a, speech_like, tmp_path / "me.npy")
    new_ckpt = _with_new_acoustic_model(tiny_checkpoints, tmp_path / "ckpt2")

    # the bug: int8 calibration runs on the chain's own speech, so a new acoustic model
    # changes the encoder file, and the new bundle refuses what users enrolled
    b_plain = tmp_path / "b_plain"
    build_bundle(b_plain, "int8", new_ckpt, progress=False)
    assert Bundle.load(b_plain).speaker_encoder_sha256 != Bundle.load(a).speaker_encoder_sha256
    with pytest.raises(InputError, match="another speaker encoder"):
        _loads(b_plain, me)

    b = tmp_path / "b"
    m = build_bundle(b, "int8", new_ckpt, progress=False, previous_bundle=a)
    a_sha = Bundle.load(a).speaker_encoder_sha256
    assert m["models"]["speaker_encoder"]["accepts_sha256"] == [a_sha]
    check = m["quantization"]["export_checks"]["previous_bundle"]
    assert check["speaker_encoder_cosine"] >= 0.98 and check["speaker_encoder_sha256"] == a_sha
    np.testing.assert_array_equal(_loads(b, me), np.load(me))
    # and the chain goes on: a third release takes files enrolled with either earlier one
    me_b = _enrolled(b, speech_like, tmp_path / "me_b.npy")
    c = tmp_path / "c"
    build_bundle(c, "int8", _with_new_acoustic_model(tiny_checkpoints, tmp_path / "ckpt3", seed=2),
                 progress=False, previous_bundle=b)
    assert set(Bundle.load(c).speaker_encoders[1:]) == {a_sha, Bundle.load(b).speaker_encoder_sha256}
    assert _loads(c, me).shape == _loads(c, me_b).shape == (256,)


def test_a_previous_bundle_with_another_speaker_encoder_fails_the_export(tmp_path, tiny_checkpoints):
    a = tmp_path / "a"
    build_bundle(a, "none", tiny_checkpoints, progress=False)
    other = tmp_path / "ckpt_other"
    shutil.copytree(tiny_checkpoints, other)
    from edgevc.export.checkpoint_io import load_model
    enc, _ = load_model(other, "speaker_encoder")
    with torch.no_grad():
        enc.proj.weight.neg_()  # the same architecture, embedding every voice elsewhere
        enc.proj.bias.neg_()
    save_model(other / "speaker_encoder.pt", enc, 6)
    out = tmp_path / "b"
    with pytest.raises(EdgevcError, match=r"embeds voices unlike the new one \(cosine -?[0-9.]+ < 0\.98\)") as e:
        build_bundle(out, "none", other, progress=False, previous_bundle=a)
    assert "\n" not in str(e.value)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["a", "ckpt_other"]


def test_a_previous_bundle_that_is_not_one_is_refused_before_any_work(tmp_path, tiny_checkpoints):
    (tmp_path / "junk").mkdir()
    with pytest.raises(InputError, match=r"^--previous-bundle \S*junk: bundle \S*junk: "):
        build_bundle(tmp_path / "b", "none", tiny_checkpoints, progress=False,
                     previous_bundle=tmp_path / "junk")
    assert not (tmp_path / "b").exists()
