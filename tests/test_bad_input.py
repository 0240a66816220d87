"""Bad input, as a hostile or careless user gives it (issue 19): every case ends in one
line on stderr and exit 2, leaves no file behind and loses none of the user's."""

import json
import os

import pytest

from conftest import run_cli


def listing(folder):
    """Every path under `folder` with its bytes: what a run must neither add nor lose."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = os.path.join(root, name)
            out[os.path.relpath(p, folder)] = (open(p, "rb").read() if os.path.isfile(p) else None)
    return out


def assert_one_line_error(res, *fragments, code=2):
    err = res.stderr.decode(errors="replace")
    assert res.returncode == code, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for f in fragments:
        assert f in err, err


# ------------------------------------------------------------------ export -o DIR

def test_export_refuses_a_users_folder_and_deletes_nothing(tmp_path):
    out = tmp_path / "mine"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_text("keep me")
    (out / "sub" / "a.txt").write_text("and me")
    before = listing(tmp_path)
    res = run_cli("export", "--judge", "0", "-o", out)
    assert_one_line_error(res, "not an edgevc bundle")
    assert listing(tmp_path) == before


def test_export_refuses_a_bundle_folder_holding_a_users_file(tmp_path):
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps(
        {"format": "edgevc-bundle", "files": {"a.onnx": {"sha256": "0" * 64}}}))
    (out / "a.onnx").write_bytes(b"model")
    (out / "notes.txt").write_text("keep me")
    before = listing(tmp_path)
    res = run_cli("export", "--judge", "0", "-o", out)
    assert_one_line_error(res, "notes.txt", "did not write")
    assert listing(tmp_path) == before


def test_export_destination_rules(tmp_path):
    from edgevc.errors import InputError
    from edgevc.export.bundle_dest import check_destination, replace_folder

    check_destination(tmp_path / "new", force=True)           # a new folder
    (tmp_path / "empty").mkdir()
    check_destination(tmp_path / "empty", force=False)        # an empty one
    old = tmp_path / "old"
    old.mkdir()
    (old / "manifest.json").write_text(json.dumps(
        {"format": "edgevc-bundle", "files": {"a.onnx": {}}}))
    (old / "a.onnx").write_bytes(b"old")
    with pytest.raises(InputError, match="--force"):
        check_destination(old, force=False)
    (tmp_path / "link").symlink_to(old)
    with pytest.raises(InputError, match="not a folder"):
        check_destination(tmp_path / "link", force=True)
    new = tmp_path / "tmpbundle"
    new.mkdir()
    (new / "manifest.json").write_text("{}")
    replace_folder(new, old, force=True)                      # an old bundle is replaced
    assert sorted(os.listdir(old)) == ["manifest.json"]
    assert sorted(os.listdir(tmp_path)) == ["empty", "link", "old"]
