"""One rule tried on one exposure: the constraint walk shared by explain and orphans.

The rule is tried as a new association would try it, in a pass the exposure
took part in, walking the constraint tree in the engine's order and calling
each leaf's ``check``; the deciding leaf is kept as a :class:`Reason` (its
column, the exposure's value, what the rule wanted, where it is written).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from asnflow.assoc_rules import ast
from asnflow.assoc_rules.compile import CompiledRule, RuleSet
from asnflow.constraints.nodes import AttrTest, CheckTest, Group, Node
from asnflow.constraints.rows import INVALID_VALUES, Row
from asnflow.diagnose.sources import SourceIndex, place


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

    if view.candidate_id is not None:
        root = rule.root_with(candidate_test(rule))
        registry = CANDIDATE_REGISTRY
    else:
        root = rule.root
        registry = DISCOVER_REGISTRY

    def fresh() -> Association:
        association = Association(rule, registry, run, None, root)
        association.pass_candidate = view.candidate_id
        return association

    tracer = Tracer(index, Attempt(fresh(), view.row))
    outcome = tracer.trace(root)
    if not outcome.matched:
        distance = (0, 0)
        if lenient:
            distance = Tracer(index, Attempt(fresh(), view.row), lenient=True).trace(root).failures
        return Stop(view.label, outcome.reason, tracer.matched_leaves, distance=distance)
    # Accepted: an association it starts may still never be valid (the
    # engine does not even make those), so say which checks fail.
    starter = fresh()
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


def accepted_text(stop: Stop) -> str:
    """What to say when the constraints accept the exposure but no association of the rule holds it."""
    if stop.invalid:
        from asnflow import hooks

        checks = "; ".join(f"{name} ({hooks.VALIDITY_CHECKS[name].doc.rstrip('.')})" if name in hooks.VALIDITY_CHECKS
                           else name for name in stop.invalid)
        return f"its constraints accept it, but an association it starts is never valid: {checks}"
    return "its constraints accept it as a new association, yet no association of this rule holds it"
