"""A small Langfuse-public-API-compatible server for tests (loopback only, in memory).

It speaks just enough of the API for the real langfuse SDK: projects, datasets and dataset items
(upserted on id), OTLP/protobuf traces (gzip), scores (upserted on id), prompts (versions and
labels). Everything received is kept for assertions; unknown paths are logged in `unknown`.
Start with `LangfuseServer().start()`; `.url`, `.stop()`.
"""

from __future__ import annotations

import base64
import gzip
import json
import socket
import threading
import time
import uuid
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

PUBLIC_KEY = "pk-lf-test"
SECRET_KEY = "sk-lf-test-secret-0123456789"
PROJECT_ID = "proj-test"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def _any_value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind) if kind else None


def decode_otlp(body: bytes) -> list[dict]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    req = ExportTraceServiceRequest()
    req.ParseFromString(body)
    spans = []
    for rs in req.resource_spans:
        resource = {kv.key: _any_value(kv.value) for kv in rs.resource.attributes}
        for ss in rs.scope_spans:
            scope = {"name": ss.scope.name, "attributes": {kv.key: _any_value(kv.value) for kv in ss.scope.attributes}}
            for sp in ss.spans:
                spans.append({
                    "trace_id": sp.trace_id.hex(), "span_id": sp.span_id.hex(),
                    "parent_span_id": sp.parent_span_id.hex() or None, "name": sp.name,
                    "start_ns": sp.start_time_unix_nano, "end_ns": sp.end_time_unix_nano,
                    "attributes": {kv.key: _any_value(kv.value) for kv in sp.attributes},
                    "resource": resource, "scope": scope,
                })
    return spans


