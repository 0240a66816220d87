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
    for name, entry in b.manifest["files"].items():
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
    with pytest.raises(InputError, match="vocoder.onnx does not match its sha256"):
        Bundle.load(copy)


def test_missing_file_and_missing_manifest(copy):
    (copy / "lexicon.txt.gz").unlink()
    with pytest.raises(InputError, match="lexicon.txt.gz is missing"):
        Bundle.load(copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(InputError, match="no manifest.json"):
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
