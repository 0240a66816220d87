"""Settings of `edgevc serve`: defaults, then a TOML file (--config), then flags.

The TOML file holds the same names as the flags, with underscores, all at the top level:

    uri = "tcp://0.0.0.0:10200"     # Wyoming; "" turns it off
    http = "127.0.0.1:5500"         # HTTP; "" turns it off
    speakers = "/var/lib/edgevc/speakers"
    fifo = "/run/edgevc/say"        # speak each line written to this FIFO; "" turns it off
    token_file = "/etc/edgevc/token"  # bearer token for HTTP (first line of the file)
    max_text_chars = 2000
    max_request_bytes = 65536
    max_queue = 32
    rate = 1.0                       # defaults for requests that do not say
    volume = 1.0
    sentence_silence = 0.2
    phase = "vocoder"
    bundle = "/opt/edgevc/bundle"
    profile = "raspberry-pi-4"
    device = "USB Audio"
    frames_per_buffer = 1024

Unknown keys and values of the wrong type are refused with one line naming them.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

from edgevc.errors import InputError
from edgevc.serve import DEFAULT_HTTP, WYOMING_PORT
from edgevc.voice import SynthesisConfig


@dataclass(frozen=True)
class ServeConfig:
    uri: str | None = None  # Wyoming, tcp://HOST:PORT
    http: str | None = DEFAULT_HTTP  # HOST:PORT
    speakers: str | None = None  # folder of enrolled speaker .npy files
    fifo: str | None = None  # a kiosk's FIFO: each line is spoken
    token: str | None = None  # HTTP bearer token (never from the TOML file: use token_file)
    token_file: str | None = None
    max_text_chars: int = 2000
    max_request_bytes: int = 64 * 1024
    max_queue: int = 32
    rate: float = 1.0
    volume: float = 1.0
    sentence_silence: float = 0.0
    phase: str | None = None
    bundle: str | None = None
    profile: str | None = None
    device: str | None = None
    frames_per_buffer: int | None = None

    @property
    def synthesis(self) -> SynthesisConfig:
        return SynthesisConfig(self.rate, self.volume, self.sentence_silence, self.phase)

    @property
    def wyoming_address(self) -> tuple[str, int] | None:
        return parse_uri(self.uri) if self.uri else None

    @property
    def http_address(self) -> tuple[str, int] | None:
        return parse_host_port(self.http, "--http") if self.http else None

    def bearer_token(self) -> str | None:
        if self.token:
            return self.token
        if not self.token_file:
            return None
        try:
            line = Path(self.token_file).read_text(encoding="utf-8").strip().splitlines()
        except OSError as e:
            raise InputError(f"token file {self.token_file}: {e.strerror or e}") from None
        if not line or len(line[0].strip()) < 8:
            raise InputError(f"token file {self.token_file}: needs a token of 8 or more "
                             "characters on its first line")
        return line[0].strip()

    def validate(self) -> ServeConfig:
        if not self.uri and not self.http and not self.fifo:
            raise InputError("nothing to serve: give --uri (Wyoming), --http or --fifo")
        self.wyoming_address, self.http_address  # noqa: B018 - parse to check
        for name, lo in (("max_text_chars", 1), ("max_request_bytes", 256), ("max_queue", 1)):
            if getattr(self, name) < lo:
                raise InputError(f"{name} {getattr(self, name)}: must be at least {lo}")
        if self.frames_per_buffer is not None and not 16 <= self.frames_per_buffer <= 65536:
            raise InputError(f"frames_per_buffer {self.frames_per_buffer}: must be 16-65536")
        if self.speakers and not Path(self.speakers).is_dir():
            raise InputError(f"speakers folder {self.speakers}: not a folder")
        if self.token is not None and len(self.token) < 8:
            raise InputError("token: needs 8 or more characters")
        self.synthesis.validate()
        return self


_TYPES = {f.name: f.type for f in fields(ServeConfig)}


def load_config(path: str | None = None, **overrides) -> ServeConfig:
    """Defaults, then the TOML file at `path`, then every override that is not None."""
    values: dict = {}
    if path:
        values.update(_read_toml(path))
    values.update({k: v for k, v in overrides.items() if v is not None})
    for k in ("uri", "http", "speakers", "fifo", "token_file", "phase", "bundle", "profile", "device"):
        if values.get(k) == "":
            values[k] = None  # "" turns a setting off / back to its default
    return dataclasses.replace(ServeConfig(), **values).validate()


def _read_toml(path: str) -> dict:
    from edgevc.runtime.profiles import tomllib

    if tomllib is None:  # pragma: no cover - Python 3.10 without tomli
        raise InputError("reading TOML needs Python 3.11 or the tomli package")
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise InputError(f"config {path}: not found") from None
    except OSError as e:
        raise InputError(f"config {path}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"config {path}: not valid TOML ({e})") from None
    for key, value in data.items():
        if key not in _TYPES or key == "token":
            hint = " (put the token in token_file)" if key == "token" else ""
            raise InputError(f"config {path}: unknown key {key!r}{hint}")
        kind = _TYPES[key].replace(" | None", "")
        ok = {"str": isinstance(value, str),
              "int": isinstance(value, int) and not isinstance(value, bool),
              "float": isinstance(value, (int, float)) and not isinstance(value, bool)}[kind]
        if not ok:
            raise InputError(f"config {path}: {key} = {value!r} is not a {kind}")
    return data


def parse_host_port(text: str, what: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InputError(f"{what} {text!r}: expected HOST:PORT, e.g. 127.0.0.1:5500")
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise InputError(f"{what} {text!r}: HOST must be an IP address or localhost") from None
    return host, int(port)


def parse_uri(uri: str) -> tuple[str, int]:
    parts = urlsplit(uri)
    if parts.scheme != "tcp":
        raise InputError(f"--uri {uri!r}: only tcp://HOST:PORT is served, e.g. "
                         f"tcp://0.0.0.0:{WYOMING_PORT}")
    return parse_host_port(parts.netloc, "--uri")
