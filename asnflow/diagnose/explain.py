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

The pieces are shared with :mod:`asnflow.diagnose.orphans` (a one-line reason
per exposure that ended in no association): the constraint walk
(:mod:`~asnflow.diagnose.trace`), what happened to the run's associations
(:mod:`~asnflow.diagnose.outcomes`) and where constraints are written
(:mod:`~asnflow.diagnose.sources`). This module puts them together and words
the answer.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from asnflow.assoc_rules.compile import CompiledRule, RuleSet
from asnflow.constraints.rows import Row
from asnflow.diagnose.outcomes import Fate, Membership, Outcomes
from asnflow.diagnose.sources import SourceIndex, place, position_key
from asnflow.diagnose.trace import (
    Reason,
    Stop,
    accepted_text,
    exp_type_patterns,
    exp_type_specificity,
    passes_of,
    selects_exp_type,
    try_rule,
)


@dataclass
class RuleVerdict:
    rule: CompiledRule
    memberships: list[Membership] = field(default_factory=list)
    fates: list[Fate] = field(default_factory=list)
    stops: list[Stop] = field(default_factory=list)

    @property
    def taken(self) -> bool:
        return bool(self.memberships)


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


NOTATION = (
    "notation: COLUMN is \"VALUE\"; the rule wants ~ \"A|B\": the rule wants the value to match the regular "
    "expression A|B (the whole value, ignoring case); ~ NAME: one of the values of the list NAME (see `asnflow rules "
    "show RULE`); f, n, false, null, n/a, -- and an empty cell count as no value, as in jwst; [FILE:LINE:COL, rule "
    "R]: where the constraint is written, and in which rule, fragment or frame."
)


def _alternative_key(reason: Reason) -> tuple:
    return (position_key(reason.pos) if reason.pos is not None else None, reason.text)


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
