"""What a rule change does to a set of pools: ``asnflow rules impact``.

Each pool is generated twice, with the default rules and with the default
rules plus the user's rule files (as ``generate -r`` loads them), and the two
results are compared by meaning (:mod:`asnflow.asnfile.compare`). Pools are
independent, so they run in parallel processes.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from asnflow.asnfile.compare import Comparison, compare

KINDS = ("added", "removed", "renamed", "changed")


@dataclass(frozen=True)
class PoolImpact:
    pool: str
    comparison: Comparison
    before: int  # associations with the default rules
    after: int  # associations with the user's rules


@dataclass
class Impact:
    pools: list[PoolImpact] = field(default_factory=list)

    @property
    def affected(self) -> list[PoolImpact]:
        return [p for p in self.pools if not p.comparison.equal]

    def per_rule(self) -> dict[str, dict[str, int]]:
        totals: dict[str, dict[str, int]] = {}
        for pool in self.pools:
            for rule, counts in pool.comparison.rules.items():
                into = totals.setdefault(rule, dict.fromkeys(KINDS, 0))
                for kind in KINDS:
                    into[kind] += counts[kind]
        return dict(sorted(totals.items()))

    def lines(self) -> list[str]:
        out: list[str] = []
        for pool in self.pools:
            if pool.comparison.equal:
                out.append(f"{pool.pool}: no change ({pool.before} associations)")
                continue
            out.append(f"{pool.pool}: {pool.comparison.counts()} ({pool.before} -> {pool.after} associations)")
            out += [f"  {line}" for line in pool.comparison.lines()]
        out.append(f"{len(self.affected)} of {len(self.pools)} pools affected")
        for rule, counts in self.per_rule().items():
            out.append(f"  {rule}: " + ", ".join(f"{counts[k]} {k}" for k in KINDS))
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "pools": [
                {"pool": p.pool, "before": p.before, "after": p.after, **p.comparison.as_json()} for p in self.pools
            ],
            "affected": len(self.affected),
            "rules": self.per_rule(),
        }


@functools.cache
def _rule_sets(rule_files: tuple[str, ...], ignore_default: bool) -> tuple[Any, Any]:
    from asnflow.engine.session import rule_set

    return rule_set([]), rule_set(list(rule_files), ignore_default)


def pool_impact(pool_path: str, rule_files: tuple[str, ...], ignore_default: bool = False) -> PoolImpact:
    """Generate one pool with both rule sets and compare (runs in a worker process)."""
    from asnflow.engine.generate import Options
    from asnflow.engine.session import generate_documents
    from asnflow.pool.read import read_pool

    default_rules, user_rules = _rule_sets(rule_files, ignore_default)
    pool = read_pool(pool_path)
    before = generate_documents(pool, default_rules, Options()).documents
    after = generate_documents(pool, user_rules, Options()).documents
    comparison = compare({d.name: d for d in before}, {d.name: d for d in after})
    return PoolImpact(os.path.basename(pool_path), comparison, len(before), len(after))


def rules_impact(
    pools: Sequence[str], rule_files: Sequence[str], *, ignore_default: bool = False, jobs: int = 1
) -> Impact:
    """The impact of ``rule_files`` on every pool, in the order given."""
    rule_files = tuple(str(f) for f in rule_files)
    _rule_sets(rule_files, ignore_default)  # a broken rule file is reported once, here, before any pool
    if jobs <= 1 or len(pools) <= 1:
        return Impact([pool_impact(p, rule_files, ignore_default) for p in pools])
    with ProcessPoolExecutor(max_workers=min(jobs, len(pools))) as executor:
        results = executor.map(pool_impact, pools, [rule_files] * len(pools), [ignore_default] * len(pools))
        return Impact(list(results))
