"""Serving an exported site read-only: the standard library's threading HTTP server over one folder
(GET and HEAD only; an unknown path is a 404) and a few JSON endpoints that compute without writing (the
exact turns of a typed message), bound to loopback unless the caller allows otherwise."""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Callable
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from smishctl.core.errors import ConfigError, SmishError
from smishctl.report.site import inert

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def check_host(host: str, *, allow_remote: bool) -> bool:
    """Whether serving on `host` exposes the project beyond this machine (True: warn); refused
    (ConfigError, exit 2) unless `allow_remote`."""
    if is_loopback(host):
        return False
    if not allow_remote:
        raise ConfigError(f"--host {host} would serve the project's runs, messages and prompts to other machines",
                          hint="add --allow-remote to mean it, or keep the default --host 127.0.0.1")
    return True


# An endpoint: the query's parameters -> a JSON-serialisable answer; a SmishError is the user's (400).
Route = Callable[[dict[str, str]], dict]
MAX_QUERY = 16_384  # bytes of a query string: a typed SMS fits many times over


class _QuietHandler(SimpleHTTPRequestHandler):
    routes: dict[str, Route] = {}
    loopback_only = True

    def log_message(self, format, *args):  # noqa: A002  (the standard library's name)
        pass  # one line per request would bury the URL the user needs

    def do_GET(self):  # noqa: N802  (the standard library's name)
        if self.loopback_only and not is_loopback(urlsplit(f"//{self.headers.get('Host', '')}").hostname or ""):
            # a page of another site whose name was pointed at 127.0.0.1 (DNS rebinding) reads nothing
            return self._json(403, {"error": "this viewer answers requests for a loopback address only"})
        path, _, query = self.path.partition("?")
        route = self.routes.get(path)
        if route is None:
            return super().do_GET()
        if len(query) > MAX_QUERY:
            return self._json(414, {"error": f"the query is longer than {MAX_QUERY} bytes"})
        try:
            params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
            return self._json(200, inert(route(params)))
        except SmishError as exc:
            return self._json(400, {"error": inert(exc.one_line())})
        except Exception as exc:  # noqa: BLE001  (one bad request must not stop the viewer)
            return self._json(500, {"error": f"smishctl view failed on this request ({type(exc).__name__})"})

    def _json(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(raw)


class _V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def make_server(directory: Path, host: str, port: int, routes: dict[str, Route] | None = None) -> ThreadingHTTPServer:
    """A server for `directory` on host:port (port 0: a free one), with `routes` (path -> endpoint) beside
    the files; a port in use is one ConfigError. On loopback it answers loopback Host names only."""
    server_class = _V6Server if ":" in host.strip("[]") else ThreadingHTTPServer
    handler = type("Handler", (_QuietHandler,), {"routes": dict(routes or {}), "loopback_only": is_loopback(host)})
    try:
        return server_class((host.strip("[]"), port), partial(handler, directory=str(directory)))
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc})",
                          hint="pass --port 0 for a free port, or another --port") from None


def server_url(server: ThreadingHTTPServer, host: str) -> str:
    port = server.server_address[1]
    shown = f"[{host.strip('[]')}]" if ":" in host.strip("[]") else host
    return f"http://{shown}:{port}/"
