"""Static checks of rule files: everything ``asnflow rules check`` reports.

The compiler stops at the first problem it meets; the checker walks every
definition and every rule and collects all of them, each as a
:class:`Diagnostic` with ``file:line:col``, a message, a hint where one helps,
and the width of the text to underline. Errors are what would make a rule
fail to load or silently never do what it says (an unknown column, a regex
that does not compile, the same constraint name pinned to two different
columns); warnings are definitions nothing uses.

When the walk finds no error, the real compiler runs as a last step, so a
rule set that passes the checker always loads.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from asnflow import hooks
from asnflow.assoc_rules import ast, limits
from asnflow.assoc_rules.compile import DEFAULTS, hook_argument, hook_reads_hint, hook_reads_message
from asnflow.assoc_rules.parse import parse_file
from asnflow.assoc_rules.regex_safety import UNSAFE_REGEX_HINT, compile_problem
from asnflow.constraints.vocabulary import VOCABULARY_LISTS, VOCABULARY_TABLES
from asnflow.errors import AsnflowError, RuleError
from asnflow.pathnames import name_problem

log = logging.getLogger("asnflow.rules")

ERROR = "error"
WARNING = "warning"

SHAPES = ("coron", "ami", "tso")
# Findings `generate -r` only warns about: a user's pool may carry columns the declared list lacks.
LENIENT_CODES = frozenset({"unknown-column", "unknown-name"})
SETTINGS_ONCE = ("level", "asn_type", "exposure_types", "ints_for", "valid", "product", "finalize", "frame")
# The named definitions of a rule set, each kind in its own table.
_Definition = TypeVar("_Definition", ast.ListDef, ast.TableDef, ast.PredicateDef, ast.FragmentDef, ast.FrameDef)


@dataclass(frozen=True)
class Diagnostic:
    """One finding: where, how bad, what, and what to do about it."""

    severity: str  # "error" or "warning"
    code: str  # short identifier of the kind of check, e.g. "unknown-column"
    message: str
    path: str | None = None
    line: int | None = None
    column: int | None = None
    hint: str | None = None
    span: int = 1  # characters to underline, starting at column

    @property
    def location(self) -> str:
        parts = [p for p in (self.path, self.line, self.column) if p is not None]
        return ":".join(str(p) for p in parts)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def one_line(self) -> str:
        """``file:line:col: error: message (hint: ...)`` on one line."""
        text = f"{self.location or 'asnflow'}: {self.severity}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return " ".join(text.split("\n"))

    def to_error(self) -> RuleError:
        return RuleError(self.message, path=self.path, line=self.line, column=self.column, hint=self.hint)

    @classmethod
    def from_error(cls, exc: AsnflowError, code: str) -> Diagnostic:
        return cls(ERROR, code, exc.message, exc.path, exc.line, exc.column, exc.hint)


@dataclass
class CheckResult:
    """What a check found, the files it parsed, and (when there were no errors) the compiled rule set."""

    diagnostics: list[Diagnostic]
    files: list[ast.RuleFile] = field(default_factory=list)
    rule_set: object | None = None  # compile.RuleSet when everything loaded
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    def source_line(self, diagnostic: Diagnostic) -> str | None:
        """The text of the line a diagnostic points at, if the file could be read."""
        if diagnostic.path is None or not diagnostic.line:
            return None
        lines = self.sources.get(diagnostic.path)
        if lines is None:
            try:
                text = Path(diagnostic.path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                return None
            lines = tuple(text.splitlines())
            self.sources[diagnostic.path] = lines
        if 0 < diagnostic.line <= len(lines):
            return lines[diagnostic.line - 1]
        return None


def render(diagnostic: Diagnostic, source_line: str | None) -> str:
    """The full display: the one-line head, the source line with a caret under the place, the hint."""
    head = f"{diagnostic.location or 'asnflow'}: {diagnostic.severity}: {diagnostic.message}"
    out = [head]
    if source_line is not None and diagnostic.line:
        text = source_line.expandtabs(1).rstrip()
        number = str(diagnostic.line)
        out.append(f" {number} | {text}")
        if diagnostic.column:
            start = diagnostic.column - 1
            width = max(1, min(diagnostic.span, max(1, len(text) - start)))
            out.append(f" {' ' * len(number)} | {' ' * start}^{'~' * (width - 1)}")
    if diagnostic.hint:
        out.append(f"  hint: {diagnostic.hint}")
    return "\n".join(out)


def close_names(name: str, names: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(names), n=3, cutoff=0.6)
    return f"did you mean {', '.join(close)}?" if close else None


def _short(pos: ast.Pos) -> str:
    return f"{Path(pos.path).name}:{pos.line}"


# ---------------------------------------------------------------------- the walk
@dataclass
class _RuleScope:
    """What one rule's expanded constraints hold, for the checks that need the whole rule."""

    rule: ast.RuleDef
    pins: dict[str, tuple[tuple[str, ...], ast.Pos]] = field(default_factory=dict)
    slot_names: set[str] = field(default_factory=set)
    dynamic_refs: list[ast.DynamicValue] = field(default_factory=list)
    expanded: set[tuple[str, bool]] = field(default_factory=set)  # fragments already walked in this rule


