"""Why an exposure did or did not end up in each rule's associations.

:func:`explain` generates the pool (the same run ``asnflow generate`` makes),
then, for one exposure and every rule:

* the written associations that hold it, and as which member type;
* associations of the rule that held it but are not written, and what
  happened to them (dropped by finalize and why, pruned in favour of which
  association, merged, removed from the members by a finalize step);
* otherwise the first constraint that stopped it: the rule is tried on the
  exposure as a new association would try it, in every pass the exposure
  took part in (one per candidate it belongs to, and discovery), walking the
  constraint tree in the engine's order and calling each leaf's ``check``.
  The deciding leaf is reported with its column, the exposure's value, what
  the rule wanted and the ``file:line`` it is written at. A failing ``any``
  lists the reason of each alternative; a failing ``none`` names what the
  exposure matched.

:mod:`asnflow.diagnose.orphans` uses the same pieces for a one-line reason per
exposure that ended in no association.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asnflow.assoc_rules import ast
from asnflow.assoc_rules.compile import CompiledRule, RuleSet
from asnflow.constraints.nodes import AttrTest, CheckTest, Group, Node
from asnflow.constraints.rows import INVALID_VALUES, Row
from asnflow.engine.association import Association
from asnflow.engine.generate import Result

# ---------------------------------------------------------------------- where things are written


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
                    key = _key(statement.pos)
                    self._text[key] = statement_text(statement)
                    if isinstance(statement, ast.CheckStmt):
                        self._checks[key] = statement
            self._spans[rule_file.path] = sorted(spans)
        self.predicates = rule_set.predicates

    def text(self, node: Node) -> str:
        if node.pos is None:
            return getattr(node, "name", None) or node.kind
        return self._text.get(_key(node.pos), node.name or node.kind)

    def check_statement(self, node: Node) -> ast.CheckStmt | None:
        return self._checks.get(_key(node.pos)) if node.pos is not None else None

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


def _key(pos: ast.Pos) -> tuple[str, int, int]:
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


# ---------------------------------------------------------------------- reasons
@dataclass(frozen=True)
class Reason:
    """Why a constraint tree did not match.

    ``kind``: "value" (a leaf's value did not match), "missing" (no value),
    "defined" (a value where none may be), "check" (a computed test was
    false), "any" (no alternative matched; ``alternatives``), "excluded" (a
    none/notall group matched; ``matched`` says what), "empty" (a group with
    nothing in it), "never" (a constraint that always fails).
    """

    kind: str
    text: str
    node: Node
    column: str | None = None
    value: str | None = None
    wanted: str | None = None
    alternatives: tuple[Reason, ...] = ()
    matched: tuple[str, ...] = ()
    definition: str | None = None

    @property
    def pos(self) -> ast.Pos | None:
        return self.node.pos

    def lines(self, depth: int = 0) -> list[str]:
        """The reason, then each alternative on its own line, indented by depth."""
        where = place(self.pos)
        if self.definition:
            where = f"{where}, {self.definition}" if where else self.definition
        out = [self.text + (f"  [{where}]" if where else "")]
        pad = "    " * (depth + 1)
        for alternative in self.alternatives:
            sub = alternative.lines(depth + 1)
            out.append(f"{pad}- {sub[0]}")
            out.extend(sub[1:])
        return out

    @property
    def leading(self) -> Reason:
        """The reason a one-line summary quotes: of an `any`, its first alternative's (recursively)."""
        return self.alternatives[0].leading if self.kind == "any" and self.alternatives else self

    def one_line(self) -> str:
        """The reason in one line: of an `any`, the first alternative's reason (the others are counted)."""
        if self.kind == "any":
            others = len(self.alternatives) - 1
            return f"{self.alternatives[0].one_line()} (and {others} other alternative{'s' if others > 1 else ''} " \
                   f"of an `any` failed)"
        return self.text


@dataclass
class _Trace:
    """The outcome of one node: matched or not, queued lists, and evidence or reason."""

    matched: bool
    reprocess: Sequence  # the reprocess lists queued by the node (empty, or None: none)
    reason: Reason | None = None
    evidence: list[str] = field(default_factory=list)
    # With ``lenient``: how many constraints would have to change for a match,
    # as (values the rule selects on that differ, other constraints).
    failures: tuple[int, int] = (0, 0)


class Tracer:
    """Walks a constraint tree as :class:`asnflow.constraints.nodes.Group` does, keeping the deciding leaf."""

    def __init__(self, index: SourceIndex, attempt, lenient: bool = False) -> None:
        self.index = index
        self.attempt = attempt
        self.matched_leaves = 0
        # Lenient: an `all` goes on past a failure, to count how far from a
        # match the exposure is (to rank rules); the reason stays the first failure.
        self.lenient = lenient

    def trace(self, node: Node) -> _Trace:
        if isinstance(node, Group):
            return self._group(node)
        matched, reprocess = node.check(self.attempt)
        if matched:
            self.matched_leaves += 1
            return _Trace(True, reprocess, evidence=self._evidence(node))
        selects = isinstance(node, AttrTest) and (node.patterns is not None or node.dynamic is not None)
        return _Trace(False, reprocess, reason=self._reason(node), failures=(1, 0) if selects else (0, 1))

    # Same order and short-circuits as match._all and match._any.
    def _group(self, group: Group) -> _Trace:
        outcome = self._all(group) if group.reduce in ("all", "notall") else self._any(group)
        if group.reduce in ("none", "notall"):
            if outcome.matched:
                what = tuple(outcome.evidence) or ("its conditions",)
                reason = Reason("excluded", f"excluded: `{group.reduce}` group matched: {', '.join(what)}", group,
                                matched=what, definition=self.index.definition(group.pos))
                return _Trace(False, outcome.reprocess, reason=reason, failures=(0, 1))
            return _Trace(True, outcome.reprocess, evidence=[])
        return outcome

    def _all(self, group: Group) -> _Trace:
        if not group.children:
            return _Trace(False, (), reason=Reason("empty", "an empty group never matches", group), failures=(0, 1))
        evidence: list[str] = []
        first: Reason | None = None
        positive: list = []
        negative = None
        matched_all = True
        failures = (0, 0)
        for child in group.children:
            outcome = self.trace(child)
            if outcome.matched:
                evidence.extend(outcome.evidence)
                if matched_all and outcome.reprocess:
                    positive.extend(outcome.reprocess)
                continue
            matched_all = False
            failures = (failures[0] + outcome.failures[0], failures[1] + outcome.failures[1])
            if first is None:
                first = outcome.reason
            if not outcome.reprocess and not self.lenient:
                return _Trace(False, (), reason=first, failures=failures)
            if negative is None:
                negative = outcome.reprocess
        if not matched_all:
            return _Trace(False, negative or (), reason=first, failures=failures)
        return _Trace(True, positive, evidence=evidence)

    def _any(self, group: Group) -> _Trace:
        if not group.children:
            return _Trace(False, (), reason=Reason("empty", "an empty group never matches", group), failures=(0, 1))
        reasons: list[Reason] = []
        failed: list = []
        failures = None
        for child in group.children:
            if self.lenient:
                # Going on past failures pins values a strict walk never reaches;
                # each alternative starts afresh so they do not leak into the next.
                from asnflow.constraints.nodes import Attempt

                saved = self.attempt
                self.attempt = Attempt(saved.asn, saved.row)
                outcome = self.trace(child)
                self.attempt = saved
            else:
                outcome = self.trace(child)
            if outcome.matched:
                return _Trace(True, outcome.reprocess, evidence=outcome.evidence)
            if outcome.reason is not None:
                reasons.append(outcome.reason)
            if outcome.reprocess:
                failed.extend(outcome.reprocess)
            failures = outcome.failures if failures is None else min(failures, outcome.failures)
        if len(reasons) == 1:
            return _Trace(False, failed, reason=reasons[0], failures=failures or (0, 1))
        label = f"`any {group.name}`" if group.name else "`any`"
        reason = Reason("any", f"no alternative of {label} matched", group, alternatives=tuple(reasons),
                        definition=self.index.definition(group.pos))
        return _Trace(False, failed, reason=reason, failures=failures or (0, 1))

    # ------------------------------------------------------------ leaves
    def _cell(self, node: AttrTest) -> tuple[str | None, str | None, list[str]]:
        """(column, value) of the first source with a valid value, and the sources without one."""
        row: Row = self.attempt.row
        empty = []
        for source in node.sources:
            value = row.get(source)
            if value is None:
                empty.append(f"the pool has no column {source}")
            elif not value:
                empty.append(f"{source} is empty")
            elif value in INVALID_VALUES:
                # jwst reads these as "no value": a boolean column's f (false) too
                empty.append(f'{source} is "{value}", which counts as no value')
            else:
                return source, value, empty
        return None, None, empty

    def _evidence(self, node: Node) -> list[str]:
        if isinstance(node, AttrTest):
            column, value, _ = self._cell(node)
            if column is None:
                return []
            return [f'{column} is "{value}"']
        if isinstance(node, CheckTest):
            return [f"`{self._check_text(node)}`"]
        return []

    def _check_text(self, node: CheckTest) -> str:
        statement = self.index.check_statement(node)
        if statement is None:
            return self.index.text(node)
        from asnflow.assoc_rules.show import expr_text

        return expr_text(statement.expr)

    def _reason(self, node: Node) -> Reason:
        definition = self.index.definition(node.pos)
        if isinstance(node, AttrTest):
            return self._attr_reason(node, definition)
        if isinstance(node, CheckTest):
            statement = self.index.check_statement(node)
            if statement is None:  # `never NAME`: fails on purpose
                return Reason("never", f"`{self.index.text(node)}` never matches (it only re-queues the exposure)",
                              node, definition=definition)
            values = self._values(statement.expr)
            shown = f" ({', '.join(values)})" if values else ""
            return Reason("check", f"`{self._check_text(node)}` is false{shown}", node, definition=definition)
        return Reason("never", f"{self.index.text(node)} did not match", node, definition=definition)

    def _attr_reason(self, node: AttrTest, definition: str | None) -> Reason:
        column, value, empty = self._cell(node)
        sources = " | ".join(node.sources)
        if column is None:
            return Reason("missing", f"{'; '.join(empty)}: the rule needs a value", node,
                          column=node.sources[0], value=None, wanted="a value", definition=definition)
        if node.undefined:
            return Reason("defined", f'{column} is "{value}"; the rule wants it empty', node, column=column,
                          value=value, wanted="no value", definition=definition)
        if getattr(node, "is_acid", False):
            return Reason("value", f'asn_candidate is "{value}", not this candidate', node, column=column,
                          value=value, wanted=node.patterns[0] if node.patterns else None, definition=definition)
        wanted = node.value_text or (" | ".join(node.patterns) if node.patterns else None)
        # A regular expression is quoted; a list name or value function is shown as written.
        quoted = node.value_text is None or bool(node.patterns and node.value_text in node.patterns)
        if node.dynamic is not None:
            try:
                current = node.dynamic(self.attempt)
            except Exception:  # a value hook that cannot run on a fresh association says nothing more
                current = None
            wanted = f"{wanted} (now {current})" if current is not None else wanted
        if wanted is None:
            wanted, quoted = "the value the association pinned", False
        shown_wanted = f'"{wanted}"' if quoted else wanted
        via = f" (from {sources})" if len(node.sources) > 1 else ""
        return Reason("value", f'{column} is "{value}"{via}; the rule wants ~ {shown_wanted}', node, column=column,
                      value=value, wanted=wanted, definition=definition)

    def _values(self, expr: ast.Expr, seen: tuple[str, ...] = ()) -> list[str]:
        """``name = value`` for the columns and properties an expression reads (through predicates)."""
        from asnflow import hooks
        from asnflow.assoc_rules.check import walk_expr

        out: list[str] = []
        for node in walk_expr(expr):
            if not isinstance(node, ast.Ref) or node.name in seen:
                continue
            name = node.name
            if name in hooks.PROPERTIES:
                try:
                    value = hooks.PROPERTIES[name].function(self.attempt)
                except Exception:
                    continue
                text = f"{name} = {value!r}" if not isinstance(value, str) else f'{name} = "{value}"'
            elif name in self.index.predicates:
                out.extend(v for v in self._values(self.index.predicates[name].expr, (*seen, name)) if v not in out)
                continue
            else:
                value = self.attempt.row.valid(name)
                text = f'{name} = "{value}"' if value is not None else f"{name} has no value"
            if text not in out:
                out.append(text)
        return out[:8]


# ---------------------------------------------------------------------- trying one rule on one exposure
@dataclass(frozen=True)
class Stop:
    """A rule's verdict on an exposure in one pass: the reason it did not take it (None: it did)."""

    pass_label: str
    reason: Reason | None
    progress: int = 0  # leaves matched before the reason
    invalid: tuple[str, ...] = ()  # accepted, but the association it starts fails these validity checks
    distance: tuple[int, int] = (0, 0)  # with ``lenient``: see _Trace.failures


@dataclass(frozen=True)
class PassView:
    """One generation pass an exposure took part in: its label, the row as that pass saw it, the candidate."""

    label: str
    row: Row
    candidate_id: str | None


def passes_of(row: Row, result, discover: bool) -> list[PassView]:
    """The passes ``generate`` offered this exposure to, in the order it ran them."""
    views = []
    cell = row.get("asn_candidate") or ""
    for cid, ctype in result.candidates:
        if cid in cell:  # jwst selects candidate rows by substring
            views.append(PassView(f"candidate {cid}", row.replace("asn_candidate", f"[('{cid}', '{ctype}')]"), cid))
    if discover:
        views.append(PassView("discovery", row, None))
    return views


def try_rule(rule: CompiledRule, view: PassView, rule_set: RuleSet, run, index: SourceIndex,
             lenient: bool = False) -> Stop:
    """Try ``rule`` on the exposure as a new association of that pass would.

    With ``lenient``, also count how many constraints stopped it (a second
    walk that goes on past failures), to tell which rule came closest.
    """
    from asnflow.constraints.nodes import Attempt
    from asnflow.engine.association import Association
    from asnflow.engine.generate import CANDIDATE_REGISTRY, DISCOVER_REGISTRY
    from asnflow.engine.passes import candidate_test

    columns = view.row.columns
    if view.candidate_id is not None:
        root = rule.root_with(candidate_test(rule, view.candidate_id, dict(columns)))
        registry = CANDIDATE_REGISTRY
    else:
        root = rule.root
        registry = DISCOVER_REGISTRY
    association = Association(rule, registry, run, None, root)
    tracer = Tracer(index, Attempt(association, view.row))
    outcome = tracer.trace(root)
    if not outcome.matched:
        distance = (0, 0)
        if lenient:
            counter = Tracer(index, Attempt(Association(rule, registry, run, None, root), view.row), lenient=True)
            distance = counter.trace(root).failures
        return Stop(view.label, outcome.reason, tracer.matched_leaves, distance=distance)
    # Accepted: an association it starts may still never be valid (the
    # engine does not even make those), so say which checks fail.
    starter = Association(rule, registry, run, None, root)
    starter.add(view.row)
    failed = tuple(name for name, passed in starter.validity.items() if not passed)
    return Stop(view.label, None, tracer.matched_leaves, failed)


def exp_type_patterns(rule: CompiledRule) -> list[str]:
    """The regular expressions a rule's constraints test exp_type with, outside none/notall groups."""
    found: list[str] = []

    def walk(node: Node, negated: bool) -> None:
        if isinstance(node, Group):
            inner = (not negated) if node.reduce in ("none", "notall") else negated
            for child in node.children:
                walk(child, inner)
        elif isinstance(node, AttrTest) and not negated and "exp_type" in node.sources and node.patterns:
            found.extend(node.patterns)

    walk(rule.root, False)
    return found


def exp_type_specificity(rule: CompiledRule, exp_type: str) -> int | None:
    """How many alternatives the narrowest of the rule's exp_type tests that accept this type has (None: none do).

    A rule written for one exposure type (``~ "nrs_fixedslit"``) is a closer
    match than one taking a list of twelve.
    """
    import re

    counts = [pattern.count("|") + 1 for pattern in exp_type_patterns(rule)
              if re.match("^" + pattern + "$", exp_type, re.IGNORECASE)]  # anchored as the engine does
    return min(counts) if counts else None


def selects_exp_type(rule: CompiledRule, exp_type: str) -> bool:
    """Whether some exp_type test of the rule accepts this exposure type."""
    return exp_type_specificity(rule, exp_type) is not None


# ---------------------------------------------------------------------- what happened to associations
@dataclass(frozen=True)
class Membership:
    """One written association holding the exposure."""

    file_name: str
    rule: str
    asn_id: str
    asn_type: str
    exptype: str
    product: str


@dataclass(frozen=True)
class Fate:
    """An association that held the exposure and is not written, or was written without it."""

    rule: str
    asn_id: str
    asn_type: str
    what: str
    exptype: str | None = None  # the exposure's member type there, if still listed


@dataclass
class RuleVerdict:
    rule: CompiledRule
    memberships: list[Membership] = field(default_factory=list)
    fates: list[Fate] = field(default_factory=list)
    stops: list[Stop] = field(default_factory=list)

    @property
    def taken(self) -> bool:
        return bool(self.memberships)


class Outcomes:
    """The written associations of a run and the fate of every association made on the way."""

    def __init__(self, result: Result, fmt: str = "json") -> None:
        self.result = result
        self.suffix = ".yaml" if fmt == "yaml" else ".json"
        written: dict[str, Association] = {}
        self.replaced: dict[int, Association] = {}
        self.invalid: list = []
        for asn in result.associations:
            if not asn.is_valid:
                self.invalid.append(asn)
                continue
            stem = asn.file_stem()
            if stem in written:
                self.replaced[id(written[stem])] = asn
            written[stem] = asn
        self.written = list(written.values())
        self._lineage: dict[int, list] = {}
        for asn in self.written:
            self._lineage.setdefault(self._family(asn), []).append(asn)
        self._dropped = {id(asn): why for asn, why in result.dropped}
        self._pruned = {self._family(asn): (asn, kept, why) for asn, kept, why in result.pruned}
        self._members: dict[str, list[tuple[Any, str]]] = {}  # filename -> (association, exptype)
        for asn in self.written:
            for product in asn.products:
                for member in product["members"]:
                    item = getattr(member, "item", None)
                    if item is not None:
                        self._members.setdefault(item.filename, []).append((asn, member["exptype"]))

    @staticmethod
    def _family(asn) -> int:
        # Finalize splits an association into copies that share its state
        # list; the list's identity ties the copies to the association made.
        return id(asn.states)

    def file_name(self, asn) -> str:
        return asn.file_stem() + self.suffix

    def memberships(self, filename: str) -> list[Membership]:
        found = []
        for asn, exptype in self._members.get(filename, []):
            product = asn.products[0]["name"] if asn.products else ""
            found.append(Membership(self.file_name(asn), asn.rule.name, asn.acid.id, asn.asn_type, exptype,
                                    product or ""))
        return found

    def is_orphan(self, filename: str) -> bool:
        return filename not in self._members

    def fates(self, filename: str, rule: CompiledRule | None = None) -> list[Fate]:
        """What happened to associations that held ``filename`` and do not hold it in the output."""
        out: list[Fate] = []
        held = {id(asn) for asn, _ in self._members.get(filename, [])}
        for asn in self.result.created:
            if rule is not None and asn.rule.name != rule.name:
                continue
            if filename not in asn.filenames:
                continue
            family = self._lineage.get(self._family(asn), [])
            if any(id(w) in held for w in family):
                continue
            what = self._what_happened(asn, family)
            listed = [m["exptype"] for product in asn.products for m in product["members"]
                      if getattr(m, "item", None) is not None and m.item.filename == filename]
            fate = Fate(asn.rule.name, asn.acid.id, asn.asn_type, what, listed[0] if listed else None)
            if fate not in out:
                out.append(fate)
        return out

    def _what_happened(self, asn, family: list) -> str:
        steps = ", ".join(asn.rule.finalize) or "finalize"
        if family:
            names = ", ".join(self.file_name(w) for w in family)
            return f"was written as {names} without it (finalize: {steps})"
        if id(asn) in self._dropped:
            why = self._dropped[id(asn)]
            return f"was {why}" if why.startswith("dropped") else f"was dropped: {why}"
        pruned = self._pruned.get(self._family(asn))
        if pruned is not None:
            _, kept, why = pruned
            if kept is not None:
                return f"was pruned ({why}); kept instead: {self.file_name(kept)} ({kept.rule.name})"
            return f"was pruned ({why})"
        container = self.result.merged_into.get(id(asn))
        if container is not None:
            return f"was merged into {self.file_name(container)}"
        if id(asn) in self.replaced:
            return f"was replaced by a later association with the same file name ({self.file_name(asn)})"
        if any(a is asn for a in self.invalid):
            failed = [name for name, ok in asn.validity.items() if not ok]
            return "was not written: not valid" + (f" ({', '.join(failed)})" if failed else "")
        return "was removed as a duplicate of a candidate association (discovery)"


# ---------------------------------------------------------------------- the whole explanation
@dataclass
class Explanation:
    filename: str
    line: int
    exp_type: str
    candidates: str
    memberships: list[Membership]
    verdicts: list[RuleVerdict]
    passes: list[str]


def find_rows(pool, filename: str) -> list[Row]:
    """The pool rows of an exposure, by FILENAME (case-insensitive; a unique prefix works too)."""
    from asnflow.errors import InputError

    wanted = filename.strip().lower()
    index = pool.index("filename")
    if index is None:
        raise InputError("the pool has no FILENAME column", path=str(pool.path))
    columns = {name: i for i, name in enumerate(pool.columns)}
    exact = [
        Row(values, columns, line)
        for values, line in zip(pool.rows, pool.lines, strict=True)
        if values[index] == wanted
    ]
    if exact:
        return exact
    names = sorted({values[index] for values in pool.rows})
    prefixed = [name for name in names if name.startswith(wanted)]
    if len(set(prefixed)) == 1:
        return find_rows(pool, prefixed[0])
    from asnflow.assoc_rules.check import close_names

    hint = close_names(wanted, names)
    if prefixed:
        shown = ", ".join(prefixed[:4]) + (", ..." if len(prefixed) > 4 else "")
        hint = f"{len(prefixed)} exposures start with that: {shown}"
    raise InputError(f"no exposure {filename} in the pool", path=str(pool.path), hint=hint)


def explain(pool, rule_set: RuleSet, filename: str, options=None, rule_names: Iterable[str] | None = None,
            fmt: str = "json") -> Explanation:
    """Generate ``pool`` and say, for every rule (or those named), what became of one exposure."""
    from asnflow import __version__
    from asnflow.assoc_rules.check import close_names
    from asnflow.engine.association import RunState
    from asnflow.engine.generate import Options, generate
    from asnflow.errors import AsnflowError

    options = options or Options()
    rows = find_rows(pool, filename)
    row = rows[0]
    rules = rule_set.rules
    if rule_names:
        by_name = {rule.name: rule for rule in rules}
        for name in rule_names:
            if name not in by_name:
                raise AsnflowError(f"no rule named {name}",
                                   hint=close_names(name, by_name) or "see `asnflow rules list`")
        rules = [by_name[name] for name in rule_names]
    result = generate(pool, rule_set, options)
    outcomes = Outcomes(result, fmt)
    discover, _ = options.modes()
    views = passes_of(row, result, discover)
    run = RunState(vocab=rule_set.vocab, pool_name=pool.name, code_version=__version__, columns=tuple(pool.columns))
    index = SourceIndex(rule_set)
    memberships = outcomes.memberships(row.filename)
    verdicts = []
    for rule in rules:
        verdict = RuleVerdict(rule, [m for m in memberships if m.rule == rule.name],
                              outcomes.fates(row.filename, rule))
        if not verdict.memberships and not verdict.fates:
            # lenient: also how far from a match, to name the nearest miss of each rule family
            verdict.stops = [try_rule(rule, view, rule_set, run, index, lenient=True) for view in views]
        verdicts.append(verdict)
    return Explanation(row.filename, row.line, row.get("exp_type") or "", row.get("asn_candidate") or "",
                       memberships, verdicts, [view.label for view in views])


def accepted_text(stop: Stop) -> str:
    """What to say when the constraints accept the exposure but no association of the rule holds it."""
    if stop.invalid:
        from asnflow import hooks

        checks = "; ".join(f"{name} ({hooks.VALIDITY_CHECKS[name].doc.rstrip('.')})" if name in hooks.VALIDITY_CHECKS
                           else name for name in stop.invalid)
        return f"its constraints accept it, but an association it starts is never valid: {checks}"
    return "its constraints accept it as a new association, yet no association of this rule holds it"


NOTATION = (
    "notation: COLUMN is \"VALUE\"; the rule wants ~ \"A|B\": the rule wants the value to match the regular "
    "expression A|B (the whole value, ignoring case); ~ NAME: one of the values of the list NAME (see `asnflow rules "
    "show RULE`); f, n, false, null, n/a, -- and an empty cell count as no value, as in jwst; [FILE:LINE:COL, rule "
    "R]: where the constraint is written, and in which rule, fragment or frame."
)


def _alternative_key(reason: Reason) -> tuple:
    return (_key(reason.pos) if reason.pos is not None else None, reason.text)


def shared_alternatives(verdicts: list[RuleVerdict], least: int = 3) -> dict[tuple, tuple[Reason, int]]:
    """Alternatives of an `any` that failed the same way in at least ``least`` rules (a frame's
    target-acquisition branch under every level-3 rule): said once, not under each rule."""
    found: dict[tuple, tuple[Reason, set[str]]] = {}
    for verdict in verdicts:
        for stop in verdict.stops:
            if stop.reason is not None and stop.reason.kind == "any":
                for alternative in stop.reason.alternatives:
                    key = _alternative_key(alternative)
                    found.setdefault(key, (alternative, set()))[1].add(verdict.rule.name)
    return {key: (reason, len(rules)) for key, (reason, rules) in found.items() if len(rules) >= least}


def _own(reason: Reason, shared: dict) -> Reason:
    """The reason without the shared alternatives; an `any` left with one alternative is that alternative."""
    if reason.kind != "any" or not shared:
        return reason
    kept = tuple(a for a in reason.alternatives if _alternative_key(a) not in shared)
    if not kept or len(kept) == len(reason.alternatives):
        return reason
    if len(kept) == 1:
        return kept[0]
    return Reason("any", reason.text, reason.node, alternatives=kept, definition=reason.definition)


def _head(rule: CompiledRule) -> str:
    return f"{rule.name} ({Path(rule.path).name}:{rule.source.pos.line})"


def _selects(rule: CompiledRule, exp_type: str) -> bool:
    """Whether the rule could take this exposure type: an exp_type test accepts it, or it has none."""
    return not exp_type_patterns(rule) or selects_exp_type(rule, exp_type)


def _nearest(verdicts: list[RuleVerdict], exp_type: str) -> tuple[RuleVerdict, Stop] | None:
    """Of the verdicts with a reason, the one that came closest to taking the exposure."""
    ranked = []
    for verdict in verdicts:
        narrow = exp_type_specificity(verdict.rule, exp_type)
        for stop in verdict.stops:
            if stop.reason is not None:
                ranked.append(((stop.distance, narrow if narrow is not None else 1 << 20, -stop.progress), verdict,
                               stop))
    if not ranked:
        return None
    _, verdict, stop = min(ranked, key=lambda entry: entry[0])
    return verdict, stop


def _family_line(verdicts: list[RuleVerdict], exp_type: str, shared: dict) -> str | None:
    """One line for the rules of one asn_type: who took it, what became of it, or the nearest miss."""
    taken = [v for v in verdicts if v.memberships]
    if taken:
        names = ", ".join(dict.fromkeys(f"{v.rule.name} (as {m.exptype})" for v in taken for m in v.memberships))
        return f"taken by {names}"
    for verdict in verdicts:
        if verdict.fates:
            fate = verdict.fates[0]
            more = f" (and {len(verdict.fates) - 1} more)" if len(verdict.fates) > 1 else ""
            return f"{_head(verdict.rule)}: its {fate.asn_type} association of {fate.asn_id} {fate.what}{more}"
    candidates = [v for v in verdicts if v.stops and _selects(v.rule, exp_type)]
    for verdict in candidates:
        accepted = [stop for stop in verdict.stops if stop.reason is None]
        if accepted:
            return f"{_head(verdict.rule)}: {accepted_text(accepted[0])}"
    nearest = _nearest(candidates, exp_type)
    if nearest is None:
        return None
    verdict, stop = nearest
    assert stop.reason is not None  # _nearest chooses among the attempts that stopped
    reason = _own(stop.reason, shared)
    where = place(reason.leading.pos)
    return f"nearest {_head(verdict.rule)}: {reason.one_line()}" + (f"  [{where}]" if where else "")


def format_explanation(explanation: Explanation, full: bool = False) -> str:
    """The explanation as text: short (each asn_type in one line) or, with ``full``, every rule."""
    out = [f"{explanation.filename} (pool line {explanation.line}): exp_type {explanation.exp_type}, "
           f"candidates {explanation.candidates}"]
    offered = ", ".join(explanation.passes) if explanation.passes else "no pass (not in any candidate generated)"
    out.append(f"offered in: {offered}")
    if explanation.memberships:
        out.append(f"in {len(explanation.memberships)} association{'s' if len(explanation.memberships) != 1 else ''}:")
        width = max(len(m.file_name) for m in explanation.memberships)
        rule_width = max(len(m.rule) for m in explanation.memberships)
        for m in explanation.memberships:
            out.append(f"  {m.file_name.ljust(width)}  {m.rule.ljust(rule_width)}  as {m.exptype}")
    else:
        out.append("in no association")
    out.append("")
    shared = shared_alternatives(explanation.verdicts)
    if full:
        out.extend(_every_rule(explanation.verdicts, shared))
    else:
        out.extend(_by_family(explanation, shared))
    for reason, count in shared.values():
        lines = reason.lines()
        out.append(f"an alternative shared by {count} of these rules, said once: {lines[0]}")
        out.extend(lines[1:])
    out.append("")
    out.extend(textwrap.wrap(NOTATION, 100))
    return "\n".join(out) + "\n"


def _by_family(explanation: Explanation, shared: dict) -> list[str]:
    families: dict[str, list[RuleVerdict]] = {}
    for verdict in explanation.verdicts:
        families.setdefault(verdict.rule.asn_type, []).append(verdict)
    lines = {asn_type: _family_line(verdicts, explanation.exp_type, shared) for asn_type, verdicts in families.items()}
    said = {asn_type: line for asn_type, line in lines.items() if line is not None}
    out = ["by asn_type (for the rest, the rule that came nearest; --full for every rule):"]
    width = max((len(t) for t in said), default=0)
    for asn_type, line in said.items():
        out.append(f"  {asn_type.ljust(width)}  {line}")
    others = [asn_type for asn_type, line in lines.items() if line is None]
    if others:
        out.append(f"  no rule of {', '.join(others)} takes exp_type {explanation.exp_type or '(none)'}")
    return out


def _every_rule(verdicts: list[RuleVerdict], shared: dict) -> list[str]:
    out = []
    for verdict in verdicts:
        head = _head(verdict.rule)
        if verdict.memberships:
            for m in verdict.memberships:
                out.append(f"{head}: taken, as {m.exptype}, in {m.file_name}")
        for fate in verdict.fates:
            out.append(f"{head}: its {fate.asn_type} association of {fate.asn_id} {fate.what}")
        if verdict.memberships or verdict.fates:
            continue
        if not verdict.stops:
            out.append(f"{head}: not tried (the exposure took part in no pass)")
            continue
        groups: dict[str, list[str]] = {}
        reasons: dict[str, Stop] = {}
        for stop in verdict.stops:
            key = "\n".join(_own(stop.reason, shared).lines()) if stop.reason is not None else "accepted"
            groups.setdefault(key, []).append(stop.pass_label)
            reasons[key] = stop
        for key, labels in groups.items():
            stop = reasons[key]
            scope = "" if len(groups) == 1 else f" in {', '.join(labels)}"
            if stop.reason is None:
                out.append(f"{head}{scope}: {accepted_text(stop)}")
                continue
            lines = _own(stop.reason, shared).lines()
            out.append(f"{head}: not taken{scope}: {lines[0]}")
            out.extend(lines[1:])
    return out
