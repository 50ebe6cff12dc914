"""Typed registries of named components, filled by built-ins and by plugins.

A component is a factory registered under (kind, name) with a one-line description:

    @register("loss", "hinge", "hinge loss (Lim & Ye 2017)")
    def hinge(): ...

Built-ins of a kind are imported only when that kind is first asked for, so listing games
never imports torch. Third-party packages declare an entry point in the group
``gantool.plugins`` naming a module (or a callable) that registers the same way; each one is
loaded once, and a broken one is reported and skipped instead of breaking the tool.
"""

from __future__ import annotations

import difflib
import importlib
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from gantool.errors import UsageError

ENTRY_POINT_GROUP = "gantool.plugins"
BUILTIN = "built-in"

# Which modules hold the built-ins of each kind (imported lazily, on first use of the kind).
BUILTIN_MODULES: dict[str, tuple[str, ...]] = {
    "architecture": ("gantool.models",),
    "loss": ("gantool.losses",),
    "dataset": ("gantool.data",),
    "metric": ("gantool.metrics",),
    "feature-extractor": ("gantool.metrics.features", "gantool.metrics.dinov2"),
    "game": ("gantool.game.games",),
    "optimizer": ("gantool.game.optimizers",),
    "update": ("gantool.train.updates",),
    "recipe": ("gantool.train.recipes",),
}
KINDS = tuple(BUILTIN_MODULES)


@dataclass(frozen=True)
class Entry:
    """A registered component. `defaults`: what the component asks of the command that uses it
    (an architecture's or dataset's training defaults, e.g. {"batch_size": 256}), so a plugin
    declares its own where it registers."""

    kind: str
    name: str
    description: str
    origin: str
    factory: Callable
    defaults: dict = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    def options(self) -> list[str]:
        """The keyword options the factory takes (what `create` accepts)."""
        import inspect  # ~10 ms: not on game-sim's start-up path

        return [p.name for p in inspect.signature(self.factory).parameters.values()
                if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]


_entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
_aliases: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}  # alias -> registered name
_builtins_loaded: set[str] = set()
_plugins_loaded = False
_origin = BUILTIN  # who is registering right now: "built-in" or a plugin's distribution


def _check_kind(kind: str) -> None:
    if kind not in _entries:
        raise UsageError(f"unknown kind {kind!r}; kinds are: {', '.join(KINDS)}")


def register(kind: str, name: str | None = None, description: str | None = None, *,
             defaults: dict | None = None, aliases: tuple[str, ...] = ()):
    """Decorator: register a factory as `name` (default: its function name, '_' -> '-');
    `defaults` are the options it asks of the command using it (see `Entry`); `aliases` are
    other names `get` accepts for it (an old spelling, another command's name for the rule)."""
    _check_kind(kind)

    def decorate(factory: Callable) -> Callable:
        key = name or factory.__name__.replace("_", "-")
        doc = description or (factory.__doc__ or "").strip().splitlines()[0:1]
        text = doc if isinstance(doc, str) else (doc[0] if doc else "")
        if key in _entries[kind] and _entries[kind][key].origin != _origin:
            warnings.warn(
                f"{_origin} overrides {kind} {key!r} from {_entries[kind][key].origin}",
                stacklevel=2,
            )
        _entries[kind][key] = Entry(kind, key, text, _origin, factory, dict(defaults or {}),
                                    tuple(aliases))
        for alias in aliases:
            _aliases[kind][alias] = key
        return factory

    return decorate


@contextmanager
def _registering_as(origin: str) -> Iterator[None]:
    global _origin
    previous, _origin = _origin, origin
    try:
        yield
    finally:
        _origin = previous


def _load_builtins(kind: str) -> None:
    if kind in _builtins_loaded:
        return
    _builtins_loaded.add(kind)
    with _registering_as(BUILTIN):
        for module in BUILTIN_MODULES[kind]:
            importlib.import_module(module)


def load_plugins() -> None:
    """Import every `gantool.plugins` entry point once; warn about and skip broken ones."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    if not _any_plugin_declared():
        return  # importlib.metadata and its scan cost ~25 ms at start-up; nothing to load
    from importlib import metadata

    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else ep.name
        try:
            with _registering_as(dist):
                loaded = ep.load()  # a module registers on import; a callable when called
                if callable(loaded):
                    loaded()
        except Exception as exc:  # a broken plugin must not break gantool
            warnings.warn(f"plugin {dist!r} ({ep.value}) failed to load and was skipped: {exc}",
                          stacklevel=2)


def _any_plugin_declared() -> bool:
    """A cheap pre-check: does any installed distribution's entry_points.txt name our group?
    (Distributions on sys.path keep it in NAME.dist-info/ or NAME.egg-info/; a zip or an
    unreadable folder is left to importlib.metadata.)"""
    marker = f"[{ENTRY_POINT_GROUP}]"
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            if os.path.isfile(folder):
                return True  # a zip on the path: let importlib.metadata look inside
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(folder or ".", name, "entry_points.txt"),
                          encoding="utf-8", errors="replace") as handle:
                    if marker in handle.read():
                        return True
            except OSError:
                continue
    return False


def entries(kind: str | None = None) -> list[Entry]:
    """All registered entries of one kind (or of every kind), sorted naturally by name."""
    kinds = KINDS if kind is None else (kind,)
    for k in kinds:
        _check_kind(k)
        _load_builtins(k)
    load_plugins()
    found = [entry for k in kinds for entry in _entries[k].values()]
    return sorted(found, key=lambda e: (KINDS.index(e.kind), _natural_key(e.name)))


def names(kind: str) -> list[str]:
    return [entry.name for entry in entries(kind)]


def get(kind: str, name: str) -> Entry:
    """The entry for (kind, name); an unknown name fails with the known names and a suggestion."""
    known = {entry.name: entry for entry in entries(kind)}
    if name in known:
        return known[name]
    if _aliases[kind].get(name) in known:
        return known[_aliases[kind][name]]
    close = difflib.get_close_matches(name, [*known, *_aliases[kind]], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UsageError(f"unknown {kind} {name!r}.{hint} Known: {', '.join(known)}")


def create(kind: str, name: str, /, **kwargs):
    """Call the factory of (kind, name). None-valued kwargs are dropped so the component's
    defaults apply; an option the factory does not take is a UsageError naming the ones it does
    (a factory with **kwargs takes anything and checks for itself)."""
    import inspect

    entry = get(kind, name)
    name = entry.name  # an alias's messages name the rule as registered
    options = {k: v for k, v in kwargs.items() if v is not None}
    params = inspect.signature(entry.factory).parameters.values()
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        unknown = [k for k in options if k not in entry.options()]
        if unknown:
            raise UsageError(f"{kind} {name!r} has no option {', '.join(map(repr, unknown))}; "
                             f"its options are: {', '.join(entry.options()) or 'none'}")
    return entry.factory(**options)


def _natural_key(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]
