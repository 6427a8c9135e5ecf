"""The adapter that runs jwst's own pipelines for asn_types without a native module."""

from __future__ import annotations

import importlib.util
import json
import os
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


@pytest.mark.jwst
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


# --------------------------------------------------------------------------- through asnflow run, with jwst


def demo_program(folder: Path) -> tuple[Path, Path]:
    """The demo's raw NIRISS exposures, pool and CRDS cache, with its associations generated."""
    from asnflow.cli import main as cli
    from asnflow.demo.inputs import write_inputs

    inputs = write_inputs(folder / "data")
    assert cli(["generate", str(inputs.pool), "-p", str(folder / "asn")]) == 0
    return folder / "asn", folder / "data"


def not_applicable(cache: Path, reftypes) -> None:
    """Make the cache's instrument mapping answer N/A for the reftypes it has no rules for."""
    import re

    from asnflow.calib.crds_cache import _checksummed

    imap = next((cache / "mappings" / "jwst").glob("*_0001.imap"))
    text = imap.read_text()
    missing = [t.upper() for t in reftypes if f"'{t.upper()}'" not in text]
    text = text.replace("selector = {\n", "selector = {\n" + "".join(f"    '{t}' : 'N/A',\n" for t in missing))
    imap.write_text(_checksummed(re.sub(r"'sha1sum' : '[0-9a-f]+'", "'sha1sum' : 'TBD'", text)))


DETECTOR1_STEPS = ("group_scale", "dq_init", "emicorr", "saturation", "ipc", "superbias", "refpix", "rscd",
                   "firstframe", "lastframe", "linearity", "dark_current", "reset", "persistence",
                   "charge_migration", "jump", "clean_flicker_noise", "picture_frame")


@pytest.mark.jwst
@pytest.mark.skipif(not JWST_INSTALLED, reason="needs jwst (pip install 'asnflow[jwst]')")
def test_run_routed_to_jwst_detector1_gives_jwsts_own_products(tmp_path, capsys):
    """Every exposure routed to jwst: the _rate files are the ones Detector1Pipeline writes when
    called directly on the same raw file with the same references and steps."""
    from jwst.pipeline import Detector1Pipeline
    from stdatamodels.jwst import datamodels

    from asnflow.calib.refs import offline_crds_environment
    from asnflow.cli import main as cli

    asns, data = demo_program(tmp_path)
    # the demo cache has gain, readnoise, saturation: run saturation, jump and ramp_fit; the
    # pipeline prefetches every step's references, so the cache answers N/A for the others
    not_applicable(data / "crds", Detector1Pipeline().reference_file_types)
    skipped = {step: {"skip": True} for step in DETECTOR1_STEPS if step not in ("saturation", "jump")}
    config = tmp_path / "rules.yaml"
    config.write_text(json.dumps({"calibration": {
        "detector1": {"module": "jwst:Detector1Pipeline", "steps": skipped},
        "image2": "native:image2", "image3": "native:image3",
    }}))
    status = cli(["run", str(asns), "--data", str(data), "--config", str(config), "--crds-cache", str(data / "crds"),
                  "--executor", "serial", "-q"])
    out = capsys.readouterr().out
    assert status == 0, out
    raws = sorted(data.glob("*_uncal.fits"))
    assert raws
    direct = tmp_path / "direct"
    direct.mkdir()
    with offline_crds_environment(data / "crds"):
        os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "True"
        for raw in raws:
            Detector1Pipeline.call(str(raw), output_dir=str(direct), save_results=True, steps=skipped)
    for raw in raws:
        name = raw.name.replace("_uncal", "_rate")
        with datamodels.open(str(data / name)) as ours, datamodels.open(str(direct / name)) as theirs:
            for array in ("data", "dq", "err", "var_poisson", "var_rnoise"):
                np.testing.assert_array_equal(getattr(ours, array), getattr(theirs, array), err_msg=f"{name} {array}")
            assert ours.meta.cal_step.jump == theirs.meta.cal_step.jump == "COMPLETE"
    assert (data / raws[0].name.replace("_uncal", "_rateints")).is_file()  # jwst's extra product is kept
    assert list(data.glob("*_i2d.fits"))  # and native image2/image3 ran on jwst's rates
