"""asnflow make-pool: pools from FITS headers, compared with jwst's asn_make_pool,
and fed to the generator.

``write_synthetic_exposures`` builds header-only FITS files. The fixtures in
tests/data/make_pool/ were made once from exactly these files with jwst
3.0.0: ``asn_make_pool synthetic_pool.csv <files>`` (run in their folder, so
filename holds bare names) and ``asn_generate synthetic_pool.csv -p expected``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from astropy.io import fits

from asnflow.cli import main
from asnflow.companion.make_pool import make_pool, parse_candidate_option
from asnflow.errors import InputError

FIXTURES = Path(__file__).parent / "data" / "make_pool"
POOL_NAME = "synthetic_pool.csv"

# program, observation, visit, exposure, detector, exp_type, filter, pupil, target, extra keywords
_EXPOSURES = [
    ("01234", "001", "001", 1, "NRCA1", "NRC_IMAGE", "F200W", "CLEAR", "NGC 1234", {}),
    ("01234", "001", "001", 2, "NRCA1", "NRC_IMAGE", "F200W", "CLEAR", "NGC 1234", {"TITLE": "Deep|field"}),
    ("01234", "001", "001", 3, "NRCA1", "NRC_IMAGE", "F200W", "CLEAR", "NGC 1234", {"SELFREF": True}),
    ("01234", "002", "001", 1, "MIRIMAGE", "MIR_IMAGE", "F770W", "N/A", "HD 1", {"MIRNGRPS": 5}),
    ("01234", "002", "001", 2, "MIRIMAGE", "MIR_IMAGE", "F770W", "N/A", "HD 1", {"MIRNGRPS": 5}),
]


def synthetic_name(program, observation, visit, exposure, detector) -> str:
    return f"jw{program}{observation}{visit}_02101_{exposure:05d}_{detector.lower()}_uncal.fits"


def write_synthetic_exposures(folder: Path) -> list[str]:
    """Header-only FITS exposures of two imaging observations; returns their file names."""
    names = []
    for program, observation, visit, exposure, detector, exp_type, filt, pupil, target, extra in _EXPOSURES:
        name = synthetic_name(program, observation, visit, exposure, detector)
        header = fits.Header()
        instrument = "NIRCAM" if detector.startswith("NRC") else "MIRI"
        cards = {
            "TELESCOP": "JWST",
            "FILENAME": name,
            "PROGRAM": program,
            "OBSERVTN": observation,
            "VISIT": visit,
            "VISIT_ID": f"{program}{observation}{visit}",
            "EXPOSURE": str(exposure),
            "INSTRUME": instrument,
            "DETECTOR": detector,
            "CHANNEL": "SHORT" if instrument == "NIRCAM" else "N/A",
            "MODULE": "A" if instrument == "NIRCAM" else "N/A",
            "EXP_TYPE": exp_type,
            "FILTER": filt,
            "PUPIL": pupil,
            "SUBARRAY": "FULL",
            "TARGNAME": target,
            "TARGPROP": target.replace(" ", ""),
            "BKGDTARG": False,
            "IS_PSF": False,
            "TSOVISIT": False,
            "VISITYPE": "PRIME_TARGETED_FIXED",
            "PATTTYPE": "FULL" if instrument == "NIRCAM" else "CYCLING",
            "PATT_NUM": exposure,
            "NUMDTHPT": 3 if instrument == "NIRCAM" else 2,
            "EXPSPCIN": "1",
            "ACT_ID": "01",
            "NINTS": 1,
            "EFFEXPTM": 107.368,
        }
        for key, value in {**cards, **extra}.items():
            header[key] = value
        header["COMMENT"] = "synthetic exposure for asnflow tests"
        header["HISTORY"] = "written by the test suite"
        fits.PrimaryHDU(header=header).writeto(folder / name, overwrite=True)
        names.append(name)
    return names


def read_table(text: str) -> list[dict[str, str]]:
    lines = text.splitlines()
    columns = lines[0].split("|")
    rows = []
    for line in lines[1:]:
        cells = line.split("|") if '"' not in line else _split_quoted(line)
        rows.append(dict(zip(columns, cells, strict=True)))
    return rows


def _split_quoted(line: str) -> list[str]:
    import csv

    return next(csv.reader([line], delimiter="|", quotechar='"'))


@pytest.fixture
def exposures(tmp_path, monkeypatch) -> list[str]:
    monkeypatch.chdir(tmp_path)
    return write_synthetic_exposures(tmp_path)


def test_same_pool_as_asn_make_pool(exposures, tmp_path):
    assert main(["make-pool", *exposures, "-o", POOL_NAME]) == 0
    ours = (tmp_path / POOL_NAME).read_text(encoding="utf-8")
    theirs = (FIXTURES / POOL_NAME).read_text(encoding="utf-8")
    assert ours.splitlines()[0] == theirs.splitlines()[0]
    assert read_table(ours) == read_table(theirs)
    assert ours == theirs


def test_pool_columns_and_defaults(exposures):
    table = make_pool(exposures)
    rows = [dict(zip(table.columns, row, strict=True)) for row in table.rows]
    assert list(table.columns) == sorted(table.columns)
    assert "comment" not in table.columns and "history" not in table.columns
    assert [row["filename"] for row in rows] == exposures
    assert [row["targetid"] for row in rows] == ["1", "1", "1", "2", "2"]
    assert rows[0]["asn_candidate"] == "[('o001', 'observation')]"
    assert rows[3]["asn_candidate"] == "[('o002', 'observation')]"
    assert {row["pntgtype"] for row in rows} == {"science"}
    assert {row["is_imprt"] for row in rows} == {"f"}
    assert {(row["mostilno"], row["dithptin"], row["dms_note"]) for row in rows} == {("1", "1", "")}
    # A keyword only some files have is "null" for the others.
    assert [row["mirngrps"] for row in rows] == ["null", "null", "null", "5", "5"]
    assert rows[2]["selfref"] == "True"


def test_options_override_defaults(exposures, tmp_path):
    args = [
        "--asn-candidate", "c1000:background",
        "--asn-candidate", "[('c1001', 'mosaic')]",
        "--dms-note", "wfsc_los_jitter",
        "--is-imprt", "t",
        "--pntgtype", "target_acquisition",
        "--names-only",
    ]
    paths = [str(tmp_path / name) for name in exposures]
    assert main(["make-pool", *paths, "-o", "pool.csv", *args]) == 0
    rows = read_table((tmp_path / "pool.csv").read_text(encoding="utf-8"))
    assert rows[0]["asn_candidate"] == "[('o001', 'observation'), ('c1000', 'background'), ('c1001', 'mosaic')]"
    assert rows[0]["dms_note"] == "wfsc_los_jitter"
    assert rows[0]["is_imprt"] == "t"
    assert rows[0]["pntgtype"] == "target_acquisition"
    assert [row["filename"] for row in rows] == exposures


def test_pool_reads_with_the_pool_reader(exposures, tmp_path):
    pool_module = pytest.importorskip("asnflow.pool.read")
    assert main(["make-pool", *exposures, "-o", POOL_NAME]) == 0
    pool = pool_module.read_pool(tmp_path / POOL_NAME)
    assert len(pool) == 5
    assert pool.column("filename") == exposures
    assert pool.column("title")[1] == "deep|field"
    # An all-empty column reads as "n" (jwst fills it with "null" cut to the
    # column's width of one); "n" counts as "not set" like "null".
    assert pool.column("dms_note") == ["n"] * 5
    assert pool.column("mirngrps") == ["null"] * 3 + ["5"] * 2
    assert pool.column("exp_type") == ["nrc_image"] * 3 + ["mir_image"] * 2
    assert pool_module.parse_candidates(pool.column("asn_candidate")[0]) == (("o001", "observation"),)


def test_make_pool_then_generate_gives_jwst_associations(exposures, tmp_path):
    """The round trip: FITS headers -> make-pool -> generate -> image2 and image3 associations."""
    from asnflow.asnfile import files as asnfile

    assert main(["make-pool", *exposures, "-o", POOL_NAME]) == 0
    status = main(["generate", POOL_NAME, "-p", "out"])
    assert status == 0
    expected_folder = FIXTURES / "expected"
    expected = {path.name: asnfile.load(path) for path in expected_folder.glob("*_asn.json")}
    written = {path.name: asnfile.load(path) for path in (tmp_path / "out").glob("*_asn.json")}
    assert sorted(written) == sorted(expected)
    assert {asn["asn_type"] for asn in expected.values()} == {"image2", "image3"}
    for name, asn in expected.items():
        ours = dict(written[name])
        for key in ("code_version", "constraints"):
            ours[key] = asn[key]
        assert ours == asn, name


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "file not found"), (b"", "not a FITS file"), (b"hello, not fits\n" * 10, "not a FITS file")],
)
def test_bad_inputs_name_the_file(exposures, tmp_path, capsys, content, message):
    bad = tmp_path / "bad_uncal.fits"
    if content is not None:
        bad.write_bytes(content)
    assert main(["make-pool", exposures[0], str(bad), "-o", "pool.csv"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}: error: {message}")
    assert err.count("\n") == 1
    assert not (tmp_path / "pool.csv").exists()


def test_missing_observtn_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fits.PrimaryHDU().writeto(tmp_path / "no_obs.fits")
    with pytest.raises(InputError, match="OBSERVTN") as caught:
        make_pool(["no_obs.fits"])
    assert caught.value.path == "no_obs.fits"


@pytest.mark.parametrize("text", ["c1000", "[('c1000',)]", "[1, 2]", "c1000:back ground", "__import__('os')"])
def test_bad_candidate_options(text):
    with pytest.raises(InputError, match="asn-candidate"):
        parse_candidate_option(text)


def test_existing_pool_is_replaced_whole(exposures, tmp_path):
    (tmp_path / "pool.csv").write_text("old|content\n1|2\n", encoding="utf-8")
    assert main(["make-pool", *exposures, "-o", "pool.csv"]) == 0
    assert json.dumps(read_table((tmp_path / "pool.csv").read_text(encoding="utf-8"))).count("old") == 0
