"""status_page_check.py - drive headless Chromium through chromedriver with
plain W3C WebDriver JSON (urllib only) and check the status page.

First on a `nebula-resource run` without load (RUN_URL): it draws the graph
from /status (one SVG node per resource, layered by dependency level, one
edge per dependency), shows every resource id and its health, refreshes
itself, cuts 63-character ids to their boxes, expands an event in full and
keeps it expanded across refreshes, and a screenshot of it is a real
picture.

Then on a `nebula-resource demo` under load (DEMO_URL): four sparklines per
resource whose drawn paths change between refreshes, the tenants of the
partitioned 'tenant-cache' as sub-rows, the wait and oldest-lease columns,
wall-clock event times, and the event filters (by kind, resource and text)
filtering and kept across refreshes.

On both, at two window widths: no element's text overflows its box (an
element may only clip its text with an ellipsis and the whole text in a
tooltip or in its expanded event; scroll boxes are fine), no SVG node text
leaves its node, and the page itself does not scroll sideways.

An outage on each (before the checks above, on the demo; after them, on
`run`): the demo's stuck writer, and on `run` a write lock this script holds
on ORDERS_DB with sqlite3. Polled, bounded: orders-db shown unhealthy with
"database is locked" in its reason, the resources that depend on it degraded
with orders-db as root cause ("depends on orders-db (unhealthy: ...)"), the
edges of the path marked, and once the lock is free every resource healthy
again and nothing marked.

usage: status_page_check.py DRIVER_URL RUN_URL DEMO_URL PROFILE_DIR SCREENSHOT_PNG ORDERS_DB
"""
import base64
import json
import re
import sqlite3
import struct
import sys
import time
import urllib.error
import urllib.request
import zlib

driver, page, demo_page, profile, shot, orders_db = sys.argv[1:7]

LONG = "a-resource-with-an-id-as-long-as-ids-may-be-sixty-three-bytes-1"
LONG_T = "tenant-pools-with-an-id-as-long-as-ids-may-be-sixty-three-byt-2"
assert len(LONG) == 63 and len(LONG_T) == 63
EXPECTED_NODES = {"orders-db": 0, "audit-log": 1, "tenant-cache": 1, "reports": 2, LONG: 0,
                  LONG_T: 1}
EXPECTED_EDGES = {("audit-log", "orders-db"), ("tenant-cache", "orders-db"),
                  ("reports", "audit-log"), ("reports", "tenant-cache"), (LONG_T, "orders-db")}
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C web element key


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(driver + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read().decode())["value"]
    except urllib.error.HTTPError as e:  # say what the driver said
        raise SystemExit("FAIL: WebDriver %s %s: %s" % (method, path, e.read().decode()[:2000]))


def script(sid, js):
    return call("POST", "/session/%s/execute/sync" % sid, {"script": js, "args": []})


def find(sid, css):
    v = call("POST", "/session/%s/element" % sid, {"using": "css selector", "value": css})
    if not isinstance(v, dict) or ELEMENT not in v:
        raise SystemExit("FAIL: no element %s: %r" % (css, v))
    return v[ELEMENT]


def click(sid, css):
    """Find and click; again when a redraw replaced the element in between
    (the page redraws every second: "stale element reference")."""
    for attempt in range(5):
        try:
            call("POST", "/session/%s/element/%s/click" % (sid, find(sid, css)), {})
            return
        except SystemExit as e:
            if "stale element reference" not in str(e) or attempt == 4:
                raise


def type_into(sid, css, text):
    eid = find(sid, css)
    call("POST", "/session/%s/element/%s/clear" % (sid, eid), {})
    if text:
        call("POST", "/session/%s/element/%s/value" % (sid, eid), {"text": text})


