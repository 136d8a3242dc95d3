"""status_page_check.py - drive headless Chromium through chromedriver with
plain W3C WebDriver JSON (urllib only) and check the status page of a running
nebula-resource: it draws the graph from /status (one SVG node per resource,
layered by dependency level, one edge per dependency), shows every resource
id and its health, refreshes itself, and a screenshot of it is a real picture.

usage: status_page_check.py DRIVER_URL PAGE_URL PROFILE_DIR SCREENSHOT_PNG
"""
import base64
import json
import struct
import sys
import time
import urllib.request
import zlib

driver, page, profile, shot = sys.argv[1:5]

EXPECTED_NODES = {"orders-db": 0, "audit-log": 1, "tenant-cache": 1, "reports": 2}
EXPECTED_EDGES = {("audit-log", "orders-db"), ("tenant-cache", "orders-db"),
                  ("reports", "audit-log"), ("reports", "tenant-cache")}


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(driver + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read().decode())["value"]


def script(sid, js):
    return call("POST", "/session/%s/execute/sync" % sid, {"script": js, "args": []})


def wait_for(what, fn, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise SystemExit("FAIL: timed out waiting for " + what)


caps = {"capabilities": {"alwaysMatch": {
    "browserName": "chrome",
    "goog:chromeOptions": {
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,900", "--user-data-dir=" + profile,
                 "--no-first-run", "--no-default-browser-check"]}}}}
sid = call("POST", "/session", caps)["sessionId"]
try:
    call("POST", "/session/%s/url" % sid, {"url": page})
    wait_for("the page to draw /status",
             lambda: int(script(sid, "return document.body.getAttribute('data-drawn')") or 0) >= 1)
    info = script(sid, """
        const nodes = [...document.querySelectorAll('#graph g.node')].map(g => {
          const m = /translate\\(([-0-9.]+),([-0-9.]+)\\)/.exec(g.getAttribute('transform'));
          return {id: g.getAttribute('data-id'), health: g.getAttribute('data-health'),
                  x: parseFloat(m[1]), text: g.textContent};
        });
        const edges = [...document.querySelectorAll('#graph path.edge')].map(
          p => [p.getAttribute('data-from'), p.getAttribute('data-to')]);
        return {nodes: nodes, edges: edges, text: document.body.innerText,
                ready: document.getElementById('ready').textContent,
                rows: document.querySelectorAll('#pools tbody tr').length,
                drawn: parseInt(document.body.getAttribute('data-drawn'))};""")
    ids = sorted(n["id"] for n in info["nodes"])
    assert ids == sorted(EXPECTED_NODES), "SVG nodes: %s" % ids
    for n in info["nodes"]:
        assert n["health"] == "healthy", n
        assert n["id"] in n["text"] and "healthy" in n["text"], n
    xs = {n["id"]: n["x"] for n in info["nodes"]}
    for a in EXPECTED_NODES:
        for b in EXPECTED_NODES:
            if EXPECTED_NODES[a] < EXPECTED_NODES[b]:
                assert xs[a] < xs[b], "not layered by level: %s" % xs
            if EXPECTED_NODES[a] == EXPECTED_NODES[b]:
                assert xs[a] == xs[b], "one level, two columns: %s" % xs
    edges = {tuple(e) for e in info["edges"]}
    assert edges == EXPECTED_EDGES and len(info["edges"]) == 4, "SVG edges: %s" % info["edges"]
    for rid in EXPECTED_NODES:
        assert rid in info["text"], "page text lacks " + rid
    assert "healthy" in info["text"]
    assert info["ready"] == "ready", info["ready"]
    assert info["rows"] == 4, info["rows"]
    first = info["drawn"]
    wait_for("the page to refresh itself",
             lambda: int(script(sid, "return document.body.getAttribute('data-drawn')")) >= first + 2)
    png = base64.b64decode(call("GET", "/session/%s/screenshot" % sid))
    with open(shot, "wb") as f:
        f.write(png)
finally:
    call("DELETE", "/session/" + sid)

# a real picture: a PNG of the window's size whose rows are not all alike
assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
width, height = struct.unpack(">II", png[16:24])
assert width >= 800 and height >= 600, (width, height)
assert len(png) > 20000, "suspiciously small PNG: %d bytes" % len(png)
pos, idat = 8, b""
while pos < len(png):
    n, kind = struct.unpack(">I4s", png[pos:pos + 8])
    if kind == b"IDAT":
        idat += png[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(idat)
stride = len(raw) // height
rows = {raw[i * stride + 1:(i + 1) * stride] for i in range(height)}
colours = set(raw[1:stride:4])
assert len(rows) > 50, "only %d distinct rows of pixels" % len(rows)
print("ok: %d nodes, %d edges, refreshed, screenshot %dx%d, %d bytes, %d distinct rows -> %s"
      % (len(ids), len(edges), width, height, len(png), len(rows), shot))
