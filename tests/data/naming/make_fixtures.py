"""Regenerate the naming fixtures in this folder from jwst (the reference).

Run once with a Python that has jwst 3.0.0 installed (never a dependency of
asnflow), from the repository root:

    python tests/data/naming/make_fixtures.py tests/data/compat/expected.tar.xz

It writes remove_suffix.json (names and jwst's remove_suffix answer) and
level3_names.json (product-name inputs and jwst's product names for every
template). The inputs are fixed lists plus names built with a seeded random
generator, so the output is reproducible.
"""

from __future__ import annotations

import json
import random
import sys
import tarfile
from pathlib import Path

from jwst.associations.lib import dms_base, rules_level3, rules_level3_base
from jwst.lib.suffix import KNOW_SUFFIXES, remove_suffix

HERE = Path(__file__).resolve().parent


def corpus_names(archive: Path) -> list[str]:
    names: set[str] = set()
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if not member.name.endswith(".json"):
                continue
            data = json.load(tar.extractfile(member))
            for product in data["products"]:
                names.add(product["name"])
                names.update(m["expname"] for m in product["members"])
    return sorted(names)


def suffix_names(corpus: list[str]) -> list[str]:
    rng = random.Random(20240501)
    suffixes = sorted(KNOW_SUFFIXES)
    fixed = [
        "", "_", "-", "_cal", "-cal", "cal", "x_cal", "x-cal", "x_CAL", "X_Cal", "x_cal_rate",
        "x_rate_cal", "x-rate-cal", "x_cal-rate", "x__cal", "x--cal", "x_-cal", "x_calx", "x_ca",
        "x_residual_fringe", "x_fringe", "x_residual-fringe", "x_ami-oi", "x-ami-oi", "x_ami_oi",
        "x_aminorm-oi", "jw00001001001_01101_00001_nrca1_uncal",
        "jw00001001001_01101_00001_nrca1_uncal.fits", "jw00001001001_01101_00001_nrca1_myproc",
        "jw00001001001_01101_00001-seg001_nrca1_rateints", "dir/sub_cal/jw_00001_cal",
        "jw01234-o001_t001_nircam_clear-f200w_i2d", "jw01234-o001_t001_nircam_clear-f200w-i2d",
        "jw01234-o001_t001_nircam_clear-f200w_segm", "jw00747-o017_t002_nircam_f212n-wlm8-nrca4_{suffix}-04",
        "jw01234-o001_t001-{source_id}_nirspec_f100lp-g140m-{slit_name}-s200a2_x1d",
        "x_cal\n", "x\n", "\n", "x_cal\n\n", "x\ny_cal", "x_cal\ny", "x_cal\r", "x\t_cal",
        "x_cal ", " _cal", "_cal_cal", "-cal-cal", "a_b_c", "a-b-c", "jw_00001_x1dints",
        "x_step", "x_pipeline", "x_rscd_step", "x_rscd", "x_image2pipeline", "x_Image2Pipeline",
    ]
    built = []
    pieces = ["jw", "a", "x1", "nrs1", "t001", "o001", "f200w", "uncal", "step", "cal", "rate", "fits"]
    for _ in range(400):
        root = rng.choice(["_", "-", ""]).join(rng.choices(pieces, k=rng.randint(1, 4)))
        tail = rng.choice(suffixes + ["notasuffix", "CAL", "Rate", ""])
        sep = rng.choice(["_", "-", "", ".", "__"])
        built.append(root + sep + tail)
    sample = rng.sample(corpus, 150)
    stems = [Path(name).stem for name in sample]
    return sorted(set(fixed + built + sample + stems))


class _Constraint:
    def __init__(self, values):
        self.found_values = list(values)
        self.value = "-".join(values)


class _Constraints(dict):
    def get_all_attr(self, attribute, name=None):
        return [(c, getattr(c, attribute)) for key, c in self.items() if key == name]


class _Acid:
    def __init__(self, acid):
        self.id = acid


class _Asn:
    """Just enough of a jwst Level-3 association for the product-name functions."""

    get_target = dms_base.DMSBaseMixin.get_target
    get_instrument = dms_base.DMSBaseMixin.get_instrument
    get_opt_element = dms_base.DMSBaseMixin.get_opt_element
    get_slit_name = dms_base.DMSBaseMixin.get_slit_name
    get_subarray = dms_base.DMSBaseMixin.get_subarray
    get_exposure = dms_base.DMSBaseMixin.get_exposure

    def __init__(self, case):
        self.data = {"program": "{:0>5s}".format(case["program"])}
        self.acid = _Acid(case["acid"])
        constraints = _Constraints()
        for key in ("target", "instrument", "opt_elem", "opt_elem2", "fxd_slit", "fxd_slit2",
                    "subarray", "activity_id", "detector", "act_id"):
            if case.get(key) is not None:
                constraints[key] = _Constraint(case[key])
        self.constraints = constraints


