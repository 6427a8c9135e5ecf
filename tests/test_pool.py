"""engine.pool: cells exactly as jwst reads them, and clear refusals of bad pools."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import pytest

from asnflow.errors import PoolError
from asnflow.pool.read import NULL, Pool, parse_candidates, read_pool

DATA = Path(__file__).parent / "data"
POOLS = DATA / "compat" / "pools"
BAD_POOLS = DATA / "bad_pools"
JWST_READS = json.loads((DATA / "pool_oracle" / "jwst_reads.json").read_text(encoding="utf-8"))

HEAD = "FILENAME|PROGRAM|EXP_TYPE|ASN_CANDIDATE"
CAND = "[('o001', 'observation')]"


def write(tmp_path: Path, text: str, name: str = "pool.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def refusal(path: Path, **kwargs) -> PoolError:
    with pytest.raises(PoolError) as caught:
        read_pool(path, **kwargs)
    error = caught.value
    assert path.name in error.one_line()
    return error


# --- the same cells as jwst -------------------------------------------------


def rows_digest(pool: Pool) -> str:
    rows = [list(row) for row in pool.rows]
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode("utf-8")).hexdigest()


@pytest.mark.parametrize("name", sorted(JWST_READS["corpus"]))
def test_corpus_pool_reads_as_jwst_reads_it(name):
    expected = JWST_READS["corpus"][name]
    pool = read_pool(POOLS / name)
    assert list(pool.columns) == expected["columns"]
    assert len(pool) == expected["n_rows"]
    assert rows_digest(pool) == expected["rows_sha256"]


def test_every_corpus_pool_is_in_the_jwst_record():
    assert sorted(p.name for p in POOLS.iterdir()) == sorted(JWST_READS["corpus"])


@pytest.mark.parametrize("name", sorted(JWST_READS["cases"]))
def test_corner_case_reads_as_jwst_reads_it(tmp_path, name):
    case = JWST_READS["cases"][name]
    pool = read_pool(write(tmp_path, case["text"], f"{name}.csv"), delimiter=case["delimiter"])
    assert list(pool.columns) == case["columns"]
    assert [list(row) for row in pool.rows] == case["rows"]


# --- what the reader gives ----------------------------------------------------


def test_mega_pool_keeps_repeated_header_rows_as_data():
    pool = read_pool(POOLS / "mega_pool.csv")
    assert len(pool) == 837 and len(pool.columns) == 57
    echoes = [row for row in pool.rows if row[pool.index("program")] == "program"]
    assert echoes, "the mega pool repeats its header as data rows"
    assert any(row[pool.index("fxd_slit")] == "fxd_slit" for row in echoes)
    assert any(row[pool.index("asn_candidate")] == "asn_candidate" for row in echoes)
    assert all(row[pool.index("filename")] == "set acid" for row in echoes)


def test_pool_interface(tmp_path):
    path = write(
        tmp_path,
        f"# made by hand\n{HEAD}|Filter\n\na.fits|1|NRC_IMAGE|{CAND}|F090W\n# between\nb.fits|2|mir_image|1000|NULL\n",
        "jw01234_pool.csv",
    )
    pool = read_pool(str(path))
    assert pool.path == path and pool.name == "jw01234_pool.csv"
    assert pool.columns == ("filename", "program", "exp_type", "asn_candidate", "filter")
    assert len(pool) == 2
    assert pool.rows[0] == ("a.fits", "1", "nrc_image", CAND, "f090w")
    assert pool.lines == (4, 6)
    assert pool.comments == ("# made by hand", "# between")
    assert pool.index("FILTER") == pool.index("filter") == 4
    assert pool.index("pupil") is None
    assert pool.column("Filter") == ["f090w", NULL]
    with pytest.raises(KeyError):
        pool.column("pupil")


def test_blanks_quotes_and_numbers(tmp_path):
    text = f'{HEAD}|NOTE|N\n a.fits \t|  00623| "NRC|IMAGE" |{CAND}|"say ""hi"""| 1.50 \n'
    pool = read_pool(write(tmp_path, text))
    assert pool.rows == (("a.fits", "00623", "nrc|image", CAND, 'say "hi"', "1.50"),)


