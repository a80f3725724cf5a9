"""`smishctl view`: browse the project's runs, prompts and production in a local, read-only viewer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smishctl.cli.common import DebugOpt, handled, settings, warn


def register(app: typer.Typer) -> None:
    app.command("view")(view_cmd)


def view_cmd(
    export: Annotated[Path | None, typer.Option("--export", help="Write the pages as a static site into DIR (for CI artifacts or GitHub Pages) instead of serving them.", metavar="DIR")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on. Anything but loopback needs --allow-remote.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: a free one).")] = 8765,
    allow_remote: Annotated[bool, typer.Option("--allow-remote", help="Allow a --host other machines can reach (the pages show every message and prompt).")] = False,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the viewer in a browser.")] = False,
    debug: bool = DebugOpt,
):
    """Runs, items, comparisons, prompts, production and drift in your browser: offline and read-only.
    Serves a snapshot taken at start on http://127.0.0.1:8765/ (restart to refresh)."""
    with handled(debug):
        from smishctl.ops.view import build_view

        if export is not None:
            site = build_view(settings(), export)
            typer.echo(f"wrote {site.pages} pages ({site.runs} runs, {site.prompts} prompt versions) to {export}: "
                       f"open {Path(export) / 'index.html'}")
            return
        _serve(build_view, host, port, allow_remote=allow_remote, open_browser=open_browser)


def _serve(build_view, host: str, port: int, *, allow_remote: bool, open_browser: bool) -> None:
    import signal
    import tempfile

    from smishctl.report.site_server import check_host, make_server, server_url

    if check_host(host, allow_remote=allow_remote):
        warn(f"serving on {host}: anyone who can reach this machine can read the project's messages and prompts")

    def stop(*_):
        raise KeyboardInterrupt  # SIGTERM stops like Ctrl-C: the snapshot folder is removed

    signal.signal(signal.SIGTERM, stop)
    with tempfile.TemporaryDirectory(prefix="smishctl-view-") as tmp:
        typer.echo("smishctl view: rendering the project's pages…", err=True)
        build_view(settings(), tmp, served=True)
        server = make_server(Path(tmp), host, port, routes=_routes(settings()))
        url = server_url(server, host)
        typer.echo(f"smishctl view: {url} (read-only snapshot; Ctrl-C stops)")
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            typer.echo("stopped", err=True)
        finally:
            server.server_close()


def _routes(s) -> dict:
    """The served pages' endpoints (GET, JSON):
    /api/preview?version=ID&text=SMS: `smishctl prompts show ID --for SMS` (ops/prompt_preview.py);
    /api/gates?runs=A,B: the project's gates on the items the runs share, with compare's verdict."""

    def preview(query: dict[str, str]) -> dict:
        from dataclasses import asdict

        from smishctl.ops.prompt_preview import messages_for  # DSPy loads on the first request

        return asdict(messages_for(s, query.get("version", ""), query.get("text", "")))

    def gates(query: dict[str, str]) -> dict:
        from smishctl.ops.view import shared_gates

        return shared_gates(s, [r for r in query.get("runs", "").split(",") if r])

    return {"/api/preview": preview, "/api/gates": gates}
