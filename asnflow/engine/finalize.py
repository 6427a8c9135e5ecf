"""Finalize: run each association's finalize steps, then keep it if valid.

The steps are hooks (:mod:`asnflow.hooks.finalize_steps`) a rule names with
``finalize``, bound to the parameters the rule gave them. After them, each
level is pruned of duplicates (:mod:`asnflow.engine.prune`) and renumbered.
"""

from __future__ import annotations

from asnflow.engine.association import Association
from asnflow.engine.prune import members_print
from asnflow.errors import AsnflowError
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


def settle_early(asn: Association, heads: dict[tuple, str]) -> None:
    """Work out, as its pass ends, what combining asks of an association its pass leaves final.

    With ``-j`` the passes run on every process and combining on one: its
    product name, the print of its members (prune) and the start of its file
    name were half of combining a 10,000-row pool's. Only associations that
    finalize keeps as they are, if it keeps them: valid, and of a rule whose
    finalize steps only decide that (others may change the members, split or
    rename). ``heads`` keeps the file name heads made, by what they are made
    of: one string per candidate and type, which a worker's results then
    carry once.
    """
    if asn.rule.finalize_changes or not asn.is_valid or not asn.products:
        return
    try:
        settle_product_names(asn)
    except AsnflowError:
        return  # named again when combining, which reports the error where a serial run does
    parts = (asn.program, asn.acid.id, asn.asn_type, asn.version_id)
    head = heads.get(parts)
    if head is None:
        head = heads[parts] = asn.file_stem_head()
    asn.settled = (members_print(asn.products[0]), head)