class _Checker:
    def __init__(self, files: Sequence[ast.RuleFile], targets: set[str], registered: set[str],
                 columns: frozenset[str] | None, calibration: Mapping[str, Any] | None) -> None:
        from asnflow import hooks

        self.hooks = hooks
        self.files = list(files)
        self.targets = targets
        self.registered = registered
        self.columns = columns
        self.calibration = calibration
        self.lines = {f.path: f.lines for f in files}
        self.out: list[Diagnostic] = []
        self.lists: dict[str, ast.ListDef] = {}
        self.list_values: dict[str, tuple[str, ...]] = {}
        self.tables: dict[str, ast.TableDef] = {}
        self.predicates: dict[str, ast.PredicateDef] = {}
        self.fragments: dict[str, ast.FragmentDef] = {}
        self.frames: dict[str, ast.FrameDef] = {}
        self.used: set[tuple[str, str]] = set()

    # ------------------------------------------------------------ reporting
    def report(self, severity: str, code: str, message: str, pos: ast.Pos | None, hint: str | None = None,
               *, text: str | None = None, column: int | None = None, span: int | None = None) -> None:
        """Record a finding at ``pos``; ``text`` (looked up on that line) sets the column and underline."""
        if pos is None:
            self.out.append(Diagnostic(severity, code, message, hint=hint))
            return
        col = column if column is not None else pos.column
        width = span if span is not None else 1
        if text is not None and column is None:
            found = self._find(pos, text)
            if found is not None:
                col = found
            width = span if span is not None else len(text)
        self.out.append(Diagnostic(severity, code, message, pos.path, pos.line or None, col or None, hint,
                                   max(1, width)))

    def _find(self, pos: ast.Pos, text: str) -> int | None:
        lines = self.lines.get(pos.path, ())
        if not pos.line or pos.line > len(lines):
            return None
        line = lines[pos.line - 1]
        start = max(0, (pos.column or 1) - 1)
        match = re.search(r"(?<![A-Za-z0-9_.+\-])" + re.escape(text) + r"(?![A-Za-z0-9_.+\-])", line[start:])
        return start + match.start() + 1 if match else None

    # ------------------------------------------------------------ entry
    def run(self) -> list[Diagnostic]:
        self._collect()
        self._check_lists()
        self._check_tables()
        self._check_predicates()
        for fragment in self.fragments.values():
            self._statements(fragment.body, in_frame=False)
        for frame in self.frames.values():
            self._statements(frame.body, in_frame=True)
        for rule_file in self.files:
            self._check_rules(rule_file)
        for name in VOCABULARY_LISTS:
            self._use_list(name)
        for name in VOCABULARY_TABLES:
            self._use_table(name)
        self._unused()
        return self.out

    # ------------------------------------------------------------ definitions
    def _collect(self) -> None:
        tables: dict[str, dict] = {"list": self.lists, "table": self.tables, "predicate": self.predicates,
                                   "fragment": self.fragments, "frame": self.frames}
        for rule_file in self.files:
            for item in rule_file.items:
                kind = ast.DEFINITION_KINDS.get(type(item))
                if kind is not None:
                    self._define(tables[kind], item, kind)

    def _define(self, table: dict[str, _Definition], item: _Definition, label: str) -> None:
        """Enter a definition by name; a second one of the same kind and name is an error (the first stays)."""
        first = table.get(item.name)
        if first is not None:
            self.report(ERROR, "duplicate-definition",
                        f"{label} {item.name} is defined twice (first at {first.pos})", item.pos,
                        "rename one of them; names are shared by all files of a rule set",
                        text=item.name)
        else:
            table[item.name] = item

    def _check_lists(self) -> None:
        # Lists may name lists defined before them (expanded in place), as the compiler does.
        known: dict[str, tuple[str, ...]] = {}
        for rule_file in self.files:
            for item in rule_file.items:
                if not isinstance(item, ast.ListDef) or self.lists.get(item.name) is not item:
                    continue

                def words(source: tuple[str, ...]) -> list[str]:
                    out: list[str] = []
                    for word in source:
                        if word in known:
                            self.used.add(("list", word))
                            out.extend(known[word])
                        else:
                            out.append(word)
                    return out

                kept = words(item.words)
                removed = words(item.without)
                for word in item.without:
                    if word not in known and word not in kept:
                        self.report(WARNING, "useless-without", f"list {item.name}: {word} is not in the list, "
                                    "so `without` removes nothing", item.pos, text=word)
                known[item.name] = tuple(w for w in kept if w not in set(removed))
        self.list_values = known

    def _check_tables(self) -> None:
        for table in self.tables.values():
            if len(set(table.columns)) != len(table.columns):
                self.report(ERROR, "table-columns", f"table {table.name} names a column twice", table.pos,
                            text=table.name)
            for row, pos in zip(table.rows, table.row_positions, strict=True):
                if len(row) != len(table.columns):
                    self.report(ERROR, "table-row",
                                f"table {table.name} row has {len(row)} values but the table has "
                                f"{len(table.columns)} columns ({', '.join(table.columns)})", pos,
                                "one value per column on each row; quote a value that holds blanks")

    def _check_predicates(self) -> None:
        for predicate in self.predicates.values():
            self._expr(predicate.expr)
        # A predicate may not refer to itself, directly or through others (each cycle reported once).
        reported: set[frozenset[str]] = set()
        for name, predicate in self.predicates.items():
            cycle = self._predicate_cycle(name, predicate.expr, (name,), set())
            if cycle is not None and frozenset(cycle[0]) not in reported:
                reported.add(frozenset(cycle[0]))
                path, ref = cycle
                self.report(ERROR, "predicate-cycle", f"predicate {name} refers to itself ({' -> '.join(path)})",
                            ref.pos, text=ref.name)

    def _predicate_cycle(self, root: str, expr: ast.Expr, stack: tuple[str, ...], seen: set[str]):
        if len(stack) > limits.MAX_NESTING:
            return None  # too long a chain: the compiler refuses it at its place
        for ref in _refs(expr):
            if ref.name == root:
                return (*stack, root), ref
            if ref.name in self.predicates and ref.name not in seen and ref.name not in self.hooks.PROPERTIES:
                seen.add(ref.name)  # a predicate explored once cannot lead back to root another time
                found = self._predicate_cycle(root, self.predicates[ref.name].expr, (*stack, ref.name), seen)
                if found is not None:
                    return found[0], ref
        return None

    # ------------------------------------------------------------ statements (once per place written)
    def _statements(self, statements: Iterable[ast.Stmt], in_frame: bool) -> None:
        for statement in statements:
            self._statement(statement, in_frame)

    def _statement(self, statement: ast.Stmt, in_frame: bool) -> None:
        if isinstance(statement, ast.LeafStmt):
            self._leaf(statement)
        elif isinstance(statement, ast.CheckStmt):
            self._expr(statement.expr)
        elif isinstance(statement, ast.GroupStmt):
            if not statement.children:
                never = "never matches" if statement.reduce in ("all", "any") else "always matches"
                self.report(WARNING, "empty-group", f"empty `{statement.reduce}` group {never}", statement.pos,
                            text=statement.reduce)
            self._statements(statement.children, in_frame)
        elif isinstance(statement, ast.UseStmt):
            for name, pos in statement.names:
                if name not in self.fragments:
                    hint = close_names(name, self.fragments)
                    if name in self.frames:
                        hint = f"{name} is a frame; a rule takes it with `frame {name}`"
                    self.report(ERROR, "unknown-fragment", f"unknown fragment {name}", pos, hint, text=name)
        elif isinstance(statement, ast.BodyStmt) and not in_frame:
            self.report(ERROR, "body-outside-frame", "`body` is only allowed inside a frame", statement.pos,
                        "a frame marks with `body` where a rule's own constraints go", text="body")

    def _leaf(self, leaf: ast.LeafStmt) -> None:
        positions = leaf.source_positions or (leaf.pos,) * len(leaf.sources)
        for source, pos in zip(leaf.sources, positions, strict=True):
            self._column(source, pos)
        value = leaf.value
        if isinstance(value, ast.Regex):
            self._regex(value.pattern, value.pos)
        elif isinstance(value, ast.RegexList):
            for pattern in value.patterns:
                self._regex(pattern, value.pos, text=f'"{pattern}"')
        elif isinstance(value, ast.ListValue):
            if value.name not in self.lists:
                hint = close_names(value.name, self.lists)
                if value.name in self.tables:
                    message = f"{value.name} is a table; a value after `~` must be a list, a string or [\"...\"]"
                    hint = f"test a table in a check: `check (column, ...) in {value.name}`"
                else:
                    message = f"unknown list {value.name}"
                    hint = hint or "quote a regular expression: ~ \"...\""
                self.report(ERROR, "unknown-list", message, value.pos, hint, text=value.name)
            else:
                joined = "|".join(self.list_values.get(value.name, ()))
                error = _regex_error(joined)
                if error is not None:
                    self.report(ERROR, "bad-regex",
                                f"list {value.name} joined with | is not a valid regular expression: {error.msg}",
                                value.pos, "list words are regular expressions; escape special characters",
                                text=value.name)
                else:
                    self._regex_safety(joined, value.pos, value.name)
        elif isinstance(value, ast.DynamicValue) and value.function not in self.hooks.DYNAMIC_VALUES:
            self.report(ERROR, "unknown-hook", f"unknown value function {value.function}()", value.pos,
                        close_names(value.function, self.hooks.DYNAMIC_VALUES)
                        or f"known: {', '.join(sorted(self.hooks.DYNAMIC_VALUES))}", text=value.function)
        if leaf.onlyif is not None:
            self._expr(leaf.onlyif)

    def _regex(self, pattern: str, pos: ast.Pos, text: str | None = None) -> None:
        error = _regex_error(pattern)
        if error is None:
            self._regex_safety(pattern, pos, text)
            return
        column = None
        # error.pos counts the "^" the engine puts in front; the pattern starts after the opening quote.
        offset = max(0, min((error.pos or 1) - 1, len(pattern)))
        if text is None and error.pos is not None and pos.column:
            column = pos.column + 1 + offset
        elif text is not None:
            found = self._find_plain(pos, text)
            if found is not None and error.pos is not None:
                column = found + 1 + offset
        self.report(ERROR, "bad-regex", f"regular expression does not compile: {error.msg}", pos,
                    "values are Python regular expressions matched against the whole cell; "
                    "escape ( ) [ ] . * + ? with a backslash to match them literally",
                    column=column)

    def _regex_safety(self, pattern: str, pos: ast.Pos, text: str | None) -> None:
        problem = compile_problem(pattern)
        if problem is not None:
            self.report(ERROR, "unsafe-regex", problem, pos, UNSAFE_REGEX_HINT, text=text)

    def _find_plain(self, pos: ast.Pos, text: str) -> int | None:
        lines = self.lines.get(pos.path, ())
        if not pos.line or pos.line > len(lines):
            return None
        index = lines[pos.line - 1].find(text, max(0, (pos.column or 1) - 1))
        return index + 1 if index >= 0 else None

    def _column(self, name: str, pos: ast.Pos) -> None:
        if name != name.lower():
            self.report(ERROR, "column-case", f"column {name} never matches: pool column names are lower case",
                        pos, f"write {name.lower()}", text=name)
            return
        if self.columns is not None and name not in self.columns:
            hint = close_names(name, self.columns) or (
                "declared pool columns are listed under pool_columns in rules.yaml"
            )
            self.report(ERROR, "unknown-column", f"unknown pool column {name}", pos, hint, text=name)

    # ------------------------------------------------------------ expressions
    def _expr(self, expr: ast.Expr) -> None:
        if isinstance(expr, ast.Ref):
            if expr.name in self.hooks.PROPERTIES or expr.name in self.predicates:
                return
            if self.columns is not None and expr.name == expr.name.lower() and expr.name not in self.columns:
                names = [*self.columns, *self.predicates, *self.hooks.PROPERTIES]
                self.report(ERROR, "unknown-name",
                            f"unknown name {expr.name}: not a pool column, a predicate or a property",
                            expr.pos, close_names(expr.name, names), text=expr.name)
            else:
                self._column(expr.name, expr.pos)
        elif isinstance(expr, ast.Call):
            if expr.name not in self.hooks.FUNCTIONS:
                self.report(ERROR, "unknown-hook", f"unknown function {expr.name}()", expr.pos,
                            close_names(expr.name, self.hooks.FUNCTIONS)
                            or f"known: {', '.join(sorted(self.hooks.FUNCTIONS))}", text=expr.name)
            for arg in expr.args:
                if isinstance(arg, ast.Ref):
                    self._column(arg.name, arg.pos)
                else:
                    self.report(ERROR, "function-argument", f"{expr.name}() takes column names, not strings",
                                arg.pos, f"write {expr.name}(column, ...)")
        elif isinstance(expr, ast.Not):
            self._expr(expr.operand)
        elif isinstance(expr, (ast.And, ast.Or)):
            for operand in expr.operands:
                self._expr(operand)
        elif isinstance(expr, ast.Compare):
            self._expr(expr.left)
            self._expr(expr.right)
        elif isinstance(expr, ast.Tuple):
            for item in expr.items:
                self._expr(item)
        elif isinstance(expr, ast.Member):
            self._expr(expr.operand)
            self._member(expr)

    def _member(self, expr: ast.Member) -> None:
        container = expr.container
        given = len(expr.operand.items) if isinstance(expr.operand, ast.Tuple) else 1
        if isinstance(container, ast.InlineSet):
            width, what = 1, "a set of single values"
        elif container.name in self.tables:
            width = len(self.tables[container.name].columns)
            what = f"table {container.name} has {width} column{'s' if width > 1 else ''}"
        elif container.name in self.lists:
            width, what = 1, f"{container.name} is a list of single values"
        else:
            self.report(ERROR, "unknown-table", f"unknown table {container.name}", container.pos,
                        close_names(container.name, [*self.tables, *self.lists]), text=container.name)
            return
        if given != width:
            self.report(ERROR, "table-width", f"{what} but the test gives {given} value{'s' if given > 1 else ''}",
                        expr.pos, "test a tuple with one value per table column: (a, b, c) in TABLE"
                        if width > 1 else "test one value: column in LIST")

    # ------------------------------------------------------------ rules
    def _check_rules(self, rule_file: ast.RuleFile) -> None:
        seen: dict[str, ast.Pos] = {}
        for item in rule_file.items:
            if not isinstance(item, ast.RuleDef):
                continue
            if item.name in seen:
                self.report(ERROR, "duplicate-rule",
                            f"rule {item.name} is defined twice in this file (first at line {seen[item.name].line})",
                            item.pos, "a later file may replace a rule; within one file each name is used once",
                            text=item.name)
                continue
            seen[item.name] = item.pos
            self._rule(item, rule_file.path in self.registered)

    def _rule(self, rule: ast.RuleDef, registered: bool) -> None:
        settings = self._rule_settings(rule)
        self._check_level_and_asn_type(rule, settings, registered)
        used_hooks = self._hooks_of(rule, settings)
        shapes = settings.get("ints_for")
        if shapes is not None:
            self._check_shapes(shapes)
        self._statements(rule.body, in_frame=False)

        scope = _RuleScope(rule)
        frame_setting = settings.get("frame")
        frame = self._rule_frame(frame_setting) if frame_setting is not None else None
        if frame is not None:
            self._expand(frame.body, scope, (), rule.body)
        else:
            self._expand(rule.body, scope, (), None)
        if not rule.body:
            self.report(WARNING, "empty-rule", f"rule {rule.name} has no constraints: it never matches", rule.pos,
                        text=rule.name)
        self._check_rule_reads(rule, scope, used_hooks)

    def _rule_settings(self, rule: ast.RuleDef) -> dict[str, ast.Setting]:
        """A rule's settings by key (the first of each); reports those given twice."""
        settings: dict[str, ast.Setting] = {}
        for setting in rule.settings:
            if setting.key in settings and setting.key in SETTINGS_ONCE:
                self.report(ERROR, "duplicate-setting",
                            f"`{setting.key}` is given twice in rule {rule.name} "
                            f"(first at line {settings[setting.key].pos.line})", setting.pos,
                            "give each setting once", text=setting.key)
                continue
            if setting.key == "description" and (setting.key in settings):
                self.report(WARNING, "duplicate-setting", f"rule {rule.name} has two descriptions; the last wins",
                            setting.pos, text=setting.key)
            settings.setdefault(setting.key, setting)
        return settings

    def _check_level_and_asn_type(self, rule: ast.RuleDef, settings: dict[str, ast.Setting],
                                  registered: bool) -> None:
        """Both are given; the asn_type is a plain file name with a calibration (for a registered rule)."""
        if "level" not in settings:
            self.report(ERROR, "missing-level", f"rule {rule.name} does not say its level", rule.pos,
                        "add `level 2b` or `level 3`", text=rule.name)
        if "asn_type" not in settings:
            self.report(ERROR, "missing-asn-type", f"rule {rule.name} does not say its asn_type", rule.pos,
                        "add e.g. `asn_type image3`", text=rule.name)
        elif name_problem(settings["asn_type"].values[0]):
            asn_type = settings["asn_type"].values[0]
            self.report(ERROR, "bad-asn-type", f"asn_type {asn_type!r} is not a plain file name: it "
                        f"{name_problem(asn_type)}", settings["asn_type"].pos,
                        "asn_type is part of association file names; use letters, digits and - _ . + only",
                        text=asn_type)
        elif registered and self.calibration is not None:
            asn_type = settings["asn_type"].values[0]
            # jwst's Asn_Lv3ACQ_Reprocess has asn_type None: it only re-queues exposures, never writes one.
            if asn_type != "None" and asn_type not in self.calibration:
                self.report(WARNING, "no-calibration", f"no calibration module for asn_type {asn_type}",
                            settings["asn_type"].pos, "add it under calibration: in rules.yaml", text=asn_type)

    def _check_shapes(self, shapes: ast.Setting) -> None:
        for shape in shapes.values:
            if shape not in SHAPES:
                self.report(ERROR, "unknown-shape", f"unknown exposure shape {shape}", shapes.pos,
                            f"known: {', '.join(SHAPES)}", text=shape)

    def _rule_frame(self, frame_setting: ast.Setting) -> ast.FrameDef | None:
        """The frame a rule names (marked used), or None when there is no such frame (reported)."""
        frame_name = frame_setting.values[0]
        frame = self.frames.get(frame_name)
        if frame is None:
            hint = close_names(frame_name, self.frames)
            if frame_name in self.fragments:
                hint = f"{frame_name} is a fragment; take it with `use {frame_name}`"
            self.report(ERROR, "unknown-frame", f"unknown frame {frame_name}", frame_setting.pos, hint,
                        text=frame_name)
        else:
            self.used.add(("frame", frame_name))
        return frame

    def _check_rule_reads(self, rule: ast.RuleDef, scope: _RuleScope,
                          used_hooks: list[tuple[hooks.Hook, ast.Pos]]) -> None:
        """Every constraint the rule's hooks and value functions read is in the rule."""
        for hook, pos in used_hooks:
            missing = hooks.missing_reads(hook, scope.slot_names)
            if missing:
                self.report(ERROR, "hook-needs-constraint", hook_reads_message(hook, missing, rule.name), pos,
                            hook_reads_hint(missing), text=hook.name)
        for dynamic in scope.dynamic_refs:
            if dynamic.argument not in scope.slot_names:
                self.report(ERROR, "unknown-constraint",
                            f"{dynamic.function}({dynamic.argument}): no constraint named {dynamic.argument} "
                            f"in rule {rule.name}", dynamic.pos,
                            close_names(dynamic.argument, scope.slot_names)
                            or "name a pin, match or set of the same rule", text=dynamic.argument)

    def _hooks_of(self, rule: ast.RuleDef, settings: dict[str, ast.Setting]) -> list[tuple[hooks.Hook, ast.Pos]]:
        """The hooks a rule uses (its settings, else its level's defaults); reports unknown ones and bad arguments."""
        level = settings["level"].values[0] if "level" in settings else None
        found = []
        for key, table in hooks.SETTING_TABLES.items():
            setting = settings.get(key)
            if setting is None:
                names = DEFAULTS.get(level, {}).get(key, ()) if level is not None else ()
                found += [(table[name], rule.pos) for name in names if name in table]
                continue
            for index, name in enumerate(setting.values):
                hook = table.get(name)
                if hook is None:
                    self.report(ERROR, "unknown-hook", f"unknown {table.kind} hook {name}", setting.pos,
                                close_names(name, table) or f"known: {', '.join(sorted(table))}", text=name)
                    continue
                found.append((hook, setting.pos))
                for argument in setting.arguments_of(index):
                    try:
                        hook_argument(hook, argument)
                    except RuleError as exc:
                        self.report(ERROR, "bad-hook-argument", exc.message, argument.pos, exc.hint,
                                    text=argument.name)
        return found

    def _expand(self, statements: Iterable[ast.Stmt], scope: _RuleScope, stack: tuple[str, ...],
                body: tuple[ast.Stmt, ...] | None, depth: int = 0) -> None:
        """Walk one rule's constraints as the compiler builds them (fragments and frame expanded).

        A fragment used again in the same rule (with the same frame body)
        adds nothing new to what the rule holds, so it is walked once: the
        walk stays linear in the size of the files however the uses multiply.
        """
        if depth > limits.MAX_NESTING:
            self._mark_used_fragments(statements)  # the compiler reports the depth at its place
            return
        for statement in statements:
            if isinstance(statement, ast.LeafStmt):
                self._rule_leaf(statement, scope, stack)
            elif isinstance(statement, ast.CheckStmt):
                self._use_expr(statement.expr)
            elif isinstance(statement, ast.SetStmt):
                scope.slot_names.add(statement.name)
            elif isinstance(statement, ast.UnmatchedStmt):
                scope.slot_names.add("force_match")
            elif isinstance(statement, ast.GroupStmt):
                self._expand(statement.children, scope, stack, body, depth + 1)
            elif isinstance(statement, ast.BodyStmt):
                if body is not None:
                    self._expand(body, scope, stack, None, depth + 1)
            elif isinstance(statement, ast.UseStmt):
                for name, pos in statement.names:
                    fragment = self.fragments.get(name)
                    if fragment is None:
                        continue  # reported where it is written
                    if name in stack:
                        chain = " -> ".join((*stack[stack.index(name):], name))
                        self.report(ERROR, "fragment-cycle", f"fragment {name} uses itself ({chain})", pos,
                                    text=name)
                        continue
                    self.used.add(("fragment", name))
                    if (name, body is not None) in scope.expanded:
                        continue
                    scope.expanded.add((name, body is not None))
                    self._expand(fragment.body, scope, (*stack, name), body, depth + 1)

    def _mark_used_fragments(self, statements: Iterable[ast.Stmt]) -> None:
        """Mark every fragment reachable from ``statements`` as used, without recursion."""
        pending = list(statements)
        while pending:
            statement = pending.pop()
            if isinstance(statement, ast.GroupStmt):
                pending.extend(statement.children)
            elif isinstance(statement, ast.UseStmt):
                for name, _pos in statement.names:
                    if name in self.fragments and ("fragment", name) not in self.used:
                        self.used.add(("fragment", name))
                        pending.extend(self.fragments[name].body)

    def _rule_leaf(self, leaf: ast.LeafStmt, scope: _RuleScope, stack: tuple[str, ...]) -> None:
        value = leaf.value
        if isinstance(value, ast.ListValue):
            self._use_list(value.name)
        elif isinstance(value, ast.DynamicValue):
            scope.dynamic_refs.append(value)
        if leaf.onlyif is not None:
            self._use_expr(leaf.onlyif)
        if leaf.name is None:
            return
        scope.slot_names.add(leaf.name)
        if leaf.kind != "pin":
            return
        first = scope.pins.get(leaf.name)
        if first is None:
            scope.pins[leaf.name] = (leaf.sources, leaf.pos)
        elif first[0] != leaf.sources:
            where = f" (in fragment {stack[-1]})" if stack else ""
            self.report(ERROR, "pin-conflict",
                        f"{leaf.name} is pinned to {' | '.join(leaf.sources)} here{where} but to "
                        f"{' | '.join(first[0])} at {_short(first[1])} in rule {scope.rule.name}",
                        leaf.pos, "names of pinned values identify them (product names, lookups); "
                        "give one of the two another name", text=leaf.name)

    # ------------------------------------------------------------ use tracking
    def _use_list(self, name: str) -> None:
        pending = [name]  # lists name lists: a worklist, not recursion, so long chains are fine
        while pending:
            name = pending.pop()
            if ("list", name) in self.used or name not in self.lists:
                continue
            self.used.add(("list", name))
            pending.extend(word for word in (*self.lists[name].words, *self.lists[name].without)
                           if word in self.lists)

    def _use_table(self, name: str) -> None:
        if name in self.tables:
            self.used.add(("table", name))

    def _use_expr(self, expr: ast.Expr) -> None:
        pending = [expr]  # each predicate is walked once: chains and shared uses stay linear
        while pending:
            for node in walk_expr(pending.pop()):
                if (
                    isinstance(node, ast.Ref)
                    and node.name in self.predicates
                    and node.name not in self.hooks.PROPERTIES
                ):
                    if ("predicate", node.name) not in self.used:
                        self.used.add(("predicate", node.name))
                        pending.append(self.predicates[node.name].expr)
                elif isinstance(node, ast.Member) and isinstance(node.container, ast.TableRef):
                    if node.container.name in self.tables:
                        self._use_table(node.container.name)
                    else:
                        self._use_list(node.container.name)

    def _unused(self) -> None:
        for kind, table in (("list", self.lists), ("table", self.tables), ("predicate", self.predicates),
                            ("fragment", self.fragments), ("frame", self.frames)):
            for name, item in table.items():
                if item.pos.path in self.targets and (kind, name) not in self.used:
                    self.report(WARNING, f"unused-{kind}", f"{kind} {name} is not used by any rule", item.pos,
                                text=name)


