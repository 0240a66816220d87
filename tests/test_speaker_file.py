import json

import numpy as np
import pytest

from edgevc.errors import InputError
from edgevc.runtime.speaker import load_speaker, save_speaker


def unit(n=256, seed=0):
    v = np.random.default_rng(seed).normal(size=n).astype(np.float32)
    return v / np.linalg.norm(v)


def test_round_trip_with_sidecar(tmp_path):
    v = unit()
    save_speaker(tmp_path / "me.npy", v, {"sources": ["a.wav"]})
    np.testing.assert_array_equal(load_speaker(tmp_path / "me.npy", 256), v)
    assert json.loads((tmp_path / "me.json").read_text())["sources"] == ["a.wav"]
    assert not list(tmp_path.glob(".*tmp"))


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "not found"),
    (lambda p: np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True), "pickled"),
    (lambda p: np.save(p, unit(128)), "shape (128,)"),
    (lambda p: np.save(p, np.full(256, np.nan, np.float32)), "NaN"),
    (lambda p: np.save(p, unit() * 3), "not unit length"),
    (lambda p: np.save(p, np.arange(256)), "not floating point"),
    (lambda p: p.write_bytes(b"hello, not numpy"), "not a .npy"),
    (lambda p: np.savez(p.with_suffix(""), a=unit()) or p.with_suffix(".npz").rename(p), ".npz"),
])
def test_bad_speaker_files_are_refused_with_the_reason(tmp_path, make, message):
    p = tmp_path / "bad.npy"
    make(p)
    with pytest.raises(InputError) as e:
        load_speaker(p, 256)
    assert message in str(e.value)
    assert str(p) in str(e.value)
    assert "\n" not in str(e.value)


def test_save_refuses_wrong_suffix_and_keeps_old_file(tmp_path):
    with pytest.raises(InputError):
        save_speaker(tmp_path / "me.txt", unit())
    save_speaker(tmp_path / "me.npy", unit(seed=1))
    with pytest.raises(InputError):
        save_speaker(tmp_path / "missing" / "me.npy", unit())
    np.testing.assert_array_equal(load_speaker(tmp_path / "me.npy", 256), unit(seed=1))


OURS, OTHER, EARLIER = "a" * 64, "b" * 64, "c" * 64


@pytest.mark.parametrize("sidecar", [
    None,                                              # a hand-made vector: taken as it is
    {"sources": ["a.wav"]},                            # a sidecar that names no encoder
    {"encoder_sha256": OURS},                          # this bundle's encoder
    "not json {",                                      # someone else's me.json
    ["encoder_sha256", OTHER],                         # JSON, but not an object
])
def test_speaker_files_this_encoder_can_use_are_loaded(tmp_path, sidecar):
    v = unit()
    save_speaker(tmp_path / "me.npy", v)
    if sidecar is not None:
        text = sidecar if isinstance(sidecar, str) else json.dumps(sidecar)
        (tmp_path / "me.json").write_text(text)
    np.testing.assert_array_equal(load_speaker(tmp_path / "me.npy", 256, encoders=(OURS,)), v)


def test_a_speaker_file_from_another_encoder_is_refused_in_one_line(tmp_path):
    save_speaker(tmp_path / "me.npy", unit(), {"encoder_sha256": OTHER})
    with pytest.raises(InputError) as e:
        load_speaker(tmp_path / "me.npy", 256, encoders=(OURS,))
    msg = str(e.value)
    assert "another speaker encoder" in msg and "enroll" in msg and str(tmp_path / "me.npy") in msg
    assert OTHER[:12] in msg and OURS[:12] in msg and "\n" not in msg
    # without a bundle's hash to compare to (the bare reader), the vector itself is fine
    assert load_speaker(tmp_path / "me.npy", 256).shape == (256,)


def test_a_speaker_file_from_an_encoder_the_bundle_also_takes_is_loaded(tmp_path):
    # a re-export of the same encoder (edgevc export --previous-bundle) lists the earlier
    # file's hash after its own: files enrolled with the earlier bundle keep working
    v = unit()
    save_speaker(tmp_path / "me.npy", v, {"encoder_sha256": EARLIER})
    np.testing.assert_array_equal(load_speaker(tmp_path / "me.npy", 256, encoders=(OURS, EARLIER)), v)
    with pytest.raises(InputError, match="another speaker encoder"):
        load_speaker(tmp_path / "me.npy", 256, encoders=(OURS, OTHER))


def test_a_sidecar_that_is_not_a_small_file_is_not_read(tmp_path):
    save_speaker(tmp_path / "me.npy", unit())
    (tmp_path / "me.json").mkdir()
    assert load_speaker(tmp_path / "me.npy", 256, encoders=(OURS,)).shape == (256,)
    save_speaker(tmp_path / "big.npy", unit())
    (tmp_path / "big.json").write_text(json.dumps({"encoder_sha256": OTHER, "pad": "x" * 70000}))
    assert load_speaker(tmp_path / "big.npy", 256, encoders=(OURS,)).shape == (256,)