def wait_for(what, fn, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise SystemExit("FAIL: timed out waiting for " + what)


def drawn(sid):
    return int(script(sid, "return document.body.getAttribute('data-drawn')") or 0)


def wait_refreshes(sid, n):
    first = drawn(sid)
    wait_for("%d refreshes of the page" % n, lambda: drawn(sid) >= first + n)


# Returns what overflows: HTML elements whose content is wider than their box
# and that neither scroll nor clip it on purpose (ellipsis, with the whole
# text in a title or in the expanded event), SVG node texts outside their
# node, and the page wider than the window. Also counts what was clipped on
# purpose, so that a test can tell the rule was exercised.
OVERFLOW_JS = """
const bad = [], clipped = [];
function name(e) {
  return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
    (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '') +
    ' "' + (e.textContent || '').slice(0, 40) + '"';
}
for (const e of document.body.querySelectorAll('*')) {
  if (e instanceof SVGElement || e.closest('[hidden]')) continue;
  const cs = getComputedStyle(e);
  if (cs.display === 'inline' || cs.display === 'none' || cs.display === 'contents') continue;
  if (e.scrollWidth <= e.clientWidth + 1) continue;
  if (cs.overflowX === 'auto' || cs.overflowX === 'scroll') continue;
  if ((cs.overflowX === 'hidden' || cs.overflowX === 'clip') && cs.textOverflow === 'ellipsis' &&
      ((e.title && e.title.includes(e.textContent)) || e.closest('summary'))) {
    clipped.push(name(e));
    continue;
  }
  bad.push(name(e) + ': ' + e.scrollWidth + ' px of content in ' + e.clientWidth);
}
for (const g of document.querySelectorAll('#graph g.node')) {
  const w = parseFloat(g.querySelector('rect').getAttribute('width'));
  const h = parseFloat(g.querySelector('rect').getAttribute('height'));
  for (const t of g.querySelectorAll('text')) {
    const b = t.getBBox();
    if (b.x < 0 || b.x + b.width > w - 4 || b.y < 0 || b.y + b.height > h)
      bad.push('node ' + g.getAttribute('data-id') + ' text "' + t.textContent + '" ' + b.x + '+' + b.width + ' of ' + w);
    if (t.getAttribute('data-full')) clipped.push('svg ' + t.textContent);
  }
}
if (document.documentElement.scrollWidth > window.innerWidth)
  bad.push('the page is ' + document.documentElement.scrollWidth + ' px wide in a ' + window.innerWidth + ' px window');
return {bad: bad, clipped: clipped};
"""


def check_no_overflow(sid, where):
    total = 0
    for width in (1280, 600):
        call("POST", "/session/%s/window/rect" % sid, {"width": width, "height": 900})
        wait_refreshes(sid, 1)
        r = script(sid, OVERFLOW_JS)
        assert not r["bad"], "%s at %d px: text overflows: %s" % (where, width, r["bad"])
        total += len(r["clipped"])
    call("POST", "/session/%s/window/rect" % sid, {"width": 1280, "height": 900})
    return total


def check_overflow_checker(sid):
    """The checker itself sees an overflowing text (a control)."""
    r = script(sid, """
        const d = document.createElement('div');
        d.style.width = '40px'; d.style.whiteSpace = 'nowrap';
        d.textContent = 'a text much wider than forty pixels';
        document.querySelector('main').appendChild(d);
        const r = (function() {""" + OVERFLOW_JS + """})();
        d.remove();
        return r;""")
    assert any("much wider" in b for b in r["bad"]), "the overflow check misses overflow: %s" % r


def check_run_page(sid):
    call("POST", "/session/%s/url" % sid, {"url": page})
    wait_for("the page to draw /status", lambda: drawn(sid) >= 1)
    info = script(sid, """
        const nodes = [...document.querySelectorAll('#graph g.node')].map(g => {
          const m = /translate\\(([-0-9.]+),([-0-9.]+)\\)/.exec(g.getAttribute('transform'));
          return {id: g.getAttribute('data-id'), health: g.getAttribute('data-health'),
                  x: parseFloat(m[1]),
                  text: [...g.querySelectorAll('text')].map(t => t.textContent).join(' | '),
                  title: g.querySelector(':scope > title').textContent};
        });
        const edges = [...document.querySelectorAll('#graph path.edge')].map(
          p => [p.getAttribute('data-from'), p.getAttribute('data-to')]);
        return {nodes: nodes, edges: edges, text: document.body.innerText,
                ready: document.getElementById('ready').textContent,
                rows: document.querySelectorAll('#pools tbody tr.resource').length,
                healthTips: [...document.querySelectorAll('#pools tbody tr.resource')].map(
                  tr => tr.children[2].title),
                heads: [...document.querySelectorAll('#pools th')].map(t => t.textContent),
                drawn: parseInt(document.body.getAttribute('data-drawn'))};""")
    ids = sorted(n["id"] for n in info["nodes"])
    assert ids == sorted(EXPECTED_NODES), "SVG nodes: %s" % ids
    for n in info["nodes"]:
        assert n["health"] == "healthy", n
        assert n["title"].startswith(n["id"] + ": healthy"), n
        assert "healthy" in n["text"], n
        if n["id"] in (LONG, LONG_T):  # cut to their box, whole in the tooltip
            assert n["id"] not in n["text"] and "\u2026" in n["text"], n
        else:
            assert n["id"] in n["text"], n
    xs = {n["id"]: n["x"] for n in info["nodes"]}
    for a in EXPECTED_NODES:
        for b in EXPECTED_NODES:
            if EXPECTED_NODES[a] < EXPECTED_NODES[b]:
                assert xs[a] < xs[b], "not layered by level: %s" % xs
            if EXPECTED_NODES[a] == EXPECTED_NODES[b]:
                assert xs[a] == xs[b], "one level, two columns: %s" % xs
    edges = {tuple(e) for e in info["edges"]}
    assert edges == EXPECTED_EDGES and len(info["edges"]) == 5, "SVG edges: %s" % info["edges"]
    for rid in EXPECTED_NODES:
        assert rid in info["text"], "page text lacks " + rid
    assert info["ready"] == "ready", info["ready"]
    assert info["rows"] == 6, info["rows"]
    # the health cell's tooltip lists the stages of the last round
    for tip in info["healthTips"]:
        assert re.search(r"connectivity: \w+( \(.*\))?, [0-9.]+ ms", tip), info["healthTips"]
    for h in ("destroyed", "wait", "wait max", "oldest lease", "acq/s"):
        assert h in info["heads"], "no column %r in %s" % (h, info["heads"])
    assert "closed" not in info["heads"], info["heads"]
    wait_refreshes(sid, 2)

    # an event expanded shows every field and stays expanded across refreshes
    wait_for("an event", lambda: script(sid, "return document.querySelectorAll('#events li').length"))
    key = script(sid, "return document.querySelector('#events li').getAttribute('data-key')")
    click(sid, "#events li[data-key='%s'] summary" % key)
    wait_refreshes(sid, 2)
    ev = script(sid, """
        const li = document.querySelector("#events li[data-key='%s']");
        if (!li) return null;
        const full = li.querySelector('.ev-full');
        return {open: li.querySelector('details').open, height: full.offsetHeight,
                full: full.textContent, kind: li.getAttribute('data-type'),
                time: li.querySelector('.ev-time').textContent,
                msg: li.querySelector('.ev-msg').textContent};""" % key)
    assert ev, "the expanded event %s is gone" % key
    assert ev["open"] and ev["height"] > 0, ev
    assert ("kind: " + ev["kind"]) in ev["full"] and "seq: " in ev["full"], ev
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", ev["time"]), ev
    clipped = check_no_overflow(sid, "run")
    assert clipped >= 2, "nothing was clipped on purpose (the long ids should be): %d" % clipped
    check_overflow_checker(sid)
    script(sid, "window.scrollTo(0, 0)")
    png = base64.b64decode(call("GET", "/session/%s/screenshot" % sid))
    with open(shot, "wb") as f:
        f.write(png)
    return len(ids), len(edges), png


SPARK_JS = """
const out = {};
for (const tr of document.querySelectorAll('#pools tr.resource')) {
  const id = tr.getAttribute('data-id');
  out[id] = {};
  for (const s of tr.querySelectorAll('svg.spark')) {
    const p = s.querySelector('path.spark-line');
    out[id][s.getAttribute('data-metric')] = p ? p.getAttribute('d') : null;
  }
}
return out;
"""


def ys(d):
    nums = [float(x) for x in re.findall(r"-?[0-9.]+", d)]
    return nums[1::2]


def visible_events(sid):
    return script(sid, """
        return [...document.querySelectorAll('#events li')].map(li => ({
          hidden: li.hidden, type: li.getAttribute('data-type'),
          resource: li.getAttribute('data-resource'),
          text: li.querySelector('.ev-full').textContent}));""")


def check_filter(sid, what, ok):
    evs = visible_events(sid)
    shown = [e for e in evs if not e["hidden"]]
    assert shown, "%s: nothing shown" % what
    assert all(ok(e) for e in shown), "%s: shown %s" % (what, shown)
    assert all(not ok(e) for e in evs if e["hidden"]), "%s: hidden but matching" % what
    return len(shown), len(evs) - len(shown)


def check_demo_page(sid):
    call("POST", "/session/%s/url" % sid, {"url": demo_page})
    wait_for("four sparklines per resource with three samples or more", lambda: script(sid, """
        const rows = document.querySelectorAll('#pools tr.resource');
        return rows.length === 3 && [...rows].every(tr =>
          [...tr.querySelectorAll('svg.spark path.spark-line')].filter(
            p => p.getAttribute('d').split('L').length >= 3).length === 4);"""))
    before = script(sid, SPARK_JS)
    wait_refreshes(sid, 2)
    after = script(sid, SPARK_JS)
    for rid in before:
        assert sorted(before[rid]) == ["acquire_rate", "in_use", "wait_ms", "waiters"], before[rid]
        assert any(before[rid][m] != after[rid][m] for m in before[rid]), \
            "%s: no sparkline moved: %s" % (rid, after[rid])
    assert before["orders-db"]["acquire_rate"] != after["orders-db"]["acquire_rate"]
    # under load the rate is drawn above the zero line
    assert min(ys(after["orders-db"]["acquire_rate"])) < 16, after["orders-db"]["acquire_rate"]

    rows = script(sid, """
        return [...document.querySelectorAll('#pools tbody tr')].map(tr => ({
          cls: tr.className, id: tr.getAttribute('data-id'), tenant: tr.getAttribute('data-tenant'),
          cells: [...tr.children].map(td => td.lastChild ? td.lastChild.textContent : '')}));""")
    heads = script(sid, "return [...document.querySelectorAll('#pools th')].map(t => t.textContent)")
    at = rows.index(next(r for r in rows if r["cls"] == "resource" and r["id"] == "tenant-cache"))
    tenants = rows[at + 1:at + 5]
    assert sorted(t["tenant"] for t in tenants) == ["acme", "globex", "initech", "umbrella"], rows
    assert all(t["cls"] == "tenant" and t["id"] == "tenant-cache" for t in tenants), tenants
    col = {h: i for i, h in enumerate(heads)}
    assert all(int(t["cells"][col["acquires"]]) > 0 for t in tenants), tenants
    orders = next(r for r in rows if r["id"] == "orders-db")
    duration = r"0|\d+(\.\d+)? (ms|s)|\d+ min \d+ s"
    for c in ("wait", "wait max", "oldest lease"):
        text = orders["cells"][col[c]].strip()
        assert re.fullmatch(duration, text), "%s: %r" % (c, text)

    # the event filters filter, and stay across refreshes
    times = script(sid, "return [...document.querySelectorAll('#events .ev-time')].map(t => t.textContent)")
    assert times and all(re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", t) for t in times), times
    wait_for("a 'created' kind to filter by",
             lambda: script(sid, "return !!document.querySelector(\"#ev-kind option[value='created']\")"))
    click(sid, "#ev-kind option[value='created']")
    n_kind = check_filter(sid, "kind created", lambda e: e["type"] == "created")
    wait_for("a 'tenant-cache' resource to filter by",
             lambda: script(sid, "return !!document.querySelector(\"#ev-resource option[value='tenant-cache']\")"))
    click(sid, "#ev-resource option[value='tenant-cache']")
    wait_refreshes(sid, 2)
    state = script(sid, "return [document.getElementById('ev-kind').value, document.getElementById('ev-resource').value]")
    assert state == ["created", "tenant-cache"], state
    wait_for("a created event of tenant-cache", lambda: any(
        not e["hidden"] for e in visible_events(sid)))
    n_both = check_filter(sid, "created on tenant-cache",
                          lambda e: e["type"] == "created" and e["resource"] == "tenant-cache")
    click(sid, "#ev-kind option[value='']")
    click(sid, "#ev-resource option[value='']")
    type_into(sid, "#ev-text", "umbrella")
    state = script(sid, "return [document.getElementById('ev-kind').value, document.getElementById('ev-resource').value]")
    assert state == ["", ""], state
    wait_for("an event of tenant umbrella", lambda: any(
        not e["hidden"] for e in visible_events(sid)))
    n_text = check_filter(sid, "text umbrella", lambda e: "umbrella" in e["text"].lower())
    type_into(sid, "#ev-text", "")
    check_no_overflow(sid, "demo")
    return n_kind, n_both, n_text


def health_cell(sid, rid):
    """The health cell of a resource's row: text, data-root, tooltip."""
    return script(sid, "const tr = document.querySelector(\"#pools tbody tr.resource[data-id='" + rid +
                  "']\"); return tr ? [tr.children[2].textContent, tr.children[2].getAttribute('data-root')"
                  " || '', tr.children[2].title] : null;")


MARKED_JS = ("return [...document.querySelectorAll('#graph path.edge.cascade')]"
             ".map(p => p.getAttribute('data-from') + '>' + p.getAttribute('data-to')).sort();")


def check_outage(sid, where, dependents, marked, timeout=60):
    """orders-db unhealthy with the lock in its reason, dependents degraded by it, the path marked."""
    wait_for(where + ": orders-db unhealthy", lambda: (health_cell(sid, "orders-db") or [""])[0]
             .startswith("unhealthy"), timeout=timeout)
    text, root, tip = health_cell(sid, "orders-db")
    assert root == "" and "database is locked" in tip, (where, text, tip)
    node = script(sid, "const g = document.querySelector(\"#graph g.node[data-id='orders-db']\");"
                       " return [g.getAttribute('data-health'), g.querySelector(':scope > title').textContent];")
    assert node[0] == "unhealthy" and "database is locked" in node[1], (where, node)
    for rid in dependents:
        cell = wait_for(where + ": " + rid + " degraded by orders-db", lambda: (
            lambda h: h if h and h[1] == "orders-db" else None)(health_cell(sid, rid)), timeout=30)
        assert cell[0] == "degraded \u2190 orders-db", (where, rid, cell)
        assert cell[2].startswith("depends on orders-db (unhealthy: "), (where, rid, cell)
    got = wait_for(where + ": the path marked", lambda: (
        lambda m: m if set(marked) <= set(m) else None)(script(sid, MARKED_JS)), timeout=10)
    return got


def check_recovered(sid, where, ids, timeout=90):
    for rid in ids:
        wait_for(where + ": " + rid + " healthy again",
                 lambda: (health_cell(sid, rid) or [""])[0] == "healthy", timeout=timeout)
    assert script(sid, MARKED_JS) == [], (where, script(sid, MARKED_JS))


def check_demo_outage(sid):
    call("POST", "/session/%s/url" % sid, {"url": demo_page})
    wait_for("the demo page to draw /status", lambda: drawn(sid) >= 1)
    marked = check_outage(sid, "demo", ["audit-log", "tenant-cache"],
                          ["audit-log>orders-db", "tenant-cache>orders-db"])
    check_recovered(sid, "demo", ["orders-db", "audit-log", "tenant-cache"])
    return marked


def check_run_outage(sid):
    call("POST", "/session/%s/url" % sid, {"url": page})
    wait_for("the page to draw /status", lambda: drawn(sid) >= 1)
    # a stuck writer: this script takes the write lock and keeps it
    db = sqlite3.connect(orders_db, timeout=10, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("CREATE TABLE IF NOT EXISTS stuck(x)")
        marked = check_outage(sid, "run", ["audit-log", "tenant-cache", LONG_T, "reports"],
                              ["audit-log>orders-db", "tenant-cache>orders-db", LONG_T + ">orders-db",
                               "reports>audit-log", "reports>tenant-cache"])
    finally:
        db.execute("ROLLBACK")
        db.close()
    check_recovered(sid, "run", list(EXPECTED_NODES))
    return marked


caps = {"capabilities": {"alwaysMatch": {
    "browserName": "chrome",
    "goog:chromeOptions": {
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,900", "--user-data-dir=" + profile,
                 "--no-first-run", "--no-default-browser-check"]}}}}
sid = call("POST", "/session", caps)["sessionId"]
try:
    demo_marked = check_demo_outage(sid)
    nnodes, nedges, png = check_run_page(sid)
    run_marked = check_run_outage(sid)
    filters = check_demo_page(sid)
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
assert len(rows) > 50, "only %d distinct rows of pixels" % len(rows)
print("ok: outages shown and recovered: demo marked %s; run marked %s" % (demo_marked, run_marked))
print("ok: %d nodes, %d edges, refreshed, no text overflows at 1280 and 600 px, sparklines move "
      "under load, four tenant rows, event filters (shown/hidden) by kind %s, kind and resource "
      "%s, text %s; screenshot %dx%d, %d bytes, %d distinct rows -> %s"
      % (nnodes, nedges, filters[0], filters[1], filters[2], width, height, len(png), len(rows),
         shot))
