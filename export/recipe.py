"""Recipes: the steps that made a model, in a TOML file, run by `edgevc train recipe FILE`.

    description = "what this recipe makes"
    [vars]                            # ${name} in any option value; --set name=VALUE overrides
    runs = "runs"
    cache = "${runs}/cache.npz"
    [[step]]
    name = "aligner"                  # --only and --from name steps (or stages)
    stage = "aligner"                 # a stage of `edgevc train` (export/stages.py)
    options = { cache = "${cache}", run = "${runs}/aligner", steps = 1500, lr = 1e-3 }
    args = []                         # positional arguments, for the stages that take them

An option key is the stage's flag without its dashes (`save-every`, `o`). A value is a
string or number (`--key VALUE`), a list (`--key A B` where the flag takes several values,
`--key A --key B` where it repeats), or a boolean for a flag (true gives it, false leaves
it out, or gives its `--no-` form). The whole recipe is checked before anything runs:
every stage, key and variable, and every step's command line against the stage's own
parser. Each step then runs in a process of its own, as `python -m edgevc train STAGE ...`:
torch's thread settings and memory do not carry from one step to the next.
"""

from __future__ import annotations

import difflib
import logging
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgevc.errors import EdgevcError, InputError
from edgevc.export import stages

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, shipped as tomli (a dependency there)
    import tomli as tomllib

log = logging.getLogger(__name__)

TOP_KEYS = ("description", "vars", "step")
STEP_KEYS = ("name", "stage", "options", "args")
_VAR = re.compile(r"\$\{([^}]*)\}")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_STEP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class RecipeError(InputError):
    """A recipe that cannot run as written: one line naming the file and the step."""


@dataclass(frozen=True)
class Step:
    name: str
    stage: str
    argv: tuple[str, ...]

    def command(self) -> list[str]:
        """The command a user would type for this step."""
        return ["edgevc", "train", self.stage, *self.argv]


@dataclass(frozen=True)
class Recipe:
    path: Path
    description: str
    vars: dict[str, str]
    steps: tuple[Step, ...]

    def select(self, only: tuple[str, ...] = (), start: str | None = None) -> list[Step]:
        """The steps to run: from `start` on (a step's name), and of those only the steps
        or stages named in `only`, in the recipe's order."""
        names = {s.name for s in self.steps}
        known = names | {s.stage for s in self.steps}
        for want in only:
            if want not in known:
                raise RecipeError(f"{self.path}: --only {want}: no such step or stage here "
                                  f"(steps: {', '.join(s.name for s in self.steps)})")
        steps = list(self.steps)
        if start is not None:
            if start not in names:
                raise RecipeError(f"{self.path}: --from {start}: no such step "
                                  f"(steps: {', '.join(s.name for s in self.steps)})")
            steps = steps[[s.name for s in steps].index(start):]
        if only:
            steps = [s for s in steps if s.name in only or s.stage in only]
        return steps


