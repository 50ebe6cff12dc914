"""Regenerate docs/cli.md, the CLI reference, from gantool's typer app.

    python docs/gen_cli.py           # rewrite docs/cli.md
    python docs/gen_cli.py --check   # exit 1 if docs/cli.md is out of date

The text comes from typer's own Markdown generator (`typer gantool.cli utils docs`), so the
reference says exactly what `gantool COMMAND --help` says; this script only adds a header.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

CLI_PAGE = Path(__file__).resolve().parent / "cli.md"
COMMAND = "python docs/gen_cli.py"
HEADER = (
    f"<!-- Generated from gantool's typer app by `{COMMAND}`: do not edit by hand. -->\n"
)
NOTE = (
    "Every command and option, as `gantool COMMAND --help` prints them. This page is generated "
    f"from the code by `{COMMAND}` (a test fails when it is out of date).\n\n"
)


# Help texts may mark commands up for rich ("[bold]gantool train[/bold]"); a terminal shows them
# bold, typer's plain Markdown would show the tags. They become code spans here.
RICH_BOLD = re.compile(r"\[bold\](.+?)\[/bold\]", flags=re.S)


def _code_span(match: re.Match) -> str:
    return "`" + " ".join(match.group(1).split()) + "`"


def render() -> str:
    """The page as it should be: typer's Markdown for the app, with a header and a note."""
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    env.pop("GANTOOL_DEBUG", None)
    generated = subprocess.run(
        [sys.executable, "-m", "typer", "gantool.cli", "utils", "docs",
         "--name", "gantool", "--title", "CLI reference"],
        capture_output=True, text=True, check=True, env=env,
    ).stdout.strip() + "\n"
    generated = RICH_BOLD.sub(_code_span, generated)
    title, _, rest = generated.partition("\n\n")
    return f"{HEADER}{title}\n\n{NOTE}{rest}"


def main(argv: list[str]) -> int:
    page = render()
    if "--check" in argv:
        if not CLI_PAGE.exists() or CLI_PAGE.read_text(encoding="utf-8") != page:
            print(f"{CLI_PAGE} is out of date: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    CLI_PAGE.write_text(page, encoding="utf-8")
    print(f"wrote {CLI_PAGE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
