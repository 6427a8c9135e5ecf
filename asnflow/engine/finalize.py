"""Finalize: run each association's finalize steps, then keep it if valid.

The steps are hooks (:mod:`asnflow.hooks.finalize_steps`) a rule names with
``finalize``, bound to the parameters the rule gave them. After them, each
level is pruned of duplicates (:mod:`asnflow.engine.prune`) and renumbered.
"""

from __future__ import annotations

from asnflow.engine.association import Association
from asnflow.hooks import CONTINUE


def finalize_one(asn: Association) -> list[Association] | None:
    """Run the rule's finalize steps; without a step deciding, keep it if valid."""
    for step in asn.rule.finalize_steps:
        result = step(asn)
        if result is CONTINUE:
            continue
        return result
    return [asn] if asn.is_valid else None


def settle_product_names(asn: Association) -> None:
    """Fill in product names computed from the association's final state."""
    if asn.products and asn.products[0]["name"] is None:
        asn.products[0]["name"] = asn.product_name()
