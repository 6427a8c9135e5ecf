"""Necessary conditions: which exposures an association (or a rule) could take at all.

jwst offers every exposure to every open association and every rule. The
answer for most pairs is "no", and it can be known without testing: an
association that pinned detector nrca1 only takes nrca1 exposures; one that
already has its science exposure only takes, say, backgrounds. This module
derives such conditions from a constraint tree and the association's current
state, *conservatively*: a condition is produced only where the tree cannot
match without it. The engine uses them to look associations up by key instead
of trying them all, and to skip rules an exposure cannot start — the results
are exactly what trying all of them gives.

A condition is one of:
    ("eq", column, value)         the cell equals a pinned value
    ("opt", column, value)        the cell equals a pinned value or holds none (optional tests)
    ("present", columns)          one of the columns holds a valid value
    ("match", columns, patterns)  the first valid cell of columns fully matches a pattern
    ("check", test)               a computed test that reads only the exposure holds

``necessary`` returns the alternatives under which a tree can match: a list of
condition tuples, any one of which must hold entirely ([()] means nothing is
known), or ``None`` when the tree cannot match in this state.
"""

from __future__ import annotations

from typing import cast

from asnflow.constraints.nodes import Attempt, AttrTest, CheckTest, Group, Node, full_match
from asnflow.constraints.rows import INVALID_VALUES

# Association properties that change only when a member is added or the
# association is created, so a test reading only these is fixed between adds.
STABLE_PROPERTIES = frozenset({"has_science", "candidate_type"})
# What a test may read to count as a test of the exposure alone.
EXPOSURE_ONLY = frozenset({"item", "base_exptype"})
# Properties that change whenever the association merely looks at an exposure.
VOLATILE_PROPERTIES = frozenset({"original_exptype"})
MAX_ALTERNATIVES = 8
NOTHING_KNOWN: list = [()]


class _StateView:
    """What a test reads when evaluated without an exposure (stable properties only)."""

    __slots__ = ("asn", "states", "row")

    def __init__(self, asn, states, row=None) -> None:
        self.asn = asn
        self.states = states
        self.row = row


def _common(alternatives: list[tuple]) -> tuple:
    first, *rest = alternatives
    return tuple(c for c in first if all(c in other for other in rest))


def _limit(alternatives: list[tuple]) -> list[tuple]:
    unique = list(dict.fromkeys(alternatives))
    if len(unique) > MAX_ALTERNATIVES:
        return [_common(unique)]
    return unique


def necessary(node: Node, asn, states) -> list[tuple] | None:
    """Alternatives of conditions under which ``node`` can match, given the association's state."""
    if isinstance(node, AttrTest):
        conditions = _attr(node, asn, states)
        return None if conditions is None else [conditions]
    if isinstance(node, CheckTest):
        return _check(node, asn, states)
    if isinstance(node, Group) and node.reduce == "all":
        return _all(node, asn, states)
    if isinstance(node, Group) and node.reduce == "any":
        return _any(node, asn, states)
    # SetTest, ReportUnmatched, and none / notall groups (exclusions give no positive condition)
    return NOTHING_KNOWN


def _check(node: CheckTest, asn, states) -> list[tuple] | None:
    if node.reprocess is not None:
        return NOTHING_KNOWN
    if node.deps <= STABLE_PROPERTIES:
        # a view standing in for an Attempt: tests of stable properties read only asn and states
        return NOTHING_KNOWN if node.test(cast("Attempt", _StateView(asn, states))) else None
    if node.deps <= EXPOSURE_ONLY:
        return [(("check", node),)]
    return NOTHING_KNOWN


def _all(group: Group, asn, states) -> list[tuple] | None:
    """Every child must hold: the alternatives of the children combined (None: one never holds)."""
    if not group.children:
        return None
    combined: list[tuple] = [()]
    for child in group.children:
        alternatives = necessary(child, asn, states)
        if alternatives is None:
            return None
        if len(combined) * len(alternatives) > MAX_ALTERNATIVES:
            combined = [_common(combined)]
            alternatives = [_common(alternatives)]
        if combined == [()]:  # the first child that puts conditions: they are the alternatives so far
            combined = list(alternatives)
        else:
            combined = [a + tuple([c for c in b if c not in a]) for a in combined for b in alternatives]
    return _limit(combined)


def _any(group: Group, asn, states) -> list[tuple] | None:
    """One child must hold: the alternatives of the children that can (None: none can)."""
    viable: list[tuple] = []
    for child in group.children:
        alternatives = necessary(child, asn, states)
        if alternatives is None:
            continue
        if () in alternatives:
            return NOTHING_KNOWN
        viable.extend(alternatives)
    return _limit(viable) if viable else None


