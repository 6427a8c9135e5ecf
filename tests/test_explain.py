"""``asnflow explain``: where an exposure ended, and why each other rule did not take it.

Memberships are checked against the files jwst 3.0.0 wrote for the corpus
pools; the walk that finds a stopping constraint is checked against the
engine's own answer for every exposure, rule and pass of several pools.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from asnflow import __version__
from asnflow.cli import main
from asnflow.constraints.nodes import Attempt
from asnflow.constraints.rows import Row
from asnflow.diagnose.explain import explain, find_rows
from asnflow.diagnose.outcomes import Outcomes
from asnflow.diagnose.sources import SourceIndex
from asnflow.diagnose.trace import Tracer, passes_of, try_rule
from asnflow.engine.association import Association, RunState
from asnflow.engine.generate import CANDIDATE_REGISTRY, DISCOVER_REGISTRY, Options, generate
from asnflow.engine.passes import candidate_test
from asnflow.engine.session import rule_set
from asnflow.pool.read import read_pool

RULE_LINE = re.compile(r"^(Asn_\w+) \((\S+\.rules):(\d+)\)(?: in ([^:]+))?: (.*)$")


@pytest.fixture(scope="module")
def rules():
    return rule_set()


def _root(name: str) -> str:
    """jw..._nrca1 from jw..._nrca1_uncal.fits / _cal.fits / _x1d.fits."""
    return name.rsplit(".", 1)[0].rsplit("_", 1)[0]


def _expected_files(compat_dir: Path, pool: str) -> dict[str, set[str]]:
    """exposure root -> the association files jwst wrote that list it."""
    found: dict[str, set[str]] = {}
    for path in (compat_dir / "expected" / pool).glob("*_asn.json"):
        for product in json.loads(path.read_text())["products"]:
            for member in product["members"]:
                found.setdefault(_root(member["expname"]), set()).add(path.name)
    return found


def _parse(out: str) -> tuple[set[str], dict[str, list[str]]]:
    """The association files listed at the top, and each rule's lines."""
    files: set[str] = set()
    per_rule: dict[str, list[str]] = {}
    lines = out.splitlines()
    if "associations:" in lines[2] or "association:" in lines[2]:
        for line in lines[3:]:
            if not line.startswith("  "):
                break
            files.add(line.split()[0])
    for line in lines:
        found = RULE_LINE.match(line)
        if found:
            per_rule.setdefault(found[1], []).append(found[5])
    return files, per_rule


CHOSEN = ["pool_002_image_miri", "pool_010_spec_nirspec_lv2bkg", "pool_017_spec_nirspec_lv2imprint",
          "pool_019_niriss_wfss", "pool_021_tso", "seed_fs_pool", "cover_lrsnod_pool", "seed_coron_pool"]


@pytest.mark.parametrize("pool_name", CHOSEN)
def test_explain_names_every_association_jwst_made(pool_name, compat_dir, rules, capsys):
    pool_path = compat_dir / "pools" / f"{pool_name}.csv"
    expected = _expected_files(compat_dir, pool_name)
    pool = read_pool(pool_path)
    names = pool.column("filename")
    # the exposure that jwst put in the most associations
    chosen = max(names, key=lambda name: (len(expected.get(_root(name), ())), name))
    assert expected.get(_root(chosen)), pool_name
    assert main(["explain", str(pool_path), chosen, "--full"]) == 0
    out = capsys.readouterr().out
    files, per_rule = _parse(out)
    assert files == expected[_root(chosen)]
    assert list(per_rule) == [rule.name for rule in rules.rules]  # every rule, in order
    for name, lines in per_rule.items():
        for text in lines:
            # taken; or what happened to its association; or the constraint that stopped it, with its place
            assert (text.startswith("taken, as ") or text.startswith("its ")
                    or re.search(r"\[\w+\.rules:\d+:\d+, (rule|fragment|frame) \w+\]$", text)
                    or "constraints accept it" in text), (name, text)
        taken = [t for t in lines if t.startswith("taken")]
        for text in taken:
            assert text.split(" in ", 1)[1] in files


