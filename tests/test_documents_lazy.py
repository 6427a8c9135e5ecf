"""A run's documents are made from its associations one at a time, when asked for (engine/documents.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from asnflow.asnfile.files import dumps, file_names, write_folders
from asnflow.engine import documents as documents_module
from asnflow.engine.documents import Documents, to_dict
from asnflow.engine.generate import Options, generate
from asnflow.engine.session import rule_set
from asnflow.pool.read import read_pool

POOLS = Path(__file__).parent / "data" / "compat" / "pools"


@pytest.fixture(scope="module")
def associations():
    return generate(read_pool(POOLS / "pool_001_candidates.csv"), rule_set(), Options()).associations


def test_each_document_is_that_of_its_association_in_order(associations):
    documents = Documents(associations)
    valid = [asn for asn in associations if asn.is_valid]
    assert len(documents) == len(valid) > 10
    for asn, document in zip(valid, documents, strict=True):
        assert document == to_dict(asn)
        assert document.name == asn.file_stem()
    assert documents.stems == [asn.file_stem() for asn in valid]
    assert documents.kinds() == [(d["asn_type"], d.rule) for d in documents]
    assert documents[1:3] == [documents[1], documents[2]]
    assert documents[0] is not documents[0]  # made anew, never kept


def test_invalid_associations_are_skipped_and_a_name_made_twice_keeps_the_later(associations, caplog):
    first = associations[0]
    again = first.clone()
    again.degraded = not first.degraded  # the same file name, another content
    invalid = associations[1].clone()
    invalid.failing = (*invalid.failing, "forced")
    with caplog.at_level(logging.INFO, logger="asnflow.write"):
        documents = Documents([*associations, invalid, again])
    assert first.file_stem() == again.file_stem()
    assert documents.stems.count(first.file_stem()) == 1
    assert documents.stems[-1] == first.file_stem()  # where the later one came
    assert documents[-1]["degraded_status"] != to_dict(first)["degraded_status"]
    assert len(documents) == sum(asn.is_valid for asn in associations)
    assert "is generated twice" in caplog.text and "not writing" in caplog.text


def test_writing_lays_out_files_without_making_the_documents(associations, tmp_path, monkeypatch):
    made = []

    def counted(asn, *args):
        made.append(asn)
        return to_dict(asn, *args)

    monkeypatch.setattr(documents_module, "to_dict", counted)
    documents = Documents(associations)
    names = file_names(documents)
    assert not made
    [report] = write_folders([(documents, tmp_path / "out")])
    assert not made  # valid shapes: the files are laid out from the associations (json_document)
    assert [path.name for path in report.paths] == names
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(names)
    monkeypatch.undo()
    for name, asn in zip(names, documents._asns, strict=True):
        assert (tmp_path / "out" / name).read_text() == dumps(to_dict(asn))
