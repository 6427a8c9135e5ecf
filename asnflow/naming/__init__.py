"""DMS names: exposures, level-2/3 products, association files, candidate ids, source ids.

Everything here is a pure function of its arguments (the suffix and subarray
word lists are package data read once at import).

- :mod:`.suffix`: known calibration suffixes, ``remove_suffix``;
- :mod:`.members`: member file names (``_uncal`` -> ``_rate``/``_cal``...) and level-2 product names;
- :mod:`.template`: partial template filling (jwst's ``FormatTemplate``);
- :mod:`.products`: level-3 product names from pinned values;
- :mod:`.asn_names`: ACIDs, association file names, version-id timestamps;
- :mod:`.exposure`: parsing and formatting exposure and product file names;
- :mod:`.source_id`: NIRSpec fixed-slit source numbers, filling ``{source_id}``/``{slit_name}``.
"""

from asnflow.naming.asn_names import ACID, asn_file_stem, parse_asn_file_name, timestamp
from asnflow.naming.exposure import (
    ExposureName,
    ProductName,
    format_exposure_name,
    format_product_name,
    parse_name,
)
from asnflow.naming.members import (
    LEVEL2B_EXPTYPES,
    level2_product_name,
    level2a_member_name,
    level2b_member_name,
    nod_product_name,
)
from asnflow.naming.products import (
    level3_product_name,
    opt_elem,
    program_id,
    slit_name,
    subarray,
    target_id,
    wfscmb_product_name,
)
from asnflow.naming.source_id import FIXED_SLIT_NUMBERS, fill_source_placeholders, fixed_slit_source_id
from asnflow.naming.suffix import KNOWN_SUFFIXES, remove_suffix
from asnflow.naming.template import fill_template

__all__ = [
    "ACID",
    "FIXED_SLIT_NUMBERS",
    "KNOWN_SUFFIXES",
    "LEVEL2B_EXPTYPES",
    "ExposureName",
    "ProductName",
    "asn_file_stem",
    "fill_source_placeholders",
    "fill_template",
    "fixed_slit_source_id",
    "format_exposure_name",
    "format_product_name",
    "level2_product_name",
    "level2a_member_name",
    "level2b_member_name",
    "level3_product_name",
    "nod_product_name",
    "opt_elem",
    "parse_asn_file_name",
    "parse_name",
    "program_id",
    "remove_suffix",
    "slit_name",
    "subarray",
    "target_id",
    "timestamp",
    "wfscmb_product_name",
]
