"""Reference providers: in-memory arrays, and a CRDS cache used offline."""

from __future__ import annotations

import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from stdatamodels.jwst import datamodels

from asnflow.calib.crds_cache import CacheReference, write_crds_cache
from asnflow.calib.refs import ArrayRefs, CrdsRefs, crds_answer, fit_to_science
from asnflow.errors import CalibrationError, InputError


def science(shape=(8, 10), *, pupil="F150W", xstart=None, ystart=None):
    model = datamodels.ImageModel(np.zeros(shape, np.float32))
    model.meta.instrument.name = "NIRISS"
    model.meta.instrument.detector = "NIS"
    model.meta.instrument.filter = "CLEAR"
    model.meta.instrument.pupil = pupil
    model.meta.exposure.type = "NIS_IMAGE"
    model.meta.observation.date = "2024-07-01"
    model.meta.observation.time = "00:00:00"
    if xstart is not None:
        model.meta.subarray.xstart = xstart
        model.meta.subarray.ystart = ystart
    return model


def reference(model_class, reftype, **arrays):
    model = model_class(**arrays)
    model.meta.instrument.name = "NIRISS"
    model.meta.instrument.detector = "NIS"
    model.meta.reftype = reftype.upper()
    model.meta.description = "test reference"
    model.meta.author = "asnflow tests"
    model.meta.pedigree = "DUMMY"
    model.meta.useafter = "2014-01-01T00:00:00"
    return model


# --------------------------------------------------------------------------- arrays


def test_array_refs_broadcast_scalars_to_the_science_shape():
    refs = ArrayRefs.from_values(gain=2.5, photmjsr=0.3)
    got = refs.fetch(science((4, 6)), ["gain", "photom"])
    assert got["gain"].data.shape == (4, 6) and (got["gain"].data == 2.5).all()
    assert got["photom"].scalars["photmjsr"] == pytest.approx(0.3)
    assert got["gain"].source == "array:gain"
    assert pickle.loads(pickle.dumps(refs)).fetch(science((2, 2)), ["gain"])["gain"].data[0, 0] == 2.5


def test_full_frame_references_are_cut_at_the_subarray_position():
    full = np.arange(20 * 30, dtype=np.float32).reshape(20, 30)
    refs = ArrayRefs.from_values(flat=full)
    model = science((4, 5), xstart=11, ystart=3)  # 1-based, as SUBSTRT1/SUBSTRT2
    flat = refs.fetch(model, ["flat"])["flat"].data
    np.testing.assert_array_equal(flat, full[2:6, 10:15])
    with pytest.raises(CalibrationError, match="does not cover"):
        refs.fetch(science((4, 5), xstart=28, ystart=3), ["flat"])
    with pytest.raises(CalibrationError, match="no subarray position"):
        fit_to_science(full, science((4, 5)), what="flat")


def test_unknown_or_missing_reference_types_are_refused():
    with pytest.raises(CalibrationError, match="unknown reference type"):
        ArrayRefs.from_values().fetch(science(), ["bogus"])
    with pytest.raises(CalibrationError, match="no gain reference"):
        ArrayRefs({}).fetch(science(), ["gain"])


# --------------------------------------------------------------------------- CRDS offline


@pytest.fixture(scope="module")
def crds_cache(tmp_path_factory):
    detector = {"META.INSTRUMENT.DETECTOR": "NIS"}
    flats = [
        CacheReference(
            "flat",
            {**detector, "META.INSTRUMENT.PUPIL": pupil},
            reference(datamodels.FlatModel, "flat", data=np.full((8, 10), value, np.float32)),
        )
        for pupil, value in (("F150W", 1.5), ("F200W", 2.0))
    ]
    table = np.array(
        [("CLEAR", "F150W", 0.25, 0.01), ("CLEAR", "F200W", 0.2, 0.01)],
        dtype=[("filter", "S12"), ("pupil", "S12"), ("photmjsr", "<f4"), ("uncertainty", "<f4")],
    )
    photom = reference(datamodels.NisImgPhotomModel, "photom", phot_table=table)
    photom.meta.photometry.pixelarea_steradians = 1.0e-13
    gain = reference(datamodels.GainModel, "gain", data=np.full((8, 10), 1.6, np.float32))
    return write_crds_cache(
        # "main/asnflow-demo" holds "N/A" once upper-cased: a cache there must still be read
        tmp_path_factory.mktemp("crds") / "main" / "asnflow-demo" / "cache",
        "niriss",
        [CacheReference("gain", detector, gain), *flats, CacheReference("photom", detector, photom)],
    )


