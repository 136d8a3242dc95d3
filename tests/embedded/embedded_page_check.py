"""embedded_page_check.py - the status page of a program that embeds the
admin server (embedded_server: PostgreSQL and Redis under load), in headless
Chromium driven through chromedriver with plain W3C WebDriver JSON:

- the sparklines move: an orders-db sparkline's drawn path changes between
  refreshes while the load runs;
- tenant rows appear: the Redis resource "sessions" (one pool per tenant)
  shows its tenants as sub-rows, the busiest ("acme") first;
- the actions panel acts only with the token: suspend without a token gives
  401, with a wrong one 403, with the right one 200 and the pools table says
  "suspended"; resume brings it back;
- a PostgreSQL outage (the wrapper's crash stop, $NR_TEST_PG_CTL): orders-db
  turns unhealthy and then quarantined, "sessions" (which depends on it)
  degraded with orders-db as its root cause and the edge between them
  marked; after a restart orders-db comes back through half-open, both are
  healthy again, nothing is marked, and /status counted the Quarantined,
  QuarantineReleased and CascadeDetected events. The program (PID) is told the
  outage is on purpose (SIGUSR1, then SIGUSR2).

usage: embedded_page_check.py DRIVER_URL PAGE_URL PROFILE_DIR SCREENSHOT_PNG TOKEN PID
"""
import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

driver, page, profile, shot, token, pid = sys.argv[1:7]


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(driver + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read().decode())["value"]


def script(sid, js, *args):
    return call("POST", "/session/%s/execute/sync" % sid, {"script": js, "args": list(args)})


def wait_for(what, fn, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise SystemExit("FAIL: timed out waiting for " + what)


def element(sid, css):
    found = call("POST", "/session/%s/element" % sid, {"using": "css selector", "value": css})
    return list(found.values())[0]


def drawn(sid):
    return int(script(sid, "return document.body.getAttribute('data-drawn')") or 0)


def act(sid, action, typed):
    tok = element(sid, "#act-token")
    call("POST", "/session/%s/element/%s/clear" % (sid, tok), {})
    if typed:
        call("POST", "/session/%s/element/%s/value" % (sid, tok), {"text": typed})
    script(sid, "document.getElementById('act-id').value = arguments[0];"
                "document.getElementById('act-result').setAttribute('data-status', '');",
           "orders-db")
    button = element(sid, "#actions button[data-action='%s']" % action)
    call("POST", "/session/%s/element/%s/click" % (sid, button), {})
    return wait_for("the result of " + action, lambda: script(
        sid, "const r = document.getElementById('act-result');"
             "return r.getAttribute('data-status') ? [r.getAttribute('data-status'), r.textContent]"
             " : null;"))


def orders_state(sid):
    return script(sid, "const tr = document.querySelector(\"#pools tbody tr.resource[data-id='orders-db']\");"
                       "return tr ? tr.children[1].textContent : '';")


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
    wait_for("the page to draw /status", lambda: drawn(sid) >= 1)

    # sparklines that move under the program's load
    paths_js = ("return [...document.querySelectorAll(\"#pools tbody tr.resource[data-id='orders-db']"
                " svg.spark\")].map(s => s.getAttribute('data-metric') + ':' +"
                " ((s.querySelector('path.spark-line') || {}).getAttribute ?"
                " s.querySelector('path.spark-line').getAttribute('d') : ''));")
    first = wait_for("orders-db's sparklines", lambda: (lambda p: p if len(p) == 4 and all(
        x.split(":", 1)[1] for x in p) else None)(script(sid, paths_js)))
    moved = wait_for("a sparkline to move", lambda: script(sid, paths_js) != first, timeout=20)
    assert moved

    # the tenants of the partitioned Redis resource as sub-rows, the busiest first
    tenants = wait_for("five tenant rows", lambda: (lambda t: t if len(t) >= 5 else None)(script(
        sid, "return [...document.querySelectorAll(\"#pools tbody tr.tenant[data-id='sessions']\")]"
             ".map(tr => tr.getAttribute('data-tenant')).filter(t => t);")))
    assert sorted(tenants) == ["acme", "globex", "hooli", "initech", "umbrella"], tenants

    # actions from the page: refused without the token, done with it
    wait_for("the actions panel", lambda: script(
        sid, "return !document.getElementById('actions').hidden;"))
    status, text = act(sid, "suspend", "")
    assert status == "401" and "NR_EPERM" in text, (status, text)
    status, text = act(sid, "suspend", "not-the-token")
    assert status == "403" and "wrong" in text, (status, text)
    assert "suspended" not in orders_state(sid)
    status, text = act(sid, "suspend", token)
    assert status == "200" and "done" in text, (status, text)
    wait_for("orders-db shown suspended", lambda: "suspended" in orders_state(sid))
    status, text = act(sid, "resume", token)
    assert status == "200", (status, text)
    wait_for("orders-db shown resumed", lambda: "suspended" not in orders_state(sid))
    assert token not in script(sid, "return document.body.innerText;")

    # an outage of PostgreSQL: the cascade on the page, then the recovery
    def health(rid):
        return script(sid, "const tr = document.querySelector(\"#pools tbody tr.resource[data-id='\" + arguments[0] + \"']\");"
                           "return tr ? [tr.children[2].textContent, tr.children[2].getAttribute('data-root') || '',"
                           " tr.children[2].title] : null;", rid)
    marked_js = ("return [...document.querySelectorAll('#graph path.edge.cascade')]"
                 ".map(p => p.getAttribute('data-from') + '>' + p.getAttribute('data-to'));")
    os.kill(int(pid), signal.SIGUSR1)
    ctl = os.environ["NR_TEST_PG_CTL"].split()
    subprocess.run(ctl + ["stop"], check=True)
    wait_for("orders-db unhealthy", lambda: health("orders-db")[0].startswith("unhealthy"), timeout=60)
    sess = wait_for("sessions degraded by orders-db", lambda: (lambda h: h if h[1] == "orders-db" else None)(
        health("sessions")), timeout=30)
    assert sess[0].startswith("degraded"), sess
    assert sess[2].startswith("depends on orders-db (unhealthy: "), sess
    assert "sessions>orders-db" in script(sid, marked_js), script(sid, marked_js)
    wait_for("orders-db shown quarantined", lambda: "quarantined" in orders_state(sid), timeout=30)
    down_png = base64.b64decode(call("GET", "/session/%s/screenshot" % sid))
    with open(shot.replace(".png", "-cascade.png"), "wb") as f:
        f.write(down_png)
    subprocess.run(ctl + ["start"], check=True)
    wait_for("orders-db healthy again", lambda: health("orders-db")[0] == "healthy", timeout=90)
    wait_for("sessions healthy again", lambda: health("sessions")[0] == "healthy", timeout=30)
    assert script(sid, marked_js) == []
    assert "quarantined" not in orders_state(sid) and "half-open" not in orders_state(sid)
    counts = json.loads(urllib.request.urlopen(page + "status?history=0", timeout=10).read())["events"]["counts"]
    for kind in ("quarantined", "quarantine_released", "cascade_detected"):
        assert counts.get(kind, 0) >= 1, (kind, counts)
    os.kill(int(pid), signal.SIGUSR2)

    png = base64.b64decode(call("GET", "/session/%s/screenshot" % sid))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20000, "not a real screenshot"
    with open(shot, "wb") as f:
        f.write(png)
    print("page ok: sparklines moved, tenant rows %s, actions 401/403/200 and resume, "
          "a cascade from orders-db shown and cleared" % tenants)
finally:
    call("DELETE", "/session/%s" % sid)
