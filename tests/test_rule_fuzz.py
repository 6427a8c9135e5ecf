"""The rule parser and compiler under random input: a rule set or a RuleError, never another exception.

Inputs are random bytes decoded as text, random sequences of the language's
own tokens, and the shipped rule files with lines deleted or duplicated,
tokens swapped and characters inserted. A RuleError must point into the file
it names (a line that exists, a column on it or just past its end).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, reject, settings
from hypothesis import strategies as st

from asnflow.asnfile.files import write
from asnflow.assoc_rules import ast
from asnflow.assoc_rules.compile import RuleSet, compile_files
from asnflow.assoc_rules.parse import parse_file, parse_text
from asnflow.config import load_config
from asnflow.errors import AsnflowError, RuleError
from asnflow.pool.read import read_pool

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_FEW = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_PATH = "fuzz.rules"

_CONFIG = load_config()
SHIPPED_PATHS = [*_CONFIG.definition_files, *_CONFIG.rule_files]
SHIPPED_TEXT = {Path(p).name: Path(p).read_text(encoding="utf-8") for p in SHIPPED_PATHS}
SHIPPED_FILES = {Path(p).name: parse_file(p) for p in SHIPPED_PATHS}
SMALL_POOL = read_pool(Path(__file__).parent / "data" / "compat" / "pools" / "pool_002_image_miri.csv")

TOKENS = [
    "rule", "fragment", "frame", "list", "table", "predicate", "pin", "match", "check", "set", "use", "body",
    "never", "report_unmatched", "all", "any", "none", "notall", "reprocess", "existing", "nonscience", "rules",
    "both", "on", "fail", "for", "level", "2b", "3", "asn_type", "exposure_types", "ints_for", "valid", "product",
    "finalize", "description", "optional", "undefined", "onlyif", "without", "and", "or", "not", "in",
    "Asn_T", "exp_type", "filter", "program", "science", "target3", "optical_path3", "has_science", "default",
    "level3", "found_alternatives", "present", "acq_exp_types", "nrs_ifu_valid_paths", "_", "image3", "tso",
    '"nrc_image"', '"a|b"', '"\\d+"', '"("', '"\\"', '""', "'x'", "{", "}", "(", ")", "[", "]", "=", "==", "!=",
    "~", "|", ",", ":", ";", "#", "\\", "\n", "\r\n", " ", "\t", "\ufeff", "\u2028", "\x0c", "é",
]


def check(text: str, replaced: str | None = None) -> RuleSet | None:
    """Parse ``text`` and compile it with the shipped files (``replaced`` is the one it stands for).

    Returns the rule set, or None when a RuleError pointing into a real place was raised.
    """
    try:
        parsed = parse_text(text, FUZZ_PATH)
        others = [f for name, f in SHIPPED_FILES.items() if name != replaced]
        files = [*others, parsed]
        registered = [f for f in files if Path(f.path).name != "common.rules"]
        return compile_files(files, registered)
    except RuleError as error:
        assert_points_into_a_file(error, text)
        return None


def assert_points_into_a_file(error: RuleError, text: str) -> None:
    assert error.message
    assert "\n" not in error.one_line()
    if error.path != FUZZ_PATH:
        # an error in a shipped file can only be a clash with a name the fuzzed text defines
        assert error.path is None or Path(error.path).name in SHIPPED_TEXT, error.one_line()
        return
    if error.line is None:
        return
    lines = text.removeprefix("\ufeff").split("\n")
    assert 1 <= error.line <= len(lines) + 1, error.one_line()
    if error.column is not None:
        assert error.column >= 1, error.one_line()


# ---------------------------------------------------------------- known mistakes


@pytest.mark.parametrize("value", ['"("', '"[a-"', '["ok", "*x"]', '"a{2,1}"'])
def test_a_regex_that_does_not_compile_is_a_rule_error(value):
    text = f'rule R {{\n    level 3\n    asn_type image3\n    pin a = filter ~ {value}\n}}\n'
    with pytest.raises(RuleError) as info:
        parsed = parse_text(text, FUZZ_PATH)
        compile_files([*SHIPPED_FILES.values(), parsed], [parsed])
    assert (info.value.path, info.value.line) == (FUZZ_PATH, 4)


@pytest.mark.parametrize("text", ["\x0c\x0crule", "rule R {\x0c", "list l = a\x0c\x0c\nrule"])
def test_end_of_file_is_on_the_last_line(text):
    with pytest.raises(RuleError, match="end of file") as info:
        parse_text(text, FUZZ_PATH)
    assert info.value.line == text.count("\n") + 1


# ---------------------------------------------------------------- random input


@FUZZ
@given(st.binary(max_size=1500))
@example(b"")
@example(b"rule")
@example(b"rule R {")
def test_random_bytes_as_utf8(data):
    check(data.decode("utf-8", errors="replace"))


@FUZZ
@given(st.binary(max_size=1500))
def test_random_bytes_as_latin1(data):
    check(data.decode("latin-1"))


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=80).map(" ".join))
@example('rule R { level 3 ; asn_type image3 ; use target3 target3 }')
@example("fragment f { use f } rule R { level 3 ; asn_type x ; use f }")
@example('rule R { level 3 ; asn_type x ; check exp_type in nrs_ifu_valid_paths }')
@example('rule R { level 3 ; asn_type x ; pin a = b ~ found_alternatives ( a ) }')
def test_random_token_sequences(text):
    check(text)


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map("".join))
def test_random_token_sequences_without_blanks(text):
    check(text)


# ---------------------------------------------------------------- mutated shipped files


def _mutate(text: str, data) -> str:
    lines = text.split("\n")
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        kind = data.draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "move"]), label="kind")
        index = data.draw(st.integers(0, len(lines) - 1), label="line")
        if kind == "delete" and len(lines) > 1:
            del lines[index]
        elif kind == "duplicate":
            lines.insert(index, lines[index])
        elif kind == "move" and len(lines) > 1:
            lines.insert(data.draw(st.integers(0, len(lines) - 1), label="to"), lines.pop(index))
        elif kind == "swap":
            words = lines[index].split(" ")
            if len(words) > 1:
                a = data.draw(st.integers(0, len(words) - 1), label="a")
                b = data.draw(st.integers(0, len(words) - 1), label="b")
                words[a], words[b] = words[b], words[a]
                lines[index] = " ".join(words)
        else:
            line = lines[index]
            at = data.draw(st.integers(0, len(line)), label="at")
            piece = data.draw(st.one_of(st.sampled_from(TOKENS), st.characters()), label="piece")
            lines[index] = line[:at] + piece + line[at:]
    return "\n".join(lines)


@pytest.mark.parametrize("name", sorted(SHIPPED_TEXT))
@FUZZ_FEW
@given(data=st.data())
def test_mutated_shipped_file(name, data):
    check(_mutate(SHIPPED_TEXT[name], data), replaced=name)


def test_unmutated_shipped_files_compile():
    """The baseline the mutations start from: every shipped file, fed through check(), compiles."""
    for name, text in SHIPPED_TEXT.items():
        compiled = check(text, replaced=name)
        assert isinstance(compiled, RuleSet)
        assert len(compiled.rules) == 44


@FUZZ_FEW
@given(data=st.data())
def test_mutated_user_rule_next_to_the_shipped_files(data):
    """A user file holding one shipped rule (it replaces that rule), mutated."""
    level3 = SHIPPED_FILES["level3.rules"]
    rules = [item for item in level3.items if isinstance(item, ast.RuleDef)]
    chosen = data.draw(st.sampled_from(rules), label="rule")
    lines = SHIPPED_TEXT["level3.rules"].split("\n")
    start = chosen.pos.line - 1
    end = next(i for i in range(start, len(lines)) if lines[i] == "}")
    text = "\n".join(lines[start:end + 1]) + "\n"
    try:
        parsed = parse_text(_mutate(text, data), FUZZ_PATH)
        compile_files([*SHIPPED_FILES.values(), parsed], [level3, parsed])
    except RuleError as error:
        assert error.message and "\n" not in error.one_line()


@FUZZ_FEW
@given(data=st.data())
def test_a_mutated_rule_set_that_compiles_runs_or_refuses(data):
    """Rules that compile after a mutation generate associations (or refuse with an AsnflowError)."""
    from asnflow.engine.generate import Options
    from asnflow.engine.session import generate_documents

    name = data.draw(st.sampled_from(["level2b.rules", "level3.rules"]), label="file")
    compiled = check(_mutate(SHIPPED_TEXT[name], data), replaced=name)
    if compiled is None:
        reject()
    logging.disable(logging.WARNING)  # duplicated rules warn about duplicated product names
    try:
        documents = generate_documents(SMALL_POOL, compiled, Options()).documents
        with tempfile.TemporaryDirectory() as folder:
            write(documents, folder)
    except AsnflowError as error:
        assert "\n" not in error.one_line()
    finally:
        logging.disable(logging.NOTSET)
