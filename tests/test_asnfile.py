"""Association file I/O: byte parity with jwst's JSON, YAML round trips, schema refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asnflow.asnfile import files as asnfile
from asnflow.errors import AsnflowError, AssociationFileError


def corpus_files(compat_dir: Path) -> list[Path]:
    return sorted((compat_dir / "expected").glob("*/*_asn.json"))


def small_level3() -> dict:
    return {
        "asn_type": "image3",
        "asn_rule": "candidate_Asn_Lv3Image",
        "version_id": None,
        "code_version": "0.1.0",
        "degraded_status": "No known degraded exposures in association.",
        "program": "00009",
        "constraints": "first line\nsecond line",
        "asn_id": "o001",
        "target": "t001",
        "asn_pool": "pool.csv",
        "products": [
            {
                "name": "jw00009-o001_t001_miri_f560w",
                "members": [
                    {"expname": "jw00009001001_02101_00001_mirimage_cal.fits", "exptype": "science"},
                    {"expname": "jw00009001001_02101_00002_mirimage_cal.fits", "exptype": "science", "group_id": 3},
                ],
            }
        ],
    }


# ------------------------------------------------------------------ parity with jwst


def test_load_then_dumps_gives_back_every_corpus_file_byte_for_byte(compat_dir):
    files = corpus_files(compat_dir)
    assert len(files) > 1000
    for path in files:
        assert asnfile.dumps(asnfile.load(path)) == path.read_text(encoding="utf-8"), path.name


def test_corpus_files_pick_the_schema_of_their_level(compat_dir):
    levels = {}
    for path in corpus_files(compat_dir):
        asn = asnfile.load(path)
        levels.setdefault(asn["asn_type"], set()).add(asnfile.schema_level(asn))
    assert levels["image2"] == {"level2b"}
    assert levels["spec2"] == {"level2b"}
    assert levels["image3"] == {"level3"}
    assert levels["spec3"] == {"level3"}
    assert all(len(found) == 1 for found in levels.values())


def test_dumps_json_has_no_trailing_newline_and_keeps_key_order():
    text = asnfile.dumps(small_level3())
    assert not text.endswith("\n")
    assert list(json.loads(text)) == list(small_level3())
    assert '"version_id": null,\n' in text


# ------------------------------------------------------------------------------ YAML


def test_yaml_round_trip_of_every_corpus_file(compat_dir):
    for path in corpus_files(compat_dir)[::7]:
        asn = asnfile.load(path)
        assert asnfile.loads(asnfile.dumps(asn, "yaml")) == asn, path.name


def test_yaml_is_block_style_in_insertion_order_with_literal_multiline_strings():
    text = asnfile.dumps(small_level3(), "yaml")
    lines = text.splitlines()
    assert lines[0] == "asn_type: image3"
    assert "constraints: |-" in lines
    assert "program: '00009'" in lines  # quoted so it stays a string
    assert "version_id: null" in lines
    assert asnfile.loads(text) == small_level3()


def test_yaml_dump_accepts_dict_subclasses_with_a_name():
    class Named(dict):
        name = "jw00009-o001_image3_00001_asn"

    asn = Named(small_level3())
    assert asnfile.loads(asnfile.dumps(asn, "yaml")) == small_level3()


scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30))
member = st.fixed_dictionaries(
    {"expname": st.text(min_size=1, max_size=40), "exptype": st.sampled_from(["science", "background", "imprint"])},
    optional={"group_id": st.one_of(st.none(), st.integers(), st.text(max_size=10)), "note": scalar},
)
association = st.fixed_dictionaries(
    {
        "asn_type": st.sampled_from(["image2", "spec3", "None"]),
        "constraints": st.text(max_size=80),
        "products": st.lists(
            st.fixed_dictionaries({"name": st.text(max_size=30), "members": st.lists(member, max_size=4)}),
            max_size=3,
        ),
    },
    optional={"extra": st.dictionaries(st.text(max_size=8), scalar, max_size=3)},
)


@settings(max_examples=150, deadline=None)
@given(association)
def test_load_of_dumped_yaml_and_json_is_the_same_mapping(asn):
    assert asnfile.loads(asnfile.dumps(asn, "yaml")) == asn
    assert asnfile.loads(asnfile.dumps(asn, "json")) == asn


def test_yaml_file_is_read_by_load(tmp_path):
    path = tmp_path / "a_asn.yaml"
    path.write_text(asnfile.dumps(small_level3(), "yaml"), encoding="utf-8")
    assert asnfile.load(path) == small_level3()


# ----------------------------------------------------------------- refusals and errors


@pytest.mark.parametrize(
    ("change", "where", "what"),
    [
        (lambda a: a.pop("products"), "at $:", "missing required key 'products'"),
        (lambda a: a["products"][0].pop("members"), "at $.products[0]:", "missing required key 'members'"),
        (lambda a: a["products"][0]["members"][1].pop("exptype"), "at $.products[0].members[1]:", "'exptype'"),
        (lambda a: a["products"][0]["members"][0].update(expname=7), "members[0].expname:", "expected string"),
        (lambda a: a.update(target=1), "at $.target:", "expected string, found integer 1"),
        (lambda a: a.update(products={}), "at $.products:", "expected array, found object"),
        (lambda a: a["products"][0]["members"].append("x_cal.fits"), "members[2]:", "expected object"),
    ],
)
def test_schema_refusals_name_the_file_and_json_path(tmp_path, change, where, what):
    asn = small_level3()
    change(asn)
    path = tmp_path / "bad_asn.json"
    path.write_text(json.dumps(asn, indent=4), encoding="utf-8")
    with pytest.raises(AssociationFileError) as caught:
        asnfile.load(path)
    line = caught.value.one_line()
    assert line.startswith(f"{path}: error: not a valid level3 association")
    assert where in line
    assert what in line
    assert "\n" not in line


def test_level2_schema_allows_a_raw_target_that_level3_refuses():
    asn = small_level3()
    asn["target"] = 1
    with pytest.raises(AssociationFileError):
        asnfile.validate(asn)
    asn["asn_type"] = "image2"
    asnfile.validate(asn)


def test_trailing_comma_is_a_json_error_with_line_and_column(tmp_path):
    path = tmp_path / "comma_asn.json"
    text = asnfile.dumps(small_level3()).replace('"t001",', '"t001",,', 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AssociationFileError) as caught:
        asnfile.load(path)
    expected_line = next(i for i, line in enumerate(text.splitlines(), 1) if ",," in line)
    assert caught.value.line == expected_line
    assert caught.value.column is not None
    assert caught.value.one_line().startswith(f"{path}:{expected_line}:")
    assert "not valid JSON" in caught.value.one_line()


def test_yaml_syntax_error_has_a_line(tmp_path):
    path = tmp_path / "broken_asn.yaml"
    path.write_text("products:\n  - name: x\n    members: [\n", encoding="utf-8")
    with pytest.raises(AssociationFileError) as caught:
        asnfile.load(path)
    assert caught.value.path == str(path)
    assert caught.value.line is not None


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "empty"), ("just text", "not valid JSON: Expecting value"), ("[1, 2]", "mapping"),
     (b"\xff\xfe\x00", "UTF-8")],
)
def test_not_an_association(tmp_path, content, message):
    path = tmp_path / "x.json"  # a .json name: read as JSON whatever the text starts with
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(AssociationFileError, match=message):
        asnfile.load(path)
    yaml_path = tmp_path / "x.yaml"  # the same text in a .yaml file is YAML: a string, not a mapping
    if content == "just text":
        yaml_path.write_text(content, encoding="utf-8")
        with pytest.raises(AssociationFileError, match="mapping"):
            asnfile.load(yaml_path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(AssociationFileError, match="not found") as caught:
        asnfile.load(tmp_path / "nope.json")
    assert caught.value.path == str(tmp_path / "nope.json")
    with pytest.raises(AssociationFileError, match="folder"):
        asnfile.load(tmp_path)


# ------------------------------------------------------------------------------ write


def test_write_names_from_content_counting_per_acid_and_type(tmp_path):
    first, second, other = small_level3(), small_level3(), small_level3()
    other["asn_id"] = "c1000"
    paths = asnfile.write([first, second, other], tmp_path / "out")
    assert [p.name for p in paths] == [
        "jw00009-o001_image3_00001_asn.json",
        "jw00009-o001_image3_00002_asn.json",
        "jw00009-c1000_image3_00001_asn.json",
    ]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)
    assert asnfile.load(paths[2]) == other


def test_a_write_report_names_its_paths_without_holding_them(tmp_path):
    documents = [small_level3(), small_level3(), small_level3()]
    report = asnfile.write_changes(documents, tmp_path / "out")
    paths = report.paths
    assert len(paths) == 3 and list(paths) == [tmp_path / "out" / name for name in report.names]
    assert paths[-1] == tmp_path / "out" / report.names[2] and paths[1:] == list(paths)[1:]
    assert all(path.is_file() for path in paths)
    with pytest.raises(IndexError):
        paths[3]
    assert type(asnfile.write(documents, tmp_path / "again")) is list  # the API's list of paths


def test_write_uses_the_name_attribute_and_yaml_extension(tmp_path):
    class Named(dict):
        name = "jw99009-o001_image3_00007_asn"

    paths = asnfile.write([Named(small_level3())], tmp_path, fmt="yaml")
    assert [p.name for p in paths] == ["jw99009-o001_image3_00007_asn.yaml"]
    assert asnfile.load(paths[0]) == small_level3()


def test_write_with_a_version_stamp_uses_jwst_stamped_name(tmp_path):
    asn = small_level3()
    asn["version_id"] = "20250316T033413"
    (path,) = asnfile.write([asn], tmp_path)
    assert path.name == "jw00009-o001_20250316t033413_image3_00001_asn.json"


def test_write_is_all_or_nothing(tmp_path):
    good, bad = small_level3(), small_level3()
    bad["asn_id"] = "o002"
    del bad["products"][0]["members"][0]["exptype"]
    with pytest.raises(AssociationFileError, match=r"jw00009-o002_image3_00001_asn\.json"):
        asnfile.write([good, bad], tmp_path / "out")
    assert not any((tmp_path / "out").iterdir()) if (tmp_path / "out").exists() else True


def test_write_refuses_duplicate_and_unsafe_names(tmp_path):
    class Named(dict):
        def __init__(self, data, name):
            super().__init__(data)
            self.name = name

    with pytest.raises(AsnflowError, match="same file"):
        asnfile.write([Named(small_level3(), "a_asn"), Named(small_level3(), "a_asn")], tmp_path)
    with pytest.raises(AsnflowError, match="plain file name"):
        asnfile.write([Named(small_level3(), "../escape_asn")], tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unknown_format_is_refused():
    with pytest.raises(AsnflowError, match="unknown association file format"):
        asnfile.dumps(small_level3(), "toml")


class _Entry(dict):
    """A dict subclass, as association members are."""


_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                          st.text(max_size=12))
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
        st.dictionaries(st.text(max_size=8), inner, max_size=4).map(_Entry),
        # keys JSON writes as strings, after a string key the writer may know already
        st.dictionaries(st.sampled_from(["expname", "1"]) | st.integers(-2, 2) | st.booleans() | st.none(), inner,
                        max_size=4),
    ),
    max_leaves=24,
)


@settings(max_examples=300, deadline=None)
@given(_json_values)
def test_json_text_is_byte_for_byte_what_the_standard_library_writes(value):
    """The fast JSON writer (strings encoded in place, dicts told apart before mappings) against
    ``json.dumps`` with jwst's layout, on any nesting of scalars, lists, dicts and dict subclasses."""
    assert asnfile.dumps(value) == json.dumps(value, indent=4, separators=(",", ": "))


def test_the_encoded_keys_kept_stay_few(monkeypatch):
    from asnflow.asnfile import files

    monkeypatch.setattr(files, "_ENCODED_KEYS", {})
    monkeypatch.setattr(files, "ENCODED_KEYS_KEPT", 8)
    document = {f"key {n}\u00e9": [n, {"name": f"v{n}"}] for n in range(100)}
    assert asnfile.dumps(document) == json.dumps(document, indent=4, separators=(",", ": "))
    assert len(files._ENCODED_KEYS) == 8
    assert asnfile.dumps(document) == json.dumps(document, indent=4, separators=(",", ": "))  # kept ones reused
