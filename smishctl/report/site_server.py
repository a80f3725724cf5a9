"""Serving an exported site read-only: the standard library's threading HTTP server over one folder
(GET and HEAD only; an unknown path is a 404), bound to loopback unless the caller allows otherwise."""

from __future__ import annotations

import ipaddress
import socket
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from smishctl.core.errors import ConfigError

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


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002  (the standard library's name)
        pass  # one line per request would bury the URL the user needs


def make_server(directory: Path, host: str, port: int) -> ThreadingHTTPServer:
    """A server for `directory` on host:port (port 0: a free one); a port in use is one ConfigError."""
    server_class = ThreadingHTTPServer
    if ":" in host.strip("[]"):
        server_class = type("V6Server", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
    try:
        return server_class((host.strip("[]"), port), partial(_QuietHandler, directory=str(directory)))
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc})",
                          hint="pass --port 0 for a free port, or another --port") from None


def server_url(server: ThreadingHTTPServer, host: str) -> str:
    port = server.server_address[1]
    shown = f"[{host.strip('[]')}]" if ":" in host.strip("[]") else host
    return f"http://{shown}:{port}/"
