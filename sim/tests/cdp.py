"""A small Chrome DevTools protocol client for the tests that drive a real
headless Chromium (Debian's /usr/bin/chromium) from Debian's python3 with
python3-websocket.

Browser() starts Chromium on a free DevTools port with a fresh profile, reads
the port from DevToolsActivePort (or from its "DevTools listening on" line),
and talks to it over the browser's WebSocket in flat session mode. Each
Page() is a new tab in its own browser context (no cookies or cache shared
between tests). Every wait has a deadline; close() stops the browser by its
pid and then only the processes it started itself."""

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import websocket

CHROMIUM = os.environ.get("SC_CHROMIUM", "/usr/bin/chromium")

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--ignore-certificate-errors", "--remote-debugging-port=0",
    # No system proxy (CI machines set http_proxy), no /dev/shm (small in
    # containers), no first-run or default-browser questions.
    "--no-proxy-server", "--disable-dev-shm-usage", "--no-default-browser-check",
    "--disable-extensions", "--disable-default-apps", "--mute-audio",
    "--password-store=basic", "--use-mock-keychain",
    "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication",
]


class CDPError(Exception):
    pass


def _deadline(timeout):
    return time.monotonic() + timeout


def _ours(pgid, profile):
    """Pids of the live processes Chromium started: those of its process
    group, and those that left it (crashpad handlers) but name our fresh
    profile directory on their command line (from /proc)."""
    out = []
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmdline = f.read().decode(errors="replace")
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) < 3 or fields[0] in ("Z", "X"):
            continue
        if int(fields[2]) == pgid or (profile in cmdline and "chrom" in cmdline):
            out.append(int(name))
    return out


