"""A warm interpreter that forks one real process per CLI call (a preloader, like a fork server).

Starting `python -m smishctl` costs several seconds before the command runs: dspy, litellm, datasets and
scikit-learn take most of it, and the suite starts the CLI hundreds of times. This server imports them
once, then for each call forks a child that becomes the CLI process: it gets the caller's stdin, stdout
and stderr (passed over a Unix socket), working directory, environment and arguments, runs
`python -m smishctl` through runpy exactly as the interpreter would, runs the atexit handlers and exits
with the command's status. Each call is still its own OS process with its own exit code, signals and
file descriptors; only the interpreter start and the imports are shared (nothing else has run in the
parent). Tests whose subject is the interpreter start (what `--help` imports, a missing extra, Ctrl-C)
start a fresh interpreter instead.

Protocol, per connection: the client sends one JSON message {args, cwd, env} with three file
descriptors (stdin, stdout, stderr); the server answers "pid N\\n" once the CLI process runs, then
"exit S\\n" (S as subprocess reports it: negative for a signal).
"""

from __future__ import annotations

import array
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

# Environment variables read when a library is imported: a call that changes one of these gets a
# fresh interpreter, since the warm one imported with the server's values.
# (torch is not preloaded, so its variables are read by the CLI process itself; importing torch in a
# test process sets TORCHINDUCTOR_CACHE_DIR there, which must not turn the server off.)
# The OpenAI SDK reads only these at import (openai/__init__.py); keys and base URLs (OPENAI_API_KEY,
# OPENAI_BASE_URL) are read when a call is made, so a test that sets them still forks warm.
IMPORT_TIME_ENV = ("PYTHON", "HF_", "HUGGINGFACE", "TRANSFORMERS", "TOKENIZERS", "LITELLM", "DSPY",
                   "OPENAI_API_TYPE", "OPENAI_API_VERSION", "AZURE_OPENAI", "OPENAI_FILE_SEARCH",
                   "OMP_", "OPENBLAS", "MKL_", "NUMEXPR", "SCIPY", "SKLEARN", "LD_", "TQDM", "NO_COLOR",
                   "FORCE_COLOR", "TERM", "COLUMNS", "LINES")  # rich reads COLUMNS when a Console is made
PRELOAD = ("smishctl.cli", "smishctl.ops.evaluate", "smishctl.ops.compare", "smishctl.ops.promote",
           "smishctl.ops.optimize", "smishctl.ops.review", "smishctl.tracking.push", "dspy", "litellm",
           "datasets", "sklearn.svm", "sklearn.linear_model", "sklearn.feature_extraction.text",
           "sklearn.neighbors", "sklearn.metrics", "scipy.sparse.csgraph", "scipy.stats", "langfuse")


def import_sensitive(env: dict) -> dict:
    return {k: v for k, v in env.items() if k.startswith(IMPORT_TIME_ENV)}


# ---------------------------------------------------------------- server side


def _recv_request(conn: socket.socket) -> tuple[dict, list[int]]:
    fds = array.array("i")
    data = b""
    while not data.endswith(b"\n"):
        msg, anc, _flags, _addr = conn.recvmsg(1 << 20, socket.CMSG_SPACE(3 * fds.itemsize))
        if not msg:
            raise ConnectionError("client went away")
        data += msg
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    return json.loads(data), list(fds)


def _become_cli(request: dict, fds: list[int]) -> None:
    """In the forked child: take the caller's stdio, place and environment, run the CLI, exit."""
    import atexit
    import runpy
    import traceback

    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
        signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["smishctl", *request["args"]]
    sys.path.insert(0, request["cwd"])  # what `python -m` puts first
    code = 0
    try:
        runpy.run_module("smishctl", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:
        traceback.print_exc()
        code = -signal.SIGINT
    except BaseException:  # noqa: BLE001 - what the interpreter does with an uncaught exception
        traceback.print_exc()
        code = 1
    try:  # the interpreter's own shutdown: wait for non-daemon threads, then the atexit handlers
        threading._shutdown()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001
        pass
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed pipe: the reader is gone
            pass
    if code < 0:  # died of a signal, as the interpreter does on an uncaught KeyboardInterrupt
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code & 0xFF)


