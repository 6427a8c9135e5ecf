"""The rule compiler (name resolution and its errors) and the semantics of compiled rules.

Errors: every unknown or doubly defined name is a RuleError at the
``file:line:col`` where it is written, with a hint where a close name exists.

Semantics: small hand-written rule files run through
``asnflow.generate(pool, rules=[...], ignore_default=True)`` on small pools.
Each expected result is what jwst 3.0.0's asn_generate makes from the same
pool with the same constraints written as jwst rule classes (DMSAttrConstraint
with force_unique for ``pin``, without for ``match``, required=False for
``optional``, force_undefined, onlyif, force_reprocess=EXISTING, Constraint
reduce=any/notany), so each test pins one piece of jwst's constraint
semantics.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import asnflow
from asnflow.assoc_rules.compile import compile_files
from asnflow.assoc_rules.parse import parse_file, parse_text
from asnflow.config import load_config
from asnflow.errors import AsnflowError, RuleError

USER = "user.rules"


@pytest.fixture(autouse=True)
def _rule_cache_in_a_temporary_folder(monkeypatch, tmp_path_factory):
    """Parsed rule files are cached between runs (also by the commands started here): not in the home folder."""
    monkeypatch.setenv("ASNFLOW_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rule-cache"))


@pytest.fixture(scope="module")
def default_files():
    """The shipped rule files, parsed once (their lists, tables, fragments and frame are usable by name)."""
    config = load_config()
    return [parse_file(p) for p in (*config.definition_files, *config.rule_files)]


def compile_user(default_files, text: str):
    """Compile ``text`` next to the shipped files, registering only its own rules."""
    user = parse_text(text, USER)
    return compile_files([*default_files, user], [user])


def rule(body: str, name: str = "Asn_T", header: str = "    level 3\n    asn_type image3\n") -> str:
    """A rule whose body starts on line 4 (with the default header)."""
    return f'rule {name} "test" {{\n{header}{body}\n}}\n'


# ---------------------------------------------------------------- name resolution errors

ERRORS = {
    "unknown fragment": (rule("    use nosuch"), 4, 9, "unknown fragment nosuch", None),
    "unknown fragment, close name": (rule("    use optical_path"), 4, 9, "unknown fragment optical_path",
                                     "did you mean optical_path3?"),
    "a frame used as a fragment": (rule("    use science"), 4, 9, "unknown fragment science",
                                   "science is a frame; a rule takes it with `frame science`"),
    "unknown list": (rule("    pin a = exp_type ~ image2_science"), 4, 24, "unknown list image2_science",
                     "did you mean image2_science_exp_types"),
    "unknown table": (rule("    check (filter, pupil) in no_such_table"), 4, 30, "unknown table no_such_table", None),
    "table and tuple widths differ": (rule("    check (grating, filter) in nrs_ifu_valid_paths"), 4, 11,
                                      "table nrs_ifu_valid_paths has 3 columns but the test gives 2 values", None),
    "unknown function": (rule("    check presnt(filter)"), 4, 11, "unknown function presnt()", "did you mean present?"),
    "unknown value function": (rule("    pin a = obs_num ~ found_alts(a)"), 4, 23,
                               "unknown value function found_alts()",
                               "did you mean found_alternatives?"),
    "value function names no constraint": (rule("    pin a = obs_num ~ found_alternatives(zz)"), 4, 23,
                                           "no constraint named zz in rule Asn_T", None),
    "unknown frame": (rule("    frame scince"), 4, 5, "unknown frame scince", "did you mean science?"),
    "unknown product hook": (rule("    product defualt"), 4, 5, "unknown product hook defualt",
                             "did you mean default?"),
    "unknown valid hook": (rule("    valid has_science, has_sceince"), 4, 5, "unknown valid hook has_sceince",
                           "did you mean has_science?"),
    "unknown finalize hook": (rule("    finalize multi_obs"), 4, 5, "unknown finalize hook multi_obs",
                              "did you mean multi_obs_check?"),
    "unknown exposure_types hook": (rule("    exposure_types level9"), 4, 5, "unknown exposure_types hook level9",
                                    "did you mean level3"),
    "unknown integration shape": (rule("    ints_for coron tsx"), 4, 5, "unknown exposure shape tsx",
                                  "known: coron, ami, tso"),
    "body outside a frame": (rule("    body"), 4, 5, "`body` is only allowed inside a frame", None),
    "rule without level": ('\nrule Asn_T {\n    asn_type image3\n}\n', 2, 1, "rule Asn_T does not say its level",
                           "add `level 2b` or `level 3`"),
    "rule without asn_type": ('rule Asn_T {\n    level 2b\n}\n', 1, 1, "rule Asn_T does not say its asn_type",
                              "asn_type"),
    "rule defined twice in a file": (rule("") + rule(""), 6, 1,
                                     f"rule Asn_T is defined twice in this file (first at {USER}:1:1)", None),
    "fragment defined twice": ("fragment f { pin a = b }\n\nfragment f { pin c = d }\n", 3, 1,
                               f"fragment f is defined twice (first at {USER}:1:1)", None),
    "table defined twice": ("table t (a) {\n}\ntable t (a) {\n}\n", 3, 1, "table t is defined twice", None),
    "predicate defined twice": ("predicate p = a\npredicate p = b\n", 2, 1, "predicate p is defined twice", None),
    "list defined twice": ("list l = a\n  list l = b\n", 2, 3, "list l is defined twice", None),
    "a shipped fragment defined again": ("fragment tso { pin a = b }\n", 1, 1,
                                         "fragment tso is defined twice (first at ", None),
    "a shipped frame defined again": ("frame science { body }\n", 1, 1, "frame science is defined twice", None),
    "table row too short": ("table t (a, b) {\n    x y\n    z\n}\n", 3, 5,
                            "table t row has 1 values but the table has 2 columns (a, b)", None),
    "table row too long": ("table t (a, b) {\n    x y z\n}\n", 2, 5, "table t row has 3 values", None),
    "fragment using itself": ("fragment f1 {\n    pin a = b\n    use f1\n}\n" + rule("    use f1"), 3, 9,
                              "fragment f1 uses itself", None),
    "fragments using each other": ("fragment f1 {\n    use f2\n}\nfragment f2 {\n    use f1\n}\n" + rule("    use f1"),
                                   5, 9, "fragment f1 uses itself", None),
    "predicate referring to itself": ("predicate p1 = p2\npredicate p2 = not p1\n" + rule("    check p1"), 2, 20,
                                      "predicate p1 refers to itself", None),
}


@pytest.mark.parametrize(("text", "line", "column", "message", "hint"), ERRORS.values(), ids=ERRORS.keys())
def test_name_errors_point_at_the_place(default_files, text, line, column, message, hint):
    with pytest.raises(RuleError) as info:
        compile_user(default_files, text)
    error = info.value
    assert (error.path, error.line, error.column) == (USER, line, column), error.one_line()
    assert message in error.message
    if hint is not None:
        assert hint in (error.hint or ""), error.hint
    assert error.one_line().startswith(f"{USER}:{line}:{column}: error: {message}")


def test_a_rule_set_without_the_engine_vocabulary_is_refused():
    user = parse_text(rule("    pin program = program"), USER)
    with pytest.raises(RuleError, match="the rule set defines no list acq_exp_types") as info:
        compile_files([user])
    assert "list acq_exp_types" in info.value.hint


def test_unknown_names_through_generate_are_rule_errors(tmp_path):
    """asnflow.generate checks user rule files first: the same mistakes, as RuleError, before any work."""
    pool = Path(__file__).parent / "data" / "compat" / "pools" / "pool_002_image_miri.csv"
    path = tmp_path / "mine.rules"
    path.write_text(rule("    use optical_path3, targte3"))
    with pytest.raises(RuleError) as info:
        asnflow.generate(pool, rules=[path], ignore_default=True)
    assert (info.value.path, info.value.line, info.value.column) == (str(path), 4, 24)
    assert "did you mean target3" in (info.value.hint or "")


def test_a_name_that_is_no_predicate_is_a_column_with_a_warning(tmp_path, caplog):
    """A misspelt predicate reads as a pool column (pools may carry more columns); generate warns with the place."""
    pool = Path(__file__).parent / "data" / "compat" / "pools" / "pool_002_image_miri.csv"
    path = tmp_path / "mine.rules"
    path.write_text(rule("    pin program = program\n    check nrsifu_valid_detectr"))
    with caplog.at_level(logging.WARNING):
        assert asnflow.generate(pool, rules=[path], ignore_default=True) == []  # no such column: never true
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith(f"{path}:5:11: warning: unknown name nrsifu_valid_detectr")
               and "did you mean nrsifu_valid_detector" in m for m in warnings), warnings


# ---------------------------------------------------------------- what the compiler builds


def test_settings_and_their_defaults(default_files):
    compiled = compile_user(default_files, rule("    pin a = b", "Asn_Three") + rule(
        "    pin a = b", "Asn_Two", header="    level 2b\n    asn_type spec2\n    valid has_science\n"
        "    ints_for tso\n    finalize prune_imprints\n"))
    three, two = compiled.rules  # alphabetical: Asn_Three < Asn_Two
    assert (three.name, three.level, three.asn_type, three.exposure_policy_name, three.validity, three.product,
            three.finalize, three.ints_for, three.frame) == (
        "Asn_Three", "3", "image3", "level3", ("has_science",), "default", (), frozenset({"coron", "ami", "tso"}),
        None)
    assert (two.level, two.asn_type, two.exposure_policy_name, two.validity, two.product, two.finalize,
            two.ints_for) == ("2b", "spec2", "level2", ("has_science",), "level2", ("prune_imprints",),
                              frozenset({"tso"}))
    assert three.description == "test" and three.path == USER


def test_rules_of_a_file_are_tried_alphabetically(default_files):
    compiled = compile_user(default_files, "".join(rule("    pin a = b", n) for n in ("Asn_C", "Asn_A", "Asn_B")))
    assert [r.name for r in compiled.rules] == ["Asn_A", "Asn_B", "Asn_C"]
    assert [r.index for r in compiled.rules] == [0, 1, 2]


def test_a_later_file_replaces_a_rule_of_the_same_name_in_place(default_files):
    level3 = next(f for f in default_files if f.path.endswith("level3.rules"))
    user = parse_text(rule("    pin program = program", "Asn_Lv3Image", header="    level 3\n    asn_type mine3\n"),
                      USER)
    compiled = compile_files([*default_files, user], [level3, user])
    names = [r.name for r in compiled.rules]
    assert names == sorted(i.name for i in level3.items if hasattr(i, "settings"))
    replaced = compiled.rule("Asn_Lv3Image")
    assert (replaced.asn_type, replaced.path) == ("mine3", USER)


def test_lists_expand_names_and_without(default_files):
    compiled = compile_user(default_files, "list a = x y z\nlist b = (a w\n  without y)\nlist c = b acq_exp_types "
                                           "without acq_exp_types\n" + rule("    pin e = exp_type ~ c"))
    assert compiled.lists["b"][0] == ("x", "z", "w")
    assert compiled.lists["c"][0] == ("x", "z", "w")
    # a list used as a value is joined with "|", as jwst joins its lists
    (leaf,) = [t for t in compiled.rule("Asn_T").attr_tests if t.name == "e"]
    assert leaf.patterns == ("x|z|w",)


def test_each_use_of_a_fragment_gets_its_own_tests(default_files):
    compiled = compile_user(default_files, "fragment f { pin a = b }\n" + rule("    use f", "Asn_A") +
                            rule("    use f\n    use f", "Asn_B"))
    first = compiled.rule("Asn_A").attr_tests
    second = compiled.rule("Asn_B").attr_tests
    assert len(first) == 1 and len(second) == 2
    assert len({id(t) for t in (*first, *second)}) == 3
    assert sorted(t.slot for t in second) == [0, 1]


def test_a_frame_wraps_the_rule_body(default_files):
    compiled = compile_user(default_files, "frame wrap outer {\n    pin program = program\n    any {\n        body\n"
                                           "        check has_science\n    }\n}\n" +
                            rule("    pin opt_elem = filter\n    frame wrap"))
    compiled_rule = compiled.rule("Asn_T")
    assert compiled_rule.frame == "wrap"
    assert compiled_rule.root.name == "outer"
    assert [t.name for t in compiled_rule.attr_tests] == ["program", "opt_elem"]
    assert "opt_elem" in compiled_rule.lookup and "program" in compiled_rule.lookup


def test_the_shipped_rules_compile(default_files):
    config = load_config()
    rule_files = [f for f in default_files if Path(f.path) in config.rule_files]
    compiled = compile_files(default_files, rule_files)
    assert len(compiled.rules) == 44
    assert compiled.rules[0].level == "2b" and compiled.rules[-1].level == "3"


# ---------------------------------------------------------------- semantics on small pools

COLUMNS = ("filename", "program", "exp_type", "asn_candidate", "instrume", "detector", "targetid", "filter", "pupil",
           "subarray", "bkgdtarg", "is_psf", "is_imprt", "tsovisit", "pntgtype", "obs_num")
DEFAULTS = dict(program="1234", exp_type="nrc_image", asn_candidate="[('o001', 'observation')]", instrume="nircam",
                detector="nrca1", targetid="1", filter="f200w", pupil="clear", subarray="full", bkgdtarg="f",
                is_psf="f", is_imprt="f", tsovisit="f", pntgtype="science", obs_num="1")
BASE = "    pin program = program\n    pin instrument = instrume\n"


def write_pool(path: Path, *rows: dict) -> Path:
    """A pool of one exposure per row (exposure number = row number); unnamed cells take DEFAULTS."""
    lines = ["|".join(c.upper() for c in COLUMNS)]
    for number, row in enumerate(rows, start=1):
        cells = dict(DEFAULTS, **row, filename=f"jw01234001001_01101_{number:05d}_nrca1_uncal.fits")
        lines.append("|".join(cells[c] for c in COLUMNS))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_rules(tmp_path: Path, body: str, *rows: dict, prefix: str = "", **options) -> list[tuple[str, list[str]]]:
    """(product name, ["exposure number:member type", ...]) of every association, in output order."""
    rules = tmp_path / "test.rules"
    rules.write_text(prefix + rule(BASE + body), encoding="utf-8")
    pool = write_pool(tmp_path / "pool.csv", *rows)
    found = []
    for asn in asnflow.generate(pool, rules=[rules], ignore_default=True, **options):
        (product,) = asn["products"]
        members = [f"{m['expname'].split('_')[2][-1]}:{m['exptype']}" for m in product["members"]]
        found.append((product["name"], members))
    return found


def test_pin_the_first_member_fixes_the_value(tmp_path):
    found = run_rules(tmp_path, "    pin target = targetid\n    pin opt_elem = filter",
                      dict(filter="f200w"), dict(filter="f444w"), dict(filter="f200w"))
    assert found == [("jw01234-o001_t001_nircam_f444w", ["2:science"]),
                     ("jw01234-o001_t001_nircam_f200w", ["1:science", "3:science"])]


def test_match_tests_without_fixing(tmp_path):
    found = run_rules(tmp_path, "    pin target = targetid\n    match opt_elem = filter",
                      dict(filter="f200w"), dict(filter="f444w"), dict(filter="f200w"))
    assert found == [("jw01234-o001_t001_nircam_f200w-f444w", ["1:science", "2:science", "3:science"])]


def test_any_stops_at_its_first_match(tmp_path):
    """The second branch is never tried, so never pinned: both filters join one association."""
    found = run_rules(tmp_path, "    any {\n        pin target = targetid\n        pin opt_elem = filter\n    }",
                      dict(filter="f200w"), dict(filter="f444w"))
    assert found == [("jw01234-o001_t001_nircam_clear", ["1:science", "2:science"])]


def test_any_keeps_values_pinned_by_a_failed_branch(tmp_path):
    """Exposure 1 fails the first branch after pinning opt_elem and matches through the second; the pin
    stays, so exposure 2 (another filter) cannot join through the first branch and starts its own."""
    body = ("    pin target = targetid\n    any {\n        all {\n            pin opt_elem = filter\n"
            '            match _ = pupil ~ "clear"\n        }\n        match _ = exp_type ~ "nrc_image"\n    }')
    found = run_rules(tmp_path, body, dict(filter="f200w", pupil="x"), dict(exp_type="mir_image", filter="f444w"))
    assert found == [("jw01234-o001_t001_nircam_f444w", ["2:science"]),
                     ("jw01234-o001_t001_nircam_f200w", ["1:science"])]


def test_optional_matches_a_missing_value_without_pinning(tmp_path):
    rows = (dict(pupil="null"), dict(pupil="clear"), dict(pupil="null"), dict(pupil="maskbar"))
    optional = run_rules(tmp_path, "    pin target = targetid\n    pin opt_elem2 = pupil  optional", *rows)
    assert optional == [("jw01234-o001_t001_nircam_maskbar", ["4:science"]),
                        ("jw01234-o001_t001_nircam_clear", ["1:science", "2:science", "3:science"])]
    required = run_rules(tmp_path, "    pin target = targetid\n    pin opt_elem2 = pupil", *rows)
    assert required == [("jw01234-o001_t001_nircam_maskbar", ["4:science"]),
                        ("jw01234-o001_t001_nircam_clear", ["2:science"])]


def test_undefined_matches_only_a_missing_value(tmp_path):
    found = run_rules(tmp_path, "    pin target = targetid\n    pin _ = is_imprt  undefined",
                      dict(), dict(is_imprt="t"), dict())
    assert found == [("jw01234-o001_t001_nircam_clear", ["1:science", "3:science"])]


BACKGROUND_FIRST = (dict(bkgdtarg="t", targetid="2"), dict(targetid="1"), dict(targetid="3"))


def test_onlyif_false_counts_as_matched(tmp_path):
    """The background (another target) joins the first association: its target is not tested."""
    found = run_rules(tmp_path, '    pin opt_elem = filter\n    pin target = targetid  onlyif exptype != "background"',
                      *BACKGROUND_FIRST)
    assert found == [("jw01234-o001_t003_nircam_f200w", ["3:science"]),
                     ("jw01234-o001_t001_nircam_f200w", ["1:background", "2:science"])]


def test_reprocess_existing_offers_an_earlier_background_to_later_associations(tmp_path):
    """Same pool and rule with `reprocess existing`: the background listed before both science
    exposures also joins the association started by the second one."""
    found = run_rules(tmp_path, "    pin opt_elem = filter\n"
                                '    pin target = targetid  onlyif exptype != "background"  reprocess existing',
                      *BACKGROUND_FIRST)
    assert found == [("jw01234-o001_t003_nircam_f200w", ["3:science", "1:background"]),
                     ("jw01234-o001_t001_nircam_f200w", ["1:background", "2:science"])]


PUPILS = (dict(pupil="clearp"), dict(pupil="xclear"), dict(pupil="gdhs0"), dict(pupil="gdhs0x"), dict(pupil="clear"))


def test_alternatives_keep_jwst_anchoring(tmp_path):
    """jwst anchors "a|b" as ^a|b$: a cell *starting* with clear matches, gdhs0 must be whole."""
    found = run_rules(tmp_path, '    pin target = targetid\n    match _ = pupil ~ "clear|gdhs0"', *PUPILS)
    assert found == [("jw01234-o001_t001_nircam_clear", ["1:science", "3:science", "5:science"])]


def test_a_list_value_has_the_same_anchoring(tmp_path):
    found = run_rules(tmp_path, "    pin target = targetid\n    match _ = pupil ~ pupils", *PUPILS,
                      prefix="list pupils = clear gdhs0\n")
    assert found == [("jw01234-o001_t001_nircam_clear", ["1:science", "3:science", "5:science"])]


def test_a_regex_list_anchors_each_pattern(tmp_path):
    found = run_rules(tmp_path, '    pin target = targetid\n    match _ = pupil ~ ["clear", "gdhs0"]', *PUPILS)
    assert found == [("jw01234-o001_t001_nircam_clear", ["3:science", "5:science"])]


def test_regex_values_ignore_case(tmp_path):
    found = run_rules(tmp_path, '    pin target = targetid\n    match _ = pupil ~ "CLEAR"', *PUPILS)
    assert found == [("jw01234-o001_t001_nircam_clear", ["5:science"])]


def test_none_excludes(tmp_path):
    found = run_rules(tmp_path, '    pin target = targetid\n    none {\n        match _ = filter ~ "f4.*"\n    }',
                      dict(filter="f200w"), dict(filter="f444w"), dict(filter="f150w"))
    assert found == [("jw01234-o001_t001_nircam_clear", ["1:science", "3:science"])]


def test_frame_constraints_and_body(tmp_path):
    """The frame's pin (program) and its `any` hold the rule's body: a target acquisition that fails the
    body joins through the frame's other branch; another filter or instrument starts its own association."""
    frame = ("frame wrap top {\n    pin program = program\n    any acq_check {\n        all rule {\n"
             "            body\n        }\n"
             '        check target_acq: base_exptype == "target_acquisition"\n    }\n}\n')
    rules = tmp_path / "frame.rules"
    rules.write_text(frame + rule("    frame wrap\n    pin instrument = instrume\n    pin target = targetid\n"
                                  "    pin opt_elem = filter"))
    pool = write_pool(tmp_path / "pool.csv", dict(filter="f200w"),
                      dict(exp_type="nrc_tacq", filter="f444w", pntgtype="target_acquisition"),
                      dict(filter="f444w"), dict(instrume="miri", filter="f200w"))
    found = [(a["products"][0]["name"], [m["exptype"] for m in a["products"][0]["members"]])
             for a in asnflow.generate(pool, rules=[rules], ignore_default=True)]
    assert found == [("jw01234-o001_t001_miri_f200w", ["science"]),
                     ("jw01234-o001_t001_nircam_f444w", ["science"]),
                     ("jw01234-o001_t001_nircam_f200w", ["science", "target_acquisition"])]


