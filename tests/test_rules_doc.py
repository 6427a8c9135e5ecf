"""``asnflow rules list|show|doc``: the rule text printed back, expanded, and the committed catalogue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from asnflow.assoc_rules import ast
from asnflow.assoc_rules.doc import catalogue, digest
from asnflow.assoc_rules.node import Node
from asnflow.assoc_rules.node import fields as node_fields
from asnflow.assoc_rules.parse import parse_text
from asnflow.assoc_rules.show import expr_text, statement_text
from asnflow.cli import main
from asnflow.config import load_config
from asnflow.engine.session import rule_set

ROOT = Path(__file__).parent.parent
DOC = ROOT / "docs" / "rules.md"


@pytest.fixture(scope="module")
def rules():
    return rule_set()


def _strip(node):
    """A syntax tree without positions, to compare what was parsed."""
    if isinstance(node, ast.Pos):
        return None
    if isinstance(node, Node):
        return (type(node).__name__,) + tuple(
            _strip(getattr(node, name)) for name in node_fields(node) if name not in ("pos", "source_positions")
        )
    if isinstance(node, tuple):
        return tuple(_strip(n) for n in node)
    return node


def _flat(statements, depth=0):
    lines = []
    for statement in statements:
        lines.append("    " * depth + statement_text(statement))
        if isinstance(statement, ast.GroupStmt):
            lines += _flat(statement.children, depth + 1)
            lines.append("    " * depth + "}")
    return lines


def test_docs_rules_md_is_current(rules):
    assert DOC.read_text(encoding="utf-8") == catalogue(rules, load_config()), \
        "docs/rules.md is out of date: run `asnflow rules doc -o docs/rules.md`"


def test_doc_check_option(tmp_path, capsys):
    assert main(["rules", "doc", "--check", str(DOC)]) == 0
    stale = tmp_path / "rules.md"
    stale.write_text(DOC.read_text(encoding="utf-8").replace("Asn_Lv3TSO", "Asn_Lv3TS0", 1), encoding="utf-8")
    assert main(["rules", "doc", "--check", str(stale)]) == 1
    written = tmp_path / "out" / "rules.md"
    assert main(["rules", "doc", "-o", str(written)]) == 0
    assert written.read_text(encoding="utf-8") == DOC.read_text(encoding="utf-8")
    capsys.readouterr()


def test_catalogue_covers_every_rule_and_links_resolve(rules):
    text = DOC.read_text(encoding="utf-8")
    headings = set(re.findall(r"^### (\S+)$", text, re.MULTILINE))
    for rule in rules.rules:
        assert rule.name in headings
        section = text.split(f"### {rule.name}\n", 1)[1].split("\n### ", 1)[0]
        assert f"**asn_type** `{rule.asn_type}`, level {rule.level}" in section
        assert f"**Product name** `{rule.product}`" in section
        for name in rule.validity:
            assert f"`{name}`" in section.split("**Valid when**", 1)[1].split("\n", 1)[0]
    anchors = {h.lower() for h in headings}
    for target in re.findall(r"\]\(#([^)]+)\)", text):
        assert target in anchors, target
    # nothing in a committed document names a machine path
    assert not re.search(r"(^|[\s`(])/(work|tmp|home|Users)/", text)


def test_statements_print_back_to_the_same_syntax(rules):
    # Every fragment, frame and rule body printed by show.statement_text parses
    # back to the same tree (positions aside).
    bodies = [*(f.body for f in rules.fragments.values()), *(f.body for f in rules.frames.values()),
              *(r.source.body for r in rules.rules)]
    for body in bodies:
        printed = "fragment printed {\n" + "\n".join(_flat(body)) + "\n}\n"
        reparsed = parse_text(printed).items[0].body
        assert _strip(reparsed) == _strip(body), printed
    for predicate in rules.predicates.values():
        reparsed = parse_text(f"predicate p = {expr_text(predicate.expr)}\n").items[0].expr
        assert _strip(reparsed) == _strip(predicate.expr)


def test_list_is_in_trial_order(rules, capsys):
    assert main(["rules", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["rule", "level", "asn_type", "description"]
    assert [line.split()[0] for line in lines[1:]] == [rule.name for rule in rules.rules]
    row = next(line for line in lines if line.startswith("Asn_Lv3NRCCoronImage "))
    assert row.split()[1:3] == ["3", "image3"] and row.endswith(rules.rule("Asn_Lv3NRCCoronImage").description)
    assert main(["rules", "list", "--level", "2b"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert names == [rule.name for rule in rules.rules if rule.level == "2b"]


def test_show_expands_fragments_and_every_line_points_at_its_source(rules, capsys):
    assert main(["rules", "show", "Asn_Lv3Image", "Asn_Lv2Spec"]) == 0
    out = capsys.readouterr().out
    files = {Path(f.path).name: f.lines for f in rules.files}
    checked = 0
    for line in out.splitlines():
        found = re.fullmatch(r"\s*(?P<text>\S.*?)\s+# (?:(?:fragment|frame) \S+, )?(?P<file>[\w.]+\.rules):(?P<line>\d+)",
                             line)
        if not found:
            continue
        text = found["text"]
        source = files[found["file"]][int(found["line"]) - 1]
        if text.startswith("use "):  # a fragment opened in place points at the fragment's definition
            assert source.startswith(f"fragment {text.split()[1]} ")
        elif "# frame " in line:  # the frame's top group points at the frame's definition
            assert source.startswith(f"frame {line.split('# frame ')[1].split(',')[0]} ")
        elif text.startswith("# the constraints of "):
            assert source.startswith(f"rule {text.split()[-1]} ")
        else:
            keyword, _, rest = text.partition(" ")
            assert re.search(rf"(^|[\s{{]){re.escape(keyword)}\b", source), (line, source)
            name = rest.split(" ", 1)[0]
            if keyword in ("pin", "match"):
                assert f"{keyword} {name} =" in source, (line, source)
        checked += 1
    assert checked > 60
    # the fragments of Asn_Lv3Image are opened, inside the frame science
    assert "use optical_path3 {" in out and "all dmsbase_top {" in out and "use tso {" in out
    assert "list tso_exp_types = nrc_tsimage nrc_tsgrism nrs_brightobj" in out
    assert "predicate nrsifu_valid_detector = " in out


def test_show_refuses_an_unknown_rule(capsys):
    assert main(["rules", "show", "Asn_Lv3Imag"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("asnflow: error: no rule named Asn_Lv3Imag") and "did you mean Asn_Lv3Image" in err


def test_show_a_user_rule_next_to_the_defaults(capsys):
    example = ROOT / "examples" / "user_rules" / "mrs_per_band.rules"
    assert main(["rules", "show", "Asn_Lv3MIRMRS", "-r", str(example)]) == 0
    out = capsys.readouterr().out
    assert "defined at examples/user_rules/mrs_per_band.rules:12" in out or "mrs_per_band.rules:12" in out
    assert re.search(r"pin opt_elem = band\s+# mrs_per_band\.rules:22", out)
    assert re.search(r"use target3 \{\s+# fragment target3, level3\.rules:\d+", out)


def test_digest_of_a_rule(rules):
    coron = digest(rules.rule("Asn_Lv3NRCCoronImage"), rules)
    assert '`exp_type` ~ `"nrc_coron"`' in coron.selects
    assert '`channel` ~ `"short"`' in coron.requires and '`subarray` ~ `"full"`' in coron.requires
    assert any("bkgdtarg" in text and "is_psf" in text for text in coron.excludes)
    assert "program" in coron.pinned and "instrument (`instrume`)" in coron.pinned
    image2 = digest(rules.rule("Asn_Lv2Image"), rules)
    assert any(text.startswith("background (`bkgdtarg`)") for text in image2.attaches)
    level3 = digest(rules.rule("Asn_Lv3Image"), rules)
    assert any(text.startswith("target_acquisition exposures") for text in level3.attaches)
