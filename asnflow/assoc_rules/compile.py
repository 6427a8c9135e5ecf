"""Compile parsed rule files into executable rules.

Names are resolved across all files of a rule set (lists, tables,
predicates, fragments, frames), each ``use`` builds fresh test nodes (state
is per rule), frames wrap a rule's constraints, and every name a rule gives
(exposure types, validity checks, product template, finalize steps) is looked
up in the hook registry (:mod:`asnflow.hooks`), bound to the parameters the
rule gives it, and checked for the constraints it reads. Anything unknown is
a :class:`RuleError` at the exact place it is written. A compiled rule is
immutable and shared by every pool; what depends on a pool (column
positions) is bound by the run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import field
from pathlib import Path
from typing import Any

from asnflow import hooks
from asnflow.assoc_rules import ast, limits
from asnflow.assoc_rules.cache import parsed_file
from asnflow.assoc_rules.regex_safety import UNSAFE_REGEX_HINT, compile_problem
from asnflow.constraints.nodes import AttrTest, CheckTest, Group, Node, ReportUnmatched, SetTest
from asnflow.constraints.queue import CATEGORY_NAMES
from asnflow.constraints.vocabulary import VOCABULARY_LISTS, VOCABULARY_TABLES, Vocabulary
from asnflow.errors import RuleError
from asnflow.pathnames import check_name
from asnflow.records import record

# What a rule of each level uses when neither it nor its file's `defaults` says,
# each setting as the words a rule would write for it.
DEFAULTS: dict[str, dict[str, tuple[str, ...]]] = {
    "2b": {"exposure_types": ("level2",), "valid": ("has_science", "allowed_candidates"), "product": ("level2",)},
    "3": {"exposure_types": ("level3",), "valid": ("has_science",), "product": ("default",)},
}
ALL_SHAPES = ("coron", "ami", "tso")
# The tests that keep a state slot in each association (what a value function can name).
_STATEFUL = (AttrTest, SetTest, ReportUnmatched)


def hook_argument(hook: hooks.Hook, argument: ast.HookArg) -> Any:
    """The value of one parameter a rule gives a hook; a RuleError where it is written if it does not fit."""
    param = hook.param(argument.name)
    if param is None:
        known = ", ".join(p.name for p in hook.params)
        raise _error(f"hook {hook.name} has no parameter {argument.name}", argument.pos,
                     f"its parameters: {known}" if known else f"{hook.name} takes no parameters")
    try:
        return param.convert(argument.values)
    except ValueError as exc:
        raise _error(f"parameter {argument.name} of {hook.name} {exc}", argument.pos,
                     param.describe()) from None


def hook_reads_message(hook: hooks.Hook, missing: list[str], rule_name: str) -> str:
    return (f"{hook.name} reads constraint{'s' if len(missing) > 1 else ''} {', '.join(missing)}, "
            f"which rule {rule_name} does not have")


def hook_reads_hint(missing: list[str]) -> str:
    return f"add a pin, match or set named {missing[0]} (or use a fragment that has one)"


class _Missing:
    """A column with no valid value; any comparison with it is false."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


def _error(message: str, pos: ast.Pos | None, hint: str | None = None) -> RuleError:
    if pos is None:
        return RuleError(message, hint=hint)
    return RuleError(message, path=pos.path, line=pos.line or None, column=pos.column or None, hint=hint)


