"""The syntax tree's records (assoc_rules/node.py) behave as the frozen dataclasses they replace."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asnflow.assoc_rules import ast
from asnflow.assoc_rules.node import FrozenNodeError, Node, fields, replace


class Marker:
    """A plain mixin, as ``ast.Expr`` is: its annotations are not fields."""

    pos: int


class Plain(Marker, Node):
    name: str
    count: int
    pos: int


class WithDefaults(Node, hidden=("text",)):
    key: str
    text: str = ""
    extra: tuple = ()


@dataclasses.dataclass(frozen=True)
class PlainDataclass:
    name: str
    count: int
    pos: int


def test_fields_are_the_annotations_in_order_and_a_mixin_adds_none():
    assert fields(Plain) == ("name", "count", "pos")
    assert fields(WithDefaults("k")) == ("key", "text", "extra")


def test_construction_by_position_name_and_default():
    assert Plain("a", 1, 2) == Plain(name="a", count=1, pos=2) == Plain("a", pos=2, count=1)
    node = WithDefaults("k", extra=(1,))
    assert (node.key, node.text, node.extra) == ("k", "", (1,))


@pytest.mark.parametrize("build, message", [
    (lambda: Plain("a", 1), "missing the field 'pos'"),
    (lambda: Plain("a", 1, 2, 3), "takes 3 arguments, 4 given"),
    (lambda: Plain("a", 1, 2, colour=3), "'colour' is not a field"),
    (lambda: Plain("a", 1, 2, name="b"), "'name' was given twice"),
])
def test_wrong_arguments_are_refused(build, message):
    with pytest.raises(TypeError, match=message):
        build()


def test_a_required_field_after_a_default_is_refused_when_the_class_is_made():
    with pytest.raises(TypeError, match="'late' without a default"):
        class Wrong(Node):  # noqa: F841 - made only to be refused
            early: int = 0
            late: int


def test_nodes_cannot_be_changed():
    node = Plain("a", 1, 2)
    with pytest.raises(FrozenNodeError):
        node.name = "b"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del node.count  # type: ignore[misc]
    assert node == Plain("a", 1, 2)


def test_equality_needs_the_same_type():
    assert ast.Str("x", ast.Pos("f", 1, 1)) != ast.Ref("x", ast.Pos("f", 1, 1))
    assert Plain("a", 1, 2) != ("a", 1, 2)


def test_replace_and_copies():
    node = WithDefaults("k", "t")
    assert replace(node, text="u") == WithDefaults("k", "u")
    assert node.text == "t"
    with pytest.raises(TypeError, match="no field 'colour'"):
        replace(node, colour=1)
    assert copy.deepcopy(node) == node
    assert pickle.loads(pickle.dumps(node)) == node


def test_repr_names_the_fields_it_shows():
    assert repr(WithDefaults("k", "long text")) == "WithDefaults(key='k', extra=())"


@given(st.text(max_size=5), st.integers(), st.integers(), st.text(max_size=5), st.integers(), st.integers())
def test_equal_hash_and_repr_as_a_frozen_dataclass(name1, count1, pos1, name2, count2, pos2):
    nodes = Plain(name1, count1, pos1), Plain(name2, count2, pos2)
    classic = PlainDataclass(name1, count1, pos1), PlainDataclass(name2, count2, pos2)
    assert (nodes[0] == nodes[1]) == (classic[0] == classic[1])
    assert hash(nodes[0]) == hash(classic[0])
    assert repr(nodes[0]).replace("Plain(", "PlainDataclass(", 1) == repr(classic[0])


def test_every_syntax_tree_class_is_a_node_with_a_position():
    classes = [cls for cls in vars(ast).values() if isinstance(cls, type) and issubclass(cls, Node)
               and cls.__module__ == ast.__name__]
    assert len(classes) == 34
    for cls in classes:
        assert "pos" in fields(cls) or cls in (ast.Pos, ast.RuleFile), cls


def test_a_cached_rule_file_reads_back_as_the_tree_the_parser_made(tmp_path, monkeypatch):
    from asnflow.assoc_rules import cache
    from asnflow.assoc_rules.parse import parse_file
    from asnflow.config import load_config

    monkeypatch.setenv("ASNFLOW_CACHE_DIR", str(tmp_path / "cache"))
    config = load_config()
    paths = sorted({*config.definition_files, *config.rule_files})
    for path in paths:
        cache.parsed_file(path)  # parsed and written to the cache
    assert len(list((tmp_path / "cache").glob("rules-*.json"))) == len(paths)

    def no_parsing(path):
        raise AssertionError(f"{path} was parsed again, not read from the cache")

    monkeypatch.setattr(cache, "_parse", no_parsing)
    for path in paths:
        fresh = parse_file(path)
        cached = cache.parsed_file(path)
        assert cached == fresh
        assert cached.lines == fresh.lines and repr(cached) == repr(fresh)