# ---------------------------------------------------------------------- helpers
def _regex_error(pattern: str) -> re.error | None:
    try:
        re.compile("^" + pattern + "$", re.IGNORECASE)
    except re.error as exc:
        return exc
    except OverflowError as exc:  # a repeat count beyond re's limit
        return re.error(str(exc))
    except RecursionError:
        return re.error("nested too deeply")
    return None


def walk_expr(expr):
    """Every node of an expression, depth first (predicates are not followed)."""
    yield expr
    if isinstance(expr, ast.Not):
        yield from walk_expr(expr.operand)
    elif isinstance(expr, (ast.And, ast.Or)):
        for operand in expr.operands:
            yield from walk_expr(operand)
    elif isinstance(expr, ast.Compare):
        yield from walk_expr(expr.left)
        yield from walk_expr(expr.right)
    elif isinstance(expr, ast.Tuple):
        for item in expr.items:
            yield from walk_expr(item)
    elif isinstance(expr, ast.Member):
        yield from walk_expr(expr.operand)
    elif isinstance(expr, ast.Call):
        for arg in expr.args:
            yield from walk_expr(arg)


def _refs(expr) -> list[ast.Ref]:
    return [node for node in walk_expr(expr) if isinstance(node, ast.Ref)]


def _sort_key(diagnostic: Diagnostic):
    return (diagnostic.path or "", diagnostic.line or 0, diagnostic.column or 0, diagnostic.message)


