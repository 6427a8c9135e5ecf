"""Rules as text for people: one line per rule, or one rule with its fragments expanded.

:func:`expand` turns a rule's constraints into a tree of :class:`Piece` with
every ``use`` and the rule's frame opened in place, each piece remembering
where its text is written; :func:`show_rule` prints that tree with the
``file:line`` of every line, and :mod:`asnflow.assoc_rules.doc` summarises it.
The text is printed back from the syntax tree in the rule language itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asnflow.assoc_rules import ast
from asnflow.assoc_rules.compile import DEFAULTS, CompiledRule, RuleSet
from asnflow.routes import describe_routes

# ---------------------------------------------------------------------- paths
_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def display_path(path: str) -> str:
    """A rule file's path for people: shipped files relative to the package, others relative to here."""
    resolved = Path(path).resolve()
    for base in (_PACKAGE_DIR, Path.cwd()):
        try:
            return resolved.relative_to(base).as_posix()
        except ValueError:
            continue
    return str(path)


def openable_path(path: str) -> str:
    """A rule file's path that opens from here: relative to the current folder when under it, else absolute.

    (The shipped rules live inside the installed package, so a path relative
    to the package, as the committed catalogue writes it, does not open.)
    """
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(resolved)


def short_pos(pos: ast.Pos | None) -> str:
    """``level3.rules:14``: the file name and line of a position."""
    if pos is None:
        return ""
    return f"{Path(pos.path).name}:{pos.line}"


# ---------------------------------------------------------------------- text of the syntax tree
_PRECEDENCE = {ast.Or: 1, ast.And: 2, ast.Not: 3, ast.Compare: 4, ast.Member: 4}


def _quote(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def _word(text: str) -> str:
    """A list or table word: bare when the grammar reads it back as a name, else quoted."""
    import re

    return text if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.+\-]*", text) else _quote(text)


def expr_text(expr: ast.Expr, outer: int = 0) -> str:
    """An expression as it would be written, with only the parentheses it needs."""
    precedence = _PRECEDENCE.get(type(expr), 5)
    if isinstance(expr, ast.Str):
        text = _quote(expr.value)
    elif isinstance(expr, ast.Ref):
        text = expr.name
    elif isinstance(expr, ast.Call):
        text = f"{expr.name}({', '.join(expr_text(a) for a in expr.args)})"
    elif isinstance(expr, ast.Not):
        text = "not " + expr_text(expr.operand, precedence)
    elif isinstance(expr, ast.And):
        text = " and ".join(expr_text(e, precedence + 1) for e in expr.operands)
    elif isinstance(expr, ast.Or):
        # `and` inside `or` gets parentheses it does not need, for the reader.
        text = " or ".join(expr_text(e, precedence + 2) for e in expr.operands)
    elif isinstance(expr, ast.Compare):
        text = f"{expr_text(expr.left, 5)} {expr.op} {expr_text(expr.right, 5)}"
    elif isinstance(expr, ast.Tuple):
        text = "(" + ", ".join(expr_text(e) for e in expr.items) + ")"
    elif isinstance(expr, ast.Member):
        container = expr.container
        if isinstance(container, ast.TableRef):
            where = container.name
        else:
            trailing = "," if len(container.values) == 1 else ""  # a one-word tuple keeps its comma
            where = "(" + ", ".join(_word(v) for v in container.values) + trailing + ")"
        text = f"{expr_text(expr.operand, 5)} {'not in' if expr.negated else 'in'} {where}"
    else:  # pragma: no cover - every expression class is handled above
        text = repr(expr)
    return f"({text})" if precedence < outer else text


def value_text(value: ast.Value | None) -> str:
    if value is None:
        return ""
    if isinstance(value, ast.Regex):
        return _quote(value.pattern)
    if isinstance(value, ast.RegexList):
        return "[" + ", ".join(_quote(p) for p in value.patterns) + "]"
    if isinstance(value, ast.ListValue):
        return value.name
    return f"{value.function}({value.argument})"


def reprocess_text(reprocess: ast.Reprocess | None) -> str:
    if reprocess is None:
        return ""
    text = f"reprocess {reprocess.category} on {reprocess.when}"
    return text + (" for all rules" if reprocess.all_rules else "")


