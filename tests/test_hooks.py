"""The hook registry: what hooks declare, and parameters set from a rule file.

A hook's parameters are written in the rule (``finalize
multi_obs_check(types: mosaic)``) and change what the hook does; what a hook
reads is declared, and a rule without it is refused (the broken files
``hook_*.rules`` of tests/data/broken_rules check the messages and places).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import asnflow
from asnflow import hooks
from asnflow.errors import RuleError

POOL = Path(__file__).parent / "data" / "compat" / "pools" / "pool_002_image_miri.csv"

# The shipped Asn_Lv3Image, but checking only mosaic candidates for a second observation.
IMAGE_RULE = """
rule Asn_Lv3Image "Science imaging, group candidates of one observation allowed" {{
    asn_type image3
    level 3
    frame science
    finalize multi_obs_check{arguments}

    use optical_path3, target3, image3, not_wfsc_visit3, not_bkgd_or_tso
}}
"""


@pytest.fixture
def group_pool(tmp_path) -> Path:
    """A MIRI imaging pool whose first half also belongs to a group candidate (of one observation)."""
    with POOL.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="|"))
    for row in rows[: len(rows) // 2]:
        row["asn_candidate"] = "[('o001', 'observation'), ('c1000', 'group')]"
    path = tmp_path / "group_pool.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter="|", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _image3_candidates(associations) -> list[str]:
    return sorted(a["asn_id"] for a in associations if a["asn_type"] == "image3")


def test_a_hook_parameter_from_a_rule_file_changes_what_the_step_keeps(group_pool, tmp_path):
    # By default a group candidate spanning one observation is dropped ...
    default = asnflow.generate(group_pool, all_candidates=True)
    assert _image3_candidates(default) == ["o001"]
    # ... and so it is when the rule gives the default types itself ...
    same = tmp_path / "same.rules"
    same.write_text(IMAGE_RULE.format(arguments="(types: group background mosaic)"))
    assert _image3_candidates(asnflow.generate(group_pool, all_candidates=True, rules=[same])) == ["o001"]
    # ... but a rule that checks only mosaics keeps it.
    mosaics = tmp_path / "mosaics.rules"
    mosaics.write_text(IMAGE_RULE.format(arguments="(types: mosaic)"))
    kept = asnflow.generate(group_pool, all_candidates=True, rules=[mosaics])
    assert _image3_candidates(kept) == ["c1000", "o001"]


def test_generate_refuses_a_rule_without_a_constraint_its_hook_reads(tmp_path):
    rules = tmp_path / "no_obs_num.rules"
    rules.write_text('rule Asn_Mine "no frame, so no obs_num" {\n    level 3\n    asn_type image3\n'
                     "    finalize multi_obs_check\n    pin program = program\n}\n")
    with pytest.raises(RuleError) as caught:
        asnflow.generate(POOL, rules=[rules])
    error = caught.value
    assert "multi_obs_check reads constraint obs_num" in error.message
    assert (error.path, error.line, error.column) == (str(rules), 4, 14)


def test_every_declared_read_and_parameter_is_well_formed():
    for table in hooks.ALL_TABLES:
        for name, hook in table.items():
            assert hook.name == name
            assert set(hook.reads).isdisjoint(hook.uses), name
            for param in hook.params:
                assert param.type in ("words", "word"), (name, param.name)
                assert param.doc, (name, param.name)
                if param.choices:
                    assert param.default in param.choices, (name, param.name)


def test_parameters_are_bound_with_their_defaults():
    step = hooks.FINALIZE_STEPS["multi_obs_check"]
    assert step.bind({}).keywords == {"types": ("group", "background", "mosaic")}
    assert step.bind({"types": ("mosaic",)}).keywords == {"types": ("mosaic",)}
    # A hook without parameters is its plain function.
    policy = hooks.EXPOSURE_POLICIES["level3"]
    assert policy.bind({}) is policy.function
