"""The CLI as a user meets it: subprocesses, exit codes, one-line errors, files."""

import json
import subprocess
import sys
import wave
from pathlib import Path

import click
import numpy as np
import pytest
from conftest import run_cli


def read_wav(path):
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2")


def assert_one_line_error(res, *fragments):
    err = res.stderr.decode()
    assert res.returncode == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for f in fragments:
        assert f in err, err


def test_speak_writes_a_16k_wav_and_reports_json(tmp_path):
    out = tmp_path / "x.wav"
    res = run_cli("speak", "Your total is $18.25.", "--out", out, "--json")
    assert res.returncode == 0, res.stderr.decode()
    stats = json.loads(res.stdout)
    pcm = read_wav(out)
    assert abs(len(pcm) / 16000 - stats["audio_seconds"]) < 0.01
    assert np.abs(pcm).max() > 300


def test_speak_phase_option(tmp_path):
    """Every phase method speaks the same length; an unknown one is a usage error."""
    lengths = {}
    for phase in ("vocoder", "excitation", "hybrid"):
        out = tmp_path / f"{phase}.wav"
        res = run_cli("speak", "Good evening.", "--phase", phase, "--out", out, "--json")
        assert res.returncode == 0, res.stderr.decode()
        assert json.loads(res.stdout)["phase"] == phase
        lengths[phase] = len(read_wav(out))
    assert lengths["vocoder"] == lengths["excitation"] == lengths["hybrid"] > 0
    res = run_cli("speak", "Good evening.", "--phase", "random", "--out", tmp_path / "r.wav")
    assert res.returncode == 2 and not (tmp_path / "r.wav").exists()


def test_phase_options_offer_exactly_the_bundle_phase_methods():
    # the CLI lists them itself so that `edgevc --help` imports no runtime module
    from edgevc.cli import cli
    from edgevc.runtime.bundle import PHASE_METHODS

    for command in ("speak", "export"):
        cmd = cli.get_command(click.Context(cli), command)
        opt = next(o for o in cmd.params if o.name == "phase")
        assert sorted(opt.type.choices) == sorted(PHASE_METHODS), command


def test_speak_raw_pcm_to_stdout_and_text_from_stdin():
    res = run_cli("speak", "-", "--out", "-", input=b"Hello there.\n\nGood night.\n")
    assert res.returncode == 0, res.stderr.decode()
    assert len(res.stdout) % 2 == 0
    one = run_cli("speak", "Hello there.", "--out", "-")
    assert 0 < len(one.stdout) < len(res.stdout)


def test_enroll_then_speak_with_the_speaker(tmp_path, speech_like):
    me = tmp_path / "me.npy"
    res = run_cli("enroll", speech_like, "-o", me, "--json")
    assert res.returncode == 0, res.stderr.decode()
    v = np.load(me, allow_pickle=False)
    assert v.shape == (256,) and abs(np.linalg.norm(v) - 1) < 1e-4
    assert json.loads(res.stdout)["speech_seconds"] > 2
    out = tmp_path / "me.wav"
    res = run_cli("speak", "Your order number is 4127.", "--speaker", me, "--out", out)
    assert res.returncode == 0, res.stderr.decode()
    assert len(read_wav(out)) > 8000
    # the sidecar names the encoder; a speaker file from another encoder is refused
    from edgevc.runtime.bundle import Bundle

    sidecar = me.with_suffix(".json")
    info = json.loads(sidecar.read_text())
    assert info["encoder_sha256"] == Bundle.load().speaker_encoder_sha256
    sidecar.write_text(json.dumps({**info, "encoder_sha256": "0" * 64}))
    res = run_cli("speak", "Hello.", "--speaker", me, "--out", tmp_path / "other.wav")
    assert_one_line_error(res, "made by another speaker encoder")
    assert not (tmp_path / "other.wav").exists()


def test_info_and_devices_json():
    info = json.loads(run_cli("info", "--json").stdout)
    assert {"speaker_encoder", "acoustic_encoder", "acoustic_decoder", "vocoder"} <= set(info["models"])
    assert set(info["models"]) <= {"speaker_encoder", "acoustic_encoder", "acoustic_decoder", "vocoder", "g2p"}
    manifest = json.loads((Path(info["path"]) / "manifest.json").read_text())
    assert info["default_length_scale"] == manifest.get("synthesis", {}).get("default_length_scale", 1.0)
    assert f"length scale {info['default_length_scale']:g} at rate 1.0".encode() in run_cli("info").stdout
    dev = json.loads(run_cli("devices", "--json").stdout)
    assert "ok" in dev["tflite"]
    assert any(p["name"] == "CPUExecutionProvider" and p["ok"] for p in dev["providers"])
    assert "generic-x86" in dev["profiles"]


