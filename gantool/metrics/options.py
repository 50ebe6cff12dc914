"""Metric options declared where each metric is registered, like timm's default_cfgs.

A metric factory is decorated with `@declare(Option(...), ...)`; the declarations travel with the
registry entry (`entry.factory.options`), so the CLI validates values against them, takes its
defaults from them, and `gantool list metric` can show them. A plugin metric declares its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gantool.errors import UsageError


@dataclass(frozen=True)
class Option:
    """One option of a metric: the factory keyword, its CLI flag, default, minimum and help."""

    keyword: str
    flag: str
    default: int | float | None
    help: str
    minimum: int | float | None = None
    type: type = int
    choices: tuple[str, ...] = ()

    def check(self, value):
        """The value, or a UsageError naming the flag when it is out of range or of a bad type."""
        if value is None:
            return self.default
        if self.choices:
            if value not in self.choices:
                raise UsageError(
                    f"{self.flag} must be one of {', '.join(self.choices)}, got {value!r}"
                )
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UsageError(f"{self.flag} must be a number, got {value!r}")
        if self.type is int and value != int(value):
            raise UsageError(f"{self.flag} must be a whole number, got {value}")
        if self.minimum is not None and value < self.minimum:
            raise UsageError(f"{self.flag} must be at least {self.minimum}, got {value}")
        return self.type(value)

    def describe(self) -> str:
        default = "auto" if self.default is None else self.default
        return f"{self.flag} (default {default}): {self.help}"


def declare(*options: Option) -> Callable:
    """Decorator for a metric factory: attach its option declarations."""

    def attach(factory: Callable) -> Callable:
        factory.options = tuple(options)
        return factory

    return attach


def declared(factory: Callable) -> tuple[Option, ...]:
    return tuple(getattr(factory, "options", ()))


def resolve(factory: Callable, given: dict[str, object]) -> dict[str, object]:
    """Checked keyword arguments for `factory` from flag values `given` ({flag: value}); flags
    the factory does not declare are left out."""
    return {o.keyword: o.check(given.get(o.flag)) for o in declared(factory)}