@pytest.mark.parametrize("left, right", [("\t", "\t"), (" ", " "), ("\t", " "), (" \t", "\t ")])
def test_unquoted_cells_lose_the_blanks_at_their_edges_tabs_or_spaces(tmp_path, left, right):
    """Without quotes, a cell is trimmed of blanks and tabs where it meets a delimiter, whichever
    of the two the text holds (the reader looks only for the blanks it holds)."""
    text = f"{HEAD}\na.fits{left}|{right}1|nrc_image{left}|{right}null\nb.fits|2|nrc_image|null\n"
    pool = read_pool(write(tmp_path, text))
    assert pool.rows == (("a.fits", "1", "nrc_image", NULL), ("b.fits", "2", "nrc_image", NULL))


def test_utf8_bom_and_crlf(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f"{HEAD}\r\na.fits|1|nrc_image|null\r\n".encode())
    pool = read_pool(path)
    assert pool.columns[0] == "filename"
    assert pool.rows == (("a.fits", "1", "nrc_image", NULL),)


@pytest.mark.parametrize("name", ["pool.csv.gz", "pool.csv", "pool"])
def test_gzip_recognised_by_content(tmp_path, name):
    plain = (POOLS / "pool_002_image_miri.csv").read_bytes()
    path = tmp_path / name
    path.write_bytes(gzip.compress(plain))
    assert read_pool(path).rows == read_pool(POOLS / "pool_002_image_miri.csv").rows


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_other_delimiters(tmp_path, delimiter):
    source = read_pool(POOLS / "pool_002_image_miri.csv")
    quoted = [f'"{cell}"' if "," in cell else cell for cell in source.columns]
    lines = [delimiter.join(quoted)]
    lines += [delimiter.join(f'"{cell}"' if "," in cell else cell for cell in row) for row in source.rows]
    pool = read_pool(write(tmp_path, "\n".join(lines) + "\n"), delimiter=delimiter)
    assert pool.columns == source.columns and pool.rows == source.rows


def test_line_numbers_are_physical_lines_despite_form_feeds(tmp_path):
    # str.splitlines() (so astropy, so jwst) also breaks at a form feed; the
    # reported line stays the one an editor shows.
    text = f"{HEAD}\na.fits|1|nrc_image|null\x0c\n\x0c\nb.fits|2|nrc_image|null\nc.fits|x|nrc_image|null\n"
    path = write(tmp_path, text)
    error = refusal(path)
    assert (error.line, error.column) == (5, 2)
    good = write(tmp_path, text.replace("c.fits|x", "c.fits|3"), "good.csv")
    assert read_pool(good).lines == (2, 4, 5)


def test_empty_cells_follow_jwst_fill(tmp_path):
    text = f"{HEAD}|ONE|TWO|LONG\na|1|nrc_image||t||abcdef\nb|2||1000||01|\n"
    pool = read_pool(write(tmp_path, text))
    # "null" cut to the column width, as jwst's numpy string columns do
    assert pool.rows == (
        ("a", "1", "nrc_image", NULL, "t", "nu", "abcdef"),
        ("b", "2", NULL, "1000", "n", "01", NULL),
    )


def test_header_only_pool_has_no_rows(tmp_path):
    pool = read_pool(write(tmp_path, f"{HEAD}\n"))
    assert len(pool) == 0 and pool.column("filename") == []


# --- refusals -----------------------------------------------------------------


def test_missing_file(tmp_path):
    error = refusal(tmp_path / "nope.csv")
    assert "not found" in error.message


def test_directory(tmp_path):
    folder = tmp_path / "pools.csv"
    folder.mkdir()
    error = refusal(folder)
    assert "folder" in error.message


def test_unreadable_file(tmp_path):
    path = write(tmp_path, f"{HEAD}\na|1|nrc_image|null\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running with privileges that read any file")
        error = refusal(path)
        assert "permission" in error.message
    finally:
        path.chmod(0o644)


@pytest.mark.parametrize(
    ("text", "words"),
    [("", "empty"), ("\n  \n\t\n", "empty"), ("# one\n  # two\n", "only comments")],
)
def test_no_header(tmp_path, text, words):
    error = refusal(write(tmp_path, text))
    assert words in error.message


