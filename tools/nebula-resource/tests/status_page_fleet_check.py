"""status_page_fleet_check.py - the status page's "Fleet budgets" section in
headless Chromium (plain W3C WebDriver JSON, urllib only, as
status_page_check.py), on a `nebula-resource run` whose orders-db is in a
fleet budget and whose plain-db is not (browser_fleet_test.sh):

  - the section is shown, with one row, orders-db's, and none for plain-db;
  - every cell of the row is what /status says (read before and after the
    page: each cell equals one of the two, the counters lie between them):
    mode, Redis up, budget, fleet in use "N of B", processes, local share,
    local limit, local held, wanted, syncs, renew failures;
  - the budget set in Redis (SET of its key, the agent reads it at its next
    script) is drawn as the new budget;
  - Redis stopped (SIGSTOP, through $NR_TEST_REDIS_CTL): the Redis cell turns
    to "down" with the last failure as its tooltip, renew failures grow;
    continued: "up" again;
  - no text in the section overflows its box; a screenshot is taken.

usage: status_page_fleet_check.py DRIVER_URL PAGE_URL PROFILE_DIR SCREENSHOT_PNG BUDGET_KEY
"""
import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

driver, page, profile, shot, budget_key = sys.argv[1:6]


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


def wait_for(what, fn, timeout=30):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise SystemExit("FAIL: timed out waiting for %s" % what)


def status_fleet():
    with urllib.request.urlopen(page + "status", timeout=10) as r:
        s = json.loads(r.read().decode())
    return {res["id"]: res.get("fleet") for res in s["resources"]}


def redis(*args):
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", os.environ["NR_TEST_REDIS_PORT"],
                    "-a", os.environ["NR_TEST_REDIS_PASSWORD"], "--no-auth-warning"] + list(args),
                   check=True, stdout=subprocess.DEVNULL)


def redis_ctl(what):
    subprocess.run(os.environ["NR_TEST_REDIS_CTL"] + " " + what, shell=True, check=True)


# What the page shows: the section's visibility and, per row, its cells'
# texts and tooltips, and whether the row is laid out as one (an HTML table
# row with every cell given room, not an element the browser does not draw).
ROWS_JS = """
const sec = document.getElementById('fleet-section'), rows = {};
for (const tr of document.querySelectorAll('#fleet tbody tr'))
  rows[tr.getAttribute('data-fleet')] = {
    drawn: tr instanceof HTMLTableRowElement && tr.getBoundingClientRect().height > 0 &&
      Array.from(tr.children).every(td => td instanceof HTMLTableCellElement &&
                                          td.getBoundingClientRect().width > 0),
    text: Array.from(tr.children).map(td => td.textContent),
    title: Array.from(tr.children).map(td => td.title || (td.firstElementChild ? td.firstElementChild.title : ''))};
return {hidden: sec.hidden, rows: rows, drawn: document.body.getAttribute('data-drawn')};
"""

# The cells as the page should draw them from a /status fleet object.
def cells(rid, f):
    redis_cell = ("up" if f["redis_up"] else "down") + (" fallback" if f["fallback"] else "")
    return [rid, f["mode"], redis_cell, str(f["budget"]),
            "%d of %d" % (f["fleet_leases"], f["budget"]), str(f["processes"]), str(f["leases"]),
            str(f["local_limit"]), str(f["local_held"]), str(f["local_wanted"]), str(f["syncs"]),
            str(f["renew_failures"])]


COUNTERS = (10, 11)  # syncs, renew failures: only grow


def page_matches_status(sid):
    """The row of orders-db against /status read just before and after it;
    None when they do not agree (the caller tries again), else the row."""
    before = status_fleet()
    shown = script(sid, ROWS_JS)
    after = status_fleet()
    assert not shown["hidden"], "the fleet section is hidden"
    assert set(shown["rows"]) == {"orders-db"}, "fleet rows: %s" % list(shown["rows"])
    assert before["plain-db"] is None and after["plain-db"] is None, "plain-db has a fleet object"
    assert shown["rows"]["orders-db"]["drawn"], "the fleet row is not laid out as a table row"
    got = shown["rows"]["orders-db"]["text"]
    a, b = cells("orders-db", before["orders-db"]), cells("orders-db", after["orders-db"])
    for i, v in enumerate(got):
        if i in COUNTERS:
            if not int(a[i]) <= int(v) <= int(b[i]):
                return None
        elif v not in (a[i], b[i]):
            return None
    return shown["rows"]["orders-db"]


def matched(sid, what, cond=lambda row: True):
    def once():
        row = page_matches_status(sid)
        return row if row and cond(row) else None
    return wait_for(what, once, timeout=30)


OVERFLOW_JS = """
const bad = [];
for (const e of document.querySelectorAll('#fleet-section *')) {
  if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible' &&
      !(e.tagName === 'TABLE' || e.tagName === 'TBODY' || e.tagName === 'THEAD' || e.tagName === 'TR'))
    bad.push(e.tagName + ' "' + e.textContent.slice(0, 40) + '"');
}
const s = document.getElementById('fleet-section');
if (s.scrollWidth > s.clientWidth + 1) bad.push('the section scrolls sideways: ' + s.scrollWidth + ' > ' + s.clientWidth);
return bad;
"""

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
    row = matched(sid, "the fleet row to match /status, Redis up",
                  lambda r: r["text"][2] == "up" and r["text"][3] == "6")
    held = int(row["text"][8])
    assert row["text"][1] == "fail_closed" and row["text"][4].endswith(" of 6"), row["text"]
    assert held >= 1 and int(row["text"][6]) >= held, "local share below held: %s" % row["text"]
    bad = script(sid, OVERFLOW_JS)
    assert not bad, "text overflows in the fleet section: %s" % bad

    redis("SET", budget_key, "9")
    row = matched(sid, "the new budget 9 drawn", lambda r: r["text"][3] == "9")
    assert row["text"][4].endswith(" of 9"), row["text"]

    failures = int(row["text"][11])
    redis_ctl("pause")
    try:
        row = matched(sid, "Redis drawn as down",
                      lambda r: r["text"][2].startswith("down") and int(r["text"][11]) > failures)
        assert "fleet 'orders-db'" in row["title"][2], "the down badge's tooltip: %r" % row["title"][2]
        assert "fleet 'orders-db'" in row["title"][11], "renew failures' tooltip: %r" % row["title"][11]
        png = base64.b64decode(call("GET", "/session/%s/screenshot" % sid))
    finally:
        redis_ctl("resume")
    row = matched(sid, "Redis drawn as up again", lambda r: r["text"][2] == "up")
finally:
    call("DELETE", "/session/" + sid)

assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
with open(shot, "wb") as f:
    f.write(png)
print("ok: fleet section drawn from /status (%s), the budget changed in Redis drawn, Redis down "
      "and up again drawn; screenshot -> %s" % (", ".join(row["text"]), shot))