class Browser:
    """A headless Chromium of our own; use as a context manager or close()."""

    def __init__(self, binary=CHROMIUM, timeout=60, extra_flags=()):
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            raise CDPError("no Chromium at %s: install the Debian package 'chromium' "
                           "(apt-get install chromium)" % binary)
        self.binary = binary
        self.profile = tempfile.mkdtemp(prefix="sc-chromium-")
        self.args = [binary, *FLAGS, "--user-data-dir=" + self.profile, *extra_flags,
                     "about:blank"]
        env = dict(os.environ)
        # Chromium writes its caches and crash dumps under HOME and XDG dirs:
        # keep them in the fresh profile, away from the user's.
        env["HOME"] = self.profile
        env["XDG_CONFIG_HOME"] = os.path.join(self.profile, "config")
        env["XDG_CACHE_HOME"] = os.path.join(self.profile, "cache")
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
        self.lines = []
        self.cond = threading.Condition()
        # Own process group, so the helpers it starts (zygote, renderers,
        # GPU and network services, crashpad) can be found and reaped by id.
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=env, start_new_session=True)
        self.pgid = self.proc.pid
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.ws = None
        self._id = 0
        self.events = []          # (sessionId, method, params), not yet taken
        self.sessions = {}        # sessionId -> Page
        try:
            url = self._ws_url(timeout)
            self.ws = websocket.create_connection(url, timeout=timeout, suppress_origin=True,
                                                  enable_multithread=False)
            self.version = self.send("Browser.getVersion", timeout=timeout)
        except BaseException:
            self.close()
            raise

    def _read(self):
        for line in self.proc.stderr:
            with self.cond:
                self.lines.append(line.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def stderr_text(self):
        with self.cond:
            return "\n".join(self.lines[-60:])

    def _ws_url(self, timeout):
        """The browser's DevTools WebSocket address, once it listens."""
        end = _deadline(timeout)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        rx = re.compile(r"DevTools listening on (ws://\S+)")
        while True:
            try:
                with open(port_file) as f:
                    parts = f.read().split("\n")
                if len(parts) >= 2 and parts[0].strip().isdigit() and parts[1].startswith("/"):
                    return "ws://127.0.0.1:%d%s" % (int(parts[0]), parts[1].strip())
            except OSError:
                pass
            with self.cond:
                for line in self.lines:
                    m = rx.search(line)
                    if m:
                        return m.group(1)
                if self.proc.poll() is not None:
                    raise CDPError("Chromium exited with status %s before listening:\n%s"
                                   % (self.proc.returncode, "\n".join(self.lines[-60:])))
                left = end - time.monotonic()
                if left <= 0:
                    raise CDPError("Chromium did not open its DevTools port within %s s:\n%s"
                                   % (timeout, "\n".join(self.lines[-60:])))
                self.cond.wait(min(left, 0.05))

    # ---- the protocol ----

    def _recv(self, end):
        left = end - time.monotonic()
        if left <= 0:
            raise CDPError("DevTools: no answer in time")
        self.ws.settimeout(left)
        try:
            text = self.ws.recv()
        except websocket.WebSocketTimeoutException:
            raise CDPError("DevTools: no answer in time") from None
        except (websocket.WebSocketException, OSError) as e:
            raise CDPError("DevTools connection lost (%s); Chromium says:\n%s"
                           % (e, self.stderr_text())) from None
        return json.loads(text)

    def send(self, method, params=None, session=None, timeout=30):
        """Calls method and returns its result; CDPError on a protocol error."""
        self._id += 1
        mid = self._id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        end = _deadline(timeout)
        while True:
            m = self._recv(end)
            if m.get("id") == mid:
                if "error" in m:
                    raise CDPError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            if "method" in m:
                self._event(m)

    def _event(self, m):
        sid = m.get("sessionId")
        page = self.sessions.get(sid)
        if page is not None:
            page._on_event(m["method"], m.get("params", {}))

    def pump(self, timeout):
        """Reads events for up to timeout seconds (at least what is queued)."""
        end = _deadline(timeout)
        while time.monotonic() < end:
            try:
                m = self._recv(end)
            except CDPError as e:
                if "in time" in str(e):
                    return
                raise
            if "method" in m:
                self._event(m)

    def new_page(self, **kw):
        return Page(self, **kw)

    # ---- the end ----

    def close(self, timeout=15):
        """Browser.close, then SIGTERM and SIGKILL to our own pid if needed;
        then the helpers of our process group, each by its pid."""
        if self.ws is not None:
            try:
                self.ws.send(json.dumps({"id": self._id + 1, "method": "Browser.close"}))
            except Exception:
                pass
        end = _deadline(timeout)
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                break
            if sig is not None:
                try:
                    self.proc.send_signal(sig)
                except ProcessLookupError:
                    break
            try:
                self.proc.wait(max(0.1, min(end - time.monotonic(), 5)))
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:
                pass
            self.ws = None
        # The helpers leave when the browser does; those still there after a
        # deadline get SIGKILL, one by one, by their own pid.
        end = _deadline(5)
        while _ours(self.pgid, self.profile) and time.monotonic() < end:
            time.sleep(0.05)
        for pid in _ours(self.pgid, self.profile):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.reader.join(5)
        if not self.proc.stderr.closed:
            self.proc.stderr.close()
        shutil.rmtree(self.profile, True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Page:
    """A tab in a fresh browser context, attached in flat mode."""

    def __init__(self, browser, width=1024, height=768):
        self.b = browser
        self.context = browser.send("Target.createBrowserContext")["browserContextId"]
        self.target = browser.send("Target.createTarget", {
            "url": "about:blank", "browserContextId": self.context})["targetId"]
        self.session = browser.send("Target.attachToTarget", {
            "targetId": self.target, "flatten": True})["sessionId"]
        browser.sessions[self.session] = self
        self.requests = []        # URLs of Network.requestWillBeSent
        self.responses = []       # (url, status) of responses and redirects
        self.exceptions = []      # Runtime.exceptionThrown descriptions
        self.console = []         # console calls and log entries: level, source, text, url
        self.loads = 0            # Page.loadEventFired count
        self.send("Page.enable")
        self.send("Network.enable")
        self.send("Runtime.enable")
        self.send("Log.enable")
        self.set_viewport(width, height)

    def _on_event(self, method, p):
        if method == "Network.requestWillBeSent":
            self.requests.append(p["request"]["url"])
            if "redirectResponse" in p:
                r = p["redirectResponse"]
                self.responses.append((r["url"], r["status"]))
        elif method == "Network.responseReceived":
            self.responses.append((p["response"]["url"], p["response"]["status"]))
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            self.exceptions.append(d.get("exception", {}).get("description") or d.get("text"))
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
            self.console.append({"level": p["type"], "source": "console-api", "text": text,
                                 "url": ""})
        elif method == "Log.entryAdded":
            e = p["entry"]
            self.console.append({"level": e["level"], "source": e["source"], "text": e["text"],
                                 "url": e.get("url", "")})
        elif method == "Page.loadEventFired":
            self.loads += 1

    def send(self, method, params=None, timeout=30):
        return self.b.send(method, params, session=self.session, timeout=timeout)

    def close(self):
        try:
            self.b.send("Target.closeTarget", {"targetId": self.target})
            self.b.send("Target.disposeBrowserContext", {"browserContextId": self.context})
        finally:
            self.b.sessions.pop(self.session, None)

    # ---- set-up ----

    def set_viewport(self, width, height, mobile=False, scale=1):
        """The window's size in CSS pixels (no scrollbars taking any)."""
        self.send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile})
        self.send("Emulation.setScrollbarsHidden", {"hidden": True})
        if mobile:
            self.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})

    def basic_auth(self, user, password):
        """Sends an Authorization header with every request of this tab."""
        token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        self.send("Network.setExtraHTTPHeaders", {"headers": {"Authorization": "Basic " + token}})

    # ---- navigation ----

    def _mark_document(self):
        """Marks the current document, so that a wait can tell the next one."""
        self.evaluate("window.__sc_old_document = true")

    def wait_new_document(self, url=None, timeout=30):
        """Waits until a document other than the marked one has loaded
        (at url, when given)."""
        cond = "!window.__sc_old_document && document.readyState === 'complete'"
        if url is not None:
            cond += " && location.href === %s" % json.dumps(url)
        self.wait_js(cond, timeout)

    def navigate(self, url, timeout=30, lands_at=None):
        """Loads url and waits for the new document to be complete, at url or,
        after redirects, at lands_at."""
        self._mark_document()
        r = self.send("Page.navigate", {"url": url}, timeout=timeout)
        if r.get("errorText"):
            raise CDPError("navigating to %s: %s" % (url, r["errorText"]))
        self.wait_new_document(lands_at or url, timeout)

    def reload(self, timeout=30):
        """Reloads, ignoring the cache; waits for the new document to load."""
        self._mark_document()
        self.send("Page.reload", {"ignoreCache": True})
        self.wait_new_document(None, timeout)

    # ---- scripts ----

    def evaluate(self, expr, timeout=30):
        """The value of a JavaScript expression (promises awaited)."""
        r = self.send("Runtime.evaluate", {
            "expression": expr, "returnByValue": True, "awaitPromise": True,
            "userGesture": True, "timeout": int(timeout * 1000)}, timeout=timeout + 5)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise CDPError("evaluating %r: %s" % (
                expr, d.get("exception", {}).get("description") or d.get("text")))
        return r["result"].get("value")

    def wait_js(self, expr, timeout=30, step=0.05):
        """Polls expr until it is truthy and returns that value; fails with the
        last value after timeout seconds."""
        end = _deadline(timeout)
        last = None
        while True:
            try:
                last = self.evaluate(expr, timeout=max(1, min(10, end - time.monotonic())))
            except CDPError as e:
                # A navigation between the call and the answer destroys the
                # context it ran in: try again in the new document.
                if "context" not in str(e).lower() and "navigat" not in str(e).lower():
                    raise
                last = str(e)
            if last:
                return last
            if time.monotonic() > end:
                raise AssertionError("within %s s, %s stayed %r" % (timeout, expr, last))
            self.b.pump(step)

    # ---- the user's hands ----

    def box(self, selector):
        """The centre of the element, scrolled into view (CSS pixels)."""
        r = self.evaluate("""(() => {
            const e = document.querySelector(%s);
            if (!e) return null;
            e.scrollIntoView({block: "center", inline: "center"});
            const b = e.getBoundingClientRect();
            return {x: b.left + b.width / 2, y: b.top + b.height / 2, w: b.width, h: b.height};
        })()""" % json.dumps(selector))
        if not r:
            raise CDPError("no element %s" % selector)
        if r["w"] <= 0 or r["h"] <= 0:
            raise CDPError("element %s is not displayed" % selector)
        return r

    def click(self, selector):
        """A real mouse click (pressed, released) at the element's centre."""
        b = self.box(selector)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {
                "type": kind, "x": b["x"], "y": b["y"], "button": "left",
                "buttons": 1 if kind == "mousePressed" else 0,
                "clickCount": 0 if kind == "mouseMoved" else 1})

    def type(self, selector, text):
        """Replaces the text of an input as typed: focus, select all, insert."""
        self.click(selector)
        self.evaluate("(() => { const e = document.querySelector(%s); e.focus(); e.select(); })()"
                      % json.dumps(selector))
        if text:
            self.send("Input.insertText", {"text": text})
        else:
            for kind in ("keyDown", "keyUp"):
                self.send("Input.dispatchKeyEvent", {
                    "type": kind, "key": "Delete", "code": "Delete",
                    "windowsVirtualKeyCode": 46})

    # ---- pictures ----

    def screenshot(self, full_page=True):
        """PNG bytes of the viewport or of the whole page."""
        params = {"format": "png", "fromSurface": True}
        if full_page:
            m = self.send("Page.getLayoutMetrics")
            size = m.get("cssContentSize") or m["contentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"],
                              "height": size["height"], "scale": 1}
            params["captureBeyondViewport"] = True
        return base64.b64decode(self.send("Page.captureScreenshot", params, timeout=60)["data"])


def png_size(data):
    """(width, height) of PNG bytes; ValueError when they are not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