def test_outcomes_match_jwst_for_every_exposure(compat_dir, rules):
    for pool_name in ("pool_018_all_exptypes", "pool_006_spec_nirspec", "cover_nrcwfss_pool", "seed_ifu_pool"):
        expected = _expected_files(compat_dir, pool_name)
        pool = read_pool(compat_dir / "pools" / f"{pool_name}.csv")
        outcomes = Outcomes(generate(pool, rules))
        for name in pool.column("filename"):
            ours = {m.file_name for m in outcomes.memberships(name)}
            assert ours == expected.get(_root(name), set()), (pool_name, name)


@pytest.mark.parametrize("pool_name", ["pool_018_all_exptypes", "pool_021_tso", "cover_lrsnod_pool",
                                       "cover_nrslamp_pool", "pool_017_spec_nirspec_lv2imprint"])
def test_the_walk_agrees_with_the_engine(pool_name, compat_dir, rules):
    # For every exposure, rule and pass: the explain walk matches exactly when
    # the engine's constraint tree does, and names a reason exactly when it does not.
    pool = read_pool(compat_dir / "pools" / f"{pool_name}.csv")
    result = generate(pool, rules)
    columns = {name: i for i, name in enumerate(pool.columns)}
    run = RunState(vocab=rules.vocab, pool_name=pool.name, code_version=__version__, columns=tuple(pool.columns))
    index = SourceIndex(rules)
    compared = 0
    for values, line in zip(pool.rows, pool.lines):
        for view in passes_of(Row(values, columns, line), result, discover=True):
            for rule in rules.rules:
                if view.candidate_id is None:
                    root, registry = rule.root, DISCOVER_REGISTRY
                else:
                    root = rule.root_with(candidate_test(rule))
                    registry = CANDIDATE_REGISTRY
                engine_asn, traced_asn = (Association(rule, registry, run, None, root) for _ in range(2))
                engine_asn.pass_candidate = traced_asn.pass_candidate = view.candidate_id
                engine, _ = root.check(Attempt(engine_asn, view.row))
                traced = Tracer(index, Attempt(traced_asn, view.row)).trace(root)
                assert traced.matched == engine, (pool_name, view.row.filename, view.label, rule.name)
                assert (traced.reason is None) == engine
                compared += 1
    assert compared > 100


def _line_of(rules, file_name: str, text: str) -> int:
    for rule_file in rules.files:
        if Path(rule_file.path).name == file_name:
            return next(i for i, line in enumerate(rule_file.lines, 1) if text in line)
    raise AssertionError(file_name)


def test_reason_names_column_value_wanted_and_place(compat_dir, rules):
    pool = read_pool(compat_dir / "pools" / "pool_002_image_miri.csv")
    explanation = explain(pool, rules, "jw_00001_uncal.fits")
    verdicts = {v.rule.name: v for v in explanation.verdicts}
    fgs = verdicts["Asn_Lv2FGS"]
    assert not fgs.memberships and not fgs.fates
    assert {stop.pass_label for stop in fgs.stops} == {"candidate o001", "discovery"}
    reason = fgs.stops[0].reason
    assert (reason.kind, reason.column, reason.value, reason.wanted) == ("value", "exp_type", "mir_image",
                                                                         "fgs_image|fgs_focus")
    assert reason.pos.line == _line_of(rules, "level2b.rules", 'pin exp_type = exp_type ~ "fgs_image|fgs_focus"')
    assert reason.definition == "rule Asn_Lv2FGS"
    # a reason from a fragment says which
    special = verdicts["Asn_Lv2ImageSpecial"].stops[0].reason
    assert special.kind == "missing" and special.definition == "fragment special2"
    # the target acquisition branch of the level-3 frame is listed as an alternative
    coron = verdicts["Asn_Lv3MIRCoron"].stops[0].reason
    assert coron.kind == "any" and [a.kind for a in coron.alternatives] == ["value", "check"]
    assert coron.alternatives[1].text == '`base_exptype == "target_acquisition"` is false (base_exptype = "science")'


