"""A loopback OpenAI-compatible chat server that can be told to misbehave.

Used by the tests (in-process, `FaultServer().start()`) and by the benchmarks (as a separate process:
`python tests/fault_server.py --latency 0.2` prints `PORT <n>` on its first line).

It answers POST /v1/chat/completions with a label chosen deterministically from the SMS (see `classify`),
so that quality metrics of a run against it are known in advance. Faults:

- latency: every answer waits this many seconds (a latency-bound endpoint);
- fail_next(kind, n): the next n requests get the fault; on_keyword(word, kind): every request whose SMS
  contains `word` gets it. Kinds: "429" (with Retry-After), "500", "drop" (close the connection without an
  answer), "malformed" (HTTP 200 with a body that is not JSON), "slow" (wait `slow_seconds`), "invalid"
  (a well-formed answer whose label is not in the label set), "echo-key" (401 whose message quotes the
  Authorization header back, as some real providers do), "no-logprobs" (a bare answer that ignores a
  `logprobs` request, as providers without log-probabilities do), "bad-logprobs" (positive log-probabilities,
  which no model can produce), "reject-logprobs" (400 to any request asking for log-probabilities), "echo-key-500" (the key quoted in a 500 body: retried, and logged by
  DSPy's parallelizer and bootstrap), "401", "403", "404" (a refused key, a forbidden model, no such model:
  each with a provider-style message naming the status), "400-model" (no such model, said with a 400 and
  the code `model_not_found`, as some OpenAI-compatible servers do).

It answers in the style it is asked in: JSON (`{"label": ...}`) for DSPy's field-marker prompts, the bare
label for label-chat prompts (no field markers), and, when the request asks for `logprobs`, the top
log-probabilities of the first token: the chosen label first. `logprobs=False` on the server makes it
ignore every such request.

Every request is logged (`requests`) with its arrival time, so tests can check retries and their spacing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SMISHING_WORDS = ("http", "www.", "click", "verify", "account", "bank", "password", "suspended", "login")
SPAM_WORDS = ("free", "win", "prize", "offer", "txt", "cash", "claim", "award", "mobile")
LABELS = ("ham", "spam", "smishing")
# Answers that no retry can change: (provider code, error type, message), by fault kind.
REFUSALS = {
    "401": ("invalid_api_key", "invalid_request_error", "fault-server 401: Incorrect API key provided"),
    "403": ("permission_denied", "permission_error", "fault-server 403: this key may not use model fake"),
    "404": ("model_not_found", "invalid_request_error", "fault-server 404: The model `fake` does not exist"),
    "400-model": ("model_not_found", "invalid_request_error", "fault-server 400: The model `fake` does not exist"),
}
SMS_RE = re.compile(r"\[\[ ## sms ## \]\]\n(.*?)(?:\n\nRespond with|\Z)", re.DOTALL)


def extract_sms(messages: list[dict]) -> str:
    """The SMS of the last user message (DSPy renders it after an `[[ ## sms ## ]]` marker)."""
    for msg in reversed(messages):
        if msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, list):
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            found = SMS_RE.findall(content or "")
            return found[-1] if found else (content or "")
    return ""


def classify(sms: str) -> str:
    """Keyword rules: the label the fake model gives. Tests compute expected metrics with it."""
    low = sms.lower()
    if any(w in low for w in SMISHING_WORDS):
        return "smishing"
    if any(w in low for w in SPAM_WORDS):
        return "spam"
    return "ham"


@dataclass
class Logged:
    t: float
    path: str
    sms: str
    authorization: str
    fault: str | None
    messages: list = field(default_factory=list)  # the chat messages exactly as sent


@dataclass
class FaultServer:
    latency: float = 0.0
    slow_seconds: float = 5.0
    retry_after: float | None = 1
    keep_log: bool = True
    logprobs: bool = True
    requests: list[Logged] = field(default_factory=list)
    _plan: deque = field(default_factory=deque)
    _keywords: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _httpd: ThreadingHTTPServer | None = None

    # -- control ------------------------------------------------------------------------------
    def fail_next(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self._plan.extend([kind] * n)

    def on_keyword(self, word: str, kind: str) -> None:
        with self._lock:
            self._keywords[word.lower()] = kind

    def reset(self) -> None:
        with self._lock:
            self._plan.clear()
            self._keywords.clear()
            self.requests.clear()
            self.latency = 0.0

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def chat_requests(self) -> list[Logged]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> FaultServer:
        server = self

        class Handler(_Handler):
            fault_server = server

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        httpd.request_queue_size = 256
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, name="fault-server", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- behaviour ----------------------------------------------------------------------------
    def _choose_fault(self, sms: str) -> str | None:
        with self._lock:
            low = sms.lower()
            for word, kind in self._keywords.items():
                if word in low:
                    return kind
            return self._plan.popleft() if self._plan else None


ThreadingHTTPServer.request_queue_size = 256


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stalls
    fault_server: FaultServer

    def log_message(self, *args):  # quiet
        pass

    def _send(self, code: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, obj: dict, headers: dict | None = None) -> None:
        self._send(code, json.dumps(obj).encode(), headers)

    def do_GET(self):  # /v1/models, health checks
        self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

    def do_POST(self):
        srv = self.fault_server
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            req = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._json(400, {"error": {"message": "request is not JSON", "type": "invalid_request_error"}})
            return
        sms = extract_sms(req.get("messages") or [])
        fault = srv._choose_fault(sms)
        if srv.keep_log:
            srv.requests.append(Logged(time.monotonic(), self.path, sms, self.headers.get("Authorization", ""), fault,
                                       req.get("messages") or []))
        if srv.latency:
            time.sleep(srv.latency)
        if fault == "429":
            headers = {"Retry-After": str(srv.retry_after)} if srv.retry_after is not None else {}
            self._json(429, {"error": {"message": "rate limited", "type": "rate_limit_error"}}, headers)
            return
        if fault == "500":
            self._json(500, {"error": {"message": "internal error", "type": "server_error"}})
            return
        if fault == "reject-logprobs" and req.get("logprobs"):  # as OpenAI's reasoning models answer
            self._json(400, {"error": {"message": "This model does not support the 'logprobs' parameter.",
                                       "type": "invalid_request_error", "param": "logprobs"}})
            return
        if fault in REFUSALS:
            code, kind, message = REFUSALS[fault]
            self._json(int(fault[:3]), {"error": {"message": message, "type": kind, "code": code}})
            return
        if fault == "echo-key":
            self._json(401, {"error": {"message": f"Incorrect API key provided: {self.headers.get('Authorization')}",
                                       "type": "invalid_request_error", "code": "invalid_api_key"}})
            return
        if fault == "echo-key-500":
            self._json(500, {"error": {"message": f"upstream refused key {self.headers.get('Authorization')}",
                                       "type": "server_error"}})
            return
        if fault == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        if fault == "malformed":
            self._send(200, b'{"id": "x", "choices": [ {"message": ')
            return
        if fault == "slow":
            time.sleep(srv.slow_seconds)
        label = "maybe" if fault == "invalid" else classify(sms)
        messages = req.get("messages") or []
        field_markers = any("[[ ## " in str(m.get("content", "")) for m in messages)
        content = json.dumps({"label": label}) if field_markers else label
        choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
        if req.get("logprobs") and srv.logprobs and fault != "no-logprobs" and not field_markers:
            choice["message"]["content"] = label  # the first token: each label is one token here
            choice["finish_reason"] = "length"
            choice["logprobs"] = _logprobs(label, bad=fault == "bad-logprobs")
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in messages) // 4
        self._json(200, {
            "id": f"chatcmpl-{len(srv.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.get("model", "fake"),
            "choices": [choice],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 6,
                      "total_tokens": prompt_tokens + 6},
        })


def _logprobs(label: str, bad: bool = False) -> dict:
    """First-token log-probabilities: the chosen label's token at -0.1, the other labels lower; an answer
    that is not a label comes with no label among its top tokens (a model that will not classify)."""
    tokens = [label] + ([lab for lab in LABELS if lab != label] if label in LABELS else ["perhaps", "unsure"])
    top = [{"token": t, "logprob": 2.5 if bad else (-0.1 if i == 0 else -3.0 - i), "bytes": list(t.encode())}
           for i, t in enumerate(tokens)]
    return {"content": [{"token": label, "logprob": top[0]["logprob"], "bytes": top[0]["bytes"], "top_logprobs": top}]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.0, help="seconds every answer waits")
    args = ap.parse_args()
    srv = FaultServer(latency=args.latency, keep_log=False).start()
    print(f"PORT {srv.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        srv.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
