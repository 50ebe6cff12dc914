"""Make docs/img/api/lecture-notebook.png: examples/lecture.ipynb executed at its own budgets
by a real Jupyter kernel, rendered to HTML by nbconvert, as headless Chromium shows it (needs
the test extra, Debian's chromium and `pip install playwright`).

    python docs/notebook_screenshot.py          # the notebook's own run time, a few CPU-minutes

It prints the notebook's run time; the page shows the part from the MNIST run to its grids.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE.parent / "examples" / "lecture.ipynb"
OUT = HERE / "img" / "api" / "lecture-notebook.png"
SECTION = "3. Train a GAN on MNIST"  # the screenshot starts at this heading
HEIGHT = 2400  # CSS pixels from there: the run's progress line, its messages and grids


def execute(work: Path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    os.environ.setdefault("PYTHONPATH", str(HERE.parent))
    start = time.perf_counter()
    NotebookClient(nb, timeout=1800, kernel_name="python3",
                   resources={"metadata": {"path": str(work)}}).execute()
    print(f"executed {NOTEBOOK.name} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return nb


def shoot(html: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or "chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(html.as_uri())
        top = page.get_by_role("heading", name=SECTION).bounding_box()["y"]
        OUT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUT), full_page=True,
                        clip={"x": 0, "y": top, "width": 1100, "height": HEIGHT})
        browser.close()


def main() -> None:
    from nbconvert import HTMLExporter

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        body, _ = HTMLExporter().from_notebook_node(execute(work))
        html = work / "lecture.html"
        html.write_text(body, encoding="utf-8")
        shoot(html)
    print(OUT)


if __name__ == "__main__":
    main()
