"""YAML for files a user hands to asnflow: plain data, bounded work.

PyYAML's safe loader already refuses to build objects, but an anchor named
by many aliases (a "billion laughs" document) is cheap to parse and very
expensive for anything that walks the result, and an integer longer than
Python's conversion limit fails with a bare ValueError. asnflow's files
(association files, rules.yaml) never need aliases, so this loader refuses
them, and it refuses over-long integers; both at their line and column.
"""

from __future__ import annotations

import sys

import yaml

# Python refuses to convert longer integer strings (sys.int_info.str_digits_check_threshold).
MAX_INTEGER_DIGITS = getattr(sys, "get_int_max_str_digits", lambda: 4300)() or 4300


# Nesting deeper than this is refused (PyYAML composes recursively).
MAX_DEPTH = 100


class _Loader(yaml.SafeLoader):
    depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"aliases (*{event.anchor}) are not allowed here", event.start_mark)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_yaml_int(self, node):
        digits = sum(ch.isdigit() for ch in node.value)
        if digits > MAX_INTEGER_DIGITS:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {digits} digits (at most {MAX_INTEGER_DIGITS})", node.start_mark)
        return super().construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def load(text: str):
    """Parse YAML text as plain data; aliases and over-long integers raise :class:`yaml.YAMLError`."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def problem_and_place(exc: yaml.YAMLError) -> tuple[str, int | None, int | None]:
    """The one-line reason of a YAML error and its 1-based line and column, when known."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return problem, None, None
    return problem, mark.line + 1, mark.column + 1
