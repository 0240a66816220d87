import json
import shutil

import pytest

from edgevc.errors import InputError
from edgevc.runtime.bundle import MODEL_ROLES, Bundle, default_bundle_dir
from edgevc.text.symbols import SYMBOLS


def test_shipped_bundle_verifies_and_describes_itself():
    b = Bundle.load()
    assert b.sample_rate == 16000
    assert b.phonemes == tuple(SYMBOLS)
    assert set(b.models) == set(MODEL_ROLES)
    s = b.summary()
    assert s["total_bytes"] < 10_000_000, "bundle must stay under 10 MB"
    for _name, entry in b.manifest["files"].items():
        assert len(entry["sha256"]) == 64
    assert b.manifest["training_data"], "the manifest credits its training data"


@pytest.fixture
def copy(tmp_path):
    dst = tmp_path / "b"
    shutil.copytree(default_bundle_dir(), dst)
    return dst


def test_a_modified_file_is_refused_by_name(copy):
    f = copy / "vocoder.onnx"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"vocoder\.onnx does not match its sha256"):
        Bundle.load(copy)


def test_missing_file_and_missing_manifest(copy):
    (copy / "lexicon.txt.gz").unlink()
    with pytest.raises(InputError, match=r"lexicon\.txt\.gz is missing"):
        Bundle.load(copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(InputError, match=r"no manifest\.json"):
        Bundle.load(copy)


def test_manifest_cannot_point_outside_the_folder(copy):
    m = json.loads((copy / "manifest.json").read_text())
    m["files"]["../../etc/passwd"] = {"sha256": "0" * 64}
    (copy / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(InputError, match="leaves the bundle folder"):
        Bundle.load(copy)


def test_malformed_manifest(copy):
    (copy / "manifest.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        Bundle.load(copy)
    (copy / "manifest.json").write_text(json.dumps({"format": "edgevc-bundle", "format_version": 1}))
    with pytest.raises(InputError, match="malformed"):
        Bundle.load(copy)


def _edit_phase(copy, phase):
    m = json.loads((copy / "manifest.json").read_text())
    m["phase"] = phase
    (copy / "manifest.json").write_text(json.dumps(m))


def test_phase_section_is_validated(copy):
    _edit_phase(copy, {"method": "griffin-lim"})
    with pytest.raises(InputError, match="phase method 'griffin-lim' is not one of"):
        Bundle.load(copy)
    _edit_phase(copy, {"method": "excitation"})
    with pytest.raises(InputError, match="needs a voicing model"):
        Bundle.load(copy)
    _edit_phase(copy, {"method": "excitation", "voicing": {"weights": [1.0, 2.0], "bias": 0.0}})
    with pytest.raises(InputError, match=r"malformed.*voicing weights"):
        Bundle.load(copy)
    _edit_phase(copy, {"method": "hybrid"})
    with pytest.raises(InputError, match="'hybrid' needs a voicing model"):
        Bundle.load(copy)


@pytest.mark.parametrize("key,good,bad", [("band_hz", 1500, 0), ("band_hz", 1500, 1e6),
                                          ("band_hz", 1500, "1000"), ("band_hz", 1500, True),
                                          ("voiced_margin", -2, None), ("voiced_margin", 0, 1e9)])
def test_the_hybrids_numbers_are_checked(copy, key, good, bad):
    voicing = {"weights": [0.0] * (Bundle.load(copy).synth_mel.n_mels + 2), "bias": 1.0}
    _edit_phase(copy, {"method": "hybrid", "voicing": voicing, key: good})
    assert getattr(Bundle.load(copy), key) == good
    _edit_phase(copy, {"method": "hybrid", "voicing": voicing, key: bad})
    with pytest.raises(InputError, match=f"phase {key}"):
        Bundle.load(copy)


def test_a_bundle_without_a_phase_section_uses_the_vocoder_phase(copy):
    m = json.loads((copy / "manifest.json").read_text())
    m.pop("phase", None)
    (copy / "manifest.json").write_text(json.dumps(m))
    b = Bundle.load(copy)
    assert b.phase == "vocoder" and b.voicing is None


# ------------------------------------------- what was checked is what runs (no check/use gap)

def _swap(path, other):
    """Replace `path` by a copy of `other` the way an attacker would: a new file renamed
    over it (a valid file of the same kind, not garbage)."""
    import os
    tmp = path.with_name(path.name + ".new")
    shutil.copyfile(other, tmp)
    os.replace(tmp, path)


@pytest.mark.parametrize("name,other", [
    ("vocoder.onnx", "acoustic_decoder.onnx"), ("acoustic_encoder.onnx", "speaker_encoder.onnx"),
    ("g2p.onnx", "speaker_encoder.onnx"), ("lexicon.txt.gz", None),
    ("default_speaker.npy", None), ("speaker_encoder.onnx", "vocoder.onnx")])
def test_a_file_swapped_after_load_is_refused_not_run(copy, name, other, tmp_path):
    import gzip

    import numpy as np

    from edgevc.runtime.enroll import Enroller
    from edgevc.runtime.profiles import load_profile
    from edgevc.runtime.synthesizer import Synthesizer
    b = Bundle.load(copy)  # every hash checked here
    if name == "lexicon.txt.gz":  # a valid lexicon that says something else
        (tmp_path / "lex").write_bytes(gzip.compress(b"hello HH AH0 L OW1\n"))
        other = tmp_path / "lex"
    elif name == "default_speaker.npy":  # another valid voice
        v = np.random.default_rng(1).normal(size=b.embedding_dim).astype(np.float32)
        np.save(tmp_path / "spk.npy", v / np.linalg.norm(v))
        other = tmp_path / "spk.npy"
    else:
        other = copy / other
    _swap(copy / name, other)
    with pytest.raises(InputError, match=rf"{name} changed after the bundle was loaded"):
        if name == "speaker_encoder.onnx":
            Enroller(b, load_profile("generic-x86"))
        else:
            Synthesizer(b, load_profile("generic-x86"))


def test_a_swap_between_the_check_and_the_session_cannot_change_what_runs(copy, monkeypatch):
    """The model bytes that were hashed are the bytes the session is made from: a vocoder
    replaced on disk the moment after its check is not what runs."""
    import numpy as np

    import edgevc.runtime.bundle as bundle_module
    from edgevc.runtime.profiles import load_profile
    from edgevc.runtime.synthesizer import Synthesizer
    text = "The table is ready."
    profile = load_profile("generic-x86")
    reference = Synthesizer(Bundle.load(copy), profile).synthesize(text)

    real, swapped = bundle_module.read_verified, []

    def read_then_swap(path, sha256):
        data = real(path, sha256)  # checked...
        if path.name == "vocoder.onnx":  # ...then swapped before any session exists
            _swap(path, copy / "acoustic_decoder.onnx")
            swapped.append(path)
        return data

    b = Bundle.load(copy)
    monkeypatch.setattr(bundle_module, "read_verified", read_then_swap)
    audio = Synthesizer(b, profile).synthesize(text)
    assert swapped and (copy / "vocoder.onnx").read_bytes() == (copy / "acoustic_decoder.onnx").read_bytes()
    np.testing.assert_array_equal(audio, reference)


# --------------------------------------------------------- the default voice's own pace

def _edit_synthesis(copy, section):
    m = json.loads((copy / "manifest.json").read_text())
    if section is None:
        m.pop("synthesis", None)
    else:
        m["synthesis"] = section
    (copy / "manifest.json").write_text(json.dumps(m))


@pytest.mark.parametrize("bad", [0.2, 3.0, "1.2", True, None])
def test_the_pace_is_checked(copy, bad):
    _edit_synthesis(copy, {"default_length_scale": bad})
    with pytest.raises(InputError, match=r"synthesis default_length_scale .*must be a number from 0\.5 to 2\.0"):
        Bundle.load(copy)


def test_the_pace_slows_the_default_voice_only_and_rate_acts_on_top_of_it(copy):
    from edgevc.runtime.synthesizer import Synthesizer

    _edit_synthesis(copy, None)
    plain = Synthesizer(Bundle.load(copy))
    assert plain.bundle.default_length_scale == 1.0  # no section: the model's pace
    _edit_synthesis(copy, {"default_length_scale": 1.25})
    slow = Synthesizer(Bundle.load(copy))
    assert slow.bundle.summary()["default_length_scale"] == 1.25
    text = "The shuttle stops on Elm Street every fifteen minutes."
    n = len(plain.synthesize(text))
    assert len(slow.synthesize(text)) == pytest.approx(1.25 * n, rel=0.05)
    assert len(slow.synthesize(text, None, 0.8)) == pytest.approx(n, rel=0.05)  # 1.25 x 0.8
    # a speaker vector, even the default voice's own, speaks at the model's pace
    assert len(slow.synthesize(text, plain.default_speaker)) == n


def _set_accepts(copy, accepts):
    m = json.loads((copy / "manifest.json").read_text())
    m["models"]["speaker_encoder"]["accepts_sha256"] = accepts
    (copy / "manifest.json").write_text(json.dumps(m))
    return m


@pytest.mark.parametrize("bad", ["c" * 64, ["C" * 64], ["c" * 63], [None]])
def test_the_speaker_encoders_a_bundle_also_takes_are_checked(copy, bad):
    _set_accepts(copy, bad)
    with pytest.raises(InputError, match="accepts_sha256 must be a list of sha256 hex digests"):
        Bundle.load(copy)


def test_a_bundle_takes_its_own_encoder_first_then_the_listed_ones(copy):
    m = _set_accepts(copy, ["c" * 64])
    own = m["files"][m["models"]["speaker_encoder"]["file"]]["sha256"]
    b = Bundle.load(copy)
    assert b.speaker_encoders == (own, "c" * 64) and b.speaker_encoder_sha256 == own
    assert b.summary()["speaker_encoders"] == [own, "c" * 64]