def leaf_text(leaf: ast.LeafStmt) -> str:
    text = f"{leaf.kind} {leaf.name or '_'} = {' | '.join(leaf.sources)}"
    if leaf.value is not None:
        text += f" ~ {value_text(leaf.value)}"
    flags = []
    if leaf.optional:
        flags.append("optional")
    if leaf.undefined:
        flags.append("undefined")
    if leaf.onlyif is not None:
        flags.append(f"onlyif {expr_text(leaf.onlyif)}")
    if leaf.reprocess:
        flags.append(f"reprocess {leaf.reprocess}")
    return text + ("  " + "  ".join(flags) if flags else "")


def statement_text(statement: ast.Stmt) -> str:
    """One statement on one line (a group as its opening line)."""
    if isinstance(statement, ast.LeafStmt):
        return leaf_text(statement)
    if isinstance(statement, ast.CheckStmt):
        name = f"{statement.name}: " if statement.name else ""
        tail = f" {reprocess_text(statement.reprocess)}" if statement.reprocess else ""
        return f"check {name}{expr_text(statement.expr)}{tail}"
    if isinstance(statement, ast.SetStmt):
        return f"set {statement.name} = {_quote(statement.value)}"
    if isinstance(statement, ast.UnmatchedStmt):
        return "report_unmatched"
    if isinstance(statement, ast.NeverStmt):
        return f"never {statement.name} {reprocess_text(statement.reprocess)}"
    if isinstance(statement, ast.UseStmt):
        return "use " + ", ".join(name for name, _ in statement.names)
    if isinstance(statement, ast.BodyStmt):
        return "body"
    if isinstance(statement, ast.GroupStmt):
        parts = [statement.reduce]
        if statement.name:
            parts.append(statement.name)
        if statement.reprocess:
            parts.append(reprocess_text(statement.reprocess))
        return " ".join(parts) + " {"
    return repr(statement)  # pragma: no cover


# ---------------------------------------------------------------------- expansion
@dataclass(frozen=True)
class Piece:
    """One node of a rule with its fragments and frame opened.

    ``kind`` is "stmt" (a leaf or a group, ``statement`` set), "use" (a
    fragment opened in place: ``name``, written at ``pos``, used at
    ``used_at``), "frame" (the rule's frame) or "body" (the rule's own
    constraints inside its frame).
    """

    kind: str
    pos: ast.Pos | None
    statement: ast.Stmt | None = None
    name: str | None = None
    used_at: ast.Pos | None = None
    children: tuple[Piece, ...] = ()
    group_name: str | None = None  # a frame's name for its top group (jwst looks constraints up by it)

    @property
    def reduce(self) -> str:
        if isinstance(self.statement, ast.GroupStmt):
            return self.statement.reduce
        return "all"


def expand(rule: ast.RuleDef, rule_set: RuleSet) -> Piece:
    """The rule's constraints as the compiler builds them: frame around body, fragments in place."""
    own = Piece("body", rule.pos, name=rule.name, children=tuple(_expand(rule.body, rule_set, None, ())))
    frame_setting = rule.setting("frame")
    if frame_setting is None:
        return own
    frame = rule_set.frames[frame_setting.values[0]]
    return Piece("frame", frame.pos, name=frame.name, used_at=frame_setting.pos,
                 children=tuple(_expand(frame.body, rule_set, own, ())), group_name=frame.group_name)


def _expand(statements, rule_set: RuleSet, body: Piece | None, stack: tuple[str, ...]) -> Iterator[Piece]:
    for statement in statements:
        if isinstance(statement, ast.UseStmt):
            for name, pos in statement.names:
                fragment = rule_set.fragments[name]
                inner = () if name in stack else tuple(_expand(fragment.body, rule_set, body, (*stack, name)))
                yield Piece("use", fragment.pos, name=name, used_at=pos, children=inner)
        elif isinstance(statement, ast.BodyStmt):
            if body is not None:
                yield body
        elif isinstance(statement, ast.GroupStmt):
            yield Piece("stmt", statement.pos, statement,
                        children=tuple(_expand(statement.children, rule_set, body, stack)))
        else:
            yield Piece("stmt", statement.pos, statement)


def walk_pieces(piece: Piece, negated: bool = False) -> Iterator[tuple[Piece, bool]]:
    """Every piece below ``piece`` with whether it sits under an odd number of none/notall groups."""
    for child in piece.children:
        inner = negated
        if child.kind == "stmt" and isinstance(child.statement, ast.GroupStmt) and child.reduce in ("none", "notall"):
            inner = not negated
        yield child, negated
        yield from walk_pieces(child, inner)


