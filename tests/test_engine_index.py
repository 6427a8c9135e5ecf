"""The pass's association index: lookups kept per combination of cells give what working them out gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from asnflow.asnfile.files import dumps
from asnflow.engine import index
from asnflow.engine.generate import Options
from asnflow.engine.session import generate_documents, rule_set
from asnflow.pool.read import read_pool

POOLS = Path(__file__).parent / "data" / "compat" / "pools"
ALL_POOLS = sorted(POOLS.glob("*.csv"))


def _files(pool: Path, options: Options = Options()) -> dict[str, str]:
    outcome = generate_documents(read_pool(pool), rule_set(), options)
    return {name: dumps(document) for name, document in zip(outcome.names("json"), outcome.documents, strict=True)}


@pytest.fixture(scope="module")
def kept_files() -> dict[str, dict[str, str]]:
    return {pool.name: _files(pool) for pool in ALL_POOLS}


def test_the_corpus_has_pools_to_compare():
    assert len(ALL_POOLS) >= 40


@pytest.mark.parametrize("kept", [0, 1], ids=["nothing kept", "one kept"])
@pytest.mark.parametrize("pool", ALL_POOLS, ids=lambda path: path.stem)
def test_keeping_lookups_changes_no_file(pool, kept, kept_files, monkeypatch):
    """With no lookup kept every exposure's keys are worked out at each offer (what the index did
    before it kept them); with one, the table is full at once and only its one plan is extended."""
    monkeypatch.setattr(index, "PLANS_KEPT", kept)
    assert _files(pool) == kept_files[pool.name]


def test_exposures_with_the_same_cells_share_one_lookup(monkeypatch):
    """The mega pool's exposures are offered thousands of times; far fewer lookups are made."""
    made: list[int] = []
    plan = index.AssociationIndex._lookups_for

    def counted(self, row, allowed, some_rules):
        before = len(self._plans)
        found = plan(self, row, allowed, some_rules)
        made.append(len(self._plans) - before)
        return found

    monkeypatch.setattr(index.AssociationIndex, "_lookups_for", counted)
    _files(POOLS / "mega_pool.csv")
    assert len(made) > 1000
    assert 0 < sum(made) < len(made) / 2


def test_a_shape_reading_new_cells_drops_the_lookups_made_without_them(monkeypatch):
    """A plan is named by the cells the shapes read so far; when a shape reads another cell, plans
    named without it could be shared by exposures that differ there, so they go."""
    cleared: list[tuple[int, int]] = []
    read_cells_of = index.AssociationIndex._read_cells_of

    def watched(self, shape):
        before_columns, before_plans = len(self._signature_columns), len(self._plans)
        read_cells_of(self, shape)
        if len(self._signature_columns) > before_columns:
            assert not self._plans
            cleared.append((before_columns, before_plans))

    monkeypatch.setattr(index.AssociationIndex, "_read_cells_of", watched)
    _files(POOLS / "mega_pool.csv")
    assert any(plans for _, plans in cleared), "no pass met a new shape after making plans"