def test_user_rules_keep_their_names_and_the_discovery_pass(tmp_path):
    """Without -i both passes run; the discovered copy of a candidate association is pruned,
    and a rule that makes an association only from the whole pool keeps a3001."""
    rows = (dict(filter="f200w"), dict(filter="f200w", asn_candidate="[('o002', 'observation')]"))
    found = run_rules(tmp_path, "    pin target = targetid\n    pin opt_elem = filter", *rows)
    assert found == [("jw01234-o002_t001_nircam_f200w", ["2:science"]),
                     ("jw01234-o001_t001_nircam_f200w", ["1:science"]),
                     ("jw01234-a3001_t001_nircam_f200w", ["1:science", "2:science"])]
    asns = asnflow.generate(tmp_path / "pool.csv", rules=[tmp_path / "test.rules"], ignore_default=True)
    assert {a["asn_rule"] for a in asns} == {"candidate_Asn_T", "discover_Asn_T"}


def test_bad_rule_files_are_asnflow_errors(tmp_path):
    pool = write_pool(tmp_path / "pool.csv", dict())
    broken = tmp_path / "broken.rules"
    broken.write_text("rule {\n")
    with pytest.raises(AsnflowError):
        asnflow.generate(pool, rules=[broken], ignore_default=True)
    with pytest.raises(RuleError, match="rule file not found"):
        asnflow.generate(pool, rules=[tmp_path / "missing.rules"])