# ---------------------------------------------------------------------- public entry points
def check_paths(paths: Sequence[str | Path], *, rule_paths: Sequence[str | Path] | None = None,
                targets: Sequence[str | Path] | None = None, columns: Iterable[str] | None = None,
                calibration: Mapping[str, Any] | None = None) -> CheckResult:
    """Parse and check a rule set.

    ``paths`` are all files of the set (definitions first); ``rule_paths``
    the ones whose rules are registered (default: all); ``targets`` the files
    being checked, whose unused definitions are reported (default: all).
    ``columns`` is the declared pool column list (None: no column check);
    ``calibration`` the asn_type table of rules.yaml (None: not checked).
    """
    from asnflow.assoc_rules.compile import compile_files

    files: list[ast.RuleFile] = []
    diagnostics: list[Diagnostic] = []
    for path in paths:
        try:
            files.append(parse_file(path))
        except RuleError as exc:
            diagnostics.append(Diagnostic.from_error(exc, "syntax"))
    result = CheckResult(diagnostics, files, sources={f.path: f.lines for f in files})
    if diagnostics:
        return result  # names defined in a file that does not parse would all look unknown
    registered_paths = {str(Path(p)) for p in (rule_paths if rule_paths is not None else paths)}
    target_paths = {str(Path(p)) for p in (targets if targets is not None else paths)}
    checker = _Checker(files, target_paths, registered_paths,
                       frozenset(columns) if columns is not None else None, calibration)
    found = sorted(set(checker.run()), key=_sort_key)
    result.diagnostics = found
    if any(d.is_error for d in found):
        return result
    try:
        result.rule_set = compile_files(files, [f for f in files if f.path in registered_paths])
    except RuleError as exc:
        result.diagnostics.append(Diagnostic.from_error(exc, "compile"))
    except Exception as exc:  # the checker promises a message, never a traceback
        result.diagnostics.append(Diagnostic(ERROR, "compile", f"the rule set does not compile: {exc}"))
    return result