class LangfuseServer:
    def __init__(self, public_key: str = PUBLIC_KEY, secret_key: str = SECRET_KEY):
        self.public_key, self.secret_key = public_key, secret_key
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.unknown: list[tuple[str, str]] = []
        self.bodies: list[bytes] = []  # every raw body received (to check no secret leaks)
        self.auth_failures = 0
        self.datasets: dict[str, dict] = {}  # by name
        self.items: dict[str, dict] = {}  # by id
        self.item_posts = 0
        self.spans: dict[tuple[str, str], dict] = {}  # by (trace id, span id): what the server keeps
        self.span_posts: list[dict] = []  # every span received (duplicates included)
        self.trace_headers: list[dict] = []
        self.scores: dict[str, dict] = {}  # by id
        self.score_posts = 0
        self.prompts: dict[str, list[dict]] = defaultdict(list)  # name -> versions
        self.fail_next: dict[str, int] = {}  # path prefix -> number of 500 answers to give
        self.reject_scores: set[str] = set()  # score names refused in a batch (HTTP 207, as Langfuse does)
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, port: int = 0) -> LangfuseServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server._handle(self, "GET")

            def do_POST(self):
                server._handle(self, "POST")

            def do_PATCH(self):
                server._handle(self, "PATCH")

            def do_DELETE(self):
                server._handle(self, "DELETE")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict:
        return {"LANGFUSE_PUBLIC_KEY": self.public_key, "LANGFUSE_SECRET_KEY": self.secret_key,
                "LANGFUSE_BASE_URL": self.url}

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    # -- views for assertions -----------------------------------------------------------------
    def traces(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = defaultdict(list)
        for span in self.spans.values():
            out[span["trace_id"]].append(span)
        return dict(out)

    def spans_named(self, name: str) -> list[dict]:
        return [s for s in self.spans.values() if s["name"] == name]

    # -- HTTP ---------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        if h.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        with self.lock:
            self.requests.append((method, path))
            self.bodies.append(body)
        expected = "Basic " + base64.b64encode(f"{self.public_key}:{self.secret_key}".encode()).decode()
        if h.headers.get("Authorization") != expected:
            self.auth_failures += 1
            return self._send(h, 401, {"message": "Invalid credentials"})
        for prefix, n in list(self.fail_next.items()):
            if path.startswith(prefix) and n > 0:
                self.fail_next[prefix] = n - 1
                return self._send(h, 500, {"message": "injected failure"})
        try:
            status, payload = self._route(method, path, query, body, h.headers)
        except KeyError as exc:
            status, payload = 404, {"message": f"not found: {exc}"}
        self._send(h, status, payload)

    def _send(self, h, status: int, payload) -> None:
        data = json.dumps(payload).encode() if payload is not None else b""
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _route(self, method, path, query, body, headers):
        seg = [unquote(p) for p in path.strip("/").split("/")]
        if seg[:2] != ["api", "public"]:
            return self._unknown(method, path)
        seg = seg[2:]
        with self.lock:
            if method == "GET" and seg == ["projects"]:
                return 200, {"data": [{"id": PROJECT_ID, "name": "test", "metadata": {},
                                       "organization": {"id": "org-test", "name": "org"}}]}
            if method == "POST" and seg == ["v2", "datasets"]:
                return 200, self._upsert_dataset(json.loads(body))
            if method == "GET" and seg[:2] == ["v2", "datasets"] and len(seg) == 3:
                return 200, self.datasets[seg[2]]
            if method == "POST" and seg == ["dataset-items"]:
                return 200, self._upsert_item(json.loads(body))
            if method == "GET" and seg == ["dataset-items"]:
                return 200, self._list_items(query)
            if method == "GET" and seg[0] == "dataset-items" and len(seg) == 2:
                return 200, self.items[seg[1]]
            if method == "POST" and seg == ["otel", "v1", "traces"]:
                self.trace_headers.append({k.lower(): v for k, v in headers.items()})
                for span in decode_otlp(body):
                    self.span_posts.append(span)
                    self.spans[(span["trace_id"], span["span_id"])] = span
                return 200, {}
            if method == "POST" and seg == ["scores"]:
                self.score_posts += 1
                batch = json.loads(body)
                refused = [sc for sc in batch if sc.get("name") in self.reject_scores]
                for score in batch:
                    if score not in refused:
                        self.scores[score["id"]] = score
                if refused:
                    return 207, {"accepted": len(batch) - len(refused), "rejected": len(refused),
                                 "errors": [{"message": f"score {sc['name']!r} refused: invalid value"}
                                            for sc in refused[:3]]}
                return 202, {"message": "Accepted"}
            if seg[:2] == ["v2", "prompts"]:
                return self._prompts(method, seg[2:], query, body)
            if method == "GET" and seg == ["v3", "scores"]:
                return 200, self._list_scores(query)
            if method == "GET" and seg == ["v2", "observations"]:
                return 200, self._list_observations(query)
        return self._unknown(method, path)

    # -- reading back (scores on traces, e.g. user feedback annotated in the UI) -------------------
    def add_trace(self, trace_id: str, input_value) -> None:
        """A production trace whose root observation had `input_value` as input."""
        span_id = uuid.uuid4().hex[:16]
        with self.lock:
            self.spans[(trace_id, span_id)] = {
                "trace_id": trace_id, "span_id": span_id, "parent_span_id": None, "name": "classify",
                "start_ns": time.time_ns(), "end_ns": time.time_ns(), "resource": {}, "scope": {},
                "attributes": {"langfuse.observation.type": "span",
                               "langfuse.observation.input": json.dumps(input_value)}}

    def add_score(self, trace_id: str, name: str, value, *, data_type: str = "CATEGORICAL",
                  comment: str | None = None) -> str:
        score_id = uuid.uuid4().hex
        with self.lock:
            self.scores[score_id] = {"id": score_id, "traceId": trace_id, "name": name, "value": value,
                                     "dataType": data_type, "comment": comment}
        return score_id

    def add_prompt(self, name: str, prompt, *, labels: tuple[str, ...] = ("production",), kind: str = "text") -> dict:
        """A prompt version made in the Langfuse UI (`prompt`: text, or chat messages for kind "chat");
        `labels` move to it, and `latest` too, as Langfuse does."""
        with self.lock:
            versions = self.prompts[name]
            labels = list(dict.fromkeys([*labels, "latest"]))
            self._take_labels(versions, labels)
            version = {"name": name, "version": len(versions) + 1, "type": kind, "prompt": prompt, "config": {},
                       "labels": labels, "tags": [], "commitMessage": None}
            versions.append(version)
        return version

    def _list_scores(self, query):
        rows = [s for s in self.scores.values() if s.get("name") == query.get("name", s.get("name"))]
        start = int(query.get("cursor") or 0)
        limit = int(query.get("limit") or 50)
        page = rows[start:start + limit]
        data = [{"id": s["id"], "projectId": PROJECT_ID, "name": s["name"], "value": s["value"],
                 "dataType": s.get("dataType") or "NUMERIC", "source": "ANNOTATION", "timestamp": _now(),
                 "environment": "default", "createdAt": _now(), "updatedAt": _now(), "comment": s.get("comment"),
                 "subject": {"kind": "trace", "id": s["traceId"]}} for s in page]
        nxt = start + limit
        return {"data": data, "meta": {"limit": limit, "cursor": str(nxt) if nxt < len(rows) else None}}

    def _list_observations(self, query):
        out = []
        for sp in self.spans.values():
            if sp["trace_id"] != query.get("traceId", sp["trace_id"]):
                continue
            if query.get("isRootObservation") == "true" and sp["parent_span_id"]:
                continue
            attrs = sp["attributes"]
            raw = attrs.get("langfuse.observation.input")
            out.append({"id": sp["span_id"], "traceId": sp["trace_id"], "projectId": PROJECT_ID,
                        "type": str(attrs.get("langfuse.observation.type", "span")).upper(), "name": sp["name"],
                        "startTime": _now(), "input": json.loads(raw) if isinstance(raw, str) else raw})
        return {"data": out, "meta": {"cursor": None}}

    def _unknown(self, method, path):
        self.unknown.append((method, path))
        return 404, {"message": f"unknown path {path}"}

    def _upsert_dataset(self, req):
        ds = self.datasets.get(req["name"]) or {"id": "ds-" + uuid.uuid4().hex[:12], "name": req["name"],
                                                "projectId": PROJECT_ID, "createdAt": _now()}
        ds.update(description=req.get("description"), metadata=req.get("metadata"), updatedAt=_now(),
                  inputSchema=req.get("inputSchema"), expectedOutputSchema=req.get("expectedOutputSchema"))
        self.datasets[req["name"]] = ds
        return ds

    def _upsert_item(self, req):
        self.item_posts += 1
        ds = self.datasets[req["datasetName"]]
        item_id = req.get("id") or uuid.uuid4().hex
        old = self.items.get(item_id)
        if old and old["datasetId"] != ds["id"]:
            raise KeyError("item id used in another dataset")  # Langfuse refuses that too
        item = {"id": item_id, "status": req.get("status") or "ACTIVE", "input": req.get("input"),
                "expectedOutput": req.get("expectedOutput"), "metadata": req.get("metadata"),
                "sourceTraceId": None, "sourceObservationId": None, "datasetId": ds["id"],
                "datasetName": ds["name"], "createdAt": (old or {}).get("createdAt", _now()), "updatedAt": _now(),
                "mediaReferences": []}
        self.items[item_id] = item
        return item

    def _list_items(self, query):
        items = [i for i in self.items.values() if i["datasetName"] == query.get("datasetName", i["datasetName"])]
        page, limit = int(query.get("page", 1)), int(query.get("limit", 50))
        pages = max((len(items) + limit - 1) // limit, 1)
        return {"data": items[(page - 1) * limit: page * limit],
                "meta": {"page": page, "limit": limit, "totalItems": len(items), "totalPages": pages}}

    def _prompts(self, method, rest, query, body):
        if method == "POST" and not rest:
            req = json.loads(body)
            versions = self.prompts[req["name"]]
            labels = list(dict.fromkeys([*(req.get("labels") or []), "latest"]))
            self._take_labels(versions, labels)
            version = {"name": req["name"], "version": len(versions) + 1, "type": req.get("type", "text"),
                       "prompt": req["prompt"], "config": req.get("config") or {}, "labels": labels,
                       "tags": req.get("tags") or [], "commitMessage": req.get("commitMessage")}
            versions.append(version)
            return 200, version
        if method == "GET" and not rest:
            data = [{"name": n, "type": v[-1]["type"], "versions": [x["version"] for x in v],
                     "labels": sorted({lab for x in v for lab in x["labels"]}), "tags": v[-1]["tags"],
                     "lastUpdatedAt": _now(), "lastConfig": v[-1]["config"]}
                    for n, v in self.prompts.items() if v and query.get("name", n) == n]
            return 200, {"data": data, "meta": {"page": 1, "limit": 50, "totalItems": len(data), "totalPages": 1}}
        name = rest[0]
        versions = self.prompts.get(name)
        if not versions:
            raise KeyError(name)
        if method == "GET" and len(rest) == 1:
            if "version" in query:
                return 200, versions[int(query["version"]) - 1]
            label = query.get("label", "production")
            for v in versions:
                if label in v["labels"]:
                    return 200, v
            raise KeyError(label)
        if method == "PATCH" and len(rest) == 3 and rest[1] == "versions":
            version = versions[int(rest[2]) - 1]
            new = [lab for lab in json.loads(body).get("newLabels", []) if lab != "latest"]
            self._take_labels(versions, new)
            version["labels"] = list(dict.fromkeys([*version["labels"], *new]))
            return 200, version
        return self._unknown(method, "/".join(rest))

    @staticmethod
    def _take_labels(versions, labels):
        """Labels are unique across the versions of a prompt: moving one removes it elsewhere."""
        for v in versions:
            v["labels"] = [lab for lab in v["labels"] if lab not in labels]


def refused_port() -> int:
    """A loopback port with nothing listening (connections are refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class SilentServer:
    """Accepts TCP connections and never answers (a hung server)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.conns = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)  # read nothing, answer nothing

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def stop(self):
        self._stop = True
        for c in self.conns:
            c.close()
        self.sock.close()
