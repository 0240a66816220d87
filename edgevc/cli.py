"""The `edgevc` command line: speak, enroll, export, train, devices, info.

Exit codes: 0 success, 2 bad usage or bad input (one line on stderr), 1 other failures,
130 / 143 when stopped by Ctrl-C / SIGTERM.
"""

import importlib
import importlib.util
import json
import logging
import os
import signal
import sys
import time

import click

from edgevc import __version__
from edgevc.errors import EdgevcError, InputError

log = logging.getLogger("edgevc")
_verbose = 0  # set by the group's -v: the top-level guard prints tracebacks only then


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so playback stops like on Ctrl-C."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def main(argv=None) -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        cli.main(args=argv, prog_name="edgevc", standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.UsageError as e:  # bad usage: one line, exit 2
        cmd = e.ctx.command_path if e.ctx else "edgevc"
        click.echo(f"{cmd}: error: {e.format_message()} (see '{cmd} --help')", err=True)
        sys.exit(2)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except EdgevcError as e:
        click.echo(f"edgevc: error: {_one_line(e)}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        _stopped(130)
    except _Terminated:
        _stopped(143)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as e:  # a bug or an unforeseen failure: one line, the traceback on -v
        if _verbose:
            log.exception("unexpected error")
        click.echo(f"edgevc: error: unexpected {type(e).__name__}: {_one_line(e)}"
                   + ("" if _verbose else " (run with -v for the traceback)"), err=True)
        sys.exit(1)
    sys.exit(0)


def _stopped(code: int) -> None:
    """Exit at once after Ctrl-C or SIGTERM. The main thread's clean-up (temporary files)
    has run by now; a synthesis thread may still be inside an ONNX Runtime call, and
    interpreter shutdown under it aborted the process (SIGABRT, "terminate called without an
    active exception") instead of exiting with the documented code."""
    from edgevc.audio.io import remove_pending_temps

    remove_pending_temps()  # a writer thread's half file
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _one_line(e: BaseException) -> str:
    """The first line of an error's message, cut short: stderr stays one readable line."""
    lines = str(e).strip().splitlines()
    msg = lines[0] if lines else type(e).__name__
    return msg if len(msg) <= 500 else msg[:497] + "..."


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else
                                         logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(level=level, stream=sys.stderr, format="edgevc: %(levelname)s: %(message)s")


# Commands that other parts of the distribution provide: looked up only when named (or
# listed by --help), so the runtime imports none of them. `export` and `train` are the
# toolchain's; a device install without it gets one line saying what to install.
LAZY_COMMANDS = {"export": ("edgevc.export.cli", "export_cmd"),
                 "train": ("edgevc.export.cli", "train_cmd")}


# The toolchain and the checkpoints it builds from (a project of their own, so the device
# wheel carries no `.pt`), installed from a clone.
TOOLCHAIN_INSTALL = "pip install '.[export]' ./export/checkpoints"


def toolchain_missing(command: str) -> str:
    return (f"edgevc {command} needs the host toolchain: {TOOLCHAIN_INSTALL} "
            f"(in an edgevc clone)")


TOOLCHAIN_MISSING = toolchain_missing("export")

# Toolchain functions that a runtime command calls for one of its options, found by name
# like LAZY_COMMANDS: `enroll --refine` fits the vector through the PyTorch acoustic model.
TOOLCHAIN_FUNCTIONS = {"enroll --refine": ("edgevc.export.refine_speaker", "refine")}


def _toolchain_has(module: str) -> bool:
    """Whether the toolchain module's code is here (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package (edgevc.export) is absent
        return False


def _toolchain_function(what: str):
    """The toolchain function behind `what`, or EdgevcError saying what to install."""
    module, attr = TOOLCHAIN_FUNCTIONS[what]
    if not _toolchain_has(module):
        raise EdgevcError(toolchain_missing(what))
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError as e:  # its code is here (a clone) but not its packages (torch)
        raise EdgevcError(f"{toolchain_missing(what)} ({e})") from None


class _Group(click.Group):
    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx, name):
        if name in LAZY_COMMANDS and name not in self.commands:
            module, attr = LAZY_COMMANDS[name]
            if not _toolchain_has(module):
                return _missing_command(name)
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


def _missing_command(name: str) -> click.Command:
    """A stand-in that takes any arguments and says what to install."""

    def run(args):
        raise EdgevcError(toolchain_missing(name))

    return click.Command(name, callback=run, help=f"(not installed) {toolchain_missing(name)}",
                         add_help_option=False,
                         params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
                         context_settings={"ignore_unknown_options": True,
                                           "allow_extra_args": True})


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgevc")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
def cli(verbose, quiet):
    """edgevc: voice-cloning text-to-speech that runs on the device.

    \b
    Speak with the shipped voice into a WAV file:
        edgevc speak "Hello from edgevc." --out hello.wav
    Clone a voice from a few seconds of recordings, then speak with it:
        edgevc enroll me1.wav me2.flac -o me.npy
        edgevc speak "Your order is ready." --speaker me.npy
    Rebuild the model bundle from PyTorch checkpoints (needs edgevc[export]):
        edgevc export --quantize int8 -o my-bundle
    Train models, one stage or a recipe of them (needs edgevc[export]):
        edgevc train recipe recipes/vocoder.toml --dry-run
    """
    global _verbose
    _verbose = verbose
    _setup_logging(verbose, quiet)


def _load_bundle(bundle_dir, key, profile=None):
    """The bundle, its signature checked when a key is given or the profile names one."""
    from edgevc.runtime.bundle import Bundle
    from edgevc.runtime.bundle_keys import parse_public_key
    key = key or (profile.bundle_public_key if profile is not None else "")
    return Bundle.load(bundle_dir, public_key=parse_public_key(key) if key else None)


def _profile(name):
    from edgevc.runtime.profiles import detect_profile, load_profile
    p = load_profile(name) if name else detect_profile()
    log.info("device profile: %s (%s)", p.name, p.source)
    return p


def _stdin_lines():
    """Lines of standard input as they arrive (a kiosk FIFO, a pipe). Read as bytes and
    decoded line by line, so one undecodable line is skipped instead of ending the run;
    a line is read only up to the request limit, so an endless one cannot fill memory."""
    from edgevc.text.phonemize import MAX_TEXT_CHARS
    encoding = getattr(sys.stdin, "encoding", None) or "utf-8"
    limit = 4 * MAX_TEXT_CHARS + 2  # bytes: up to 4 per character, and the newline
    stream, n = sys.stdin.buffer, 0
    while raw := stream.readline(limit):
        n += 1
        if len(raw) == limit and not raw.endswith(b"\n"):
            while (more := stream.readline(limit)) and not more.endswith(b"\n"):
                pass  # the rest of the overlong line
            log.warning("line %d skipped: longer than %d bytes", n, limit - 2)
            continue
        try:
            line = raw.decode(encoding).strip()
        except UnicodeDecodeError as e:
            log.warning("line %d skipped: not %s text (byte %d)", n, encoding, e.start)
            continue
        if line:
            yield n, line


def _speak_lines(synth, lines, spk, length_scale):
    """Audio of each line; a line with nothing speakable (or too long) is skipped with a
    warning, so one bad line does not end a kiosk."""
    for n, line in lines:
        try:
            yield from synth.stream(line, spk, length_scale)
        except InputError as e:
            log.warning("line %d skipped: %s", n, e)


_bundle_opt = click.option("--bundle", "bundle_dir", type=click.Path(file_okay=False),
                           help="Bundle folder (default: the one shipped with edgevc).")
_key_opt = click.option("--bundle-key", "bundle_key", metavar="HEX|FILE",
                        help="Refuse the bundle unless it is signed by this Ed25519 public key "
                             "(see `edgevc keygen`). Default: the profile's bundle.public_key; "
                             "none: signatures are not checked.")
_profile_opt = click.option("--profile", "profile_name", metavar="NAME|FILE.toml",
                            help="Device profile (default: detected). See `edgevc devices`.")


@cli.command()
@click.argument("text")
@click.option("--speaker", type=click.Path(dir_okay=False),
              help="Speaker file from `edgevc enroll` (default: the bundle's voice).")
@_bundle_opt
@_key_opt
@click.option("--out", "out", metavar="FILE.wav|-",
              help="Write a 16 kHz mono 16-bit WAV, or '-' for raw PCM on stdout. "
                   "Default: play on the sound card (needs edgevc[device]).")
@_profile_opt
@click.option("--length-scale", type=click.FloatRange(0.5, 2.0), default=1.0, show_default=True,
              help="Speaking-rate factor: above 1 is slower.")
@click.option("--device", "device_name", metavar="NAME",
              help="Play on the output whose name contains NAME (see `edgevc devices`). "
                   "Default: the profile's audio.device, else the system default.")
@click.option("--frames-per-buffer", type=click.IntRange(16, 65536), metavar="N",
              help="Audio frames per buffer and per write (default: the profile's "
                   "audio.frames_per_buffer).")
@click.option("--phase", type=click.Choice(["vocoder", "excitation", "hybrid"]),
              help="Where the waveform's phase comes from: the vocoder's own output; an "
                   "excitation matched to its spectra (cleaner sound, fewer words understood); "
                   "or hybrid, the excitation's in voiced frames below 1 kHz and the vocoder's "
                   "elsewhere. Default: the bundle's choice.")
@click.option("--json", "as_json", is_flag=True,
              help="Print timing, buffer and underrun figures as JSON.")
def speak(text, speaker, bundle_dir, bundle_key, out, profile_name, length_scale, device_name,
          frames_per_buffer, phase, as_json):
    """Speak TEXT ('-' reads standard input, line by line as it arrives).

    \b
    Examples:
        edgevc speak "It is 10:30 and your total is $18.25." --out total.wav
        edgevc speak "Hello" --out - | aplay -r 16000 -f S16_LE -c 1
        tail -f messages.txt | edgevc speak - --speaker me.npy
    """
    from edgevc.playback.player import play
    from edgevc.playback.sinks import open_sink
    from edgevc.runtime.devices import output_device_index
    from edgevc.runtime.memory import single_malloc_arena
    from edgevc.runtime.synthesizer import Synthesizer

    single_malloc_arena()
    if as_json and out == "-":
        raise click.UsageError("--json cannot be used with --out - (stdout carries the audio)")
    if device_name is not None and out is not None:
        raise click.UsageError("--device applies to playback only; drop it or --out")
    if out not in (None, "-") and not out.lower().endswith(".wav"):
        raise InputError(f"--out {out}: only .wav files (or '-') are written")
    t0 = time.perf_counter()
    profile = _profile(profile_name)
    bundle = _load_bundle(bundle_dir, bundle_key, profile)
    synth = Synthesizer(bundle, profile, phase)
    spk = synth.load_speaker(speaker) if speaker else None
    if text == "-":
        chunks = _speak_lines(synth, _stdin_lines(), spk, length_scale)
    else:
        synth.check_text(text)  # bad text fails here, before any file or device is opened
        chunks = synth.stream(text, spk, length_scale)
    if out is None:
        device = output_device_index(profile.audio_device if device_name is None else device_name)
    else:
        device = None
    sink = open_sink(out, synth.sample_rate, frames_per_buffer or profile.frames_per_buffer, device)
    with sink:
        stats = play(chunks, sink, profile.ring_samples(synth.sample_rate))
        if text == "-" and stats.samples_played == 0:  # inside: no empty WAV is published
            raise InputError("no speakable text on standard input")
    elapsed = time.perf_counter() - t0
    if as_json:
        click.echo(json.dumps({
            "audio_seconds": round(stats.audio_seconds, 3),
            "elapsed_seconds": round(elapsed, 3),
            "rtf": round(stats.elapsed_s / stats.audio_seconds, 4) if stats.audio_seconds else None,
            "first_audio_seconds": stats.first_audio_latency_s,
            "underruns": stats.underruns, "peak_buffer_samples": stats.peak_buffer_fill,
            "buffer_samples": stats.buffer_capacity, "profile": profile.name,
            "phase": synth.phase,
            "providers": {r: s.provider for r, s in synth.sessions.items()},
            "out": out,
        }))
    else:
        log.info("spoke %.2f s of audio in %.2f s", stats.audio_seconds, elapsed)


@cli.command()
@click.argument("audio", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), metavar="FILE.npy",
              help="Where to write the speaker file (plus a .json sidecar).")
@_bundle_opt
@_key_opt
@_profile_opt
@click.option("--refine", is_flag=True,
              help="Then fit the vector to the recordings through the acoustic model, "
                   "about 25 s for 10 s of speech on one CPU core (host toolchain: "
                   f"{TOOLCHAIN_INSTALL}).")
@click.option("--text", "texts", multiple=True, metavar="TRANSCRIPT",
              help="With --refine: what a recording says, once per recording, in order "
                   "(default: the Whisper judge's transcript; needs edgevc[eval]).")
@click.option("--refine-steps", type=click.IntRange(1), metavar="N",
              help="With --refine: optimizer steps (default 100).")
@click.option("--json", "as_json", is_flag=True, help="Print what was enrolled as JSON.")
def enroll(audio, out, bundle_dir, bundle_key, profile_name, refine, texts, refine_steps, as_json):
    """Make a speaker file from one or more recordings of a voice.

    AUDIO: WAV or FLAC files at any sample rate and channel count; 3-10 s of clear
    speech in all works best.

    With --refine (host toolchain), the enrolled vector is then fitted to the recordings:
    the acoustic model, frozen, reads their words, and the vector moves until its mel is
    closest to theirs. Same speaker-file contract; the sidecar records the fit.

    \b
    Example:
        edgevc enroll me1.wav me2.flac -o me.npy
        edgevc enroll me1.wav me2.flac -o me.npy --refine
    """
    from edgevc.runtime.enroll import Enroller
    from edgevc.runtime.speaker import save_speaker

    if not out.endswith(".npy"):
        raise InputError(f"-o {out}: the speaker file name must end in .npy")
    if (texts or refine_steps) and not refine:
        raise click.UsageError("--text and --refine-steps go with --refine")
    if texts and len(texts) != len(audio):
        raise InputError(f"--text given {len(texts)} time(s) for {len(audio)} audio file(s); "
                         "give one transcript per recording, in the same order")
    fit = _toolchain_function("enroll --refine") if refine else None  # before any work
    profile = _profile(profile_name)
    bundle = _load_bundle(bundle_dir, bundle_key, profile)
    emb, info = Enroller(bundle, profile).enroll(list(audio))
    if fit is not None:
        steps = {"steps": refine_steps} if refine_steps else {}
        emb, info["refined"] = fit(emb, list(audio), list(texts) or None,
                                   bundle_checkpoints=bundle.manifest.get("checkpoints"), **steps)
    save_speaker(out, emb, info)
    if as_json:
        click.echo(json.dumps({"speaker": out, **info}))
    elif fit is not None:
        r = info["refined"]
        click.echo(f"wrote {out} ({info['speech_seconds']:.1f} s of speech; refined in "
                   f"{r['seconds']['total']:.0f} s: mel L1 {r['mel_l1_before']:.3f} -> "
                   f"{r['mel_l1_after']:.3f})", err=True)
    else:
        click.echo(f"wrote {out} ({info['speech_seconds']:.1f} s of speech)", err=True)


@cli.command()
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), metavar="KEY",
              help="Where to write the new private key (mode 0600; never replaces a file).")
def keygen(out):
    """Make an Ed25519 key pair for signed bundles; prints the public key.

    \b
    Example:
        edgevc keygen -o bundle.key      # prints the public key: give it to the devices
        edgevc export --sign bundle.key -o my-bundle
        edgevc speak "Hello" --bundle my-bundle --bundle-key PUBLIC_KEY_HEX
    """
    from edgevc.runtime.bundle_keys import write_new_key
    click.echo(write_new_key(out).hex())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def devices(as_json):
    """Show audio outputs, inference providers that work here, and the device profile."""
    from edgevc.runtime.devices import audio_outputs, tflite_interpreter, usable_providers
    from edgevc.runtime.profiles import detect_profile, list_profiles

    outs, reason = audio_outputs()
    provs = usable_providers()
    tfl = tflite_interpreter()
    prof = detect_profile()
    if as_json:
        click.echo(json.dumps({"audio_outputs": outs, "audio_error": reason, "providers": provs,
                               "tflite": tfl, "profile": prof.name, "profiles": list_profiles()},
                              indent=2))
        return
    click.echo("Audio outputs:")
    if reason:
        click.echo(f"  (none: {reason})")
    elif not outs:
        click.echo("  (none found)")
    for o in outs:
        mark = " (default)" if o["is_default"] else ""
        click.echo(f"  [{o['index']}] {o['name']}{mark}, {o['max_output_channels']} ch, "
                   f"{o['default_sample_rate']:.0f} Hz")
    click.echo("Inference providers:")
    for p in provs:
        click.echo(f"  {p['name']}: {'ok' if p['ok'] else 'unusable: ' + str(p['error'])}")
    click.echo(f"  TFLite interpreter: {('ok (' + tfl['interpreter'] + ')') if tfl['ok'] else 'unusable: ' + tfl['error']}")
    click.echo(f"Device profile: {prof.name} (detected); available: {', '.join(list_profiles())}")


@cli.command()
@_bundle_opt
@_key_opt
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info(bundle_dir, bundle_key, as_json):
    """Show what a bundle holds: models, precisions, sizes, quantization checks."""
    s = _load_bundle(bundle_dir, bundle_key).summary()
    if as_json:
        click.echo(json.dumps(s, indent=2))
        return
    click.echo(f"Bundle {s['path']}  (edgevc {s['edgevc_version']}, {s['created']})")
    click.echo(f"  {s['sample_rate']} Hz, {s['embedding_dim']}-d speakers, {s['phonemes']} phonemes, "
               f"{s['total_bytes'] / 1e6:.2f} MB")
    click.echo(f"  default voice: length scale {s['default_length_scale']:g} at rate 1.0; "
               f"phase: {s['phase']}")
    own, *earlier = s["speaker_encoders"] or ["?"]
    click.echo(f"  speaker files: from encoder {own[:12]}..."
               + (f" and {len(earlier)} earlier one(s)" if earlier else ""))
    for role, m in s["models"].items():
        click.echo(f"  {role:17s} {m['file']:24s} {m['precision']:5s} {m['bytes'] / 1e6:6.2f} MB")
    for role, c in s["quantization"].get("checks", {}).items():
        click.echo(f"  check {role}: {c['metric']} = {c['value']} (limit {c['limit']})")
    e2e = s["quantization"].get("end_to_end")
    if e2e and "delta" in e2e:
        click.echo(f"  check chain vs fp32 ({e2e['sentences']} sentences): " + ", ".join(
            f"{k} {v:+.3f} (limit {e2e['limits'][k]:+.2f})" for k, v in e2e["delta"].items()))
    elif e2e:
        click.echo(f"  check chain vs fp32: {e2e.get('skipped', 'not run')}")


# `edgevc serve` lives in edgevc/serve/; its libraries (edgevc[serve]) load only when it runs.
from edgevc.serve.cli import serve as _serve  # noqa: E402

cli.add_command(_serve)
