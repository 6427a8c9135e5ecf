"""The hook tables, and what each hook declares about itself.

A hook is a named Python function a rule file refers to. Each declares the
constraint names it reads (``reads``: the rule must have them, else
``rules check`` reports an error; ``uses``: read when present) and the
parameters a rule may give it (``finalize multi_obs_check(types: group)``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from asnflow.records import record

# A finalize step returns this to let the next step (and finally the
# validity check) decide; a list ends the chain; None drops the association.
CONTINUE = object()

PARAM_TYPES = ("words", "word")


@record(frozen=True)
class Param:
    """A parameter a rule may set: ``words`` (one or more) or ``word`` (exactly one, maybe from ``choices``)."""

    name: str
    type: str
    default: object
    doc: str = ""
    choices: tuple[str, ...] = ()

    def convert(self, values: tuple[str, ...]) -> object:
        """The value for the words a rule wrote; ValueError (with the reason) when they do not fit."""
        if self.type == "words":
            return tuple(values)
        if len(values) != 1:
            raise ValueError(f"takes one word, got {len(values)}")
        if self.choices and values[0] not in self.choices:
            raise ValueError(f"is one of {', '.join(self.choices)}, not {values[0]}")
        return values[0]

    def describe(self) -> str:
        """``name: type`` with its choices and default, for the docs."""
        default = " ".join(self.default) if isinstance(self.default, tuple) else self.default
        kind = " | ".join(self.choices) if self.choices else self.type
        return f"{self.name}: {kind} (default {default})"


@record(frozen=True)
class Hook:
    name: str
    function: Callable
    doc: str
    reads: tuple[str, ...] = ()  # constraint names the rule must have
    uses: tuple[str, ...] = ()  # constraint names read when the rule has them
    params: tuple[Param, ...] = ()
    # A finalize step that only decides whether the association is kept, changing nothing of it.
    decides_only: bool = False

    def param(self, name: str) -> Param | None:
        for param in self.params:
            if param.name == name:
                return param
        return None

    def contract(self) -> str:
        """What the hook reads and takes, in one line for the docs ("" when nothing)."""
        parts = []
        if self.reads:
            parts.append("reads " + ", ".join(self.reads))
        if self.uses:
            parts.append("uses when present " + ", ".join(self.uses))
        if self.params:
            parts.append("parameters " + "; ".join(f"{param.describe()}: {param.doc}" for param in self.params))
        return "; ".join(parts)

    def bind(self, arguments: dict[str, object]) -> Callable:
        """The function with its parameters set (the defaults, then what the rule gave)."""
        if not self.params:
            return self.function
        values = {param.name: param.default for param in self.params}
        values.update(arguments)
        return functools.partial(self.function, **values)


class HookTable(dict):
    """name -> Hook, filled by the ``register`` decorator."""

    def __init__(self, kind: str, setting: str | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.setting = setting  # the rule setting that names these hooks, if any

    def register(self, name: str, *, reads: Iterable[str] = (), uses: Iterable[str] = (),
                 params: Iterable[Param] = (), decides_only: bool = False):
        def decorator(function):
            doc = " ".join((function.__doc__ or "").split())
            self[name] = Hook(name, function, doc, tuple(reads), tuple(uses), tuple(params), decides_only)
            return function

        return decorator


EXPOSURE_POLICIES = HookTable("exposure_types", "exposure_types")
VALIDITY_CHECKS = HookTable("valid", "valid")
PRODUCT_TEMPLATES = HookTable("product", "product")
FINALIZE_STEPS = HookTable("finalize", "finalize")
DYNAMIC_VALUES = HookTable("value")
PROPERTIES = HookTable("property")
FUNCTIONS = HookTable("function")

# The tables a rule setting names, by setting.
SETTING_TABLES = {table.setting: table for table in (EXPOSURE_POLICIES, VALIDITY_CHECKS, PRODUCT_TEMPLATES,
                                                      FINALIZE_STEPS) if table.setting is not None}
ALL_TABLES = (EXPOSURE_POLICIES, VALIDITY_CHECKS, PRODUCT_TEMPLATES, FINALIZE_STEPS, DYNAMIC_VALUES, PROPERTIES,
              FUNCTIONS)


def missing_reads(hook: Hook, constraint_names: Iterable[str]) -> list[str]:
    """The constraints ``hook`` reads that a rule with these constraint names lacks."""
    have = set(constraint_names)
    return [name for name in hook.reads if name not in have]