# ---------------------------------------------------------------------- references
def references(piece: Piece, rule_set: RuleSet) -> dict[str, list[str]]:
    """Lists, tables and predicates a rule's constraints name (predicates followed), by kind."""
    found: dict[str, list[str]] = {"list": [], "table": [], "predicate": []}
    for child, _ in walk_pieces(piece):
        statement = child.statement
        if isinstance(statement, ast.LeafStmt):
            if isinstance(statement.value, ast.ListValue):
                _add_reference(found, rule_set, "list", statement.value.name)
            if statement.onlyif is not None:
                _scan_references(found, rule_set, statement.onlyif)
        elif isinstance(statement, ast.CheckStmt):
            _scan_references(found, rule_set, statement.expr)
    return found


def _add_reference(found: dict[str, list[str]], rule_set: RuleSet, kind: str, name: str) -> None:
    """Note one definition, then what it names in turn (a list's words that are lists, a predicate's expression)."""
    if name in found[kind]:
        return
    found[kind].append(name)
    if kind == "list":
        for word in rule_set.lists[name][1].words + rule_set.lists[name][1].without:
            if word in rule_set.lists:
                _add_reference(found, rule_set, "list", word)
    if kind == "predicate":
        _scan_references(found, rule_set, rule_set.predicates[name].expr)


def _scan_references(found: dict[str, list[str]], rule_set: RuleSet, expr: ast.Expr) -> None:
    """Note the predicates, tables and lists an expression names."""
    from asnflow.assoc_rules.check import walk_expr

    for node in walk_expr(expr):
        if isinstance(node, ast.Ref) and node.name in rule_set.predicates:
            _add_reference(found, rule_set, "predicate", node.name)
        elif isinstance(node, ast.Member) and isinstance(node.container, ast.TableRef):
            _add_reference(found, rule_set, "table" if node.container.name in rule_set.tables else "list",
                           node.container.name)


def definition_text(kind: str, name: str, rule_set: RuleSet) -> tuple[str, ast.Pos]:
    """A list, table or predicate in one line (a table as its columns and row count)."""
    if kind == "list":
        values, item = rule_set.lists[name]
        return f"list {name} = {' '.join(_word(v) for v in values)}", item.pos
    if kind == "table":
        table = rule_set.tables[name]
        rows = len(table.rows)
        return f"table {name} ({', '.join(table.columns)}): {rows} row{'s' if rows != 1 else ''}", table.pos
    predicate = rule_set.predicates[name]
    return f"predicate {name} = {expr_text(predicate.expr)}", predicate.pos


# ---------------------------------------------------------------------- settings
@dataclass(frozen=True)
class SettingLine:
    key: str
    value: str
    note: str  # what a hook does (its doc string), or "(default)"
    pos: ast.Pos | None


def settings(rule: CompiledRule, calibration: Mapping[str, Any] | None = None) -> list[SettingLine]:
    """Every setting of a rule, defaults filled in, each hook with what it does."""
    from asnflow import hooks

    source = rule.source
    defaults = DEFAULTS[rule.level]

    def pos_of(key: str) -> ast.Pos | None:
        setting = source.setting(key)
        return setting.pos if setting else None

    def doc(table: hooks.HookTable, name: str) -> str:
        hook = table.get(name)
        note = hook.doc if hook is not None else ""
        return f"{inherited(table.setting)} {note}".strip()

    def named(key: str, index: int, name: str) -> str:
        """The hook name with the arguments the rule gives it."""
        setting = source.setting(key)
        arguments = setting.arguments_of(index) if setting is not None else ()
        if not arguments:
            return name
        return name + "(" + ", ".join(f"{a.name}: {' '.join(a.values)}" for a in arguments) + ")"

    def inherited(key: str | None) -> str:
        setting = source.setting(key) if key is not None else None
        return "(file default)" if setting is not None and setting.inherited else ""

    out = [SettingLine("level", rule.level, inherited("level"), pos_of("level"))]
    entry = (calibration or {}).get(rule.asn_type)
    target = describe_routes(entry) if entry is not None else None
    out.append(SettingLine("asn_type", rule.asn_type, f"calibration {target}" if target else "", pos_of("asn_type")))
    note = doc(hooks.EXPOSURE_POLICIES, rule.exposure_policy_name)
    if pos_of("exposure_types") is None and rule.exposure_policy_name == defaults["exposure_types"][0]:
        note = f"(default) {note}"
    out.append(SettingLine("exposure_types", rule.exposure_policy_name, note, pos_of("exposure_types")))
    shapes = " ".join(s for s in ("coron", "ami", "tso") if s in rule.ints_for)
    out.append(SettingLine("ints_for", shapes or "-", "" if pos_of("ints_for") else "(default)", pos_of("ints_for")))
    for index, name in enumerate(rule.validity):
        out.append(SettingLine("valid", named("valid", index, name), doc(hooks.VALIDITY_CHECKS, name),
                               pos_of("valid")))
    out.append(SettingLine("product", named("product", 0, rule.product), doc(hooks.PRODUCT_TEMPLATES, rule.product),
                           pos_of("product")))
    for index, name in enumerate(rule.finalize):
        out.append(SettingLine("finalize", named("finalize", index, name), doc(hooks.FINALIZE_STEPS, name),
                               pos_of("finalize")))
    if rule.frame:
        out.append(SettingLine("frame", rule.frame, inherited("frame"), pos_of("frame")))
    return out


