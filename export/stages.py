"""The toolchain's stages: each a name for one step of making a model (prepare data, train,
distil, release, export, judge) and the module whose `main(argv)` does it.

`edgevc train STAGE [OPTIONS]` runs one (export/cli.py); a recipe (export/recipe.py) runs
several in order. A stage's options are its module's own, so `edgevc train STAGE --help`
shows them, and `python -m edgevc.export.MODULE` still works as before.

Importing this module costs the standard library only: `edgevc --help` lists the stages
and must not load torch. A stage's module is imported when it runs or a recipe names it.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from edgevc.errors import EdgevcError


@dataclass(frozen=True)
class Stage:
    module: str
    help: str
    extra: str = "export"  # the extra whose packages the module needs
    attr: str = "main"
    # False: main() takes no arguments and reads sys.argv (heldout.py and
    # benchmarks/quality.py, for now); the runner sets sys.argv for it.
    takes_argv: bool = True


# In the order a model is made; `edgevc train --help` lists them so.
STAGES: dict[str, Stage] = {
    "teacher-corpus": Stage("edgevc.export.teacher_corpus",
                            "Speak a corpus with the Kokoro-82M teacher", extra="tts-teacher"),
    "local-voices": Stage("edgevc.export.local_voices",
                          "Speak a corpus with flite and espeak-ng voices"),
    "transcribe": Stage("edgevc.export.transcribe", "Transcribe a corpus with Whisper",
                        extra="eval"),
    "heldout": Stage("edgevc.export.heldout", "Pick or link the held-out speakers and takes",
                     takes_argv=False),
    "prepare": Stage("edgevc.export.prepare", "Feature cache from corpora, or merge caches"),
    "aligner": Stage("edgevc.export.train_aligner",
                     "Train the aligner, or extract durations with it"),
    "speaker-judge": Stage("edgevc.export.train_speaker_judge",
                           "Train the mel speaker judge for acoustic --speaker-loss"),
    "acoustic": Stage("edgevc.export.train_acoustic", "Train the acoustic model"),
    "vocoder": Stage("edgevc.export.train_vocoder", "Train the vocoder"),
    "encoder": Stage("edgevc.export.train_speaker_encoder",
                     "Distil the speaker encoder from the GE2E teacher"),
    "g2p": Stage("edgevc.export.train_g2p", "Train the letters-to-phonemes model"),
    "voicing": Stage("edgevc.export.train_voicing", "Fit the voiced/unvoiced model"),
    "distil": Stage("edgevc.export.distill_acoustic",
                    "Distil an acoustic student from a larger teacher"),
    "factorize-film": Stage("edgevc.export.factorize_film",
                            "Factorise a full-rank speaker FiLM to low rank"),
    "gta-mels": Stage("edgevc.export.gta_mels", "Acoustic-model mels aligned with the recordings"),
    "release": Stage("edgevc.export.release", "Collect training runs into release checkpoints"),
    "export": Stage("edgevc.export.cli", "Build a bundle from the checkpoints (edgevc export)",
                    attr="export_cmd"),
    "refine-speaker": Stage("edgevc.export.refine_speaker",
                            "Fit an enrolled speaker vector to its recordings (enroll --refine)"),
    # The judged check inside `export --judge` has no command of its own; this is the full
    # benchmark, which lives in the source tree (benchmarks/), not in the installed package.
    "judge": Stage("benchmarks.quality", "Judge a bundle: Whisper WER, SECS, DNSMOS (from a "
                   "checkout)", extra="eval", takes_argv=False),
    "plot-losses": Stage("edgevc.export.plot_losses", "Plot the loss curves of runs"),
}


def load(name: str) -> Callable[..., Any]:
    """The stage's entry point: an argparse `main` or, for `export`, a click command."""
    stage = STAGES[name]
    if stage.module.startswith("benchmarks.") and importlib.util.find_spec("benchmarks") is None \
            and (Path.cwd() / "benchmarks" / "quality.py").is_file():
        # benchmarks/ is the checkout's, never installed: from its root, find it as
        # `python -m benchmarks.quality` would.
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(stage.module)
    except ImportError as e:
        if e.name == "benchmarks":
            raise EdgevcError(f"edgevc train {name} runs {stage.module}, which only a source "
                              "checkout has: run it from the repository's root") from e
        raise EdgevcError(f"edgevc train {name} needs {stage.module}: "
                          f"pip install 'edgevc[{stage.extra}]' ({e})") from e
    return getattr(module, stage.attr)


