"""Association files laid out straight from the associations (engine/documents.json_document).

Writing a run's files no longer makes each document's dict: the text and the
shape the schema check needs are made from the association itself. They
must be what asnfile makes from the dict, byte for byte, and a document the
shape check cannot vouch for must still get validate()'s verdict and words.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from asnflow.asnfile import shapes
from asnflow.asnfile.files import dumps, file_names, render, validate, write_folders
from asnflow.engine.documents import Documents, json_document, to_dict
from asnflow.engine.entries import Member, Product
from asnflow.engine.generate import Options, generate
from asnflow.engine.session import rule_set
from asnflow.errors import AssociationFileError
from asnflow.pool.read import read_pool

POOLS = Path(__file__).parent / "data" / "compat" / "pools"


@pytest.fixture(scope="module")
def corpus_associations():
    """Every association of every corpus pool, invalid ones too."""
    rules = rule_set()
    return [generate(read_pool(path), rules, Options(finalize=False)).associations
            + generate(read_pool(path), rules, Options()).associations
            for path in sorted(POOLS.glob("*.csv"))]


@pytest.fixture(scope="module")
def mixed_pool():
    """A pool whose files are of level 2 and level 3."""
    return read_pool(POOLS / "pool_001_candidates.csv")


def _same_as_from_the_dict(asn) -> None:
    text, shape = json_document(asn)
    document = to_dict(asn)
    assert text == dumps(document)
    assert shape == shapes.shape(document)


def test_every_corpus_association_is_laid_out_as_its_document_is_written(corpus_associations):
    count = 0
    for associations in corpus_associations:
        for asn in associations:
            _same_as_from_the_dict(asn)
            count += 1
    assert count > 2000
    levels = {asn.level for associations in corpus_associations for asn in associations}
    assert levels >= {"2b", "3"}


@pytest.mark.parametrize("change", [
    "version_id", "target None", "program int", "exposerr None", "catalog member", "empty member",
    "non-ascii", "nested value", "product name None", "no members", "no products", "two products",
])
def test_unusual_values_are_laid_out_as_the_dict_is_written(corpus_associations, change):
    level2 = next(a for associations in corpus_associations for a in associations if a.level != "3")
    level3 = next(a for associations in corpus_associations for a in associations if a.level == "3")
    for original in (level2, level3):
        asn = original.clone()
        member = asn.products[0].members[0]
        if change == "version_id":
            asn.version_id = "20250101t000000"
        elif change == "target None":
            asn.target_raw = None
        elif change == "program int":
            asn.program = 1234
        elif change == "exposerr None":
            member.exposerr = None
        elif change == "catalog member":
            asn.products[0].members.append(Member({"expname": "jw01234-o001_cat.ecsv", "exptype": "sourcecat"}))
        elif change == "empty member":
            asn.products[0].members.append(Member({}))
        elif change == "non-ascii":
            member.expname = "jw01234001001_01101_00001_nrca1_\u00e9\u20ac_rate.fits"
        elif change == "nested value":
            member.exposerr = {"flags": [1, "two", None, {}], "empty": []}
        elif change == "product name None":
            asn.products[0].name = None
        elif change == "no members":
            asn.products[0].members.clear()
        elif change == "no products":
            asn.products.clear()
        elif change == "two products":
            asn.products.append(Product("second", [member.copy_member()]))
        _same_as_from_the_dict(asn)


def test_files_written_from_the_documents_equal_those_written_from_their_dicts(mixed_pool, tmp_path):
    documents = Documents(generate(mixed_pool, rule_set(), Options()).associations)
    dicts = list(documents)
    assert {d["asn_type"][-1] for d in dicts} == {"2", "3"}
    write_folders([(documents, tmp_path / "direct"), (dicts, tmp_path / "dicts")])
    names = file_names(documents)
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "direct", tmp_path / "dicts", names, shallow=False)
    assert (len(match), mismatch, errors) == (len(names), [], [])
    assert render(documents) == render(dicts)


def test_a_document_the_shape_check_refuses_gets_validates_error_every_time(corpus_associations):
    asn = next(a for associations in corpus_associations for a in associations if a.level != "3" and a.is_valid)
    asn = asn.clone()
    asn.products[0].members[0].exptype = 7  # the schema wants a string
    documents = Documents([asn])
    [name] = file_names(documents)
    with pytest.raises(AssociationFileError) as expected:
        validate(to_dict(asn), source=name)
    for _ in range(2):  # the refused shape is not remembered as valid
        with pytest.raises(AssociationFileError) as raised:
            documents.json_payload(0, name)
        assert str(raised.value) == str(expected.value)
        assert name in str(raised.value) and "exptype" in str(raised.value)
