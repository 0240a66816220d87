"""edgevc serve's parts on their own: settings, the speakers folder, the speech queue."""

import os
import threading
import time

import numpy as np
import pytest

from edgevc.errors import InputError
from edgevc.serve.config import load_config
from edgevc.serve.queue import Job, QueueFull, SpeechQueue
from edgevc.serve.speakers import SpeakerLibrary, UnknownVoice
from edgevc.voice import SynthesisConfig

# -- settings --------------------------------------------------------------------------


def test_flags_override_the_file_and_defaults_fill_the_rest(tmp_path):
    f = tmp_path / "serve.toml"
    f.write_text('uri = "tcp://0.0.0.0:10200"\nmax_queue = 4\nrate = 1.2\n')
    c = load_config(str(f), max_queue=9, http=None)
    assert c.wyoming_address == ("0.0.0.0", 10200)
    assert c.http_address == ("127.0.0.1", 5500)  # loopback unless told otherwise
    assert c.max_queue == 9 and c.synthesis.rate == 1.2
    assert load_config(str(f), http="").http is None


@pytest.mark.parametrize("toml, msg", [
    ('max_queu = 3', "unknown key 'max_queu'"),
    ('token = "secretsecret"', "token_file"),
    ('max_queue = "3"', "max_queue = '3' is not a int"),
    ('rate = 9.0', "rate 9.0"),
    ('max_queue = 0', "max_queue 0"),
    ('uri = "http://x:1"', "only tcp://"),
    ('http = "0.0.0.0"', "HOST:PORT"),
    ('http = "example.com:80"', "IP address"),
    ('uri = ""\nhttp = ""', "nothing to serve"),
    ('speakers = "/no/such/dir"', "not a folder"),
    ('rate = ', "not valid TOML"),
])
def test_bad_settings_are_one_line_naming_them(tmp_path, toml, msg):
    f = tmp_path / "serve.toml"
    f.write_text(toml + "\n")
    with pytest.raises(InputError, match=msg) as e:
        load_config(str(f))
    assert "\n" not in str(e.value)


def test_token_file(tmp_path):
    f = tmp_path / "token"
    f.write_text("s3cret-token-value\n")
    assert load_config(token_file=str(f)).bearer_token() == "s3cret-token-value"
    f.write_text("short\n")
    with pytest.raises(InputError, match="8 or more"):
        load_config(token_file=str(f)).bearer_token()
    with pytest.raises(InputError, match="token file"):
        load_config(token_file=str(tmp_path / "none")).bearer_token()
    assert load_config().bearer_token() is None

# -- speakers folder -------------------------------------------------------------------


def _vec(seed, dim=8):
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


class CountingLoader:
    def __init__(self, dim=8):
        self.calls, self.dim = 0, dim

    def __call__(self, path):
        self.calls += 1
        v = np.load(path, allow_pickle=False)
        if v.shape != (self.dim,):
            raise InputError(f"speaker file {path}: shape {v.shape}")
        return v


def test_voices_are_default_plus_folder_files_seen_live(tmp_path):
    load = CountingLoader()
    lib = SpeakerLibrary(tmp_path, load)
    assert lib.names() == ["default"]
    np.save(tmp_path / "anna.npy", _vec(1))
    np.save(tmp_path / "bob.npy", _vec(2))
    (tmp_path / "notes.txt").write_text("not a voice")
    assert lib.names() == ["default", "anna", "bob"]
    assert lib.get(None) is None and lib.get("default") is None
    np.testing.assert_array_equal(lib.get("anna"), _vec(1))
    lib.get("anna"), lib.names()
    assert load.calls == 2  # each file read once, however often it is asked for
    time.sleep(0.01)
    np.save(tmp_path / "anna.npy", _vec(3))  # replaced: read again
    np.testing.assert_array_equal(lib.get("anna"), _vec(3))
    os.unlink(tmp_path / "bob.npy")
    assert lib.names() == ["default", "anna"]
    with pytest.raises(UnknownVoice, match="not found"):
        lib.get("bob")


def test_a_broken_file_is_not_listed_and_says_why(tmp_path):
    lib = SpeakerLibrary(tmp_path, CountingLoader())
    np.save(tmp_path / "wide.npy", np.ones(3, np.float32))
    assert lib.names() == ["default"]
    with pytest.raises(InputError, match=r"voice 'wide': unusable .*wide\.npy: shape") as e:
        lib.get("wide")
    assert str(tmp_path) not in str(e.value)  # no server paths in client errors


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/b", "..", ".hidden", "", "x" * 65,
                                  "sub/anna", "anna.npy/..", "anna\x00"])
def test_no_name_reaches_outside_the_folder(tmp_path, name):
    (tmp_path / "spk").mkdir()
    (tmp_path / "sub").mkdir()
    np.save(tmp_path / "x.npy", _vec(1))
    np.save(tmp_path / "sub" / "anna.npy", _vec(1))
    lib = SpeakerLibrary(tmp_path / "spk", CountingLoader())
    with pytest.raises(InputError):
        lib.get(name)