def load_checked(paths: Sequence[str | Path], *, rule_paths: Sequence[str | Path], targets: Sequence[str | Path],
                 columns: Iterable[str] | None = None, strict: bool = False):
    """Load a rule set whose ``targets`` (user rule files) are checked first.

    The first error is raised as a :class:`RuleError`; a name that is not a
    declared pool column is only logged as a warning here, because a user's
    pool may carry columns the declared list does not (``asnflow rules
    check`` treats it as an error). Other warnings are logged; with
    ``strict`` (generate --strict) the first of them is raised instead.
    """
    result = check_paths(paths, rule_paths=rule_paths, targets=targets, columns=columns)
    errors = [d for d in result.errors if d.code not in LENIENT_CODES]
    if errors:
        raise errors[0].to_error()
    if strict and result.diagnostics:
        raise result.diagnostics[0].to_error()
    for diagnostic in result.diagnostics:
        if diagnostic.code in LENIENT_CODES or not diagnostic.is_error:
            log.warning("%s", diagnostic.one_line().replace(": error:", ": warning:", 1))
    if result.rule_set is None:
        # Only unknown columns were found: the rules themselves load.
        from asnflow.assoc_rules.compile import compile_files

        wanted = {str(Path(p)) for p in rule_paths}
        result.rule_set = compile_files(result.files, [f for f in result.files if f.path in wanted])
    return result.rule_set


