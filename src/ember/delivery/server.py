"""`ember registry serve`: a development HTTP server for a registry.

Serves the static repository (GET/HEAD with single-range Range requests) under /metadata/ and
/targets/, accepts device reports at POST /v1/report (stored in SQLite), answers GET /v1/status,
halts a rollout by itself when a release's failure rate passes the configured threshold, and keeps
the timestamp fresh. For production put the repo/ directory behind nginx or a CDN (docs/delivery.md)
and run the report endpoint separately.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.parse
from datetime import timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ember.delivery.errors import DeliveryError
from ember.delivery.registry import Registry
from ember.delivery.reports import FAILURES, ReportStore

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
MAX_REPORT_BYTES = 16 * 1024


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """(start, end inclusive) for a single satisfiable range, None to send the whole file, or
    "unsatisfiable" (416)."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m:
        return None  # multiple or malformed ranges: RFC 9110 lets us ignore the header
    first, last = m.groups()
    if first == "" and last == "":
        return None
    if first == "":  # suffix: the last N bytes
        n = int(last)
        if n == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or end < start:
        return "unsatisfiable"
    return start, end


class DevServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(
        self,
        registry: Registry,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        throttle_bps: float | None = None,
        refresh_every_s: float = 60.0,
    ):
        self.registry = registry
        self.repo_root = (registry.path / "repo").resolve()
        self.reports = ReportStore(registry.path / "reports.sqlite")
        self.throttle_bps = throttle_bps
        self.registry_lock = threading.Lock()
        self.halts: list[dict] = []
        self.counts = {"requests": 0, "bytes_sent": 0, "reports": 0}
        self._counts_lock = threading.Lock()
        self._refresh_every = refresh_every_s
        self._stop = threading.Event()
        self._bg_threads: list[threading.Thread] = []
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def count(self, requests: int = 0, nbytes: int = 0, reports: int = 0) -> None:
        with self._counts_lock:
            self.counts["requests"] += requests
            self.counts["bytes_sent"] += nbytes
            self.counts["reports"] += reports

    def start(self) -> DevServer:
        """Serve in background threads (tests, benchmarks). Use serve_forever() to block."""
        t = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        t.start()
        r = threading.Thread(target=self._refresh_loop, daemon=True)
        r.start()
        self._bg_threads = [t, r]
        return self

    def stop(self) -> None:
        self._stop.set()
        self.shutdown()
        self.server_close()
        for t in self._bg_threads:
            t.join(timeout=5)
        self.reports.close()

    def _refresh_loop(self) -> None:
        margin = timedelta(days=self.registry.config.expiry_days["timestamp"] / 2)
        while not self._stop.wait(self._refresh_every):
            try:
                with self.registry_lock:
                    self.registry.refresh(margin=margin)
            except DeliveryError as exc:  # keep serving; say why the timestamp may go stale
                print(f"ember registry serve: cannot refresh timestamp: {exc}", flush=True)

    def handle_report(self, report: dict) -> dict:
        r = self.reports.add(report)
        self.count(reports=1)
        result = {"accepted": True, "halted": False}
        if r["status"] in FAILURES:
            total, failed = self.reports.release_health(r["model"], r["release"])
            cfg = self.registry.config
            if total >= cfg.auto_halt_min_reports and failed / total > cfg.auto_halt_failure_rate:
                with self.registry_lock:
                    try:
                        state = self.registry.halt(r["model"], channel=r["channel"], release=r["release"])
                    except DeliveryError:
                        state = None
                if state is not None:
                    self.reports.add_halt(r["model"], r["channel"], r["release"], failed, total)
                    self.halts.append(
                        {"model": r["model"], "release": r["release"], "failed": failed, "total": total}
                    )
                    print(
                        f"ember registry serve: halted {r['model']} release {r['release']} on "
                        f"{r['channel']}: {failed}/{total} devices failed (threshold "
                        f"{cfg.auto_halt_failure_rate:.0%})",
                        flush=True,
                    )
                    result["halted"] = True
        return result

    def status(self, model: str) -> dict:
        with self.registry_lock:
            self.registry._md = {}  # re-read from disk
            states = [s for s in self.registry.channels() if s.model == model]
        return {
            "model": model,
            "channels": [
                {
                    "channel": s.channel,
                    "release": s.release,
                    "percent": s.percent,
                    "halted": s.halted,
                    "base": s.base,
                }
                for s in states
            ],
            **self.reports.summary(model),
        }


class _Handler(BaseHTTPRequestHandler):
    server: DevServer
    server_version = "ember-registry/0.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        if os.environ.get("EMBER_SERVE_LOG"):
            super().log_message(format, *args)

    def _send_json(self, code: int, obj: dict) -> None:
        body = json.dumps(obj, sort_keys=True).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.count(requests=1, nbytes=len(body))

    def _error(self, code: int, message: str) -> None:
        self._send_json(code, {"error": message})

    def do_POST(self) -> None:  # noqa: N802
        if urllib.parse.urlsplit(self.path).path != "/v1/report":
            return self._error(404, "POST only to /v1/report")
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 < length <= MAX_REPORT_BYTES:
            return self._error(400, f"report body must be 1..{MAX_REPORT_BYTES} bytes")
        try:
            result = self.server.handle_report(json.loads(self.rfile.read(length)))
        except (ValueError, DeliveryError) as exc:
            return self._error(400, str(exc))
        self._send_json(200, result)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve_file(head=True)

    def do_GET(self) -> None:  # noqa: N802
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/v1/status":
            model = urllib.parse.parse_qs(url.query).get("model", [""])[0]
            return self._send_json(200, self.server.status(model))
        self._serve_file(head=False)

    def _resolve(self) -> Path | None:
        rel = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        if not (rel.startswith("metadata/") or rel.startswith("targets/")):
            return None
        path = (self.server.repo_root / rel).resolve()
        if self.server.repo_root not in path.parents or not path.is_file():
            return None
        return path

    def _serve_file(self, head: bool) -> None:
        path = self._resolve()
        if path is None:
            return self._error(404, "not found")
        size = path.stat().st_size
        rng = parse_range(self.headers.get("Range"), size)
        if rng == "unsatisfiable":
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.server.count(requests=1)
            return
        start, end = (0, size - 1) if rng is None else rng
        length = max(0, end - start + 1)
        self.send_response(200 if rng is None else 206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if rng is not None:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        if path.name == "timestamp.json" or path.name == "root.json":
            self.send_header("Cache-Control", "no-cache")
        else:  # versioned metadata and hash-named targets never change
            self.send_header("Cache-Control", "public, max-age=31536000, immutable")
        self.end_headers()
        self.server.count(requests=1)
        if head:
            return
        self._copy(path, start, length)

    def _copy(self, path: Path, start: int, length: int) -> None:
        bps = self.server.throttle_bps if "/targets/" in self.path else None
        chunk = 64 * 1024 if not bps else max(1024, int(bps / 50))
        with open(path, "rb") as f:
            f.seek(start)
            left = length
            while left > 0:
                data = f.read(min(chunk, left))
                if not data:
                    break
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return
                self.server.count(nbytes=len(data))
                left -= len(data)
                if bps:
                    time.sleep(len(data) / bps)


def serve(registry: Registry, host: str = "127.0.0.1", port: int = 0, **kw) -> DevServer:
    """Start a dev server in background threads; call .stop() when done."""
    return DevServer(registry, host, port, **kw).start()
