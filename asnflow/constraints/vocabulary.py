"""What kind of member an exposure is, and whether it is integration-shaped.

The JWST vocabulary these answers depend on (which exposure types are target
acquisitions, TSO, coronagraphic, ...) is data in the rule files; the
compiler collects it into a :class:`Vocabulary` by well-known names.
The functions here are jwst's ``get_exposure_type`` and ``is_item_tso``/
``is_item_coron``/``is_item_ami`` (reference §2.2, §2.3).
"""

from __future__ import annotations

from dataclasses import field

from asnflow.constraints.rows import Row, memo_key
from asnflow.records import record

# Names the rule files must define (the checker reports any that is missing).
VOCABULARY_LISTS = (
    "acq_exp_types",
    "tso_exp_types",
    "coron_exp_types",
    "ami_exp_types",
    "wfss_direct_image_exp_types",
)
VOCABULARY_TABLES = ("exposure_type_map", "exposure_modifiers", "nrc_coron_unocculted")


@record(frozen=True)
class Vocabulary:
    exposure_type_map: dict[str, str] = field(default_factory=dict)
    modifiers: tuple[tuple[str, str], ...] = ()  # (member type, column) in priority order
    acq_exp_types: frozenset[str] = frozenset()
    tso_exp_types: tuple[str, ...] = ()
    coron_exp_types: frozenset[str] = frozenset()
    ami_exp_types: frozenset[str] = frozenset()
    wfss_direct_image_exp_types: frozenset[str] = frozenset()
    nrc_coron_unocculted: frozenset[tuple[str, str]] = frozenset()


def base_exposure_type(vocab: Vocabulary, row: Row, default: str = "science") -> str:
    """jwst get_exposure_type: pointing type, then the exp_type map, then modifiers."""
    memo = row.memo
    if memo is None:
        memo = row.memo = {}
    found = memo.get(("exposure_type", default))
    if found is None:
        found = memo[memo_key(("exposure_type", default))] = _base_exposure_type(vocab, row, default)
    return found


def _base_exposure_type(vocab: Vocabulary, row: Row, default: str) -> str:
    pointing = row.valid("pntgtype")
    if pointing is not None and pointing != "science":
        return pointing
    exp_type = row.valid("exp_type")
    # jwst raises LookupError here; a pool row with no exposure type is
    # treated as the default instead of stopping the whole run.
    result = vocab.exposure_type_map.get(exp_type, default) if exp_type is not None else default
    if result != "science":
        return result
    for member_type, column in vocab.modifiers:
        if row.valid(column) is not None:
            return member_type
    return result


def _science_pointing(vocab: Vocabulary, row: Row) -> bool:
    # jwst reads these two cells raw (no "not specified" handling).
    return row.get("pntgtype") == "science" and row.get("exp_type") not in vocab.acq_exp_types


def is_tso(vocab: Vocabulary, row: Row, pinned_is_tso: str | None) -> bool:
    """TSO-shaped: the rule pinned is_tso to "t", tsovisit is "t", or a TSO exposure type."""
    if not _science_pointing(vocab, row):
        return False
    if pinned_is_tso == "t":
        return True
    if row.valid("tsovisit") == "t":
        return True
    return row.valid("exp_type") in vocab.tso_exp_types


def is_coron(vocab: Vocabulary, row: Row) -> bool:
    """Coronagraphic, except full-frame NIRCam detectors that do not hold the occulter."""
    if not _science_pointing(vocab, row):
        return False
    exp_type = row.valid("exp_type")
    if exp_type is None:
        return False
    if (
        row.get("exp_type") == "nrc_coron"
        and row.get("subarray") == "full"
        and (row.get("pupil"), row.get("detector")) in vocab.nrc_coron_unocculted
    ):
        return False
    return exp_type in vocab.coron_exp_types


def is_ami(vocab: Vocabulary, row: Row) -> bool:
    if not _science_pointing(vocab, row):
        return False
    return row.valid("exp_type") in vocab.ami_exp_types