def test_crds_cache_layout_and_checksums(crds_cache):
    assert (crds_cache / "config/jwst/server_config").is_file()
    assert (crds_cache / "references/jwst/niriss/jwst_niriss_gain_0001.fits").is_file()
    assert not [p for p in crds_cache.parent.iterdir() if p.name.startswith(".")]  # no staging left behind
    from crds.core import rmap

    for mapping in sorted((crds_cache / "mappings/jwst").iterdir()):
        rmap.Mapping.from_file(str(mapping))  # verifies the sha1sum, raises on a mismatch


def test_crds_refs_select_by_the_rules_offline(crds_cache, monkeypatch):
    from crds.client import api

    # a real server configured before the lookup is never contacted (a contact would fail here)
    monkeypatch.setenv("CRDS_SERVER_URL", "https://jwst-crds.stsci.edu")
    before = api.get_crds_server()
    api.set_crds_server("https://127.0.0.1:9")
    monkeypatch.delenv("CRDS_PATH", raising=False)
    provider = CrdsRefs(crds_cache)
    got = provider.fetch(science(pupil="F200W"), ["gain", "flat", "photom"])
    assert got["gain"].source == "crds://jwst_niriss_gain_0001.fits"
    assert got["flat"].source == "crds://jwst_niriss_flat_0002.fits"
    assert (got["flat"].data == 2.0).all()
    scalars = dict(got["photom"].scalars)
    assert math.isnan(scalars.pop("pixelarea_a2"))  # the reference states PIXAR_SR only
    assert scalars == {"photmjsr": pytest.approx(0.2), "uncertainty": pytest.approx(0.01), "pixelarea_sr": pytest.approx(1e-13)}
    assert provider.fetch(science(pupil="F150W"), ["flat"])["flat"].source == "crds://jwst_niriss_flat_0001.fits"
    # the lookup leaves the environment and crds's server setting as it found them
    assert os.environ["CRDS_SERVER_URL"] == "https://jwst-crds.stsci.edu"
    assert "CRDS_PATH" not in os.environ
    assert api.get_crds_server() == "https://127.0.0.1:9"
    api.set_crds_server(before)
    assert pickle.loads(pickle.dumps(provider)) == provider


def test_crds_answers_are_read_whole_not_searched_for_n_a(crds_cache, tmp_path):
    assert crds_answer("NOT FOUND n/a") is None
    assert crds_answer("N/A") is None
    assert crds_answer("NOT FOUND No match found.") == "No match found."
    assert crds_answer("/data/main/asnflow-demo/x.fits") == Path("/data/main/asnflow-demo/x.fits")
    assert "MAIN/ASNFLOW" in str(crds_cache).upper()  # the fixture's cache sits under such a path
    provider = CrdsRefs(crds_cache)
    gain = crds_cache / "references/jwst/niriss/jwst_niriss_gain_0001.fits"
    assert provider.lookup_optional(science(), ["gain"]) == {"gain": gain}
    source, model = provider.reference_models(science(), ["gain"])["gain"]
    assert source == "crds://jwst_niriss_gain_0001.fits"
    model.close()
    assert provider.optional_path(science(), "gain") == gain


def test_crds_refs_use_crds_path_by_default(crds_cache, monkeypatch):
    monkeypatch.setenv("CRDS_PATH", str(crds_cache))
    assert CrdsRefs().fetch(science(), ["gain"])["gain"].data[0, 0] == pytest.approx(1.6)
    monkeypatch.delenv("CRDS_PATH")
    with pytest.raises(CalibrationError, match="set CRDS_PATH"):
        CrdsRefs().fetch(science(), ["gain"])


