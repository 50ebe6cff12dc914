"""The `gantool` command: one typer app, one module per subcommand.

Only typer and light modules are imported here; each command imports torch, numpy or
matplotlib inside its own body so that `gantool --help` and `gantool game-sim` start fast.
"""

from __future__ import annotations

import os
import sys
import warnings

import typer

from gantool import __version__
from gantool.cli import (
    evaluate,
    game_sim,
    list_cmd,
    report,
    runs,
    prepare,
    sample,
    sweep,
    train,
    train_classifier,
)
from gantool.errors import GantoolError

# Rich help (panels, colour) is for people at a terminal. Piped help is plain text and skips
# importing rich's renderers (about 100 ms), so scripts and `gantool --help | grep` stay fast.
# Help texts therefore use no rich markup.
_RICH_HELP = sys.stdout.isatty()

app = typer.Typer(
    name="gantool",
    help="Train, sample, evaluate and reason about generative adversarial networks.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich" if _RICH_HELP else None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"gantool {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Train, sample, evaluate and reason about generative adversarial networks.

    Data and results go to stdout; logs, warnings and progress go to stderr.
    Exit codes: 0 success, 1 runtime failure, 2 bad usage. GANTOOL_DEBUG=1 shows tracebacks.
    """


app.command("train")(train.train_command)
app.command("sample")(sample.sample_command)
app.command("evaluate")(evaluate.evaluate_command)
app.command("game-sim")(game_sim.game_sim_command)
app.command("list")(list_cmd.list_command)
app.command("train-classifier")(train_classifier.train_classifier_command)
app.command("runs")(runs.runs_command)
app.command("report")(report.report_command)
app.command("prepare")(prepare.prepare_command)
app.command("sweep")(sweep.sweep_command)


def _fail(message: str, code: int) -> None:
    print(f"Error: {message}", file=sys.stderr)
    sys.exit(code)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"Warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and turn every known failure into one line and an exit code."""
    warnings.showwarning = _show_warning  # library warnings become one plain line on stderr
    if os.environ.get("GANTOOL_DEBUG"):
        sys.exit(app(args=argv, prog_name="gantool"))
    try:
        code = app(args=argv, prog_name="gantool", standalone_mode=False)
    except typer.TyperException as exc:  # bad option values, unknown options (exit 2)
        _fail(exc.format_message(), exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except GantoolError as exc:
        _fail(str(exc), exc.exit_code)
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`): not our failure.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except MemoryError:
        _fail("out of memory; try a smaller --batch-size or --n", 1)
    except OSError as exc:
        _fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc), 1)
    except Exception as exc:  # a bug: still one line, traceback on request
        _fail(f"unexpected {type(exc).__name__}: {exc} (GANTOOL_DEBUG=1 shows the traceback)", 1)
    sys.exit(code if isinstance(code, int) else 0)