def test_fates_say_what_happened(compat_dir, rules, capsys):
    pool_path = compat_dir / "pools" / "pool_002_image_miri.csv"
    expected = _expected_files(compat_dir, "pool_002_image_miri")["jw_00001"]
    assert main(["explain", str(pool_path), "jw_00001_uncal.fits", "--full"]) == 0
    _, per_rule = _parse(capsys.readouterr().out)
    # the discovered image3 association with the same members lost to the candidate one
    pruned = [t for t in per_rule["Asn_Lv3Image"] if "pruned" in t]
    assert len(pruned) == 1 and pruned[0].startswith("its image3 association of a3001 was pruned (same members)")
    kept = pruned[0].split("kept instead: ", 1)[1].split()[0]
    assert kept in expected
    # a MIRI image joins the MIRI WFSS association as a direct image, which is dropped without a grism exposure
    assert per_rule["Asn_Lv2WFSSMIR"] == ["its spec2 association of o001 was dropped: not valid: has_science"]
    # a rule whose associations can never be valid for this candidate says so
    assert per_rule["Asn_Lv3ImageMosaic"] == [
        "its constraints accept it, but an association it starts is never valid: is_type_mosaic "
        "(Only from mosaic candidates)"]


def test_a_none_group_names_what_matched(compat_dir, rules):
    pool = read_pool(compat_dir / "pools" / "pool_021_tso.csv")
    explanation = explain(pool, rules, "jw_00003_uncal.fits", rule_names=["Asn_Lv2Image", "Asn_Lv2ImageTSO"])
    image, tso = explanation.verdicts
    assert tso.memberships and tso.memberships[0].exptype == "science"
    reason = image.stops[0].reason
    assert reason.kind == "excluded" and reason.definition == "fragment not_tso"
    assert reason.matched == ('pntgtype is "science"', 'tsovisit is "t"')