@pytest.mark.parametrize("args, fragment", [
    (["speak", ""], "text is empty"),
    (["speak", "   "], "text is empty"),
    (["speak", "hi", "--profile", "toaster"], "toaster"),
    (["speak", "hi", "--out", "x.mp3"], "only .wav"),
    (["speak", "hi", "--bundle", "/nonexistent/bundle"], "not a folder"),
    (["enroll", "/nonexistent.wav", "-o", "me.npy"], "/nonexistent.wav"),
    (["export", "--quantize", "int4", "-o", "b"], "int4"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, fragment):
    res = run_cli(*args)
    assert_one_line_error(res, fragment)


@pytest.mark.parametrize("make, fragment", [
    (lambda p: None, "not found"),
    (lambda p: np.save(p, np.array([{"x": 1}], dtype=object), allow_pickle=True), "pickled"),
    (lambda p: np.save(p, np.ones(10, np.float32) / np.sqrt(10)), "shape (10,)"),
    (lambda p: np.save(p, np.full(256, np.nan, np.float32)), "NaN"),
])
def test_bad_speaker_file(tmp_path, make, fragment):
    spk = tmp_path / "s.npy"
    make(spk)
    out = tmp_path / "o.wav"
    res = run_cli("speak", "hello", "--speaker", spk, "--out", out)
    assert_one_line_error(res, fragment, str(spk))
    assert not out.exists()


def test_tampered_bundle_is_refused(tmp_path, bundle_copy):
    f = bundle_copy / "acoustic_decoder.onnx"
    data = bytearray(f.read_bytes())
    data[-100] ^= 0x01
    f.write_bytes(bytes(data))
    out = tmp_path / "o.wav"
    res = run_cli("speak", "hello", "--bundle", bundle_copy, "--out", out)
    assert_one_line_error(res, "acoustic_decoder.onnx", "sha256")
    assert not out.exists()


def test_existing_wav_survives_a_failed_run(tmp_path):
    out = tmp_path / "keep.wav"
    out.write_bytes(b"precious")
    res = run_cli("speak", "", "--out", out)
    assert res.returncode == 2
    assert out.read_bytes() == b"precious"


def test_speak_never_imports_torch(tmp_path):
    """The device path must run where torch is not installed."""
    import subprocess
    import sys
    code = ("import sys; sys.modules['torch'] = None; sys.modules['onnx'] = None\n"
            "from edgevc.cli import main\n"
            f"main(['speak', 'Hello.', '--out', {str(tmp_path / 'a.wav')!r}])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert res.returncode == 0, res.stderr.decode()
    assert (tmp_path / "a.wav").stat().st_size > 1000


def test_sigterm_stops_cleanly_with_143_and_no_half_file(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    out = tmp_path / "long.wav"
    proc = subprocess.Popen([sys.executable, "-m", "edgevc", "speak",
                             "This is a long text that keeps going. " * 300, "--out", str(out)],
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not any(tmp_path.iterdir()) and time.monotonic() < deadline:  # writing has begun
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err.decode()
    assert b"Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("hide, fragment", [
    ("edgevc.export", "needs the host toolchain"),   # a device install: no toolchain at all
    ("torch", "needs the host toolchain"),           # the toolchain without its [export] extra
])
def test_export_without_the_toolchain_is_one_line(tmp_path, hide, fragment):
    code = (f"import sys; sys.modules[{hide!r}] = None\n"
            "from edgevc.cli import main\n"
            f"main(['export', '--judge', '0', '-o', {str(tmp_path / 'b')!r}])\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert res.returncode == 1
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0]
    assert "pip install '.[export]' ./export/checkpoints" in lines[0]
    assert not (tmp_path / "b").exists()


def test_train_without_the_toolchain_is_one_line():
    code = ("import sys; sys.modules['edgevc.export'] = None\n"
            "from edgevc.cli import main\n"
            "main(['train', 'recipe', 'recipes/vocoder.toml', '--dry-run'])\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert res.returncode == 1
    assert res.stderr.decode().strip().splitlines() == [
        "edgevc: error: edgevc train needs the host toolchain: "
        "pip install '.[export]' ./export/checkpoints (in an edgevc clone)"]