def test_crds_refs_report_what_is_missing_in_one_line(crds_cache, tmp_path):
    with pytest.raises(CalibrationError, match="CRDS cache .* has no readnoise reference") as missing:
        CrdsRefs(crds_cache).fetch(science(), ["readnoise"])
    assert "\n" not in str(missing.value)
    with pytest.raises(CalibrationError, match="photom reference .* has no row for filter CLEAR, pupil F090W"):
        CrdsRefs(crds_cache).fetch(science(pupil="F090W"), ["photom"])
    with pytest.raises(CalibrationError, match="is not a CRDS cache"):
        CrdsRefs(tmp_path).fetch(science(), ["gain"])


def test_a_written_cache_has_every_instrument_folder_crds_would_otherwise_make(tmp_path):
    """crds makes missing instrument folders on first use, checking first; two processes starting
    on a new cache at once could both try to make one, and the second failed ("File exists")."""
    import crds.jwst

    gain = reference(datamodels.GainModel, "gain", data=np.ones((2, 2), np.float32))
    cache = write_crds_cache(tmp_path / "new", "niriss", [CacheReference("gain", {"META.INSTRUMENT.DETECTOR": "NIS"}, gain)])
    folders = {path.name for path in (cache / "references" / "jwst").iterdir() if path.is_dir()}
    assert folders == set(crds.jwst.INSTRUMENTS) - {"all"}


def test_a_lookup_that_trips_over_crds_making_a_folder_is_repeated_once(crds_cache, monkeypatch):
    import errno

    import crds

    calls = []
    getreferences = crds.getreferences

    def racing(*args, **kwargs):
        calls.append(kwargs["reftypes"])
        if len(calls) == 1:  # another process made the folder between crds's check and its mkdir
            raise FileExistsError(errno.EEXIST, "File exists", str(crds_cache / "references/jwst/fgs"))
        return getreferences(*args, **kwargs)

    monkeypatch.setattr(crds, "getreferences", racing)
    assert CrdsRefs(crds_cache).fetch(science(), ["gain"])["gain"].source == "crds://jwst_niriss_gain_0001.fits"
    assert calls == [["gain"], ["gain"]]


@pytest.mark.parametrize("failure, parameters", [
    ("Unknown reference type 'pars-jumpstep'", {}),  # the rules have no such type: no parameters, as stpipe
    ("Unknown instrument 'niriss' for context 'jwst_0001.pmap'", {}),
    ("[Errno 13] Permission denied: 'jwst_0001.pmap'", None),  # a broken lookup: said, never the defaults
])
def test_step_parameters_are_none_only_when_the_rules_have_none(crds_cache, monkeypatch, failure, parameters):
    import crds

    def failing(*args, **kwargs):
        raise RuntimeError(failure)

    monkeypatch.setattr(crds, "getreferences", failing)
    provider = CrdsRefs(crds_cache)
    if parameters is not None:
        assert provider.step_parameters(science(), ["pars-jumpstep"]) == parameters
        return
    with pytest.raises(CalibrationError) as raised:
        provider.step_parameters(science(), ["pars-jumpstep"])
    assert str(raised.value).startswith(f"CRDS lookup of pars-jumpstep in {crds_cache} failed: {failure}")


def test_write_crds_cache_refuses_to_overwrite_and_mixed_selections(tmp_path):
    gain = reference(datamodels.GainModel, "gain", data=np.ones((2, 2), np.float32))
    (tmp_path / "taken").mkdir()
    with pytest.raises(InputError, match="refusing to overwrite"):
        write_crds_cache(tmp_path / "taken", "niriss", [CacheReference("gain", {"META.INSTRUMENT.DETECTOR": "NIS"}, gain)])
    mixed = [
        CacheReference("gain", {"META.INSTRUMENT.DETECTOR": "NIS"}, gain),
        CacheReference("gain", {"META.INSTRUMENT.PUPIL": "F150W"}, gain),
    ]
    with pytest.raises(InputError, match="same parameters"):
        write_crds_cache(tmp_path / "new", "niriss", mixed)
    assert not (tmp_path / "new").exists()
