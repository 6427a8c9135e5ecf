"""FGS imaging and NIRSpec imaging (traditional readout) in the realistic generator and its CRDS cache (no jwst)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from stdatamodels.jwst import datamodels
from test_demo_realistic import best_references, write_program_cache

from asnflow.calib.detector1 import run_detector1
from asnflow.calib.refs import CrdsRefs
from asnflow.demo.instruments import fgs, nirspec
from asnflow.demo.raw import Program, pool_rows

DETECTOR1 = ("mask", "saturation", "superbias", "ipc", "linearity", "dark", "gain", "readnoise")
IMAGE = ("flat", "photom", "area", "distortion", "apcorr", "abvegaoffset")


@pytest.fixture(scope="module")
def programs():
    return {"fgs": Program(fgs(6), 32), "nirspec": Program(nirspec(6), 32)}


@pytest.fixture(scope="module")
def cache(programs, tmp_path_factory):
    return write_program_cache(programs.values(), tmp_path_factory.mktemp("cache") / "crds")


def is_na(answer: str) -> bool:
    return answer.upper().startswith("NOT FOUND N/A")


def test_fgs_selects_its_references_without_a_filter_and_has_no_filter_offsets(programs, cache):
    program = programs["fgs"]
    flats = set()
    for exposure in (program.exposures()[0], program.exposures()[-1]):  # FGSRAPID and FGS read patterns
        model = program.raw_model(exposure)
        assert model.meta.instrument.filter is None and model.meta.instrument.pupil is None
        found = best_references(cache, model, [*DETECTOR1, *IMAGE, "filteroffset", "refpix", "pars-jumpstep"])
        for reftype in (*DETECTOR1, *IMAGE):
            assert f"jwst_fgs_{reftype}_" in found[reftype], (reftype, found[reftype])
        for reftype in ("filteroffset", "refpix", "pars-jumpstep"):
            assert is_na(found[reftype]), (reftype, found[reftype])
        flats.add(found["flat"])
    assert len(flats) == 1  # one element (CLEAR), one flat
    with datamodels.open(found["photom"]) as photom:
        assert isinstance(photom, datamodels.FgsImgPhotomModel) and len(photom.phot_table) == 1
    with datamodels.open(found["apcorr"]) as apcorr:
        assert "filter" not in apcorr.apcorr_table.dtype.names  # jwst's source catalog reads FGS's table whole
    with datamodels.ABVegaOffsetModel(found["abvegaoffset"]) as abvega:
        assert list(abvega.abvega_offset["detector"]) == ["GUIDER1"]


def test_nirspec_gets_detector1_references_only_and_a_nirspec_dark(programs, cache):
    program = programs["nirspec"]
    model = program.raw_model(program.exposures()[-1])
    assert (model.meta.exposure.readpatt, model.meta.exposure.nframes) == ("NRS", 4)
    found = best_references(cache, model, [*DETECTOR1, *IMAGE, "refpix", "sirskernel"])
    for reftype in DETECTOR1:
        assert f"jwst_nirspec_{reftype}_" in found[reftype], (reftype, found[reftype])
    for reftype in (*IMAGE, "refpix", "sirskernel"):  # stage 2 is jwst's; refpix references are IRS2's
        assert is_na(found[reftype]), (reftype, found[reftype])
    with datamodels.open(found["dark"]) as dark:
        assert isinstance(dark, datamodels.DarkNirspecModel)


def test_references_and_raw_files_validate(programs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for program in programs.values():
            for ref in program.cache_references():
                if hasattr(ref.model, "validate"):
                    ref.model.validate()
            program.raw_model(program.exposures()[0]).validate()


def test_fgs_pool_rows_name_no_filter_and_make_a_clear_image3_product(programs, tmp_path):
    import asnflow
    from asnflow.demo.raw import pool_name, pool_text

    program = programs["fgs"]
    assert {row["filter"] for row in pool_rows(program)} == {"NULL"}
    pool = tmp_path / pool_name(program)
    pool.write_text(pool_text(program), encoding="utf-8")
    documents = list(asnflow.generate(pool))
    image3 = [d for d in documents if d["asn_type"] == "image3"]
    assert [d["products"][0]["name"] for d in image3] == ["jw09999-o001_t001_fgs_clear-sub32ll"]
    assert len(image3[0]["products"][0]["members"]) == len(program.exposures())
    assert sum(d["asn_type"] == "image2" for d in documents) == len(program.exposures())


def test_nirspec_sub32_lies_inside_the_detector_with_no_reference_pixels(programs):
    layout = programs["nirspec"].layout
    assert (layout.subarray, layout.xstart > 4, layout.ystart > 4) == ("SUB32", True, True)
    assert not layout.reference_pixels().any()


@pytest.mark.parametrize("name", ["fgs", "nirspec"])
def test_native_detector1_calibrates_both_readouts(programs, cache, name, tmp_path):
    program = programs[name]
    for exposure in (program.exposures()[0], program.exposures()[-1]):
        with program.raw_model(exposure) as raw:
            raw.save(str(tmp_path / exposure.uncal_name))
        with datamodels.RampModel(str(tmp_path / exposure.uncal_name)) as ramp:
            rate, rateints = run_detector1(ramp, CrdsRefs(cache), {})
        with rate, rateints:
            steps = rate.meta.cal_step
            for step in ("dq_init", "saturation", "ipc", "superbias", "refpix", "linearity", "dark_sub", "jump"):
                assert getattr(steps, step) == "COMPLETE", (name, step)
            assert steps.charge_migration == "SKIPPED"  # no pars-chargemigrationstep turns it on
            assert np.isnan(rate.data[program.detector.hot]).all()  # MASK: HOT + DO_NOT_USE
            assert rate.meta.ref_file.dark.name.startswith(f"crds://jwst_{name}_dark_")
            assert rateints.data.shape == (1, *program.layout.shape)
