import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgevc.runtime.bundle import default_bundle_dir


def run_cli(*args, input=None, env=None, timeout=300):
    """Run `python -m edgevc ARGS` in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "edgevc", *map(str, args)], input=input,
                          capture_output=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def bundle_copy(tmp_path_factory) -> Path:
    """A private copy of the shipped bundle that tests may tamper with."""
    dst = tmp_path_factory.mktemp("bundle") / "b"
    shutil.copytree(default_bundle_dir(), dst)
    return dst


@pytest.fixture
def speech_like(tmp_path) -> Path:
    """A 3 s voiced, formant-rich WAV (a synthetic vowel sequence) at 22.05 kHz stereo."""
    import soundfile as sf
    sr = 22050
    t = np.arange(int(3 * sr)) / sr
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    wav = sum(np.sin(k * phase) / k for k in range(1, 30)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2)
    wav = 0.3 * wav / np.abs(wav).max()
    path = tmp_path / "voice.wav"
    sf.write(path, np.stack([wav, wav], axis=1), sr)
    return path
