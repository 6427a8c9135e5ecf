"""Which pool columns a rule cannot do without, and which of them a pool lacks.

A constraint that needs a value (not optional, not ``undefined``, without an
``onlyif``) fails on every exposure of a pool without its column, and with it
the rule, when the constraint is one every match passes through: a child of
an ``all``, or of every alternative of an ``any``. A pool that lacks such a
column makes those rules silently take nothing; generate warns about it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from asnflow.constraints.nodes import AttrTest, Group, Node


def needed_sources(node: Node) -> frozenset[tuple[str, ...]]:
    """The source-column tuples (``a | b``) every match of ``node`` needs a value in."""
    if isinstance(node, AttrTest):
        if node.required and not node.undefined and node.onlyif is None and not node.is_acid:
            return frozenset({node.sources})
        return frozenset()
    if isinstance(node, Group) and node.children:
        needs = [needed_sources(child) for child in node.children]
        if node.reduce == "all":
            return frozenset().union(*needs)
        if node.reduce == "any":
            return frozenset.intersection(*needs)
    return frozenset()  # none/notall match when their children cannot


def relevant_rules(rules: Iterable, exp_types: Iterable[str]) -> list:
    """The rules that could take some of these exposure types (those without an exp_type test too)."""
    import re

    from asnflow.diagnose.trace import exp_type_patterns

    types = set(exp_types)
    found = []
    for rule in rules:
        patterns = exp_type_patterns(rule)
        if not patterns or any(re.fullmatch(p, t, re.IGNORECASE) for p in patterns for t in types):
            found.append(rule)
    return found


def missing_columns(rules: Iterable, columns: Iterable[str]) -> tuple[Counter, int]:
    """(``{"INSTRUME": 38, "A or B": 2}``, rules affected): needed columns the pool lacks, and by how many rules."""
    present = set(columns)
    counts: Counter = Counter()
    affected = 0
    for rule in rules:
        lacking = [sources for sources in needed_sources(rule.root) if not any(s in present for s in sources)]
        for sources in lacking:
            counts[" or ".join(source.upper() for source in sources)] += 1
        affected += bool(lacking)
    return counts, affected


def pool_warning(rules: list, pool, made_any: bool) -> str | None:
    """The warning for a pool (a :class:`~asnflow.pool.read.Pool` or the
    :class:`~asnflow.pool.read.PoolShape` of one) without columns its rules need, or None.

    jwst's own test pools lack a column or two that one specialised rule
    needs, which is not worth a word; a pool lacking what most of the rules
    that could take its exposures need (INSTRUME, say), or one that made no
    association at all for want of a column, is.
    """
    relevant = relevant_rules(rules, pool.exp_types)
    counts, affected = missing_columns(relevant, pool.columns)
    if not counts or (made_any and 2 * affected < len(relevant)):
        return None
    parts = [f"{name} (needed by {n} rule{'s' if n != 1 else ''})" for name, n in sorted(counts.items())]
    return (f"the pool has no column {', '.join(parts)}; {affected} of the {len(relevant)} rules that could take "
            "its exposures can take none of them")