# ---------------------------------------------------------------------- listing
@dataclass(frozen=True)
class RuleSummary:
    name: str
    level: str
    asn_type: str
    description: str
    path: str
    line: int


def list_rules(rule_set: RuleSet) -> list[RuleSummary]:
    """The registered rules in the order they are tried."""
    return [RuleSummary(rule.name, rule.level, rule.asn_type, rule.description, display_path(rule.path),
                        rule.source.pos.line) for rule in rule_set.rules]


def format_rule_list(summaries: list[RuleSummary]) -> str:
    header = ("rule", "level", "asn_type", "description")
    rows = [(s.name, s.level, s.asn_type, s.description) for s in summaries]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    lines = []
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
    return "\n".join(line.rstrip() for line in lines)


# ---------------------------------------------------------------------- showing
INDENT = "    "


def _lines(piece: Piece, depth: int, rule_name: str) -> Iterator[tuple[int, str, str]]:
    """(depth, text, where) for a piece and everything below it."""
    if piece.kind == "use":
        yield depth, f"use {piece.name} {{", f"fragment {piece.name}, {short_pos(piece.pos)}"
        for child in piece.children:
            yield from _lines(child, depth + 1, rule_name)
        yield depth, "}", ""
    elif piece.kind == "body":
        yield depth, f"# the constraints of {rule_name}", short_pos(piece.pos)
        for child in piece.children:
            yield from _lines(child, depth, rule_name)
    elif piece.kind == "frame":
        head = f"all {piece.group_name} {{" if piece.group_name else "all {"
        yield depth, head, f"frame {piece.name}, {short_pos(piece.pos)}"
        for child in piece.children:
            yield from _lines(child, depth + 1, rule_name)
        yield depth, "}", ""
    elif isinstance(piece.statement, ast.GroupStmt):
        yield depth, statement_text(piece.statement), short_pos(piece.pos)
        for child in piece.children:
            yield from _lines(child, depth + 1, rule_name)
        yield depth, "}", ""
    elif piece.statement is not None:  # (every "stmt" piece has its statement)
        yield depth, statement_text(piece.statement), short_pos(piece.pos)


def show_rule(rule: CompiledRule, rule_set: RuleSet, calibration: Mapping[str, Any] | None = None,
              path_text=openable_path) -> str:
    """A rule's text with its frame and fragments expanded, each line with the place it is written.

    ``path_text`` writes the rule file's path: one that opens from here by
    default; the committed catalogue passes :func:`display_path`.
    """
    out = [f"rule {rule.name}" + (f" {_quote(rule.description)}" if rule.description else ""),
           f"    defined at {path_text(rule.path)}:{rule.source.pos.line}", ""]
    setting_lines = settings(rule, calibration)
    key_width = max(len(s.key) for s in setting_lines)
    value_width = max(len(s.value) for s in setting_lines)
    for setting in setting_lines:
        text = f"{INDENT}{setting.key.ljust(key_width)}  {setting.value.ljust(value_width)}  {setting.note}"
        out.append(text.rstrip())
    out.append("")
    root = expand(rule.source, rule_set)
    body = list(_lines(root, 1, rule.name))
    width = max((len(INDENT * d + t) for d, t, _ in body), default=0)
    for depth, text, where in body:
        line = INDENT * depth + text
        out.append(f"{line.ljust(width)}  # {where}" if where else line)
    refs = references(root, rule_set)
    defined = [definition_text(kind, name, rule_set) for kind in ("predicate", "list", "table") for name in refs[kind]]
    if defined:
        out.append("")
        out.append(f"{INDENT}where")
        for text, pos in defined:
            out.append(f"{INDENT * 2}{text}  # {short_pos(pos)}")
    return "\n".join(out) + "\n"
