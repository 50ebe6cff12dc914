"""The documentation site: strict mkdocs build, the generated CLI reference, and the figures.

Every figure on the pages this suite owns (home, quick start, theory, how-tos) must be made by
gantool commands listed in docs/make_figures.py, and the page must quote those commands; the
fast figures are regenerated here and checked to be real PNG images.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
IMG = DOCS / "img"
OWNED_PAGES = sorted(
    [DOCS / "index.md", DOCS / "quickstart.md", DOCS / "train.md",
     *(DOCS / "theory").glob("*.md"), *(DOCS / "howto").glob("*.md")]
)
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)\s]+\.(?:png|gif|jpg|svg))")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"docs_{name}", DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


gen_cli = _load("gen_cli")
make_figures = _load("make_figures")
SMALL = [f for f in make_figures.FIGURES if f.small]


def _check_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG file"
    with Image.open(path) as image:
        image.verify()  # the whole file decodes, CRCs included
    with Image.open(path) as image:
        assert image.width >= 64 and image.height >= 64, f"{path} is {image.size}"
        low, high = image.convert("L").getextrema()
        assert high - low > 32, f"{path} is blank"


def test_cli_reference_is_up_to_date():
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert page == gen_cli.render(), "docs/cli.md is out of date: run `python docs/gen_cli.py`"
    assert page.startswith("<!-- Generated") and "python docs/gen_cli.py" in page.splitlines()[0]


def test_nav_names_only_pages_that_exist():
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    nav = config[config.index("\nnav:"):]
    pages = re.findall(r"^\s*-\s+(?:[^:\n]+:\s+)?(\S+\.md)\s*$", nav, flags=re.M)
    assert len(pages) >= 15
    missing = [p for p in pages if not (DOCS / p).is_file()]
    assert not missing, f"mkdocs.yml names pages that do not exist: {missing}"


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None
                    or importlib.util.find_spec("material") is None,
                    reason="mkdocs-material is not installed (pip install mkdocs-material)")
def test_mkdocs_build_strict_has_no_warning(tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(REPO / "mkdocs.yml"), "--site-dir", str(site)],
        capture_output=True, text=True, cwd=REPO,
        env={**os.environ, "NO_COLOR": "1", "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    for page in ("index.html", "cli/index.html", "theory/gan-game/index.html",
                 "howto/write-a-plugin/index.html"):
        assert (site / page).is_file(), f"{page} missing from the built site"
    built = (site / "theory" / "gan-game" / "index.html").read_text(encoding="utf-8")
    assert 'class="arithmatex"' in built  # the maths went through to MathJax


def _figure_links() -> dict[Path, list[Path]]:
    """page -> the image files it shows (resolved)."""
    return {page: [(page.parent / link).resolve() for link in IMAGE_LINK.findall(
        page.read_text(encoding="utf-8"))] for page in OWNED_PAGES}


def test_every_figure_is_made_by_a_command_quoted_on_its_page():
    by_path = {(IMG / f.path).resolve(): f for f in make_figures.FIGURES}
    shown_anywhere = set()
    for page, images in _figure_links().items():
        text = page.read_text(encoding="utf-8")
        for image in images:
            assert image in by_path, f"{page.name} shows {image}, which no command in " \
                                     "docs/make_figures.py makes"
            for command in by_path[image].shown():
                assert command in text, f"{page.name} shows {image.name} but not `{command}`"
            _check_png(image)
            shown_anywhere.add(image)
    unused = [str(p) for p in by_path if p not in shown_anywhere]
    assert not unused, f"figures no page shows: {unused}"


def test_the_game_sim_verdict_quoted_in_the_theory_is_what_the_command_prints():
    proc = subprocess.run([sys.executable, "-m", "gantool", "game-sim", "--x", "2", "--y", "2"],
                          capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 0, proc.stderr
    verdict = proc.stdout.strip().splitlines()[-1]
    assert verdict.startswith("simgd spirals outward"), verdict
    page = (DOCS / "theory" / "nash-equilibrium.md").read_text(encoding="utf-8")
    assert " ".join(verdict.split()) in " ".join(page.split())


def test_there_are_small_figures_to_regenerate():
    assert len(SMALL) >= 2


@pytest.mark.parametrize("figure", SMALL, ids=[f.path for f in SMALL])
def test_small_figure_regenerates_as_a_valid_png(figure, tmp_path):
    made = make_figures.run_figure(figure, tmp_path / "img", tmp_path)
    assert made == tmp_path / "img" / figure.path
    _check_png(made)


MKDOCS_MISSING = (importlib.util.find_spec("mkdocs") is None
                  or importlib.util.find_spec("material") is None
                  or importlib.util.find_spec("latex2mathml") is None)


@pytest.mark.skipif(MKDOCS_MISSING, reason="needs the docs extra: pip install -e '.[docs]'")
def test_theory_pages_show_their_math_with_the_network_off(tmp_path):
    """Formulas are MathML in the built page; Chromium, with nothing reachable but the site
    itself (served on 127.0.0.1, as `mkdocs serve` would), shows no raw TeX."""
    from browser import assert_not_blank, chromium_executable, open_offline, serve

    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright drives Chromium")
    executable = chromium_executable()
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(REPO / "mkdocs.yml"), "--site-dir", str(site)],
        capture_output=True, text=True, cwd=REPO,
        env={**os.environ, "NO_COLOR": "1", "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr
    with sync_api.sync_playwright() as playwright, serve(site) as url:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        # gan-game has display and inline math; nash-equilibrium has math in a heading (TOC)
        for name in ("gan-game", "nash-equilibrium"):
            page, problems = open_offline(browser, f"{url}theory/{name}/", allow=(url,))
            text = page.evaluate("document.body.innerText")
            assert "\\(" not in text and "\\[" not in text, f"raw TeX visible on {name}"
            formulas = page.locator("article .arithmatex math")  # the page body, not the nav
            assert formulas.count() == page.locator("article .arithmatex").count() >= 20
            box = formulas.first.bounding_box()
            assert box is not None and box["width"] > 5 and box["height"] > 5
            shot = tmp_path / f"{name}.png"
            page.screenshot(path=str(shot))
            assert_not_blank(shot)
            assert problems == [], problems
            page.close()
        browser.close()
