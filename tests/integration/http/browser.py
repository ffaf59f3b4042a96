#!/usr/bin/env python3
"""Drive headless Chromium over the DevTools protocol (--remote-debugging-pipe,
no extra Python packages) for tests/integration/http.

usage: browser.py --chromium PATH --profile DIR [--serve DIR] [--nav URL]...
                  [--eval JS | --eval-file FILE] [--wait-ms N] [--chromium-arg ARG]...

--serve DIR   serve DIR over HTTP on 127.0.0.2 (a host other than the device's:
              another origin); "{EVIL}" in --nav and --eval becomes its origin
--nav URL     open URL in the page and wait for its load event (in order)
--eval JS     then evaluate JS in the page (a promise is awaited); its value is
              printed (--eval-file FILE: the JS from FILE)
--wait-ms N   then wait N ms (what the last page does in the background)

Prints one JSON object: {"eval": value, "served": [paths the --serve server was
asked for], "error": message or null}. Exit 0 when the browser ran, 1 when a
step failed (the JSON says which), 2 on usage errors.
"""
import argparse
import functools
import http.server
import json
import os
import subprocess
import sys
import threading
import time


class Pipe:
    """CDP messages over Chromium's fds 3 (commands in) and 4 (events out)."""

    def __init__(self, proc, wfd, rfd):
        self.proc = proc
        self.w = os.fdopen(wfd, "wb", buffering=0)
        self.r = os.fdopen(rfd, "rb", buffering=0)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def _read_msg(self, deadline):
        while b"\0" not in self.buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from Chromium")
            chunk = self.r.read(65536)
            if not chunk:
                raise EOFError("Chromium closed the pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=30.0):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.w.write(json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_msg(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, name, session, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.events):
                if m.get("method") == name and m.get("sessionId") == session:
                    del self.events[i]
                    return m
            self.events.append(self._read_msg(deadline))


def serve(directory, served):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, fmt, *args):
            served.append(self.path)

    h = functools.partial(Handler, directory=directory)
    srv = http.server.ThreadingHTTPServer(("127.0.0.2", 0), h)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.2:{srv.server_address[1]}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chromium", required=True)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--serve")
    ap.add_argument("--nav", action="append", default=[])
    ap.add_argument("--eval")
    ap.add_argument("--eval-file")
    ap.add_argument("--wait-ms", type=int, default=0)
    ap.add_argument("--chromium-arg", action="append", default=[],
                    help="one more Chromium switch (e.g. the device certificate's "
                         "--ignore-certificate-errors-spki-list=...)")
    a = ap.parse_args()

    if a.eval_file:
        with open(a.eval_file, encoding="utf-8") as f:
            a.eval = f.read()
    out = {"eval": None, "served": [], "error": None}
    evil = ""
    srv = None
    if a.serve:
        srv, evil = serve(a.serve, out["served"])
    r_cmd, w_cmd = os.pipe()  # we write commands, Chromium reads fd 3
    r_evt, w_evt = os.pipe()  # Chromium writes fd 4, we read

    # Chromium wants them as fds 3 and 4: park them high (close-on-exec), then
    # duplicate them into place in the child (dup2 clears close-on-exec)
    os.dup2(r_cmd, 100, inheritable=False)
    os.dup2(w_evt, 101, inheritable=False)

    def child_fds():
        os.dup2(100, 3)
        os.dup2(101, 4)

    args = [a.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-dev-shm-usage", "--remote-debugging-pipe",
            f"--user-data-dir={a.profile}"] + a.chromium_arg + ["about:blank"]
    log = open(os.path.join(a.profile, "..", "chrome-cdp.log"), "wb")
    proc = subprocess.Popen(args, close_fds=False, preexec_fn=child_fds, stdout=log, stderr=log)
    for fd in (r_cmd, w_evt, 100, 101):
        os.close(fd)
    p = Pipe(proc, w_cmd, r_evt)
    rc = 0
    try:
        t = p.call("Target.createTarget", {"url": "about:blank"})
        s = p.call("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True})
        sid = s["sessionId"]
        p.call("Page.enable", session=sid)
        for url in a.nav:
            url = url.replace("{EVIL}", evil)
            p.call("Page.navigate", {"url": url}, session=sid)
            p.wait_event("Page.loadEventFired", sid)
        if a.eval:
            r = p.call("Runtime.evaluate", {"expression": a.eval.replace("{EVIL}", evil),
                                            "awaitPromise": True, "returnByValue": True},
                       session=sid, timeout=60.0)
            if "exceptionDetails" in r:
                raise RuntimeError("eval: " + json.dumps(r["exceptionDetails"])[:300])
            out["eval"] = r.get("result", {}).get("value")
        if a.wait_ms > 0:
            time.sleep(a.wait_ms / 1000.0)
            out["served"] = list(out["served"])
    except Exception as e:  # report, do not hide: the test asserts on "error"
        out["error"] = f"{type(e).__name__}: {e}"
        rc = 1
    finally:
        try:
            p.call("Browser.close", timeout=5.0)
        except Exception:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if srv:
            srv.shutdown()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
