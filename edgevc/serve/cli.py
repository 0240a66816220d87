"""The `edgevc serve` command. Defining it needs only click; the server's libraries
(edgevc[serve]: wyoming, aiohttp) are imported when it runs, so `edgevc --help` works
without them."""

from __future__ import annotations

import os

import click

from edgevc.serve import DEFAULT_HTTP, WYOMING_PORT

TOKEN_ENV = "EDGEVC_SERVE_TOKEN"


@click.command()
@click.option("--uri", metavar="tcp://HOST:PORT",
              help=f"Serve Wyoming (Home Assistant) here, e.g. tcp://0.0.0.0:{WYOMING_PORT}. "
                   "Default: off.")
@click.option("--http", "http", metavar="HOST:PORT",
              help=f"Serve HTTP here (default {DEFAULT_HTTP}; '' turns it off).")
@click.option("--speakers", type=click.Path(file_okay=False), metavar="DIR",
              help="Folder of speaker files (NAME.npy from `edgevc enroll`): each is a voice "
                   "called NAME. New files are picked up without a restart.")
@click.option("--fifo", type=click.Path(dir_okay=False), metavar="PATH",
              help="Speak each line written to this FIFO (made if missing), in the default "
                   "voice: echo 'Now boarding.' > PATH.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), metavar="FILE.toml",
              help="Settings file (same names as these options); options override it.")
@click.option("--token-file", type=click.Path(dir_okay=False), metavar="FILE",
              help=f"HTTP requests need 'Authorization: Bearer TOKEN' (the file's first line; "
                   f"or set {TOKEN_ENV}). /health stays open.")
@click.option("--max-text-chars", type=int, metavar="N", help="Longest text accepted (default 2000).")
@click.option("--max-request-bytes", type=int, metavar="N",
              help="Largest HTTP body or Wyoming event (default 65536).")
@click.option("--max-queue", type=int, metavar="N",
              help="Requests that may wait; more are refused (429 / Wyoming error). Default 32.")
@click.option("--rate", type=float, help="Default speaking rate, 0.5-2 (above 1 faster).")
@click.option("--volume", type=float, help="Default volume (gain), 0-4.")
@click.option("--sentence-silence", type=float, metavar="SECONDS",
              help="Default silence between sentences, 0-5 s.")
@click.option("--phase", type=click.Choice(["vocoder", "excitation", "hybrid"]),
              help="Default phase method (see `edgevc speak --help`).")
@click.option("--bundle", type=click.Path(file_okay=False), help="Bundle folder (default: shipped).")
@click.option("--profile", metavar="NAME|FILE.toml", help="Device profile (default: detected).")
@click.option("--device", metavar="NAME",
              help="Sound card for play requests (name substring). If it fails: the profile's "
                   "audio.device, then the system default; /health says which.")
@click.option("--frames-per-buffer", type=int, metavar="N", help="Audio frames per write.")
def serve(config_file, token_file, **options):
    """Keep the voice loaded and speak for Wyoming and HTTP clients, with a queue and barge-in.

    \b
    Examples:
        edgevc serve --uri tcp://0.0.0.0:10200 --speakers /var/lib/edgevc/speakers
        curl -s localhost:5500/speak -H 'Content-Type: application/json' \\
             -d '{"text": "Your order is ready.", "voice": "me"}'
        curl -s localhost:5500/stop -X POST
    \b
    SIGUSR1 stops the current speech and drops the queue; SIGUSR2 skips to the next.
    """
    import asyncio

    from edgevc.runtime.memory import single_malloc_arena
    from edgevc.serve.app import import_protocols, run
    from edgevc.serve.config import load_config
    from edgevc.serve.service import Service
    from edgevc.voice import Voice

    single_malloc_arena()  # before any thread starts: one arena, flat memory over time
    cfg = load_config(config_file, token_file=token_file, token=os.environ.get(TOKEN_ENV) or None,
                      **options)
    import_protocols(cfg)
    cfg.bearer_token()  # a bad token file fails here, before the models load
    voice = Voice.load(cfg.bundle, cfg.profile, cfg.phase)
    voice.synthesize("Ready.")  # the first run of each graph is slow; pay it before clients
    service = Service(voice, cfg)

    def ready(addresses):
        for proto, where in addresses.items():
            click.echo(f"edgevc serve: {proto} on {where}", err=True)

    raise SystemExit(asyncio.run(run(service, ready)))
