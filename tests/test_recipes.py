"""`edgevc train`: the stage table, recipes (checks, variables, --set, --only/--from) and
the dry run. Nothing here trains: the one recipe that runs plots a made-up loss.csv."""

import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest

from edgevc.export import recipe, stages
from edgevc.export.recipe import RecipeError

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "recipes").glob("*.toml"))


def write(tmp_path: Path, text: str, name: str = "r.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def train(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "edgevc", "train", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


# ------------------------------------------------------------------------ the stages

def test_the_stage_table_covers_the_toolchain():
    assert {"prepare", "teacher-corpus", "aligner", "acoustic", "vocoder", "encoder", "g2p",
            "voicing", "distil", "gta-mels", "release", "export", "judge"} <= set(stages.STAGES)


@pytest.mark.parametrize("name", list(stages.STAGES))
def test_every_stage_loads_an_entry_point_and_its_options(name):
    stage = stages.STAGES[name]
    target = stages.load(name)
    if stage.attr == "main":
        # main(argv) where the module could be changed; main() reading sys.argv where not
        params = list(inspect.signature(target).parameters)
        assert params == (["argv"] if stage.takes_argv else []), (name, params)
    else:
        assert isinstance(target, click.Command)
    assert stages.options(name).by_key, name


def test_a_stage_runs_its_module_with_the_arguments_given(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "loss.csv").write_text("step,seconds,mel\n10,1,0.5\n20,2,0.4\n")
    argv = sys.argv
    assert stages.run("plot-losses", [str(tmp_path / "run"), "-o", str(tmp_path / "l.png")]) == 0
    assert (tmp_path / "l.png").stat().st_size > 1000
    assert sys.argv is argv


def test_stage_help_is_the_modules_own():
    res = train("aligner", "--help")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: edgevc train aligner")
    assert "--max-frames" in res.stdout and "--extract" in res.stdout


def test_listing_the_stages_loads_no_torch():
    code = ("import sys\nfrom edgevc.cli import main\n"
            "try:\n    main(['train', '--help'])\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert "acoustic" in res.stdout and "recipe" in res.stdout
    assert res.stdout.splitlines()[-1] == "False"


# ---------------------------------------------------------------- the shipped recipes

@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_recipe_in_recipes_checks(path):
    r = recipe.load(path)
    assert r.description and r.steps


def test_the_default_voice_recipe_holds_the_shipped_settings():
    r = recipe.load(ROOT / "recipes" / "default_voice_s8.toml")
    steps = {s.name: " ".join(s.argv) for s in r.steps}
    assert "--steps 5800 --lr 0.0005 --oversample kokoro-af_heart=2" in steps["acoustic-2"]
    assert "--init runs/acoustic_s7.pt" in steps["acoustic-1"]
    assert "--cache runs/train3.npz --default-speaker kokoro-af_heart" in steps["release"]
    assert "--quantize int8" in steps["export"] and "--judge 24" in steps["export"]
    assert [s.stage for s in r.steps].count("teacher-corpus") == 3


# ------------------------------------------------------------ variables and commands

SMALL = """\
    description = "two steps"
    [vars]
    runs = "runs"
    cache = "${runs}/cache.npz"

    [[step]]
    name = "align"
    stage = "aligner"
    [step.options]
    cache = "${cache}"
    run = "${runs}/aligner"
    steps = 1500
    lr = 1e-3

    [[step]]
    name = "merge"
    stage = "prepare"
    [step.options]
    merge = ["${runs}/a.npz", "${runs}/b.npz"]
    corpus = ["x", "y"]
    augment-all = true
    include-heldout = false
    o = "${cache}"

    [[step]]
    name = "export"
    stage = "export"
    [step.options]
    quantize = "int8"
    distill = false
    judge = 0
    out = "${runs}/bundle"
"""


def test_variables_flags_lists_and_overrides(tmp_path):
    path = write(tmp_path, SMALL)
    align, merge, export = recipe.load(path).steps
    assert align.argv == ("--cache", "runs/cache.npz", "--run", "runs/aligner",
                          "--steps", "1500", "--lr", "0.001")
    # nargs: one flag, several values; append: the flag per value; a false flag: left out
    assert merge.argv == ("--merge", "runs/a.npz", "runs/b.npz", "--corpus", "x",
                          "--corpus", "y", "--augment-all", "--out", "runs/cache.npz")
    assert export.argv == ("--quantize", "int8", "--no-distill", "--judge", "0",
                           "--out", "runs/bundle")
    # an override reaches the variables built from it
    moved = recipe.load(path, {"runs": "/data/r"})
    assert moved.vars["cache"] == "/data/r/cache.npz"
    assert moved.steps[0].argv[:2] == ("--cache", "/data/r/cache.npz")


def test_only_and_from_pick_steps(tmp_path):
    r = recipe.load(write(tmp_path, SMALL))
    assert [s.name for s in r.select(("merge",))] == ["merge"]
    assert [s.name for s in r.select(("aligner", "export"))] == ["align", "export"]
    assert [s.name for s in r.select(start="merge")] == ["merge", "export"]
    assert [s.name for s in r.select(("align",), start="merge")] == []
    with pytest.raises(RecipeError, match="--only nope: no such step or stage"):
        r.select(("nope",))
    with pytest.raises(RecipeError, match="--from nope: no such step"):
        r.select(start="nope")


def test_dry_run_prints_the_commands_and_runs_nothing(tmp_path):
    path = write(tmp_path, SMALL)
    res = train("recipe", path, "--dry-run", "--set", f"runs={tmp_path}/r", "--only", "align",
                "--only", "merge")
    assert res.returncode == 0, res.stderr
    r = f"{tmp_path}/r"
    assert res.stdout.splitlines() == [
        "# [1/2] align",
        f"edgevc train aligner --cache {r}/cache.npz --run {r}/aligner --steps 1500 --lr 0.001",
        "# [2/2] merge",
        f"edgevc train prepare --merge {r}/a.npz {r}/b.npz --corpus x --corpus y "
        f"--augment-all --out {r}/cache.npz",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.toml"]


def test_a_recipe_runs_its_steps_and_stops_at_a_failure(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "loss.csv").write_text("step,seconds,ctc\n10,1,2.0\n20,2,1.5\n")
    path = write(tmp_path, """\
        [vars]
        dir = "."
        [[step]]
        name = "plot"
        stage = "plot-losses"
        args = ["${dir}/run"]
        options = { o = "${dir}/losses.png", smooth = 1 }
        [[step]]
        name = "broken"
        stage = "plot-losses"
        args = ["${dir}/no-such-run"]
        options = { o = "${dir}/never.png" }
        [[step]]
        name = "after"
        stage = "plot-losses"
        args = ["${dir}/run"]
        options = { o = "${dir}/after.png" }
    """)
    res = train("recipe", path, "--set", f"dir={tmp_path}")
    assert res.returncode == 1
    assert (tmp_path / "losses.png").stat().st_size > 1000
    assert not (tmp_path / "never.png").exists() and not (tmp_path / "after.png").exists()
    last = res.stderr.strip().splitlines()[-1]
    assert last == (f"edgevc: error: {path}: step 'broken' failed (exit status 1); "
                    "run the rest with --from broken")


# ---------------------------------------------------------------- checks, one line each

STEP = '[[step]]\nname = "a"\nstage = "aligner"\n'
ALIGN = STEP + '[step.options]\ncache = "c.npz"\nrun = "r"\n'


@pytest.mark.parametrize("text, message", [
    ("[[step", "not valid TOML"),
    ('descripton = "x"\n' + ALIGN, "the recipe: unknown key 'descripton' (did you mean "
                                   "'description'?)"),
    ('description = "x"\n', "no steps"),
    ('[[step]]\nname = "a"\nstage = "acustic"\n',
     "step 1 'a': unknown stage 'acustic' (did you mean 'acoustic'?)"),
    ('[[step]]\nstage = "aligner"\n', "step 1: needs a name"),
    (STEP + "option = {}\n", "step 1 'a': unknown key 'option' (did you mean 'options'?)"),
    (ALIGN + "stepz = 3\n", "step 1 'a': stage aligner has no option 'stepz' (did you mean "
                            "'steps'?)"),
    (ALIGN + 'steps = "many"\n', "step 1 'a': edgevc train aligner: argument --steps: "
                                 "invalid int value: 'many'"),
    (ALIGN + "steps = true\n", "step 1 'a': option 'steps': takes a value, not true or false"),
    (ALIGN + 'lr = [1, 2]\n', "step 1 'a': option 'lr': takes one value, not a list"),
    (ALIGN + "extract = { x = 1 }\n", "option 'extract': values must be strings or numbers"),
    (STEP + '[step.options]\ncache = "c.npz"\n',
     "step 1 'a': edgevc train aligner: the following arguments are required: --run"),
    (ALIGN + 'cache2 = "${nope}"\n', "has no option 'cache2'"),
    (STEP + '[step.options]\ncache = "${nope}/c.npz"\nrun = "r"\n',
     "step 1 'a': option 'cache': unknown variable ${nope} (vars: none)"),
    ('[vars]\nruns = "r"\n' + STEP + '[step.options]\ncache = "${run}/c"\nrun = "r"\n',
     "unknown variable ${run} (did you mean 'runs'?)"),
    (STEP + '[step.options]\ncache = "${runs/c"\nrun = "r"\n', "'${' without its closing"),
    ('[vars]\na = "${b}"\nb = "${a}"\n' + ALIGN, "[vars] a: refers to itself through a -> b -> a"),
    ('[vars]\nflag = true\n' + ALIGN, "[vars] flag: must be a string or a number"),
    (ALIGN + ALIGN, "step 2 'a': the name is taken by an earlier step"),
    (STEP + 'args = ["x"]\n[step.options]\ncache = "c"\nrun = "r"\n',
     "step 1 'a': args: stage aligner takes no positional"),
    (ALIGN + 'args = ["x"]\n', "no option 'args': write the step's 'args' above its "
                               "[step.options]"),
    ('[[step]]\nname = "p"\nstage = "prepare"\n[step.options]\naugment-all = "yes"\no = "c"\n',
     "step 1 'p': option 'augment-all': a flag: true or false"),
    ('[[step]]\nname = "e"\nstage = "encoder"\n[step.options]\ncache = "c"\nrun = "r"\n'
     'teacher = "offline"\n', "option 'teacher': 'offline' is not one of cache, online"),
    ('[[step]]\nname = "x"\nstage = "export"\n[step.options]\nquantize = "int4"\nout = "b"\n',
     "step 1 'x': option 'quantize': 'int4' is not one of int8, fp16, none"),
    ('[[step]]\nname = "x"\nstage = "export"\n[step.options]\nquantize = "int8"\n',
     "step 1 'x': edgevc train export: Missing option '-o' / '--out'."),
    ('[[step]]\nname = "x"\nstage = "export"\n[step.options]\njudge = 30\nout = "b"\n',
     "step 1 'x': edgevc train export: Invalid value for '--judge': 30 is not in the range"),
])
def test_a_bad_recipe_is_one_line_naming_file_and_step(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(RecipeError) as e:
        recipe.load(path)
    assert str(e.value).startswith(f"{path}: ")
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_set_of_an_unknown_variable_is_refused(tmp_path):
    path = write(tmp_path, '[vars]\nruns = "r"\n' + ALIGN)
    with pytest.raises(RecipeError, match=r"--set rns: the recipe has no such variable "
                                          r"\(vars: runs\)"):
        recipe.load(path, {"rns": "x"})
    with pytest.raises(recipe.InputError, match="expected NAME=VALUE"):
        recipe.parse_sets(["runs"])


def test_the_cli_refuses_a_bad_recipe_with_one_line_and_exit_2(tmp_path):
    path = write(tmp_path, ALIGN + "stepz = 3\n")
    res = train("recipe", path, "--dry-run")
    assert res.returncode == 2
    assert res.stdout == ""
    assert res.stderr.strip().splitlines() == [
        f"edgevc: error: {path}: step 1 'a': stage aligner has no option 'stepz' (did you "
        "mean 'steps'?) (see edgevc train aligner --help)"]
