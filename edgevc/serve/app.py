"""Run the servers in one asyncio event loop, with the speech worker beside it.

Signals: SIGUSR1 stops the current speech and drops the queue (barge-in from another
program, e.g. a wake-word detector: `pkill -USR1 -f 'edgevc serve'` or `systemctl kill
-s USR1 edgevc-kiosk`); SIGUSR2 stops the current speech and keeps the queue (skip);
SIGTERM and SIGINT stop everything and exit (143 / 130).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

from edgevc.errors import EdgevcError
from edgevc.serve.config import ServeConfig
from edgevc.serve.service import Service

if TYPE_CHECKING:  # the serve extra's aiohttp loads only when HTTP is served
    from aiohttp import web

log = logging.getLogger(__name__)


def import_protocols(config: ServeConfig) -> None:
    """The serve extra's libraries, or one line saying how to install them."""
    try:
        if config.http:
            import aiohttp  # noqa: F401
        if config.uri:
            import wyoming  # noqa: F401
    except ImportError as e:
        raise EdgevcError(f"edgevc serve needs its extra: pip install 'edgevc[serve]' ({e})") from None


class Server:
    """The Service behind a Wyoming and/or an HTTP listener."""

    def __init__(self, service: Service):
        self.service = service
        self.wyoming: asyncio.Server | None = None
        self.runner: web.AppRunner | None = None
        self.fifo_task: asyncio.Task[None] | None = None
        self.addresses: dict[str, str] = {}

    async def start(self) -> dict[str, str]:
        """Listen; returns {"wyoming": "tcp://HOST:PORT", "http": "http://HOST:PORT",
        "fifo": PATH} with the ports actually bound (a port of 0 picks a free one)."""
        cfg = self.service.config
        try:
            if cfg.wyoming_address:
                from edgevc.serve.wyoming import start_server

                host, port = cfg.wyoming_address
                self.wyoming = wyoming = await start_server(self.service, host, port)
                h, p = wyoming.sockets[0].getsockname()[:2]
                self.addresses["wyoming"] = f"tcp://{_host(h)}:{p}"
            if cfg.http_address:
                from aiohttp import web

                from edgevc.serve.http import make_app

                host, port = cfg.http_address
                app = make_app(self.service, cfg.bearer_token())
                self.runner = runner = web.AppRunner(app, access_log=None, handle_signals=False)
                await runner.setup()
                await web.TCPSite(runner, host, port).start()
                h, p = runner.addresses[0][:2]
                self.addresses["http"] = f"http://{_host(h)}:{p}"
            if cfg.fifo:
                from edgevc.serve.fifo import open_fifo, read_fifo

                self.fifo_task = asyncio.create_task(read_fifo(self.service, open_fifo(cfg.fifo)))
                self.addresses["fifo"] = cfg.fifo
        except OSError as e:
            await self.close()
            raise EdgevcError(f"cannot listen: {e.strerror or e}") from None
        except BaseException:
            await self.close()
            raise
        return self.addresses

    async def close(self) -> None:
        self.service.close()
        if self.fifo_task is not None:
            self.fifo_task.cancel()
        if self.wyoming is not None:
            self.wyoming.close()
        if self.runner is not None:
            await self.runner.cleanup()


def _host(h: str) -> str:
    return f"[{h}]" if ":" in h else h


async def run(service: Service, on_ready: Callable[[dict], None] | None = None) -> int:
    """Serve until SIGTERM / SIGINT; returns the exit code (143 / 130)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future = loop.create_future()
    server = Server(service)
    await server.start()

    def finish(code: int) -> None:
        if not done.done():
            done.set_result(code)

    handlers = {signal.SIGUSR1: lambda: service.stop(drop_queue=True),
                signal.SIGUSR2: lambda: service.stop(drop_queue=False),
                signal.SIGTERM: lambda: finish(143), signal.SIGINT: lambda: finish(130)}
    for sig, fn in handlers.items():
        loop.add_signal_handler(sig, fn)
    try:
        if on_ready is not None:
            on_ready(server.addresses)
        return await done
    finally:
        for sig in handlers:
            loop.remove_signal_handler(sig)
        await server.close()