def _attr(node: AttrTest, asn, states) -> tuple | None:
    if node.onlyif is not None or node.undefined or node.evaluate_cell:
        return ()
    state = states[node.slot]
    pinned = state.pinned if state is not None else None
    if pinned is not None:
        return (("eq" if node.required else "opt", state.indexes[0], pinned),)
    if not node.required:
        return ()
    indexes = tuple(i for i in asn.bound[node.slot] if i is not None)
    if not indexes:
        return None  # the pool has none of its columns: a required test always fails
    if node.dynamic is not None:
        never = getattr(node.dynamic, "never_matches", None)
        if never is not None and never(states):
            return None
        return (("present", indexes),)
    if node.compiled is not None:
        return (("match", indexes, node.patterns),)
    return (("present", indexes),)


# ---------------------------------------------------------------------- evaluation on a row
def holds(condition: tuple, row, view) -> bool:
    """Whether an exposure meets one condition (``view`` gives checks their context)."""
    kind = condition[0]
    values = row.values
    if kind == "eq":
        return values[condition[1]] == condition[2]
    if kind == "opt":
        cell = values[condition[1]]
        return cell in INVALID_VALUES or cell == condition[2]
    if kind == "present":
        return any(values[i] not in INVALID_VALUES for i in condition[1])
    if kind == "match":
        cell = next((values[i] for i in condition[1] if values[i] not in INVALID_VALUES), None)
        return cell is not None and any(full_match(p).match(cell) for p in condition[2])
    test = condition[1]
    view.row = row
    return bool(test.test(view))


def columns_read(condition: tuple, columns: dict[str, int], exposure_columns: tuple[str, ...]):
    """The columns a condition reads: (index, whether the value matters, not just its validity).

    ``exposure_columns`` are the columns the exposure type is decided from
    (for tests reading base_exptype).
    """
    kind = condition[0]
    if kind in ("eq", "opt"):
        return ((condition[1], True),)
    if kind == "present":
        return tuple((i, False) for i in condition[1])
    if kind == "match":
        return tuple((i, True) for i in condition[1])
    test = condition[1]
    names = test.column_names + (exposure_columns if "base_exptype" in test.deps else ())
    return tuple((columns[name], True) for name in names if name in columns)


# ---------------------------------------------------------------------- what testing can do besides matching
def may_queue_on_failure(node: Node) -> bool:
    """Whether a failing test of ``node`` can still queue exposures (then it must always be tried)."""
    return _negative(node)


def _positive(node: Node) -> bool:
    """Can the node match and queue exposures?"""
    if isinstance(node, AttrTest):
        return node.reprocess is not None or node.evaluate_cell
    if isinstance(node, CheckTest):
        return node.reprocess is not None and node.reprocess[1]
    if isinstance(node, Group):
        if node.reprocess is not None and node.reprocess[1]:
            return True
        if node.reduce in ("all", "any"):
            return any(_positive(c) for c in node.children)
        return any(_negative(c) for c in node.children)
    return False


def _negative(node: Node) -> bool:
    """Can the node fail and queue exposures?"""
    if isinstance(node, AttrTest):
        return node.evaluate_cell and node.compiled is None and node.dynamic is None
    if isinstance(node, CheckTest):
        return node.reprocess is not None and not node.reprocess[1]
    if isinstance(node, Group):
        if node.reprocess is not None and not node.reprocess[1]:
            return True
        if node.reduce in ("all", "any"):
            return any(_negative(c) for c in node.children)
        return any(_positive(c) for c in node.children)
    return False


def reads_volatile_state(node: Node) -> bool:
    """Whether a test reads association state that changes even when an add fails."""
    return any(isinstance(part, CheckTest) and part.deps & VOLATILE_PROPERTIES for part in node.walk())


def signature_columns(node: Node, exposure_columns: tuple[str, ...]) -> tuple[str, ...] | None:
    """Every pool column testing ``node`` can read, or None if testing reads more than columns.

    Two exposures that agree on these columns get the same answer from an
    association in a given state, which lets the engine reuse answers.
    """
    names: set[str] = set()
    reads_exposure_type = False
    for part in node.walk():
        if isinstance(part, AttrTest):
            names.update(part.sources)
            if part.onlyif is not None:
                if part.onlyif_deps & VOLATILE_PROPERTIES:
                    return None
                names.update(part.onlyif_columns)
                reads_exposure_type |= bool(part.onlyif_deps & {"exptype", "base_exptype"})
        elif isinstance(part, CheckTest):
            if part.deps & VOLATILE_PROPERTIES:
                return None
            names.update(part.column_names)
            reads_exposure_type |= bool(part.deps & {"exptype", "base_exptype"})
    if reads_exposure_type:
        names.update(exposure_columns)
    return tuple(sorted(names))
