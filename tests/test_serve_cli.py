"""`edgevc serve` as a user runs it: a child process on free loopback ports, bad settings
as one line and exit 2, SIGUSR1 barge-in, SIGTERM / SIGINT exits."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from edgevc.runtime.bundle import default_bundle_dir
from tests.conftest import run_cli, serve_process

pytest.importorskip("aiohttp", reason="serve tests need edgevc[serve]")
pytest.importorskip("wyoming", reason="serve tests need edgevc[serve]")

LONG = " ".join(["This sentence keeps the speaker busy for a while, so it can be stopped."] * 60)


@pytest.mark.parametrize("args, msg", [
    (["--http", ""], "nothing to serve"),
    (["--uri", "http://0.0.0.0:10200"], "only tcp://"),
    (["--http", "localhost"], "HOST:PORT"),
    (["--config", "/no/such.toml"], "not found"),
    (["--speakers", "/no/such/dir"], "not a folder"),
    (["--rate", "7"], "rate 7.0"),
    (["--token-file", "/no/such/token"], "token file"),
])
def test_bad_settings_exit_2_with_one_line(args, msg):
    r = run_cli("serve", *args, timeout=60)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert msg in err and err.count("\n") == 1 and err.startswith("edgevc")


@pytest.fixture
def server(tmp_path, request):
    """`edgevc serve` in a child process; a test marked @pytest.mark.parametrize("server",
    [(extra_args, extra_env)], indirect=True) adds options and environment."""
    extra, env = getattr(request, "param", ((), {}))
    if env.get("ALSA_CONFIG_PATH") == "NOCARD":  # an ALSA whose only output cannot open
        conf = tmp_path / "nocard.asoundrc"
        conf.write_text("pcm.!default {\n    type hw\n    card 99\n}\n")
        env = {**env, "ALSA_CONFIG_PATH": str(conf), "JACK_NO_START_SERVER": "1"}
    spk = tmp_path / "speakers"
    spk.mkdir()
    shutil.copy(default_bundle_dir() / "default_speaker.npy", spk / "me.npy")
    with serve_process(["--uri", "tcp://127.0.0.1:0", "--http", "127.0.0.1:0", "--speakers", str(spk),
                        "--max-text-chars", "6000", *extra], {**os.environ, **env}) as running:
        yield running


def _get(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    return urllib.request.urlopen(req, timeout=30)


def test_serves_both_protocols_and_sigterm_exits_143(server):
    p, addrs = server
    assert addrs["wyoming"].startswith("tcp://127.0.0.1:") and addrs["http"].startswith("http://127.0.0.1:")
    voices = json.load(_get(addrs["http"] + "/voices"))["voices"]
    assert [v["name"] for v in voices] == ["default", "me"]
    wav = _get(addrs["http"] + "/speak", {"text": "Hello there.", "voice": "me", "play": False}).read()
    assert wav[:4] == b"RIFF" and len(wav) > 10000
    p.send_signal(signal.SIGTERM)
    assert p.wait(15) == 143
    assert "Traceback" not in p.stderr.read()


def test_sigusr1_stops_the_current_speech(server):
    p, addrs = server
    resp = _get(addrs["http"] + "/speak", {"text": LONG, "play": False})
    got = len(resp.read(50000))  # then stop reading: the server waits for us
    time.sleep(0.3)
    p.send_signal(signal.SIGUSR1)
    got += len(resp.read())
    full = len(_get(addrs["http"] + "/speak", {"text": LONG, "play": False}).read())
    # Stopped: what had been made was still in the socket buffers (about 1.3 MB on
    # loopback here), the rest never was.
    assert got < full / 2, (got, full)
    assert p.poll() is None  # still serving
    # The server marks a job done just after its last byte is sent, so the client can read
    # the whole body a moment before /health says so: allow that moment, not a stuck job.
    deadline = time.monotonic() + 5
    while (speaking := json.load(_get(addrs["http"] + "/health"))["speaking"]) is not None \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert speaking is None
    p.send_signal(signal.SIGINT)
    assert p.wait(15) == 130


# No sound card: ALSA's only output is a card that is not there (an empty configuration
# would make PortAudio abort the process); without PyAudio it is the same story told
# differently. Either way every output is tried and the reason reported.
@pytest.mark.parametrize("server", [(("--device", "nosuchcard"),
                                     {"ALSA_CONFIG_PATH": "NOCARD"})], indirect=True)
def test_play_without_a_sound_card_is_reported_in_health(server):
    _p, addrs = server
    r = _get(addrs["http"] + "/speak", {"text": "Hello."})
    assert r.status == 202
    deadline = time.monotonic() + 20
    while True:
        audio = json.load(_get(addrs["http"] + "/health"))["audio_output"]
        if audio["ok"] is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert audio["ok"] is False and audio["device"] == "nosuchcard"
    assert audio["error"].startswith("no audio output works (nosuchcard: ")
    assert "; default: " in audio["error"]  # the profile's output (the default) was tried too
    try:
        _get(addrs["http"] + "/speak", {"text": "Hello."})
        raise AssertionError("expected 503")
    except urllib.error.HTTPError as e:
        assert e.code == 503 and "no audio output works" in json.load(e)["error"]
    # streaming back needs no card
    assert _get(addrs["http"] + "/speak", {"text": "Hello.", "play": False}).status == 200


def test_the_kiosk_unit_runs_serve_with_options_it_accepts(tmp_path):
    import shlex
    from pathlib import Path

    from edgevc.serve.cli import serve
    from edgevc.serve.config import load_config
    unit = (Path(__file__).parents[1] / "firmware_configs" / "edgevc-kiosk.service").read_text()
    (exec_start,) = [ln.split("=", 1)[1] for ln in unit.splitlines() if ln.startswith("ExecStart=")]
    argv = shlex.split(exec_start.replace("$EDGEVC_ARGS", ""))
    assert argv[0].endswith("/edgevc") and argv[1] == "serve"
    assert "SuccessExitStatus=143" in unit  # a SIGTERM stop is not a failure
    ctx = serve.make_context("serve", argv[2:])  # every option exists
    opts = dict(ctx.params)
    (tmp_path / "spk").mkdir()
    opts.update(speakers=str(tmp_path / "spk"))
    cfg = load_config(opts.pop("config_file"), **opts)
    assert cfg.fifo == "/run/edgevc/say" and cfg.http_address == ("127.0.0.1", 5500)


def test_without_the_serve_extra_it_says_what_to_install():
    code = ("import sys; sys.modules['aiohttp'] = None; sys.modules['wyoming'] = None; "
            "from edgevc.cli import main; main(['serve', '--uri', 'tcp://127.0.0.1:0'])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "pip install 'edgevc[serve]'" in r.stderr
    help_ = subprocess.run([sys.executable, "-c", code.replace(
        "main(['serve', '--uri', 'tcp://127.0.0.1:0'])", "main(['--help'])")],
        capture_output=True, text=True, timeout=60)
    assert help_.returncode == 0 and "serve" in help_.stdout
