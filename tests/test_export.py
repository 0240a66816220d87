"""Export toolchain contracts: checkpoints refused clearly, bundles written atomically."""


import pytest
from conftest import run_cli

torch = pytest.importorskip("torch")

from edgevc.errors import InputError  # noqa: E402
from edgevc.export.checkpoint_io import load_model  # noqa: E402


def test_missing_and_incompatible_checkpoints(tmp_path, tiny_checkpoints):
    with pytest.raises(InputError, match="not found"):
        load_model(tmp_path, "acoustic")
    state = torch.load(tiny_checkpoints / "acoustic.pt", weights_only=True)
    state["config"]["dim"] = 48  # weights no longer fit the model the config builds
    torch.save(state, tmp_path / "acoustic.pt")
    with pytest.raises(InputError, match="incompatible"):
        load_model(tmp_path, "acoustic")


class NotWeights:
    pass


def test_a_checkpoint_holding_arbitrary_objects_is_not_unpickled(tmp_path):
    torch.save({"config": {}, "model": NotWeights()}, tmp_path / "vocoder.pt")
    with pytest.raises(InputError, match="incompatible"):
        load_model(tmp_path, "vocoder")


def test_export_cli_with_bad_checkpoints_is_one_line(tmp_path):
    out = tmp_path / "bundle"
    res = run_cli("export", "--checkpoints", tmp_path, "--judge", "0", "-o", out)
    err = res.stderr.decode()
    assert res.returncode == 2, err
    assert len(err.strip().splitlines()) == 1 and "not found" in err
    assert not out.exists()


def test_failed_export_leaves_the_old_bundle_and_no_temp(tmp_path, tiny_checkpoints, monkeypatch):
    from edgevc.export import bundle_writer
    out = tmp_path / "bundle"
    out.mkdir()
    old = '{"format": "edgevc-bundle", "files": {}}'  # an old bundle may be replaced
    (out / "manifest.json").write_text(old)

    def boom(*a, **k):
        raise KeyboardInterrupt  # an interrupted export, mid-way

    monkeypatch.setattr("edgevc.quantize.int8.quantize_int8", boom)
    with pytest.raises(KeyboardInterrupt):
        bundle_writer.build_bundle(out, "int8", tiny_checkpoints, progress=False)
    assert (out / "manifest.json").read_text() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_export_int8_checks_and_replaces_atomically(tmp_path, tiny_checkpoints):
    from edgevc.export.bundle_writer import build_bundle
    from edgevc.runtime.bundle import Bundle
    out = tmp_path / "bundle"
    m = build_bundle(out, "int8", tiny_checkpoints, progress=False)
    b = Bundle.load(out)
    assert b.models["acoustic_encoder"].precision == "int8"
    assert b.models["speaker_encoder"].precision == "int8"
    for _role, check in m["quantization"]["checks"].items():
        assert set(check) >= {"metric", "value", "limit"}
    for _role, check in m["quantization"]["export_checks"].items():
        assert check["max_abs_error_vs_pytorch"] < 1e-3
    assert m["checkpoints"]["acoustic"]["step"] == 5
    # the post-filter folded into the decoder by default, and said so
    assert m["models"]["acoustic_decoder"]["mel_postfilter"]["beta"] == 0.5
    assert m["synthesis"] == {"default_length_scale": 1.0} and b.default_length_scale == 1.0
    _assert_manifest_opsets_are_the_files(out, m)
    size_int8 = b.summary()["total_bytes"]
    with pytest.raises(InputError, match=r"--default-length-scale 2\.5: must be a number from 0\.5 to 2\.0"):
        build_bundle(out, "none", tiny_checkpoints, progress=False, default_length_scale=2.5)
    assert Bundle.load(out).models["vocoder"].precision == "int8"  # refused before any work
    m = build_bundle(out, "none", tiny_checkpoints, progress=False, mel_sharpen=0.0,
                     default_length_scale=1.2)  # in place
    assert "mel_postfilter" not in m["models"]["acoustic_decoder"]
    assert Bundle.load(out).default_length_scale == 1.2
    assert Bundle.load(out).models["vocoder"].precision == "fp32"
    assert Bundle.load(out).summary()["total_bytes"] > size_int8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def _assert_manifest_opsets_are_the_files(bundle_dir, manifest):
    import onnx
    for role, g in manifest["models"].items():
        model = onnx.load(str(bundle_dir / g["file"]), load_external_data=False)
        built = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
        assert built == [g["opset"]], (role, built, g["opset"])


def test_manifest_opset_is_read_from_the_built_model(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from edgevc.errors import EdgevcError
    from edgevc.export.bundle_writer import onnx_opset
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])])
    for version in (13, 17, 19):
        path = tmp_path / f"m{version}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[
            helper.make_opsetid("com.microsoft", 1), helper.make_opsetid("", version)]), path)
        assert onnx_opset(path) == version
    path = tmp_path / "no_default.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("com.microsoft", 1)]),
              path)
    with pytest.raises(EdgevcError, match="default-domain opsets"):
        onnx_opset(path)


def test_the_shipped_manifest_opsets_are_its_models():
    import json

    from edgevc.runtime.bundle import default_bundle_dir
    d = default_bundle_dir()
    _assert_manifest_opsets_are_the_files(d, json.loads((d / "manifest.json").read_text()))


class _FakeJudges:
    """Judges that hear one more wrong word in every sentence of the chain judged first
    (the quantized one): a WER far past the +1 point limit."""

    secs = dnsmos = None

    def __init__(self):
        self.notes = {"asr": "fake"}
        self.calls = 0
        self.asr = object()

    def judge(self, uid, text, wav):
        self.calls += 1
        quantized = self.calls <= 2  # judge_against_fp32 runs the quantized chain first
        return {"id": uid, "ref_words": 10, "word_edits": 3 if quantized else 1}, None


def test_export_fails_when_the_judged_chain_loses_to_fp32(tmp_path, tiny_checkpoints, monkeypatch):
    from edgevc.errors import EdgevcError
    from edgevc.export import bundle_writer, judged_check

    monkeypatch.setattr(judged_check, "Judges", _FakeJudges)
    out = tmp_path / "bundle"
    with pytest.raises(EdgevcError, match=r"end-to-end check failed.*wer \+0\.200"):
        bundle_writer.build_bundle(out, "int8", tiny_checkpoints, progress=False, judge=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no bundle, no temp folders


def test_export_signs_the_bundle_and_replaces_a_signed_one(tmp_path, tiny_checkpoints):
    from edgevc.errors import InputError
    from edgevc.export.bundle_writer import build_bundle
    from edgevc.runtime.bundle import Bundle
    from edgevc.runtime.bundle_keys import write_new_key
    pub = write_new_key(tmp_path / "k.key")
    out = tmp_path / "bundle"
    (tmp_path / "bad.key").write_text("not a key")
    with pytest.raises(InputError, match="signing key"):  # before any work
        build_bundle(out, "none", tiny_checkpoints, progress=False, sign_key=tmp_path / "bad.key")
    assert not out.exists()
    for _ in range(2):  # the second replaces the first, its manifest.sig included
        build_bundle(out, "none", tiny_checkpoints, progress=False, sign_key=tmp_path / "k.key")
        Bundle.load(out, public_key=pub)
    with pytest.raises(InputError, match="does not match"):
        Bundle.load(out, public_key=write_new_key(tmp_path / "other.key"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.key", "bundle", "k.key", "other.key"]
