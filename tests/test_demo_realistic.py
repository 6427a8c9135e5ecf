"""The realistic raw generator and the complete synthetic CRDS cache (no jwst needed)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from stdatamodels.jwst.datamodels import dqflags

from asnflow.calib.crds_cache import write_crds_cache
from asnflow.calib.refs import offline_crds_environment
from asnflow.demo import references
from asnflow.demo.detector import Layout, pixel_field
from asnflow.demo.instruments import nircam, niriss
from asnflow.demo.raw import Program

SELECTED = (
    "mask", "saturation", "superbias", "ipc", "linearity", "dark", "gain", "readnoise",
    "flat", "photom", "area", "distortion", "filteroffset", "apcorr", "abvegaoffset", "pars-jumpstep",
)  # fmt: skip


@pytest.fixture(scope="module")
def programs():
    return {"nircam": Program(nircam(), 64), "niriss": Program(niriss(), 64)}


def write_program_cache(programs, folder):
    """One synthetic CRDS cache for several programs, with N/A where CRDS answers N/A."""
    refs = [ref for program in programs for ref in program.cache_references()]
    setups = [program.setup for program in programs]
    return write_crds_cache(folder, None, refs, not_applicable=references.not_applicable(setups))


@pytest.fixture(scope="module")
def cache(programs, tmp_path_factory):
    return write_program_cache(programs.values(), tmp_path_factory.mktemp("cache") / "crds")


def best_references(cache, model, reftypes):
    with offline_crds_environment(cache):
        import crds

        return crds.getreferences(model.get_crds_parameters(), reftypes=list(reftypes), observatory="jwst")


@pytest.mark.parametrize("name", ["nircam", "niriss"])
def test_the_cache_selects_one_file_per_type_by_header_keywords_and_answers_na_for_the_rest(programs, cache, name):
    program = programs[name]
    exposures = program.exposures()
    flats = set()
    for exposure in (exposures[0], exposures[-1]):  # the two filters
        model = program.raw_model(exposure)
        found = best_references(cache, model, [*SELECTED, *references.NOT_APPLICABLE])
        for reftype in SELECTED:
            assert f"jwst_{name}_{reftype}_" in found[reftype], (reftype, found[reftype])
        for reftype in references.NOT_APPLICABLE:
            assert found[reftype].upper().startswith("NOT FOUND N/A"), (reftype, found[reftype])
        flats.add(found["flat"])
    assert len(flats) == 2  # the flat follows the filter


def test_niriss_turns_charge_migration_on_through_its_parameter_reference(programs, cache):
    import asdf

    model = programs["niriss"].raw_model(programs["niriss"].exposures()[0])
    found = best_references(cache, model, ["pars-chargemigrationstep", "pars-jumpstep", "pars-tweakregstep"])
    with asdf.open(found["pars-chargemigrationstep"]) as tree:
        assert tree["class"].endswith("ChargeMigrationStep")
        assert tree["parameters"] == {"skip": False, "signal_threshold": 25000.0}
    with asdf.open(found["pars-jumpstep"]) as tree:
        assert tree["parameters"]["expand_large_events"] is True
    assert found["pars-tweakregstep"].upper().startswith("NOT FOUND N/A")


def test_references_and_raw_files_validate_against_their_schemas(programs, tmp_path):
    from stdatamodels.jwst import datamodels

    program = programs["nircam"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for ref in program.cache_references():
            if hasattr(ref.model, "validate"):
                ref.model.validate()
        raw = program.raw_model(program.exposures()[0])
        raw.validate()
        raw.save(tmp_path / "raw_uncal.fits")
        with datamodels.open(tmp_path / "raw_uncal.fits") as reopened:
            assert reopened.data.dtype == np.uint16
            assert reopened.meta.exposure.nframes == 2


def test_a_raw_exposure_carries_bias_drifts_dark_bad_pixels_and_bright_stars(programs):
    program = programs["niriss"]
    exposure = program.exposures()[0]
    detector = program.detector
    data = program.ramp(exposure)[0].astype(float)  # (ngroups, ny, nx)
    bias = detector.superbias
    signal = data - bias

    # reference pixels: bias and drifts only, no signal growing up the ramp
    ref = detector.reference
    assert ref.any()
    assert np.abs(np.median(signal[-1][ref] - signal[0][ref])) < 10.0
    # dead pixels stay flat; hot pixels ramp faster than their neighbours
    science = ~ref
    rise = signal[-1] - signal[0]
    assert np.median(rise[detector.dead & science]) < 15.0
    normal = science & ~detector.hot & ~detector.dead & ~detector.warm & ~detector.low_qe
    hot = detector.hot & science
    if hot.any():
        assert np.median(rise[hot] - detector.dark_rate[hot] * 0) > np.median(rise[normal])
    # a saturated star passes its saturation level; others cross 25,000 DN without saturating
    peak = (data - detector.saturation)[-1].max()
    assert peak > 0
    above = (signal[-1] > 25_000) & (data[-1] < detector.saturation) & science
    assert above.sum() >= 2
    # the bias is not flat: amplifier/column structure of tens of DN
    assert np.std(bias[science]) > 10.0


def test_frame_averaged_readouts_read_nframes_and_drop_groupgap_frames():
    readout = nircam().filter("F200W").readout
    assert (readout.nframes, readout.groupgap) == (2, 3)
    groups = readout.frame_groups()
    assert list(groups[:7]) == [0, 0, -1, -1, -1, 1, 1]
    assert readout.group_time == pytest.approx(5 * readout.frame_time)


def test_a_subarray_sees_the_same_pixels_as_the_full_frame():
    small = Layout("NIRISS", "NIS", "SUB64", 1, 1, 64, 64, -2, -1)
    larger = Layout("NIRISS", "NIS", "SUB256", 1, 1, 256, 256, -2, -1)
    a = pixel_field(small, ("k",), "normal")
    b = pixel_field(larger, ("k",), "normal")
    assert np.array_equal(a, b[:64, :64])
    assert small.reference_pixels()[:4].all() and not small.reference_pixels()[10:, 10:].any()


def test_the_mask_flags_hot_and_dead_pixels_do_not_use(programs):
    program = programs["nircam"]
    (mask,) = [ref.model for ref in program.cache_references() if ref.reftype == "mask"]
    dq = mask.dq
    detector = program.detector
    do_not_use = dqflags.pixel["DO_NOT_USE"]
    assert np.all(dq[detector.hot] & do_not_use)
    assert np.all(dq[detector.dead] & dqflags.pixel["DEAD"])
    assert np.all(dq[detector.reference] & dqflags.pixel["REFERENCE_PIXEL"])


def test_run_takes_references_from_a_crds_cache_in_the_data_folder(cache, tmp_path, monkeypatch):
    import shutil

    from asnflow.cli.run import _reference_provider

    monkeypatch.setenv("CRDS_PATH", str(tmp_path / "elsewhere"))
    data = tmp_path / "data"
    data.mkdir()
    assert _reference_provider(None, data).cache_path() == (tmp_path / "elsewhere").resolve()  # none beside the data
    shutil.copytree(cache, data / "crds")
    assert _reference_provider(None, data).cache_path() == (data / "crds").resolve()
    assert _reference_provider(str(cache), data).cache_path() == cache.resolve()  # --crds-cache wins
