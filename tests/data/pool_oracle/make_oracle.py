"""Record how jwst reads pools, for tests/test_pool.py to compare against.

Run once with a Python that has jwst installed (it is not an asnflow
dependency):

    python tests/data/pool_oracle/make_oracle.py

It writes jwst_reads.json beside itself: for every pool of the parity corpus
the column names, the row count and a SHA-256 of the rows, and for a set of
small hand-written pools that exercise the reader's corner cases their text
and the full columns and rows jwst's ``AssociationPool.read`` gives.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import warnings
from pathlib import Path

import astropy
import jwst
from jwst.associations.pool import AssociationPool

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent / "compat" / "pools"
HEAD = "FILENAME|PROGRAM|EXP_TYPE|ASN_CANDIDATE"
CAND = "[('o001', 'observation')]"

# name -> (file text, delimiter); every one is a pool both readers accept.
CASES: dict[str, tuple[str, str]] = {
    "blanks_around_cells": (
        f"{HEAD}|NOTE\n  a.fits | 00623 |\tNRC_IMAGE\t| {CAND} |  two  words \n", "|"),
    "numbers_stay_text": (f"{HEAD}|X\nA.FITS|00623|NRC_IMAGE|{CAND}|1.50\n", "|"),
    "null_spellings": (f"{HEAD}|A|B\na|1|NULL|Null|null|--\n", "|"),
    "quoting": (
        f'{HEAD}|"Quoted Name"|Q\n'
        f'a|1|"x|y"|"{CAND}"|"say ""hi"""|"ab"c\n'
        f'b|2| "lead"|1000|"  padded  "|\'single\'\n', "|"),
    "comments_and_blank_lines": (
        f"# first\n\n{HEAD}\n  # indented\na|1|nrc_image|null\n\n\t\n# middle\nb|2|mir_image|1000\n# last\n",
        "|"),
    "hash_inside_cell": (f"{HEAD}|X\na|1|nrc_image|null|a#b\n", "|"),
    "empty_cells_wide_columns": (
        f"{HEAD}|WIDE\na|1|nrc_image||abcdef\nb|2||{CAND}|\n", "|"),
    # jwst quirk: "null" cut to the column's width (numpy fixed-width strings)
    "empty_cells_narrow_columns": (
        f"{HEAD}|ONE|TWO|THREE|NONE\na|1|nrc_image|null|t||abc|\nb|2|nrc_image|null||01||\n", "|"),
    "unicode_lower_case": (
        f"{HEAD}|NAME|SIGMA\nİSTANBUL.fits|1|NRC_IMAGE|null|ΟΔΟΣ|Σ\n", "|"),
    "unicode_blanks_kept_inside": (
        f"{HEAD}|X|Y\n\u00a0a\u00a0|1|nrc_image|null|\u00a0x\u00a0|y\u00a0\n", "|"),
    "crlf_line_ends": (f"{HEAD}\r\na|1|nrc_image|null\r\nb|2|nrc_image|1000\r\n", "|"),
    "cr_line_ends": (f"{HEAD}\ra|1|nrc_image|null\rb|2|nrc_image|1000\r", "|"),
    "form_feed_line_end": (f"{HEAD}\na|1|nrc_image|null\x0c\nb|2|nrc_image|1000\n", "|"),
    "no_final_newline": (f"{HEAD}\na|1|nrc_image|null", "|"),
    "header_only": (f"{HEAD}\n", "|"),
    "header_repeated_as_data": (
        f"{HEAD}\nset acid|program|exp_type|1000\na|1|nrc_image|{CAND}\n"
        "set acid|program|exp_type|asn_candidate\n", "|"),
    "comma_delimiter": (
        'FILENAME,PROGRAM,EXP_TYPE,ASN_CANDIDATE\na , 1,nrc_image,"[(\'o001\', \'observation\')]"\n', ","),
    "tab_delimiter": (
        f"FILENAME\tPROGRAM\tEXP_TYPE\tASN_CANDIDATE\tX\na \t 1\tnrc_image\t{CAND}\tx y \n", "\t"),
    # trimming would eat the trailing tab, so jwst falls back to its tab reader
    "tab_delimiter_last_cell_empty": (
        f"FILENAME\tPROGRAM\tEXP_TYPE\tASN_CANDIDATE\tX\na\t1\tnrc_image\t{CAND}\t\n", "\t"),
    "space_delimiter": ("FILENAME PROGRAM EXP_TYPE ASN_CANDIDATE\na  1 nrc_image   1000\n", " "),
}


def read(path: Path, delimiter: str) -> tuple[list[str], list[list[str]]]:
    table = AssociationPool.read(str(path), delimiter=delimiter)
    columns = list(table.colnames)
    rows = [[str(table[name][i]) for name in columns] for i in range(len(table))]
    return columns, rows


def rows_digest(rows: list[list[str]]) -> str:
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode("utf-8")).hexdigest()


def main() -> int:
    warnings.simplefilter("ignore")
    corpus = {}
    for path in sorted(CORPUS.iterdir()):
        columns, rows = read(path, "|")
        corpus[path.name] = {"columns": columns, "n_rows": len(rows), "rows_sha256": rows_digest(rows)}
    cases = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, (text, delimiter) in CASES.items():
            path = Path(folder) / f"{name}.csv"
            path.write_text(text, encoding="utf-8", newline="")
            columns, rows = read(path, delimiter)
            cases[name] = {"text": text, "delimiter": delimiter, "columns": columns, "rows": rows}
    record = {
        "about": f"AssociationPool.read of jwst {jwst.__version__} (astropy {astropy.__version__})",
        "corpus": corpus,
        "cases": cases,
    }
    out = HERE / "jwst_reads.json"
    out.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(corpus)} corpus pools, {len(cases)} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