def _close_names(name: str, names: Iterable[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(name, list(names), n=3, cutoff=0.6)
    return f"did you mean {', '.join(close)}?" if close else None


@record(frozen=True, eq=False)
class CompiledRule:
    """One rule, ready to test exposures (shared by all associations, pools and runs)."""

    name: str
    description: str
    level: str
    asn_type: str
    root: Group
    exposure_policy: Callable
    exposure_policy_name: str
    ints_for: frozenset[str]
    validity: tuple[str, ...]
    validity_checks: dict[str, Callable]
    product: str
    product_template: Callable
    finalize: tuple[str, ...]
    finalize_steps: tuple[Callable, ...]
    frame: str | None
    source: ast.RuleDef
    path: str
    index: int = -1
    n_slots: int = 0
    acid_slot: int = -1
    lookup: dict[str, Node] = field(default_factory=dict)
    target_nodes: tuple[Node, ...] = ()
    force_match_node: Node | None = None
    is_tso_node: Node | None = None
    attr_tests: tuple[AttrTest, ...] = ()
    # Whether a finalize step may change an association (members, products, names), not only drop it.
    finalize_changes: bool = True

    def root_with(self, candidate: AttrTest | None) -> Group:
        """The root to test with: with a candidate constraint appended at the top, as jwst does."""
        if candidate is None:
            return self.root
        return Group(reduce=self.root.reduce, children=[*self.root.children, candidate], name=self.root.name,
                     reprocess=self.root.reprocess, pos=self.root.pos)


@record
class RuleSet:
    """Everything compiled from a set of rule files."""

    rules: list[CompiledRule]
    vocab: Vocabulary
    files: tuple[ast.RuleFile, ...]
    lists: dict[str, tuple[tuple[str, ...], ast.ListDef]]
    tables: dict[str, ast.TableDef]
    predicates: dict[str, ast.PredicateDef]
    fragments: dict[str, ast.FragmentDef]
    frames: dict[str, ast.FrameDef]
    used: set[tuple[str, str]] = field(default_factory=set)
    # What the engine works out from the rules alone, once per rule set, by what it is
    # (engine.passes keeps the roots of candidate passes and what their tests read here).
    derived: dict = field(default_factory=dict, repr=False, compare=False)

    def rule(self, name: str) -> CompiledRule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)


# ---------------------------------------------------------------------- expressions
def _subexpressions(expr: ast.Expr) -> tuple[ast.Expr, ...]:
    if isinstance(expr, ast.Not):
        return (expr.operand,)
    if isinstance(expr, (ast.And, ast.Or)):
        return expr.operands
    if isinstance(expr, ast.Compare):
        return (expr.left, expr.right)
    if isinstance(expr, ast.Tuple):
        return expr.items
    if isinstance(expr, ast.Member):
        return (expr.operand,)
    return ()


def _names_read(expr: ast.Expr, predicates: dict[str, ast.PredicateDef], leaf, stack=()) -> frozenset[str]:
    """Walk an expression (through the predicates it names), collecting ``leaf(ref_or_call)``."""
    if isinstance(expr, ast.Ref):
        if expr.name not in hooks.PROPERTIES and expr.name in predicates and expr.name not in stack:
            return _names_read(predicates[expr.name].expr, predicates, leaf, (*stack, expr.name))
        return leaf(expr)
    if isinstance(expr, ast.Call):
        return leaf(expr)
    found: frozenset[str] = frozenset()
    for part in _subexpressions(expr):
        found |= _names_read(part, predicates, leaf, stack)
    return found


def expr_dependencies(expr: ast.Expr, predicates: dict[str, ast.PredicateDef]) -> frozenset[str]:
    """What an expression reads: association properties by name, and "item" for the exposure.

    The engine's index uses this: a test that reads only properties which
    change when an exposure is added (has_science, candidate_type) has a
    fixed result between adds.
    """

    def leaf(expr) -> frozenset[str]:
        if isinstance(expr, ast.Ref) and expr.name in hooks.PROPERTIES:
            return frozenset({expr.name})
        return frozenset({"item"})

    return _names_read(expr, predicates, leaf)


def expr_columns(expr: ast.Expr, predicates: dict[str, ast.PredicateDef]) -> frozenset[str]:
    """The pool columns an expression reads directly (not through association properties)."""

    def leaf(expr) -> frozenset[str]:
        if isinstance(expr, ast.Call):
            return frozenset(a.name for a in expr.args if isinstance(a, ast.Ref))
        return frozenset() if expr.name in hooks.PROPERTIES else frozenset({expr.name})

    return _names_read(expr, predicates, leaf)


class _ExprCompiler:
    def __init__(self, owner: _Compiler) -> None:
        self.owner = owner
        self.depth = 0

    def compile(self, expr: ast.Expr, stack: tuple[str, ...] = ()) -> Callable:
        self.depth += 1
        try:
            if self.depth > limits.MAX_NESTING:
                raise _error(f"expression nested more than {limits.MAX_NESTING} levels deep (counting the "
                             "predicates it reads through)", expr.pos, "split it into simpler predicates")
            self.owner.count_expression(expr.pos)
            method = getattr(self, "_" + type(expr).__name__.lower())
            return method(expr, stack)
        finally:
            self.depth -= 1

    def _str(self, expr: ast.Str, stack):
        value = expr.value
        return lambda attempt: value

    def _ref(self, expr: ast.Ref, stack):
        name = expr.name
        if name in hooks.PROPERTIES:
            self.owner.used.add(("property", name))
            return hooks.PROPERTIES[name].function
        if name in self.owner.predicates:
            if name in stack:
                raise _error(f"predicate {name} refers to itself", expr.pos)
            self.owner.used.add(("predicate", name))
            return self.compile(self.owner.predicates[name].expr, (*stack, name))
        self.owner.note_column(name, expr.pos)

        def column(attempt):
            value = attempt.row.valid(name)
            return MISSING if value is None else value

        return column

    def _call(self, expr: ast.Call, stack):
        if expr.name not in hooks.FUNCTIONS:
            raise _error(f"unknown function {expr.name}()", expr.pos,
                         _close_names(expr.name, hooks.FUNCTIONS) or f"known: {', '.join(sorted(hooks.FUNCTIONS))}")
        columns = []
        for arg in expr.args:
            if not isinstance(arg, ast.Ref):
                raise _error(f"{expr.name}() takes column names", arg.pos)
            self.owner.note_column(arg.name, arg.pos)
            columns.append(arg.name)
        function = hooks.FUNCTIONS[expr.name].function
        columns_t = tuple(columns)
        return lambda attempt: function(attempt.row, *columns_t)

    def _not(self, expr: ast.Not, stack):
        operand = self.compile(expr.operand, stack)
        return lambda attempt: not operand(attempt)

    def _and(self, expr: ast.And, stack):
        operands = [self.compile(e, stack) for e in expr.operands]
        return lambda attempt: all(op(attempt) for op in operands)

    def _or(self, expr: ast.Or, stack):
        operands = [self.compile(e, stack) for e in expr.operands]
        return lambda attempt: any(op(attempt) for op in operands)

    def _compare(self, expr: ast.Compare, stack):
        left = self.compile(expr.left, stack)
        right = self.compile(expr.right, stack)
        equal = expr.op == "=="

        def compare(attempt):
            a = left(attempt)
            b = right(attempt)
            if a is MISSING or b is MISSING:
                return False
            return (a == b) if equal else (a != b)

        return compare

    def _tuple(self, expr: ast.Tuple, stack):
        items = [self.compile(e, stack) for e in expr.items]
        return lambda attempt: tuple(item(attempt) for item in items)

    def _member(self, expr: ast.Member, stack):
        operand = self.compile(expr.operand, stack)
        container = expr.container
        values: frozenset[str] | frozenset[tuple[str, ...]]
        if isinstance(container, ast.TableRef):
            table = self.owner.tables.get(container.name)
            if table is None:
                listed = self.owner.lists.get(container.name)
                if listed is None:
                    raise _error(f"unknown table {container.name}", container.pos,
                                 _close_names(container.name, [*self.owner.tables, *self.owner.lists]))
                self.owner.used.add(("list", container.name))
                values = frozenset(listed[0])
                width = 1
            else:
                self.owner.used.add(("table", container.name))
                values = (frozenset(table.rows) if len(table.columns) > 1
                          else frozenset(row[0] for row in table.rows))
                width = len(table.columns)
            if isinstance(expr.operand, ast.Tuple) and len(expr.operand.items) != width:
                raise _error(
                    f"table {container.name} has {width} columns but the test gives {len(expr.operand.items)} values",
                    expr.pos,
                )
        else:
            values = frozenset(container.values)
        negated = expr.negated

        def member(attempt):
            value = operand(attempt)
            if value is MISSING or (isinstance(value, tuple) and any(v is MISSING for v in value)):
                return False
            return (value not in values) if negated else (value in values)

        return member


# ---------------------------------------------------------------------- the compiler
class _Compiler:
    def __init__(self, files: list[ast.RuleFile], columns: frozenset[str] | None = None) -> None:
        self.files = files
        self.lists: dict[str, tuple[tuple[str, ...], ast.ListDef]] = {}
        self.tables: dict[str, ast.TableDef] = {}
        self.predicates: dict[str, ast.PredicateDef] = {}
        self.fragments: dict[str, ast.FragmentDef] = {}
        self.frames: dict[str, ast.FrameDef] = {}
        self.used: set[tuple[str, str]] = set()
        self.columns_seen: dict[str, ast.Pos] = {}
        self._built = 0
        self.exprs = _ExprCompiler(self)
        self._collect()

    def note_column(self, name: str, pos: ast.Pos) -> None:
        self.columns_seen.setdefault(name, pos)

    # ------------------------------------------------------------ definitions
    def _define(self, table: dict, item, kind: str) -> None:
        if item.name in table:
            first = table[item.name]
            first_pos = first[1].pos if isinstance(first, tuple) else first.pos
            raise _error(f"{kind} {item.name} is defined twice (first at {first_pos})", item.pos)
        # A list is kept expanded (lists it names, in place) beside its definition.
        table[item.name] = (self._expand_list(item), item) if isinstance(item, ast.ListDef) else item

    def _collect(self) -> None:
        tables: dict[str, dict] = {"list": self.lists, "table": self.tables, "predicate": self.predicates,
                                   "fragment": self.fragments, "frame": self.frames}
        for rule_file in self.files:
            for item in rule_file.items:
                kind = ast.DEFINITION_KINDS.get(type(item))
                if kind is None:
                    continue
                if isinstance(item, ast.TableDef):
                    self._check_table_rows(item)
                self._define(tables[kind], item, kind)

    @staticmethod
    def _check_table_rows(item: ast.TableDef) -> None:
        for row, pos in zip(item.rows, item.row_positions, strict=True):
            if len(row) != len(item.columns):
                raise _error(
                    f"table {item.name} row has {len(row)} values but the table has "
                    f"{len(item.columns)} columns ({', '.join(item.columns)})",
                    pos,
                )

    def _expand_list(self, item: ast.ListDef) -> tuple[str, ...]:
        def words(source: tuple[str, ...]) -> list[str]:
            out: list[str] = []
            for word in source:
                if word in self.lists:
                    self.used.add(("list", word))
                    out.extend(self.lists[word][0])
                else:
                    out.append(word)
            return out

        removed = set(words(item.without))
        return tuple(w for w in words(item.words) if w not in removed)

    # ------------------------------------------------------------ statements
    def build(self, statements: tuple[ast.Stmt, ...], body: Node | None, stack: tuple[str, ...],
              depth: int = 0) -> list[Node]:
        nodes: list[Node] = []
        for statement in statements:
            nodes.extend(self._statement(statement, body, stack, depth))
        return nodes

    def _count(self, pos: ast.Pos, depth: int) -> None:
        """Bound the rule being built: its constraints and their nesting (groups, fragments, frame)."""
        if depth > limits.MAX_NESTING:
            raise _error(f"constraints nested more than {limits.MAX_NESTING} levels deep (groups, fragments and "
                         "frame together)", pos, "flatten the groups or the chain of fragments")
        self._built += 1
        if self._built > limits.MAX_RULE_CONSTRAINTS:
            raise _error(f"the rule grows to more than {limits.MAX_RULE_CONSTRAINTS} constraints once its "
                         "fragments are expanded", pos, "a fragment used several times is copied each time; "
                         "use it once")

    def expanded_size(self, rule: ast.RuleDef, frame: ast.FrameDef | None) -> int:
        """How many constraints and expression parts ``rule`` holds once everything is expanded.

        Each fragment's and predicate's size is worked out once, so this is
        linear in the files even when uses double at each level; what is
        nested too deeply or used cyclically is left to the builder to report.
        """
        fragment_sizes: dict[str, int] = {}
        predicate_sizes: dict[str, int] = {}

        def expr_size(expr: ast.Expr, depth: int) -> int:
            total = 0
            pending = [expr]
            while pending:
                node = pending.pop()
                total += 1
                if isinstance(node, ast.Ref) and node.name in self.predicates and node.name not in hooks.PROPERTIES:
                    if node.name not in predicate_sizes and depth < limits.MAX_NESTING:
                        predicate_sizes[node.name] = 0  # a cycle counts nothing; the builder reports it
                        predicate_sizes[node.name] = expr_size(self.predicates[node.name].expr, depth + 1)
                    total += predicate_sizes.get(node.name, 0)
                pending.extend(_subexpressions(node))
            return total

        def size(statements, body_size: int, depth: int) -> int:
            total = 0
            for statement in statements:
                total += 1
                if isinstance(statement, ast.GroupStmt) and depth < limits.MAX_NESTING:
                    total += size(statement.children, body_size, depth + 1)
                elif isinstance(statement, ast.CheckStmt):
                    total += expr_size(statement.expr, depth)
                elif isinstance(statement, ast.LeafStmt) and statement.onlyif is not None:
                    total += expr_size(statement.onlyif, depth)
                elif isinstance(statement, ast.BodyStmt):
                    total += body_size
                elif isinstance(statement, ast.UseStmt):
                    for name, _pos in statement.names:
                        fragment = self.fragments.get(name)
                        if fragment is not None and name not in fragment_sizes and depth < limits.MAX_NESTING:
                            fragment_sizes[name] = 0
                            fragment_sizes[name] = size(fragment.body, body_size, depth + 1)
                        total += fragment_sizes.get(name, 0)
            return total

        own = size(rule.body, 0, 0)
        return own if frame is None else size(frame.body, own, 0)

    def count_expression(self, pos: ast.Pos) -> None:
        """Bound the expressions compiled into one rule (predicates are inlined where they are read)."""
        self._built += 1
        if self._built > limits.MAX_RULE_CONSTRAINTS:
            raise _error(f"the rule grows to more than {limits.MAX_RULE_CONSTRAINTS} constraints and expression "
                         "parts once its fragments and predicates are expanded", pos,
                         "a predicate read twice is expanded twice; read it once")

    def _statement(self, statement: ast.Stmt, body: Node | None, stack: tuple[str, ...], depth: int) -> list[Node]:
        self._count(statement.pos, depth)
        if isinstance(statement, ast.LeafStmt):
            return [self._leaf(statement)]
        if isinstance(statement, ast.CheckStmt):
            test = self.exprs.compile(statement.expr)
            check = CheckTest(name=statement.name, test=test, reprocess=self._reprocess(statement.reprocess),
                              pos=statement.pos)
            check.deps = expr_dependencies(statement.expr, self.predicates)
            check.column_names = tuple(sorted(expr_columns(statement.expr, self.predicates)))
            return [check]
        if isinstance(statement, ast.SetStmt):
            return [SetTest(name=statement.name, value=statement.value, pos=statement.pos)]
        if isinstance(statement, ast.UnmatchedStmt):
            return [ReportUnmatched(pos=statement.pos)]
        if isinstance(statement, ast.NeverStmt):
            never = CheckTest(name=statement.name, test=lambda attempt: False,
                              reprocess=self._reprocess(statement.reprocess), pos=statement.pos)
            never.deps = frozenset()
            return [never]
        if isinstance(statement, ast.BodyStmt):
            if body is None:
                raise _error("`body` is only allowed inside a frame", statement.pos)
            return [body]
        if isinstance(statement, ast.GroupStmt):
            children = self.build(statement.children, body, stack, depth + 1)
            return [Group(reduce=statement.reduce, children=children, name=statement.name,
                          reprocess=self._reprocess(statement.reprocess), pos=statement.pos)]
        if isinstance(statement, ast.UseStmt):
            nodes: list[Node] = []
            for name, pos in statement.names:
                fragment = self.fragments.get(name)
                if fragment is None:
                    hint = _close_names(name, self.fragments)
                    if name in self.frames:
                        hint = f"{name} is a frame; a rule takes it with `frame {name}`"
                    raise _error(f"unknown fragment {name}", pos, hint)
                if name in stack:
                    raise _error(f"fragment {name} uses itself", pos)
                self.used.add(("fragment", name))
                inner = self.build(fragment.body, body, (*stack, name), depth + 1)
                if len(inner) == 1:
                    nodes.append(inner[0])
                else:
                    nodes.append(Group(reduce="all", children=inner, name=None, pos=fragment.pos))
            return nodes
        raise _error(f"unexpected statement {type(statement).__name__}", getattr(statement, "pos", None))

    def _reprocess(self, reprocess: ast.Reprocess | None):
        if reprocess is None:
            return None
        return (CATEGORY_NAMES[reprocess.category], reprocess.when == "match", () if reprocess.all_rules else None)

    def _leaf(self, leaf: ast.LeafStmt) -> AttrTest:
        for source, pos in zip(leaf.sources, leaf.source_positions or [leaf.pos] * len(leaf.sources), strict=True):
            self.note_column(source, pos)
        patterns: tuple[str, ...] | None = None
        dynamic = None
        value_text = None
        value = leaf.value
        if isinstance(value, ast.Regex):
            patterns = (value.pattern,)
            value_text = value.pattern
        elif isinstance(value, ast.RegexList):
            patterns = value.patterns
            value_text = "[" + ", ".join(value.patterns) + "]"
        elif isinstance(value, ast.ListValue):
            listed = self.lists.get(value.name)
            if listed is None:
                raise _error(f"unknown list {value.name}", value.pos, _close_names(value.name, self.lists))
            self.used.add(("list", value.name))
            # jwst joins value lists with "|" (and so inherits the anchoring quirk).
            patterns = ("|".join(listed[0]),)
            value_text = value.name
        elif isinstance(value, ast.DynamicValue):
            hook = hooks.DYNAMIC_VALUES.get(value.function)
            if hook is None:
                raise _error(f"unknown value function {value.function}()", value.pos,
                             _close_names(value.function, hooks.DYNAMIC_VALUES)
                             or f"known: {', '.join(sorted(hooks.DYNAMIC_VALUES))}")
            holder: dict[str, Any] = {"name": value.argument, "pos": value.pos, "slot": -1}
            self._dynamic_refs.append(holder)
            dynamic = hook.function(lambda holder=holder: holder["slot"])
            value_text = f"{value.function}({value.argument})"
        onlyif = self.exprs.compile(leaf.onlyif) if leaf.onlyif is not None else None
        if patterns is not None:
            for pattern in patterns:
                problem = compile_problem(pattern)
                if problem is not None:
                    where = value.pos if value is not None else leaf.pos
                    hint = UNSAFE_REGEX_HINT if "time" in problem else (
                        "values are Python regular expressions matched against the whole cell")
                    raise _error(problem, where, hint)
        test = AttrTest(
            name=leaf.name,
            sources=leaf.sources,
            patterns=patterns,
            dynamic=dynamic,
            pin=leaf.kind == "pin",
            required=not leaf.optional,
            undefined=leaf.undefined,
            onlyif=onlyif,
            reprocess=CATEGORY_NAMES[leaf.reprocess] if leaf.reprocess else None,
            pos=leaf.pos,
            value_text=value_text,
        )
        if leaf.onlyif is not None:
            test.onlyif_deps = expr_dependencies(leaf.onlyif, self.predicates)
            test.onlyif_columns = tuple(sorted(expr_columns(leaf.onlyif, self.predicates)))
        return test

    # ------------------------------------------------------------ rules
    def _setting_values(self, rule: ast.RuleDef, key: str) -> tuple[tuple[str, ...], ast.Pos] | None:
        setting = rule.setting(key)
        return (setting.values, setting.pos) if setting else None

    def rule(self, rule: ast.RuleDef, path: str) -> CompiledRule:
        self._dynamic_refs: list[dict] = []
        self._hooks_used: list[tuple[hooks.Hook, ast.Pos]] = []
        self._built = 0
        level_setting = self._setting_values(rule, "level")
        if level_setting is None:
            raise _error(f"rule {rule.name} does not say its level", rule.pos, "add `level 2b` or `level 3`")
        level = level_setting[0][0]
        asn_type_setting = self._setting_values(rule, "asn_type")
        if asn_type_setting is None:
            raise _error(f"rule {rule.name} does not say its asn_type", rule.pos, "add e.g. `asn_type image3`")
        asn_type_pos = asn_type_setting[1]
        # asn_type is part of every association file name the rule writes.
        check_name(asn_type_setting[0][0], "asn_type", path=asn_type_pos.path if asn_type_pos else None,
                   line=(asn_type_pos.line or None) if asn_type_pos else None,
                   column=(asn_type_pos.column or None) if asn_type_pos else None, error=RuleError)
        defaults = DEFAULTS[level]

        policy_setting = rule.setting("exposure_types")
        policy_name = policy_setting.values[0] if policy_setting else defaults["exposure_types"][0]
        policy = self._hook(hooks.EXPOSURE_POLICIES, policy_setting, 0, policy_name, rule)

        shapes_setting = self._setting_values(rule, "ints_for")
        shapes = frozenset(ALL_SHAPES)
        if shapes_setting is not None:
            shapes = frozenset(shapes_setting[0])
            for shape in shapes:
                if shape not in ALL_SHAPES:
                    raise _error(f"unknown exposure shape {shape}", shapes_setting[1],
                                 f"known: {', '.join(ALL_SHAPES)}")

        valid_setting = rule.setting("valid")
        validity = valid_setting.values if valid_setting else defaults["valid"]
        checks = {name: self._hook(hooks.VALIDITY_CHECKS, valid_setting, i, name, rule)
                  for i, name in enumerate(validity)}

        product_setting = rule.setting("product")
        product = product_setting.values[0] if product_setting else defaults["product"][0]
        template = self._hook(hooks.PRODUCT_TEMPLATES, product_setting, 0, product, rule)

        finalize_setting = rule.setting("finalize")
        finalize = finalize_setting.values if finalize_setting else ()
        steps = tuple(self._hook(hooks.FINALIZE_STEPS, finalize_setting, i, name, rule)
                      for i, name in enumerate(finalize))

        frame_setting = self._setting_values(rule, "frame")
        grows_to = self.expanded_size(rule, self.frames.get(frame_setting[0][0]) if frame_setting else None)
        if grows_to > limits.MAX_RULE_CONSTRAINTS:
            raise _error(f"rule {rule.name} grows to {grows_to:,} constraints and expression parts once its "
                         f"fragments and predicates are expanded (at most {limits.MAX_RULE_CONSTRAINTS:,})",
                         rule.pos, "a fragment used twice (or a predicate read twice) is copied each time")
        body_nodes = self.build(rule.body, None, ())
        rule_group = Group(reduce="all", children=body_nodes, name=None, pos=rule.pos)
        frame_setting = self._setting_values(rule, "frame")
        frame_name = None
        if frame_setting:
            frame_name = frame_setting[0][0]
            frame = self.frames.get(frame_name)
            if frame is None:
                raise _error(f"unknown frame {frame_name}", frame_setting[1], _close_names(frame_name, self.frames))
            self.used.add(("frame", frame_name))
            root = Group(reduce="all", children=self.build(frame.body, rule_group, ()), name=frame.group_name,
                         pos=frame.pos)
        else:
            root = rule_group

        slots = self._assign_slots(rule, root)
        self._check_reads(rule, slots["lookup"])
        return CompiledRule(
            name=rule.name,
            description=rule.description or "",
            level=level,
            asn_type=asn_type_setting[0][0],
            root=root,
            exposure_policy=policy,
            exposure_policy_name=policy_name,
            ints_for=shapes,
            validity=tuple(validity),
            validity_checks=checks,
            product=product,
            product_template=template,
            finalize=tuple(finalize),
            finalize_steps=steps,
            finalize_changes=not all(hooks.FINALIZE_STEPS[name].decides_only for name in finalize),
            frame=frame_name,
            source=rule,
            path=path,
            **slots,
        )

    def _hook(self, table: hooks.HookTable, setting: ast.Setting | None, index: int, name: str,
              rule: ast.RuleDef) -> Callable:
        """The hook a setting names, bound to the parameters written after it."""
        pos = setting.pos if setting is not None else rule.pos
        hook = table.get(name)
        if hook is None:
            raise _error(f"unknown {table.kind} hook {name}", pos,
                         _close_names(name, table) or f"known: {', '.join(sorted(table))}")
        self.used.add((table.kind, name))
        self._hooks_used.append((hook, pos))
        arguments: dict[str, Any] = {}
        for argument in setting.arguments_of(index) if setting is not None else ():
            arguments[argument.name] = hook_argument(hook, argument)
        return hook.bind(arguments)

    def _check_reads(self, rule: ast.RuleDef, lookup: dict[str, Node]) -> None:
        # Hooks read a constraint's state through the first node of that name.
        with_state = [name for name, node in lookup.items() if getattr(node, "slot", -1) >= 0]
        for hook, pos in self._hooks_used:
            missing = hooks.missing_reads(hook, with_state)
            if missing:
                raise _error(hook_reads_message(hook, missing, rule.name), pos, hook_reads_hint(missing))

    def _assign_slots(self, rule: ast.RuleDef, root: Group) -> dict[str, Any]:
        slot = 0
        lookup: dict[str, Node] = {}
        targets: list[Node] = []
        attr_tests: list[AttrTest] = []
        nodes = list(root.walk())[1:]  # jwst looks names up below the root
        for node in nodes:
            if node.name is not None and node.name not in lookup:
                lookup[node.name] = node
            if isinstance(node, _STATEFUL):
                node.slot = slot
                slot += 1
            if isinstance(node, AttrTest):
                attr_tests.append(node)
                if node.name is not None:
                    node.track_found = True
                    node.track_matched = True
            if node.name == "target" and isinstance(node, (AttrTest, SetTest)):
                targets.append(node)
        for holder in self._dynamic_refs:
            node = lookup.get(holder["name"])
            if not isinstance(node, _STATEFUL) or node.slot < 0:
                raise _error(f"no constraint named {holder['name']} in rule {rule.name}", holder["pos"],
                             _close_names(holder["name"], lookup))
            holder["slot"] = node.slot
        force = lookup.get("force_match")
        is_tso = lookup.get("is_tso")
        return {
            "acid_slot": slot,
            "n_slots": slot + 1,
            "lookup": lookup,
            "target_nodes": tuple(targets),
            "attr_tests": tuple(attr_tests),
            "force_match_node": force if isinstance(force, ReportUnmatched) else None,
            "is_tso_node": is_tso if isinstance(is_tso, AttrTest) else None,
        }

    # ------------------------------------------------------------ vocabulary
    def vocabulary(self) -> Vocabulary:
        def listed(name: str) -> tuple[str, ...]:
            if name not in self.lists:
                raise RuleError(f"the rule set defines no list {name} (needed by the engine)",
                                hint=f"define `list {name} = ...` in a rule file")
            self.used.add(("list", name))
            return self.lists[name][0]

        def table(name: str, width: int) -> ast.TableDef:
            if name not in self.tables:
                raise RuleError(f"the rule set defines no table {name} (needed by the engine)")
            found = self.tables[name]
            if len(found.columns) != width:
                raise _error(f"table {name} must have {width} columns", found.pos)
            self.used.add(("table", name))
            return found

        for name in VOCABULARY_LISTS:
            listed(name)
        for name in VOCABULARY_TABLES:
            if name not in self.tables:
                raise RuleError(f"the rule set defines no table {name} (needed by the engine)")
        return Vocabulary(
            exposure_type_map={k: v for k, v in table("exposure_type_map", 2).rows},
            modifiers=tuple((k, v) for k, v in table("exposure_modifiers", 2).rows),
            acq_exp_types=frozenset(listed("acq_exp_types")),
            tso_exp_types=listed("tso_exp_types"),
            coron_exp_types=frozenset(listed("coron_exp_types")),
            ami_exp_types=frozenset(listed("ami_exp_types")),
            wfss_direct_image_exp_types=frozenset(listed("wfss_direct_image_exp_types")),
            nrc_coron_unocculted=frozenset((pupil, detector) for pupil, detector in
                                           table("nrc_coron_unocculted", 2).rows),
        )


def compile_files(files: list[ast.RuleFile], rule_files: list[ast.RuleFile] | None = None) -> RuleSet:
    """Compile parsed files; rules come from ``rule_files`` (default: all), in registry order.

    Within one file, rules are tried in alphabetical order of their names, as
    jwst's registry does; a later file's rule with the same name replaces the
    earlier one in place (that is how ``-r`` overrides a default rule).
    """
    compiler = _Compiler(files)
    registry: dict[str, CompiledRule] = {}
    for rule_file in rule_files if rule_files is not None else files:
        seen: dict[str, ast.Pos] = {}
        rules = [item for item in rule_file.items if isinstance(item, ast.RuleDef)]
        for rule in rules:
            if rule.name in seen:
                raise _error(f"rule {rule.name} is defined twice in this file (first at {seen[rule.name]})", rule.pos)
            seen[rule.name] = rule.pos
        for rule in sorted(rules, key=lambda r: r.name):
            registry[rule.name] = compiler.rule(rule, rule_file.path)
    compiled = [dataclasses.replace(rule, index=index) for index, rule in enumerate(registry.values())]
    return RuleSet(
        rules=compiled,
        vocab=compiler.vocabulary(),
        files=tuple(files),
        lists=compiler.lists,
        tables=compiler.tables,
        predicates=compiler.predicates,
        fragments=compiler.fragments,
        frames=compiler.frames,
        used=compiler.used,
    )


def load_rule_set(paths: Iterable[str | Path], *, rule_paths: Iterable[str | Path] | None = None) -> RuleSet:
    """Parse and compile rule files. ``rule_paths`` (default: all) say which files' rules are registered."""
    files = [parsed_file(p) for p in paths]
    if rule_paths is None:
        return compile_files(files)
    wanted = {str(Path(p)) for p in rule_paths}
    return compile_files(files, [f for f in files if f.path in wanted])
