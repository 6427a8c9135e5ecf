"""``asnflow rules check`` and the checks ``generate -r`` runs on user rule files.

Every file in tests/data/broken_rules/ starts with ``# expect: LINE[:COL]:
error: MESSAGE``: the first error the checker reports must be at that place
and its message must contain MESSAGE, through the library, through ``asnflow
rules check`` (with the source line and a caret) and through ``asnflow
generate -r`` (one line on stderr, exit status 2).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from asnflow.assoc_rules.check import LENIENT_CODES, check_paths, check_rule_files, render
from asnflow.assoc_rules.parse import _EXAMPLES, parse_text
from asnflow.cli import main
from asnflow.config import load_config
from asnflow.errors import RuleError

DATA = Path(__file__).parent / "data"
BROKEN = DATA / "broken_rules"
POOL = DATA / "compat" / "pools" / "pool_002_image_miri.csv"
EXAMPLE = Path(__file__).parent.parent / "examples" / "user_rules"
EXPECT = re.compile(r"# expect: (?P<line>\d+)(?::(?P<column>\d+))?: error: (?P<message>.+)")


def _expectation(path: Path) -> re.Match:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    found = EXPECT.fullmatch(first)
    assert found, f"{path.name} has no `# expect:` line"
    return found


BROKEN_FILES = sorted(p for p in BROKEN.glob("*.rules") if p.read_bytes().startswith(b"# expect:"))
WARNING_FILES = sorted(p for p in BROKEN.glob("*.rules") if p.read_bytes().startswith(b"# warnings:"))


def _first_error(path: Path):
    result = check_rule_files([path])
    assert result.errors, f"{path.name}: no error reported"
    return result, result.errors[0]


def test_there_are_enough_broken_files():
    assert len(BROKEN_FILES) >= 30


@pytest.mark.parametrize("path", BROKEN_FILES, ids=lambda p: p.stem)
def test_checker_reports_the_place_and_message(path):
    expected = _expectation(path)
    _, error = _first_error(path)
    assert error.path == str(path)
    assert error.line == int(expected["line"])
    if expected["column"]:
        assert error.column == int(expected["column"])
    assert expected["message"] in error.message


@pytest.mark.parametrize("path", BROKEN_FILES, ids=lambda p: p.stem)
def test_rules_check_shows_the_line_with_a_caret(path, capsys):
    expected = _expectation(path)
    assert main(["rules", "check", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    head = f"{path}:{expected['line']}:" + (f"{expected['column']}:" if expected["column"] else "")
    lines = out.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(head + " error:"))
    assert expected["message"] in lines[index]
    source = path.read_bytes().decode("utf-8", errors="replace").splitlines()[int(expected["line"]) - 1]
    shown = lines[index + 1]
    assert shown.endswith(source.expandtabs(1).rstrip())
    if expected["column"]:
        caret = lines[index + 2]
        assert caret.index("^") - caret.index("|") - 2 == int(expected["column"]) - 1
        # the caret sits under the same character in the source line
        assert shown.index("|") == caret.index("|")
    assert re.search(r"\d+ errors?, \d+ warnings? in 1 rule file", err)


@pytest.mark.parametrize("path", BROKEN_FILES, ids=lambda p: p.stem)
def test_generate_with_a_broken_user_file(path, capsys, caplog, tmp_path):
    expected = _expectation(path)
    status = main(["generate", str(POOL), "-r", str(path), "-p", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    _, error = _first_error(path)
    if error.code in LENIENT_CODES:
        # a column outside the declared list may exist in a user's pool: a warning, and the run goes on
        assert status == 0
        assert f"{path}:{expected['line']}:{expected['column']}: warning: {error.message}" in caplog.text
        return
    assert status == 2
    lines = err.splitlines()
    assert len(lines) == 1
    head = f"{path}:{expected['line']}:" + (f"{expected['column']}:" if expected["column"] else "")
    assert lines[0].startswith(head + " error: ")
    assert expected["message"] in lines[0]
    assert not (tmp_path / "out").exists()


def test_every_error_in_a_file_is_reported(tmp_path):
    path = tmp_path / "several.rules"
    path.write_text(
        'rule Asn_A "a" {\n'
        "    level 3\n"
        "    asn_type image3\n"
        "    frame science\n"
        "    use optcal_path3\n"
        '    pin exp_type = exp_type ~ "nrc_(image"\n'
        "    pin opt_elem = filtr\n"
        "}\n"
        'rule Asn_B "b" {\n'
        "    level 2b\n"
        "    product levl2\n"
        "}\n",
        encoding="utf-8",
    )
    result = check_rule_files([path])
    found = [(d.line, d.code) for d in result.errors]
    assert found == [(5, "unknown-fragment"), (6, "bad-regex"), (7, "unknown-column"), (9, "missing-asn-type"),
                     (11, "unknown-hook")]
    assert result.rule_set is None


def test_the_shipped_rules_pass(capsys):
    result = check_rule_files()
    assert result.diagnostics == []
    assert result.rule_set is not None and len(result.rule_set.rules) == 44
    assert main(["rules", "check"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip() == "0 errors, 0 warnings in 3 rule files"


def test_every_column_the_shipped_rules_read_is_declared():
    config = load_config()
    paths = [*config.definition_files, *config.rule_files]
    narrowed = check_paths(paths, rule_paths=config.rule_files, columns=[c for c in config.pool_columns
                                                                         if c != "patttype"])
    unknown = {d.message for d in narrowed.errors}
    assert "unknown pool column patttype" in unknown  # the check does look at the declared list


def test_unused_definitions_are_warnings(tmp_path, capsys, caplog):
    path = tmp_path / "unused.rules"
    path.write_text(
        "list my_unused_list = nrc_image\n"
        "table my_unused_table (a, b) {\n    x  y\n}\n"
        "fragment my_unused_fragment {\n    pin a = filter\n}\n"
        'predicate my_unused_predicate = filter == "f200w"\n'
        "list my_types = nrc_image mir_image without fgs_image\n"
        'rule Asn_MyImage "mine" {\n    level 3\n    asn_type image3\n    frame science\n'
        "    pin exp_type = exp_type ~ my_types\n    any {\n    }\n}\n",
        encoding="utf-8",
    )
    result = check_rule_files([path])
    assert result.errors == []
    assert [(d.line, d.code) for d in result.warnings] == [
        (1, "unused-list"), (2, "unused-table"), (5, "unused-fragment"), (8, "unused-predicate"),
        (9, "useless-without"), (15, "empty-group")]
    assert main(["rules", "check", str(path)]) == 0
    assert main(["rules", "check", "--warnings-as-errors", str(path)]) == 2
    out, _ = capsys.readouterr()
    assert f"{path}:1:6: warning: list my_unused_list is not used by any rule" in out
    # generate -r goes on and logs the warnings
    assert main(["generate", str(POOL), "-r", str(path), "--dry-run"]) == 0
    assert "warning: fragment my_unused_fragment is not used by any rule" in caplog.text


def test_brief_output_is_one_line_per_finding(capsys):
    path = BROKEN / "unknown_fragment.rules"
    assert main(["rules", "check", "--brief", str(path)]) == 2
    out, _ = capsys.readouterr()
    assert out.splitlines() == [f"{path}:6:9: error: unknown fragment optcal_path3 (hint: did you mean optical_path3?)"]


def test_a_missing_file_is_one_error(tmp_path, capsys):
    missing = tmp_path / "nope.rules"
    assert main(["rules", "check", str(missing)]) == 2
    out, _ = capsys.readouterr()
    assert out.strip() == f"{missing}: error: rule file not found"
    assert main(["generate", str(POOL), "-r", str(missing), "--dry-run"]) == 2
    _, err = capsys.readouterr()
    assert err.strip() == f"{missing}: error: rule file not found"


def test_rules_yaml_is_checked(tmp_path, capsys):
    shipped = load_config()
    config = tmp_path / "rules.yaml"
    files = "\n".join(f"  - {p}" for p in shipped.rule_files)
    config.write_text(
        f"definitions:\n  - {shipped.definition_files[0]}\nrules:\n{files}\n"
        "calibration:\n  image2: native:image2\n  image3: native:no_such_module\n  spec2: pipeline:Spec2\n"
        "pool_columns: [Filename]\n",
        encoding="utf-8",
    )
    result = check_rule_files(config_path=config)
    errors = [(d.code, d.line) for d in result.errors]
    assert ("unknown-module", 8) in errors and ("unknown-module", 9) in errors and ("column-case", 10) in errors
    # rules whose asn_type has no calibration module are warnings, at their asn_type line
    missing = {d.message for d in result.warnings if d.code == "no-calibration"}
    assert "no calibration module for asn_type spec3" in missing
    assert main(["rules", "check", "--config", str(config)]) == 2
    capsys.readouterr()


def test_each_known_syntax_mistake_is_recognised():
    # The messages in parse._EXAMPLES are chosen by matching the parser state of
    # example mistakes; each example must give its own message back.
    for (message, hint), examples in _EXAMPLES.items():
        for example in examples:
            with pytest.raises(RuleError) as caught:
                parse_text(example, "example.rules")
            assert caught.value.message.startswith(message), (example, caught.value.message)
            assert caught.value.hint == hint or message.startswith("unknown setting")


def test_render_points_at_the_column():
    result = check_rule_files([BROKEN / "bad_regex.rules"])
    error = result.errors[0]
    text = render(error, result.source_line(error))
    head, source, caret, hint = text.splitlines()
    assert head.endswith("error: regular expression does not compile: missing ), unterminated subpattern")
    assert source == ' 6 |     pin exp_type = exp_type ~ "nrc_(image|mir_image"'
    assert source[caret.index("^")] == "("
    assert hint.startswith("  hint: values are Python regular expressions")


def test_the_example_user_rule_file_is_clean():
    result = check_rule_files([EXAMPLE / "mrs_per_band.rules"])
    assert result.diagnostics == []
    assert [r.name for r in result.rule_set.rules].count("Asn_Lv3MIRMRS") == 1
    replaced = result.rule_set.rule("Asn_Lv3MIRMRS")
    assert Path(replaced.path).name == "mrs_per_band.rules"


def test_a_shipped_file_can_be_checked_by_name(capsys):
    import os

    level3 = load_config().rule_files[-1]
    for name in (str(level3), os.path.relpath(level3)):
        assert main(["rules", "check", name]) == 0
        out, err = capsys.readouterr()
        assert out == "" and err.strip() == "0 errors, 0 warnings in 1 rule file"
