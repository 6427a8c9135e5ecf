"""The adapter that runs jwst's own pipelines for asn_types without a native module."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from asnflow.calib.base import Node, RunContext, module_for
from asnflow.calib.crds_cache import CacheReference, write_crds_cache
from asnflow.calib.jwst_adapter import JwstPipelineModule
from asnflow.calib.refs import CrdsRefs
from asnflow.config import load_config
from asnflow.errors import CalibrationError

JWST_INSTALLED = importlib.util.find_spec("jwst") is not None


def spec2_node(folder: Path) -> Node:
    association = {
        "asn_type": "spec2",
        "asn_id": "o001",
        "products": [
            {
                "name": "jw01_nrs1",
                "members": [
                    {"expname": "jw01_nrs1_rate.fits", "exptype": "science"},
                    {"expname": "jw02_nrs1_rate.fits", "exptype": "background"},
                ],
            }
        ],
    }
    path = folder / "jw00001-o001_spec2_00001_asn.json"
    path.write_text(json.dumps(association))
    return Node(path.stem, "association", "spec2", path, association)


def test_the_calibration_table_sends_other_asn_types_to_jwst():
    table = load_config().calibration
    for asn_type in ("spec2", "spec3", "coron3", "ami3", "tso3", "tso-image2", "tso-spec2", "nrslamp-spec2", "wfs-image3"):
        module = module_for(asn_type, table)
        assert isinstance(module, JwstPipelineModule), asn_type
    assert module_for("wfs-image3", table).class_name == "WfsCombineStep"
    assert module_for("spec3", table).name == "jwst:Spec3Pipeline"


def test_inputs_and_outputs_are_the_conventional_names(tmp_path):
    node = spec2_node(tmp_path)
    module = JwstPipelineModule("Spec2Pipeline")
    assert module.inputs(node) == ["jw01_nrs1_rate.fits", "jw02_nrs1_rate.fits"]
    assert module.outputs(node) == ["jw01_nrs1_cal.fits", "jw01_nrs1_x1d.fits"]


@pytest.mark.skipif(JWST_INSTALLED, reason="checks the behaviour without jwst")
def test_without_jwst_the_node_fails_with_one_line(tmp_path):
    node = spec2_node(tmp_path)
    (tmp_path / "work").mkdir()
    with pytest.raises(CalibrationError) as failure:
        JwstPipelineModule("Spec2Pipeline").run(node, RunContext(tmp_path, tmp_path / "work", None, {}))
    message = str(failure.value)
    assert message == "jwst is not installed: running Spec2Pipeline needs it (pip install 'asnflow[jwst]')"


def test_the_shared_jwst_steps_option_is_refused_with_a_pointer_to_per_module_steps(tmp_path):
    node = spec2_node(tmp_path)
    (tmp_path / "work").mkdir()
    with pytest.raises(CalibrationError, match="set step parameters per module in rules.yaml"):
        JwstPipelineModule("Spec2Pipeline").run(node, RunContext(tmp_path, tmp_path / "work", None, {"jwst_steps": {}}))


@pytest.mark.skipif(not JWST_INSTALLED, reason="needs jwst (pip install 'asnflow[jwst]')")
def test_jwst_image2_runs_through_the_adapter(tmp_path):
    from stdatamodels.jwst import datamodels

    rate = datamodels.ImageModel(data=np.ones((16, 16), np.float32))
    rate.meta.instrument.name = "NIRISS"
    rate.meta.instrument.detector = "NIS"
    rate.meta.exposure.type = "NIS_IMAGE"
    rate.meta.observation.date = "2024-07-01"
    rate.meta.observation.time = "00:00:00"
    rate.save(str(tmp_path / "jw01_nis_rate.fits"))
    association = {
        "asn_type": "image2",
        "asn_id": "o001",
        "asn_pool": "pool.csv",
        "products": [{"name": "jw01_nis", "members": [{"expname": "jw01_nis_rate.fits", "exptype": "science"}]}],
    }
    path = tmp_path / "jw00001-o001_image2_00001_asn.json"
    path.write_text(json.dumps(association))
    node = Node(path.stem, "association", "image2", path, association)
    # jwst always asks CRDS; an offline cache with one reference is enough when every step is skipped
    gain = datamodels.GainModel(data=np.ones((16, 16), np.float32))
    gain.meta.instrument.name, gain.meta.instrument.detector, gain.meta.reftype = "NIRISS", "NIS", "GAIN"
    gain.meta.description, gain.meta.author, gain.meta.pedigree = "test", "asnflow tests", "DUMMY"
    gain.meta.useafter = "2014-01-01T00:00:00"
    cache = write_crds_cache(tmp_path / "crds", "niriss", [CacheReference("gain", {"META.INSTRUMENT.DETECTOR": "NIS"}, gain)])
    (tmp_path / "work").mkdir()
    skip_all = {step: {"skip": True} for step in ("bkg_subtract", "assign_wcs", "flat_field", "photom", "resample")}
    context = RunContext(tmp_path, tmp_path / "work", CrdsRefs(cache), {})
    JwstPipelineModule("Image2Pipeline", steps=skip_all).run(node, context)
    assert (tmp_path / "work" / "jw01_nis_cal.fits").is_file()
