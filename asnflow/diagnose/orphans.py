"""Exposures that ended in no association, each with a one-line reason.

jwst's ``--save-orphans`` writes the whole pool (reference §5.1: every row
counts as orphaned); here an orphan is an exposure that is a member of no
written association, and its reason is, in this order of preference:

* an association that held it as science and is not written, with what
  happened to it (dropped by finalize and why, pruned for which association);
* no rule takes its exposure type (no exp_type test of any rule accepts it);
* of the rules whose exp_type tests accept it, the closest one that does
  not take it, and the constraint that stopped it;
* a rule that takes it but whose associations are never valid;
* associations that held it as another member type (a direct image, a
  background) and what happened to them.

The reasons are read from the result of the run being diagnosed
(``generate --orphans`` hands this module its own run's result, in the worker
that made it); only a caller without a result makes a run for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from asnflow.constraints.rows import Row
from asnflow.diagnose.outcomes import Outcomes
from asnflow.diagnose.sources import SourceIndex, place
from asnflow.diagnose.trace import accepted_text, exp_type_specificity, passes_of, try_rule


@dataclass(frozen=True)
class Orphan:
    pool: str
    filename: str
    line: int
    exp_type: str
    reason: str


def find_orphans(pool, rule_set, options=None, result=None) -> list[Orphan]:
    """The orphans of ``pool`` (generated with ``options``, or taken from an existing ``result``)."""
    from asnflow import __version__
    from asnflow.engine.association import RunState
    from asnflow.engine.generate import Options, generate

    options = options or Options()
    if result is None:
        result = generate(pool, rule_set, options)
    outcomes = Outcomes(result)
    discover, _ = options.modes()
    run = RunState(vocab=rule_set.vocab, pool_name=pool.name, code_version=__version__, columns=tuple(pool.columns))
    index = SourceIndex(rule_set)
    columns = {name: i for i, name in enumerate(pool.columns)}
    seen: set[str] = set()
    found = []
    for values, line in zip(pool.rows, pool.lines, strict=True):
        row = Row(values, columns, line)
        filename = row.filename
        if filename in seen or not outcomes.is_orphan(filename):
            continue
        seen.add(filename)
        reason = _reason(row, rule_set, result, outcomes, discover, options, run, index)
        found.append(Orphan(pool.name, filename, line, row.get("exp_type") or "", reason))
    return found


def _reason(row: Row, rule_set, result, outcomes: Outcomes, discover: bool, options, run, index) -> str:
    fates = outcomes.fates(row.filename)
    science = [fate for fate in fates if fate.exptype == "science"]
    if science:
        return _fates_text(science)
    views = passes_of(row, result, discover)
    if not views:
        wanted = ", ".join(options.ids or ())
        return f"in none of the candidates generated ({wanted})" if wanted else "in no candidate generated"
    exp_type = row.get("exp_type") or ""
    rules = [(rule, exp_type_specificity(rule, exp_type)) for rule in rule_set.rules]
    rules = [(rule, narrow) for rule, narrow in rules if narrow is not None]
    if not rules and not fates:
        return f"no rule takes exp_type {exp_type}"
    view = views[-1] if discover else views[0]  # discovery sees the row as the pool has it
    stops = [(rule.name, narrow, try_rule(rule, view, rule_set, run, index, lenient=True)) for rule, narrow in rules]
    failing = [entry for entry in stops if entry[2].reason is not None]
    if failing:
        # Closest: fewest selecting values that differ, then fewest other constraints
        # in the way, then the rule written most narrowly for this exposure type,
        # then the one that got furthest before it stopped.
        name, _, stop = min(failing, key=lambda e: (e[2].distance, e[1], -e[2].progress))
        reason = stop.reason
        assert reason is not None  # failing holds only attempts that stopped
        return f"nearest rule {name}: {reason.one_line()} [{place(reason.leading.pos)}]"
    held = {fate.rule for fate in fates}
    for name, _, stop in stops:
        if name not in held:
            return f"{name}: {accepted_text(stop)}"
    return _fates_text(fates)


def _fates_text(fates: list) -> str:
    """What happened to the associations that held the exposure, alike ones folded together."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for fate in fates:
        grouped.setdefault((fate.rule, fate.asn_type, fate.what), []).append(fate.asn_id)
    texts = []
    for (rule, asn_type, what), ids in grouped.items():
        if len(ids) > 1:
            what = "were " + what.removeprefix("was ") if what.startswith("was ") else what
            texts.append(f"its {rule} {asn_type} associations of {', '.join(ids)} {what}")
        else:
            texts.append(f"its {rule} {asn_type} association of {ids[0]} {what}")
    return "; ".join(texts)


def format_orphans(orphans: Iterable[Orphan], fmt: str = "tsv") -> str:
    """Tab-separated lines under a header (or a JSON list with ``fmt="json"``)."""
    orphans = list(orphans)
    if fmt == "json":
        return json.dumps([asdict(o) for o in orphans], indent=2) + "\n"
    lines = ["pool\tfilename\tline\texp_type\treason"]
    for orphan in orphans:
        reason = " ".join(orphan.reason.split())  # one line, whatever a message holds
        lines.append(f"{orphan.pool}\t{orphan.filename}\t{orphan.line}\t{orphan.exp_type}\t{reason}")
    return "\n".join(lines) + "\n"


def write_orphans(path: str | Path, orphans: Iterable[Orphan], *, option: str | None = None) -> Path:
    """Write the orphan list atomically: JSON for a .json path, tab-separated text otherwise."""
    from asnflow.fsutil import atomic_write_text

    path = Path(path)
    text = format_orphans(orphans, "json" if path.suffix.lower() == ".json" else "tsv")
    return atomic_write_text(path, text, option=option)
