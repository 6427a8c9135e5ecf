"""Association candidates: which exist in a pool, and the sub-pool of each.

jwst generates per candidate (since 1.14): for each (id, type) found in the
ASN_CANDIDATE column, the rows whose cell *contains* the id as text, with the
cell replaced by that single candidate (reference §5.1).
"""

from __future__ import annotations

import logging
from ast import literal_eval
from collections.abc import Iterator
from functools import lru_cache

from asnflow.constraints.rows import Row

log = logging.getLogger("asnflow.candidates")


@lru_cache(maxsize=4096)
def _evaluate(cell: str):
    try:
        return literal_eval(cell)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return cell


def ids_by_type(cells: list[str]) -> dict[str, list[str]]:
    """{candidate type: [ids]} in order of first appearance (jwst ids_by_ctype).

    A bare integer is filed under type ``unknown``; cells that are not a list
    of pairs (``null``) give nothing.
    """
    found: dict[str, dict[str, None]] = {}
    for cell in cells:
        value = _evaluate(cell)
        if isinstance(value, int) and not isinstance(value, bool):
            found.setdefault("unknown", {})[str(value)] = None
            continue
        try:
            for candidate_id, candidate_type in value:
                found.setdefault(candidate_type, {})[candidate_id] = None
        except (ValueError, TypeError):
            continue
    return {ctype: list(ids) for ctype, ids in found.items()}


def candidate_list(by_type: dict[str, list[str]], wanted: list[str] | None) -> tuple[list[tuple[str, str]], list[str]]:
    """The (id, type) pairs to generate, and the wanted ids the pool lacks.

    All candidates grouped by type in first-seen order, or the wanted ids in
    the order given (each with the first type it has).
    """
    if wanted is None:
        return [(cid, ctype) for ctype, ids in by_type.items() for cid in ids], []
    pairs, missing = [], []
    for cid in wanted:
        for ctype, ids in by_type.items():
            if cid in ids:
                pairs.append((cid, ctype))
                break
        else:
            missing.append(cid)
    return pairs, missing


def background_candidates_of(rows: list[Row], ids: list[str]) -> list[str]:
    """--DMS -i: background candidates that share rows with the requested ids (jwst #9501)."""
    cells = [row["asn_candidate"] for row in rows if any(cid in row["asn_candidate"] for cid in ids)]
    return list(ids_by_type(cells).get("background", []))


def rows_of_candidate(rows: list[Row], candidate_id: str, candidate_type: str) -> Iterator[Row]:
    """The candidate's rows, each copied as it is reached (a pass holds only those it still needs)."""
    # jwst selects rows with a substring test ("1000" also matches c1000) and
    # then overwrites the cell with this one candidate.
    if not rows:
        return iter(())
    cell = candidate_cell(candidate_id, candidate_type)
    at = rows[0].columns["asn_candidate"]  # rows of one pool share their columns
    return (row.replace("asn_candidate", cell) for row in rows if candidate_id in row.values[at])


def candidate_cell(candidate_id: str, candidate_type: str) -> str:
    """The ASN_CANDIDATE cell a candidate's pass gives each of its rows."""
    return f"[('{candidate_id}', '{candidate_type}')]"
