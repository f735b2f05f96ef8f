"""The dev server over real HTTP: Range answers, HEAD, traversal, reports and status."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


def _get(url: str, headers: dict | None = None, method: str = "GET", data: bytes | None = None):
    req = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_ranges_head_and_caching(env):
    target = next((env.reg.targets_dir / "m" / "r1").rglob("*.v1.npz"))
    body = target.read_bytes()
    url = f"{env.server.url}/targets/{target.relative_to(env.reg.targets_dir)}"
    code, h, data = _get(url)
    assert (code, data, h["Accept-Ranges"]) == (200, body, "bytes")
    assert "immutable" in h["Cache-Control"]
    code, h, data = _get(url, {"Range": "bytes=10-19"})
    assert (code, data, h["Content-Range"]) == (206, body[10:20], f"bytes 10-19/{len(body)}")
    code, h, data = _get(url, {"Range": "bytes=-7"})
    assert (code, data) == (206, body[-7:])
    code, h, _ = _get(url, {"Range": f"bytes={len(body)}-"})
    assert (code, h["Content-Range"]) == (416, f"bytes */{len(body)}")
    code, h, data = _get(url, method="HEAD")
    assert (code, h["Content-Length"], data) == (200, str(len(body)), b"")
    code, h, _ = _get(f"{env.server.url}/metadata/timestamp.json")
    assert (code, h["Cache-Control"]) == (200, "no-cache")


def test_no_way_out_of_the_repository(env):
    for path in ("/metadata/../../registry.json", "/metadata/%2e%2e/%2e%2e/keys", "/keys/", "/registry.json"):
        assert _get(env.server.url + path)[0] == 404, path
    assert _get(f"{env.server.url}/metadata/99.root.json")[0] == 404  # devices probe the next root


def test_reports_and_status(env):
    ok = json.dumps({"device": "d1", "model": "m", "release": 1, "status": "ok"}).encode()
    code, _, data = _get(f"{env.server.url}/v1/report", {"Content-Type": "application/json"}, "POST", ok)
    assert (code, json.loads(data)["accepted"]) == (200, True)
    bad = json.dumps({"device": "d1", "model": "m", "release": 1, "status": "great"}).encode()
    code, _, data = _get(f"{env.server.url}/v1/report", {}, "POST", bad)
    assert code == 400 and "not one of" in json.loads(data)["error"]
    code, _, data = _get(f"{env.server.url}/v1/report", {}, "POST", b"x" * 20000)
    assert code == 400
    code, _, data = _get(f"{env.server.url}/v1/status?model=m")
    status = json.loads(data)
    assert status["channels"][0]["release"] == 1 and status["devices_running"] == {"1": 1}
