"""Product-name templates rules choose with ``product NAME``.

Each turns an association's state (values its constraints found) into the
parts :mod:`asnflow.naming.products` formats. Values come from "found values",
which jwst keeps regex-escaped, so they are used as such.
"""

from __future__ import annotations

from asnflow.constraints.state import escaped
from asnflow.hooks.registry import PRODUCT_TEMPLATES
from asnflow.naming import products as names

# The constraints level-3 names are built from, each read when the rule has it.
LEVEL3_NAME_PARTS = ("instrument", "target", "opt_elem", "opt_elem2", "fxd_slit", "fxd_slit2", "subarray")


def _found(asn, name: str) -> list[str] | None:
    try:
        return asn.found_values(name)
    except KeyError:
        return None


def _unsorted(asn, name: str) -> list[str]:
    # jwst joins some sets without sorting them; with one value (the usual
    # case, the constraint pins it) the order does not matter.
    state = asn.state_of(name)
    return escaped(state.found) if state is not None else []


def opt_elem_part(asn) -> str:
    groups = [values for values in (_found(asn, "opt_elem"), _found(asn, "opt_elem2")) if values is not None]
    return names.opt_elem(groups)


def level3_parts(asn, opt_elem: str | None = None) -> dict[str, str]:
    slits = [values for values in (_found(asn, "fxd_slit"), _found(asn, "fxd_slit2")) if values is not None]
    subarray = _unsorted(asn, "subarray") if "subarray" in asn.rule.lookup else []
    return {
        "program": asn.program,
        "acid": asn.acid.id,
        "target": names.target_id(asn.target_values()),
        "instrument": "-".join(_unsorted(asn, "instrument")),
        "opt_elem": opt_elem if opt_elem is not None else opt_elem_part(asn),
        "slit_name": names.slit_name(slits),
        "subarray": names.subarray(subarray),
        "exposure": "",
    }


@PRODUCT_TEMPLATES.register("level2")
def _level2(asn) -> str:
    """The science exposure's name without suffix (jw…_nrca1)."""
    return asn.level2_default_product_name()


def _level3(template: str):
    def name(asn) -> str:
        return names.level3_product_name(template, **level3_parts(asn))

    name.__doc__ = {
        "default": "jw{program}-{acid}_{target}_{instrument}_{opt_elem}{slit_name}{subarray}",
        "noopt": "jw{program}-{acid}_{target}_{instrument}",
        "sources": "jw{program}-{acid}_{source_id}_{instrument}_{opt_elem}{slit_name}{subarray} "
        "({source_id} left open)",
        "nrsfs_sources": "jw{program}-{acid}_{target}-{source_id}_{instrument}_{opt_elem}-{slit_name}{subarray} "
        "({source_id} and {slit_name} left open)",
        "wfss": "jw{program}-{acid}_{target}_{instrument}_{opt_elem}{slit_name}{subarray}",
        "coronimage": "jw{program}-{acid}_{target}_{instrument}_{opt_elem}{subarray}-image3",
    }[template]
    return name


for _template in ("default", "noopt", "sources", "nrsfs_sources", "wfss", "coronimage"):
    PRODUCT_TEMPLATES.register(_template, uses=LEVEL3_NAME_PARTS)(_level3(_template))


@PRODUCT_TEMPLATES.register("wfscmb", reads=("detector", "act_id"), uses=LEVEL3_NAME_PARTS)
def _wfscmb(asn) -> str:
    """{default}-{detector}_{suffix}-{act_id}: one wavefront-sensing product per detector and activity."""
    existing = names.level3_product_name("default", **level3_parts(asn))
    return names.wfscmb_product_name(existing, asn.pinned_value("detector") or "",
                                     asn.pinned_value("act_id") or "")
