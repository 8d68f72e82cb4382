"""Open a page in headless Chromium over the DevTools protocol and report what a reader would see.

Chromium is driven through `--remote-debugging-pipe` (JSON messages separated by NUL bytes on file
descriptors 3 and 4), so no websocket client is needed. Unlike `--dump-dom`, this sees every console message
and uncaught exception, whether each image decoded, and takes a full-page screenshot. Written here because
the field's browser drivers (Playwright, pyppeteer) download their own browser, which offline machines cannot.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SKIP_REASON = "Chromium not installed (apt-get install chromium, or scripts/install-chromium.sh)"
FLAGS = [
    "--headless",
    "--no-sandbox",  # root in containers
    "--disable-gpu",
    "--no-first-run",
    "--hide-scrollbars",  # screenshots as wide as the window
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
]


@dataclass(frozen=True)
class RenderedPage:
    """What Chromium made of a page once it had loaded."""

    console: list[str]  # console messages and uncaught exceptions, one line each
    element_ids: set[str]
    images: list[tuple[str, int, int]]  # (src, natural width, natural height); 0 × 0 = did not decode
    screenshot_png: bytes

    @property
    def broken_images(self) -> list[str]:
        """The src of every image that did not decode."""
        return [src for src, width, height in self.images if width == 0 or height == 0]


class _Pipe:
    """One DevTools connection: numbered requests, events kept until read."""

    def __init__(self, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def as_fds_3_and_4() -> None:  # runs in the child, before exec
            read_end, write_end = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(read_end, 3, inheritable=True)
            os.dup2(write_end, 4, inheritable=True)

        command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=as_fds_3_and_4,
            close_fds=False,  # would run after preexec_fn and close 3 and 4; our own pipes are CLOEXEC
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def _read_message(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: str | None = None, **params: object) -> dict:
        self._next_id += 1
        request: dict = {"id": self._next_id, "method": method, "params": params}
        if session:
            request["sessionId"] = session
        os.write(self._to_browser, json.dumps(request).encode() + b"\0")
        while True:
            message = self._read_message()
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for(self, method: str) -> dict:
        for index, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(index)
        while True:
            message = self._read_message()
            if message.get("method") == method:
                return message
            self.events.append(message)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


_PAGE_FACTS = """JSON.stringify({
  ids: Array.from(document.querySelectorAll('[id]'), e => e.id),
  images: Array.from(document.images, i => [i.getAttribute('src'), i.naturalWidth, i.naturalHeight]),
})"""


def _console_lines(events: list[dict]) -> list[str]:
    lines = []
    for event in events:
        params = event.get("params", {})
        if event.get("method") == "Runtime.consoleAPICalled":
            text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params["args"])
            lines.append(f"console.{params['type']}: {text}")
        elif event.get("method") == "Runtime.exceptionThrown":
            lines.append(f"exception: {params['exceptionDetails'].get('text', '')}")
        elif event.get("method") == "Log.entryAdded":
            entry = params["entry"]
            lines.append(f"{entry['source']} {entry['level']}: {entry['text']}")
    return lines


def render(page: Path, profile: Path, width: int = 1400) -> RenderedPage:
    """Load ``page`` (a local file) in headless Chromium and collect what it shows and logs."""
    pipe = _Pipe(profile)
    try:
        target = pipe.call("Target.createTarget", url="about:blank")["targetId"]
        session = pipe.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            pipe.call(f"{domain}.enable", session)
        pipe.call(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=width,
            height=1000,
            deviceScaleFactor=1,
            mobile=False,
        )
        pipe.call("Page.navigate", session, url=page.resolve().as_uri())
        pipe.wait_for("Page.loadEventFired")
        evaluated = pipe.call("Runtime.evaluate", session, expression=_PAGE_FACTS, returnByValue=True)
        facts = json.loads(evaluated["result"]["value"])
        shot = pipe.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)
        return RenderedPage(
            console=_console_lines(pipe.events),
            element_ids=set(facts["ids"]),
            images=[(src, w, h) for src, w, h in facts["images"]],
            screenshot_png=base64.b64decode(shot["data"]),
        )
    finally:
        pipe.close()


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG image."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG image"
    return struct.unpack(">II", data[16:24])
