"""The real `gantool train` options, read from the command itself (so the sweep never keeps a
second list that could drift), and the `--dry-run` check of a trial's options in process.

typer carries its own copy of click, so options are recognised by `param_type_name` and
errors caught as typer.TyperException rather than through a `click` import."""

from __future__ import annotations

import contextlib
import difflib
import io
import json

import typer

from gantool.errors import GantoolError, UsageError

# Options the sweep sets itself for every trial, and why a user may not.
CONTROLLED = {
    "steps": "the sweep stops each trial at --budget-cpu (it sets --steps itself)",
    "epochs": "the sweep stops each trial at --budget-cpu",
    "run-dir": "each trial runs in DIR/trials/NNNN (gantool sweep --out DIR)",
    "name": "each trial runs in DIR/trials/NNNN (gantool sweep --out DIR)",
    "runs-root": "each trial runs in DIR/trials/NNNN (gantool sweep --out DIR)",
    "resume": "continue a sweep with gantool sweep --resume",
    "dry-run": "the sweep checks every trial with --dry-run itself",
    "eval-every": "give it to the sweep: gantool sweep --eval-every N",
}


def train_command():
    """`gantool train` as click sees it (the app's own command, not a copy)."""
    from gantool.cli import app

    return typer.main.get_command(app).commands["train"]


def train_options() -> dict:
    """{"lr-g": its click option, ...}: every option of `gantool train`, by its long name."""
    options = {}
    for param in train_command().params:
        if param.param_type_name == "option":
            long = next(o for o in param.opts if o.startswith("--"))
            options[long[2:]] = param
    return options


def check_name(key: str, options: dict, where: str):
    """The option called `key`, or one UsageError naming the closest real ones."""
    if key in CONTROLLED:
        raise UsageError(f"{where}: --{key} cannot be set: {CONTROLLED[key]}")
    if key not in options:
        close = difflib.get_close_matches(key, list(options), n=3, cutoff=0.5)
        hint = (f"; did you mean {' or '.join(close)}?" if close
                else "; see gantool train --help")
        raise UsageError(f"{where}: {key!r} is not a gantool train option{hint}")
    return options[key]


def given(args: list[str]) -> set[str]:
    """The long names of the options that `args` (gantool train arguments) set."""
    command = train_command()
    try:
        ctx = command.make_context("train", list(args), resilient_parsing=True)
    except typer.TyperException as exc:
        raise UsageError(f"options after --: {exc.format_message()}") from None
    names = {param.name: next(o for o in param.opts if o.startswith("--"))[2:]
             for param in command.params if param.param_type_name == "option"}
    # Unset options are None (or () for repeatable ones); --dry-run alone defaults to False.
    return {names[k] for k, v in ctx.params.items()
            if k in names and v is not None and v != () and not (k == "dry_run" and not v)}


def dry_run(args: list[str]) -> dict:
    """`gantool train ARGS --dry-run` in this process: the resolved options, or one UsageError
    with train's own message (the same checks a real run makes before it starts)."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            train_command().main(args=[*args, "--dry-run"], prog_name="gantool train",
                                 standalone_mode=False)
    except typer.TyperException as exc:
        raise UsageError(exc.format_message()) from None
    except GantoolError as exc:
        raise UsageError(str(exc)) from None
    return json.loads(out.getvalue())