def load(path: str | Path, overrides: dict[str, str] | None = None) -> Recipe:
    """Read and check a recipe; `overrides` replace [vars] entries (--set NAME=VALUE)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise RecipeError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise RecipeError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise RecipeError(f"{path}: not valid TOML: {e}") from None
    _no_unknown(path, "the recipe", data, TOP_KEYS)
    description = data.get("description", "")
    if not isinstance(description, str):
        raise RecipeError(f"{path}: description: must be a string")
    variables = _variables(path, data.get("vars", {}), overrides or {})
    raw_steps = data.get("step")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise RecipeError(f"{path}: no steps: add [[step]] tables")
    steps: list[Step] = []
    for i, raw in enumerate(raw_steps, 1):
        step = _step(path, i, raw, variables)
        if any(s.name == step.name for s in steps):
            raise RecipeError(f"{path}: step {i} '{step.name}': the name is taken by an "
                              "earlier step")
        steps.append(step)
    return Recipe(path, description, variables, tuple(steps))


def _no_unknown(path: Path, where: str, table: dict, allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            raise RecipeError(f"{path}: {where}: unknown key '{key}'{_did_you_mean(key, allowed)}"
                              f" (known: {', '.join(allowed)})")


def _did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _variables(path: Path, table: Any, overrides: dict[str, str]) -> dict[str, str]:
    """[vars] with the overrides applied, every ${name} in them resolved."""
    if not isinstance(table, dict):
        raise RecipeError(f"{path}: vars: must be a table ([vars])")
    raw: dict[str, str] = {}
    for name, value in table.items():
        if not _VAR_NAME.fullmatch(name):
            raise RecipeError(f"{path}: [vars] {name}: not a variable name (letters, digits, "
                              "_ and -, not first a digit)")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise RecipeError(f"{path}: [vars] {name}: must be a string or a number")
        raw[name] = _text(value)
    for name, value in overrides.items():
        if name not in raw:  # a typo would otherwise be silently ignored
            raise RecipeError(f"{path}: --set {name}: the recipe has no such variable "
                              f"(vars: {', '.join(raw) or 'none'})")
        raw[name] = value
    resolved: dict[str, str] = {}

    def get(name: str, chain: tuple[str, ...]) -> str:
        if name in resolved:
            return resolved[name]
        if name in chain:
            raise RecipeError(f"{path}: [vars] {chain[0]}: refers to itself through "
                              f"{' -> '.join((*chain, name))}")
        value = _substitute(raw[name], lambda n: get(n, (*chain, name)), raw,
                            f"{path}: [vars] {name}")
        resolved[name] = value
        return value

    for name in raw:
        get(name, ())
    return resolved


def _substitute(text: str, lookup, known, where: str) -> str:
    def one(m: re.Match) -> str:
        name = m.group(1)
        if not _VAR_NAME.fullmatch(name):
            raise RecipeError(f"{where}: '${{{name}}}' is not a variable reference")
        if name not in known:
            raise RecipeError(f"{where}: unknown variable ${{{name}}}"
                              f"{_did_you_mean(name, known)} (vars: {', '.join(known) or 'none'})")
        return lookup(name)

    if "${" in _VAR.sub("", text):
        raise RecipeError(f"{where}: '${{' without its closing '}}'")
    return _VAR.sub(one, text)


def _text(value: Any) -> str:
    # repr keeps a float's digits (5e-4 -> '0.0005', 1e-05 stays '1e-05'); str for the rest
    return repr(value) if isinstance(value, float) else str(value)


def _step(path: Path, i: int, raw: Any, variables: dict[str, str]) -> Step:
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: step {i}: must be a table ([[step]])")
    name = raw.get("name")
    label = f"step {i}" + (f" '{name}'" if isinstance(name, str) else "")
    where = f"{path}: {label}"
    _no_unknown(path, label, raw, STEP_KEYS)
    if not isinstance(name, str) or not _STEP_NAME.fullmatch(name):
        raise RecipeError(f"{where}: needs a name (letters, digits, '.', '_', '-')")
    stage = raw.get("stage")
    if not isinstance(stage, str) or stage not in stages.STAGES:
        raise RecipeError(f"{where}: unknown stage {stage!r}"
                          f"{_did_you_mean(str(stage), stages.STAGES)}"
                          f" (stages: {', '.join(stages.STAGES)})")
    options = raw.get("options", {})
    args = raw.get("args", [])
    if not isinstance(options, dict):
        raise RecipeError(f"{where}: options: must be a table")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise RecipeError(f"{where}: args: must be a list of strings")

    def subst(text: str, key: str) -> str:
        return _substitute(text, variables.__getitem__, variables, f"{where}: {key}")

    try:
        spec = stages.options(stage)
    except EdgevcError as e:
        raise RecipeError(f"{where}: {e}") from None
    argv = [subst(a, "args") for a in args]
    if argv and not spec.positional:
        raise RecipeError(f"{where}: args: stage {stage} takes no positional arguments")
    for key, value in options.items():
        argv += _option_argv(where, stage, spec, key, value, subst)
    try:
        spec.check(argv)
    except ValueError as e:
        raise RecipeError(f"{where}: edgevc train {stage}: {e}") from None
    return Step(name, stage, tuple(argv))


def _option_argv(where: str, stage: str, spec: stages.Options, key: str, value: Any,
                 subst) -> list[str]:
    opt = spec.by_key.get(key)
    if opt is None and key in STEP_KEYS:  # TOML puts every key after [step.options] in it
        raise RecipeError(f"{where}: stage {stage} has no option '{key}': write the step's "
                          f"'{key}' above its [step.options]")
    if opt is None:
        raise RecipeError(f"{where}: stage {stage} has no option '{key}'"
                          f"{_did_you_mean(key, spec.by_key)} (see edgevc train {stage} --help)")
    here = f"{where}: option '{key}'"
    if opt.takes == "flag":
        if not isinstance(value, bool):
            raise RecipeError(f"{here}: a flag: true or false")
        return [opt.flag] if value else ([opt.off] if opt.off else [])
    if isinstance(value, bool):
        raise RecipeError(f"{here}: takes a value, not true or false")
    values = value if isinstance(value, list) else [value]
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise RecipeError(f"{here}: values must be strings or numbers")
    texts = [subst(_text(v), f"option '{key}'") for v in values]
    if opt.choices is not None:
        for t in texts:
            if t not in map(str, opt.choices):
                raise RecipeError(f"{here}: {t!r} is not one of {', '.join(map(str, opt.choices))}")
    if opt.takes == "repeat":
        return [part for t in texts for part in (opt.flag, t)]
    if opt.takes == "many":  # [] writes out the default: no flag
        return [opt.flag, *texts] if texts else []
    if isinstance(value, list):
        raise RecipeError(f"{here}: takes one value, not a list")
    return [opt.flag, texts[0]]


def parse_sets(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """--set NAME=VALUE pairs as a dict."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InputError(f"--set {pair}: expected NAME=VALUE")
        out[name] = value
    return out


def dry_run_lines(steps: list[Step]) -> list[str]:
    """The commands as a shell script would hold them, each under its step's name."""
    lines = []
    for i, step in enumerate(steps, 1):
        lines += [f"# [{i}/{len(steps)}] {step.name}", shlex.join(step.command())]
    return lines


def run(recipe: Recipe, steps: list[Step]) -> None:
    """Run the steps in order, each in its own process; stop at the first that fails."""
    for i, step in enumerate(steps, 1):
        log.info("[%d/%d] %s: %s", i, len(steps), step.name, shlex.join(step.command()))
        rc = subprocess.run([sys.executable, "-m", "edgevc", "train", step.stage, *step.argv],
                            check=False).returncode
        if rc != 0:
            raise EdgevcError(f"{recipe.path}: step '{step.name}' failed (exit status {rc}); "
                              f"run the rest with --from {step.name}")
    log.info("%s: %d steps done", recipe.path, len(steps))
