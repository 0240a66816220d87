"""What machine a benchmark ran on and how it was started, for the results files (shared
by the scripts here)."""

import platform
import shlex
import sys
from pathlib import Path


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def command(name: str, args: list[str] | None = None) -> str:
    """The command that runs benchmark `name` with `args` (default: this process's
    arguments) again, as typed at the repository root: `python -m benchmarks.NAME ...`.
    (Under -m, sys.argv[0] is the module's full path, not what was typed.)"""
    return shlex.join(["python", "-m", f"benchmarks.{name}",
                       *(sys.argv[1:] if args is None else args)])
