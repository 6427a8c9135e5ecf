"""Member file names and level-2 product names.

Pool rows name raw (level-1b, ``_uncal``) exposures; associations list the
files the previous stage writes: ``_rate``/``_rateints`` for level-2
associations, ``_cal``/``_calints``/``_x1d``/``_rate`` for level-3 ones.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import PurePosixPath

from asnflow.naming.suffix import remove_suffix

IMAGE2_SCIENCE_EXPTYPES = frozenset(
    "fgs_image mir_4qpm mir_image mir_lyot nis_ami nis_image nrc_coron nrc_image nrs_mimf nrc_tsimage".split()
)
ACQ_EXPTYPES = frozenset(
    "mir_tacq mir_taconfirm nis_taconfirm nis_tacq nrc_taconfirm nrc_tacq nrs_confirm nrs_msata "
    "nrs_taconfirm nrs_tacq nrs_taslit nrs_verify nrs_wata".split()
)
IMAGE2_NONSCIENCE_EXPTYPES = frozenset("mir_coroncal nis_focus nrc_focus nrs_focus nrs_image".split()) | ACQ_EXPTYPES
SPEC2_SCIENCE_EXPTYPES = frozenset(
    "mir_lrs-fixedslit mir_lrs-slitless mir_mrs mir_wfss nis_soss nis_wfss nrc_tsgrism nrc_wfss "
    "nrs_fixedslit nrs_ifu nrs_msaspec nrs_brightobj".split()
)
# Exposure types that went through level-2b processing: their level-3 members are "_cal".
LEVEL2B_EXPTYPES: frozenset[str] = IMAGE2_SCIENCE_EXPTYPES | IMAGE2_NONSCIENCE_EXPTYPES | SPEC2_SCIENCE_EXPTYPES

# A level-1b name: anything, "_uncal", then an extension. The search is not
# anchored at the end and "." stops at a line break, as in jwst: the last
# "_uncal." on the first line wins and text after a line break is dropped.
_LEVEL1B_NAME = re.compile(r"(?P<path>.+)_uncal(?P<extension>\..+)")


def _level1b_parts(filename: str) -> tuple[str, str] | None:
    # What the pattern finds, without its backtracking over the whole name,
    # for the usual name: one line, the last "_uncal." neither first nor last.
    at = filename.rfind("_uncal.")
    if 0 < at < len(filename) - 7 and "\n" not in filename:
        return filename[:at], filename[at + 6:]
    match = _LEVEL1B_NAME.match(filename)
    if match is None:
        return None
    return match["path"], match["extension"]


def level2a_member_name(filename: str, integrations: bool) -> str | None:
    """``<path>_uncal<.ext>`` -> ``<path>_rate<.ext>`` (``_rateints`` with ``integrations``).

    ``None`` when ``filename`` is not a level-1b name; the caller then keeps
    the name unchanged and warns, as jwst does.
    """
    parts = _level1b_parts(filename)
    if parts is None:
        return None
    path, extension = parts
    return f"{path}_{'rateints' if integrations else 'rate'}{extension}"


def level2b_member_name(
    filename: str, *, exp_type: str | None, member_exptype: str, integrations: bool
) -> str | None:
    """The level-2 output a level-3 association lists for a level-1b exposure.

    As jwst 3.0.0: ``x1d`` for a background member, else ``cal`` when
    ``exp_type`` had level-2b processing (:data:`LEVEL2B_EXPTYPES`, compared
    exactly), else ``rate``; ``ints`` appended with ``integrations``.
    ``exp_type=None`` therefore gives ``rate``. ``None`` when ``filename`` is
    not a level-1b name.
    """
    parts = _level1b_parts(filename)
    if parts is None:
        return None
    path, extension = parts
    if member_exptype == "background":
        suffix = "x1d"
    elif exp_type in LEVEL2B_EXPTYPES:
        suffix = "cal"
    else:
        suffix = "rate"
    if integrations:
        suffix += "ints"
    return f"{path}_{suffix}{extension}"


def level2_product_name(expname: str) -> str:
    """Level-2 product name: the science member's name, folder kept, stem only, known suffix removed."""
    stem = _bare_stem(expname)
    if stem is None:
        path = PurePosixPath(expname)
        stem = str(path.parent / path.stem)
    root, _separator = remove_suffix(stem)
    return root


def _bare_stem(name: str) -> str | None:
    """The stem of a plain file name with no folder (what PurePosixPath gives, without building one:
    a large pool names tens of thousands of products); None for anything else."""
    dot = name.rfind(".")
    if "/" in name or dot <= 0 or dot == len(name) - 1 or name.startswith("."):
        return None
    return name[:dot]


def nod_product_name(expname: str) -> str:
    """Product name of one nod-split level-2 association: like :func:`level2_product_name`, folder dropped."""
    basename = posixpath.split(expname)[1]
    root, _separator = remove_suffix(PurePosixPath(basename).stem)
    return root
