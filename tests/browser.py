"""Headless Chromium for the tests that check what a person sees (the report, the docs' math).

Debian's chromium driven by Playwright (no browser download). Where chromium is missing it is
installed with apt-get when that is possible (root, Debian); otherwise the tests that need it
are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest


def chromium_executable() -> str:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
            subprocess.run(command, capture_output=True, env=env, timeout=900)
        executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("headless Chromium is not installed and could not be installed with "
                    "apt-get (needs root and Debian's chromium package)")
    return executable


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright (test extra) drives the browser")
    executable = chromium_executable()
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable,
                                              args=["--no-sandbox"])
        yield chromium
        chromium.close()


def open_offline(browser, url: str, allow: tuple[str, ...] = ()):
    """A page that may load only file: and data: URLs (and the URL prefixes in `allow`, e.g. a
    server on 127.0.0.1); returns (page, problems seen): console errors and warnings, script
    errors, failed or refused requests, dialogs."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.route("**/*", lambda route: route.continue_()
               if route.request.url.startswith(("file:", "data:", *allow)) else route.abort())
    page.goto(url)
    return page, problems


def assert_not_blank(png_path, min_height: int = 0) -> None:
    """A screenshot with real content: tall enough, contrast, many colours."""
    from PIL import Image, ImageStat

    image = Image.open(png_path).convert("L")
    assert image.height >= min_height, f"screenshot only {image.height} px tall"
    assert ImageStat.Stat(image).stddev[0] > 20, "screenshot is (nearly) one colour"
    assert len(image.getcolors(1 << 16)) > 50, "screenshot has almost no detail"


@contextmanager
def serve(folder):
    """Serve `folder` over HTTP on 127.0.0.1 (a free port) while the block runs; yields the URL."""
    handler = partial(_QuietHandler, directory=str(folder))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/"
        finally:
            server.shutdown()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no request log in the test output
        pass
