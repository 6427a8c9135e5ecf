"""docs/language.md, the rule-language reference: current with the hook registry, complete for the grammar."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from asnflow import hooks
from asnflow.assoc_rules.doc import LANGUAGE_HOOKS_BEGIN, with_hook_reference
from asnflow.cli import main

ROOT = Path(__file__).parent.parent
LANGUAGE = ROOT / "docs" / "language.md"
GRAMMAR = ROOT / "asnflow" / "assoc_rules" / "grammar.lark"


@pytest.fixture(scope="module")
def text() -> str:
    return LANGUAGE.read_text(encoding="utf-8")


def test_the_hook_list_is_current(text):
    assert text == with_hook_reference(text), "write it with `asnflow rules doc --language -o docs/language.md`"


def test_every_hook_is_listed_with_what_it_reads_and_takes(text):
    listed = text[text.index(LANGUAGE_HOOKS_BEGIN):]
    for table in hooks.ALL_TABLES:
        for name, hook in table.items():
            line = next((line for line in listed.splitlines() if line.startswith(f"- `{name}`:")), None)
            assert line is not None, name
            for constraint in hook.reads:
                assert constraint in line, (name, constraint)
            for param in hook.params:
                assert f"{param.name}:" in line, (name, param.name)


def test_every_keyword_of_the_grammar_is_explained(text):
    grammar = re.sub(r"//[^\n]*", "", GRAMMAR.read_text(encoding="utf-8"))  # not the comments' examples
    keywords = set(re.findall(r'"([a-z_]{2,})"', grammar))
    assert {"pin", "match", "reprocess", "defaults", "notall"} <= keywords  # the grammar was read
    missing = sorted(k for k in keywords if f"`{k}" not in text and f"**{k}**" not in text)
    assert missing == []


def test_the_language_option_checks_and_refreshes(tmp_path, capsys):
    assert main(["rules", "doc", "--language", "--check", str(LANGUAGE)]) == 0
    stale = tmp_path / "language.md"
    stale.write_text(LANGUAGE.read_text(encoding="utf-8").replace("- `has_pair`:", "- `has_pairs`:"),
                     encoding="utf-8")
    assert main(["rules", "doc", "--language", "--check", str(stale)]) == 1
    assert "not current" in capsys.readouterr().err
    assert main(["rules", "doc", "--language", "-o", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == LANGUAGE.read_text(encoding="utf-8")


def test_the_language_option_needs_the_marked_section(tmp_path, capsys):
    plain = tmp_path / "plain.md"
    plain.write_text("# no hook section here\n", encoding="utf-8")
    assert main(["rules", "doc", "--language", "--check", str(plain)]) == 2
    err = capsys.readouterr().err
    assert str(plain) in err and "Traceback" not in err
