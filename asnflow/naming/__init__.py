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

from importlib import import_module

# Names are imported from their module on first use, so that code needing
# one function (the generator) does not load the name parsers.
_HOMES = {
    "ACID": "asn_names", "asn_file_stem": "asn_names", "parse_asn_file_name": "asn_names",
    "timestamp": "asn_names",
    "ExposureName": "exposure", "ProductName": "exposure", "format_exposure_name": "exposure",
    "format_product_name": "exposure", "parse_name": "exposure",
    "LEVEL2B_EXPTYPES": "members", "level2_product_name": "members", "level2a_member_name": "members",
    "level2b_member_name": "members", "nod_product_name": "members",
    "level3_product_name": "products", "opt_elem": "products", "program_id": "products",
    "slit_name": "products", "subarray": "products", "target_id": "products",
    "wfscmb_product_name": "products",
    "FIXED_SLIT_NUMBERS": "source_id", "fill_source_placeholders": "source_id",
    "fixed_slit_source_id": "source_id",
    "KNOWN_SUFFIXES": "suffix", "remove_suffix": "suffix",
    "fill_template": "template",
}


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'asnflow.naming' has no attribute {name!r}")
    return getattr(import_module(f"asnflow.naming.{home}"), name)


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
