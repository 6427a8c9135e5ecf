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
from itertools import chain

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


def rows_by_cell(rows: list[Row]) -> dict[str, list[int]]:
    """Where the rows are in the pool, by their ASN_CANDIDATE cell (cells in order of first appearance)."""
    if not rows:
        return {}
    at = rows[0].columns["asn_candidate"]  # rows of one pool share their columns
    grouped: dict[str, list[int]] = {}
    for position, row in enumerate(rows):
        grouped.setdefault(row.values[at], []).append(position)
    return grouped


def positions_of_candidate(by_cell: dict[str, list[int]], candidate_id: str) -> tuple[int, ...]:
    """Where a candidate's rows are in the pool, in pool order (``by_cell``: :func:`rows_by_cell`).

    jwst selects rows with a substring test ("1000" also matches c1000).
    The test is made once per distinct cell: a pool has far fewer cells than
    rows, and testing every row again in each pass (35 observations of a
    100,000-row pool) was 3 % of the run.
    """
    groups = [positions for cell, positions in by_cell.items() if candidate_id in cell]
    if len(groups) == 1:
        return tuple(groups[0])
    return tuple(sorted(chain.from_iterable(groups)))


def candidate_rows(rows: list[Row], positions: tuple[int, ...], candidate_id: str,
                   candidate_type: str) -> Iterator[Row]:
    """The candidate's rows, each copied as it is reached (a pass holds only those it still needs),
    with the cell overwritten by this one candidate, as jwst does."""
    cell = candidate_cell(candidate_id, candidate_type)
    return (rows[position].replace("asn_candidate", cell) for position in positions)


def candidate_cell(candidate_id: str, candidate_type: str) -> str:
    """The ASN_CANDIDATE cell a candidate's pass gives each of its rows."""
    return f"[('{candidate_id}', '{candidate_type}')]"
