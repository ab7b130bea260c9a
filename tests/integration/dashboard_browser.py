#!/usr/bin/env python3
"""Opens troupe's /dashboard in headless Chromium, driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: JSON messages separated by NUL on fds 3 and 4; the standard library
only), in real time: waits until the page has drawn --updates updates, then reports what it drew
and every URL the page requested, and saves a screenshot.

    dashboard_browser.py --url http://127.0.0.1:PORT/dashboard --updates 6 --png out.png
      -> stdout: {"updates", "errors", "points": {canvas id: values drawn}, "requests": [urls],
                  "title"}
Exit 0 with that JSON; 3 when chromium is not installed; 1 on a failure (message on stderr).
"""
import argparse
import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

READ_PAGE = """JSON.stringify({
  updates: Number(document.body.dataset.updates),
  errors: Number(document.body.dataset.errors),
  title: document.title,
  points: Object.fromEntries(Array.from(document.querySelectorAll("canvas"))
      .map(c => [c.id, Number(c.dataset.points || 0)]))
})"""


class Browser:
    def __init__(self, chromium, profile):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()
        # The child sees the pipes as fds 3 (commands in) and 4 (answers out).
        def child_fds():
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)
        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--window-size=1200,1500", f"--user-data-dir={profile}",
             # Nothing outside this machine resolves: an external request would fail (and is
             # reported below either way).
             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
             "--remote-debugging-pipe", "about:blank"],
            pass_fds=(3, 4), preexec_fn=child_fds, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []

    def _read_message(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_browser], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--updates", type=int, default=6)
    ap.add_argument("--png", required=True)
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("chromium is not installed (tools/setup.sh --packages)", file=sys.stderr)
        sys.exit(3)
    with tempfile.TemporaryDirectory() as profile:
        browser = Browser(chromium, profile)
        try:
            target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = browser.send("Target.attachToTarget",
                                   {"targetId": target, "flatten": True})["sessionId"]
            browser.send("Network.enable", session=session)
            browser.send("Page.enable", session=session)
            browser.send("Page.navigate", {"url": args.url}, session=session)
            deadline = time.monotonic() + args.timeout
            page = {}
            while time.monotonic() < deadline:
                value = browser.send("Runtime.evaluate", {"expression": READ_PAGE,
                                     "returnByValue": True}, session=session)
                page = json.loads(value.get("result", {}).get("value") or "{}")
                if page.get("updates", 0) >= args.updates:
                    break
                time.sleep(0.25)
            shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
            with open(args.png, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            page["requests"] = [e["params"]["request"]["url"] for e in browser.events
                                if e.get("method") == "Network.requestWillBeSent"
                                and e.get("sessionId") == session]
            json.dump(page, sys.stdout)
        except Exception as e:
            print(f"dashboard_browser: {type(e).__name__}: {e}", file=sys.stderr)
            sys.exit(1)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