def run(name: str, argv: list[str]) -> int:
    """Run an argparse stage with these arguments; its exit status."""
    stage = STAGES[name]
    main = load(name)
    saved = sys.argv
    # argparse names itself after argv[0], and training runs record sys.argv in
    # RUN/commands.txt: both then say what was typed.
    sys.argv = [f"edgevc train {name}", *argv]
    try:
        rc = main(list(argv)) if stage.takes_argv else main()
    finally:
        sys.argv = saved
    return rc if isinstance(rc, int) else 0


# ------------------------------------------------------------------- options, for recipes

@dataclass(frozen=True)
class Option:
    """One option of a stage, as a recipe key writes it."""

    flag: str                     # "--lr", "--out"
    takes: str                    # "flag" (no value), "one", "many" (one flag, several
                                  # values: nargs), "repeat" (the flag once per value)
    off: str | None = None        # the flag that turns a boolean option off (--no-distill)
    choices: tuple | None = None


@dataclass(frozen=True)
class Options:
    by_key: dict[str, Option]     # "lr" -> --lr, "o" -> --out, "save-every" -> --save-every
    positional: bool              # takes positional arguments (a recipe step's `args`)
    # Parses a command line as the stage will, without running it: ValueError with the
    # parser's message (a missing required option, a value of the wrong type or range).
    check: Callable[[list[str]], None]


class _Parsed(Exception):
    def __init__(self, parser: argparse.ArgumentParser):
        super().__init__("parser built")
        self.parser = parser


def _capture_parser(name: str, main: Callable[..., Any]) -> argparse.ArgumentParser:
    """The parser a stage's main() builds, stopped before it parses: the modules build their
    parser inside main(), and this reads it without running anything."""

    from unittest import mock  # here: it imports asyncio, which listing stages never needs

    def stop(self, *args, **kwargs):
        raise _Parsed(self)

    with mock.patch.object(argparse.ArgumentParser, "parse_args", stop):
        try:
            main([]) if STAGES[name].takes_argv else main()
        except _Parsed as p:
            return p.parser
    raise EdgevcError(f"edgevc train {name}: {STAGES[name].module}.main() builds no parser")


def _argparse_options(parser: argparse.ArgumentParser) -> Options:
    by_key: dict[str, Option] = {}
    positional = False
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if not action.option_strings:
            positional = True
            continue
        nargs = action.nargs
        if isinstance(action, argparse._AppendAction):
            takes = "repeat"
        elif nargs == 0:
            takes = "flag"
        elif nargs in ("+", "*") or (isinstance(nargs, int) and nargs > 1):
            takes = "many"
        else:
            takes = "one"
        strings = [s for s in action.option_strings if not (
            isinstance(action, argparse.BooleanOptionalAction) and s.startswith("--no-"))]
        off = next((s for s in action.option_strings if s not in strings), None)
        choices = tuple(action.choices) if action.choices is not None else None
        for s in strings:
            by_key[s.lstrip("-")] = Option(strings[-1], takes, off, choices)

    def fail(message: str):
        raise ValueError(message)

    def check(argv: list[str]) -> None:
        parser.error = fail  # type: ignore[method-assign]  # argparse would print usage and exit
        try:
            parser.parse_args(argv)
        finally:
            del parser.error

    return Options(by_key, positional, check)


def _click_options(command) -> Options:
    import click

    by_key: dict[str, Option] = {}
    positional = False
    probe_params = []
    for p in command.params:
        q = copy.copy(p)
        if isinstance(q.type, click.Path):  # paths a recipe names are made by earlier steps
            q.type = click.STRING
        probe_params.append(q)
        if isinstance(p, click.Argument):
            positional = True
            continue
        if not isinstance(p, click.Option) or p.hidden:
            continue
        if p.is_flag:
            takes = "flag"
        elif p.multiple:
            takes = "repeat"
        elif p.nargs > 1:
            takes = "many"
        else:
            takes = "one"
        choices = tuple(p.type.choices) if isinstance(p.type, click.Choice) else None
        off = p.secondary_opts[0] if p.secondary_opts else None
        for s in p.opts:
            by_key[s.lstrip("-")] = Option(p.opts[-1], takes, off, choices)
        for s in p.secondary_opts:  # `no-distill = true` says the same as `distill = false`
            by_key[s.lstrip("-")] = Option(s, "flag")
    probe = click.Command(command.name, params=probe_params)  # parses; runs nothing

    def check(argv: list[str]) -> None:
        try:
            probe.make_context(command.name, list(argv))
        except click.ClickException as e:
            raise ValueError(e.format_message()) from None

    return Options(by_key, positional, check)


@cache
def options(name: str) -> Options:
    """What a stage accepts, read from its own parser (imports the stage's module)."""
    target = load(name)
    if STAGES[name].attr == "main":
        return _argparse_options(_capture_parser(name, target))
    return _click_options(target)