def _supervise(conn: socket.socket, request: dict, fds: list[int], listener: socket.socket) -> None:
    """In a first child: fork the CLI process, report its pid, wait for it and report its status."""
    listener.close()
    pid = os.fork()
    if pid == 0:
        conn.close()
        _become_cli(request, fds)
    for fd in fds:
        os.close(fd)
    conn.sendall(f"pid {pid}\n".encode())
    _, status = os.waitpid(pid, 0)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    try:
        conn.sendall(f"exit {code}\n".encode())
    except OSError:
        pass
    os._exit(0)


def serve(path: str) -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    listener.settimeout(5)
    parent = os.getppid()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            if os.getppid() != parent:  # the test process is gone: so is its server
                os._exit(0)
            continue
        conn.settimeout(None)
        try:
            request, fds = _recv_request(conn)
        except (ConnectionError, ValueError, OSError):
            conn.close()
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            _supervise(conn, request, fds, listener)
        conn.close()
        for fd in fds:
            os.close(fd)
        while True:  # reap supervisors that are done (never blocks)
            try:
                done, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if done == 0:
                break


# ---------------------------------------------------------------- client side


def _text(data: bytes) -> str:
    """Decoded as subprocess.run(text=True) does: locale encoding and universal newlines."""
    import io

    return io.TextIOWrapper(io.BytesIO(data)).read()


class CliServer:
    """One warm server per test process, started on first use with the environment of that moment."""

    def __init__(self, folder: Path, env: dict):
        self.path = str(folder / "cli.sock")
        self.env = dict(env)
        log = folder / "cli-server.log"
        with open(log, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, __file__, self.path], env=self.env,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.proc.kill()
            raise RuntimeError(f"the CLI server did not start: {line!r} ({log.read_text()[-2000:]})")

    def serves(self, env: dict) -> bool:
        return self.why_not(env) is None

    def why_not(self, env: dict) -> str | None:
        """Why a call with this environment needs a fresh interpreter (None: the server takes it)."""
        if self.proc.poll() is not None:
            return f"the server exited with {self.proc.returncode}"
        mine, theirs = import_sensitive(self.env), import_sensitive(env)
        differ = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
        return f"import-time variables differ: {', '.join(differ)}" if differ else None

    def run(self, args: list[str], *, cwd: str, env: dict, timeout: float | None,
            input: str | None) -> subprocess.CompletedProcess:
        in_r, in_w = os.pipe() if input is not None else (os.dup(0), None)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.path)
            message = json.dumps({"args": list(args), "cwd": cwd, "env": env}).encode() + b"\n"
            socket.send_fds(sock, [message], [in_r, out_w, err_w])
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}

        def drain(fd: int) -> None:
            with os.fdopen(fd, "rb", closefd=True) as fh:
                while block := fh.read1(1 << 16):
                    chunks[fd].append(block)

        readers = [threading.Thread(target=drain, args=(fd,), daemon=True) for fd in (out_r, err_r)]
        for t in readers:
            t.start()
        if in_w is not None:
            def feed() -> None:
                with os.fdopen(in_w, "wb", closefd=True) as fh:
                    try:
                        fh.write(input.encode())
                    except BrokenPipeError:
                        pass
            threading.Thread(target=feed, daemon=True).start()
        lines = sock.makefile("r")
        sock.settimeout(timeout)
        pid = None
        try:
            pid = int(lines.readline().split()[1])
            status = lines.readline()
        except TimeoutError:
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
            for t in readers:
                t.join(5)
            raise subprocess.TimeoutExpired([sys.executable, "-m", "smishctl", *args], timeout,
                                            b"".join(chunks[out_r]), b"".join(chunks[err_r])) from None
        finally:
            sock.close()
        for t in readers:
            t.join()
        code = int(status.split()[1]) if status.startswith("exit ") else -signal.SIGKILL
        return subprocess.CompletedProcess([sys.executable, "-m", "smishctl", *args], code,
                                           _text(b"".join(chunks[out_r])), _text(b"".join(chunks[err_r])))

    def close(self) -> None:
        import shutil

        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(Path(self.path).parent, ignore_errors=True)


if __name__ == "__main__":
    del sys.path[0]  # this script's folder: the CLI process puts its working directory there instead
    serve(sys.argv[1])
