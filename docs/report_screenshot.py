"""Make docs/img/report/two-runs.png: `gantool report` over two real ring8 runs, as headless
Chromium shows it (needs Debian's chromium and `pip install playwright`).

    python docs/report_screenshot.py            # about two minutes on a laptop CPU

The runs are the mode-collapse how-to's pair: the lecture's minimax loss, which collapses, and
the same with spectral normalisation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "img" / "report" / "two-runs.png"
RUNS = {"minimax": ["--loss", "minimax"],
        "minimax-sn": ["--loss", "minimax", "--spectral-norm"]}
COMMON = ["--dataset", "ring8", "--steps", "2000", "--log-every", "50", "--device", "cpu"]


def gantool(*args: str, cwd: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    subprocess.run([sys.executable, "-m", "gantool", *args], check=True, cwd=cwd, env=env)


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, options in RUNS.items():
            gantool("train", *COMMON, *options, "--name", name, cwd=work)
        gantool("report", *RUNS, "--out", "report.html", cwd=work)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.goto((work / "report.html").as_uri())
            OUT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(OUT), full_page=True)
            browser.close()
    print(OUT)


if __name__ == "__main__":
    main()