def product_cases() -> list[dict]:
    rng = random.Random(7879)
    filters = ["f200w", "F090W", "clear", "CLEAR", "f100lp", "f430m", "p750l", "N/A", "null", "", "f212n"]
    pupils = ["g140m", "G140H", "maskrnd", "wlm8", "gr150r", "clear", "n", "NULL", "grismr", "prism"]
    slits = ["s200a1", "s200a2", "S400A1", "s1600a1", "s200b1", "null", "N/A", "S200A1"]
    subarrays = ["full", "FULL", "sub200a1", "maska430r", "subprism", "null", "s200a2", "sub96dhspila"]
    cases = [
        {"program": "99009", "acid": "o001", "target": ["1"], "instrument": ["nirspec"],
         "opt_elem": ["f100lp"], "opt_elem2": ["g140m"], "fxd_slit2": ["s200a2"], "fxd_slit": [],
         "subarray": ["s200a2"]},
        {"program": "747", "acid": "o017", "target": ["2"], "instrument": ["nircam"],
         "opt_elem": ["f212n"], "opt_elem2": ["wlm8"], "subarray": ["full"],
         "detector": ["nrca4"], "act_id": ["4"]},
        {"program": "1234", "acid": "c1000", "target": [], "instrument": ["nircam"],
         "opt_elem": ["f210m"], "opt_elem2": ["maskrnd"], "subarray": ["full"]},
        {"program": "10005", "acid": "a3001", "instrument": ["nircam"]},
        {"program": "1", "acid": "o002", "target": ["1", "2"], "instrument": ["miri"],
         "opt_elem": ["F560W", "f770w"], "opt_elem2": ["F560W"], "fxd_slit": ["S200A1"],
         "fxd_slit2": ["s200a1"], "subarray": ["full", "sub64"], "activity_id": ["2"]},
    ]
    for index in range(80):
        def some(values, k_max=2, missing=0.2):
            if rng.random() < missing:
                return None
            return rng.sample(values, rng.randint(0, k_max))
        cases.append({
            "program": str(rng.choice([1, 9, 747, 1234, 99009, 123456])),
            "acid": rng.choice(["o001", "c1000", "a3001", "o999", "c1016"]),
            "target": some(["1", "2", "12", "1234", "0"], 2, 0.1),
            "instrument": rng.choice([["nirspec"], ["NIRCam"], ["miri"], ["niriss"], ["fgs"]]),
            "opt_elem": some(filters),
            "opt_elem2": some(pupils),
            "fxd_slit": some(slits),
            "fxd_slit2": some(slits),
            "subarray": some(subarrays, 1),
            "activity_id": some(["1", "02", "null", "a"], 1, 0.5),
            "detector": ["nrca" + str(index % 5 + 1)],
            "act_id": [rng.choice(["4", "02", "1a", ""])],
        })
    return cases


def product_names(cases: list[dict]) -> list[dict]:
    functions = {
        "default": rules_level3_base.DMS_Level3_Base._dms_product_name,
        "noopt": rules_level3_base.dms_product_name_noopt,
        "sources": rules_level3_base.dms_product_name_sources,
        "wfss": rules_level3_base.dms_product_name_wfss,
        "nrsfs_sources": rules_level3_base.dms_product_name_nrsfs_sources,
        "coronimage": rules_level3_base.dms_product_name_coronimage,
    }
    out = []
    for case in cases:
        asn = _Asn(case)
        expected = {name: function(asn) for name, function in functions.items()}
        expected["opt_elem"] = asn.get_opt_element()
        expected["slit_name"] = asn.get_slit_name()
        expected["subarray"] = asn.get_subarray()
        expected["target"] = asn.get_target()
        expected["exposure"] = asn.get_exposure()
        expected["wfscmb"] = rules_level3_base.format_product(
            "{existing}-{detector}_{suffix}-{expspcin}",
            existing=expected["default"],
            detector=asn.constraints["detector"].value if "detector" in asn.constraints else None,
            expspcin=asn.constraints["act_id"].value if "act_id" in asn.constraints else None,
        ).lower()
        out.append({"input": case, "expected": expected})
    return out


def one_per_line(items: list) -> str:
    return "[\n" + ",\n".join(json.dumps(item) for item in items) + "\n]\n"


def main() -> None:
    corpus = corpus_names(Path(sys.argv[1]))
    pairs = [[name, *remove_suffix(name)] for name in suffix_names(corpus)]
    (HERE / "remove_suffix.json").write_text(one_per_line(pairs))
    assert rules_level3.Asn_Lv3WFSCMB  # the WFSCMB template above is Asn_Lv3WFSCMB.dms_product_name
    names = product_names(product_cases())
    (HERE / "level3_names.json").write_text(one_per_line(names))
    print(len(pairs), "remove_suffix cases,", len(names), "product-name cases")


if __name__ == "__main__":
    main()
