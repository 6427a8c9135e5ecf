"""The rule-file parser: the AST each construct gives, with positions, and its syntax errors.

Positions are 1-based ``line`` and ``column`` of the first character of the
construct; errors are :class:`RuleError` carrying the file, line and column.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from asnflow.assoc_rules import ast
from asnflow.assoc_rules.parse import parse_file, parse_text
from asnflow.config import load_config
from asnflow.errors import RuleError

PATH = "t.rules"


def P(line: int, column: int) -> ast.Pos:
    return ast.Pos(PATH, line, column)


def items(text: str) -> tuple:
    return parse_text(text, PATH).items


def one(text: str):
    (item,) = items(text)
    return item


def body(text: str) -> tuple:
    """The statements of ``fragment f { TEXT }`` (TEXT starts on line 2, column 5)."""
    return one("fragment f {\n" + "\n".join("    " + line for line in text.splitlines()) + "\n}\n").body


def expr(text: str) -> ast.Expr:
    """The expression of ``predicate p = TEXT`` (TEXT starts at column 15)."""
    return one(f"predicate p = {text}\n").expr


# ---------------------------------------------------------------- lists and tables


def test_list_words_names_and_strings():
    assert one('list acq = mir_tacq "two words" mir_lrs-fixedslit a.b+c 07\n') == ast.ListDef(
        "acq", ("mir_tacq", "two words", "mir_lrs-fixedslit", "a.b+c", "07"), (), P(1, 1))


def test_list_wrapped_in_parentheses_with_without():
    item = one("\n\nlist spec = (a b\n    c   # a comment inside\n    d without b\n    c)\n")
    assert item == ast.ListDef("spec", ("a", "b", "c", "d"), ("b", "c"), P(3, 1))


def test_list_without_outside_parentheses():
    assert one("list l = a b without a\n") == ast.ListDef("l", ("a", "b"), ("a",), P(1, 1))


def test_table_columns_rows_and_row_positions():
    item = one('table paths (grating, filter) {\n    prism  clear\n\n    g140h  "f100 lp"   # note\n}\n')
    assert item == ast.TableDef("paths", ("grating", "filter"), (("prism", "clear"), ("g140h", "f100 lp")),
                                (P(2, 5), P(4, 5)), P(1, 1))


def test_table_rows_may_have_any_width_until_compiled():
    item = one("table t (a, b) {\n    x\n    y z w\n}\n")
    assert item.rows == (("x",), ("y", "z", "w"))


def test_empty_table():
    assert one("table t (a) {\n}\n") == ast.TableDef("t", ("a",), (), (), P(1, 1))


# ---------------------------------------------------------------- expressions


def test_comparison_and_refs():
    assert expr('exp_type == "nrs_ifu"') == ast.Compare(
        "==", ast.Ref("exp_type", P(1, 15)), ast.Str("nrs_ifu", P(1, 27)), P(1, 15))
    assert expr("a != b").op == "!="


def test_precedence_not_and_or():
    found = expr('not a == "x" and b or c')
    assert isinstance(found, ast.Or)
    left, right = found.operands
    assert right == ast.Ref("c", P(1, 37))
    assert isinstance(left, ast.And)
    negated, b = left.operands
    assert b == ast.Ref("b", P(1, 32))
    assert isinstance(negated, ast.Not) and isinstance(negated.operand, ast.Compare)
    assert negated.pos == P(1, 15)


def test_chains_are_flat():
    assert len(expr("a or b or c or d").operands) == 4
    assert len(expr("a and b and c").operands) == 3


def test_parentheses_group():
    found = expr("a and (b or c)")
    assert isinstance(found, ast.And)
    assert isinstance(found.operands[1], ast.Or)


def test_membership_in_table_and_inline_sets():
    found = expr('(grating, filter) in paths')
    assert found == ast.Member(
        ast.Tuple((ast.Ref("grating", P(1, 16)), ast.Ref("filter", P(1, 25))), P(1, 15)),
        ast.TableRef("paths", P(1, 36)), False, P(1, 15))
    negated = expr('grating not in ("g395h", g235h,)')
    assert negated.negated is True
    assert negated.container == ast.InlineSet(("g395h", "g235h"), P(1, 30))


def test_tuple_with_strings():
    found = expr('("s200b1", grating) in t')
    assert found.operand.items == (ast.Str("s200b1", P(1, 16)), ast.Ref("grating", P(1, 26)))


def test_function_call():
    assert expr("present(detector, grating)") == ast.Call(
        "present", (ast.Ref("detector", P(1, 23)), ast.Ref("grating", P(1, 33))), P(1, 15))
    assert expr("present()") == ast.Call("present", (), P(1, 15))


def test_newlines_inside_parentheses_do_not_end_the_predicate():
    found, after = items('predicate p = (\n    a == "x"\n    or (b == "y"\n        and c)\n)\nlist after = z\n')
    assert after == ast.ListDef("after", ("z",), (), P(6, 1))  # the line end after `)` ends the predicate
    assert isinstance(found.expr, ast.Or)
    assert found.expr.operands[0].pos == P(2, 5)
    assert found.expr.operands[1].operands[1] == ast.Ref("c", P(4, 13))


def test_predicate_may_start_on_the_next_line():
    found = one('predicate p =\n    a == "x"\n')
    assert found.expr.pos == P(2, 5)


def test_backslash_continues_a_line():
    found = one('predicate p = a == "x" \\\n    or b\n')
    assert isinstance(found.expr, ast.Or)
    assert found.expr.operands[1] == ast.Ref("b", P(2, 8))


def test_newline_outside_parentheses_ends_the_statement():
    with pytest.raises(RuleError) as info:
        parse_text('predicate p = a ==\n    "x"\n', PATH)
    assert (info.value.path, info.value.line, info.value.column) == (PATH, 1, 19)


# ---------------------------------------------------------------- constraint statements


def test_pin_with_one_source_and_no_value():
    (leaf,) = body("pin program = program")
    assert leaf == ast.LeafStmt("pin", "program", ("program",), None, False, False, None, None, P(2, 5),
                                (P(2, 19),))


def test_unnamed_match_with_alternative_sources_and_flags():
    (leaf,) = body('match _ = pupil | grating ~ "clear"  optional undefined')
    assert leaf.kind == "match" and leaf.name is None
    assert leaf.sources == ("pupil", "grating")
    assert leaf.source_positions == (P(2, 15), P(2, 23))
    assert leaf.value == ast.Regex("clear", P(2, 33))
    assert (leaf.optional, leaf.undefined, leaf.onlyif, leaf.reprocess) == (True, True, None, None)


@pytest.mark.parametrize(("text", "value"), [
    ('"a|b"', ast.Regex("a|b", P(2, 19))),
    ("image_types", ast.ListValue("image_types", P(2, 19))),
    ('["s200a1|s200a2", "x"]', ast.RegexList(("s200a1|s200a2", "x"), P(2, 19))),
    ('[\n"a",\n    "b"\n]', ast.RegexList(("a", "b"), P(2, 19))),
    ("found_alternatives(obs_num)", ast.DynamicValue("found_alternatives", "obs_num", P(2, 19))),
])
def test_values_after_tilde(text, value):
    (leaf,) = body(f"pin v = col ~ {text}")
    assert leaf.value == value


def test_onlyif_and_reprocess_flags():
    (leaf,) = body('pin target = targetid  onlyif exptype != "background"  reprocess existing')
    assert leaf.onlyif == ast.Compare("!=", ast.Ref("exptype", P(2, 35)), ast.Str("background", P(2, 46)),
                                      P(2, 35))
    assert leaf.reprocess == "existing"
    assert leaf.optional is False


def test_flags_in_any_order():
    (a,) = body("pin a = b optional reprocess nonscience")
    (b,) = body("pin a = b reprocess nonscience optional")
    assert (a.optional, a.reprocess) == (b.optional, b.reprocess) == (True, "nonscience")


def test_check_named_and_with_reprocess():
    named, plain = body('check target_acq: base_exptype == "target_acquisition"\n'
                        "check not has_science reprocess existing on fail for all rules")
    assert named.name == "target_acq" and named.reprocess is None and named.pos == P(2, 5)
    assert isinstance(named.expr, ast.Compare)
    assert plain.name is None
    assert plain.expr == ast.Not(ast.Ref("has_science", P(3, 15)), P(3, 11))
    assert plain.reprocess == ast.Reprocess("existing", "fail", True, P(3, 27))


def test_set_unmatched_never_use_body():
    found = body('set target = "000"\nreport_unmatched\nnever force_fail reprocess nonscience on match\n'
                 "use a, b\nbody")
    assert found == (
        ast.SetStmt("target", "000", P(2, 5)),
        ast.UnmatchedStmt(P(3, 5)),
        ast.NeverStmt("force_fail", ast.Reprocess("nonscience", "match", False, P(4, 22)), P(4, 5)),
        ast.UseStmt((("a", P(5, 9)), ("b", P(5, 12))), P(5, 5)),
        ast.BodyStmt(P(6, 5)),
    )


@pytest.mark.parametrize("reduce", ["all", "any", "none", "notall"])
def test_groups(reduce):
    (group,) = body(f"{reduce} {{\n    pin a = b\n    match c = d\n}}")
    assert group.reduce == reduce and group.name is None and group.reprocess is None
    assert [child.pos for child in group.children] == [P(3, 9), P(4, 9)]


def test_named_group_with_reprocess_on_one_line():
    (group,) = body("all imprint reprocess both on match { pin imprint = is_imprt; pin t = mostilno }")
    assert group.name == "imprint"
    assert group.reprocess == ast.Reprocess("both", "match", False, P(2, 17))
    assert [child.name for child in group.children] == ["imprint", "t"]


def test_nested_groups_keep_their_places():
    (outer,) = body("notall {\n    none { any {\n        pin a = b\n    } }\n}")
    (middle,) = outer.children
    (inner,) = middle.children
    (leaf,) = inner.children
    assert (outer.pos, middle.pos, inner.pos, leaf.pos) == (P(2, 5), P(3, 9), P(3, 16), P(4, 13))


def test_empty_group():
    (group,) = body("any {\n}")
    assert group.children == ()


# ---------------------------------------------------------------- fragments, frames, rules


def test_fragment_and_frame():
    fragment, frame, bare = items("fragment f { pin a = b }\nframe science top {\n    pin p = program\n"
                                  "    body\n}\nframe plain { body }\n")
    assert fragment == ast.FragmentDef("f", (ast.LeafStmt("pin", "a", ("b",), None, False, False, None, None,
                                                          P(1, 14), (P(1, 22),)),), P(1, 1))
    assert frame.name == "science" and frame.group_name == "top" and frame.pos == P(2, 1)
    assert [type(s) for s in frame.body] == [ast.LeafStmt, ast.BodyStmt]
    assert bare.group_name is None


def test_rule_header_settings_and_body():
    rule = one('rule Asn_Lv3Image "Science imaging" {\n'
               "    level 3\n"
               "    asn_type image3\n"
               "    frame science\n"
               "    exposure_types level3\n"
               "    ints_for ami tso\n"
               "    valid has_science, has_psf\n"
               "    product default\n"
               "    finalize multi_obs_check, other\n"
               "\n"
               "    use optical_path3, target3\n"
               '    pin exp_type = exp_type ~ "nrc_image"\n'
               "}\n")
    assert rule.name == "Asn_Lv3Image" and rule.description == "Science imaging" and rule.pos == P(1, 1)
    settings = {s.key: (s.values, s.pos.line) for s in rule.settings}
    assert settings == {
        "level": (("3",), 2), "asn_type": (("image3",), 3), "frame": (("science",), 4),
        "exposure_types": (("level3",), 5), "ints_for": (("ami", "tso"), 6),
        "valid": (("has_science", "has_psf"), 7), "product": (("default",), 8),
        "finalize": (("multi_obs_check", "other"), 9),
    }
    assert [type(s) for s in rule.body] == [ast.UseStmt, ast.LeafStmt]
    assert rule.setting("level").values == ("3",) and rule.setting("nothing") is None


def test_rule_level_2b_quoted_asn_type_and_empty_ints_for():
    rule = one('rule R {\n    level 2b\n    asn_type "tso-spec2"\n    ints_for\n}\n')
    assert rule.setting("level").values == ("2b",)
    assert rule.setting("asn_type").values == ("tso-spec2",)
    assert rule.setting("ints_for").values == ()
    assert rule.description is None


def test_description_setting_replaces_the_header_string():
    rule = one('rule R "short" {\n    description "longer words"\n    level 3\n}\n')
    assert rule.description == "longer words"


def test_everything_on_one_line_with_semicolons():
    rule = one('rule R { level 3; asn_type image3; pin a = b; check has_science }')
    assert [s.key for s in rule.settings] == ["level", "asn_type"]
    assert [type(s) for s in rule.body] == [ast.LeafStmt, ast.CheckStmt]
    assert rule.body[1].pos == P(1, 47)


# ---------------------------------------------------------------- strings, comments, line ends


def test_strings_are_raw_except_for_escaped_quotes():
    (a, b, c) = body('pin a = b ~ "\\[\\(\'c\\d{4}\'\\)\\]"\npin c = d ~ "say \\"hi\\""\npin e = f ~ "\\\\."')
    assert a.value.pattern == "\\[\\('c\\d{4}'\\)\\]"
    assert b.value.pattern == 'say "hi"'
    assert c.value.pattern == "\\\\."


def test_comments_anywhere_and_hashes_inside_strings():
    found = items('# file comment\nlist l = a # after\n   # indented\nrule R { # brace\n'
                  '    pin a = b ~ "x#y"  # after a string\n}\n# end')
    assert [type(i) for i in found] == [ast.ListDef, ast.RuleDef]
    assert found[0].words == ("a",)
    assert found[1].body[0].value.pattern == "x#y"


def test_crlf_bom_blank_lines_and_unicode():
    text = '\ufeff\r\n\r\nlist l = "caf\u00e9" b\r\nrule R {\r\n    level 3\r\n}\r\n'
    first, rule = items(text)
    assert first == ast.ListDef("l", ("caf\u00e9", "b"), (), P(3, 1))
    assert rule.pos == P(4, 1) and rule.settings[0].pos == P(5, 5)


def test_empty_and_comment_only_files():
    assert items("") == ()
    assert items("# nothing\n\n   \n") == ()


def test_rule_file_keeps_path_and_lines():
    parsed = parse_text("list l = a\n\nlist m = b\n", "some/where.rules")
    assert parsed.path == "some/where.rules"
    assert parsed.lines == ("list l = a", "", "list m = b")
    assert parsed.items[1].pos == ast.Pos("some/where.rules", 3, 1)


def test_ast_values_are_frozen():
    item = one("list l = a\n")
    with pytest.raises(AttributeError):
        item.name = "other"


# ---------------------------------------------------------------- syntax errors


@pytest.mark.parametrize(("text", "line", "column", "message", "hint"), [
    ("rule R {\n    pin a = b ~ 'x'\n}\n", 2, 17, "unexpected character \"'\"", "double quotes"),
    ('rule R {\n    pin a = b ~ "x\n}\n', 2, 17, "unexpected character '\"'", "end on the line"),
    ("rule R {\n    level 3\n", 2, 12, "unexpected end of file: `rule R {` opened on line 1 is not closed",
     "add the missing `}`"),
    # the `}` at the fragment's indentation is the fragment's: the group lacks its own
    ("fragment f {\n  all {\n    pin c = d\n}\n", 4, 2, "`all {` opened on line 2 is not closed", None),
    ("rule A {\n    level 3\n\nrule B {\n    level 3\n}\n", 4, 1,
     "`rule A {` opened on line 1 is not closed before `rule`", "add the missing `}`"),
    ("rule R {\n    asntype image3\n}\n", 2, 5, "unknown setting or statement", "did you mean asn_type?"),
    ("rule R {\n    level 4\n}\n", 2, 11, "level is 2b or 3", "level 2b"),
    ("rule {\n}\n", 1, 6, "a name is missing", None),
    ("list l = a b\n  c\n", 2, 3, "unexpected text at the top level", None),
    ("pin a = b\n", 1, 1, "unexpected text at the top level", None),
    ("rule R {\n    pin exp_type\n}\n", 2, 17, "needs `=`", None),
    ("rule R {\n    check\n}\n", 2, 10, "a `check` needs an expression", None),
    ("rule R {\n  pin a = b ~\n}\n", 2, 14, "a value after `~`", None),
    ("list l = @\n", 1, 10, "unexpected character '@'", None),
    ("list l = (a b) without c\n", 1, 16, "unexpected 'without'", None),
])
def test_syntax_errors_point_at_the_place(text, line, column, message, hint):
    with pytest.raises(RuleError) as info:
        parse_text(text, PATH)
    error = info.value
    assert (error.path, error.line, error.column) == (PATH, line, column), error.one_line()
    assert message in error.message
    if hint:
        assert hint in (error.hint or "")
    assert error.one_line().startswith(f"{PATH}:{line}:{column}: error: ")
    assert "\n" not in error.one_line()


# ---------------------------------------------------------------- files


def test_parse_file_reads_utf8_and_names_the_file(tmp_path):
    path = tmp_path / "mine.rules"
    path.write_bytes(b"\xef\xbb\xbflist l = \"\xc3\xa9\"\r\n")
    parsed = parse_file(path)
    assert parsed.path == str(path)
    assert parsed.items == (ast.ListDef("l", ("\u00e9",), (), ast.Pos(str(path), 1, 1)),)


@pytest.mark.parametrize(("content", "message", "line"), [
    (None, "not found", None),
    (b"list l = a\0", "NUL", None),
    (b"list l = a\nlist m = \xe9\n", "not UTF-8", 2),
])
def test_parse_file_refusals(tmp_path, content, message, line):
    path = tmp_path / "bad.rules"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RuleError) as info:
        parse_file(path)
    assert info.value.path == str(path)
    assert message in info.value.message
    assert info.value.line == line


def test_parse_file_on_a_folder(tmp_path):
    with pytest.raises(RuleError, match="folder"):
        parse_file(tmp_path)


def test_the_shipped_rule_files_parse():
    config = load_config()
    found = {Path(p).name: parse_file(p) for p in (*config.definition_files, *config.rule_files)}
    rules = {name: [i for i in parsed.items if isinstance(i, ast.RuleDef)] for name, parsed in found.items()}
    assert rules["common.rules"] == []
    assert len(rules["level2b.rules"]) == 22 and len(rules["level3.rules"]) == 22  # as jwst 3.0.0 registers
    assert {r.setting("level").values for r in rules["level2b.rules"]} == {("2b",)}
    assert {r.setting("level").values for r in rules["level3.rules"]} == {("3",)}
    for parsed in found.values():
        for item in parsed.items:
            # every definition starts a line of its file, at the place its position names
            assert parsed.lines[item.pos.line - 1][item.pos.column - 1:].split()[0] in (
                "list", "table", "predicate", "fragment", "frame", "rule")
