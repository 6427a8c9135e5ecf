"""Routing nodes to calibration modules by asn_type, instrument and readout; optional outputs;
refusing a run whose modules cannot run here."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from astropy.io import fits

from asnflow.calib.base import Node, choose_route, module_for_node, node_traits
from asnflow.calib.jwst_adapter import JwstPipelineModule
from asnflow.cli import main
from asnflow.config import load_config
from asnflow.errors import RuleError
from asnflow.routes import Route, parse_routes
from asnflow.workflow.dispatch import SUCCEEDED, plan_run, run_graph
from asnflow.workflow.graph import build_graph

JWST_INSTALLED = importlib.util.find_spec("jwst") is not None
FAKES = Path(__file__).parent / "data" / "graph"


def write_raw(folder: Path, stem: str, **header: str) -> Path:
    """A stand-in raw file: only its primary header matters for routing."""
    path = folder / f"{stem}_uncal.fits"
    hdu = fits.PrimaryHDU()
    for key, value in header.items():
        hdu.header[key] = value
    hdu.writeto(path)
    return path


def write_association(folder: Path, asn_type: str, members: list[str], product: str, asn_id: str = "o001") -> Path:
    association = {
        "asn_type": asn_type,
        "asn_id": asn_id,
        "asn_pool": "pool.csv",
        "products": [{"name": product, "members": [{"expname": m, "exptype": "science"} for m in members]}],
    }
    path = folder / f"jw00001-{asn_id}_{asn_type}_00001_asn.json"
    path.write_text(json.dumps(association))
    return path


def exposure(folder: Path, stem: str) -> Node:
    return Node(f"detector1:{stem}_uncal", "exposure", "detector1", folder / f"{stem}_uncal.fits", None)


# --------------------------------------------------------------------------- the default table


def test_the_default_table_routes_detector1_by_instrument_and_readout(tmp_path):
    table = load_config().calibration
    write_raw(tmp_path, "jw01_nrca1", INSTRUME="NIRCAM", DETECTOR="NRCA1", READPATT="BRIGHT2")
    write_raw(tmp_path, "jw02_mirimage", INSTRUME="MIRI", DETECTOR="MIRIMAGE", READPATT="FASTR1")
    write_raw(tmp_path, "jw03_nrs1", INSTRUME="NIRSPEC", DETECTOR="NRS1", READPATT="NRSIRS2RAPID")
    write_raw(tmp_path, "jw04_nrs1", INSTRUME="NIRSPEC", DETECTOR="NRS1", READPATT="NRSRAPID")
    chosen = {stem: choose_route(exposure(tmp_path, stem), table).module for stem in ("jw01_nrca1", "jw02_mirimage", "jw03_nrs1", "jw04_nrs1")}
    assert chosen == {
        "jw01_nrca1": "native:detector1",
        "jw02_mirimage": "jwst:Detector1Pipeline",
        "jw03_nrs1": "jwst:Detector1Pipeline",
        "jw04_nrs1": "native:detector1",
    }
    # without the raw file, the detector in its name still tells the instrument
    assert choose_route(exposure(tmp_path, "jw05_mirifushort"), table).module == "jwst:Detector1Pipeline"
    assert node_traits(exposure(tmp_path, "jw05_mirifushort"))["instrument"] == "MIRI"


def test_imaging_associations_are_native_for_the_near_infrared_and_jwst_otherwise(tmp_path):
    table = load_config().calibration
    nis = write_association(tmp_path, "image2", ["jw01_nis_rate.fits"], "jw01_nis")
    miri = write_association(tmp_path, "image3", ["jw02_mirimage_cal.fits"], "jw00001-o002_t001_miri_f770w", "o002")
    graph = build_graph([nis, miri], calibration=table, exposures=False)
    assert graph.module(nis.stem).name == "image2"
    assert graph.module(miri.stem).name == "jwst:Image3Pipeline"
    for asn_type in ("spec2", "spec3", "tso-spec2", "nrslamp-spec2", "coron3", "ami3", "tso3", "tso-image2", "wfs-image3"):
        node = Node("x", "association", asn_type, None, {"products": []})
        assert isinstance(module_for_node(node, table), JwstPipelineModule), asn_type


def test_each_route_keeps_its_own_jwst_step_parameters(tmp_path):
    config = tmp_path / "rules.yaml"
    config.write_text(
        "calibration:\n"
        "  image2: {module: 'jwst:Image2Pipeline', steps: {resample: {skip: true}, photom: {apply_time_correction: false}}}\n"
        "  image3: {module: 'jwst:Image3Pipeline', steps: {tweakreg: {skip: true}}}\n"
        "  spec2: jwst:Spec2Pipeline\n"
    )
    table = load_config(config).calibration
    modules = {
        t: module_for_node(Node("x", "association", t, None, {"products": []}), table) for t in ("image2", "image3", "spec2")
    }
    assert modules["image2"].steps == {"resample": {"skip": True}, "photom": {"apply_time_correction": False}}
    assert modules["image3"].steps == {"tweakreg": {"skip": True}}
    assert modules["spec2"].steps == {}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{modul: 'jwst:Image2Pipeline'}", "unknown key 'modul'"),
        ("{module: 'native:image2', steps: {flat_field: {skip: true}}}", "'steps' are parameters of jwst pipelines"),
        ("[{when: {instrument: MIRI}, module: 'jwst:Image2Pipeline'}]", "the last route must have no 'when'"),
        ("[{when: {filter: F200W}, module: 'jwst:Image2Pipeline'}, native:image2]", "'when' cannot test 'filter'"),
        ("image2", "'module' must be native:NAME"),
        ("{module: 'jwst:Image2Pipeline', steps: {resample: 3}}", "'steps' must map step names to mappings"),
    ],
)
def test_a_broken_calibration_entry_is_one_line_naming_the_file(tmp_path, entry, message):
    config = tmp_path / "rules.yaml"
    config.write_text(f"calibration:\n  image2: {entry}\n")
    with pytest.raises(RuleError) as failure:
        load_config(config)
    line = failure.value.one_line()
    assert "\n" not in line and str(config) in line and message in line and "image2" in line


def test_route_option_defaults_reach_the_module_and_run_options_win(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(FAKES))
    route = parse_routes("image2", {"module": "python:fake_calibration:WRITER", "options": {"sleep": 0, "fail": ["never"]}})
    assert route == (Route("python:fake_calibration:WRITER", {}, {"sleep": 0, "fail": ["never"]}, {}),)
    path = write_association(tmp_path, "image2", ["jw01_nis_rate.fits"], "jw01_nis")
    graph = build_graph([path], calibration={"image2": route}, exposures=False)
    data = tmp_path / "data"
    data.mkdir()
    (data / "jw01_nis_rate.fits").write_text("rate\n")
    assert run_graph(graph, data, executor="serial", progress=False).result(path.stem).status == SUCCEEDED
    failed = run_graph(graph, data, executor="serial", progress=False, force=True, options={"fail": [path.stem]})
    assert failed.result(path.stem).reason == f"{path.stem} was told to fail"


# --------------------------------------------------------------------------- optional outputs


OPTIONAL_WRITER = '''
from asnflow.calib.base import ConventionalModule

class SkipsCatalog(ConventionalModule):
    name = "skips-catalog"

    def run(self, node, ctx):
        for name in self.outputs(node):
            if not name.endswith(("_cat.ecsv", "_segm.fits")):
                (ctx.workdir / name).write_text(name)

MODULE = SkipsCatalog()
'''


def test_an_image3_run_without_a_catalog_publishes_what_it_wrote(tmp_path, monkeypatch):
    (tmp_path / "empty_field.py").write_text(OPTIONAL_WRITER)
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write_association(tmp_path, "image3", ["jw01_nis_cal.fits", "jw02_nis_cal.fits"], "jw00001-o001_t001_niriss_clear-f200w")
    graph = build_graph([path], calibration={"image3": "python:empty_field"}, exposures=False)
    assert set(graph.optional_outputs(path.stem)) == {
        "jw00001-o001_t001_niriss_clear-f200w_cat.ecsv",
        "jw00001-o001_t001_niriss_clear-f200w_segm.fits",
    }
    data = tmp_path / "data"
    data.mkdir()
    for member in ("jw01_nis_cal.fits", "jw02_nis_cal.fits"):
        (data / member).write_text(member)
    summary = run_graph(graph, data, executor="serial", progress=False)
    assert summary.result(path.stem).status == SUCCEEDED
    assert sorted(p.name for p in data.iterdir() if p.name.endswith(("_i2d.fits", "_crf.fits", "_cat.ecsv"))) == [
        "jw00001-o001_t001_niriss_clear-f200w_i2d.fits",
        "jw01_nis_o001_crf.fits",
        "jw02_nis_o001_crf.fits",
    ]
    # up to date afterwards: a missing optional product does not make the node rerun
    assert [(s.action, s.reason) for s in plan_run(graph, data).steps] == [("skip", "up to date")]


def test_jwst_routes_declare_the_products_jwst_may_add(tmp_path):
    module = JwstPipelineModule("Detector1Pipeline")
    node = Node("detector1:jw01_nrs1_uncal", "exposure", "detector1", None, None, wanted=("jw01_nrs1_rate.fits",))
    assert module.outputs(node) == ["jw01_nrs1_rate.fits", "jw01_nrs1_rateints.fits"]
    assert module.optional_outputs(node) == ["jw01_nrs1_rateints.fits"]
    path = write_association(tmp_path, "image2", ["jw01_mirimage_rate.fits"], "jw01_mirimage")
    image2 = Node(path.stem, "association", "image2", path, json.loads(path.read_text()))
    assert JwstPipelineModule("Image2Pipeline").optional_outputs(image2) == ["jw01_mirimage_i2d.fits"]


# --------------------------------------------------------------------------- refusing at plan time


def miri_program(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "data"
    data.mkdir()
    write_raw(data, "jw01_nis", INSTRUME="NIRISS", DETECTOR="NIS", READPATT="NIS")
    write_raw(data, "jw02_mirimage", INSTRUME="MIRI", DETECTOR="MIRIMAGE", READPATT="FASTR1")
    asns = tmp_path / "asn"
    asns.mkdir()
    write_association(asns, "image2", ["jw01_nis_rate.fits"], "jw01_nis", "o001")
    write_association(asns, "image2", ["jw02_mirimage_rate.fits"], "jw02_mirimage", "o002")
    return asns, data


@pytest.mark.skipif(JWST_INSTALLED, reason="checks the behaviour without jwst")
@pytest.mark.parametrize("dry_run", [False, True])
def test_without_jwst_a_run_that_needs_it_is_refused_before_any_node_runs(tmp_path, capsys, dry_run):
    asns, data = miri_program(tmp_path)
    before = sorted(p.name for p in data.iterdir())
    status = main(["run", str(asns), "--data", str(data), "--executor", "serial", "-q", *(["--dry-run"] if dry_run else [])])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "jwst is not installed" in err and "pip install 'asnflow[jwst]'" in err
    assert "detector1:jw02_mirimage_uncal" in err and "jw00001-o002_image2_00001_asn" in err
    assert "jwst:Detector1Pipeline" in err and "jwst:Image2Pipeline" in err
    assert "jw01_nis" not in err  # the native nodes could run; they are not named
    after = sorted(p.name for p in data.iterdir())
    assert after == before  # nothing ran, nothing was logged, no provenance store was created


@pytest.mark.skipif(JWST_INSTALLED, reason="checks the behaviour without jwst")
def test_without_jwst_a_run_needing_only_native_modules_goes_ahead(tmp_path, capsys):
    asns, data = miri_program(tmp_path)
    (asns / "jw00001-o002_image2_00001_asn.json").unlink()
    status = main(["run", str(asns), "--data", str(data), "--dry-run"])
    out, _ = capsys.readouterr()
    assert status == 0 and "detector1:jw01_nis_uncal" in out and "mirimage" not in out
