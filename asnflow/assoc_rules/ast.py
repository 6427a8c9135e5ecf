"""The rule language as small frozen dataclasses, each carrying its source position.

The parser (parse.py) builds these from lark's tree; the compiler (compile.py)
and the checker (check.py) read them. Nothing here executes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pos:
    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


# ------------------------------------------------------------------ expressions
class Expr:
    """Base of predicate expressions (``check``, ``onlyif``, ``predicate``)."""

    pos: Pos


@dataclass(frozen=True)
class Str(Expr):
    value: str
    pos: Pos


@dataclass(frozen=True)
class Ref(Expr):
    """A column of the exposure, a named predicate, or an association property."""

    name: str
    pos: Pos


@dataclass(frozen=True)
class Call(Expr):
    name: str
    args: tuple[Expr, ...]
    pos: Pos


@dataclass(frozen=True)
class Not(Expr):
    operand: Expr
    pos: Pos


@dataclass(frozen=True)
class And(Expr):
    operands: tuple[Expr, ...]
    pos: Pos


@dataclass(frozen=True)
class Or(Expr):
    operands: tuple[Expr, ...]
    pos: Pos


@dataclass(frozen=True)
class Compare(Expr):
    op: str  # "==" or "!="
    left: Expr
    right: Expr
    pos: Pos


@dataclass(frozen=True)
class Tuple(Expr):
    items: tuple[Expr, ...]
    pos: Pos


@dataclass(frozen=True)
class TableRef:
    name: str
    pos: Pos


@dataclass(frozen=True)
class InlineSet:
    values: tuple[str, ...]
    pos: Pos


@dataclass(frozen=True)
class Member(Expr):
    operand: Expr
    container: TableRef | InlineSet
    negated: bool
    pos: Pos


# ------------------------------------------------------------------ values of pin/match
@dataclass(frozen=True)
class Regex:
    pattern: str
    pos: Pos


@dataclass(frozen=True)
class RegexList:
    patterns: tuple[str, ...]
    pos: Pos


@dataclass(frozen=True)
class ListValue:
    name: str
    pos: Pos


@dataclass(frozen=True)
class DynamicValue:
    function: str
    argument: str
    pos: Pos


Value = Regex | RegexList | ListValue | DynamicValue


# ------------------------------------------------------------------ statements
@dataclass(frozen=True)
class Reprocess:
    category: str  # existing | nonscience | rules | both
    when: str  # match | fail
    all_rules: bool
    pos: Pos


@dataclass(frozen=True)
class LeafStmt:
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


@dataclass(frozen=True)
class CheckStmt:
    name: str | None
    expr: Expr
    reprocess: Reprocess | None
    pos: Pos


@dataclass(frozen=True)
class SetStmt:
    name: str
    value: str
    pos: Pos


@dataclass(frozen=True)
class UnmatchedStmt:
    pos: Pos


@dataclass(frozen=True)
class NeverStmt:
    name: str
    reprocess: Reprocess
    pos: Pos


@dataclass(frozen=True)
class UseStmt:
    names: tuple[tuple[str, Pos], ...]
    pos: Pos


@dataclass(frozen=True)
class BodyStmt:
    pos: Pos


@dataclass(frozen=True)
class GroupStmt:
    reduce: str  # all | any | none | notall
    name: str | None
    reprocess: Reprocess | None
    children: tuple[Stmt, ...]
    pos: Pos


Stmt = LeafStmt | CheckStmt | SetStmt | UnmatchedStmt | NeverStmt | UseStmt | BodyStmt | GroupStmt


# ------------------------------------------------------------------ top-level items
@dataclass(frozen=True)
class ListDef:
    name: str
    words: tuple[str, ...]
    without: tuple[str, ...]
    pos: Pos


@dataclass(frozen=True)
class TableDef:
    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    row_positions: tuple[Pos, ...]
    pos: Pos


@dataclass(frozen=True)
class PredicateDef:
    name: str
    expr: Expr
    pos: Pos


@dataclass(frozen=True)
class FragmentDef:
    name: str
    body: tuple[Stmt, ...]
    pos: Pos


@dataclass(frozen=True)
class FrameDef:
    name: str
    group_name: str | None
    body: tuple[Stmt, ...]
    pos: Pos


@dataclass(frozen=True)
class HookArg:
    """``name: word ...`` given to a hook in a setting (``finalize multi_obs_check(types: group)``)."""

    name: str
    values: tuple[str, ...]
    pos: Pos


@dataclass(frozen=True)
class Setting:
    key: str
    values: tuple[str, ...]
    pos: Pos
    arguments: tuple[tuple[HookArg, ...], ...] = ()  # per value, for settings that name hooks
    inherited: bool = False  # taken from the file's `defaults` block

    def arguments_of(self, index: int) -> tuple[HookArg, ...]:
        return self.arguments[index] if index < len(self.arguments) else ()


@dataclass(frozen=True)
class RuleDef:
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


@dataclass(frozen=True)
class RuleFile:
    path: str
    items: tuple[Item, ...]
    lines: tuple[str, ...] = field(default=(), repr=False)
    defaults: tuple[Setting, ...] = ()  # the `defaults` block (already merged into the file's rules)
