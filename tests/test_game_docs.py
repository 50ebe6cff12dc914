"""docs/game-sim.md moves with the code: every option is documented, every figure is made by a
command in docs/img/game-sim/make-figures.sh that the page quotes, and the quoted output is real."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "game-sim.md"
SCRIPT = REPO / "docs" / "img" / "game-sim" / "make-figures.sh"


def _joined(text: str) -> str:
    """Shell text with backslash-newline continuations joined and spaces squeezed."""
    return re.sub(r"\s+", " ", text.replace("\\\n", " "))


def _script_commands() -> list[str]:
    text = _joined(SCRIPT.read_text(encoding="utf-8").replace("$out", "docs/img/game-sim"))
    return [c.strip() for c in re.findall(r"(gantool game-sim .*?)(?= gantool |$)", text)]


def test_every_option_of_the_command_is_documented(cli):
    result = cli("game-sim", "--help", env={"COLUMNS": "250", "NO_COLOR": "1"})
    assert result.returncode == 0
    options = set(re.findall(r"(--[a-z][a-z-]*)\b", result.stdout.decode())) - {"--help"}
    assert len(options) >= 21
    page = PAGE.read_text(encoding="utf-8")
    missing = sorted(o for o in options if f"`{o}" not in page)
    assert not missing, f"docs/game-sim.md does not document {missing}"


def test_every_figure_is_made_by_a_quoted_command():
    page = PAGE.read_text(encoding="utf-8")
    commands = _script_commands()
    assert len(commands) >= 5
    shown = re.findall(r"!\[[^\]]*\]\((img/game-sim/[^)\s]+)\)", page)
    assert len(shown) >= 5
    for link in shown:
        image = PAGE.parent / link
        makers = [c for c in commands if f"docs/{link}" in shlex.split(c)]
        assert makers, f"no command in {SCRIPT.name} makes {link}"
        assert _joined(makers[0]) in _joined(page), f"the page does not quote `{makers[0]}`"
        with Image.open(image) as picture:
            assert picture.width >= 300 and picture.height >= 300


def test_the_quoted_lecture_output_is_what_the_command_prints(cli):
    out = cli("game-sim", "--x", "2", "--y", "2", env={"COLUMNS": "250"}).stdout.decode()
    page = PAGE.read_text(encoding="utf-8")
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("simgd spirals outward") and summary in page
    rows = [line for line in out.splitlines() if line.startswith(("simgd ", "   1 ", " 100 "))]
    assert len(rows) == 4  # steps 1 and 100, the summary row, the closing sentence
    for line in rows:
        assert line in page