def check_config(config) -> list[Diagnostic]:
    """Checks of rules.yaml itself: rule files exist, native calibration modules exist, columns are lower case."""
    import importlib.util

    out: list[Diagnostic] = []
    path = str(config.path)
    lines = _read_lines(config.path)

    def line_of(text: str) -> int | None:
        for number, line in enumerate(lines, 1):
            if text in line:
                return number
        return None

    for rule_path in (*config.definition_files, *config.rule_files):
        if not Path(rule_path).is_file():
            out.append(Diagnostic(ERROR, "missing-file", f"rule file {Path(rule_path).name} does not exist", path,
                                  line_of(Path(rule_path).name), None, "paths are relative to the rules.yaml folder"))
    for asn_type, routes in config.calibration.items():
        for route in routes:
            target = route.module
            kind, _, name = target.partition(":")
            if kind == "native":
                if importlib.util.find_spec(f"asnflow.calib.{name}") is None:
                    out.append(Diagnostic(ERROR, "unknown-module", f"no native calibration module {name} "
                                          f"(for asn_type {asn_type})", path, line_of(target), None,
                                          "native:NAME names a module asnflow.calib.NAME"))
            elif kind not in ("jwst", "python"):
                out.append(Diagnostic(ERROR, "unknown-module", f"calibration for {asn_type} must be native:NAME, "
                                      f"jwst:CLASS or python:MODULE:ATTR, not {target!r}", path, line_of(target)))
    for column in config.pool_columns or ():
        if column != column.lower():
            out.append(Diagnostic(ERROR, "column-case", f"pool column {column} must be lower case", path,
                                  line_of(column)))
    return out


