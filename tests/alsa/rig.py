"""Test-only ALSA devices for real PortAudio playback without a sound card.

Used by tests/test_playback_alsa.py and benchmarks/playback.py (loaded by file path, so
this folder is not a package). `make_rig(folder)` writes an ALSA configuration into
`folder`, builds the clock plugin there when a C compiler and the ALSA headers are at
hand, and returns a Rig whose `env` points a subprocess at it (ALSA_CONFIG_PATH):

    edgevc_file   the ALSA `file` PCM over `null`: every sample written, instantly
    edgevc_clock  pcm_edgevc_clock.c: a real-time device that records what it played
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import numpy as np

HERE = Path(__file__).resolve().parent
FILE_DEVICE = "edgevc_file"
CLOCK_DEVICE = "edgevc_clock"

# Lists PortAudio's outputs as JSON, in a child process: PortAudio reads the ALSA
# configuration when it starts, and a broken one can abort the whole process.
_LIST_OUTPUTS = """
import json, pyaudio
pa = pyaudio.PyAudio()
try:
    print(json.dumps([pa.get_device_info_by_index(i)["name"] for i in range(pa.get_device_count())
                      if pa.get_device_info_by_index(i)["maxOutputChannels"] > 0]))
finally:
    pa.terminate()
"""


@dataclass
class Rig:
    folder: Path
    config: Path
    file_raw: Path  # what edgevc_file received
    clock_raw: Path  # what edgevc_clock played
    clock_log: Path  # edgevc_clock's events
    clock_error: str | None  # why there is no clock device; None when there is one
    env: dict = field(default_factory=dict)

    @property
    def has_clock(self) -> bool:
        return self.clock_error is None

    def reset(self) -> None:
        """Forget what earlier runs played."""
        for p in (self.file_raw, self.clock_raw, self.clock_log):
            p.unlink(missing_ok=True)

    def outputs(self) -> tuple[list[str], str | None]:
        """(PortAudio output names under this configuration, error text or None)."""
        r = subprocess.run([sys.executable, "-c", _LIST_OUTPUTS], env=self.env,
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            return [], (r.stderr.strip().splitlines() or [f"exit code {r.returncode}"])[-1]
        return json.loads(r.stdout.strip().splitlines()[-1]), None

    def file_samples(self) -> np.ndarray:
        return np.fromfile(self.file_raw, dtype="<i2")

    def clock_samples(self) -> np.ndarray:
        return np.fromfile(self.clock_raw, dtype="<i2")

    def clock_events(self) -> list[tuple[str, float, int]]:
        """[(event, CLOCK_MONOTONIC seconds, frames played so far)] from the clock's log."""
        if not self.clock_log.exists():
            return []
        out = []
        for line in self.clock_log.read_text().splitlines():
            name, t, n = line.split()
            out.append((name, float(t), int(n)))
        return out


def build_clock_plugin(folder: Path) -> tuple[Path | None, str | None]:
    """Compile pcm_edgevc_clock.c into `folder`: (library path, None) or (None, why not)."""
    cc = shutil.which(os.environ.get("CC") or "cc") or shutil.which("gcc")
    if not cc:
        return None, "no C compiler (cc) to build the test clock device"
    lib = folder / "libasound_module_pcm_edgevc_clock.so"
    # -DPIC: alsa-lib's headers then export the plugin's versioned entry symbol.
    cmd = [cc, "-shared", "-fPIC", "-DPIC", "-O2", "-o", str(lib),
           str(HERE / "pcm_edgevc_clock.c"), "-lasound"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        why = (r.stderr.strip().splitlines() or ["failed"])[0]
        return None, f"cannot build the test clock device (needs ALSA headers, libasound2-dev): {why}"
    return lib, None


def make_rig(folder: str | os.PathLike, build_clock: bool = True) -> Rig:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = {"file_raw": folder / "file.raw", "clock_raw": folder / "clock.raw",
             "clock_log": folder / "clock.log"}
    text = Template((HERE / "asoundrc.template").read_text()).substitute(names)
    lib, why = build_clock_plugin(folder) if build_clock else (None, "not built")
    if lib is not None:
        text += Template((HERE / "clock.asoundrc.template").read_text()).substitute(
            names, clock_lib=lib)
    config = folder / "asoundrc"
    config.write_text(text)
    env = dict(os.environ, ALSA_CONFIG_PATH=str(config),
               JACK_NO_START_SERVER="1",  # PortAudio also probes JACK; do not start one
               OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    return Rig(folder=folder, config=config, clock_error=why, env=env, **names)
