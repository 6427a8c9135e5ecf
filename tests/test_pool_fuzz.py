"""engine.pool under random input: a pool or a PoolError, never another exception."""

from __future__ import annotations

import ast
import gzip
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from asnflow.errors import PoolError
from asnflow.pool.read import Pool, parse_candidates, read_pool

POOLS = Path(__file__).parent / "data" / "compat" / "pools"
VALID = (POOLS / "pool_005_spec_niriss.csv").read_bytes()
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Bytes that matter to the reader: delimiters, quotes, comments, blanks, line
# ends of every kind, a BOM, a NUL, UTF-8 lead bytes, the gzip magic.
SPECIAL = [b"|", b'"', b"#", b" ", b"\t", b"\n", b"\r\n", b"\r", b"\x0c", b"\xe2\x80\xa8", b"\xef\xbb\xbf",
           b"\x00", b"\xc3", b"\xe9", b"\x1f\x8b", b"null", b"[('o1', 'x')]", b"1000", b"program"]


def read_bytes(data: bytes, delimiter: str = "|") -> Pool | None:
    """read_pool on ``data`` in a temporary file: the pool, or None if refused with PoolError."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_bytes(data)
        try:
            pool = read_pool(path, delimiter=delimiter)
        except PoolError as error:
            assert error.path == str(path)
            assert error.one_line().startswith(str(path))
            return None
    check_pool(pool)
    return pool


def check_pool(pool: Pool) -> None:
    """What every pool read_pool returns promises."""
    assert len(pool.rows) == len(pool.lines)
    assert list(pool.lines) == sorted(set(pool.lines))
    for name in ("filename", "program", "exp_type", "asn_candidate"):
        assert pool.index(name) is not None
    for row in pool.rows:
        assert isinstance(row, tuple) and len(row) == len(pool.columns)
        assert all(isinstance(cell, str) and cell for cell in row)  # empty cells are filled
        parse_candidates(row[pool.index("asn_candidate")])


@FUZZ
@given(st.binary(max_size=2000))
@example(b"")
@example(b"\x1f\x8b")
@example(b"\x1f\x8b\x08\x00\x00\x00\x00\x00")
def test_random_bytes(data):
    read_bytes(data)


@FUZZ
@given(st.lists(st.sampled_from(SPECIAL) | st.binary(max_size=8), max_size=60))
def test_random_pieces_of_pool_syntax(pieces):
    read_bytes(b"FILENAME|PROGRAM|EXP_TYPE|ASN_CANDIDATE\n" + b"".join(pieces))


@FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, len(VALID) - 1), st.sampled_from(["delete", "insert", "replace"]),
                  st.sampled_from(SPECIAL) | st.binary(min_size=1, max_size=4)),
        min_size=1,
        max_size=8,
    ),
    st.booleans(),
)
def test_mutated_valid_pool(mutations, compress):
    data = bytearray(VALID)
    for offset, action, piece in mutations:
        offset %= len(data) + 1
        if action == "delete":
            del data[offset : offset + len(piece)]
        elif action == "insert":
            data[offset:offset] = piece
        else:
            data[offset : offset + len(piece)] = piece
    read_bytes(gzip.compress(bytes(data)) if compress else bytes(data))


@FUZZ
@given(st.integers(0, len(VALID)), st.sampled_from([",", "\t", " ", ";", "|"]))
def test_truncated_pool_with_any_delimiter(cut, delimiter):
    read_bytes(VALID[:cut].replace(b"|", delimiter.encode()), delimiter=delimiter)


@FUZZ
@given(st.text(max_size=200))
@example("[" * 500)
@example("1" * 5000)
@example("[('a', 'b')]" + "," * 3)
def test_parse_candidates_returns_pairs_or_refuses(cell):
    try:
        pairs = parse_candidates(cell)
    except PoolError:
        return
    assert all(isinstance(a, str) and isinstance(b, str) for a, b in pairs)


PAIR_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6)


@FUZZ
@given(
    st.lists(st.tuples(PAIR_TEXT, PAIR_TEXT), max_size=4),
    st.sampled_from(["", " ", "  ", "\t"]),
    st.sampled_from(["[", "("]),
)
def test_parse_candidates_agrees_with_literal_eval(pairs, blank, opening):
    closing = "]" if opening == "[" else ")"
    items = [f"({blank}{a!r},{blank}{b!r}{blank})" for a, b in pairs]
    text = opening + ("," + blank).join(items) + ("," if opening == "(" and len(items) == 1 else "") + closing
    expected = tuple(tuple(item) for item in ast.literal_eval(text))
    if any(not candidate_id.strip() for candidate_id, _ in expected):
        # An empty (or blank) candidate id is refused: it would make file names
        # such as "jw01234-_image2_00001_asn.json".
        with pytest.raises(PoolError, match="empty candidate id"):
            parse_candidates(text)
        return
    assert parse_candidates(text) == expected