def test_only_comments_file():
    error = refusal(BAD_POOLS / "only_comments.csv")
    assert "only comments" in error.message


def test_nul_byte(tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(f"{HEAD}\na|1|nrc_".encode() + b"\x00image|null\n")
    error = refusal(path)
    assert "NUL" in error.message
    assert (error.line, error.column) == (2, 9)


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"{HEAD}\na|1|nrc_image|null\nb|1|caf".encode() + b"\xe9|null\n")
    error = refusal(path)
    assert "UTF-8" in error.message and "0xE9" in error.message
    assert (error.line, error.column) == (3, 8)


def test_utf16_gets_a_hint(tmp_path):
    path = tmp_path / "utf16.csv"
    path.write_bytes(f"{HEAD}\na|1|nrc_image|null\n".encode("utf-16"))
    error = refusal(path)
    assert "UTF-16" in error.hint


@pytest.mark.parametrize("damage", ["truncate", "corrupt"])
def test_corrupt_gzip(tmp_path, damage):
    packed = gzip.compress((POOLS / "pool_002_image_miri.csv").read_bytes())
    if damage == "truncate":
        packed = packed[: len(packed) // 2]
    else:
        packed = packed[:20] + bytes(b ^ 0xFF for b in packed[20:40]) + packed[40:]
    path = tmp_path / "pool.csv.gz"
    path.write_bytes(packed)
    error = refusal(path)
    assert "gzip" in error.message


def test_row_with_too_few_cells():
    error = refusal(BAD_POOLS / "ragged_row.csv")
    assert error.line == 4
    assert "4 cells" in error.message and "5 columns" in error.message and "line 2" in error.message
    assert "NULL" in error.hint


def test_row_with_too_many_cells(tmp_path):
    error = refusal(write(tmp_path, f"{HEAD}\na|1|nrc_image|null\n\nb|1|nrc|image|null\n"))
    assert error.line == 4 and "5 cells" in error.message and "4 columns" in error.message
    assert "quoted" in error.hint


def test_duplicate_columns_ignore_case():
    error = refusal(BAD_POOLS / "duplicate_column.csv")
    assert "FILTER" in error.message and "5" in error.message and "6" in error.message
    assert (error.line, error.column) == (1, 6)


def test_header_cell_without_a_name(tmp_path):
    error = refusal(write(tmp_path, f"{HEAD}|\na|1|nrc_image|null|\n"))
    assert (error.line, error.column) == (1, 5) and "no name" in error.message


def test_missing_required_column():
    error = refusal(BAD_POOLS / "missing_exp_type.csv")
    assert "EXP_TYPE" in error.message and "PROGRAM" not in error.message
    assert error.line == 1


def test_old_pool_without_asn_candidate_is_refused(compat_dir):
    # jwst crashes with KeyError: 'asn_candidate' on this pool
    error = refusal(compat_dir / "bad_pools" / "jw93060_20150312T160130_pool.csv")
    assert "ASN_CANDIDATE" in error.message
    assert "FILENAME" not in error.message.split("column")[-1]


def test_wrong_delimiter_gets_a_hint(tmp_path):
    error = refusal(write(tmp_path, f"{HEAD.replace('|', ',')}\na,1,nrc_image,null\n"))
    assert "delimiter" in error.hint


@pytest.mark.parametrize("cell", ["", "NULL", "null"])
def test_empty_filename(tmp_path, cell):
    error = refusal(write(tmp_path, f"{HEAD}\na|1|nrc_image|null\n{cell}|1|nrc_image|null\n"))
    assert (error.line, error.column) == (3, 1) and "FILENAME" in error.message


def test_empty_filename_file():
    error = refusal(BAD_POOLS / "empty_filename.csv")
    assert (error.line, error.column) == (3, 1)


@pytest.mark.parametrize("program", ["12ab", "0", "00000", "-5", "1.5", "", "null", "program", "１２"])
def test_program_must_be_a_positive_integer(tmp_path, program):
    error = refusal(write(tmp_path, f"EXP_TYPE|{HEAD.replace('|EXP_TYPE', '')}\nnrc_image|a|{program}|null\n"))
    assert (error.line, error.column) == (2, 3) and "PROGRAM" in error.message


def test_bad_program_file():
    error = refusal(BAD_POOLS / "bad_program.csv")
    assert (error.line, error.column) == (3, 2) and "'12ab'" in error.message


def test_header_echo_needs_both_program_and_exp_type(tmp_path):
    accepted = read_pool(write(tmp_path, f"{HEAD}\nset acid|program|exp_type|1000\n"))
    assert accepted.rows == (("set acid", "program", "exp_type", "1000"),)
    error = refusal(write(tmp_path, f"{HEAD}\nset acid|program|nrc_image|1000\n", "half.csv"))
    assert error.column == 2


@pytest.mark.parametrize(
    "cell",
    [
        "[o001, observation]",
        "[1, 2]",
        "[('o001', 'observation', 'x')]",
        "[('o001', 1)]",
        "('o001', 'observation')",
        "{('o001', 'observation')}",
        "-1",
        "1.5",
        "o001",
        "nu",
        "asn_candidate",
        "[('o001', 'observation')",
        "__import__('os')",
    ],
)
def test_bad_asn_candidate(tmp_path, cell):
    quoted = '"' + cell.replace('"', '""') + '"'
    error = refusal(write(tmp_path, f"PROGRAM|ASN_CANDIDATE|FILENAME|EXP_TYPE\n1|null|a|x\n1|{quoted}|b|x\n"))
    assert (error.line, error.column) == (3, 2)
    assert "ASN_CANDIDATE" in error.message and "pairs" in error.message


def test_bad_candidate_file():
    error = refusal(BAD_POOLS / "bad_candidate.csv")
    assert (error.line, error.column) == (3, 4) and "[o001, observation]" in error.message


def test_open_quote():
    error = refusal(BAD_POOLS / "open_quote.csv")
    assert (error.line, error.column) == (2, 4) and "quote" in error.message


@pytest.mark.parametrize("delimiter", ["", "||", '"', "#", "a", "7", "\n"])
def test_bad_delimiter(tmp_path, delimiter):
    error = refusal(write(tmp_path, f"{HEAD}\na|1|nrc_image|null\n"), delimiter=delimiter)
    assert "delimiter" in error.message


def test_every_bad_pool_file_is_refused():
    for path in sorted(BAD_POOLS.iterdir()):
        with pytest.raises(PoolError):
            read_pool(path)


# --- ASN_CANDIDATE cells --------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "pairs"),
    [
        ("[('o001', 'observation'), ('c1000', 'background')]",
         (("o001", "observation"), ("c1000", "background"))),
        ("[('o001','observation')]", (("o001", "observation"),)),
        ('[("o001", "observation"),]', (("o001", "observation"),)),
        ("(['o002', 'group'], ('c1001', 'mosaic'))", (("o002", "group"), ("c1001", "mosaic"))),
        ("[]", ()),
        ("1000", (("1000", "unknown"),)),
        ("0", (("0", "unknown"),)),
        ("null", ()),
        ("NULL", ()),
        ("", ()),
        ("  ", ()),
        ("n", ()),  # what jwst leaves in an empty cell of a narrow column
        ("asn_candidate", ()),  # the repeated-header row
    ],
)
def test_parse_candidates(cell, pairs):
    assert parse_candidates(cell) == pairs


@pytest.mark.parametrize("cell", ["[1]", "-3", "1.5", "junk", "('a', 'b')", "[('a', 'b')", "[(1, 'b')]"])
def test_parse_candidates_refuses(cell):
    with pytest.raises(PoolError) as caught:
        parse_candidates(cell)
    assert caught.value.hint


def test_parse_candidates_never_evaluates_code():
    with pytest.raises(PoolError):
        parse_candidates("[(__import__('os').getcwd(), 'observation')]")


def test_corpus_candidates_all_parse():
    types = set()
    for path in sorted(POOLS.iterdir()):
        pool = read_pool(path)
        for cell in pool.column("asn_candidate"):
            types.update(kind for _, kind in parse_candidates(cell))
    assert {"observation", "background", "group", "mosaic", "unknown"} <= types