def test_a_link_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "spk").mkdir()
    np.save(tmp_path / "outside.npy", _vec(1))
    os.symlink(tmp_path / "outside.npy", tmp_path / "spk" / "evil.npy")
    np.save(tmp_path / "spk" / "real.npy", _vec(2))
    os.symlink(tmp_path / "spk" / "real.npy", tmp_path / "spk" / "alias.npy")
    load = CountingLoader()
    lib = SpeakerLibrary(tmp_path / "spk", load)
    with pytest.raises(InputError, match="outside the speakers folder"):
        lib.get("evil")
    assert lib.names() == ["default", "alias", "real"]
    assert load.calls == 2  # the outside file was never read

# -- queue -----------------------------------------------------------------------------


class Recorder:
    """A job runner that 'speaks' for `seconds` each, stopping early when asked."""

    def __init__(self, seconds=0.2):
        self.seconds, self.log, self.fail_on = seconds, [], None

    def __call__(self, job):
        if job.text == self.fail_on:
            raise RuntimeError("boom")
        t0 = time.monotonic()
        while time.monotonic() - t0 < self.seconds and not job.stop.is_set():
            time.sleep(0.005)
        self.log.append((job.text, "stopped" if job.stop.is_set() else "done"))


def _job(text):
    return Job(text, None, SynthesisConfig(), "default")


def _wait(cond, timeout=5):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_jobs_run_in_order_and_a_full_queue_refuses():
    rec = Recorder(0.1)
    q = SpeechQueue(rec, max_queue=2)
    try:
        jobs = [_job("a")]
        q.submit(jobs[0])
        _wait(lambda: q.current is not None)
        for t in "bc":
            jobs.append(_job(t))
            q.submit(jobs[-1])
        with pytest.raises(QueueFull, match="full"):
            q.submit(_job("d"))
        for j in jobs:
            assert j.done.wait(5)
        assert rec.log == [("a", "done"), ("b", "done"), ("c", "done")]
        assert [j.state for j in jobs] == ["done"] * 3
    finally:
        q.close()


@pytest.mark.parametrize("drop", [True, False])
def test_stop_stops_the_current_job_and_drops_or_keeps_the_rest(drop):
    rec = Recorder(5.0)
    q = SpeechQueue(rec, max_queue=8)
    try:
        jobs = [_job(t) for t in "abc"]
        for j in jobs:
            q.submit(j)
        _wait(lambda: q.current is jobs[0])
        t0 = time.monotonic()
        r = q.stop(drop_queue=drop)
        assert jobs[0].done.wait(1) and time.monotonic() - t0 < 0.1
        assert r == {"stopped": True, "dropped": 2 if drop else 0, "kept": 0 if drop else 2}
        if drop:
            assert [j.state for j in jobs] == ["stopped"] * 3 and len(q) == 0
            assert rec.log == [("a", "stopped")]
        else:
            _wait(lambda: q.current is jobs[1])
    finally:
        q.close()


def test_priority_interrupts_and_goes_first():
    rec = Recorder(0.3)
    q = SpeechQueue(rec, max_queue=8)
    try:
        a, b, urgent = _job("a"), _job("b"), _job("urgent")
        q.submit(a)
        q.submit(b)
        _wait(lambda: q.current is a)
        assert q.submit(urgent, priority=True) == 0
        assert b.done.wait(5)
        assert rec.log == [("a", "stopped"), ("urgent", "done"), ("b", "done")]
    finally:
        q.close()


def test_a_failing_job_is_reported_and_the_worker_goes_on():
    rec = Recorder(0.01)
    rec.fail_on = "bad"
    q = SpeechQueue(rec, max_queue=8)
    try:
        bad, good = _job("bad"), _job("good")
        q.submit(bad)
        q.submit(good)
        assert good.done.wait(5)
        assert (bad.state, bad.error) == ("failed", "RuntimeError: boom")
        assert good.state == "done" and q.failed == 1
    finally:
        q.close()


def test_cancel_forgets_a_waiting_job():
    rec = Recorder(0.2)
    q = SpeechQueue(rec, max_queue=8)
    try:
        a, b = _job("a"), _job("b")
        q.submit(a)
        q.submit(b)
        _wait(lambda: q.current is a)
        q.cancel(b)
        assert b.state == "stopped" and len(q) == 0
        assert a.done.wait(5)
        time.sleep(0.05)
        assert rec.log == [("a", "done")]
    finally:
        q.close()


def test_close_wakes_an_idle_worker():
    q = SpeechQueue(Recorder(), max_queue=1)
    t0 = time.monotonic()
    q.close()
    assert time.monotonic() - t0 < 1
    assert not any(t.name == "edgevc-serve-worker" and t.is_alive() and t is q._worker
                   for t in threading.enumerate())

# -- FIFO lines ------------------------------------------------------------------------


def test_fifo_lines_split_across_reads_and_long_lines_dropped_whole():
    from edgevc.serve.fifo import split_lines
    buf, state = bytearray(), {}
    got = []
    for piece in [b"on", b"e\ntw", b"o\n" + b"x" * 6, b"x" * 6, b"xx\nthree\n", b"y" * 20 + b"\nfour"]:
        got += split_lines(buf, piece, 10, state)
    assert got == [b"one", b"two", b"three"]
    assert split_lines(buf, b"\n", 10, state) == [b"four"]


def test_serve_imports_nothing_from_the_toolchain():
    import subprocess
    import sys
    code = ("import sys, edgevc.cli, edgevc.serve.app, edgevc.serve.http, edgevc.serve.wyoming, "
            "edgevc.serve.fifo; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch' "
            "or m.startswith(('edgevc.export', 'edgevc.quantize'))))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
