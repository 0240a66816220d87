"""HTTP for kiosks and scripts (aiohttp):

    POST /speak   {"text": ..., "voice": ..., "rate": ..., "volume": ...,
                   "sentence_silence": ..., "phase": ..., "play": true|false,
                   "priority": false, "queue": "keep"|"drop"}
                  play true (default): queued for the sound card, 202 {"id", "ahead"}
                  play false: 200, a 16 kHz mono 16-bit WAV streamed as it is made
    GET  /voices  {"voices": [{"name", "default"}]}
    POST /stop    {"queue": "drop"|"keep"} (optional): stop the current speech
    GET  /health  queue, audio output, counters

Errors are JSON, {"error": "one line"}, with 400 (bad request), 401 (token), 404 (voice or
path), 405, 409 (stopped before it started), 413 (too large), 415 (not JSON), 429 (queue
full), 503 (no sound card / shutting down). With a bearer token, every path but /health
needs `Authorization: Bearer TOKEN`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging

from aiohttp import web

from edgevc.errors import InputError
from edgevc.serve.output import OutputUnavailable
from edgevc.serve.queue import ChunkChannel, Closed, End, QueueFull
from edgevc.serve.service import Service, TooLarge, queue_mode
from edgevc.serve.speakers import UnknownVoice
from edgevc.voice import wav_header

log = logging.getLogger(__name__)

SERVICE = web.AppKey("service", Service)


def _error(status: int, message: str, **headers) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


def _status_of(e: Exception) -> int:
    for cls, status in ((TooLarge, 413), (UnknownVoice, 404), (InputError, 400), (QueueFull, 429),
                        (OutputUnavailable, 503), (Closed, 503)):
        if isinstance(e, cls):
            return status
    return 500


def make_app(service: Service, token: str | None = None) -> web.Application:
    @web.middleware
    async def errors_as_json(request: web.Request, handler):
        if token is not None and request.path != "/health":
            auth = request.headers.get("Authorization", "")
            if not hmac.compare_digest(auth.encode(), f"Bearer {token}".encode()):
                return _error(401, "missing or wrong bearer token",
                              **{"WWW-Authenticate": 'Bearer realm="edgevc"'})
        try:
            return await handler(request)
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"request body over {service.config.max_request_bytes} bytes")
        except web.HTTPException as e:
            if e.status < 400:
                raise
            return _error(e.status, e.reason, **({"Allow": e.headers["Allow"]}
                                                 if "Allow" in e.headers else {}))

    app = web.Application(client_max_size=service.config.max_request_bytes,
                          middlewares=[errors_as_json])
    app[SERVICE] = service
    app.router.add_post("/speak", speak)
    app.router.add_get("/voices", voices)
    app.router.add_post("/stop", stop)
    app.router.add_get("/health", health)
    return app


async def _json_body(request: web.Request, optional: bool = False):
    if optional and not request.can_read_body:
        return {}
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(reason="send a JSON body (Content-Type: application/json)")
    raw = await request.read()  # bounded by client_max_size
    if optional and not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"the body is not valid JSON ({e})") from None


async def speak(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    try:
        req = service.parse_speak(await _json_body(request))
        channel = None if req.play else ChunkChannel(asyncio.get_running_loop())
        job = service.make_job(req, channel)
        ahead = service.submit(job, req)
    except (InputError, QueueFull, OutputUnavailable, Closed) as e:
        return _error(_status_of(e), str(e))
    if req.play:
        return web.json_response({"id": job.id, "ahead": ahead, "voice": job.voice}, status=202)
    return await _stream_wav(request, service, job)


async def _stream_wav(request: web.Request, service: Service, job) -> web.StreamResponse:
    resp = None
    try:
        item = await job.channel.get()
        if isinstance(item, End):  # nothing made: stopped or failed before the first chunk
            return _error(409 if item.code == "stopped" else 500, item.error or "no audio")
        resp = web.StreamResponse(headers={"Content-Type": "audio/wav",
                                           "X-Edgevc-Job": str(job.id)})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(wav_header(service.voice.sample_rate) + item)
        while True:
            item = await job.channel.get()
            if isinstance(item, End):
                if item.error:
                    log.warning("job %d ended early: %s", job.id, item.error)
                break
            await resp.write(item)
        await resp.write_eof()
        return resp
    except (asyncio.CancelledError, ConnectionError):
        service.queue.cancel(job)  # the client went away: the worker stops its job
        raise
    finally:
        if not job.done.is_set():
            service.queue.cancel(job)


async def voices(request: web.Request) -> web.Response:
    return web.json_response({"voices": request.app[SERVICE].voices()})


async def stop(request: web.Request) -> web.Response:
    try:
        body = await _json_body(request, optional=True)
        if not isinstance(body, dict) or set(body) - {"queue"}:
            raise InputError('the body may only hold "queue": "drop" or "keep"')
        drop = queue_mode(body, "drop")
    except InputError as e:
        return _error(400, str(e))
    return web.json_response(request.app[SERVICE].stop(drop))


async def health(request: web.Request) -> web.Response:
    return web.json_response(request.app[SERVICE].health())
