"""Regular expressions in rule files: refused before they can take unbounded time.

Python's ``re`` backtracks and cannot be interrupted, so a pattern such as
``(a+)+$`` takes time exponential in the length of the cell it is tried on.
Rather than bound the matching, rule values are checked statically when a
rule file is checked or compiled, and a pattern that can backtrack
exponentially is refused at its place in the file:

- a repeat that can match a varying number of characters inside another
  repeat (``(a+)+``, ``(a*b?)*``, ``(.{1,9}){2,}``);
- a repeat over alternatives that can start with the same character
  (``(a|ab)+``, ``(\\w|_)*``);
- more than ``MAX_OPEN_REPEATS`` unbounded repeats in one pattern
  (``.*.*.*.*x`` is polynomial of that degree).

Patterns that do not compile (including repeat counts too large for ``re``)
are refused with ``re``'s own reason. The check is conservative: it may
refuse a pattern that would in fact run fast; such a pattern can always be
rewritten without nesting.
"""

from __future__ import annotations

import re
from functools import lru_cache

# The parser re uses itself: private modules, named so from Python 3.11 (the oldest asnflow supports).
from re import _constants as sre_constants
from re import _parser as sre_parse

MAX_OPEN_REPEATS = 3
UNSAFE_REGEX_HINT = ("rewrite it without a repeat inside a repeat, e.g. (a+)+ as a+; "
                     "rule values are matched by backtracking")
MAX_PATTERN_LENGTH = 10_000

_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}
_POSSESSIVE = getattr(sre_constants, "POSSESSIVE_REPEAT", None)
_ANY_CHARACTER = None  # "any character" in a first-character set
# Every repeat is written with one of these. A pattern holding none can neither nest
# repeats nor hold open ones, and needs no walk (65 of the shipped rules' 68 patterns).
_REPEAT_CHARACTERS = frozenset("*+?{")


# The shipped rules try 68 distinct patterns 254 times (a list named by many rules).
@lru_cache(maxsize=1024)
def compile_problem(pattern: str, flags: int = re.IGNORECASE) -> str | None:
    """Why ``pattern`` (anchored, as the engine matches it) is refused, or None when it is safe."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"regular expression longer than {MAX_PATTERN_LENGTH} characters"
    anchored = "^" + pattern + "$"
    try:
        re.compile(anchored, flags)
        if _REPEAT_CHARACTERS.isdisjoint(pattern):
            return None
        parsed = sre_parse.parse(anchored, flags)
    except re.error as exc:
        return f"not a valid regular expression {pattern!r}: {exc.msg}"
    except OverflowError as exc:  # re's own limit on repeat counts
        return f"not a valid regular expression {_short(pattern)}: {exc}"
    except RecursionError:
        return f"regular expression {_short(pattern)} is nested too deeply"
    try:
        problem, open_repeats = _walk(parsed.state, list(parsed))
    except RecursionError:  # pragma: no cover - re's parser refuses deeper nesting first
        return f"regular expression {_short(pattern)} is nested too deeply"
    if problem:
        return f"regular expression {_short(pattern)} can take exponential time: {problem}"
    if open_repeats > MAX_OPEN_REPEATS:
        return (f"regular expression {_short(pattern)} has {open_repeats} unbounded repeats "
                f"(at most {MAX_OPEN_REPEATS}); matching it can take a very long time")
    return None


def _short(pattern: str, limit: int = 60) -> str:
    return repr(pattern if len(pattern) <= limit else pattern[:limit] + "...")


def _varies(state, items) -> bool:
    """Whether a sequence can match a varying number of characters."""
    low, high = sre_parse.SubPattern(state, items).getwidth()
    return low != high


def _walk(state, items) -> tuple[str | None, int]:
    """The first exponential construct found (or None) and the number of unbounded repeats."""
    problem: str | None = None
    open_repeats = 0
    for op, arg in items:
        bodies: list = []
        if op in _REPEATS or op == _POSSESSIVE:
            low, high, body = arg
            bodies = [body]
            if high == sre_constants.MAXREPEAT:
                open_repeats += 1
            if (high == sre_constants.MAXREPEAT or high > 1) and op != _POSSESSIVE and problem is None:
                if _varies(state, list(body)):
                    problem = "a repeat of something whose length varies (such as (a+)+)"
                elif _overlapping_branches(list(body)):
                    problem = "a repeat of alternatives that can start alike (such as (a|ab)+)"
        elif op == sre_constants.SUBPATTERN:
            bodies = [arg[-1]]
        elif op == sre_constants.BRANCH:
            bodies = list(arg[1])
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            bodies = [arg[1]]
        elif op == sre_constants.GROUPREF_EXISTS:
            bodies = [b for b in arg[1:] if b is not None]
        for body in bodies:
            inner_problem, inner_open = _walk(state, list(body))
            problem = problem or inner_problem
            open_repeats += inner_open
    return problem, open_repeats


def _overlapping_branches(items) -> bool:
    """Whether the body holds alternatives that can start with the same character."""
    for op, arg in items:
        if op == sre_constants.BRANCH:
            seen: set = set()
            for branch in arg[1]:
                first = _first(list(branch))
                if _ANY_CHARACTER in first or first & seen:
                    return True
                seen |= first
            return False
        if op == sre_constants.SUBPATTERN:
            return _overlapping_branches(list(arg[-1]))
        if op not in (sre_constants.AT,):
            return False
    return False


def _first(items) -> set:
    """Characters a sequence can start with (``_ANY_CHARACTER`` when unknown or empty)."""
    for op, arg in items:
        if op == sre_constants.AT:
            continue
        if op == sre_constants.LITERAL:
            return {chr(arg).lower()}
        if op == sre_constants.IN:
            out: set = set()
            for kind, value in arg:
                if kind == sre_constants.LITERAL:
                    out.add(chr(value).lower())
                elif kind == sre_constants.RANGE and value[1] - value[0] < 256:
                    out.update(chr(c).lower() for c in range(value[0], value[1] + 1))
                else:
                    return {_ANY_CHARACTER}
            return out
        if op == sre_constants.SUBPATTERN:
            return _first(list(arg[-1]))
        if op in _REPEATS and arg[0] >= 1:
            return _first(list(arg[2]))
        if op == sre_constants.BRANCH:
            out = set()
            for branch in arg[1]:
                out |= _first(list(branch))
            return out
        return {_ANY_CHARACTER}
    return {_ANY_CHARACTER}
