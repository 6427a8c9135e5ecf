"""The rule language as small immutable records (node.py), each carrying its source position.

The parser (parse.py) builds these from lark's tree; the compiler (compile.py)
and the checker (check.py) read them. Nothing here executes anything.
"""

from __future__ import annotations

from asnflow.assoc_rules.node import Node


class Pos(Node):
    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


# ------------------------------------------------------------------ expressions
class Expr:
    """Base of predicate expressions (``check``, ``onlyif``, ``predicate``)."""

    pos: Pos


class Str(Expr, Node):
    value: str
    pos: Pos


class Ref(Expr, Node):
    """A column of the exposure, a named predicate, or an association property."""

    name: str
    pos: Pos


class Call(Expr, Node):
    name: str
    args: tuple[Expr, ...]
    pos: Pos


class Not(Expr, Node):
    operand: Expr
    pos: Pos


class And(Expr, Node):
    operands: tuple[Expr, ...]
    pos: Pos


class Or(Expr, Node):
    operands: tuple[Expr, ...]
    pos: Pos


class Compare(Expr, Node):
    op: str  # "==" or "!="
    left: Expr
    right: Expr
    pos: Pos


class Tuple(Expr, Node):
    items: tuple[Expr, ...]
    pos: Pos


class TableRef(Node):
    name: str
    pos: Pos


class InlineSet(Node):
    values: tuple[str, ...]
    pos: Pos


class Member(Expr, Node):
    operand: Expr
    container: TableRef | InlineSet
    negated: bool
    pos: Pos


# ------------------------------------------------------------------ values of pin/match
class Regex(Node):
    pattern: str
    pos: Pos


class RegexList(Node):
    patterns: tuple[str, ...]
    pos: Pos


class ListValue(Node):
    name: str
    pos: Pos


class DynamicValue(Node):
    function: str
    argument: str
    pos: Pos


Value = Regex | RegexList | ListValue | DynamicValue


# ------------------------------------------------------------------ statements
class Reprocess(Node):
    category: str  # existing | nonscience | rules | both
    when: str  # match | fail
    all_rules: bool
    pos: Pos


class LeafStmt(Node):
    kind: str  # "pin" or "match"
    name: str | None
    sources: tuple[str, ...]
    value: Value | None
    optional: bool
    undefined: bool
    onlyif: Expr | None
    reprocess: str | None  # category, on match
    pos: Pos
    source_positions: tuple[Pos, ...] = ()


class CheckStmt(Node):
    name: str | None
    expr: Expr
    reprocess: Reprocess | None
    pos: Pos


class SetStmt(Node):
    name: str
    value: str
    pos: Pos


class UnmatchedStmt(Node):
    pos: Pos


class NeverStmt(Node):
    name: str
    reprocess: Reprocess
    pos: Pos


class UseStmt(Node):
    names: tuple[tuple[str, Pos], ...]
    pos: Pos


class BodyStmt(Node):
    pos: Pos


class GroupStmt(Node):
    reduce: str  # all | any | none | notall
    name: str | None
    reprocess: Reprocess | None
    children: tuple[Stmt, ...]
    pos: Pos


Stmt = LeafStmt | CheckStmt | SetStmt | UnmatchedStmt | NeverStmt | UseStmt | BodyStmt | GroupStmt


# ------------------------------------------------------------------ top-level items
class ListDef(Node):
    name: str
    words: tuple[str, ...]
    without: tuple[str, ...]
    pos: Pos


class TableDef(Node):
    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    row_positions: tuple[Pos, ...]
    pos: Pos


class PredicateDef(Node):
    name: str
    expr: Expr
    pos: Pos


class FragmentDef(Node):
    name: str
    body: tuple[Stmt, ...]
    pos: Pos


class FrameDef(Node):
    name: str
    group_name: str | None
    body: tuple[Stmt, ...]
    pos: Pos


class HookArg(Node):
    """``name: word ...`` given to a hook in a setting (``finalize multi_obs_check(types: group)``)."""

    name: str
    values: tuple[str, ...]
    pos: Pos


class Setting(Node):
    key: str
    values: tuple[str, ...]
    pos: Pos
    arguments: tuple[tuple[HookArg, ...], ...] = ()  # per value, for settings that name hooks
    inherited: bool = False  # taken from the file's `defaults` block

    def arguments_of(self, index: int) -> tuple[HookArg, ...]:
        return self.arguments[index] if index < len(self.arguments) else ()


class RuleDef(Node):
    name: str
    description: str | None
    settings: tuple[Setting, ...]
    body: tuple[Stmt, ...]
    pos: Pos

    def setting(self, key: str) -> Setting | None:
        for setting in self.settings:
            if setting.key == key:
                return setting
        return None


Item = ListDef | TableDef | PredicateDef | FragmentDef | FrameDef | RuleDef

# The named definitions a rule file may hold, and the word messages use for each.
DEFINITION_KINDS: dict[type, str] = {
    ListDef: "list", TableDef: "table", PredicateDef: "predicate", FragmentDef: "fragment", FrameDef: "frame",
}


class RuleFile(Node, hidden=("lines",)):
    path: str
    items: tuple[Item, ...]
    lines: tuple[str, ...] = ()
    defaults: tuple[Setting, ...] = ()  # the `defaults` block (already merged into the file's rules)
