"""The shape check that spares jsonschema for documents of a shape already known valid."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_asnfile import corpus_files, small_level3

from asnflow.asnfile import files as asnfile
from asnflow.asnfile import shapes

LEVELS = ("level2b", "level3")


def schema(level: str) -> dict:
    return asnfile._schema(level)


def jsonschema_says_valid(level: str, document) -> bool:
    return jsonschema.Draft4Validator(schema(level)).is_valid(document)


def test_the_shipped_schemas_are_structural_and_valid_draft4():
    for level in LEVELS:
        jsonschema.Draft4Validator.check_schema(schema(level))
        assert shapes.is_structural(schema(level))


def test_every_corpus_file_is_known_valid_by_its_shape_alone(compat_dir):
    files = corpus_files(compat_dir)
    assert len(files) > 1000
    for path in files:
        document = json.loads(path.read_text(encoding="utf-8"))
        level = asnfile.schema_level(document)
        assert shapes.surely_valid(schema(level), shapes.shape(document)), path.name


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False, width=16),
                         st.sampled_from(["", "x", "science", "o001"]))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["name", "members", "expname", "exptype", "target", "x"]), inner, max_size=3)),
    max_leaves=8)
KEY_PATHS = [(), ("products",), ("products", 0), ("products", 0, "members"), ("products", 0, "members", 0),
             ("products", 0, "members", 1)]
KEYS = ["asn_type", "asn_id", "target", "products", "name", "members", "expname", "exptype", "group_id", "extra"]


def _mutated(base: dict, where: tuple, key: str, value, remove: bool) -> dict:
    document = copy.deepcopy(base)
    node = document
    for step in where:
        node = node[step]
    if isinstance(node, dict):
        if remove:
            node.pop(key, None)
        else:
            node[key] = value
    elif isinstance(node, list):
        node.append(value)
    return document


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(KEY_PATHS), st.sampled_from(KEYS), json_values, st.booleans(), st.sampled_from(LEVELS))
def test_a_shape_called_valid_is_valid_to_jsonschema(where, key, value, remove, level):
    """The shape check may say "cannot tell" where jsonschema says valid, never "valid" where it does not."""
    document = _mutated(small_level3(), where, key, value, remove)
    if shapes.surely_valid(schema(level), shapes.shape(document)):
        assert jsonschema_says_valid(level, document)


@pytest.mark.parametrize("value", [True, 1.0, 1, None, "s", [], {}])
@pytest.mark.parametrize("expected", ["string", "integer", "number", "boolean", "null", "array", "object"])
def test_each_json_type_is_told_as_draft4_tells_it(value, expected):
    one = {"type": expected}
    if shapes.surely_valid(one, shapes.shape(value)):
        assert jsonschema.Draft4Validator(one).is_valid(value)
    elif not isinstance(value, float):  # a float where an integer is asked: left to jsonschema
        assert not jsonschema.Draft4Validator(one).is_valid(value)


def test_references_outside_the_schema_are_left_to_jsonschema():
    assert not shapes.surely_valid({"$ref": "http://example.com/schema"}, shapes.shape({}))
    assert not shapes.surely_valid({"$ref": "#/definitions/missing"}, shapes.shape({}))
    assert shapes.surely_valid({"definitions": {"a": {"type": "object"}}, "$ref": "#/definitions/a"},
                               shapes.shape({}))


def test_generating_files_does_not_load_jsonschema_or_pyyaml(tmp_path: Path):
    """Valid documents never need jsonschema, JSON output never needs PyYAML's dumper: both stay unloaded.
    PyYAML itself reads rules.yaml once; later runs find its data in the cache (see test_config_cache)."""
    pool = Path(__file__).parent / "data" / "compat" / "pools" / "pool_001_candidates.csv"
    script = (
        "import sys\n"
        "from asnflow.cli import main\n"
        f"status = main(['generate', {str(pool)!r}, '-p', {str(tmp_path / 'out')!r}, '-q'])\n"
        "print(status, 'jsonschema' in sys.modules, 'asnflow.asnfile.yaml_text' in sys.modules, 'yaml' in sys.modules)\n"
    )
    env = dict(os.environ, ASNFLOW_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True,
                           env=env).stdout.split() for _ in range(2)]
    assert runs == [["0", "False", "False", "True"], ["0", "False", "False", "False"]]
    assert list((tmp_path / "out").glob("*_asn.json"))