def test_candidate_option_limits_the_passes(compat_dir, capsys):
    pool_path = compat_dir / "pools" / "pool_001_candidates.csv"
    pool = read_pool(pool_path)
    name = next(n for n, c in zip(pool.column("filename"), pool.column("asn_candidate")) if "o001" in c)
    assert main(["explain", str(pool_path), name, "-i", "o001", "--rule", "Asn_Lv2Image"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1] == "offered in: candidate o001"
    for line in out.splitlines()[2:]:
        assert "a3001" not in line  # no discovery pass with -i


def test_refusals_are_one_line(compat_dir, capsys):
    pool_path = compat_dir / "pools" / "pool_002_image_miri.csv"
    assert main(["explain", str(pool_path), "jw_99999_uncal.fits"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"{pool_path}: error: no exposure jw_99999_uncal.fits in the pool")
    assert main(["explain", str(pool_path), "jw_0000"]) == 2  # a prefix of several exposures
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "exposures start with that" in err[0]
    assert main(["explain", str(pool_path), "jw_00001", "--rule", "Asn_Lv3Imag"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("asnflow: error: no rule named Asn_Lv3Imag (hint: did you mean Asn_Lv3Image")
    assert main(["explain", str(compat_dir / "pools" / "missing.csv"), "jw_00001"]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_a_unique_prefix_finds_the_exposure(compat_dir):
    pool = read_pool(compat_dir / "pools" / "pool_002_image_miri.csv")
    assert [row.filename for row in find_rows(pool, "JW_00003")] == ["jw_00003_uncal.fits"]


def test_explain_with_a_user_rule(rules):
    example = Path(__file__).parent.parent / "examples" / "user_rules"
    user_rules = rule_set([str(example / "mrs_per_band.rules")])
    pool = read_pool(example / "mrs_pool.csv")
    explanation = explain(pool, user_rules, "jw01523001001_02101_00001_mirimage_uncal.fits",
                          rule_names=["Asn_Lv3MIRMRS"])
    memberships = explanation.verdicts[0].memberships
    assert len(memberships) == 3 and {m.exptype for m in memberships} == {"target_acquisition"}
    products = {m.product for m in memberships}
    assert products == {f"jw01523-o001_t001_miri_{band}" for band in ("short", "medium", "long")}
    # with the default rules, one product holds every band
    default = explain(pool, rules, "jw01523001001_02101", rule_names=["Asn_Lv3MIRMRS"]).verdicts[0]
    assert [m.product for m in default.memberships] == ["jw01523-o001_t001_miri"]


def test_try_rule_reports_never_valid_associations(compat_dir, rules):
    pool = read_pool(compat_dir / "pools" / "pool_002_image_miri.csv")
    result = generate(pool, rules, Options())
    row = find_rows(pool, "jw_00001_uncal.fits")[0]
    run = RunState(vocab=rules.vocab, pool_name=pool.name, code_version=__version__, columns=tuple(pool.columns))
    view = passes_of(row, result, discover=True)[0]
    stop = try_rule(rules.rule("Asn_Lv3ImageMosaic"), view, rules, run, SourceIndex(rules))
    assert stop.reason is None and stop.invalid == ("is_type_mosaic",)


# ---------------------------------------------------------------- short by default, --full, the legend

MIRI_POOL = "pool_002_image_miri"


def _explain_cli(compat_dir, capsys, *extra: str) -> list[str]:
    assert main(["explain", str(compat_dir / "pools" / f"{MIRI_POOL}.csv"), "jw_00001_uncal.fits", *extra]) == 0
    return capsys.readouterr().out.splitlines()


def test_default_answer_is_short_one_line_per_asn_type(compat_dir, rules, capsys):
    short = _explain_cli(compat_dir, capsys)
    full = _explain_cli(compat_dir, capsys, "--full")
    assert len(short) < 25 < len(full)
    files, _ = _parse("\n".join(short))
    assert files == _expected_files(compat_dir, MIRI_POOL)["jw_00001"]
    start = short.index("by asn_type (for the rest, the rule that came nearest; --full for every rule):")
    families = {}
    for line in short[start + 1:]:
        if not line.startswith("  ") or line.startswith("  no rule of "):
            break
        asn_type, text = line.split(None, 1)
        families[asn_type] = text
    assert families["image2"] == "taken by Asn_Lv2Image (as science)"
    assert families["image3"] == "taken by Asn_Lv3Image (as science)"
    assert families["spec2"].startswith("Asn_Lv2WFSSMIR (level2b.rules:")  # held it, then dropped
    assert families["spec2"].endswith("was dropped: not valid: has_science")
    # a family nobody took it in names the single nearest rule, with the constraint and its place
    assert re.fullmatch(r'nearest Asn_Lv2ImageTSO \(level2b\.rules:\d+\): tsovisit is "f", which counts as no '
                        r'value: the rule needs a value.*\[common\.rules:\d+:\d+\]', families["tso-image2"])
    # the families whose rules never take a MIRI image are named together, once
    rest = next(line for line in short if line.startswith("  no rule of "))
    assert "coron3" in rest and "spec3" in rest and rest.endswith("takes exp_type mir_image")
    # every family of the rule set is accounted for
    named = set(families) | set(rest.removeprefix("  no rule of ").split(" takes ")[0].split(", "))
    assert named == {rule.asn_type for rule in rules.rules}


def test_the_target_acquisition_alternative_is_said_once(compat_dir, capsys):
    for extra in ((), ("--full",)):
        out = _explain_cli(compat_dir, capsys, *extra)
        mentions = [line for line in out if 'base_exptype == "target_acquisition"' in line
                    and "frame science" in line]
        assert len(mentions) == 1, (extra, mentions)
        assert mentions[0].startswith("an alternative shared by 19 of these rules, said once: ")
    full = _explain_cli(compat_dir, capsys, "--full")
    coron = next(line for line in full if line.startswith("Asn_Lv3MIRCoron "))
    assert coron.endswith('not taken: exp_type is "mir_image"; the rule wants ~ "mir_lyot|mir_4qpm"  '
                          f'[level3.rules:{coron.split("[level3.rules:")[1]}')
    assert "alternative" not in coron


def test_a_legend_explains_the_notation_and_values_that_count_as_none(compat_dir, capsys):
    for extra in ((), ("--full",)):
        text = " ".join(_explain_cli(compat_dir, capsys, *extra))
        assert "notation: " in text
        assert '~ "A|B": the rule wants the value to match the regular expression A|B' in text
        assert "f, n, false, null, n/a, -- and an empty cell count as no value" in text
    full = _explain_cli(compat_dir, capsys, "--full")
    tso = next(line for line in full if line.startswith("    - tsovisit"))
    assert 'tsovisit is "f", which counts as no value' in tso
    special = next(line for line in full if line.startswith("Asn_Lv2ImageSpecial "))
    assert "the pool has no column bkgdtarg" in special
