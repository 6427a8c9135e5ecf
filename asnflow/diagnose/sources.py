"""Where things are written in the rule files: each constraint's ``file:line:col``, for messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from asnflow.assoc_rules import ast
from asnflow.assoc_rules.compile import RuleSet
from asnflow.constraints.nodes import Node


class SourceIndex:
    """Statement text and enclosing definition for a position in the rule files."""

    def __init__(self, rule_set: RuleSet) -> None:
        from asnflow.assoc_rules.show import statement_text

        self._text: dict[tuple[str, int, int], str] = {}
        self._checks: dict[tuple[str, int, int], ast.CheckStmt] = {}
        self._spans: dict[str, list[tuple[int, str]]] = {}
        for rule_file in rule_set.files:
            spans = []
            for item in rule_file.items:
                kind = type(item).__name__.removesuffix("Def").lower()
                spans.append((item.pos.line, f"{kind} {item.name}"))
                for statement in _statements(getattr(item, "body", ())):
                    key = position_key(statement.pos)
                    self._text[key] = statement_text(statement)
                    if isinstance(statement, ast.CheckStmt):
                        self._checks[key] = statement
            self._spans[rule_file.path] = sorted(spans)
        self.predicates = rule_set.predicates

    def text(self, node: Node) -> str:
        if node.pos is None:
            return getattr(node, "name", None) or node.kind
        return self._text.get(position_key(node.pos), node.name or node.kind)

    def check_statement(self, node: Node) -> ast.CheckStmt | None:
        return self._checks.get(position_key(node.pos)) if node.pos is not None else None

    def definition(self, pos: ast.Pos | None) -> str | None:
        """``fragment optical_path3``: the definition a position is written in."""
        if pos is None:
            return None
        found = None
        for line, label in self._spans.get(pos.path, ()):
            if line <= pos.line:
                found = label
            else:
                break
        return found


def position_key(pos: ast.Pos) -> tuple[str, int, int]:
    return (pos.path, pos.line, pos.column)


def _statements(statements) -> Iterable[ast.Stmt]:
    for statement in statements:
        yield statement
        if isinstance(statement, ast.GroupStmt):
            yield from _statements(statement.children)


def place(pos: ast.Pos | None) -> str:
    """``level3.rules:14:5``."""
    if pos is None:
        return ""
    return f"{Path(pos.path).name}:{pos.line}:{pos.column}"
