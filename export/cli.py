"""`edgevc export` and `edgevc train`: the toolchain's commands, which the runtime CLI finds
when the toolchain is installed (edgevc/cli.py, LAZY_COMMANDS) and never imports otherwise.

Importing this module costs click only: the torch side loads when a command runs.
"""

import json
import logging

import click

from edgevc.cli import TOOLCHAIN_MISSING
from edgevc.errors import EdgevcError
from edgevc.export import stages
from edgevc.export.mel_postfilter import MEL_SHARPEN
from edgevc.runtime.bundle import PACE_RANGE

# The shipped default voice's pace (session 13): the model speaks af_heart ~10% faster than
# the teacher, and read fewest words wrong at 1.18 (benchmarks/results/teacher_distillation.md).
DEFAULT_LENGTH_SCALE = 1.18


@click.command("export")
@click.option("--quantize", type=click.Choice(["int8", "fp16", "none"]), default="int8",
              show_default=True, help="Precision of the exported graphs.")
@click.option("--checkpoints", type=click.Path(file_okay=False, exists=True),
              help="Folder with speaker_encoder.pt, acoustic.pt, vocoder.pt and "
                   "default_speaker.npy (default: the shipped checkpoints).")
@click.option("--calibration", type=click.Path(file_okay=False, exists=True),
              help="Folder of speech recordings to calibrate int8 on (default: the "
                   "chain's own speech of built-in sentences).")
@click.option("--format", "fmt", type=click.Choice(["onnx", "tflite", "all"]), default="onnx",
              show_default=True,
              help="onnx: ONNX graphs only. tflite: also TFLite at the --quantize precision. "
                   "all: also TFLite int8 and fp16. ONNX stays as the fallback; TFLite needs "
                   "edgevc[tflite] and builds a converter venv on first use (minutes).")
@click.option("--judge", type=click.IntRange(0, 24), default=24, show_default=True, metavar="N",
              help="Speak N fixed sentences with the quantized and the fp32 chain and compare "
                   "WER, speaker similarity and DNSMOS (needs edgevc[eval]; skipped and noted "
                   "in the manifest without it). The export fails past the limits. 0: off.")
@click.option("--tflite-env", type=click.Path(file_okay=False),
              help="Converter venv to use or create (default: ~/.cache/edgevc/tflite-venv).")
@click.option("--phase", type=click.Choice(["vocoder", "excitation", "hybrid"]), default="vocoder",
              show_default=True,
              help="The bundle's default phase (`edgevc speak --phase` overrides it). "
                   "excitation and hybrid need voicing.json among the checkpoints; see the "
                   "README for what each costs and buys.")
@click.option("--distill-data", type=click.Path(dir_okay=False, exists=True), metavar="CACHE.npz",
              help="Feature cache (python -m edgevc.export.prepare) to distil students from "
                   "when one is missing or older than its teacher (acoustic.pt beside "
                   "acoustic_teacher.pt; speaker_encoder.pt from the GE2E teacher). The new "
                   "student is written into the checkpoints folder first.")
@click.option("--durations", type=click.Path(dir_okay=False, exists=True), metavar="DURATIONS.npz",
              help="Aligner durations for that cache (train_aligner --extract); needed to "
                   "distil the acoustic model.")
@click.option("--distill-steps", type=click.IntRange(1), metavar="N",
              help="Training steps per student distilled (default: acoustic 1200 from "
                   "its old weights, 4000 when missing; speaker encoder 2500; about 1 "
                   "step/s on one CPU core).")
@click.option("--distill/--no-distill", default=True, show_default=True,
              help="--no-distill exports students older than their teachers as they are.")
@click.option("--mel-sharpen", type=click.FloatRange(0, 2), default=MEL_SHARPEN, show_default=True,
              metavar="BETA",
              help="Spectral post-filter folded into the acoustic decoder: each mel frame plus "
                   "BETA times its difference from a 5-band moving average (restores the "
                   "formant contrast an L1-trained decoder smooths away; 0: none).")
@click.option("--default-length-scale", type=click.FloatRange(*PACE_RANGE), default=DEFAULT_LENGTH_SCALE,
              show_default=True, metavar="X",
              help="The default voice's pace at rate 1.0, written into the manifest: its phoneme "
                   "durations times X (above 1 slower). `speak --length-scale` and `rate` act "
                   "on top of it; enrolled speakers keep the model's pace.")
@click.option("--previous-bundle", type=click.Path(file_okay=False, exists=True), metavar="DIR",
              help="The bundle this one replaces: speaker files enrolled with it keep working "
                   "when both speaker encoders embed the same speech alike (else the export "
                   "fails). Without it, int8 calibration changes the encoder file and the new "
                   "bundle refuses speaker files from earlier ones.")
@click.option("-o", "--out", required=True, type=click.Path(), help="Bundle folder to write.")
@click.option("--force/--no-force", default=True, show_default=True,
              help="Replace an existing edgevc bundle folder (atomically). A folder holding "
                   "anything the bundle did not write is never replaced.")