def _read_lines(path) -> tuple[str, ...]:
    try:
        return tuple(Path(path).read_text(encoding="utf-8").splitlines())
    except OSError:
        return ()


def check_rule_files(files: Sequence[str | Path] = (), *, config_path: str | Path | None = None,
                     ignore_default: bool = False) -> CheckResult:
    """Check user rule ``files`` next to the default rule set, as ``generate -r`` loads them.

    With no files, the default rule set itself (and rules.yaml) is checked.
    Definitions of the default set stay available with ``ignore_default``, as
    in :func:`asnflow.engine.session.rule_set`.
    """
    from asnflow.config import load_config

    config = load_config(config_path)
    # A shipped file named on the command line is checked in its place, under the name given.
    given = {Path(p).resolve(): Path(p) for p in files}
    defaults = [given.pop(p.resolve(), p) for p in (*config.definition_files, *config.rule_files)]
    definition_files = defaults[: len(config.definition_files)]
    rule_files = defaults[len(config.definition_files):]
    extra = list(given.values())
    registered = ([] if ignore_default else list(rule_files)) + extra
    definitions = list(definition_files)
    if ignore_default:
        definitions += [p for p in rule_files if p not in extra]
    paths = definitions + [p for p in registered if p not in definitions]
    targets = [Path(p) for p in files] or defaults
    result = check_paths(paths, rule_paths=registered, targets=targets, columns=config.pool_columns,
                         calibration=config.calibration)
    if not files:
        result.diagnostics = sorted([*check_config(config), *result.diagnostics], key=_sort_key)
    return result
