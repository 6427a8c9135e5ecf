"""Candidate passes share their rules' roots; each still looks for its own candidate."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from asnflow.engine import passes
from asnflow.engine.generate import CANDIDATE_REGISTRY, Options, generate
from asnflow.engine.session import rule_set
from asnflow.pool.read import read_pool

POOLS = Path(__file__).parent / "data" / "compat" / "pools"


def test_a_pool_with_hundreds_of_candidates_builds_each_rules_candidate_constraint_once(monkeypatch):
    built: list[str] = []
    made = passes.candidate_test

    def counted(rule):
        built.append(rule.name)
        return made(rule)

    monkeypatch.setattr(passes, "candidate_test", counted)
    rules = rule_set()
    result = generate(read_pool(POOLS / "mega_pool.csv"), rules)
    assert len(result.candidates) > 100
    assert sorted(built) == sorted(rule.name for rule in rules.rules)


def test_every_candidate_association_is_named_for_the_candidate_of_its_pass():
    result = generate(read_pool(POOLS / "mega_pool.csv"), rule_set(), Options(keep_duplicates=True))
    made = [asn for asn in result.associations if asn.registry == CANDIDATE_REGISTRY]
    assert len({asn.pass_candidate for asn in made}) > 100
    assert all(asn.acid.id == asn.pass_candidate for asn in made)


def test_a_pool_made_without_the_reader_has_its_candidate_ids_matched_as_text():
    """The reader refuses ids jwst would read as patterns; a pool built another way reaches the
    engine with one, and its id is then looked for as written (jwst's "^" here never matches)."""
    pool = read_pool(POOLS / "cover_imgbkg_pool.csv")
    at = pool.index("asn_candidate")
    odd = "o^1"
    rows = tuple(row[:at] + (row[at].replace("'o001'", f"'{odd}'"),) + row[at + 1:] for row in pool.rows)
    assert any(odd in row[at] for row in rows)
    result = generate(dataclasses.replace(pool, rows=rows), rule_set())
    assert (odd, "observation") in result.candidates
    assert any(asn.acid.id == odd for asn in result.associations)


def test_the_candidate_pattern_is_the_id_as_text():
    assert passes._candidate_pattern("o001") == ".+(o001).+"
    assert passes._candidate_pattern("(.*.*.*)+x") == r".+(\(\.\*\.\*\.\*\)\+x).+"
