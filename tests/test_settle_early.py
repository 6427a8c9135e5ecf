"""What is worked out as a pass ends (engine.finalize.settle_early) is what combining would work out.

A run with it and a run without must write the same documents under the same
names, whatever the generator options; and it must have been used.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from asnflow.engine import generate as generation
from asnflow.engine.generate import Options
from asnflow.engine.session import generate_documents, rule_set
from asnflow.pool.read import read_pool

POOLS = Path(__file__).parent / "data" / "compat" / "pools"
# Imaging, spectroscopy with finalize steps (WFSS, nods), TSO, duplicates, many candidates.
SOME = ["mega_pool.csv", "pool_004_wfs.csv", "pool_021_tso.csv", "pool_023_nirspec_msa_3nod.csv",
        "pool_duplicate.csv", "jw00632_dups.csv", "cover_nrcwfss_pool.csv", "pool_001_candidates.csv"]
OPTIONS = {"default": Options(), "no-finalize": Options(finalize=False), "keep duplicates": Options(keep_duplicates=True),
           "merge": Options(merge=True), "discover only": Options(discover=True)}


@pytest.fixture(scope="module")
def rules():
    return rule_set()


def _written(pool, rules, options):
    outcome = generate_documents(pool, rules, options)
    return list(outcome.documents.stems), list(outcome.documents)


@pytest.mark.parametrize("label", list(OPTIONS))
@pytest.mark.parametrize("name", SOME)
def test_the_same_documents_with_and_without_settling_early(rules, name, label, monkeypatch):
    pool = read_pool(POOLS / name)
    early = _written(pool, rules, OPTIONS[label])
    monkeypatch.setattr(generation, "settle_early", lambda asn, heads: None)
    assert _written(pool, rules, OPTIONS[label]) == early


def test_many_of_a_large_pools_associations_settle_early(rules, monkeypatch):
    """The comparisons above are not of two late runs: many of a large pool's associations settle early."""
    settled = []
    real = generation.settle_early

    def counting(asn, heads):
        real(asn, heads)
        settled.append(asn.settled is not None)

    monkeypatch.setattr(generation, "settle_early", counting)
    _written(read_pool(POOLS / "mega_pool.csv"), rules, Options())
    assert sum(settled) > len(settled) / 4  # 580 of its 1,369
