"""Headless Chromium for the browser tests, driven over the DevTools protocol on a pipe
(standard library only): the MLflow UI test and the HTML report test share it."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM_BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Headless, offline-quiet: no sandbox (root in CI), no GPU, and no background traffic of Chromium's
# own (updates, sync, QUIC probes), so the only requests go to the UI on 127.0.0.1.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                  # and no host name resolves: a request meant for anywhere else fails at once
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
WINDOW_SIZE = "1400,900"
PAGE_TIMEOUT_S = 30  # the React app loads, fetches both runs and renders their tables


def find_chromium() -> str | None:
    for name in CHROMIUM_BINARIES:
        path = shutil.which(name)
        if path:
            return path
    return None


class DevTools:
    """Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``).

    Commands are JSON messages ended by a NUL byte, written to the browser's fd 3; replies and
    events come back the same way on its fd 4. No debugging port is opened and only the standard
    library is needed. The page is polled with ``Runtime.evaluate``; of the events, only the URLs
    the page requests are kept (``requested``).
    """

    def __init__(self, binary: str, timeout: float = 30):
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
        browser_in, self._commands = _high_pipe()
        self._replies, browser_out = _high_pipe()
        command = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile.name}",
                   f"--window-size={WINDOW_SIZE}", "--hide-scrollbars", "--remote-debugging-pipe", "about:blank"]
        # A tiny Python trampoline hands the browser its pipe ends as fds 3 and 4, then execs it.
        self.process = subprocess.Popen([sys.executable, "-I", "-S", "-c", _AS_FDS_3_AND_4,
                                         str(browser_in), str(browser_out), *command],
                                        pass_fds=(browser_in, browser_out), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        os.close(browser_in)
        os.close(browser_out)
        self._buffer = b""
        self._last_id = 0
        self._session: str | None = None
        self.requested: list[str] = []
        try:
            page = next(t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
            self._session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
            self.viewport(*(int(n) for n in WINDOW_SIZE.split(",")))  # the page itself, not the window
            self.call("Network.enable")
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> DevTools:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def viewport(self, width: int, height: int, mobile: bool = False) -> None:
        """The page's size (a phone: ``mobile=True``, which also honours the page's viewport tag)."""
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=2 if mobile else 1, mobile=mobile)

    def call(self, method: str, **params):
        """Send one command (to the page once attached, else to the browser) and return its result."""
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params}
        if self._session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self._session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._commands, data):]
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._receive(deadline, method)
            if reply.get("method") == "Network.requestWillBeSent":
                self.requested.append(reply["params"]["request"]["url"])
            if reply.get("id") == message["id"]:
                if "error" in reply:
                    raise RuntimeError(f"Chromium {method}: {reply['error'].get('message')}")
                return reply.get("result", {})

    def _receive(self, deadline: float, method: str) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise TimeoutError(f"Chromium did not answer {method} within {self.timeout:.0f} s")
            chunk = os.read(self._replies, 1 << 16)
            if not chunk:
                raise RuntimeError(f"Chromium exited (code {self.process.poll()}) during {method}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(f"page script failed: {details.get('exception', {}).get('description') or details}")
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout: float = PAGE_TIMEOUT_S):
        """Poll until the expression is truthy; its value, or a TimeoutError naming ``what``."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                text = self.evaluate("document.body ? document.body.innerText : ''") or ""
                raise TimeoutError(f"{what} did not appear within {timeout:.0f} s; the page shows: {text[:1500]!r}")
            time.sleep(0.2)

    def screenshot(self, path: Path) -> Path:
        path = Path(path).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        return path

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self._session = None
                self.timeout = 5
                self.call("Browser.close")
            except (OSError, RuntimeError, TimeoutError):
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        for fd in (self._commands, self._replies):
            try:
                os.close(fd)
            except OSError:
                pass
        self._profile.cleanup()


_AS_FDS_3_AND_4 = ("import os, sys; r, w = int(sys.argv[1]), int(sys.argv[2]); os.dup2(r, 3); os.dup2(w, 4); "
                   "os.close(r); os.close(w); os.execv(sys.argv[3], sys.argv[3:])")


def _high_pipe() -> tuple[int, int]:
    """A pipe whose ends are numbered 10 or above, clear of the fds 3 and 4 the browser gets."""
    ends = os.pipe()
    high = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in ends)
    for fd in ends:
        os.close(fd)
    return high
