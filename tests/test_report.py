"""`gantool report` over two real runs: the HTML file's content, then the page as headless
Chromium renders it with the network off (screenshot non-blank, the expected elements present,
the sample strip scrubs, no console errors); bad inputs give one error line."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from browser import assert_not_blank, browser, open_offline  # noqa: F401 (a fixture)
from conftest import run_cli

TRAIN = {"steps": 30, "log_every": 10, "sample_every": 10, "device": "cpu", "progress": False}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two real runs (gantool.train: the command's training without a second torch import)
    that differ in loss and lr-g; run b has an evaluation result and a diagnostic flag
    (written into its files as evaluate and the monitor would)."""
    import gantool

    root = tmp_path_factory.mktemp("runs")
    for name, extra in (("a", {}), ("b", {"loss": "minimax", "lr_g": 1e-4})):
        gantool.train(**TRAIN, **extra, runs_root=str(root), name=name)
    b = root / "b"
    (b / "evaluation.json").write_text(json.dumps(
        {"metrics": {"fid": {"value": 123.456, "std": None, "n": 100, "n_real": 100}}}))
    records = [json.loads(line) for line in (b / "metrics.jsonl").read_text().splitlines()]
    records[1]["diag"]["mode_collapse"] = True
    (b / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return root


@pytest.fixture(scope="module")
def page_file(two_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    done = run_cli("report", str(two_runs / "a"), "b", "--runs-root", str(two_runs),
                   "--out", str(out))
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b""
    return out


def test_the_file_holds_everything_and_loads_nothing(page_file, two_runs):
    text = page_file.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # no network at all
    assert text.count('<img class="shown"') == 2
    n_grids = len(list((two_runs / "a" / "samples").glob("step-*.png")))
    assert n_grids == 4 and text.count('data-step="') == 2 * n_grids
    differs = re.findall(r'<tr class="differs"><th>([^<]+)</th>', text)
    assert set(differs) == {"loss", "lr_g", "name"}
    assert "mode collapse flagged in 1 of 3 checks, first at step 20" in text
    assert "--r1 10" in text  # the diagnostics' advice (less what the run already uses)
    assert "123.5" in text  # the evaluation result


def test_chromium_renders_the_report(browser, page_file, tmp_path):
    page, problems = open_offline(browser, page_file.as_uri())
    assert page.locator("#overview tr").count() == 3  # header + two runs
    assert page.locator("#config tr.differs").count() == 3
    charts = page.locator("#curves svg.chart")
    assert charts.count() >= 6
    assert charts.first.locator("polyline").count() == 2  # one line per run, overlaid
    assert page.locator("#final img").count() == 2
    images_ok = page.evaluate(
        "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    assert images_ok, "an image did not decode"

    strip = page.locator("#strip-0")
    assert strip.locator(".step").inner_text() == "step 30"
    strip.locator("input[type=range]").fill("1")
    assert strip.locator(".step").inner_text() == "step 10"
    assert strip.locator("img.shown").get_attribute("src") == \
        strip.locator(".thumbs img").nth(1).get_attribute("src")
    strip.locator(".thumbs img").nth(0).click()
    assert strip.locator(".step").inner_text() == "step 0"

    shot = tmp_path / "shot.png"
    page.screenshot(path=str(shot), full_page=True)
    assert_not_blank(shot, min_height=2000)  # every section laid out, not an error page
    assert problems == []
    page.close()


def test_hostile_strings_show_as_text(browser, two_runs, tmp_path, cli_here):
    run = tmp_path / "x"
    shutil.copytree(two_runs / "a", run)
    config = json.loads((run / "config.json").read_text())
    config["options"]["name"] = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
    (run / "config.json").write_text(json.dumps(config))
    out = tmp_path / "hostile.html"
    assert cli_here("report", str(run), "--out", str(out)).returncode == 0
    page, problems = open_offline(browser, out.as_uri())
    assert "alert(1)" in page.locator("#config").inner_text()
    assert problems == []  # no dialog, no script error, no request for "x"
    page.close()


def test_bad_inputs_are_one_error_line_and_leave_files_alone(two_runs, tmp_path, cli_here):
    existing = tmp_path / "old.html"
    existing.write_text("keep me")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("[1, 2")
    cases = [
        (["report", str(tmp_path / "nope"), "--out", str(tmp_path / "r.html")], 2,
         "run directory not found"),
        (["report", str(tmp_path), "--out", str(tmp_path / "r.html")], 2,
         "not a gantool run directory"),
        (["report", str(broken), "--out", str(tmp_path / "r.html")], 1, "cannot read"),
        (["report", str(two_runs / "a"), "--out", str(existing)], 2, "exists"),
        (["report", str(two_runs / "a"), "--out", str(tmp_path / "r.png")], 2, ".html"),
    ]
    for i, (args, code, words) in enumerate(cases):
        done = (run_cli if i in (0, 2) else cli_here)(*args)  # a real process for each code
        err = done.stderr.decode().strip().splitlines()
        assert done.returncode == code, (args, err)
        assert len(err) == 1 and err[0].startswith("Error: ") and words in err[0], err
    assert existing.read_text() == "keep me"
    assert not (tmp_path / "r.html").exists()
    forced = cli_here("report", str(two_runs / "a"), "--out", str(existing), "--force")
    assert forced.returncode == 0 and existing.read_text().startswith("<!DOCTYPE html>")


def test_report_to_stdout(two_runs):
    done = run_cli("report", str(two_runs / "a"), "--out", "-")
    assert done.returncode == 0 and done.stdout.startswith(b"<!DOCTYPE html>")
