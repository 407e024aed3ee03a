"""Drive a headless Chromium over the DevTools protocol, standard library only (tests and scripts).

Not part of the package: the library has no browser dependency. ``Browser`` starts Debian's ``chromium``
with a throw-away profile and ``--remote-debugging-port=0``, reads the port from ``DevToolsActivePort``,
and connects to the page target with a minimal RFC 6455 WebSocket client (text frames, no extensions).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
         "--remote-debugging-port=0")
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class CdpError(RuntimeError):
    """The browser failed to start, answered with an error, or did not answer in time."""


def find_chromium() -> str | None:
    """The path of a Chromium binary on PATH, or None."""
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    return None


class _WebSocket:
    """A client WebSocket carrying text messages (masks what it sends, answers pings)."""

    def __init__(self, url: str, timeout: float):
        u = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16))
        self.sock.sendall(f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        if not head.startswith(b"HTTP/1.1 101") or accept not in head:
            raise CdpError(f"WebSocket handshake refused: {head[:200]!r}")

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise CdpError("the browser closed the DevTools connection")
        self.buf += chunk

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            size = bytes([0x80 | n])
        elif n < 1 << 16:
            size = bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            size = bytes([0x80 | 127]) + struct.pack(">Q", n)
        head = bytes([0x80 | opcode]) + size
        mask = os.urandom(4)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send(self, text: str) -> None:
        self._send(0x1, text.encode("utf-8"))

    def recv(self) -> str:
        parts: list[bytes] = []
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else b""
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise CdpError("the browser closed the DevTools connection")
            if opcode == 0x9:
                self._send(0xA, payload)
            elif opcode in (0x0, 0x1, 0x2):
                parts.append(payload)
                if b0 & 0x80:
                    return b"".join(parts).decode("utf-8")

    def close(self) -> None:
        try:
            self._send(0x8, b"")
        except OSError:
            pass
        self.sock.close()


class Page:
    """One page target: protocol calls, the events seen so far, and a few conveniences."""

    def __init__(self, ws: _WebSocket, timeout: float):
        self.ws, self.timeout, self.events, self._id = ws, timeout, [], 0

    def call(self, method: str, **params) -> dict:
        """Send a command and return its result (events that arrive meanwhile are kept in ``events``)."""
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise CdpError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)
        raise CdpError(f"{method}: no answer within {self.timeout:.0f} s")

    def wait_event(self, method: str) -> dict:
        """The params of the first ``method`` event (already seen or arriving within the timeout)."""
        deadline = time.monotonic() + self.timeout
        while True:
            for m in self.events:
                if m["method"] == method:
                    return m["params"]
            if time.monotonic() > deadline:
                raise CdpError(f"no {method} within {self.timeout:.0f} s")
            self.events.append(json.loads(self.ws.recv()))

    def open(self, url: str) -> None:
        """Enable the domains watched by :meth:`errors` / :meth:`requests`, navigate, wait for ``load``."""
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.events = [m for m in self.events if m["method"] != "Page.loadEventFired"]
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str):
        """The JSON value of a JavaScript expression in the page."""
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise CdpError(f"evaluate failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    def click(self, x: float, y: float) -> None:
        """A real left click at viewport coordinates (move, press, release)."""
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def press(self, key: str, code: str, keycode: int) -> None:
        """A key press (``keyDown`` + ``keyUp``) sent to the focused element."""
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=key, code=code, windowsVirtualKeyCode=keycode)

    def screenshot(self, path: str | Path, max_height: int = 4000) -> Path:
        """Write a PNG of the whole page (up to ``max_height`` CSS pixels) and return its path."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], max_height), "scale": 1}
        data = self.call("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)["data"]
        path = Path(path)
        path.write_bytes(base64.b64decode(data))
        return path

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries seen so far."""
        out = []
        for m in self.events:
            p = m.get("params", {})
            if m["method"] == "Runtime.exceptionThrown":
                out.append(f"exception: {p['exceptionDetails'].get('text')} "
                           f"{p['exceptionDetails'].get('exception', {}).get('description', '')}")
            elif m["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p['args']]}")
            elif m["method"] == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def requests(self) -> list[str]:
        """URLs the page requested so far."""
        return [m["params"]["request"]["url"] for m in self.events if m["method"] == "Network.requestWillBeSent"]


class Browser:
    """``with Browser(profile_dir) as page:`` a headless Chromium with one page, stopped on exit.

    Args:
        profile_dir: an empty folder for the throw-away profile (``--user-data-dir``).
        binary: the Chromium executable (default: :func:`find_chromium`).
        size: the window size in CSS pixels.
        timeout: seconds to wait for start-up and for each protocol answer.
    """

    def __init__(self, profile_dir: str | Path, binary: str | None = None, size: tuple[int, int] = (1100, 800),
                 timeout: float = 15.0):
        self.binary = binary or find_chromium()
        if not self.binary:
            raise CdpError("chromium not installed (apt-get install chromium)")
        self.profile, self.size, self.timeout = Path(profile_dir), size, timeout
        self.proc: subprocess.Popen | None = None
        self.ws: _WebSocket | None = None

    def __enter__(self) -> Page:
        self.profile.mkdir(parents=True, exist_ok=True)
        log = (self.profile / "chromium.log").open("wb")
        cmd = [self.binary, *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={self.size[0]},{self.size[1]}",
               "about:blank"]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)  # its own process group, stopped as one
        log.close()
        try:
            port = self._port()
            no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with no_proxy.open(f"http://127.0.0.1:{port}/json/list", timeout=self.timeout) as r:
                targets = json.load(r)
            url = next(t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page")
            self.ws = _WebSocket(url, self.timeout)
        except BaseException:
            self.__exit__()
            raise
        return Page(self.ws, self.timeout)

    def _port(self) -> int:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise CdpError(f"chromium exited with {self.proc.returncode}: {self._log_tail()}")
            lines = marker.read_text().splitlines() if marker.is_file() else []
            if len(lines) >= 2 and lines[0].isdigit():
                return int(lines[0])
            time.sleep(0.05)
        raise CdpError(f"chromium wrote no DevToolsActivePort within {self.timeout:.0f} s: {self._log_tail()}")

    def _log_tail(self) -> str:
        path = self.profile / "chromium.log"
        return path.read_text(errors="replace")[-800:] if path.is_file() else ""

    def __exit__(self, *exc) -> None:
        if self.ws is not None:
            self.ws.close()
            self.ws = None
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            try:  # renderer/zygote children left behind by the browser process we started
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc = None


def screenshot_page(page_file: str | Path, out: str | Path, select: tuple[str, ...] = (),
                    size: tuple[int, int] = (1100, 800), max_height: int = 4000) -> list[str]:
    """Open a local HTML page, click the elements with the ids in ``select``, write a PNG of it.

    Args:
        page_file: the HTML file.
        out: the PNG to write.
        select: element ids to click (real mouse clicks at their centres), e.g. ``doc-1-t0``.
        size: the window size in CSS pixels.
        max_height: the most CSS pixels of the page's height to capture.

    Returns:
        The console errors, uncaught exceptions and error log entries the page produced.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="chromium-") as profile, Browser(profile, size=size) as page:
        page.open(Path(page_file).resolve().as_uri())
        for ident in select:
            point = page.evaluate(f"""(() => {{
              const e = document.getElementById({json.dumps(ident)});
              if (!e) return null;
              e.scrollIntoView({{block: "center"}});
              const b = e.getClientRects()[0];
              return [b.x + b.width / 2, b.y + b.height / 2];
            }})()""")
            if point is None:
                raise CdpError(f"{page_file}: no element with id {ident!r}")
            page.click(*point)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(out, max_height=max_height)
        return page.errors()