@click.option("--sign", "sign_key", type=click.Path(dir_okay=False), metavar="KEY",
              help="Sign the bundle with this private key from `edgevc keygen` (writes "
                   "manifest.sig); runtimes given the public key refuse anything else.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def export_cmd(quantize, checkpoints, calibration, fmt, judge, tflite_env, phase, distill_data,
               durations, distill_steps, distill, mel_sharpen, default_length_scale, previous_bundle,
               out, force, sign_key, as_json):
    """Build a bundle from PyTorch checkpoints (host side; needs edgevc[export]).

    Distils students that are missing or older than their teachers (with --distill-data),
    exports ONNX, quantizes with calibration, checks every graph against PyTorch and its
    float version, and writes the bundle atomically: never half a bundle.

    \b
    Example:
        edgevc export --quantize int8 -o bundle-int8
        edgevc export --quantize int8 --format tflite -o bundle-pi
        edgevc export --previous-bundle bundle-int8 -o bundle-int8-v2
        edgevc export --checkpoints ckpt --distill-data cache.npz \\
            --durations durations.npz -o bundle-int8
    """
    try:
        from edgevc.export.bundle_writer import build_bundle
    except ImportError as e:  # torch, onnx: the [export] extra
        raise EdgevcError(f"{TOOLCHAIN_MISSING} ({e})") from e
    manifest = build_bundle(out, quantize, checkpoints, calibration, force=force,
                            progress=not as_json, fmt=fmt, tflite_env=tflite_env, judge=judge,
                            phase=phase, distill=distill, distill_data=distill_data,
                            durations=durations, distill_steps=distill_steps, sign_key=sign_key,
                            mel_sharpen=mel_sharpen,
                            default_length_scale=default_length_scale,
                            previous_bundle=previous_bundle)
    if as_json:
        click.echo(json.dumps(manifest, indent=2))
    else:
        total = sum(f["bytes"] for f in manifest["files"].values())
        click.echo(f"wrote {out} ({total / 1e6:.2f} MB)", err=True)


# ----------------------------------------------------------------------- edgevc train

def _show_progress(ctx: click.Context) -> None:
    """Training logs its progress at INFO, which the runtime CLI hides unless -v: show it
    here unless -q."""
    if not ctx.find_root().params.get("quiet"):
        root = logging.getLogger()
        root.setLevel(min(root.level, logging.INFO))


def _stage_command(name: str) -> click.Command:
    stage = stages.STAGES[name]

    @click.pass_context
    def run(ctx, argv):
        _show_progress(ctx)
        rc = stages.run(name, list(argv))
        if rc:
            raise SystemExit(rc)

    # The stage's module parses its own options, --help included.
    return click.Command(
        name, callback=run, short_help=stage.help, add_help_option=False,
        help=f"{stage.help}: {stage.module}; its options: edgevc train {name} --help",
        params=[click.Argument(["argv"], nargs=-1, type=click.UNPROCESSED)],
        context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})


@click.command("recipe", short_help="Run the steps of a recipe file (TOML) in order")
@click.argument("recipe_file", metavar="RECIPE.toml")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="Override a [vars] entry of the recipe (repeatable), e.g. --set runs=/tmp/runs.")
@click.option("--only", multiple=True, metavar="STEP",
              help="Run only this step, or every step of this stage (repeatable).")
@click.option("--from", "start", metavar="STEP",
              help="Start at this step (after one failed, or to skip what is made).")
@click.option("--dry-run", is_flag=True,
              help="Check the recipe and print the commands it would run; run nothing.")
@click.pass_context
def recipe_cmd(ctx, recipe_file, sets, only, start, dry_run):
    """Run the steps of a recipe (TOML) in order, each as `edgevc train STAGE ...`.

    The whole recipe is checked first (stages, options, variables, each step's command
    line against the stage's parser); a step that fails stops the run. The recipes of the
    shipped models are in recipes/.

    \b
    Example:
        edgevc train recipe recipes/vocoder.toml --dry-run
        edgevc train recipe recipes/default_voice_s8.toml --set runs=/data/runs --from aligner
    """
    from edgevc.export import recipe

    loaded = recipe.load(recipe_file, recipe.parse_sets(sets))
    steps = loaded.select(tuple(only), start)
    if dry_run:
        click.echo("\n".join(recipe.dry_run_lines(steps)))
        return
    _show_progress(ctx)
    recipe.run(loaded, steps)


class _TrainGroup(click.Group):
    def list_commands(self, ctx):
        return ["recipe", *stages.STAGES]  # the order a model is made in

    def get_command(self, ctx, name):
        if name == "recipe":
            return recipe_cmd
        if name == "export":
            return export_cmd
        return _stage_command(name) if name in stages.STAGES else None


@click.group("train", cls=_TrainGroup)
def train_cmd():
    """Make models: data, training, distillation, release, export and judging (host side;
    needs edgevc[export]).

    Each stage runs one toolchain module with that module's own options (`edgevc train
    STAGE --help`); `recipe` runs the steps of a recipe file in order.

    \b
    Example:
        edgevc train aligner --cache cache.npz --run runs/aligner --steps 1500 --threads 1
        edgevc train recipe recipes/default_voice_s8.toml --dry-run
    """
